package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// chunkedReader returns its bytes in reads of random sizes, down to one
// byte, so that every message boundary falls inside or between reads.
type chunkedReader struct {
	b   []byte
	rng *rand.Rand
	max int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(r.b), 1+r.rng.IntN(r.max))
	copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// TestValueGuard: whatever the read sizes, the guard passes a stream of
// messages through unchanged while every value is within the limit, and
// stops it at the first value over it: every earlier row is received, the
// next receive fails naming the column.
func TestValueGuard(t *testing.T) {
	rows := [][][]byte{
		{[]byte("1"), nil, []byte("short")},
		{[]byte("2"), []byte{}, bytes.Repeat([]byte("y"), 50)},
		{[]byte("3"), nil, bytes.Repeat([]byte("z"), 64)}, // exactly the limit
		{[]byte("4"), bytes.Repeat([]byte("w"), 65), []byte("after")},
		{[]byte("5"), nil, nil},
	}
	var stream []byte
	encode := func(m pgproto3.BackendMessage) {
		var err error
		if stream, err = m.Encode(stream); err != nil {
			t.Fatal(err)
		}
	}
	encode(&pgproto3.ParameterStatus{Name: "a", Value: "b"})
	encode(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("id")}, {Name: []byte("a")}, {Name: []byte("b")}}})
	encode(&pgproto3.DataRow{}) // a row of no values
	for _, r := range rows {
		encode(&pgproto3.DataRow{Values: r})
	}
	encode(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 5")})
	encode(&pgproto3.ReadyForQuery{TxStatus: 'I'})

	for _, tc := range []struct {
		name     string
		limit    int64
		wantRows int // DataRows received before the error; -1: no error
		column   int
	}{
		{name: "all within the limit", limit: 1000, wantRows: -1},
		{name: "one value over the limit", limit: 64, wantRows: 4, column: 1},
		{name: "the first row over the limit", limit: 0, wantRows: 1, column: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(200) {
				src := &chunkedReader{b: stream, rng: rand.New(rand.NewPCG(seed, 7)), max: 1 + int(seed%40)}
				fe := guardedFrontend(tc.limit)(src, io.Discard)
				received, err := receiveAll(fe)
				var big *valueTooLargeError
				switch {
				case tc.wantRows < 0:
					if err != io.ErrUnexpectedEOF || len(received) != 10 {
						t.Fatalf("seed %d: %d messages, then %v; want all 10", seed, len(received), err)
					}
					for i, r := range rows {
						if got := received[3+i]; fmt.Sprint(got) != fmt.Sprint(r) {
							t.Fatalf("seed %d: row %d is %q, want %q", seed, i, got, r)
						}
					}
				case !errors.As(err, &big):
					t.Fatalf("seed %d: %v after %d messages, want a value over the limit", seed, err, len(received))
				case dataRows(received) != tc.wantRows || big.column != tc.column:
					t.Fatalf("seed %d: %d rows, then a value too large in column %d; want %d rows and column %d", seed, dataRows(received), big.column, tc.wantRows, tc.column)
				}
			}
		})
	}
}

// receiveAll receives messages until an error, keeping DataRows' values
// and a nil for each other message.
func receiveAll(fe *pgproto3.Frontend) ([][][]byte, error) {
	var out [][][]byte
	for {
		m, err := fe.Receive()
		if err != nil {
			return out, err
		}
		var vals [][]byte
		if dr, ok := m.(*pgproto3.DataRow); ok {
			for _, v := range dr.Values {
				if v != nil {
					v = bytes.Clone(v)
				}
				vals = append(vals, v)
			}
			if vals == nil {
				vals = [][]byte{}
			}
		}
		out = append(out, vals)
	}
}

func dataRows(msgs [][][]byte) int {
	n := 0
	for _, m := range msgs {
		if m != nil {
			n++
		}
	}
	return n
}
