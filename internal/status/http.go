package status

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/exportd/exportd/internal/event"
)

// Endpoint serves reports as JSON on the operations endpoint:
//
//	GET /v1/status[?account=ID][&destination=NAME]
//
// It answers 503 until it has a reader (the daemon connects to NATS after
// the endpoint starts listening) and when the shared state cannot be
// read. One report is read at a time; other requests wait for their turn.
type Endpoint struct {
	reader atomic.Pointer[Reader]
	turn   chan struct{}
}

var _ http.Handler = (*Endpoint)(nil)

// NewEndpoint returns an endpoint without a reader.
func NewEndpoint() *Endpoint { return &Endpoint{turn: make(chan struct{}, 1)} }

// SetReader makes the endpoint answer with r's reports.
func (e *Endpoint) SetReader(r *Reader) { e.reader.Store(r) }

// readTimeout bounds one report.
const readTimeout = 30 * time.Second

// ServeHTTP implements http.Handler.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	q := Query{Account: req.URL.Query().Get("account"), Destination: req.URL.Query().Get("destination")}
	for name, v := range map[string]string{"account": q.Account, "destination": q.Destination} {
		if v != "" && !event.ValidID(v) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q is not valid", name, v))
			return
		}
	}
	r := e.reader.Load()
	if r == nil {
		writeError(w, http.StatusServiceUnavailable, "starting")
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), readTimeout)
	defer cancel()
	select {
	case e.turn <- struct{}{}:
		defer func() { <-e.turn }()
	case <-ctx.Done():
		writeError(w, http.StatusServiceUnavailable, "busy reading another report")
		return
	}
	rep, err := r.Read(ctx, q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "read the shared state: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
