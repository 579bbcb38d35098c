package testsupport

import (
	"strconv"
	"strings"
	"testing"
)

// eventsDDL is the platform's events table, as the sample source shapes it:
// thirteen columns, ids and URLs as text, JSON properties, about 360 bytes
// a row in text form.
const eventsDDL = `
CREATE SCHEMA {schema};
CREATE TABLE {schema}.events (
  event_id    text NOT NULL,
  contact_id  text,
  company_id  text,
  event_type  text NOT NULL,
  event_time  timestamptz NOT NULL,
  event_date  date NOT NULL,
  source      text NOT NULL,
  channel     text NOT NULL,
  url         text,
  referrer    text,
  session_id  text NOT NULL,
  duration_ms bigint,
  properties  json NOT NULL
);`

// eventsInsert adds rows {lo}..{hi} to the events table.
const eventsInsert = `
INSERT INTO {schema}.events
SELECT 'evt_' || md5(g::text),
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'con_' || lpad((g % 250000)::text, 10, '0') END,
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'com_' || lpad((g % 50000)::text, 8, '0') END,
       (ARRAY['page_view','form_submit','email_open','email_click','ad_click','meeting','signup'])[1 + g % 7],
       t, t::date,
       (ARRAY['web','email','ads','crm','product'])[1 + g % 5],
       (ARRAY['organic','paid_search','paid_social','referral','direct','email'])[1 + g % 6],
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'https://www.example.com/products/' || (g % 997) || '/pricing?utm_source=newsletter&utm_campaign=' || (g % 31) END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'https://www.google.com/search?q=b2b+analytics+' || (g % 101) END,
       'ses_' || md5((g / 8)::text),
       CASE WHEN g % 4 = 0 THEN NULL ELSE (g * 37) % 600000 END,
       json_build_object('browser', (ARRAY['chrome','firefox','safari','edge'])[1 + g % 4], 'screen', '1920x1080',
                         'score', g % 100, 'campaign_id', 'cmp_' || (g % 313))
FROM generate_series({lo}, {hi}) g,
     LATERAL (SELECT timestamptz '2023-01-01 00:00:00+00' + (g * interval '6 seconds')) ts(t);`

// CreateEventsTable creates schema.events in db, owned by db's role, as
// the platform's events table is shaped: for benchmarks of the PostgreSQL
// source and of whole exports.
func (pg *Postgres) CreateEventsTable(tb testing.TB, db Database, schema string) {
	tb.Helper()
	pg.Exec(tb, db.Name, "SET ROLE "+db.User+";"+strings.ReplaceAll(eventsDDL, "{schema}", schema))
}

// FillEventsTable adds rows lo..hi to schema.events (1-based; each row is
// determined by its number) and then vacuums and analyses the table, so
// that reads measure reading, as on a long-lived table, not hint-bit
// setting.
func (pg *Postgres) FillEventsTable(tb testing.TB, db Database, schema string, lo, hi int) {
	tb.Helper()
	pg.Exec(tb, db.Name, strings.NewReplacer("{schema}", schema, "{lo}", strconv.Itoa(lo), "{hi}", strconv.Itoa(hi)).Replace(eventsInsert))
	pg.Exec(tb, db.Name, "VACUUM (FREEZE, ANALYZE) "+schema+".events")
}
