package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/exportd/exportd/sdk"
	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// This file converts the host side's values to and from the wire; the
// plugin side's conversions are in package sdk.

// fromStatus turns a gRPC error back into a classified error. Transport
// failures, including a plugin that died mid-call, are retryable.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return sdk.Retryable(err)
	}
	msg := st.Message()
	for _, d := range st.Details() {
		detail, ok := d.(*pb.ErrorDetail)
		if !ok || detail.Kind < pb.ErrorKind_ERROR_KIND_RETRYABLE || detail.Kind > pb.ErrorKind_ERROR_KIND_CONFIGURATION {
			continue
		}
		e := &sdk.Error{Kind: sdk.ErrorKind(detail.Kind), Platform: detail.Platform, Err: errors.New(msg)}
		if detail.Attribute != "" {
			// The message already names the attribute.
			e.Err = errors.New(trimAttributePrefix(msg, detail.Attribute))
			e.Attribute = detail.Attribute
		}
		return e
	}
	switch st.Code() {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.InvalidArgument:
		return sdk.ConfigError("", errors.New(msg))
	case codes.FailedPrecondition, codes.Unimplemented, codes.PermissionDenied, codes.NotFound:
		return sdk.Permanent(errors.New(msg))
	}
	return sdk.Retryable(errors.New(msg))
}

func trimAttributePrefix(msg, attr string) string {
	p := attr + ": "
	if len(msg) >= len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

// schemaFromPB reads a plugin's schema. Fields a plugin built before them
// does not send read as "not declared".
func schemaFromPB(r *pb.SchemaResponse) (sdk.Schema, error) {
	s := sdk.Schema{Name: r.GetName(), Version: r.GetVersion()}
	if c := r.GetCapabilities(); c != nil {
		s.Capabilities = sdk.Capabilities{MaxObjectSize: c.GetMaxObjectSize(), CheckWrites: c.GetCheckWrites()}
	}
	for _, a := range r.GetAttributes() {
		attr := sdk.Attribute{
			Name:         a.GetName(),
			Type:         sdk.AttributeType(a.GetType()),
			Required:     a.GetRequired(),
			Sensitive:    a.GetSensitive(),
			Description:  a.GetDescription(),
			Enum:         a.GetEnumValues(),
			Min:          a.Min,
			Max:          a.Max,
			OperatorOnly: a.GetOperatorOnly(),
		}
		if attr.Type == sdk.TypeNumber && a.GetInteger() {
			attr.Type = sdk.TypeInteger
		}
		if raw := a.GetDefaultJson(); len(raw) > 0 {
			def, err := decodeDefault(attr.Type, raw)
			if err != nil {
				return sdk.Schema{}, fmt.Errorf("attribute %q: default %s: %w", attr.Name, raw, err)
			}
			attr.Default = def
		}
		s.Attributes = append(s.Attributes, attr)
	}
	return s, nil
}

// decodeDefault decodes a JSON default into the Go value its type calls
// for: string, float64, int64 (whole numbers), bool, []string or
// map[string]string. The schema's Validate then checks it.
func decodeDefault(t sdk.AttributeType, raw []byte) (any, error) {
	switch t {
	case sdk.TypeNumber, sdk.TypeInteger:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		if i, err := n.Int64(); err == nil && t == sdk.TypeInteger {
			return i, nil
		}
		return n.Float64()
	case sdk.TypeString:
		return decodeAs[string](raw)
	case sdk.TypeBool:
		return decodeAs[bool](raw)
	case sdk.TypeStringList:
		return decodeAs[[]string](raw)
	case sdk.TypeStringMap:
		return decodeAs[map[string]string](raw)
	}
	return nil, fmt.Errorf("attribute type %v takes no default", t)
}

func decodeAs[T any](raw []byte) (any, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}

func exportInfoToPB(dest string, info sdk.ExportInfo) *pb.BeginRequest {
	r := &pb.BeginRequest{
		Destination:     dest,
		ExportId:        info.ID,
		Account:         info.Account,
		RunId:           info.RunID,
		Time:            timestamppb.New(info.Time),
		Tables:          info.Tables,
		Recommit:        info.Recommit,
		ExporterVersion: info.ExporterVersion,
	}
	if !info.PreviousTime.IsZero() {
		r.PreviousTime = timestamppb.New(info.PreviousTime)
	}
	return r
}

func fileToPB(f sdk.File) *pb.File {
	return &pb.File{
		Table:  f.Table,
		Index:  int64(f.Index),
		Path:   f.Path,
		Size:   f.Size,
		Rows:   f.Rows,
		Sha256: f.SHA256,
	}
}

func manifestToPB(m sdk.Manifest) []*pb.TableManifest {
	out := make([]*pb.TableManifest, len(m.Tables))
	for i, t := range m.Tables {
		out[i] = &pb.TableManifest{Name: t.Name, Files: int64(t.Files), Rows: t.Rows, Bytes: t.Bytes}
		if !t.Carried.IsZero() {
			out[i].Carried = timestamppb.New(t.Carried)
		}
		for _, c := range t.Columns {
			out[i].Columns = append(out[i].Columns, &pb.Column{Name: c.Name, Type: c.Type})
		}
		for _, f := range t.FileList {
			out[i].FileList = append(out[i].FileList, &pb.ManifestFile{Index: int64(f.Index), Size: f.Size, Rows: f.Rows, Sha256: f.SHA256})
		}
	}
	return out
}
