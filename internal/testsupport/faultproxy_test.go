package testsupport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestFaultProxy(t *testing.T) {
	var hosts []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer upstream.Close()
	p := StartFaultProxy(t, upstream.URL, Faults{SlowDown: 0.2, InternalError: 0.2, Drop: 0.2, Seed: 1})
	// One connection per request: a dropped connection must not poison the next.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	put := func(path string) (int, error) {
		req, _ := http.NewRequest(http.MethodPut, p.URL+path, strings.NewReader(strings.Repeat("x", 10000)))
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	counts := map[string]int{}
	for i := 0; i < 200; i++ {
		status, err := put("/bucket/key")
		switch {
		case err != nil:
			counts["dropped"]++
		case status == 503:
			counts["503"]++
		case status == 500:
			counts["500"]++
		case status == 200:
			counts["200"]++
		default:
			t.Fatalf("unexpected status %d", status)
		}
	}
	for _, k := range []string{"dropped", "503", "500", "200"} {
		if counts[k] < 20 {
			t.Errorf("%s: %d of 200, want roughly its share (%v)", k, counts[k], counts)
		}
	}
	recs := p.Records()
	if len(recs) != 200 || p.Injected() != 200-counts["200"] {
		t.Fatalf("%d records, %d injected; counts %v", len(recs), p.Injected(), counts)
	}
	u, _ := url.Parse(p.URL)
	for _, h := range hosts {
		if h != u.Host {
			t.Fatalf("upstream saw Host %q, want the proxy's %q", h, u.Host)
		}
	}

	p.FailAlways(SlowDown)
	for i := 0; i < 5; i++ {
		if status, err := put("/bucket/key"); err != nil || status != 503 {
			t.Fatalf("always SlowDown: %d, %v", status, err)
		}
	}
	p.FailAlways(NoFault)
	p.SetFaults(Faults{Match: func(r *http.Request) bool { return false }, SlowDown: 1})
	if status, err := put("/bucket/other"); err != nil || status != 200 {
		t.Fatalf("unmatched request: %d, %v", status, err)
	}
	last := p.Records()[len(p.Records())-1]
	if last != (ProxyRecord{Method: "PUT", Path: "/bucket/other", Fault: NoFault, Status: 200}) {
		t.Fatalf("last record %+v", last)
	}
}
