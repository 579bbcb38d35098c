package testsupport

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Fault is what a FaultProxy does to one request instead of forwarding it.
type Fault int

// The faults a FaultProxy injects.
const (
	// NoFault forwards the request.
	NoFault Fault = iota
	// SlowDown answers that the client is throttled: 503 SlowDown for S3,
	// 429 for Cloud Storage, 503 ServerBusy for Azure (see ErrorDialect).
	SlowDown
	// InternalError answers 500 in the dialect's words.
	InternalError
	// Drop reads part of the request body, then closes the connection
	// without answering.
	Drop
	// DropAnswer forwards the request, lets the upstream answer it, then
	// closes the connection without passing the answer on: the request
	// took effect but the client cannot know.
	DropAnswer
)

func (f Fault) String() string {
	switch f {
	case NoFault:
		return "none"
	case SlowDown:
		return "SlowDown"
	case InternalError:
		return "InternalError"
	case Drop:
		return "drop"
	case DropAnswer:
		return "drop-answer"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Faults says how often a FaultProxy injects each fault. The shares are
// probabilities per request and should sum to at most 1.
type Faults struct {
	SlowDown      float64
	InternalError float64
	Drop          float64
	DropAnswer    float64
	// Seed makes the sequence of faults reproducible.
	Seed uint64
	// Match selects the requests that may fail; nil means every request.
	Match func(*http.Request) bool
	// Dialect is the service whose error answers the proxy imitates.
	Dialect ErrorDialect
}

// ErrorDialect says how a FaultProxy words the throttling and internal
// errors it injects: as the service behind it would.
type ErrorDialect int

// The services a FaultProxy can imitate.
const (
	// DialectS3 answers 503 SlowDown and 500 InternalError in S3's XML.
	DialectS3 ErrorDialect = iota
	// DialectGCS answers 429 rateLimitExceeded and 500 backendError in
	// Google's JSON.
	DialectGCS
	// DialectAzure answers 503 ServerBusy and 500 InternalError in Azure
	// Storage's XML, with the x-ms-error-code header.
	DialectAzure
)

// ProxyRecord is one request as the proxy handled it.
type ProxyRecord struct {
	Method string
	// Path is the request path (for path-style S3, /bucket/key).
	Path  string
	Fault Fault
	// Status is the upstream's status code, or 0 when a fault was injected
	// instead of forwarding or the upstream could not be reached.
	// DropAnswer records the status the client never saw.
	Status int
}

// FaultProxy is a reverse proxy on 127.0.0.1 in front of an object store
// (S3, Cloud Storage or Azure Blob Storage, see ErrorDialect) that fails a
// share of requests the way the store and networks do. It preserves
// the Host header, so SigV4 signatures made for the proxy's address stay
// valid upstream.
type FaultProxy struct {
	// URL is the proxy's base URL, to use as the S3 endpoint.
	URL string

	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu      sync.Mutex
	faults  Faults
	rng     *rand.Rand
	always  Fault
	records []ProxyRecord
}

// StartFaultProxy starts a proxy to target (a base URL such as moto's
// endpoint) and closes it when the test ends.
func StartFaultProxy(tb testing.TB, target string, f Faults) *FaultProxy {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("fault proxy target: %v", err)
	}
	p := &FaultProxy{}
	p.SetFaults(f)
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host // signed by the client
		},
		ModifyResponse: func(resp *http.Response) error {
			// Recorded before the client sees the answer, so the records'
			// order is the order in which the upstream accepted requests.
			f, _ := resp.Request.Context().Value(faultKey{}).(Fault)
			p.record(resp.Request, f, resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.record(r, NoFault, 0)
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	tb.Cleanup(p.srv.Close)
	return p
}

// SetFaults replaces the fault shares and restarts the random sequence.
func (p *FaultProxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	p.rng = rand.New(rand.NewPCG(f.Seed, 0x5eed))
}

// FailAlways makes every matching request fail with f; NoFault returns to
// the configured shares.
func (p *FaultProxy) FailAlways(f Fault) {
	p.mu.Lock()
	p.always = f
	p.mu.Unlock()
}

// Fail makes every matching request fail with an internal error (500 in
// the dialect's words) until Fail(false), which returns to the configured
// shares. It makes a FaultProxy a destinationtest.Faults.
func (p *FaultProxy) Fail(on bool) {
	if on {
		p.FailAlways(InternalError)
	} else {
		p.FailAlways(NoFault)
	}
}

// Records returns every request handled so far, in order.
func (p *FaultProxy) Records() []ProxyRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyRecord(nil), p.records...)
}

// Injected counts the faults injected so far.
func (p *FaultProxy) Injected() int {
	n := 0
	for _, r := range p.Records() {
		if r.Fault != NoFault {
			n++
		}
	}
	return n
}

func (p *FaultProxy) record(r *http.Request, f Fault, status int) {
	p.mu.Lock()
	p.records = append(p.records, ProxyRecord{Method: r.Method, Path: r.URL.Path, Fault: f, Status: status})
	p.mu.Unlock()
}

func (p *FaultProxy) choose(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.faults.Match != nil && !p.faults.Match(r) {
		return NoFault
	}
	if p.always != NoFault {
		return p.always
	}
	x := p.rng.Float64()
	for _, c := range []struct {
		share float64
		fault Fault
	}{{p.faults.SlowDown, SlowDown}, {p.faults.InternalError, InternalError}, {p.faults.Drop, Drop}, {p.faults.DropAnswer, DropAnswer}} {
		if x < c.share {
			return c.fault
		}
		x -= c.share
	}
	return NoFault
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.choose(r)
	switch f {
	case NoFault:
		p.rp.ServeHTTP(w, r)
		return
	case SlowDown, InternalError:
		_, _ = io.Copy(io.Discard, r.Body)
		p.record(r, f, 0)
		p.mu.Lock()
		dialect := p.faults.Dialect
		p.mu.Unlock()
		injectError(w, dialect, f)
	case DropAnswer:
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), faultKey{}, DropAnswer)))
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		conn.Close()
	case Drop:
		// Take half the body so the client has started sending, then hang up.
		if r.ContentLength > 0 {
			_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		}
		p.record(r, f, 0)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		conn.Close()
	}
}

// faultKey marks a forwarded request whose answer will be dropped.
type faultKey struct{}

func injectError(w http.ResponseWriter, d ErrorDialect, f Fault) {
	throttle := f == SlowDown
	switch {
	case d == DialectGCS && throttle:
		googleError(w, http.StatusTooManyRequests, "rateLimitExceeded", "The rate of change requests to the object exceeds the rate limit. Please reduce the rate of create, update, and delete requests.")
	case d == DialectGCS:
		googleError(w, http.StatusInternalServerError, "backendError", "Backend Error")
	case d == DialectAzure && throttle:
		azureError(w, http.StatusServiceUnavailable, "ServerBusy", "The server is busy.")
	case d == DialectAzure:
		azureError(w, http.StatusInternalServerError, "InternalError", "The server encountered an internal error. Please retry the request.")
	case throttle:
		s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	default:
		s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	}
}

func azureError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?>
<Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><RequestId>exportd-fault-proxy</RequestId></Error>`, code, msg)
}
