package sample

import "github.com/exportd/exportd/internal/source"

type attributionGen struct{ gen }

func (g *attributionGen) row(out source.RowWriter, i int64) {
	w := g.w
	r := w.dealOfTouch(i)
	d := w.deal(r)
	p := i - d.firstRow
	ev := w.touchEvent(&d, p)
	rr := newRNG(w.key[revenueAttribution], i)

	g.id(out, revenueAttribution, i)        // attribution_id
	g.id(out, revenue, r)                   // revenue_id
	g.optionalID(out, events, ev)           // event_id
	g.optionalID(out, contacts, d.contact)  // contact_id
	g.optionalID(out, companies, d.company) // company_id
	out.String(attributionModels[d.model])  // model
	if ev >= 0 {
		ch, _ := w.eventChannel(ev)
		out.String(channels[ch]) // channel
	} else {
		out.String(channels[chOffline])
	}
	out.Int32(clampInt32(p))         // touch_index
	out.Int32(clampInt32(d.touches)) // touch_count

	num, den := weight(d.model, p, d.touches)
	out.Float64(float64(num) / float64(den)) // weight

	// attributed_amount: the amount in billionths, times the weight.
	// Odd rows go through BigInt so that consumers exercise both ways a
	// decimal can arrive; the value is the same.
	units := mulDiv(uint64(d.cents)*10_000_000, num, den)
	if i%2 == 1 {
		g.big.SetUint64(units)
		out.BigInt(&g.big)
	} else {
		out.Int64(int64(units))
	}
	out.String(currencies[d.currency]) // currency

	if ev >= 0 {
		out.Int64(w.eventTime(ev)) // touch_time
	} else {
		// Offline touches precede the close, a few days apart.
		t := d.closedAt - (d.touches-p)*3*day - rr.between(0, 2*day)
		out.Int64(max(t, eventStart-365*day))
	}
}
