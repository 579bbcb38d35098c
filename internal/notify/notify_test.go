package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/job"
)

const testSecret = "s3cr3t-signing-key-0123456789"

// counts records notifications by notifier and result.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) Notification(notifier, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[notifier+"/"+result]++
}

func (c *counts) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

// request is one request a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a local HTTP server that records requests and answers as
// answer says (200 when it is nil).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []request
	got    chan request
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan request, 100), answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rq := request{header: r.Header.Clone(), body: b}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, rq)
		n := len(rc.reqs)
		rc.mu.Unlock()
		rc.got <- rq
		if rc.answer != nil {
			rc.answer(n, w, r)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// count is how many requests the receiver got.
func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// next waits for the next request; a missing one fails the test rather
// than hanging it.
func (rc *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no request reached the receiver")
		return request{}
	}
}

func webhookConfig(url string, events ...string) config.Notify {
	return config.Notify{
		Kind: "webhook", Name: "ops", URL: url, Secret: testSecret, Format: "json",
		Events: events, Timeout: 5 * time.Second, MaxAttempts: 3, QueueSize: 100,
	}
}

func start(t *testing.T, o Options) *Dispatcher {
	t.Helper()
	if o.Backoff == nil {
		o.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	d.Start(t.Context())
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

func committed(dest string) job.OutcomeMessage {
	return job.OutcomeMessage{
		JobID: "run-1", Account: "acme", Destination: dest, RunID: "r1", Status: job.StatusCommitted, Final: true, Attempt: 1,
		ExportTime: time.Date(2024, 3, 14, 4, 3, 7, 0, time.UTC), Location: "s3://bucket/receipt.json",
		Files: 7, Rows: 910, Bytes: 12345, Seconds: 1.5,
	}
}

func failed(dest string, final bool) job.OutcomeMessage {
	m := job.OutcomeMessage{
		JobID: "run-2", Account: "acme", Destination: dest, RunID: "r2", Status: job.StatusFailed, Final: final, Attempt: 5,
		Error: "put https://user:hunter2@example.test/x?X-Amz-Signature=abcdef&part=1: access denied", ErrorKind: "permanent",
	}
	if !final {
		m.Status = job.StatusRetrying
	}
	return m
}

// TestSignedJSON: failed-for-good and committed outcomes arrive as JSON,
// signed over the timestamp and body, with no secret in them; outcomes
// nobody selects (retrying, skipped) are not posted.
func TestSignedJSON(t *testing.T) {
	rc := newReceiver(t, nil)
	m := &counts{}
	d := start(t, Options{Notifiers: []config.Notify{webhookConfig(rc.srv.URL, config.NotifyFailed, config.NotifyCommitted)}, Metrics: m})

	d.Outcome(failed("acme-s3", false)) // retrying: not final
	d.Outcome(job.OutcomeMessage{Account: "acme", Destination: "acme-s3", Status: job.StatusSkipped, Final: true})
	d.Outcome(failed("acme-s3", true))
	d.Outcome(committed("acme-s3"))

	for i, want := range []string{config.NotifyFailed, config.NotifyCommitted} {
		r := rc.next(t)
		if err := Verify([]byte(testSecret), r.body, r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), time.Now(), 5*time.Minute); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if err := Verify([]byte("another-secret-0123456789"), r.body, r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), time.Now(), 5*time.Minute); err == nil {
			t.Fatalf("request %d verifies with the wrong secret", i)
		}
		var p Payload
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Event != want || r.header.Get(HeaderEvent) != want || p.ID == "" || r.header.Get(HeaderID) != p.ID {
			t.Fatalf("request %d: event %q (header %q), id %q (header %q); want %s", i, p.Event, r.header.Get(HeaderEvent), p.ID, r.header.Get(HeaderID), want)
		}
		if p.Version != PayloadVersion || p.Account != "acme" || p.Destination != "acme-s3" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("request %d: %s", i, r.body)
		}
		raw := string(r.body) + fmt.Sprint(r.header)
		for _, secret := range []string{testSecret, "hunter2", "abcdef"} {
			if strings.Contains(raw, secret) {
				t.Fatalf("request %d carries %q: %s", i, secret, raw)
			}
		}
		switch want {
		case config.NotifyFailed:
			if p.ErrorKind != "permanent" || !strings.Contains(p.Error, "access denied") || p.Attempt != 5 || p.Location != "" {
				t.Fatalf("failed payload: %s", r.body)
			}
		case config.NotifyCommitted:
			if p.Location != "s3://bucket/receipt.json" || p.Files != 7 || p.Rows != 910 || p.Bytes != 12345 || p.Error != "" || !p.ExportTime.Equal(committed("").ExportTime) {
				t.Fatalf("committed payload: %s", r.body)
			}
		}
	}
	d.Close(t.Context())
	if n := rc.count(); n != 2 {
		t.Fatalf("receiver got %d requests, want 2", n)
	}
	if m.get("ops/sent") != 2 {
		t.Fatalf("counts %v", m.m)
	}
}

// TestUnsigned: without a secret, requests carry no signature header.
func TestUnsigned(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := webhookConfig(rc.srv.URL, config.NotifyCommitted)
	cfg.Secret = ""
	d := start(t, Options{Notifiers: []config.Notify{cfg}})
	d.Outcome(committed("d"))
	r := rc.next(t)
	if r.header.Get(HeaderSignature) != "" || r.header.Get(HeaderTimestamp) == "" {
		t.Fatalf("headers %v", r.header)
	}
}

// TestFilters: a notifier gets only its accounts' and destinations'
// outcomes, and only the events it selects.
func TestFilters(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := webhookConfig(rc.srv.URL, config.NotifyCommitted)
	cfg.Destinations = []string{"wanted"}
	m := &counts{}
	d := start(t, Options{Notifiers: []config.Notify{cfg}, Metrics: m})
	d.Outcome(committed("other"))
	d.Outcome(failed("wanted", true))
	d.Outcome(committed("wanted"))
	var p Payload
	if err := json.Unmarshal(rc.next(t).body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Destination != "wanted" || p.Event != config.NotifyCommitted {
		t.Fatalf("got %+v", p)
	}
	d.Close(t.Context())
	if rc.count() != 1 || m.get("ops/sent") != 1 {
		t.Fatalf("%d requests, counts %v", rc.count(), m.m)
	}
}

// TestSlack: format "slack" posts a message with text and an attachment,
// with Slack's control characters escaped.
func TestSlack(t *testing.T) {
	rc := newReceiver(t, nil)
	cfg := webhookConfig(rc.srv.URL, config.NotifyFailed, config.NotifyCommitted)
	cfg.Format = "slack"
	d := start(t, Options{Notifiers: []config.Notify{cfg}})
	f := failed("acme-s3", true)
	f.Error = "bucket <!channel> & friends"
	d.Outcome(f)
	d.Outcome(committed("acme-s3"))
	for _, want := range []string{"failed for good after 5 attempt(s)", "was committed to *acme-s3*"} {
		var msg slack
		r := rc.next(t)
		if err := json.Unmarshal(r.body, &msg); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg.Text, want) || len(msg.Attachments) != 1 || len(msg.Attachments[0].Fields) < 3 {
			t.Fatalf("message %s lacks %q", r.body, want)
		}
		if strings.Contains(string(r.body), "<!channel>") {
			t.Fatalf("unescaped mention: %s", r.body)
		}
	}
}

// TestRetries: answers that may pass (503, 429) are retried with the same
// id and a fresh signature until one succeeds; a refusal (400) is not
// retried.
func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		answers  []int
		requests int
		result   string
	}{
		{"503 then 200", []int{503, 503, 200}, 3, ResultSent},
		{"429 then 200", []int{429, 200}, 2, ResultSent},
		{"400 is final", []int{400}, 1, ResultFailed},
		{"redirect is not followed", []int{307}, 1, ResultFailed},
		{"gives up after max_attempts", []int{500, 500, 500, 500}, 3, ResultFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				code := tt.answers[min(n, len(tt.answers))-1]
				if code == 307 {
					w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
				}
				w.WriteHeader(code)
			})
			m := &counts{}
			var waits []int
			var mu sync.Mutex
			d := start(t, Options{Notifiers: []config.Notify{webhookConfig(rc.srv.URL, config.NotifyCommitted)}, Metrics: m,
				Backoff: func(n int) time.Duration { mu.Lock(); waits = append(waits, n); mu.Unlock(); return time.Millisecond }})
			d.Outcome(committed("d"))
			var ids []string
			for range tt.requests {
				r := rc.next(t)
				ids = append(ids, r.header.Get(HeaderID))
				if err := Verify([]byte(testSecret), r.body, r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), time.Now(), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			d.Close(t.Context())
			if rc.count() != tt.requests {
				t.Fatalf("%d requests, want %d", rc.count(), tt.requests)
			}
			for _, id := range ids {
				if id != ids[0] {
					t.Fatalf("ids differ across attempts: %v", ids)
				}
			}
			if m.get("ops/"+tt.result) != 1 {
				t.Fatalf("counts %v, want one %s", m.m, tt.result)
			}
			if len(waits) != tt.requests-1 {
				t.Fatalf("backoff asked %v times, want %d", waits, tt.requests-1)
			}
		})
	}
}

// TestReceiverDown: a receiver that refuses connections costs the
// configured attempts, then the notification counts as failed; outcomes
// are still taken at once.
func TestReceiverDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/hook"
	ln.Close() // nothing listens there now
	m := &counts{}
	var attempts sync.WaitGroup
	attempts.Add(2 * 2) // two notifications, backoff after attempts 1 and 2 of 3
	d := start(t, Options{Notifiers: []config.Notify{webhookConfig(url, config.NotifyCommitted, config.NotifyFailed)}, Metrics: m,
		Backoff: func(int) time.Duration { attempts.Done(); return time.Millisecond }})
	d.Outcome(committed("d"))
	d.Outcome(failed("d", true))
	attempts.Wait()
	d.Close(t.Context())
	if m.get("ops/failed") != 2 || m.get("ops/sent") != 0 {
		t.Fatalf("counts %v", m.m)
	}
}

// TestSlowReceiver: while a receiver holds a request, outcomes are still
// taken at once; those beyond the queue are dropped and counted, and the
// rest are sent once the receiver answers.
func TestSlowReceiver(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := webhookConfig(rc.srv.URL, config.NotifyCommitted)
	cfg.QueueSize = 2
	cfg.Timeout = time.Minute
	m := &counts{}
	d := start(t, Options{Notifiers: []config.Notify{cfg}, Metrics: m})

	d.Outcome(committed("d"))
	first := rc.next(t) // the receiver now holds the first request
	const more = 10
	returned := make(chan struct{})
	go func() {
		for range more {
			d.Outcome(committed("d"))
		}
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(30 * time.Second):
		t.Fatal("Outcome blocked behind a slow receiver")
	}
	close(release)
	d.Close(t.Context())
	sent, dropped := m.get("ops/sent"), m.get("ops/dropped")
	// Held while the receiver was slow: one request, two in the
	// notifier's queue, two in the dispatcher's.
	if sent+dropped != 1+more || dropped < more-4 || sent < 1 {
		t.Fatalf("sent %d, dropped %d of %d (counts %v)", sent, dropped, 1+more, m.m)
	}
	if first.header.Get(HeaderID) == "" {
		t.Fatal("first request has no id")
	}
}

// TestReceiverTimeout: a receiver slower than the timeout is retried, and
// given up after the configured attempts.
func TestReceiverTimeout(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})
	cfg := webhookConfig(rc.srv.URL, config.NotifyCommitted)
	cfg.Timeout = 100 * time.Millisecond
	cfg.MaxAttempts = 2
	m := &counts{}
	d := start(t, Options{Notifiers: []config.Notify{cfg}, Metrics: m})
	d.Outcome(committed("d"))
	rc.next(t)
	rc.next(t)
	d.Close(t.Context())
	if m.get("ops/failed") != 1 || rc.count() != 2 {
		t.Fatalf("%d requests, counts %v", rc.count(), m.m)
	}
}

// TestCloseDrains: notifications queued before Close are sent before it
// returns; a Close whose context ends first drops the rest and counts them.
func TestCloseDrains(t *testing.T) {
	rc := newReceiver(t, nil)
	m := &counts{}
	d := start(t, Options{Notifiers: []config.Notify{webhookConfig(rc.srv.URL, config.NotifyCommitted)}, Metrics: m})
	for range 5 {
		d.Outcome(committed("d"))
	}
	d.Close(t.Context())
	if m.get("ops/sent") != 5 {
		t.Fatalf("counts %v", m.m)
	}
	d.Outcome(committed("d")) // after Close: dropped, not a panic
	if m.get("ops/dropped") != 1 {
		t.Fatalf("counts %v", m.m)
	}

	hold := make(chan struct{})
	defer close(hold)
	slow := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	})
	m2 := &counts{}
	cfg := webhookConfig(slow.srv.URL, config.NotifyCommitted)
	cfg.Timeout = time.Minute
	d2 := start(t, Options{Notifiers: []config.Notify{cfg}, Metrics: m2})
	for range 3 {
		d2.Outcome(committed("d"))
	}
	slow.next(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	d2.Close(ctx)
	if got := m2.get("ops/dropped") + m2.get("ops/failed"); got != 3 {
		t.Fatalf("after an expired Close: counts %v, want 3 not sent", m2.m)
	}
}

// TestNeedsHistory: selecting recoveries without a history is refused.
func TestNeedsHistory(t *testing.T) {
	if _, err := New(Options{Notifiers: []config.Notify{webhookConfig("http://127.0.0.1:1", config.NotifyRecovered)}}); err != ErrNoHistory {
		t.Fatalf("got %v", err)
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"url credentials", "dial postgres://exportd:pa55@db:5432/x failed", "dial postgres://REDACTED@db:5432/x failed"},
		{"signature parameter", "GET https://b.s3/k?X-Amz-Signature=deadbeef&x-id=PutObject", "GET https://b.s3/k?X-Amz-Signature=REDACTED&x-id=PutObject"},
		{"token parameter", "post https://h/p?a=1&access_token=abc", "post https://h/p?a=1&access_token=REDACTED"},
		{"plain text kept", "access denied: s3:PutObject", "access denied: s3:PutObject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Scrub(tt.in); got != tt.want {
				t.Fatalf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := Scrub(strings.Repeat("x", 3*maxErrorLen)); len(got) > maxErrorLen+4 {
		t.Fatalf("scrubbed length %d", len(got))
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"event":"failed"}`)
	now := time.Unix(1_700_000_000, 0)
	sig := Sign([]byte(testSecret), now, body)
	ts := fmt.Sprint(now.Unix())
	tests := []struct {
		name      string
		body      []byte
		ts, sig   string
		now       time.Time
		wantError error
	}{
		{"good", body, ts, sig, now, nil},
		{"good among rotated", body, ts, "v1=00ff, " + sig, now.Add(time.Minute), nil},
		{"changed body", []byte(`{"event":"committed"}`), ts, sig, now, ErrBadSignature},
		{"changed timestamp", body, fmt.Sprint(now.Unix() + 1), sig, now, ErrBadSignature},
		{"replayed late", body, ts, sig, now.Add(10 * time.Minute), ErrStale},
		{"no signature", body, ts, "", now, ErrNoSignature},
		{"garbage timestamp", body, "yesterday", sig, now, ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify([]byte(testSecret), tt.body, tt.ts, tt.sig, tt.now, 5*time.Minute)
			if (tt.wantError == nil) != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantError.Error())) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantError)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	for n := 1; n <= 12; n++ {
		want := min(time.Second<<(n-1), time.Minute)
		if got := DefaultBackoff(n); got > want || got < want*4/5 {
			t.Errorf("DefaultBackoff(%d) = %v, want within [%v, %v]", n, got, want*4/5, want)
		}
	}
}
