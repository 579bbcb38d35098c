package sample

import "github.com/exportd/exportd/internal/source"

type revenueGen struct{ gen }

func (g *revenueGen) row(out source.RowWriter, r int64) {
	w := g.w
	d := w.deal(r)
	rr := newRNG(w.key[revenue], r)

	g.id(out, revenue, r)                     // revenue_id
	g.optionalID(out, companies, d.company)   // company_id
	g.optionalID(out, contacts, d.contact)    // contact_id
	out.String(revenueTypes[d.kind])          // revenue_type
	out.Int64(d.cents)                        // amount
	out.String(currencies[d.currency])        // currency
	rate := usdRateMicros[d.currency]         //
	out.Int64(rate)                           // fx_rate_to_usd
	out.Int64((d.cents*rate + 500_000) / 1e6) // amount_usd, rounded half up
	recurring := d.kind != revenueOneTime
	out.Bool(recurring)   // is_recurring
	out.Int64(d.closedAt) // closed_at

	start := floorDiv(d.closedAt, day)
	out.Int32(int32(start)) // period_start
	switch {
	case !recurring:
		out.Null() // period_end
	case rr.percent(75): // annual
		out.Int32(int32(start + 364))
	default: // monthly
		out.Int32(int32(start + 29))
	}
}
