package sample

import "github.com/exportd/exportd/internal/source"

// paidAdsGen writes one row per campaign per day: row i is day i/C of
// campaign i%C, where C is the number of campaigns.
type paidAdsGen struct{ gen }

func (g *paidAdsGen) row(out source.RowWriter, i int64) {
	w := g.w
	c, d := i%w.campaigns, i/w.campaigns
	k := w.campaign(c)
	r := newRNG(w.key[paidAds], i)

	g.id(out, paidAds, i)                // paid_ad_id
	out.String(platforms[k.platform])    // platform
	g.buf = w.campaignID(g.buf[:0], c)   //
	out.Bytes(g.buf)                     // campaign_id
	g.buf = w.campaignName(g.buf[:0], k) //
	out.Bytes(g.buf)                     // campaign_name
	out.String(campaignTypes[k.kind])    // campaign_type
	statDay := k.startDay + d
	out.Int32(int32(statDay)) // stat_date

	// Impressions, then clicks as a click-through rate in basis points,
	// then conversions as a share of clicks: impressions ≥ clicks ≥
	// conversions ≥ 0. A paused campaign has a day of zeros.
	var impressions, ctr, cpc int64
	switch k.kind {
	case ctSearch:
		impressions, ctr, cpc = r.logUniform(50, 20_000), r.between(100, 900), r.between(150, 1_500)
	case ctSocial:
		impressions, ctr = r.logUniform(500, 60_000), r.between(30, 150)
		cpc = r.between(40, 400)
		if k.platform == plLinkedIn {
			cpc = r.between(500, 1_800)
		}
	default:
		impressions, ctr = r.logUniform(2_000, 400_000), r.between(5, 60)
	}
	if r.percent(3) {
		impressions = 0
	}
	clicks := impressions * ctr / 10_000
	conversions := clicks * r.between(0, 800) / 10_000
	cost := clicks * cpc // cents
	if k.kind == ctDisplay || k.kind == ctVideo {
		cost = impressions * r.between(300, 1_500) / 1_000 // by the thousand impressions
	}
	out.Int64(impressions)
	out.Int64(clicks)
	out.Int32(int32(conversions))
	out.Int64(cost)                    // cost
	out.String(currencies[k.currency]) // currency

	if k.kind == ctSearch {
		out.Int32(int32(r.between(1, 11))) // quality_score
		g.keywords(out, &r)
	} else {
		out.Null() // quality_score
		out.Null() // keywords: not a search campaign
	}

	// The platform's numbers for a day are synced the next morning.
	out.Int64((statDay+1)*day + r.between(3_600_000_000, 8*3_600_000_000)) // updated_at
}

// keywords writes a search campaign's keywords: none for some, else one to
// six distinct ones.
func (g *paidAdsGen) keywords(out source.RowWriter, r *rng) {
	if r.percent(10) {
		out.BeginList(0)
		out.EndList()
		return
	}
	n := int(r.intn(6)) + 1
	out.BeginList(n)
	k := r.intn(uint64(len(keywords)))
	for range n {
		out.String(keywords[k])
		// Steps of one or two over sixteen keywords never come back to
		// one already written within six steps.
		k = (k + 1 + r.intn(2)) % uint64(len(keywords))
	}
	out.EndList()
}
