package sample

import (
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

// table is a table's rows read through a checking Recorder, with its
// columns by name.
type table struct {
	rows [][]any
	col  map[string]int
}

func (tb table) get(i int, name string) any {
	k, ok := tb.col[name]
	if !ok {
		panic("no column " + name)
	}
	return tb.rows[i][k]
}

func (tb table) str(i int, name string) string { s, _ := tb.get(i, name).(string); return s }

func (tb table) time(i int, name string) time.Time { t, _ := tb.get(i, name).(time.Time); return t }

// ids indexes a table's rows by their identifier column, checking that
// identifiers are unique.
func (tb table) ids(t *testing.T, name string) map[string]int {
	t.Helper()
	m := make(map[string]int, len(tb.rows))
	for i := range tb.rows {
		id := tb.str(i, name)
		if _, dup := m[id]; dup {
			t.Fatalf("%s %s appears twice", name, id)
		}
		m[id] = i
	}
	return m
}

func readTables(t *testing.T, cfg Config, account string) map[string]table {
	t.Helper()
	snap := mustSnapshot(t, cfg, account)
	m := map[string]table{}
	for _, s := range snap.Tables() {
		m[s.Name] = table{rows: readAll(t, snap, s.Name), col: columns(s)}
	}
	return m
}

// TestReferences checks that every identifier a row refers to exists and
// that the references agree with each other.
func TestReferences(t *testing.T) {
	ts := readTables(t, Config{Seed: 5, Scale: 2}, "acme")
	companies, contacts, events := ts["companies"], ts["contacts"], ts["events"]
	revenue, attribution, ads := ts["revenue"], ts["revenue_attribution"], ts["paid_ads"]

	companyIDs := companies.ids(t, "company_id")
	contactIDs := contacts.ids(t, "contact_id")
	eventIDs := events.ids(t, "event_id")
	revenueIDs := revenue.ids(t, "revenue_id")
	attribution.ids(t, "attribution_id")
	ads.ids(t, "paid_ad_id")

	// exists checks an optional reference.
	exists := func(what string, id any, ids map[string]int) int {
		t.Helper()
		if id == nil {
			return -1
		}
		i, ok := ids[id.(string)]
		if !ok {
			t.Fatalf("%s %v does not exist", what, id)
		}
		return i
	}

	companies.ids(t, "domain") // unique too
	companyOfContact := map[string]any{}
	for i := range contacts.rows {
		if c := exists("contact's company", contacts.get(i, "company_id"), companyIDs); c >= 0 {
			email, domain := contacts.str(i, "email"), companies.str(c, "domain")
			if !strings.HasSuffix(email, "@"+domain) {
				t.Fatalf("contact %d: email %s at company %s", i, email, domain)
			}
		}
		companyOfContact[contacts.str(i, "contact_id")] = contacts.get(i, "company_id")
	}

	for i := range events.rows {
		contact := events.get(i, "contact_id")
		company := events.get(i, "company_id")
		exists("event's contact", contact, contactIDs)
		exists("event's company", company, companyIDs)
		if contact != nil && company != companyOfContact[contact.(string)] {
			t.Fatalf("event %d: company %v, but its contact works for %v", i, company, companyOfContact[contact.(string)])
		}
	}

	for i := range revenue.rows {
		contact := revenue.get(i, "contact_id")
		exists("revenue's company", revenue.get(i, "company_id"), companyIDs)
		exists("revenue's contact", contact, contactIDs)
		if contact == nil && revenue.get(i, "company_id") == nil {
			t.Fatalf("revenue %d has neither contact nor company", i)
		}
		if contact != nil && revenue.get(i, "company_id") != companyOfContact[contact.(string)] {
			t.Fatalf("revenue %d: company differs from its contact's", i)
		}
	}

	// Attribution: every touch refers to its deal's contact and company,
	// event touches are events of that contact, before the deal closed,
	// and the touches of a deal share out its amount.
	type share struct {
		weight float64
		amount *big.Rat
		n      int
		count  int // touch_count
	}
	shares := map[string]*share{}
	offline := 0
	for i := range attribution.rows {
		rev := exists("touch's revenue", attribution.get(i, "revenue_id"), revenueIDs)
		if rev < 0 {
			t.Fatal("touch without revenue")
		}
		for _, c := range []string{"contact_id", "company_id", "currency"} {
			if attribution.get(i, c) != revenue.get(rev, c) {
				t.Fatalf("touch %d: %s %v, its revenue's is %v", i, c, attribution.get(i, c), revenue.get(rev, c))
			}
		}
		if ev := exists("touch's event", attribution.get(i, "event_id"), eventIDs); ev >= 0 {
			if events.get(ev, "contact_id") != revenue.get(rev, "contact_id") {
				t.Fatalf("touch %d: event of another contact", i)
			}
			if events.get(ev, "channel") != attribution.get(i, "channel") {
				t.Fatalf("touch %d: channel differs from its event's", i)
			}
			if !events.time(ev, "event_time").Equal(attribution.time(i, "touch_time")) {
				t.Fatalf("touch %d: time differs from its event's", i)
			}
			if !attribution.time(i, "touch_time").Before(revenue.time(rev, "closed_at")) {
				t.Fatalf("touch %d: after the deal closed", i)
			}
		} else {
			offline++
			if attribution.str(i, "channel") != "offline" {
				t.Fatalf("touch %d without event has channel %s", i, attribution.str(i, "channel"))
			}
		}
		id := attribution.str(i, "revenue_id")
		s := shares[id]
		if s == nil {
			s = &share{amount: new(big.Rat)}
			shares[id] = s
		}
		if got := attribution.get(i, "touch_index").(int32); int(got) != s.n {
			t.Fatalf("touch %d: touch_index %d, want %d", i, got, s.n)
		}
		s.n++
		s.count = int(attribution.get(i, "touch_count").(int32))
		s.weight += attribution.get(i, "weight").(float64)
		a, _ := new(big.Rat).SetString(attribution.str(i, "attributed_amount"))
		s.amount.Add(s.amount, a)
	}
	if offline == 0 || offline > len(attribution.rows)/2 {
		t.Errorf("%d of %d touches are offline", offline, len(attribution.rows))
	}
	for id, s := range shares {
		rev := revenueIDs[id]
		if s.n != s.count {
			t.Errorf("revenue %s: %d touches, touch_count %d", id, s.n, s.count)
		}
		if math.Abs(s.weight-1) > 1e-9 {
			t.Errorf("revenue %s: weights sum to %v", id, s.weight)
		}
		amount, _ := new(big.Rat).SetString(revenue.str(rev, "amount"))
		diff, _ := new(big.Rat).Sub(amount, s.amount).Float64()
		if diff < 0 || diff > 1e-9*float64(s.n) {
			t.Errorf("revenue %s: touches attribute %s of %s", id, s.amount.FloatString(9), amount.FloatString(2))
		}
	}

	// Campaigns that brought events exist in paid_ads, under that name.
	campaigns := map[string]string{}
	for i := range ads.rows {
		campaigns[ads.str(i, "campaign_id")] = ads.str(i, "campaign_name")
	}
	paid := 0
	for i := range events.rows {
		var props map[string]any
		if err := json.Unmarshal([]byte(events.str(i, "properties")), &props); err != nil {
			t.Fatal(err)
		}
		id, ok := props["campaign_id"].(string)
		if !ok {
			continue
		}
		paid++
		name, ok := campaigns[id]
		if !ok {
			t.Fatalf("event %d: campaign %s is not in paid_ads", i, id)
		}
		if props["utm_campaign"] != name || !strings.Contains(events.str(i, "url"), "utm_campaign="+name) {
			t.Fatalf("event %d: utm_campaign %v, url %s, campaign name %s", i, props["utm_campaign"], events.str(i, "url"), name)
		}
	}
	if paid == 0 {
		t.Error("no event came from a campaign")
	}
}

// TestValuesArePlausible checks the invariants a reader of the data would
// take for granted.
func TestValuesArePlausible(t *testing.T) {
	ts := readTables(t, Config{Seed: 11}, "acme")
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.UnixMicro(dataEnd).UTC()

	companies := ts["companies"]
	for i := range companies.rows {
		created, updated := companies.time(i, "created_at"), companies.time(i, "updated_at")
		if created.Before(start) || updated.Before(created) || updated.After(end) {
			t.Fatalf("company %d: created %v, updated %v", i, created, updated)
		}
		if d := companies.str(i, "domain"); !strings.Contains(d, ".") || strings.ToLower(d) != d {
			t.Fatalf("company %d: domain %q", i, d)
		}
	}

	contacts := ts["contacts"]
	for i := range contacts.rows {
		email := contacts.str(i, "email")
		if strings.Count(email, "@") != 1 || strings.ContainsAny(email, " '") {
			t.Fatalf("contact %d: email %q", i, email)
		}
		if s := contacts.get(i, "lead_score").(int32); s < 0 || s > 100 {
			t.Fatalf("contact %d: lead_score %d", i, s)
		}
	}

	events := ts["events"]
	var prev time.Time
	for i := range events.rows {
		at := events.time(i, "event_time")
		if at.Before(time.UnixMicro(eventStart)) || !at.Before(end) {
			t.Fatalf("event %d at %v", i, at)
		}
		if day := at.Truncate(24 * time.Hour); !events.time(i, "event_date").Equal(day) {
			t.Fatalf("event %d: date %v for time %v", i, events.get(i, "event_date"), at)
		}
		if at.Before(prev.Add(-24 * time.Hour)) {
			t.Fatalf("event %d goes back in time: %v after %v", i, at, prev)
		}
		prev = at
		if u := events.get(i, "url"); u != nil && !strings.HasPrefix(u.(string), "https://www.acme.com/") {
			t.Fatalf("event %d: url %v", i, u)
		}
		if d := events.get(i, "duration_ms"); d != nil && d.(int64) <= 0 {
			t.Fatalf("event %d: duration %v", i, d)
		}
	}

	revenue := ts["revenue"]
	for i := range revenue.rows {
		amount, _ := new(big.Rat).SetString(revenue.str(i, "amount"))
		rate, _ := new(big.Rat).SetString(revenue.str(i, "fx_rate_to_usd"))
		usd, _ := new(big.Rat).SetString(revenue.str(i, "amount_usd"))
		diff, _ := new(big.Rat).Sub(new(big.Rat).Mul(amount, rate), usd).Float64()
		if amount.Sign() <= 0 || math.Abs(diff) > 0.005 {
			t.Fatalf("revenue %d: %s at %s is not %s USD", i, amount.FloatString(2), rate.FloatString(6), usd.FloatString(2))
		}
		recurring := revenue.get(i, "is_recurring").(bool)
		if end := revenue.get(i, "period_end"); (end == nil) == recurring {
			t.Fatalf("revenue %d: recurring %v with period_end %v", i, recurring, end)
		}
	}

	ads := ts["paid_ads"]
	for i := range ads.rows {
		imp, clicks := ads.get(i, "impressions").(int64), ads.get(i, "clicks").(int64)
		conv := int64(ads.get(i, "conversions").(int32))
		if !(imp >= clicks && clicks >= conv && conv >= 0) {
			t.Fatalf("paid_ads %d: %d impressions, %d clicks, %d conversions", i, imp, clicks, conv)
		}
		cost, _ := new(big.Rat).SetString(ads.str(i, "cost"))
		if cost.Sign() < 0 || (imp == 0 && cost.Sign() != 0) {
			t.Fatalf("paid_ads %d: cost %s for %d impressions", i, cost.FloatString(2), imp)
		}
		search := ads.str(i, "campaign_type") == "search"
		if (ads.get(i, "keywords") == nil) == search || (ads.get(i, "quality_score") == nil) == search {
			t.Fatalf("paid_ads %d: %s campaign with keywords %v, quality score %v", i,
				ads.str(i, "campaign_type"), ads.get(i, "keywords"), ads.get(i, "quality_score"))
		}
	}
}

// TestNullRates checks that nullable columns hold some nulls and mostly
// values, and that lists are sometimes null, sometimes empty.
func TestNullRates(t *testing.T) {
	ts := readTables(t, Config{Seed: 2, Scale: 3}, "acme")
	tests := []struct {
		table, column string
		lo, hi        float64 // bounds of the share of nulls
	}{
		{"companies", "industry", 0.01, 0.08},
		{"companies", "employee_count", 0.05, 0.15},
		{"companies", "annual_revenue", 0.18, 0.32},
		{"companies", "founded_date", 0.10, 0.20},
		{"companies", "tags", 0.06, 0.14},
		{"contacts", "company_id", 0.05, 0.11},
		{"contacts", "job_title", 0.16, 0.24},
		{"contacts", "last_activity_at", 0.12, 0.18},
		{"events", "contact_id", 0.18, 0.22},
		{"events", "company_id", 0.12, 0.22},
		{"events", "url", 0.08, 0.40},
		{"events", "referrer", 0.25, 0.55},
		{"events", "duration_ms", 0.25, 0.55},
		{"revenue", "contact_id", 0.03, 0.09},
		{"revenue", "company_id", 0.03, 0.14},
		{"revenue", "period_end", 0.06, 0.14},
		{"revenue_attribution", "event_id", 0.10, 0.45},
		{"paid_ads", "keywords", 0.30, 0.70},
	}
	for _, tc := range tests {
		tb := ts[tc.table]
		nulls := 0
		for i := range tb.rows {
			if tb.get(i, tc.column) == nil {
				nulls++
			}
		}
		share := float64(nulls) / float64(len(tb.rows))
		t.Logf("%s.%s: %.3f nulls", tc.table, tc.column, share)
		if share < tc.lo || share > tc.hi {
			t.Errorf("%s.%s: %.3f nulls, want %.2f..%.2f", tc.table, tc.column, share, tc.lo, tc.hi)
		}
	}

	for _, c := range []struct{ table, column string }{{"companies", "tags"}, {"paid_ads", "keywords"}} {
		tb := ts[c.table]
		empty, full := 0, 0
		for i := range tb.rows {
			switch l, _ := tb.get(i, c.column).([]any); {
			case l == nil:
			case len(l) == 0:
				empty++
			default:
				full++
				seen := map[any]bool{}
				for _, v := range l {
					if seen[v] {
						t.Fatalf("%s.%s row %d repeats %v", c.table, c.column, i, v)
					}
					seen[v] = true
				}
			}
		}
		if empty == 0 || full < empty {
			t.Errorf("%s.%s: %d empty lists, %d lists with elements", c.table, c.column, empty, full)
		}
	}
}

// TestSmallAndEmptyTables reads every table under configurations where
// the tables others refer to are tiny or empty: rows must still be valid
// and refer only to rows that exist.
func TestSmallAndEmptyTables(t *testing.T) {
	tests := []struct {
		name string
		rows map[string]int64
	}{
		{"no companies", map[string]int64{"companies": 0}},
		{"no contacts", map[string]int64{"contacts": 0}},
		{"no events", map[string]int64{"events": 0}},
		{"no paid ads", map[string]int64{"paid_ads": 0}},
		{"no attribution", map[string]int64{"revenue_attribution": 0}},
		{"one deal, many touches", map[string]int64{"revenue": 1, "revenue_attribution": 500}},
		{"more deals than touches", map[string]int64{"revenue": 50, "revenue_attribution": 7}},
		{"one of each", map[string]int64{"companies": 1, "contacts": 1, "events": 1, "revenue": 1, "revenue_attribution": 1, "paid_ads": 1}},
		{"fewer events than contacts", map[string]int64{"events": 10, "contacts": 100}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Seed: 4, Scale: 0.2, Rows: tc.rows}
			want, err := cfg.RowCounts()
			if err != nil {
				t.Fatal(err)
			}
			ts := readTables(t, cfg, "acme")
			ids := map[string]map[string]int{}
			for name, tb := range ts {
				if int64(len(tb.rows)) != want[name] {
					t.Errorf("%s: %d rows, want %d", name, len(tb.rows), want[name])
				}
				ids[name] = tb.ids(t, tb.col2id())
			}
			refs := []struct{ table, column, target string }{
				{"contacts", "company_id", "companies"},
				{"events", "contact_id", "contacts"},
				{"events", "company_id", "companies"},
				{"revenue", "company_id", "companies"},
				{"revenue", "contact_id", "contacts"},
				{"revenue_attribution", "revenue_id", "revenue"},
				{"revenue_attribution", "event_id", "events"},
				{"revenue_attribution", "contact_id", "contacts"},
				{"revenue_attribution", "company_id", "companies"},
			}
			for _, r := range refs {
				tb := ts[r.table]
				for i := range tb.rows {
					if v := tb.get(i, r.column); v != nil {
						if _, ok := ids[r.target][v.(string)]; !ok {
							t.Fatalf("%s row %d: %s %v does not exist", r.table, i, r.column, v)
						}
					}
				}
			}
		})
	}
}

// col2id is the name of a table's identifier: its first column.
func (tb table) col2id() string {
	for name, k := range tb.col {
		if k == 0 {
			return name
		}
	}
	return ""
}
