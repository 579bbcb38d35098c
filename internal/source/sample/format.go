package sample

import "strconv"

// hexPairs holds the two hex digits of every byte value, so appendHex
// does eight lookups instead of sixteen.
var hexPairs = func() (t [512]byte) {
	const digits = "0123456789abcdef"
	for b := range 256 {
		t[2*b], t[2*b+1] = digits[b>>4], digits[b&15]
	}
	return t
}()

// appendHex appends v as 16 lower-case hex digits.
func appendHex(dst []byte, v uint64) []byte {
	var b [16]byte
	for i := 14; i >= 0; i -= 2 {
		x := 2 * (v & 0xff)
		b[i], b[i+1] = hexPairs[x], hexPairs[x+1]
		v >>= 8
	}
	return append(dst, b[:]...)
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// appendLower appends an ASCII word in lower case.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendSlug appends a word as a URL path segment: lower case, spaces and
// underscores as hyphens.
func appendSlug(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == ' ' || c == '_':
			c = '-'
		}
		dst = append(dst, c)
	}
	return dst
}

// JSON building. Keys and values come from the word lists, none of which
// needs escaping (a test checks), so strings are appended as they are.

func jsonString(dst []byte, key, value string) []byte {
	dst = jsonKey(dst, key)
	dst = append(dst, '"')
	dst = append(dst, value...)
	return append(dst, '"')
}

func jsonBytes(dst []byte, key string, value []byte) []byte {
	dst = jsonKey(dst, key)
	dst = append(dst, '"')
	dst = append(dst, value...)
	return append(dst, '"')
}

func jsonInt(dst []byte, key string, v int64) []byte {
	return appendInt(jsonKey(dst, key), v)
}

func jsonBool(dst []byte, key string, v bool) []byte {
	return strconv.AppendBool(jsonKey(dst, key), v)
}

func jsonKey(dst []byte, key string) []byte {
	if len(dst) > 1 { // after "{"
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}
