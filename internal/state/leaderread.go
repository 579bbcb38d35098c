package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaderReader reads keys from the leader of a bucket's stream.
//
// A KV bucket answers reads from any of its replicas (JetStream's direct
// get), and a replica may not have applied the latest writes yet: on a
// three-node cluster, a value written through a newly elected leader was
// seen missing by a read a moment later (internal/state's
// TestStateRidesOutLeaderElections, every run). The engine decides from
// what it reads whether a run was delivered already, after another replica
// wrote it, so it reads what the leader holds: every write that was
// acknowledged.
type leaderReader struct {
	nc *nats.Conn
	// api is the JetStream API prefix, such as "$JS.API.".
	api string
}

func newLeaderReader(js jetstream.JetStream) leaderReader {
	o := js.Options()
	api := jetstream.DefaultAPIPrefix
	switch {
	case o.Domain != "":
		api = "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		api = strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return leaderReader{nc: js.Conn(), api: api}
}

// msgGetResponse is the answer to $JS.API.STREAM.MSG.GET.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Sequence uint64    `json:"seq"`
		Header   []byte    `json:"hdrs,omitempty"`
		Data     []byte    `json:"data,omitempty"`
		Time     time.Time `json:"time"`
	} `json:"message,omitempty"`
}

// Headers of KV entries (a deleted or purged key keeps a marker).
const (
	kvOperationHeader = "KV-Operation"
	markerReason      = "Nats-Marker-Reason"
)

// get reads the latest value of key in bucket. A key that was never
// written, or was deleted or purged, is jetstream.ErrKeyNotFound.
func (r leaderReader) get(ctx context.Context, bucket, key string) (jetstream.KeyValueEntry, error) {
	e, err := r.latest(ctx, bucket, key)
	if err == nil && e.op != jetstream.KeyValuePut {
		return nil, jetstream.ErrKeyNotFound
	}
	return e, err
}

// latest reads the latest entry of key in bucket, which may be the marker
// of a deletion; jetstream.ErrKeyNotFound when the key has none.
func (r leaderReader) latest(ctx context.Context, bucket, key string) (entry, error) {
	req, err := json.Marshal(struct {
		LastFor string `json:"last_by_subj"`
	}{"$KV." + bucket + "." + key})
	if err != nil {
		return entry{}, err
	}
	m, err := r.nc.RequestWithContext(ctx, r.api+"STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return entry{}, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return entry{}, fmt.Errorf("decode the answer to a read of %s/%s: %w", bucket, key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return entry{}, jetstream.ErrKeyNotFound
	case resp.Error != nil:
		return entry{}, resp.Error
	case resp.Message == nil:
		return entry{}, jetstream.ErrInvalidJetStreamResponse
	}
	e := entry{bucket: bucket, key: key, value: resp.Message.Data, rev: resp.Message.Sequence, created: resp.Message.Time, op: jetstream.KeyValuePut}
	if len(resp.Message.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Header)
		if err != nil {
			return entry{}, fmt.Errorf("decode the headers of %s/%s: %w", bucket, key, err)
		}
		switch {
		case h.Get(kvOperationHeader) == "DEL":
			e.op = jetstream.KeyValueDelete
		case h.Get(kvOperationHeader) != "" || h.Get(markerReason) != "":
			e.op = jetstream.KeyValuePurge
		}
	}
	return e, nil
}

// entry is a value read by leaderReader.
type entry struct {
	bucket, key string
	value       []byte
	rev         uint64
	created     time.Time
	op          jetstream.KeyValueOp
}

var _ jetstream.KeyValueEntry = entry{}

func (e entry) Bucket() string                  { return e.bucket }
func (e entry) Key() string                     { return e.key }
func (e entry) Value() []byte                   { return e.value }
func (e entry) Revision() uint64                { return e.rev }
func (e entry) Created() time.Time              { return e.created }
func (e entry) Delta() uint64                   { return 0 }
func (e entry) Operation() jetstream.KeyValueOp { return e.op }
