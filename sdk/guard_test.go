package sdk

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk/internal/protocol"
)

func TestValidateConfig(t *testing.T) {
	s := Schema{Name: "x", Version: "1", Attributes: []Attribute{
		{Name: "bucket", Type: TypeString, Required: true},
		{Name: "n", Type: TypeNumber},
		{Name: "tags", Type: TypeStringList},
		{Name: "labels", Type: TypeStringMap},
		{Name: "on", Type: TypeBool},
	}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  map[string]any
		attr string
	}{
		{"ok", map[string]any{"bucket": "b", "n": 3, "tags": []string{"a"}, "labels": map[string]string{"k": "v"}, "on": true}, ""},
		{"missing required", map[string]any{"n": 3}, "bucket"},
		{"unknown", map[string]any{"bucket": "b", "bukket": "x"}, "bukket"},
		{"number as string", map[string]any{"bucket": "b", "n": "3"}, "n"},
		{"string as number", map[string]any{"bucket": 5}, "bucket"},
		{"list of numbers", map[string]any{"bucket": "b", "tags": []int{1}}, "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.ValidateConfig(NewConfig(tt.cfg))
			if tt.attr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if KindOf(err) != KindConfiguration || AttributeOf(err) != tt.attr {
				t.Fatalf("got %v, want a configuration error on %q", err, tt.attr)
			}
		})
	}
	bad := []Schema{
		{Name: "Bad-Name"},
		{Name: "x", Attributes: []Attribute{{Name: "account", Type: TypeString}}},
		{Name: "x", Attributes: []Attribute{{Name: "a", Type: TypeString}, {Name: "a", Type: TypeBool}}},
		{Name: "x", Attributes: []Attribute{{Name: "a"}}},
	}
	for _, b := range bad {
		if err := b.Validate(); err == nil {
			t.Errorf("schema %+v validated", b)
		}
	}
}

// recordingExport accepts everything and counts commits.
type recordingExport struct{ commits int }

func (r *recordingExport) Put(context.Context, File) error { return nil }
func (r *recordingExport) Commit(context.Context, Manifest) (Receipt, error) {
	r.commits++
	return Receipt{Location: "x", Body: []byte("{}")}, nil
}
func (r *recordingExport) Abort(context.Context) error { return nil }

func TestGuardRefusesIncompleteCommits(t *testing.T) {
	ctx := context.Background()
	inner := &recordingExport{}
	g := newGuardedExport(inner, []string{"a", "b"})
	for _, f := range []File{{Table: "a", Index: 0}, {Table: "a", Index: 1}, {Table: "b", Index: 0}} {
		if err := g.Put(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Put(ctx, File{Table: "c"}); KindOf(err) != KindPermanent {
		t.Fatalf("put for a foreign table: %v", err)
	}
	refused := []Manifest{
		{Tables: []TableManifest{{Name: "a", Files: 3}, {Name: "b", Files: 1}}},
		{Tables: []TableManifest{{Name: "a", Files: 1}, {Name: "b", Files: 1}}},
		{Tables: []TableManifest{{Name: "a", Files: 2}}},
		{Tables: []TableManifest{{Name: "a", Files: 2}, {Name: "b", Files: 0}}},
		{Tables: []TableManifest{{Name: "a", Files: 2}, {Name: "b", Files: 1}, {Name: "c", Files: 1}}},
	}
	for _, m := range refused {
		if _, err := g.Commit(ctx, m); err == nil || !strings.Contains(err.Error(), "commit refused") {
			t.Fatalf("manifest %+v: %v", m, err)
		}
	}
	if inner.commits != 0 {
		t.Fatal("an incomplete dump reached the plugin's Commit")
	}
	if _, err := g.Commit(ctx, Manifest{Tables: []TableManifest{{Name: "a", Files: 2}, {Name: "b", Files: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Commit(ctx, Manifest{}); err == nil {
		t.Fatal("second commit accepted")
	}
	if err := g.Put(ctx, File{Table: "a", Index: 5}); err == nil {
		t.Fatal("put after commit accepted")
	}
}

func TestProtocolVersion(t *testing.T) {
	if ProtocolVersion != protocol.Version {
		t.Fatalf("sdk.ProtocolVersion %d, the protocol's %d", ProtocolVersion, protocol.Version)
	}
}

func TestValidateExportInfo(t *testing.T) {
	at := time.Date(2024, 1, 1, 10, 0, 30, 0, time.UTC)
	ok := ExportInfo{Time: at, Tables: []string{"a"}, PreviousTime: at.Add(-time.Minute)}
	if err := validateExportInfo(ok); err != nil {
		t.Fatal(err)
	}
	for _, info := range []ExportInfo{
		{Tables: []string{"a"}},
		{Time: at},
		{Time: at, PreviousTime: at.Add(-20 * time.Second)},
		{Time: at, Tables: []string{"a", "a"}},
	} {
		if err := validateExportInfo(info); err == nil {
			t.Errorf("%+v accepted", info)
		}
	}
}

// slowCommitExport is a plugin's export whose Commit waits for release,
// recording whether Abort ran while a Commit was in flight.
type slowCommitExport struct {
	commitErr error
	started   chan struct{}
	release   chan struct{}

	mu            sync.Mutex
	committing    bool
	aborts        int
	abortOverlaps int
}

func (s *slowCommitExport) Put(context.Context, File) error { return nil }

func (s *slowCommitExport) Commit(context.Context, Manifest) (Receipt, error) {
	s.mu.Lock()
	s.committing = true
	s.mu.Unlock()
	close(s.started)
	<-s.release
	s.mu.Lock()
	s.committing = false
	s.mu.Unlock()
	return Receipt{Location: "x"}, s.commitErr
}

func (s *slowCommitExport) Abort(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborts++
	if s.committing {
		s.abortOverlaps++
	}
	return nil
}

// TestGuardAbortWaitsForCommit: an Abort that arrives while a Commit is
// still running (the daemon cancelled it and gave up) waits for it; a
// Commit that succeeded is then left alone, one that failed is aborted.
func TestGuardAbortWaitsForCommit(t *testing.T) {
	tests := []struct {
		name       string
		commitErr  error
		wantAborts int
	}{
		{name: "commit succeeds", wantAborts: 0},
		{name: "commit fails", commitErr: Retryable(errors.New("disk full")), wantAborts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			inner := &slowCommitExport{commitErr: tt.commitErr, started: make(chan struct{}), release: make(chan struct{})}
			g := newGuardedExport(inner, []string{"a"})
			if err := g.Put(ctx, File{Table: "a"}); err != nil {
				t.Fatal(err)
			}
			commitDone := make(chan error, 1)
			go func() {
				_, err := g.Commit(ctx, Manifest{Tables: []TableManifest{{Name: "a", Files: 1}}})
				commitDone <- err
			}()
			<-inner.started
			abortDone := make(chan error, 1)
			go func() { abortDone <- g.Abort(ctx) }()
			select {
			case err := <-abortDone:
				t.Fatalf("Abort returned (%v) while the Commit was in flight", err)
			case <-time.After(300 * time.Millisecond): // long enough for an Abort that does not wait to have run
			}
			close(inner.release)
			if err := <-commitDone; !errors.Is(err, tt.commitErr) {
				t.Fatalf("Commit: %v", err)
			}
			if err := <-abortDone; err != nil {
				t.Fatalf("Abort: %v", err)
			}
			inner.mu.Lock()
			defer inner.mu.Unlock()
			if inner.abortOverlaps != 0 || inner.aborts != tt.wantAborts {
				t.Fatalf("plugin Abort ran %d times (%d during the Commit), want %d after it", inner.aborts, inner.abortOverlaps, tt.wantAborts)
			}
		})
	}
}
