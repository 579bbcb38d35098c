package parquetw

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string
	}{
		{in: "128MiB", want: 128 << 20},
		{in: "128 MiB", want: 128 << 20},
		{in: "64kib", want: 64 << 10},
		{in: "1GiB", want: 1 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "1.5GiB", want: 3 << 29},
		{in: "10KB", want: 10_000},
		{in: "1.5 MB", want: 1_500_000},
		{in: "3GB", want: 3_000_000_000},
		{in: "7B", want: 7},
		{in: "1048576", want: 1 << 20},
		{in: " 0 ", want: 0},
		{in: "8388608TiB", err: "too large"},
		{in: "8388607TiB", want: 8388607 << 40},
		{in: "0.5B", err: "not a whole number of bytes"},
		{in: "1.0000001KB", err: "not a whole number of bytes"},
		{in: "", err: "want a number"},
		{in: "MiB", err: "want a number"},
		{in: "-1MiB", err: "want a number"},
		{in: "1e6", err: "want a number"},
		{in: "1/2GiB", err: "want a number"},
		{in: "12 parsecs", err: "want a number"},
		{in: "1.MiB", err: "want a number"},
		{in: ".5MiB", err: "want a number"},
		{in: "128M", err: "want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		err  string // "" when valid
	}{
		{name: "zero value", opts: Options{}},
		{name: "gzip level 1", opts: Options{Compression: Gzip, CompressionLevel: 1}},
		{name: "gzip level 9", opts: Options{Compression: Gzip, CompressionLevel: 9}},
		{name: "zstd level 19", opts: Options{Compression: Zstd, CompressionLevel: 19}},
		{name: "everything set", opts: Options{Compression: Snappy, TargetFileSize: 1 << 20, RowGroupRows: 1000, RowGroupBytes: 1 << 20, PageBufferSize: 64 << 10}},
		{name: "unknown codec", opts: Options{Compression: "brotli"}, err: `unknown compression "brotli" (want gzip, snappy, zstd or none)`},
		{name: "gzip level 10", opts: Options{CompressionLevel: 10}, err: "gzip compression level 10 outside 1..9"},
		{name: "gzip level -1", opts: Options{CompressionLevel: -1}, err: "gzip compression level -1 outside 1..9"},
		{name: "zstd level 23", opts: Options{Compression: Zstd, CompressionLevel: 23}, err: "zstd compression level 23 outside 1..22"},
		{name: "snappy level", opts: Options{Compression: Snappy, CompressionLevel: 3}, err: "compression snappy takes no level"},
		{name: "negative target", opts: Options{TargetFileSize: -1}, err: "target file size -1"},
		{name: "huge target", opts: Options{TargetFileSize: 5 << 30}},
		{name: "negative max", opts: Options{MaxFileSize: -1}, err: "max file size -1 is negative"},
		{name: "negative rows", opts: Options{RowGroupRows: -1}, err: "row group rows -1 is negative"},
		{name: "negative bytes", opts: Options{RowGroupBytes: -1}, err: "row group bytes -1 is negative"},
		{name: "tiny page", opts: Options{PageBufferSize: 100}, err: "page buffer size 100 outside"},
		{name: "one lane", opts: Options{Lanes: 1}},
		{name: "most lanes", opts: Options{Lanes: maxLanes}},
		{name: "negative lanes", opts: Options{Lanes: -1}, err: "lanes -1 outside 1..32 (0 means automatic)"},
		{name: "too many lanes", opts: Options{Lanes: maxLanes + 1}, err: "lanes 33 outside 1..32"},
		{name: "several problems", opts: Options{Compression: "lz4", RowGroupRows: -1}, err: "unknown compression \"lz4\" (want gzip, snappy, zstd or none)\nrow group rows -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

func TestCodecsAreShared(t *testing.T) {
	a := Options{CompressionLevel: 1}.withDefaults().codec()
	b := Options{Compression: Gzip, CompressionLevel: 1}.withDefaults().codec()
	c := Options{}.withDefaults().codec()
	if a != b || a == c {
		t.Errorf("codecs for equal settings differ, or for different settings are shared: %p %p %p", a, b, c)
	}
}

func TestFixedEncoding(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "255", "-256", "9223372036854775807", "-9223372036854775808",
		"99999999999999999999999999999999999999", "-99999999999999999999999999999999999999"} {
		v := bigDigits(s)
		var fromBig, fromInt [16]byte
		putFixedBig(fromBig[:], v)
		if got := signedFixed(fromBig[:]); got.Cmp(v) != 0 {
			t.Errorf("putFixedBig(%s) decodes as %s (%x)", s, got, fromBig)
		}
		if v.IsInt64() {
			putFixedInt64(fromInt[:], v.Int64())
			if fromInt != fromBig {
				t.Errorf("putFixedInt64(%s) = %x, putFixedBig = %x", s, fromInt, fromBig)
			}
		}
	}
	if compareSigned([]byte{0xff}, []byte{0x01}) >= 0 || compareSigned([]byte{0x80}, []byte{0xff}) >= 0 {
		t.Error("compareSigned orders negatives wrong")
	}
}
