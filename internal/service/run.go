package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/exportd/exportd/internal/job"
	"github.com/exportd/exportd/internal/metrics"
	"github.com/exportd/exportd/internal/status"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/nats-io/nats.go"
)

// Run runs the daemon until ctx is done: it consumes events, answers
// re-export requests and serves the operations endpoint. When ctx is done
// it stops fetching events, lets exports in flight finish for the grace
// period, then cancels them (their events are redelivered) and returns.
func (s *Service) Run(ctx context.Context) error {
	cfg := s.Config
	log := s.Log
	var ready atomic.Bool
	var ops *metrics.Server
	statusEndpoint := status.NewEndpoint()
	if cfg.HTTP.Listen != "" {
		opts := []metrics.EndpointOption{metrics.WithHandler("GET /v1/status", statusEndpoint)}
		if cfg.HTTP.Pprof {
			opts = append(opts, metrics.WithProfiling())
		}
		var err error
		ops, err = metrics.Listen(cfg.HTTP.Listen, s.Metrics, func() error {
			if !ready.Load() {
				return errors.New("starting")
			}
			return nil
		}, log, opts...)
		if err != nil {
			return fmt.Errorf("operations endpoint on %s: %w", cfg.HTTP.Listen, err)
		}
		defer ops.Close(context.Background())
		log.Info("operations endpoint listening", "addr", ops.Addr())
	}

	spool := filepath.Join(cfg.DataDir, "spool", "daemon")
	c, err := s.connect(ctx, "exportd "+owner(), false)
	if err != nil {
		return err
	}
	defer c.close()
	statusEndpoint.SetReader(s.statusReader(c))
	// Holding the data directory, this process owns its spool: whatever is
	// there was left by a crash.
	if err := os.RemoveAll(spool); err != nil {
		return fmt.Errorf("clean spool: %w", err)
	}

	cons, err := s.setupStream(ctx, c)
	if err != nil {
		return err
	}
	stopRegistry, err := s.startRegistry(ctx, c)
	if err != nil {
		return err
	}
	defer stopRegistry()
	engine, bus := s.engine(c, spool)
	defer func() {
		// Outcomes of the last exports reach NATS before the connection
		// closes.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.Close(cctx); err != nil {
			log.Warn("stopping: outcomes lost", "error", err)
		}
	}()
	engine.Slots = job.NewSlots(cfg.Jobs.Workers, cfg.Jobs.SmallWorkers, int64(cfg.Jobs.SmallRows))
	stopReporting, err := s.startReporting(ctx, c, cons, engine)
	if err != nil {
		return err
	}
	defer stopReporting()

	sub, err := c.nc.QueueSubscribe(job.ReexportSubjectPrefix+"*", "exportd-reexport", func(m *nats.Msg) {
		account := strings.TrimPrefix(m.Subject, job.ReexportSubjectPrefix)
		var reply job.ReexportReply
		if req, err := job.DecodeReexportRequest(m.Data); err != nil {
			reply.Error = err.Error()
		} else {
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			reply = engine.Reexport(rctx, account, req)
			cancel()
		}
		b, _ := json.Marshal(reply)
		if err := m.Respond(b); err != nil {
			log.Warn("answering a re-export request failed", "error", err)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe to re-export requests: %w", err)
	}
	defer sub.Unsubscribe()

	// Exports run under jobCtx, which outlives ctx by the grace period.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	go func() {
		<-ctx.Done()
		log.Info("stopping: no new events; exports in flight may finish", "grace_period", cfg.Jobs.GracePeriod)
		select {
		case <-time.After(cfg.Jobs.GracePeriod):
			log.Warn("grace period over; cancelling exports in flight (their events will be redelivered)")
			cancelJobs()
		case <-jobCtx.Done():
		}
	}()

	ready.Store(true)
	log.Info("exportd running", "stream", cfg.NATS.Stream, "consumer", cfg.NATS.Consumer,
		"workers", cfg.Jobs.Workers, "small_workers", cfg.Jobs.SmallWorkers, "destinations", len(s.Catalog.Names()))
	trigger.Consume(ctx, jobCtx, cons, trigger.ConsumeOptions{
		Workers:   engine.Slots.Deliveries(),
		Heartbeat: heartbeat(cfg.Jobs.AckWait),
		Logger:    log,
	}, s.countRedeliveries(engine.Handle))
	ready.Store(false)
	log.Info("exportd stopped")
	return nil
}

// heartbeat is how often an event in progress is reported: three times per
// ack wait, so that one lost heartbeat does not cause a redelivery.
func heartbeat(ackWait time.Duration) time.Duration {
	return max(ackWait/3, time.Second)
}

// engine builds the job engine, and returns with it the bus it publishes
// on, which the caller closes.
func (s *Service) engine(c *conn, spool string) (*job.Engine, *trigger.Bus) {
	cfg := s.Config
	bus := &trigger.Bus{NC: c.nc, JS: c.js, Stream: cfg.NATS.Stream, Log: s.Log}
	progress := job.NewProgress(bus, time.Second, s.Log)
	return &job.Engine{
		Config: cfg,
		Runner: &job.Runner{
			Source:           s.Source,
			SpoolDir:         spool,
			Parquet:          ParquetOptions(cfg.Parquet),
			TableParallelism: cfg.Jobs.TableParallelism,
			PutConcurrency:   cfg.Jobs.PutConcurrency,
			MaxSpooledFiles:  cfg.Parquet.MaxSpooledFiles,
			Log:              s.Log,
			Observer:         job.TeeObserver(s.Metrics, progress),
			ExporterVersion:  s.Version,
		},
		State:    c.state,
		Catalog:  engineCatalog{s.Catalog},
		Bus:      bus,
		Metrics:  s.Metrics,
		Owner:    owner(),
		Log:      s.Log,
		Progress: progress,
	}, bus
}

func owner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}
