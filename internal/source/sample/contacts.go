package sample

import "github.com/exportd/exportd/internal/source"

type contactsGen struct{ gen }

func (g *contactsGen) row(out source.RowWriter, j int64) {
	w := g.w
	r := newRNG(w.key[contacts], j)

	g.id(out, contacts, j) // contact_id
	company := w.contactCompany(j)
	g.optionalID(out, companies, company) // company_id

	first, last := oneOf(&r, firstNames), oneOf(&r, lastNames)
	b := g.buf[:0]
	switch r.intn(10) {
	case 0: // jsmith
		b = append(append(b, first.slug[0]), last.slug...)
	case 1: // john
		b = append(b, first.slug...)
	default: // john.smith
		b = append(append(append(b, first.slug...), '.'), last.slug...)
	}
	if company < 0 {
		b = appendInt(b, r.between(1, 100))
		b = append(append(b, '@'), oneOf(&r, freeMailDomains)...)
	} else {
		b = w.companyDomain(append(b, '@'), company)
	}
	g.buf = b
	out.Bytes(b)              // email
	out.String(first.display) // first_name
	out.String(last.display)  // last_name

	if r.percent(20) {
		out.Null() // job_title
	} else {
		out.String(oneOf(&r, jobTitles))
	}

	if company >= 0 && r.percent(85) {
		out.String(countries[w.companyCountry(company)]) // country
	} else {
		out.String(countries[countryWeights.from(&r)])
	}

	stage := lifecycleWeights.from(&r)
	out.String(lifecycleStages[stage]) // lifecycle_stage
	// Later stages score higher: 12 points a stage, plus noise.
	out.Int32(int32(min(100, int64(stage)*12+r.between(0, 30)))) // lead_score
	out.Bool(r.percent(70))                                      // is_subscribed

	created := w.contactCreated(j)
	out.Int64(created) // created_at
	if r.percent(15) {
		out.Null() // last_activity_at
	} else {
		out.Int64(r.between(created, dataEnd))
	}
}
