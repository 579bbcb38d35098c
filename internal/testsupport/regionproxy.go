package testsupport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// RegionProxy is a reverse proxy on 127.0.0.1 in front of moto that
// refuses, as AWS S3 does and moto does not, every S3 request signed for
// another region than its bucket's: 400 AuthorizationHeaderMalformed,
// "the region 'X' is wrong; expecting 'Y'", with the bucket's region in
// the x-amz-bucket-region header. Buckets' regions are moto's own (see
// CustomerOptions.Region). Requests must use path-style addressing; the
// Host header is preserved, so signatures stay valid upstream.
type RegionProxy struct {
	// URL is the proxy's base URL, to use as the S3 endpoint.
	URL string

	m   *Moto
	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu          sync.Mutex
	regions     map[string]string
	misdirected int
	gate        *misdirectGate
}

// misdirectGate holds the first n misdirected requests; see HoldMisdirected.
type misdirectGate struct {
	n       int
	arrived int
	all     chan struct{} // closed when n misdirected requests have arrived
	right   chan struct{} // closed when a request signed for the right region arrived
	wait    time.Duration
}

// StartRegionProxy starts a RegionProxy in front of m and closes it when
// the test ends.
func (m *Moto) StartRegionProxy(tb testing.TB) *RegionProxy {
	tb.Helper()
	u, err := url.Parse(m.Endpoint)
	if err != nil {
		tb.Fatalf("region proxy target: %v", err)
	}
	p := &RegionProxy{m: m, regions: map[string]string{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // signed by the client
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	tb.Cleanup(p.srv.Close)
	return p
}

// HoldMisdirected reproduces the moment several uploads learn a bucket's
// region at once. The first n requests signed for the wrong region are
// held until all n have arrived (or 20 seconds have passed); the first of
// them is then refused at once, and the others only once a request signed
// for the bucket's right region has arrived, that is, once the client has
// learnt the region from the first refusal.
func (p *RegionProxy) HoldMisdirected(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = &misdirectGate{n: n, all: make(chan struct{}), right: make(chan struct{}), wait: 20 * time.Second}
}

// Misdirected counts the requests refused for their region so far.
func (p *RegionProxy) Misdirected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.misdirected
}

var signedRegion = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func (p *RegionProxy) serve(w http.ResponseWriter, r *http.Request) {
	m := signedRegion.FindStringSubmatch(r.Header.Get("Authorization"))
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if m == nil || m[2] != "s3" || bucket == "" {
		p.rp.ServeHTTP(w, r)
		return
	}
	want, err := p.bucketRegion(r.Context(), bucket)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if want == "" || m[1] == want {
		p.rightRegion()
		p.rp.ServeHTTP(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	p.hold(r.Context())
	p.mu.Lock()
	p.misdirected++
	p.mu.Unlock()
	w.Header().Set("X-Amz-Bucket-Region", want)
	s3Error(w, http.StatusBadRequest, "AuthorizationHeaderMalformed",
		fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", m[1], want))
}

// bucketRegion asks moto, once per bucket, where the bucket lives. A
// bucket moto does not know is left for moto to refuse.
func (p *RegionProxy) bucketRegion(ctx context.Context, bucket string) (string, error) {
	p.mu.Lock()
	r, ok := p.regions[bucket]
	p.mu.Unlock()
	if ok {
		return r, nil
	}
	out, err := p.m.AdminS3().GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		if strings.Contains(err.Error(), "NoSuchBucket") {
			return "", nil
		}
		return "", fmt.Errorf("region proxy: location of bucket %s: %w", bucket, err)
	}
	r = string(out.LocationConstraint)
	if r == "" {
		r = MotoRegion
	}
	p.mu.Lock()
	p.regions[bucket] = r
	p.mu.Unlock()
	return r, nil
}

func (p *RegionProxy) rightRegion() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g := p.gate; g != nil {
		select {
		case <-g.right:
		default:
			close(g.right)
		}
	}
}

// hold delays a misdirected request's answer as HoldMisdirected says.
func (p *RegionProxy) hold(ctx context.Context) {
	p.mu.Lock()
	g := p.gate
	if g == nil || g.arrived == g.n {
		p.mu.Unlock()
		return
	}
	i := g.arrived
	g.arrived++
	if g.arrived == g.n {
		close(g.all)
	}
	p.mu.Unlock()

	timeout := time.NewTimer(g.wait)
	defer timeout.Stop()
	for _, ch := range []chan struct{}{g.all, g.right} {
		if ch == g.right && i == 0 {
			return
		}
		select {
		case <-ch:
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
