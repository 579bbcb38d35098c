package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
)

// Notification events a notify block may select.
const (
	// NotifyFailed is an export that failed for good: it will not be
	// retried.
	NotifyFailed = "failed"
	// NotifyCommitted is every committed dump.
	NotifyCommitted = "committed"
	// NotifyRecovered is the first committed dump of a destination after
	// an export of it failed for good.
	NotifyRecovered = "recovered"
)

// NotifyEvents lists the events a notify block may select.
var NotifyEvents = []string{NotifyFailed, NotifyCommitted, NotifyRecovered}

// Notify is a notify block: where destination outcomes are posted, and
// which. The URL and the secret are secrets (a Slack webhook URL is its
// own credential): nothing may log or print them.
type Notify struct {
	// Kind is the block's label; "webhook" is the only kind.
	Kind string
	// Name tells notifiers apart in logs and metrics; it defaults to
	// "<kind>-<n>", n counting the blocks of the file from 1.
	Name string
	URL  string
	// Secret is the HMAC-SHA256 key that signs each request; empty sends
	// requests unsigned.
	Secret string
	// Format is "json" (exportd's own payload) or "slack" (a message a
	// Slack incoming webhook shows).
	Format string
	// Events are the outcomes posted: NotifyFailed, NotifyCommitted,
	// NotifyRecovered.
	Events []string
	// Accounts and Destinations restrict the outcomes posted to these;
	// empty means all.
	Accounts     []string
	Destinations []string
	// Timeout bounds one request; MaxAttempts the requests for one
	// notification; QueueSize the notifications waiting to be sent, beyond
	// which new ones are dropped.
	Timeout     time.Duration
	MaxAttempts int
	QueueSize   int

	DeclRange hcl.Range
}

// Selects reports whether the block posts outcomes of this kind of event
// for this account and destination.
func (n Notify) Selects(ev, account, destination string) bool {
	return slices.Contains(n.Events, ev) &&
		(len(n.Accounts) == 0 || slices.Contains(n.Accounts, account)) &&
		(len(n.Destinations) == 0 || slices.Contains(n.Destinations, destination))
}

// URLHost is the URL's scheme and host, which may be logged; its path and
// query may hold a token and may not.
func (n Notify) URLHost() string {
	u, err := url.Parse(n.URL)
	if err != nil {
		return "(invalid url)"
	}
	return u.Scheme + "://" + u.Host
}

// minSecretLen keeps signing keys out of guessing range.
const minSecretLen = 16

type rawNotify struct {
	Kind     string    `hcl:"kind,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

func (c *Config) decodeNotify(d *decoder, ns []rawNotify) {
	seen := map[string]bool{}
	for i, rn := range ns {
		rng := rn.DefRange
		if rn.Kind != "webhook" {
			d.errorf(rng, "Unknown notifier", fmt.Sprintf("There is no notifier %q; exportd has webhook.", rn.Kind))
			continue
		}
		a := d.attrs(rn.Body, "name", "url", "secret", "format", "events", "accounts", "destinations",
			"timeout", "max_attempts", "queue_size")
		n := Notify{
			Kind:        rn.Kind,
			Name:        fmt.Sprintf("%s-%d", rn.Kind, i+1),
			Format:      "json",
			Events:      []string{NotifyFailed, NotifyRecovered},
			Timeout:     10 * time.Second,
			MaxAttempts: 5,
			QueueSize:   1000,
			DeclRange:   rng,
		}
		d.str(a["name"], &n.Name)
		if !event.ValidID(n.Name) {
			d.errorf(rng, "Invalid notifier name", fmt.Sprintf("%q: use letters, digits, _ and -, at most 128.", n.Name))
		}
		if seen[n.Name] {
			d.errorf(rng, "Duplicate notifier", fmt.Sprintf("A notifier named %q is already declared; give each a distinct name.", n.Name))
		}
		seen[n.Name] = true
		d.notifyURL(a["url"], rng, &n.URL)
		d.str(a["secret"], &n.Secret)
		if a["secret"] != nil && len(n.Secret) < minSecretLen {
			// The value is a secret: the diagnostic names the attribute only.
			d.errorf(a["secret"].Expr.Range(), "Secret too short", fmt.Sprintf("secret must be at least %d characters.", minSecretLen))
		}
		d.oneOf(a["format"], &n.Format, "json", "slack")
		d.notifyEvents(a["events"], &n.Events)
		d.ids(a["accounts"], &n.Accounts)
		d.ids(a["destinations"], &n.Destinations)
		d.duration(a["timeout"], &n.Timeout, time.Second)
		d.intRange(a["max_attempts"], &n.MaxAttempts, 1, 20)
		d.intRange(a["queue_size"], &n.QueueSize, 1, 100000)
		c.Notify = append(c.Notify, n)
	}
}

// notifyURL decodes a webhook URL. The URL is a secret, so diagnostics
// never quote it.
func (d *decoder) notifyURL(a *hcl.Attribute, block hcl.Range, dst *string) {
	if a == nil {
		d.errorf(block, "Missing url", `A webhook needs url = "https://…", the address outcomes are posted to.`)
		return
	}
	var v string
	if !d.decode(a, &v) {
		return
	}
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		d.errorf(a.Expr.Range(), "Invalid url", "url must be an absolute http or https URL.")
		return
	}
	if u.User != nil {
		d.errorf(a.Expr.Range(), "Credentials in url", "Put no user or password in url; requests are signed with secret instead.")
		return
	}
	*dst = u.String()
}

func (d *decoder) notifyEvents(a *hcl.Attribute, dst *[]string) {
	if a == nil {
		return
	}
	var v []string
	if !d.decode(a, &v) {
		return
	}
	if len(v) == 0 {
		d.errorf(a.Expr.Range(), "No events", fmt.Sprintf("events must name at least one of %s.", strings.Join(NotifyEvents, ", ")))
		return
	}
	for _, e := range v {
		if !slices.Contains(NotifyEvents, e) {
			d.errorf(a.Expr.Range(), "Unknown event", fmt.Sprintf("%q: events are %s.", e, strings.Join(NotifyEvents, ", ")))
			return
		}
	}
	*dst = v
}

// ids decodes a list of account or destination names.
func (d *decoder) ids(a *hcl.Attribute, dst *[]string) {
	if a == nil {
		return
	}
	var v []string
	if !d.decode(a, &v) {
		return
	}
	for _, s := range v {
		if !event.ValidID(s) {
			d.errorf(a.Expr.Range(), "Invalid name", fmt.Sprintf("%s: %q: use letters, digits, _ and -, at most 128.", a.Name, s))
			return
		}
	}
	*dst = v
}
