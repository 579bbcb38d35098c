package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/job"
)

// webhook posts one notifier's notifications, one at a time and in order,
// from a bounded queue.
type webhook struct {
	cfg    config.Notify
	o      Options
	log    *slog.Logger
	client *http.Client
	queue  chan Notification
	done   chan struct{}
}

func newWebhook(cfg config.Notify, o Options) *webhook {
	return &webhook{
		cfg: cfg,
		o:   o,
		// The URL's path may be a token: only its host is ever logged.
		log: o.Log.With("notifier", cfg.Name, "url_host", cfg.URLHost()),
		client: &http.Client{
			Transport: o.Transport,
			Timeout:   cfg.Timeout,
			// A signed body goes to the configured URL and nowhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		queue: make(chan Notification, cfg.QueueSize),
		done:  make(chan struct{}),
	}
}

// selectsAny reports whether the notifier selects one of events for the
// outcome's account and destination.
func (w *webhook) selectsAny(events []string, m job.OutcomeMessage) bool {
	for _, ev := range events {
		if w.cfg.Selects(ev, m.Account, m.Destination) {
			return true
		}
	}
	return false
}

func (w *webhook) count(result string) {
	if w.o.Metrics != nil {
		w.o.Metrics.Notification(w.cfg.Name, result)
	}
}

func (w *webhook) start(ctx context.Context) { go w.run(ctx) }

// close stops the worker once the queue is empty; nothing may be
// enqueued after it is called.
func (w *webhook) close() {
	close(w.queue)
	<-w.done
}

func (w *webhook) enqueue(n Notification) {
	select {
	case w.queue <- n:
	default:
		w.count(ResultDropped)
		w.log.Warn("notifier queue full; notification dropped", "event", n.Event, "destination", n.Outcome.Destination)
	}
}

func (w *webhook) run(ctx context.Context) {
	defer close(w.done)
	for n := range w.queue {
		if ctx.Err() != nil {
			w.count(ResultDropped)
			continue
		}
		w.deliver(ctx, n)
	}
}

// deliver posts a notification, retrying with backoff while the failure
// may pass, up to the notifier's attempts.
func (w *webhook) deliver(ctx context.Context, n Notification) {
	log := w.log.With("id", n.ID, "event", n.Event, "account", n.Outcome.Account, "destination", n.Outcome.Destination)
	body, err := render(w.cfg.Format, n)
	if err != nil {
		w.count(ResultFailed)
		log.Error("encoding a notification failed", "error", err)
		return
	}
	for attempt := 1; ; attempt++ {
		wait, err := w.post(ctx, n, body)
		if err == nil {
			w.count(ResultSent)
			log.Debug("notification sent", "attempts", attempt)
			return
		}
		var perm permanentError
		if errors.As(err, &perm) || attempt >= w.cfg.MaxAttempts {
			w.count(ResultFailed)
			log.Warn("notification not delivered", "attempts", attempt, "error", err)
			return
		}
		wait = max(wait, w.o.Backoff(attempt))
		log.Debug("notification attempt failed; retrying", "attempt", attempt, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			w.count(ResultDropped)
			log.Warn("daemon stopping; notification not delivered", "attempts", attempt, "error", err)
			return
		case <-t.C:
		}
	}
}

// permanentError is a refusal that retrying would not change.
type permanentError struct{ error }

// maxRetryAfter caps a receiver's Retry-After, so that one receiver
// cannot park its queue for long.
const maxRetryAfter = time.Minute

// post sends one attempt. It returns nil on a 2xx answer, a
// permanentError on an answer that retrying would not change (4xx other
// than 408 and 429, or a redirect), and otherwise an error and how long
// the receiver asked to wait, if it did.
func (w *webhook) post(ctx context.Context, n Notification, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanentError{fmt.Errorf("build request: %w", stripURL(err))}
	}
	ts := w.o.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "exportd-notify/1")
	req.Header.Set(HeaderID, n.ID)
	req.Header.Set(HeaderEvent, n.Event)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	if w.cfg.Secret != "" {
		req.Header.Set(HeaderSignature, Sign([]byte(w.cfg.Secret), ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", stripURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return 0, permanentError{fmt.Errorf("receiver answered %s", resp.Status)}
	}
}

// stripURL drops the URL from an error of the HTTP client: its path may
// be a token.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, maxRetryAfter)
}
