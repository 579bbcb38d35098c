package sdk

import (
	"context"
	"errors"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// MaxMessageSize bounds every gRPC message in either direction. Messages
// carry metadata only (files travel by path), so this is generous.
const MaxMessageSize = 4 << 20

var kindToPB = map[ErrorKind]pb.ErrorKind{
	KindRetryable:     pb.ErrorKind_ERROR_KIND_RETRYABLE,
	KindPermanent:     pb.ErrorKind_ERROR_KIND_PERMANENT,
	KindConfiguration: pb.ErrorKind_ERROR_KIND_CONFIGURATION,
}

var kindToCode = map[ErrorKind]codes.Code{
	KindRetryable:     codes.Unavailable,
	KindPermanent:     codes.FailedPrecondition,
	KindConfiguration: codes.InvalidArgument,
}

// toStatus turns a plugin's error into a gRPC status error that carries
// its kind and attribute.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	kind := KindOf(err)
	st := status.New(kindToCode[kind], err.Error())
	if d, derr := st.WithDetails(&pb.ErrorDetail{Kind: kindToPB[kind], Attribute: AttributeOf(err)}); derr == nil {
		st = d
	}
	return st.Err()
}

// fromStatus turns a gRPC error back into a classified error. Transport
// failures, including a plugin that died mid-call, are retryable.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return Retryable(err)
	}
	msg := st.Message()
	for _, d := range st.Details() {
		detail, ok := d.(*pb.ErrorDetail)
		if !ok {
			continue
		}
		for k, v := range kindToPB {
			if v == detail.Kind {
				e := &Error{Kind: k, Err: errors.New(msg)}
				if detail.Attribute != "" {
					// The message already names the attribute.
					e.Err = errors.New(trimAttributePrefix(msg, detail.Attribute))
					e.Attribute = detail.Attribute
				}
				return e
			}
		}
	}
	switch st.Code() {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.InvalidArgument:
		return ConfigError("", errors.New(msg))
	case codes.FailedPrecondition, codes.Unimplemented, codes.PermissionDenied, codes.NotFound:
		return Permanent(errors.New(msg))
	}
	return Retryable(errors.New(msg))
}

func trimAttributePrefix(msg, attr string) string {
	p := attr + ": "
	if len(msg) >= len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

func schemaToPB(s Schema) *pb.SchemaResponse {
	out := &pb.SchemaResponse{Name: s.Name, Version: s.Version}
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, &pb.Attribute{
			Name:        a.Name,
			Type:        pb.AttributeType(a.Type),
			Required:    a.Required,
			Sensitive:   a.Sensitive,
			Description: a.Description,
		})
	}
	return out
}

func schemaFromPB(r *pb.SchemaResponse) Schema {
	s := Schema{Name: r.GetName(), Version: r.GetVersion()}
	for _, a := range r.GetAttributes() {
		s.Attributes = append(s.Attributes, Attribute{
			Name:        a.GetName(),
			Type:        AttributeType(a.GetType()),
			Required:    a.GetRequired(),
			Sensitive:   a.GetSensitive(),
			Description: a.GetDescription(),
		})
	}
	return s
}

func exportInfoToPB(dest string, info ExportInfo) *pb.BeginRequest {
	r := &pb.BeginRequest{
		Destination: dest,
		ExportId:    info.ID,
		Account:     info.Account,
		RunId:       info.RunID,
		Time:        timestamppb.New(info.Time),
		Tables:      info.Tables,
	}
	if !info.PreviousTime.IsZero() {
		r.PreviousTime = timestamppb.New(info.PreviousTime)
	}
	r.Recommit = info.Recommit
	return r
}

func exportInfoFromPB(r *pb.BeginRequest) ExportInfo {
	info := ExportInfo{
		ID:      r.GetExportId(),
		Account: r.GetAccount(),
		RunID:   r.GetRunId(),
		Time:    r.GetTime().AsTime().UTC(),
		Tables:  r.GetTables(),
	}
	if r.PreviousTime != nil {
		info.PreviousTime = r.GetPreviousTime().AsTime().UTC()
	}
	info.Recommit = r.GetRecommit()
	return info
}

func fileToPB(f File) *pb.File {
	return &pb.File{
		Table:  f.Table,
		Index:  int64(f.Index),
		Path:   f.Path,
		Size:   f.Size,
		Rows:   f.Rows,
		Sha256: f.SHA256,
	}
}

func fileFromPB(f *pb.File) File {
	return File{
		Table:  f.GetTable(),
		Index:  int(f.GetIndex()),
		Path:   f.GetPath(),
		Size:   f.GetSize(),
		Rows:   f.GetRows(),
		SHA256: f.GetSha256(),
	}
}

func manifestToPB(m Manifest) []*pb.TableManifest {
	out := make([]*pb.TableManifest, len(m.Tables))
	for i, t := range m.Tables {
		out[i] = &pb.TableManifest{Name: t.Name, Files: int64(t.Files), Rows: t.Rows, Bytes: t.Bytes}
		if !t.Carried.IsZero() {
			out[i].Carried = timestamppb.New(t.Carried)
		}
	}
	return out
}

func manifestFromPB(ts []*pb.TableManifest) Manifest {
	m := Manifest{Tables: make([]TableManifest, len(ts))}
	for i, t := range ts {
		m.Tables[i] = TableManifest{Name: t.GetName(), Files: int(t.GetFiles()), Rows: t.GetRows(), Bytes: t.GetBytes()}
		if t.Carried != nil {
			m.Tables[i].Carried = t.GetCarried().AsTime().UTC()
		}
	}
	return m
}
