package sample

import "github.com/exportd/exportd/internal/source"

type companiesGen struct{ gen }

func (g *companiesGen) row(out source.RowWriter, c int64) {
	w := g.w
	r := newRNG(w.key[companies], c)

	g.id(out, companies, c) // company_id

	first, second, gen := w.companyNameParts(c)
	b := append(g.buf[:0], companyFirst[first]...)
	b = append(append(b, ' '), companySecond[second]...)
	if gen > 0 {
		b = appendInt(append(b, ' '), gen+1)
	}
	if s := oneOf(&r, companySuffix); s != "" {
		b = append(append(b, ' '), s...)
	}
	out.Bytes(b) // name

	g.buf = w.companyDomain(b[:0], c)
	out.Bytes(g.buf) // domain

	if r.percent(4) {
		out.Null() // industry
	} else {
		out.String(industries[industryWeights.from(&r)])
	}

	out.String(countries[w.companyCountry(c)]) // country

	employees := r.logUniform(2, 60_000)
	if r.percent(10) {
		out.Null() // employee_count
	} else {
		out.Int32(int32(employees))
	}

	if r.percent(25) {
		out.Null() // annual_revenue
	} else {
		perHead := r.between(60_000, 400_000)
		dollars := employees * perHead
		dollars -= dollars % 1000
		out.Int64(dollars * 100)
	}

	out.Bool(r.percent(15)) // is_target_account

	created := w.companyCreated(c)
	if r.percent(15) {
		out.Null() // founded_date
	} else {
		lo := int64(-7305) // 1950-01-01
		date(out, r.between(lo, floorDiv(created, day)-365)*day)
	}

	g.tags(out, &r)

	out.Int64(created)                                 // created_at
	out.Int64(created + r.between(0, dataEnd-created)) // updated_at
}

// tags writes a list that is null for some companies, empty for others,
// and otherwise holds one to four distinct tags.
func (g *companiesGen) tags(out source.RowWriter, r *rng) {
	switch x := r.intn(100); {
	case x < 10:
		out.Null()
		return
	case x < 35:
		out.BeginList(0)
		out.EndList()
		return
	}
	n := int(r.intn(4)) + 1
	out.BeginList(n)
	k := r.intn(uint64(len(companyTags)))
	for range n {
		out.String(companyTags[k])
		// Steps of one to three over sixteen tags never come back to a
		// tag already written within four steps.
		k = (k + 1 + r.intn(3)) % uint64(len(companyTags))
	}
	out.EndList()
}
