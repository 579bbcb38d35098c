package service

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/jsretry"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/nats-io/nats.go/jetstream"
)

// startReporting starts what reports on the daemon beside its exports:
// the notifiers (told every outcome of engine), the stream and spool
// gauges, and the last-dump gauges. The returned function, to be called
// once the exports are over, lets the last notifications go out for a
// little while.
func (s *Service) startReporting(ctx context.Context, c *conn, cons jetstream.Consumer, engine *job.Engine) (func(), error) {
	notifier, err := s.startNotifier(ctx, c)
	if err != nil {
		return nil, err
	}
	if notifier != nil {
		engine.Sink = notifier
	}
	s.Metrics.WatchSpool(s.Config.DataDir)
	go s.pollStream(ctx, cons)
	go s.seedLastDumps(ctx, c)
	return func() {
		if notifier == nil {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		notifier.Close(cctx)
	}, nil
}

// streamPollInterval is how often the consumer's state is read for the
// stream gauges: often enough for alerts that wait minutes, rarely enough
// to cost NATS nothing.
const streamPollInterval = 15 * time.Second

// pollStream keeps the stream gauges (events pending, in progress,
// redelivered) up to date until ctx is done. Every replica reports the
// same shared consumer; dashboards take the max over them.
func (s *Service) pollStream(ctx context.Context, cons jetstream.Consumer) {
	t := time.NewTicker(streamPollInterval)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := cons.Info(ictx)
		cancel()
		switch {
		case err == nil:
			s.Metrics.StreamState(info.NumPending, uint64(max(info.NumAckPending, 0)), uint64(max(info.NumRedelivered, 0)))
		case ctx.Err() == nil:
			s.Metrics.StreamPollFailed()
			s.Log.Debug("reading the consumer's state failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// seedLastDumps sets the last-dump gauges from the shared state, so that
// a restarted daemon reports how old each destination's dump is before
// it exports anything itself.
func (s *Service) seedLastDumps(ctx context.Context, c *conn) {
	for _, n := range s.Catalog.Names() {
		if ctx.Err() != nil {
			return
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		d, err := c.state.Destination(rctx, n)
		cancel()
		if err != nil {
			s.Log.Debug("reading a destination's last dump failed", "destination", n, "error", err)
			continue
		}
		if !d.LastTime.IsZero() {
			s.Metrics.LastDump(n, d.LastTime)
		}
	}
}

// countRedeliveries wraps the event handler to count deliveries that are
// not an event's first.
func (s *Service) countRedeliveries(h trigger.Handler) trigger.Handler {
	return func(ctx context.Context, d trigger.Delivery) trigger.Outcome {
		if d.Attempt > 1 {
			s.Metrics.Redelivered()
		}
		return h(ctx, d)
	}
}

// startNotifier starts the notifiers of the configuration, if any. The
// returned dispatcher (nil without notify blocks) outlives ctx: close it
// once the exports are over, so that their outcomes are still sent.
func (s *Service) startNotifier(ctx context.Context, c *conn) (*notify.Dispatcher, error) {
	cfg := s.Config
	if len(cfg.Notify) == 0 {
		return nil, nil
	}
	var history *notify.History
	if slices.ContainsFunc(cfg.Notify, func(n config.Notify) bool { return slices.Contains(n.Events, config.NotifyRecovered) }) {
		hctx, cancel := context.WithTimeout(ctx, daemonStartup)
		defer cancel()
		err := jsretry.Startup(hctx, s.Log, "KV bucket "+cfg.NATS.KVPrefix+"_notify", func(ctx context.Context) error {
			var err error
			history, err = notify.OpenHistory(ctx, c.js, cfg.NATS.KVPrefix, cfg.NATS.Replicas)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("notifications: %w", err)
		}
	}
	d, err := notify.New(notify.Options{Notifiers: cfg.Notify, History: history, Metrics: s.Metrics, Log: s.Log})
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	d.Start(context.WithoutCancel(ctx))
	for _, n := range cfg.Notify {
		s.Log.Info("notifier ready", "notifier", n.Name, "url_host", n.URLHost(), "format", n.Format, "events", n.Events)
	}
	return d, nil
}
