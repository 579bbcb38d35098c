package sdk

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/grpc/status"
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
	srv, err := newServer(p, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = srv.Configure(ctx, &pb.ConfigureRequest{Destination: "d", ConfigJson: []byte(`{"bucket":"b","concurrency":100}`)})
	if d := detailOf(err); d == nil || d.Kind != pb.ErrorKind_ERROR_KIND_CONFIGURATION || d.Attribute != "concurrency" {
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
	if _, err := newServer(&configuredWith{schema: Schema{Name: "x", Attributes: []Attribute{{Name: "a", Type: TypeInteger, Default: "x"}}}}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a schema with a default of the wrong type was served")
	}
}

// detailOf returns the ErrorDetail of a status error, or nil.
func detailOf(err error) *pb.ErrorDetail {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		if detail, ok := d.(*pb.ErrorDetail); ok {
			return detail
		}
	}
	return nil
}

func TestConfigURL(t *testing.T) {
	tests := []struct {
		name, value, want string
		bad               bool
	}{
		{"https", "https://s3.example.com/", "https://s3.example.com", false},
		{"with a path", " http://127.0.0.1:9000/base/ ", "http://127.0.0.1:9000/base", false},
		{"no scheme", "s3.example.com", "", true},
		{"other scheme", "ftp://h", "", true},
		{"query", "https://h/?x=1", "", true},
		{"credentials", "https://u:p@h", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewConfig(map[string]any{"endpoint": tt.value}).URL("endpoint")
			if tt.bad {
				if KindOf(err) != KindConfiguration || AttributeOf(err) != "endpoint" {
					t.Fatalf("got %q, %v; want a configuration error on endpoint", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if got, err := NewConfig(nil).URL("endpoint"); got != "" || err != nil {
		t.Fatalf("unset: %q, %v", got, err)
	}
}
