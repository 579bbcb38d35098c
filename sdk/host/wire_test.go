package host

import (
	"testing"

	"github.com/exportd/exportd/sdk"
	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
)

// TestSchemaOfAnOlderPlugin: a plugin built before capabilities and
// attribute constraints existed sends none; every new field reads as "not
// declared", and its schema is still valid.
func TestSchemaOfAnOlderPlugin(t *testing.T) {
	old := &pb.SchemaResponse{Name: "old", Version: "0.9", Attributes: []*pb.Attribute{
		{Name: "bucket", Type: pb.AttributeType_ATTRIBUTE_TYPE_STRING, Required: true, Description: "b"},
		{Name: "n", Type: pb.AttributeType_ATTRIBUTE_TYPE_NUMBER},
	}}
	s, err := schemaFromPB(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Capabilities != (sdk.Capabilities{}) {
		t.Fatalf("capabilities %+v", s.Capabilities)
	}
	n := s.Attribute("n")
	if n.Type != sdk.TypeNumber || n.Default != nil || n.Min != nil || n.Max != nil || n.Enum != nil || n.OperatorOnly {
		t.Fatalf("attribute of an older plugin: %+v", n)
	}
	if err := s.ValidateConfig(sdk.NewConfig(map[string]any{"bucket": "x", "n": 0})); err != nil {
		t.Fatalf("0 refused where no range is declared: %v", err)
	}
}

func TestBadDefaultRefused(t *testing.T) {
	_, err := schemaFromPB(&pb.SchemaResponse{Name: "x", Attributes: []*pb.Attribute{
		{Name: "n", Type: pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, DefaultJson: []byte(`"four"`)},
	}})
	if err == nil {
		t.Fatal("a number attribute with a string default was taken")
	}
}
