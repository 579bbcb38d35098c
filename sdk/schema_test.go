package sdk

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
)

// constrained is a schema using every declarative constraint.
var constrained = Schema{Name: "x", Version: "1", Attributes: []Attribute{
	{Name: "bucket", Type: TypeString, Required: true},
	{Name: "acl", Type: TypeString, Default: "private", Enum: []string{"private", "bucket-owner-read", "none"}},
	{Name: "concurrency", Type: TypeInteger, Default: 4, Min: Bound(1), Max: Bound(64)},
	{Name: "ratio", Type: TypeNumber, Min: Bound(0.5)},
	{Name: "scopes", Type: TypeStringList, Enum: []string{"read", "write"}},
	{Name: "token", Type: TypeString, Sensitive: true, Enum: []string{"alpha", "beta"}},
	{Name: "fast", Type: TypeBool, Default: true, OperatorOnly: true},
	{Name: "labels", Type: TypeStringMap, Default: map[string]string{"by": "exportd"}},
}}

func TestSchemaValidateConstraints(t *testing.T) {
	if err := constrained.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		attr Attribute
		want string
	}{
		{"enum on a number", Attribute{Name: "a", Type: TypeNumber, Enum: []string{"1"}}, "only strings"},
		{"enum value twice", Attribute{Name: "a", Type: TypeString, Enum: []string{"x", "x"}}, "twice"},
		{"range on a string", Attribute{Name: "a", Type: TypeString, Min: Bound(1)}, "only numbers"},
		{"min above max", Attribute{Name: "a", Type: TypeInteger, Min: Bound(5), Max: Bound(1)}, "above max"},
		{"default of another type", Attribute{Name: "a", Type: TypeInteger, Default: "4"}, "default: must be a whole number"},
		{"default outside the enum", Attribute{Name: "a", Type: TypeString, Default: "public", Enum: []string{"private"}}, `"public" is not one of "private"`},
		{"default outside the range", Attribute{Name: "a", Type: TypeInteger, Default: 0, Min: Bound(1)}, "0 is not a whole number of at least 1"},
		{"fractional default of a whole number", Attribute{Name: "a", Type: TypeInteger, Default: 1.5}, "1.5 is not a whole number"},
		{"required with a default", Attribute{Name: "a", Type: TypeString, Required: true, Default: "x"}, "required attribute has no default"},
		{"unknown type", Attribute{Name: "a"}, "unknown type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Schema{Name: "x", Attributes: []Attribute{tt.attr}}
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	neg := Schema{Name: "x", Capabilities: Capabilities{MaxObjectSize: -1}}
	if err := neg.Validate(); err == nil {
		t.Fatal("a negative max object size was accepted")
	}
}

func TestValidateConfigConstraints(t *testing.T) {
	tests := []struct {
		name  string
		cfg   map[string]any
		attrs []string // attributes at fault, in order; none: valid
		say   string
	}{
		{"valid", map[string]any{"bucket": "b", "acl": "none", "concurrency": 64, "ratio": 0.5, "scopes": []string{"read"}}, nil, ""},
		{"not in the enum", map[string]any{"bucket": "b", "acl": "public-read"}, []string{"acl"}, `"public-read" is not one of "private", "bucket-owner-read", "none"`},
		{"list element not in the enum", map[string]any{"bucket": "b", "scopes": []string{"read", "admin"}}, []string{"scopes"}, `"admin" is not one of "read", "write"`},
		{"above the range", map[string]any{"bucket": "b", "concurrency": 65}, []string{"concurrency"}, "65 is not a whole number from 1 to 64"},
		{"below the range", map[string]any{"bucket": "b", "ratio": 0.25}, []string{"ratio"}, "0.25 is not a number of at least 0.5"},
		{"not whole", map[string]any{"bucket": "b", "concurrency": 2.5}, []string{"concurrency"}, "2.5 is not a whole number from 1 to 64"},
		{"sensitive value not quoted", map[string]any{"bucket": "b", "token": "s3cr3t"}, []string{"token"}, `the value is not one of "alpha", "beta"`},
		{"every problem", map[string]any{"acl": "x", "concurrency": 0, "bogus": 1}, []string{"acl", "bogus", "concurrency", "bucket"}, "unknown attribute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := constrained.ValidateConfig(NewConfig(tt.cfg))
			if len(tt.attrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if KindOf(err) != KindConfiguration || AttributeOf(err) != tt.attrs[0] {
				t.Fatalf("got %v, want a configuration error on %q first", err, tt.attrs[0])
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				got = append(got, AttributeOf(e))
			}
			if !reflect.DeepEqual(got, tt.attrs) {
				t.Fatalf("attributes at fault %v, want %v (%v)", got, tt.attrs, err)
			}
			if !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("error %q does not say %q", err, tt.say)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error %q quotes a sensitive value", err)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	set := NewConfig(map[string]any{"bucket": "b", "acl": "none"})
	got := constrained.WithDefaults(set)
	if got.String("acl") != "none" || got.Int("concurrency", 0) != 4 || !got.Bool("fast", false) ||
		got.StringMap("labels")["by"] != "exportd" || got.Has("ratio") {
		t.Fatalf("with defaults: %s", got.JSON())
	}
	if set.Has("concurrency") {
		t.Fatal("WithDefaults changed the Config it was given")
	}
}

func TestSchemaSurvivesTheWire(t *testing.T) {
	s := constrained
	s.Capabilities = Capabilities{MaxObjectSize: 5 << 30, CheckWrites: true}
	got, err := schemaFromPB(schemaToPB(s))
	if err != nil {
		t.Fatal(err)
	}
	if got.Capabilities != s.Capabilities || len(got.Attributes) != len(s.Attributes) {
		t.Fatalf("schema after the wire: %+v", got)
	}
	for i, a := range s.Attributes {
		g := got.Attributes[i]
		wantDef, _ := json.Marshal(a.Default)
		gotDef, _ := json.Marshal(g.Default)
		if g.Name != a.Name || g.Type != a.Type || g.Sensitive != a.Sensitive || g.OperatorOnly != a.OperatorOnly ||
			!reflect.DeepEqual(g.Enum, a.Enum) || !reflect.DeepEqual(g.Min, a.Min) || !reflect.DeepEqual(g.Max, a.Max) ||
			string(gotDef) != string(wantDef) {
			t.Errorf("attribute %s after the wire: %+v, want %+v", a.Name, g, a)
		}
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("schema after the wire: %v", err)
	}
}

// TestSchemaOfAnOlderPlugin: a plugin built before capabilities and
// constraints existed sends none; every new field reads as "not declared".
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
	if s.Capabilities != (Capabilities{}) {
		t.Fatalf("capabilities %+v", s.Capabilities)
	}
	n := s.Attribute("n")
	if n.Type != TypeNumber || n.Default != nil || n.Min != nil || n.Max != nil || n.Enum != nil || n.OperatorOnly {
		t.Fatalf("attribute of an older plugin: %+v", n)
	}
	if err := s.ValidateConfig(NewConfig(map[string]any{"bucket": "x", "n": 0})); err != nil {
		t.Fatalf("0 refused where no range is declared: %v", err)
	}
}

// configuredWith records the configuration Configure received.
type configuredWith struct {
	schema Schema
	got    []Config
}

func (p *configuredWith) Schema() Schema { return p.schema }
func (p *configuredWith) Configure(_ context.Context, _ DestinationInfo, cfg Config) (Destination, error) {
	p.got = append(p.got, cfg)
	return nil, nil
}

// TestServerEnforcesTheSchema: a plugin's Configure never sees a value
// outside its schema's constraints, and always sees the defaults.
func TestServerEnforcesTheSchema(t *testing.T) {
	p := &configuredWith{schema: constrained}
	srv, err := newServer(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = srv.Configure(ctx, &pb.ConfigureRequest{Destination: "d", ConfigJson: []byte(`{"bucket":"b","concurrency":100}`)})
	if err = fromStatus(err); KindOf(err) != KindConfiguration || AttributeOf(err) != "concurrency" {
		t.Fatalf("out of range: %v", err)
	}
	if len(p.got) != 0 {
		t.Fatal("Configure ran with a value out of range")
	}
	if _, err := srv.Configure(ctx, &pb.ConfigureRequest{Destination: "d", ConfigJson: []byte(`{"bucket":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	if len(p.got) != 1 || p.got[0].String("acl") != "private" || p.got[0].Int("concurrency", 0) != 4 {
		t.Fatalf("Configure saw %s", p.got[0].JSON())
	}
	if _, err := newServer(&configuredWith{schema: Schema{Name: "x", Attributes: []Attribute{{Name: "a", Type: TypeInteger, Default: "x"}}}}); err == nil {
		t.Fatal("a schema with a default of the wrong type was served")
	}
}
