package pluginhost

import (
	"context"
	"time"
)

const (
	minRestartDelay = 500 * time.Millisecond
	maxRestartDelay = 30 * time.Second
)

// supervise restarts plugins whose process ended, with a growing delay
// between attempts, until Close.
func (h *Host) supervise() {
	defer close(h.done)
	t := time.NewTicker(h.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		var due []*plugin
		now := time.Now()
		for _, p := range h.plugins {
			if p.client != nil && p.client.Exited() {
				h.log.Error("plugin process exited unexpectedly; restarting", "plugin", p.spec.Name)
				p.client.Kill() // reap and release its resources
				p.client = nil
				if p.delay == 0 {
					p.delay = minRestartDelay
				}
				p.next = now.Add(p.delay)
			}
			if p.client == nil && (p.path != "" || p.attach != nil) && !now.Before(p.next) {
				due = append(due, p)
			}
		}
		h.mu.Unlock()
		for _, p := range due {
			h.restart(p)
		}
	}
}

// restart launches p again and configures its destinations in the new
// process. On failure it backs off and the next tick tries again.
func (h *Host) restart(p *plugin) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		select {
		case <-h.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := h.start(ctx, p, p.path, p.attach)
	if err == nil {
		err = h.reconfigure(ctx, p.spec.Name, c)
		if err != nil {
			c.Kill()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		p.delay = min(2*p.delay, maxRestartDelay)
		p.next = time.Now().Add(p.delay)
		h.log.Error("plugin restart failed", "plugin", p.spec.Name, "error", err, "retry_in", p.delay)
		return
	}
	select {
	case <-h.stop:
		c.Kill()
		return
	default:
	}
	p.client = c
	p.delay = 0
	p.noRemove = false
	if h.opts.OnRestart != nil {
		h.opts.OnRestart(p.spec.Name)
	}
	h.log.Info("plugin restarted", "plugin", p.spec.Name, "pid", c.PID())
}
