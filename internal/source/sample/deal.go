package sample

import "math/bits"

// deal is one row of revenue together with what revenue_attribution
// derives from it. Both tables build it with world.deal, so an attributed
// amount always matches its revenue's amount and currency.
type deal struct {
	contact, company int64 // -1 when unknown
	kind, currency   int
	cents            int64 // amount in hundredths of the currency
	model            int   // attribution model

	// The deal's touches are rows [firstRow, firstRow+touches) of
	// revenue_attribution. Touch p is the contact's event number
	// firstEvent+p (see touchEvent).
	firstRow, touches int64
	slot              uint64 // the contact's event slot
	contactEvents     int64  // how many events the contact has
	firstEvent        int64

	closedAt int64
}

func (w *world) deal(r int64) deal {
	d := deal{contact: -1, company: -1}
	rr := field(w.key[revenue], r, fDeal)
	switch nC, nCo := w.rows[contacts], w.rows[companies]; {
	case nC > 0:
		d.contact = int64(rr.intn(uint64(nC)))
		d.company = w.contactCompany(d.contact)
		if d.company >= 0 && rr.percent(6) {
			d.contact = -1 // booked against the company alone
		}
	case nCo > 0:
		d.company = int64(rr.intn(uint64(nCo)))
	}
	d.currency = curUSD
	if d.company >= 0 {
		d.currency = currencyOfCountry[w.companyCountry(d.company)]
	}
	d.kind = revenueTypeWeights.from(&rr)
	if d.kind == revenueOneTime {
		d.cents = rr.logUniform(500, 40_000)*100 + int64(rr.intn(100))
	} else {
		dollars := rr.logUniform(3_000, 400_000)
		d.cents = (dollars - dollars%100) * 100
	}
	d.cents *= dealScale[d.currency]
	d.model = attributionModelWeights.from(&rr)

	d.firstRow, d.touches = w.touchRows(r)
	nE, nC := w.rows[events], w.rows[contacts]
	if d.contact >= 0 && nE > 0 {
		d.slot = w.slots.inverse(uint64(d.contact))
		if int64(d.slot) < nE {
			d.contactEvents = (nE-1-int64(d.slot))/nC + 1
		}
		if d.contactEvents > d.touches {
			t := field(w.key[revenueAttribution], r, fTouches)
			d.firstEvent = int64(t.intn(uint64(d.contactEvents - d.touches + 1)))
		}
	}

	// The deal closes some days after its last touch that is an event.
	closed := int64(-1)
	if d.touches > 0 {
		for k := min(d.firstEvent+d.touches, d.contactEvents) - 1; k >= d.firstEvent; k-- {
			if i := int64(d.slot) + k*nC; !w.anonymous(i) {
				closed = w.eventTime(i) + rr.between(day, 45*day)
				break
			}
		}
	}
	if closed < 0 {
		closed = rr.between(eventStart+30*day, dataEnd)
	}
	d.closedAt = min(closed, dataEnd-1)
	return d
}

const revenueOneTime = 3 // index of "one_time" in revenueTypes

// touchEvent is the event of touch p, or -1 for a touch that is not a
// recorded event of the deal's contact (a sales call, a trade show).
func (w *world) touchEvent(d *deal, p int64) int64 {
	k := d.firstEvent + p
	if d.contact < 0 || k >= d.contactEvents {
		return -1
	}
	i := int64(d.slot) + k*w.rows[contacts]
	if w.anonymous(i) {
		return -1
	}
	return i
}

// Touches are spread evenly over deals: deal r owns the rows of
// revenue_attribution from ceil(r*A/R) to ceil((r+1)*A/R), where A and R
// are the two tables' row counts.

func (w *world) touchRows(r int64) (first, n int64) {
	first = w.firstTouchRow(r)
	return first, w.firstTouchRow(r+1) - first
}

func (w *world) firstTouchRow(r int64) int64 {
	a, rev := uint64(w.rows[revenueAttribution]), uint64(w.rows[revenue])
	hi, lo := bits.Mul64(uint64(r), a)
	lo, carry := bits.Add64(lo, rev-1, 0)
	q, _ := bits.Div64(hi+carry, lo, rev)
	return int64(q)
}

// dealOfTouch is the deal that row i of revenue_attribution belongs to.
func (w *world) dealOfTouch(i int64) int64 {
	return int64(mulDiv(uint64(i), uint64(w.rows[revenue]), uint64(w.rows[revenueAttribution])))
}

// weight is touch p's share of a deal with n touches under model, as a
// fraction num/den, so that attributed amounts are computed exactly.
func weight(model int, p, n int64) (num, den uint64) {
	switch model {
	case amUShaped:
		switch {
		case n <= 2:
			return 1, uint64(n)
		case p == 0 || p == n-1:
			return 2, 5 // 40 % each to the first and last touch
		default:
			return 1, 5 * uint64(n-2) // 20 % shared by the middle ones
		}
	case amTimeDecay:
		// Each touch counts twice the one before it: weight 2^p/(2^n-1).
		// Beyond 62 touches the oldest ones round to nothing.
		shift := max(0, n-62)
		if p < shift {
			return 0, 1
		}
		return 1 << uint(p-shift), 1<<uint(n-shift) - 1
	default:
		return 1, uint64(n)
	}
}
