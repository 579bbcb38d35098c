package service

import (
	"github.com/exportd/exportd/internal/status"
)

// statusReader reads the fleet's status over c for the operations
// endpoint: the destinations of the configuration and those the shared
// state remembers, and the event stream's backlog.
func (s *Service) statusReader(c *conn) *status.Reader {
	cfg := s.Config
	return &status.Reader{
		State:    c.state,
		JS:       c.js,
		Stream:   cfg.NATS.Stream,
		Consumer: cfg.NATS.Consumer,
		Catalog:  status.ConfigCatalog{Config: cfg},
	}
}
