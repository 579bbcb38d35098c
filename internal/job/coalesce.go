package job

import (
	"slices"

	"github.com/exportd/exportd/internal/state"
)

// covers reports whether a pending re-export serves a request too: the
// same run, every requested destination, and every requested table (a job
// of all tables serves any subset). Such a request joins the pending job
// instead of queuing a dump of its own, so that a burst of requests makes
// one export, not one per request.
func covers(req state.PendingReexport) func(state.PendingReexport) bool {
	return func(p state.PendingReexport) bool {
		if p.RunID != req.RunID {
			return false
		}
		for _, d := range req.Destinations {
			if !slices.Contains(p.Destinations, d) {
				return false
			}
		}
		if len(p.Tables) == 0 {
			return true
		}
		if len(req.Tables) == 0 {
			return false
		}
		for _, t := range req.Tables {
			if !slices.Contains(p.Tables, t) {
				return false
			}
		}
		return true
	}
}

// rateLimit is the per-account limit on new re-export jobs.
func (e *Engine) rateLimit() state.RateLimit {
	return state.RateLimit{Jobs: e.Config.Jobs.ReexportLimit, Window: e.Config.Jobs.ReexportWindow}
}
