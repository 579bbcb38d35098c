package sample

import (
	"strings"
	"time"
)

// Time span of the data. It is fixed, not relative to the clock or the
// event, so that rows depend only on the configuration and the account.
const day = int64(24 * time.Hour / time.Microsecond)

var (
	dataEnd    = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	eventStart = dataEnd - 365*day
)

// adDays is how long an ad campaign runs: paid_ads has one row per
// campaign per day.
const adDays = 30

// Fields: independent streams for the attributes that other tables read.
// Their values are part of the data: changing one changes the rows.
const (
	fCountry   uint64 = 1
	fCreated   uint64 = 2
	fCompany   uint64 = 3
	fAnonymous uint64 = 4
	fChannel   uint64 = 5
	fDeal      uint64 = 7
	fTouches   uint64 = 8
)

// world holds what every row of one snapshot derives from: the row counts
// of all six tables (whether they are exported or not, since rows refer
// to each other) and the per-table keys.
type world struct {
	account string
	rows    [numTables]int64
	key     [numTables]uint64
	idKey   [numTables]uint64

	site          string // the account's website, "https://www.<account>.com"
	emailSource   string
	webinarSource string

	// slots maps an event's slot (its row number modulo the number of
	// contacts) to its contact. Being invertible, it also lists a contact's
	// events: every event whose row number is ≡ slots.inverse(contact).
	slots permutation

	campaigns   int64
	campaignKey uint64
}

func newWorld(seed uint64, account string, rows [numTables]int64) *world {
	w := &world{account: account, rows: rows}
	for t := range w.key {
		w.key[t] = tableKey(seed, account, tableNames[t])
		w.idKey[t] = mix(w.key[t] ^ 0x1d1d1d1d)
	}
	w.site = "https://www." + siteName(account) + ".com"
	acct := newRNG(w.key[events], -1)
	w.emailSource = oneOf(&acct, emailSources)
	w.webinarSource = oneOf(&acct, webinarSources)
	w.slots = newPermutation(uint64(rows[contacts]), w.key[events])
	if n := rows[paidAds]; n > 0 {
		w.campaigns = (n + adDays - 1) / adDays
	}
	w.campaignKey = mix(w.key[paidAds] ^ 0xca)
	return w
}

// siteName turns an account id into a plausible host name label.
func siteName(account string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(account) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "example"
	}
	return s
}

// appendID appends a table's identifier for row i: a prefix and 16 hex
// digits of a bijection of i, so ids are unique and look random.
func (w *world) appendID(dst []byte, t int, prefix string, i int64) []byte {
	return appendHex(append(dst, prefix...), mix(uint64(i)^w.idKey[t]))
}

var idPrefix = [numTables]string{
	companies:          "cmp_",
	contacts:           "con_",
	events:             "evt_",
	revenue:            "rev_",
	revenueAttribution: "att_",
	paidAds:            "ads_",
}

func (w *world) id(dst []byte, t int, i int64) []byte {
	return w.appendID(dst, t, idPrefix[t], i)
}

// Companies.

// companyNameParts returns the indexes of a company's two name words and
// its generation: the words are a bijection of the row number modulo 4096,
// so two companies share them only if their generations differ.
func (w *world) companyNameParts(c int64) (first, second int, gen int64) {
	x := (uint64(c) ^ w.key[companies]) & 0xfff
	// Each step is a bijection on 12 bits: multiply by odd, xor-shift.
	x = (x * 0x9e5) & 0xfff
	x ^= x >> 7
	x = (x * 0x6b3) & 0xfff
	x ^= x >> 5
	return int(x & 63), int(x >> 6), c >> 12
}

func (w *world) companyDomain(dst []byte, c int64) []byte {
	first, second, gen := w.companyNameParts(c)
	dst = appendLower(dst, companyFirst[first])
	dst = appendLower(dst, companySecond[second])
	if gen > 0 {
		dst = appendInt(dst, gen+1)
	}
	r := field(w.key[companies], c, fCountry)
	country := countryWeights.from(&r)
	tld := tlds[tldWeights.from(&r)]
	if cc := countryTLD[country]; cc != "" && r.percent(60) {
		tld = cc
	}
	return append(append(dst, '.'), tld...)
}

func (w *world) companyCountry(c int64) int {
	r := field(w.key[companies], c, fCountry)
	return countryWeights.from(&r)
}

func (w *world) companyCreated(c int64) int64 {
	r := field(w.key[companies], c, fCreated)
	return r.between(dataEnd-6*365*day, dataEnd-60*day)
}

// Contacts.

// contactCompany is the company a contact works for, or -1 for the few
// who signed up with a personal address. Contacts are skewed towards the
// low-numbered companies, as a few accounts hold most of a CRM.
func (w *world) contactCompany(j int64) int64 {
	n := uint64(w.rows[companies])
	if n == 0 {
		return -1
	}
	r := field(w.key[contacts], j, fCompany)
	if r.percent(8) {
		return -1
	}
	return int64(min(r.intn(n), r.intn(n)))
}

func (w *world) contactCreated(j int64) int64 {
	r := field(w.key[contacts], j, fCreated)
	lo := dataEnd - 4*365*day
	if c := w.contactCompany(j); c >= 0 {
		lo = max(lo, w.companyCreated(c)+day)
	}
	return r.between(lo, dataEnd-day)
}

// Events.

// eventContact is the contact who made event i, or -1 for an anonymous
// visitor.
func (w *world) eventContact(i int64) int64 {
	n := uint64(w.rows[contacts])
	if n == 0 || w.anonymous(i) {
		return -1
	}
	return int64(w.slots.at(uint64(i) % n))
}

func (w *world) anonymous(i int64) bool {
	r := field(w.key[events], i, fAnonymous)
	return r.percent(20)
}

// eventTime grows with i, with jitter, as in an append-only event log.
func (w *world) eventTime(i int64) int64 {
	n := uint64(w.rows[events])
	span := uint64(dataEnd - eventStart)
	step := max(span/n, 1)
	r := field(w.key[events], i, fCreated)
	return eventStart + int64(mulDiv(uint64(i), span, n)+r.intn(step))
}

// eventChannel is the channel that brought event i and, for paid
// channels, the ad campaign (else -1).
func (w *world) eventChannel(i int64) (ch int, campaign int64) {
	ch, campaign, _ = w.eventChannelCampaign(i)
	return ch, campaign
}

// eventChannelCampaign is eventChannel with the campaign's attributes.
func (w *world) eventChannelCampaign(i int64) (ch int, c int64, k campaign) {
	r := field(w.key[events], i, fChannel)
	if w.campaigns > 0 && r.percent(22) {
		c = int64(r.intn(uint64(w.campaigns)))
		k = w.campaign(c)
		return k.channel, c, k
	}
	return unpaidChannels[unpaidWeights.from(&r)], -1, k
}

// Campaigns (paid_ads).

type campaign struct {
	platform, kind, channel int
	theme, region, currency int
	startDay                int64 // days since 1970-01-01
}

func (w *world) campaign(c int64) campaign {
	r := newRNG(w.campaignKey, c)
	k := campaign{platform: platformWeights.from(&r)}
	switch k.platform {
	case plGoogle:
		k.kind = weighted3(&r, ctSearch, 70, ctDisplay, 20, ctVideo)
	case plMicrosoft:
		k.kind = ctSearch
	case plMeta:
		k.kind = weighted3(&r, ctSocial, 80, ctVideo, 20, ctVideo)
	default:
		k.kind = ctSocial
	}
	switch k.kind {
	case ctSearch:
		k.channel = chPaidSearch
	case ctSocial:
		k.channel = chPaidSocial
	default:
		k.channel = chDisplay
	}
	k.theme = int(r.intn(uint64(len(campaignThemes))))
	k.region = int(r.intn(uint64(len(regions))))
	switch {
	case r.percent(75):
		k.currency = curUSD
	case r.percent(60):
		k.currency = curEUR
	default:
		k.currency = curGBP
	}
	first := (dataEnd - 365*day) / day
	k.startDay = first + r.between(0, 365-adDays)
	return k
}

// weighted3 picks a with probability pa%, b with probability pb%, else c.
func weighted3(r *rng, a int, pa uint64, b int, pb uint64, c int) int {
	x := r.intn(100)
	switch {
	case x < pa:
		return a
	case x < pa+pb:
		return b
	}
	return c
}

func (w *world) campaignID(dst []byte, c int64) []byte {
	return appendHex(append(dst, "cpg_"...), mix(uint64(c)^w.campaignKey))
}

// campaignName is what marketers type into the ad platform and into
// utm_campaign: theme, type, region and launch quarter.
func (w *world) campaignName(dst []byte, k campaign) []byte {
	dst = append(dst, campaignThemes[k.theme]...)
	dst = append(append(dst, '_'), campaignTypes[k.kind]...)
	dst = append(append(dst, '_'), regions[k.region]...)
	y, m, _ := time.UnixMicro(k.startDay * day).UTC().Date()
	dst = appendInt(append(dst, '_'), int64(y))
	return appendInt(append(dst, 'q'), int64((m-1)/3+1))
}
