package catalog

import (
	"context"
	"time"

	"github.com/exportd/exportd/internal/pluginhost"
)

// DefaultIdleTimeout is how long a registered destination stays
// configured in its plugin after its last export. Thousands of
// registered destinations, each exported a few times a day, would
// otherwise all hold their clients (and their connection pools) in the
// plugin for good; configuring one again at its next export costs a
// millisecond.
const DefaultIdleTimeout = 15 * time.Minute

// EvictIdle removes from their plugins the registered destinations that
// no export has used for idle, checking every idle/4, until ctx is done.
// They stay in the catalog and are configured again at their next use.
// The file's destinations stay configured: there are few of them.
func (c *Catalog) EvictIdle(ctx context.Context, idle time.Duration) {
	t := time.NewTicker(max(idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.evict(time.Now().Add(-idle))
	}
}

// evict removes the registered destinations idle since before cutoff.
func (c *Catalog) evict(cutoff time.Time) {
	c.mu.Lock()
	var idle []*pluginhost.Destination
	for _, e := range c.registered {
		e.mu.Lock()
		if e.refs == 0 && e.dest != nil && e.used.Before(cutoff) {
			idle = append(idle, e.dest)
			e.dest = nil
		}
		e.mu.Unlock()
	}
	c.mu.Unlock()
	if len(idle) > 0 {
		c.log.Debug("idle registered destinations removed from their plugins until their next export", "destinations", len(idle))
	}
	for _, d := range idle {
		c.removeDest(d)
	}
}
