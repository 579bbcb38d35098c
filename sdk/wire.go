package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	out := &pb.SchemaResponse{
		Name:    s.Name,
		Version: s.Version,
		Capabilities: &pb.Capabilities{
			MaxObjectSize: s.Capabilities.MaxObjectSize,
			CheckWrites:   s.Capabilities.CheckWrites,
		},
	}
	for _, a := range s.Attributes {
		def, _ := a.defaultJSON() // Validate refused a default that does not encode
		out.Attributes = append(out.Attributes, &pb.Attribute{
			Name:         a.Name,
			Type:         typeToPB[a.Type],
			Integer:      a.Type == TypeInteger,
			Required:     a.Required,
			Sensitive:    a.Sensitive,
			Description:  a.Description,
			DefaultJson:  def,
			EnumValues:   a.Enum,
			Min:          a.Min,
			Max:          a.Max,
			OperatorOnly: a.OperatorOnly,
		})
	}
	return out
}

// typeToPB maps attribute types onto the wire's. A whole number travels
// as a number with the integer flag, so that a daemon that predates the
// flag still takes the schema (the plugin's SDK checks wholeness anyway).
var typeToPB = map[AttributeType]pb.AttributeType{
	TypeString:     pb.AttributeType_ATTRIBUTE_TYPE_STRING,
	TypeNumber:     pb.AttributeType_ATTRIBUTE_TYPE_NUMBER,
	TypeInteger:    pb.AttributeType_ATTRIBUTE_TYPE_NUMBER,
	TypeBool:       pb.AttributeType_ATTRIBUTE_TYPE_BOOL,
	TypeStringList: pb.AttributeType_ATTRIBUTE_TYPE_STRING_LIST,
	TypeStringMap:  pb.AttributeType_ATTRIBUTE_TYPE_STRING_MAP,
}

func schemaFromPB(r *pb.SchemaResponse) (Schema, error) {
	s := Schema{Name: r.GetName(), Version: r.GetVersion()}
	if c := r.GetCapabilities(); c != nil {
		s.Capabilities = Capabilities{MaxObjectSize: c.GetMaxObjectSize(), CheckWrites: c.GetCheckWrites()}
	}
	for _, a := range r.GetAttributes() {
		attr := Attribute{
			Name:         a.GetName(),
			Type:         AttributeType(a.GetType()),
			Required:     a.GetRequired(),
			Sensitive:    a.GetSensitive(),
			Description:  a.GetDescription(),
			Enum:         a.GetEnumValues(),
			Min:          a.Min,
			Max:          a.Max,
			OperatorOnly: a.GetOperatorOnly(),
		}
		if attr.Type == TypeNumber && a.GetInteger() {
			attr.Type = TypeInteger
		}
		if raw := a.GetDefaultJson(); len(raw) > 0 {
			def, err := decodeDefault(attr.Type, raw)
			if err != nil {
				return Schema{}, fmt.Errorf("attribute %q: default %s: %w", attr.Name, raw, err)
			}
			attr.Default = def
		}
		s.Attributes = append(s.Attributes, attr)
	}
	return s, nil
}

// decodeDefault decodes a JSON default into the Go value its type calls
// for: string, float64, int64 (whole numbers), bool, []string or
// map[string]string.
func decodeDefault(t AttributeType, raw []byte) (any, error) {
	if !holds(raw, t) {
		return nil, fmt.Errorf("not a %s", t)
	}
	switch t {
	case TypeNumber, TypeInteger:
		var n json.Number
		_ = decodeJSON(raw, &n)
		if i, err := n.Int64(); err == nil && t == TypeInteger {
			return i, nil
		}
		return n.Float64()
	case TypeString:
		return decodeAs[string](raw)
	case TypeBool:
		return decodeAs[bool](raw)
	case TypeStringList:
		return decodeAs[[]string](raw)
	}
	return decodeAs[map[string]string](raw)
}

func decodeAs[T any](raw []byte) (any, error) {
	var v T
	err := decodeJSON(raw, &v)
	return v, err
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
	r.ExporterVersion = info.ExporterVersion
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
	info.ExporterVersion = r.GetExporterVersion()
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
		for _, c := range t.Columns {
			out[i].Columns = append(out[i].Columns, &pb.Column{Name: c.Name, Type: c.Type})
		}
		for _, f := range t.FileList {
			out[i].FileList = append(out[i].FileList, &pb.ManifestFile{Index: int64(f.Index), Size: f.Size, Rows: f.Rows, Sha256: f.SHA256})
		}
	}
	return out
}

func manifestFromPB(ts []*pb.TableManifest) Manifest {
	m := Manifest{Tables: make([]TableManifest, len(ts))}
	for i, t := range ts {
		tm := TableManifest{Name: t.GetName(), Files: int(t.GetFiles()), Rows: t.GetRows(), Bytes: t.GetBytes()}
		if t.Carried != nil {
			tm.Carried = t.GetCarried().AsTime().UTC()
		}
		for _, c := range t.GetColumns() {
			tm.Columns = append(tm.Columns, Column{Name: c.GetName(), Type: c.GetType()})
		}
		for _, f := range t.GetFileList() {
			tm.FileList = append(tm.FileList, ManifestFile{Index: int(f.GetIndex()), Size: f.GetSize(), Rows: f.GetRows(), SHA256: f.GetSha256()})
		}
		m.Tables[i] = tm
	}
	return m
}
