package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Coordinator connections are kept between snapshots: connecting (a new
// server process, the password exchange) cost a small account's export
// more than reading its tables, on both sides. A snapshot's coordinator
// ends its transaction when the snapshot closes and waits, idle, for the
// next one; idle ones are closed after idleCoordinatorTime, and no more
// than maxIdleCoordinators wait.
const (
	maxIdleCoordinators = 16
	idleCoordinatorTime = time.Minute
)

type idleCoordinator struct {
	conn  *pgx.Conn
	since time.Time
}

// coordinator returns an idle coordinator connection, or a new one.
// reused says which.
func (s *Source) coordinator(ctx context.Context) (conn *pgx.Conn, reused bool, err error) {
	s.mu.Lock()
	for len(s.idle) > 0 {
		c := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if time.Since(c.since) < idleCoordinatorTime && !c.conn.IsClosed() {
			s.mu.Unlock()
			return c.conn, true, nil
		}
		go closeCoordinator(c.conn)
	}
	s.mu.Unlock()
	conn, err = pgx.ConnectConfig(ctx, s.coord)
	return conn, false, err
}

// keepCoordinator ends a closing snapshot's transaction and keeps its
// connection for the next snapshot, or closes it.
func (s *Source) keepCoordinator(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := conn.PgConn().Exec(ctx, "ROLLBACK").ReadAll(); err != nil || conn.PgConn().TxStatus() != 'I' {
		conn.Close(ctx)
		return
	}
	s.mu.Lock()
	if s.closed || len(s.idle) >= maxIdleCoordinators {
		s.mu.Unlock()
		conn.Close(ctx)
		return
	}
	s.idle = append(s.idle, idleCoordinator{conn: conn, since: time.Now()})
	s.mu.Unlock()
}

// forgetIdleCoordinators closes every idle coordinator: one was found
// dead (the server restarted, say), and so probably are the others.
func (s *Source) forgetIdleCoordinators() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		go closeCoordinator(c.conn)
	}
}

func closeCoordinator(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	conn.Close(ctx)
}
