package s3legacy

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
)

// The benchmarks measure upload throughput of whole Puts (verify the spool
// file, sign, send) against the local S3 servers: one op is four 16 MiB
// files, put one after another or four at once.

const (
	benchFiles    = 4
	benchFileSize = 16 << 20
)

func benchSpool(b *testing.B) []spoolFile {
	dir := b.TempDir()
	var files []spoolFile
	for i := 0; i < benchFiles; i++ {
		data := make([]byte, benchFileSize)
		_, _ = rand.Read(data)
		files = append(files, writeSpool(b, dir, "events", i, data))
	}
	return files
}

func benchPut(b *testing.B, d *destination, files []spoolFile, streams int) {
	b.SetBytes(benchFiles * benchFileSize)
	ctx := b.Context()
	for i := 0; b.Loop(); i++ {
		exp, err := d.Begin(ctx, sdk.ExportInfo{ID: "bench", Account: "acme", RunID: "bench",
			Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute), Tables: []string{"events"}})
		if err != nil {
			b.Fatal(err)
		}
		sem := make(chan struct{}, streams)
		var wg sync.WaitGroup
		for _, f := range files {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := exp.Put(ctx, f.File); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		_ = exp.Abort(ctx)
	}
}

func BenchmarkPutMoto(b *testing.B) {
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			m := testsupport.StartMoto(b) // a fresh one: moto keeps every byte in memory
			c := m.NewCustomer(b, testsupport.CustomerOptions{})
			for _, kv := range m.PlatformEnv() {
				k, v, _ := strings.Cut(kv, "=")
				b.Setenv(k, v)
			}
			d := configure(b, quietPlugin(nil), motoConfig(m, c, map[string]any{"upload_concurrency": streams}))
			benchPut(b, d, benchSpool(b), streams)
		})
	}
}

func BenchmarkPutVersityGW(b *testing.B) {
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			v := testsupport.StartVersityGW(b)
			bucket := v.CreateBucket(b, "bench")
			user := v.CreateUser(b)
			v.GrantPut(b, bucket, user)
			cfg := baseConfig(map[string]any{"bucket": bucket, "endpoint": v.Endpoint, "path_style": true, "region": v.Region, "upload_concurrency": streams})
			d := configureLogged(b, quietPlugin(user.Provider()), cfg, slog.New(slog.DiscardHandler))
			benchPut(b, d, benchSpool(b), streams)
		})
	}
}

// quietPlugin is a plugin that logs nothing, optionally with static
// credentials instead of a role.
func quietPlugin(creds aws.CredentialsProvider) *Plugin {
	return &Plugin{
		tune: func(tu *tuning) { tu.credentials = creds },
	}
}
