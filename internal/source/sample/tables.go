package sample

import "github.com/exportd/exportd/internal/schema"

// The six tables of the platform, in their default export order. The
// table's position here is its identity inside the package.
const (
	companies = iota
	contacts
	events
	revenue
	revenueAttribution
	paidAds
	numTables
)

var tableNames = [numTables]string{
	companies:          "companies",
	contacts:           "contacts",
	events:             "events",
	revenue:            "revenue",
	revenueAttribution: "revenue_attribution",
	paidAds:            "paid_ads",
}

// baseRows is each table's row count at scale 1. The ratios are those of a
// small B2B account: a few contacts per company, ten events per contact,
// four attributed touches per deal.
var baseRows = [numTables]int64{
	companies:          200,
	contacts:           1_000,
	events:             10_000,
	revenue:            300,
	revenueAttribution: 1_200,
	paidAds:            500,
}

// TableNames lists the tables the sample source generates, in their
// default export order.
func TableNames() []string { return append([]string(nil), tableNames[:]...) }

func tableIndex(name string) (int, bool) {
	for t, n := range tableNames {
		if n == name {
			return t, true
		}
	}
	return 0, false
}

// Tables returns the schemas of the six tables, in their default export
// order. Every call returns fresh values the caller may modify.
func Tables() []schema.Table {
	ts := make([]schema.Table, numTables)
	for t := range ts {
		ts[t] = tableSchema(t)
	}
	return ts
}

// Column constructors keep the schemas below readable.

func str(name string) schema.Column { return schema.Column{Name: name, Kind: schema.String} }

func lowCard(name string) schema.Column {
	return schema.Column{Name: name, Kind: schema.String, LowCardinality: true}
}

func timestamp(name string) schema.Column {
	return schema.Column{Name: name, Kind: schema.Timestamp, UTC: true}
}

func decimal(name string, precision, scale int) schema.Column {
	return schema.Column{Name: name, Kind: schema.Decimal, Precision: precision, Scale: scale}
}

func kind(name string, k schema.Kind) schema.Column { return schema.Column{Name: name, Kind: k} }

func stringList(name string) schema.Column {
	return schema.Column{Name: name, Kind: schema.List, Elem: &schema.Column{Kind: schema.String}}
}

func nullable(c schema.Column) schema.Column {
	c.Nullable = true
	return c
}

func tableSchema(t int) schema.Table {
	var cols []schema.Column
	switch t {
	case companies:
		cols = []schema.Column{
			str("company_id"),
			str("name"),
			str("domain"),
			nullable(lowCard("industry")),
			lowCard("country"),
			nullable(kind("employee_count", schema.Int32)),
			nullable(decimal("annual_revenue", 18, 2)),
			kind("is_target_account", schema.Bool),
			nullable(kind("founded_date", schema.Date)),
			nullable(stringList("tags")),
			timestamp("created_at"),
			timestamp("updated_at"),
		}
	case contacts:
		cols = []schema.Column{
			str("contact_id"),
			nullable(str("company_id")),
			str("email"),
			str("first_name"),
			str("last_name"),
			nullable(str("job_title")),
			lowCard("country"),
			lowCard("lifecycle_stage"),
			kind("lead_score", schema.Int32),
			kind("is_subscribed", schema.Bool),
			timestamp("created_at"),
			nullable(timestamp("last_activity_at")),
		}
	case events:
		cols = []schema.Column{
			str("event_id"),
			nullable(str("contact_id")),
			nullable(str("company_id")),
			lowCard("event_type"),
			timestamp("event_time"),
			kind("event_date", schema.Date),
			lowCard("source"),
			lowCard("channel"),
			nullable(str("url")),
			nullable(str("referrer")),
			str("session_id"),
			nullable(kind("duration_ms", schema.Int64)),
			kind("properties", schema.JSON),
		}
	case revenue:
		cols = []schema.Column{
			str("revenue_id"),
			nullable(str("company_id")),
			nullable(str("contact_id")),
			lowCard("revenue_type"),
			decimal("amount", 18, 2),
			lowCard("currency"),
			decimal("fx_rate_to_usd", 12, 6),
			decimal("amount_usd", 18, 2),
			kind("is_recurring", schema.Bool),
			timestamp("closed_at"),
			kind("period_start", schema.Date),
			nullable(kind("period_end", schema.Date)),
		}
	case revenueAttribution:
		cols = []schema.Column{
			str("attribution_id"),
			str("revenue_id"),
			nullable(str("event_id")),
			nullable(str("contact_id")),
			nullable(str("company_id")),
			lowCard("model"),
			lowCard("channel"),
			kind("touch_index", schema.Int32),
			kind("touch_count", schema.Int32),
			kind("weight", schema.Float64),
			decimal("attributed_amount", 38, 9),
			lowCard("currency"),
			timestamp("touch_time"),
		}
	case paidAds:
		cols = []schema.Column{
			str("paid_ad_id"),
			lowCard("platform"),
			str("campaign_id"),
			str("campaign_name"),
			lowCard("campaign_type"),
			kind("stat_date", schema.Date),
			kind("impressions", schema.Int64),
			kind("clicks", schema.Int64),
			kind("conversions", schema.Int32),
			decimal("cost", 18, 2),
			lowCard("currency"),
			nullable(kind("quality_score", schema.Int16)),
			nullable(stringList("keywords")),
			timestamp("updated_at"),
		}
	}
	return schema.Table{Name: tableNames[t], Columns: cols}
}
