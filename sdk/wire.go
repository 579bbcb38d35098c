package sdk

import (
	"context"
	"errors"

	"github.com/exportd/exportd/sdk/internal/protocol"
	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// This file converts the plugin side's values to and from the wire; the
// host side's conversions are in package sdk/host.

// toStatus turns a plugin's error into a gRPC status error that carries
// its kind, its attribute and whether the platform's identity is at fault.
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
	kind := pb.ErrorKind(KindOf(err))
	st := status.New(protocol.Codes[kind], err.Error())
	detail := &pb.ErrorDetail{Kind: kind, Attribute: AttributeOf(err), Platform: IsPlatformError(err)}
	if d, derr := st.WithDetails(detail); derr == nil {
		st = d
	}
	return st.Err()
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

func exportInfoFromPB(r *pb.BeginRequest) ExportInfo {
	info := ExportInfo{
		ID:              r.GetExportId(),
		Account:         r.GetAccount(),
		RunID:           r.GetRunId(),
		Time:            r.GetTime().AsTime().UTC(),
		Tables:          r.GetTables(),
		Recommit:        r.GetRecommit(),
		ExporterVersion: r.GetExporterVersion(),
	}
	if r.PreviousTime != nil {
		info.PreviousTime = r.GetPreviousTime().AsTime().UTC()
	}
	return info
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
