package sdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	pb "github.com/exportd/exportd/sdk/proto/destination/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// leakyPlugin's destinations fail every call with an error that quotes
// their whole configuration, as a careless plugin or a cloud SDK might.
type leakyPlugin struct{ schema Schema }

func (p leakyPlugin) Schema() Schema { return p.schema }
func (p leakyPlugin) Configure(_ context.Context, _ DestinationInfo, cfg Config) (Destination, error) {
	if cfg.String("mode") == "refuse" {
		return nil, ConfigError("token", fmt.Errorf("token %s was refused", cfg.String("token")))
	}
	return leakyDestination{cfg}, nil
}

type leakyDestination struct{ cfg Config }

func (d leakyDestination) Check(context.Context) (string, error) {
	return "", PlatformError("", fmt.Errorf("GET https://acct.example/c?%s: 403 (config %s)", d.cfg.String("token"), d.cfg.JSON()))
}

func (d leakyDestination) Begin(context.Context, ExportInfo) (Export, error) {
	q, _ := url.ParseQuery(d.cfg.String("token"))
	return nil, errors.New("sig=" + q.Get("sig"))
}

// TestSensitiveValuesNeverLeave: whatever a plugin's error quotes, a
// sensitive value (or one parameter of it) never crosses the protocol,
// and the error keeps its kind, attribute and platform flag.
func TestSensitiveValuesNeverLeave(t *testing.T) {
	const token = "sv=2024-05-04&sp=cw&sig=Zm9vYmFyYmF6cXV4%2Bsecret"
	schema := Schema{Name: "leaky", Attributes: []Attribute{
		{Name: "token", Type: TypeString, Sensitive: true},
		{Name: "mode", Type: TypeString},
	}}
	srv, err := newServer(leakyPlugin{schema}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	secretParts := []string{token, "Zm9vYmFyYmF6cXV4+secret", "Zm9vYmFyYmF6cXV4%2Bsecret"}
	noLeak := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded", what)
		}
		for _, s := range secretParts {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("%s: error quotes the sensitive %q: %v", what, s, err)
			}
		}
		if !strings.Contains(err.Error(), redacted) {
			t.Fatalf("%s: error %v does not say what was hidden", what, err)
		}
	}
	cfg := func(mode string) []byte {
		return NewConfig(map[string]any{"token": token, "mode": mode}).JSON()
	}
	_, err = srv.Configure(ctx, &pb.ConfigureRequest{Destination: "d", ConfigJson: cfg("refuse")})
	noLeak("Configure", err)
	if d := detailOf(err); d == nil || d.Attribute != "token" || d.Kind != pb.ErrorKind_ERROR_KIND_CONFIGURATION {
		t.Fatalf("Configure's error lost its attribute: %v", err)
	}
	if _, err := srv.Configure(ctx, &pb.ConfigureRequest{Destination: "d", ConfigJson: cfg("accept")}); err != nil {
		t.Fatal(err)
	}
	_, err = srv.Check(ctx, &pb.CheckRequest{Destination: "d"})
	noLeak("Check", err)
	if d := detailOf(err); d == nil || !d.Platform {
		t.Fatalf("Check's error lost its platform flag: %v", err)
	}
	_, err = srv.Begin(ctx, &pb.BeginRequest{Destination: "d", ExportId: "x", Time: timestamppb.Now(), Tables: []string{"a"}})
	noLeak("Begin", err)
}

func TestSecretsOfAConfig(t *testing.T) {
	schema := Schema{Name: "x", Attributes: []Attribute{
		{Name: "url", Type: TypeString, Sensitive: true},
		{Name: "short", Type: TypeString, Sensitive: true},
		{Name: "plain", Type: TypeString},
	}}
	got := secrets(&schema, NewConfig(map[string]any{"url": "https://h/p?token=abcdefgh&expires=2030-01-01", "short": "ab", "plain": "visible"}))
	want := []string{"https%3A%2F%2Fh%2Fp%3Ftoken%3Dabcdefgh%26expires%3D2030-01-01", "https://h/p?token=abcdefgh&expires=2030-01-01", "abcdefgh"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("secrets %q, want %q", got, want)
	}
}
