package job

// OutcomeSink is told every outcome the engine publishes, in the order it
// publishes them (notifications, for one). Outcome is called on the
// export's own goroutine, so it must return at once: an implementation
// queues what it needs and drops, rather than waits, when it cannot keep
// up. It must be safe for concurrent use.
type OutcomeSink interface {
	Outcome(m OutcomeMessage)
}
