package notify_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/notify"
)

// A receiver written in Go checks each request with Verify before it
// trusts the body.
func ExampleVerify() {
	secret := []byte("an-example-signing-secret")
	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		err = notify.Verify(secret, body, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), time.Now(), 5*time.Minute)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		fmt.Printf("%s %s\n", r.Header.Get(notify.HeaderEvent), body)
	})

	// What exportd sends.
	body := `{"event":"failed","destination":"acme-s3"}`
	sent := time.Now()
	req := httptest.NewRequest(http.MethodPost, "/hooks/exportd", strings.NewReader(body))
	req.Header.Set(notify.HeaderEvent, "failed")
	req.Header.Set(notify.HeaderTimestamp, fmt.Sprint(sent.Unix()))
	req.Header.Set(notify.HeaderSignature, notify.Sign(secret, sent, []byte(body)))
	receiver.ServeHTTP(httptest.NewRecorder(), req)
	// Output: failed {"event":"failed","destination":"acme-s3"}
}

// The signature is the hex HMAC-SHA256 of the timestamp, a full stop and
// the body, keyed with the secret: any language's HMAC computes it.
func ExampleSign() {
	fmt.Println(notify.Sign([]byte("an-example-signing-secret"), time.Unix(1700000000, 0), []byte(`{"event":"failed"}`)))
	// Output: v1=530bb72803f0c54748160542f5d2991c86894161bdc8545bfebaca8cf4aa6666
}
