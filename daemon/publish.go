package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/trigger"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsURL finds the NATS server a command should talk to: -nats, or the
// configuration's URL, or the embedded server's listen address.
func natsURL(flagURL, configPath string) (string, *config.Config, error) {
	if flagURL != "" {
		return flagURL, nil, nil
	}
	if configPath == "" {
		return "", nil, errors.New("give -nats URL or -config FILE")
	}
	cfg, ok := loadConfig(configPath)
	if !ok {
		return "", nil, errors.New("invalid configuration")
	}
	switch {
	case cfg.NATS.URL != "":
		return cfg.NATS.URL, cfg, nil
	case cfg.NATS.Listen != "":
		return "nats://" + cfg.NATS.Listen, cfg, nil
	}
	return "", nil, errors.New("the configuration runs an embedded NATS server without a listen address; set nats { listen = \"127.0.0.1:4222\" } to reach it")
}

func dial(ctx context.Context, url string, cfg *config.Config) (*nats.Conn, error) {
	opts := trigger.ConnectOptions{Name: "exportd cli"}
	if cfg != nil {
		opts.Config = cfg.NATS
	}
	opts.Config.URL = url
	return trigger.Connect(ctx, opts)
}

func cmdPublish(args []string) int {
	fs := newFlags("publish", "(-config FILE | -nats URL) -account ID [-run-id ID] [-completed-at TIME] [-snapshot REF]")
	path := fs.String("config", "", "configuration `file` whose NATS to use")
	url := fs.String("nats", "", "NATS `url` (overrides the configuration)")
	account := fs.String("account", "", "account `id`")
	runID := fs.String("run-id", "", "modelling run `id` (default: made up from the time); the stream de-duplicates events by account and run id")
	completedAt := fs.String("completed-at", "", "when the run completed, RFC 3339 (default: now)")
	snapshot := fs.String("snapshot", "", "source-specific snapshot `reference` (optional)")
	wait := fs.Duration("wait", 30*time.Second, "how long to keep trying while the stream does not exist yet")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	now := time.Now().UTC()
	ev := event.ModellingCompleted{AccountID: *account, RunID: *runID, CompletedAt: now, Snapshot: *snapshot}
	if ev.RunID == "" {
		ev.RunID = "run-" + now.Format("20060102T150405.000000")
		ev.RunID = ev.RunID[:19] + ev.RunID[20:] // no dot in ids
	}
	if *completedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *completedAt)
		if err != nil {
			fmt.Fprintf(os.Stderr, "exportd publish: -completed-at: %v\n", err)
			return 2
		}
		ev.CompletedAt = t.UTC()
	}
	// Check the event as the daemon will.
	if _, err := event.Decode(event.Subject(ev.AccountID), ev.Encode()); err != nil {
		fmt.Fprintf(os.Stderr, "exportd publish: %v\n", err)
		return 2
	}
	u, cfg, err := natsURL(*url, *path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd publish: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait+10*time.Second)
	defer cancel()
	nc, err := dial(ctx, u, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd publish: %v\n", err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd publish: %v\n", err)
		return 1
	}
	deadline := time.Now().Add(*wait)
	for {
		seq, err := trigger.PublishEvent(ctx, js, ev)
		if err == nil {
			out, _ := json.Marshal(struct {
				Subject string `json:"subject"`
				Seq     uint64 `json:"stream_seq"`
				event.ModellingCompleted
			}{event.Subject(ev.AccountID), seq, ev})
			fmt.Println(string(out))
			return 0
		}
		if !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, nats.ErrNoResponders) || time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "exportd publish: %v (is an exportd daemon running to create the stream?)\n", err)
			return 1
		}
		time.Sleep(250 * time.Millisecond)
	}
}
