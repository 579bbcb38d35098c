package postgres

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/exportd/exportd/internal/config"
	"github.com/jackc/pgx/v5/pgproto3"
)

// A DataRow message carries a whole row, and pgx reads a message into
// memory before handing it on: one 900 MB bytea costs 900 MB before any
// check on decoded values could refuse it. valueGuard sits below pgx's
// message reader on every reader connection and watches the bytes go by:
// it follows the message framing, and when a DataRow announces a value
// longer than the limit, it stops the stream there, so that the value is
// never read. Memory for a row is thus bounded by the limit times the row's
// columns, and in practice by the limit.
//
// It only observes: the bytes it passes on are the server's, unchanged. It
// is installed through pgconn's BuildFrontend rather than around the
// net.Conn, so that pgconn still sees the *tls.Conn it needs for SCRAM
// channel binding.

// valueTooLargeError is what a reader connection fails with when the
// server sends a value larger than the limit. Column is its index in the
// row.
type valueTooLargeError struct {
	column int
	size   int64
	limit  int64
}

func (e *valueTooLargeError) Error() string {
	return fmt.Sprintf("a value of %d bytes (%s), more than max_value_size (%s)", e.size, mib(e.size), config.FormatSize(e.limit))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// guardState is where in the message stream the guard is.
type guardState int

const (
	inHeader guardState = iota // a message's type and length (5 bytes)
	inBody                     // the body of a message other than a DataRow, or its rest
	inCount                    // a DataRow's count of values (2 bytes)
	inLength                   // a value's length (4 bytes; -1 for NULL)
	inValue                    // a value's bytes
)

// valueGuard is an io.Reader over the server's side of a connection.
type valueGuard struct {
	r     io.Reader
	limit int64
	err   error // once set, every read fails with it

	state  guardState
	word   [5]byte
	wordN  int   // bytes of word gathered
	body   int64 // bytes left in the current message's body
	values int   // values left in the current DataRow
	column int   // index of the value being read
	skip   int64 // bytes left of the current value
}

// guardedFrontend returns a pgconn BuildFrontend function that puts a
// valueGuard with the given limit under each connection's message reader.
func guardedFrontend(limit int64) func(r io.Reader, w io.Writer) *pgproto3.Frontend {
	return func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(&valueGuard{r: r, limit: limit}, w)
	}
}

// Read passes the server's bytes on. When it meets a value over the limit,
// it passes on only what comes before that value's row (or before the
// value, if the row began in an earlier read), so that every earlier row
// is still received, and fails every later read.
func (g *valueGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if cut, stop := g.scan(p[:n]); stop {
		if cut > 0 {
			return cut, nil
		}
		return 0, g.err
	}
	return n, err
}

// scan follows the message stream through b. When a value is over the
// limit, it sets g.err and returns where to cut b.
func (g *valueGuard) scan(b []byte) (cut int, stop bool) {
	rowStart := -1 // where in b the current message began, if it did in b
	for i := 0; i < len(b); {
		switch g.state {
		case inHeader:
			if g.wordN == 0 {
				rowStart = i
			}
			if i += g.gather(b[i:], 5); g.wordN < 5 {
				continue
			}
			g.wordN = 0
			g.body = int64(int32(binary.BigEndian.Uint32(g.word[1:5]))) - 4
			switch {
			case g.body <= 0:
				// Empty (or malformed, which pgproto3 reports): next header.
			case g.word[0] == 'D':
				g.state = inCount
			default:
				g.state = inBody
			}
		case inBody:
			k := min(int64(len(b)-i), g.body)
			i += int(k)
			g.consume(k)
		case inCount, inLength:
			size := 2
			if g.state == inLength {
				size = 4
			}
			k := g.gather(b[i:], size)
			i += k
			g.consume(int64(k))
			if g.wordN < size || g.state == inHeader {
				continue
			}
			g.wordN = 0
			if g.state == inCount {
				g.values, g.column = int(binary.BigEndian.Uint16(g.word[:2])), -1
				g.nextValue()
				continue
			}
			n := int64(int32(binary.BigEndian.Uint32(g.word[:4])))
			if n > g.limit {
				g.err = &valueTooLargeError{column: g.column, size: n, limit: g.limit}
				if rowStart >= 0 {
					return rowStart, true
				}
				return i, true
			}
			if n > 0 {
				g.skip, g.state = n, inValue
				continue
			}
			g.nextValue()
		case inValue:
			k := min(int64(len(b)-i), g.skip, g.body)
			i += int(k)
			g.skip -= k
			g.consume(k)
			if g.skip == 0 && g.state == inValue {
				g.nextValue()
			}
		}
	}
	return 0, false
}

// gather copies up to size-wordN bytes of b into word.
func (g *valueGuard) gather(b []byte, size int) int {
	k := copy(g.word[g.wordN:size], b)
	g.wordN += k
	return k
}

// consume counts k bytes of the body; at its end, a header follows.
func (g *valueGuard) consume(k int64) {
	g.body -= k
	if g.body <= 0 {
		g.state, g.wordN = inHeader, 0
	}
}

// nextValue moves to the next value of a DataRow, or past its end.
func (g *valueGuard) nextValue() {
	if g.state == inHeader {
		return
	}
	g.column++
	if g.values--; g.values >= 0 {
		g.state = inLength
		return
	}
	g.state = inBody // nothing should be left; skip whatever is
}
