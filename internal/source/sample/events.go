package sample

import "github.com/exportd/exportd/internal/source"

type eventsGen struct{ gen }

// page events are those that happen on the account's website.
func isPageEvent(et int) bool { return et <= etAdClick }

func (g *eventsGen) row(out source.RowWriter, i int64) {
	w := g.w
	r := newRNG(w.key[events], i)

	g.id(out, events, i) // event_id

	contact := w.eventContact(i)
	company := int64(-1)
	if contact >= 0 {
		company = w.contactCompany(contact)
	} else if n := w.rows[companies]; n > 0 && r.percent(30) {
		// Anonymous visitors whose IP address resolves to a company.
		company = int64(r.intn(uint64(n)))
	}
	g.optionalID(out, contacts, contact)  // contact_id
	g.optionalID(out, companies, company) // company_id

	ch, camp, k := w.eventChannelCampaign(i)
	var et int
	switch ch {
	case chPaidSearch, chPaidSocial, chDisplay:
		et = paidEventWeights.from(&r)
	case chEmail:
		et = emailEventWeights.from(&r)
	case chWebinar:
		et = webinarEventWeights.from(&r)
	default:
		et = webEventWeights.from(&r)
	}
	out.String(eventTypes[et]) // event_type

	t := w.eventTime(i)
	out.Int64(t) // event_time
	date(out, t) // event_date

	switch { // source
	case et == etAdClick:
		out.String(platforms[k.platform])
	case et == etEmailOpen || et == etEmailClick:
		out.String(w.emailSource)
	case et == etWebinarRegister || et == etWebinarAttend:
		out.String(w.webinarSource)
	case et == etMeetingBooked:
		out.String("salesforce")
	default:
		out.String("website")
	}
	out.String(channels[ch]) // channel

	// The page, for events that have one.
	var pg page
	subject := -1
	switch et {
	case etFormSubmit:
		pg = contactPage
		if r.percent(50) {
			pg = demoPage
		}
	case etContentDownload:
		pg = oneOf(&r, resourcePage)
	case etDemoRequest:
		pg = demoPage
	case etSignup:
		pg = signupPage
	case etEmailOpen, etEmailClick:
		subject = int(r.intn(uint64(len(emailSubjects))))
		pg = oneOf(&r, pages)
	default:
		pg = oneOf(&r, pages)
	}
	hasURL := isPageEvent(et) || et == etEmailClick || et == etWebinarRegister

	// url
	if !hasURL {
		out.Null()
	} else {
		b := append(g.buf[:0], w.site...)
		switch {
		case et == etWebinarRegister:
			b = appendSlug(append(b, "/webinars/"...), webinarTitles[r.intn(uint64(len(webinarTitles)))])
		default:
			b = append(b, pg.path...)
		}
		switch {
		case camp >= 0:
			b = append(b, "?utm_source="...)
			b = append(b, platformUTMSource[k.platform]...)
			b = append(b, "&utm_medium="...)
			b = append(b, utmMedium(k)...)
			b = append(b, "&utm_campaign="...)
			b = w.campaignName(b, k)
		case subject >= 0:
			b = append(b, "?utm_source="...)
			b = append(b, w.emailSource...)
			b = append(b, "&utm_medium=email&utm_campaign="...)
			b = appendSlug(b, emailSubjects[subject])
		}
		g.buf = b
		out.Bytes(b)
	}

	// referrer
	internal := et == etPageView && r.percent(35)
	switch {
	case !isPageEvent(et):
		out.Null()
	case camp >= 0:
		if k.channel == chDisplay {
			out.String("https://googleads.g.doubleclick.net/")
		} else {
			out.String(platformReferrer[k.platform])
		}
	case internal:
		b := append(g.buf[:0], w.site...)
		g.buf = append(b, oneOf(&r, pages).path...)
		out.Bytes(g.buf)
	case ch == chOrganicSearch:
		out.String(searchReferrers[searchReferrerWeights.from(&r)])
	case ch == chReferral:
		out.String(oneOf(&r, referralReferrers))
	case ch == chOrganicSocial:
		out.String(socialReferrers[socialReferrerWeights.from(&r)])
	default:
		out.Null() // direct
	}

	// session_id: one session per contact per day; anonymous visitors
	// are told apart by their event only.
	b := append(g.buf[:0], "ses_"...)
	if contact >= 0 {
		b = appendHex(b, mix(uint64(contact)<<20^uint64(floorDiv(t, day))^w.idKey[events]))
	} else {
		// Complementing the key keeps these apart from contacts' sessions,
		// whose top bits are clear.
		b = appendHex(b, mix(uint64(i)^^w.idKey[events]))
	}
	g.buf = b
	out.Bytes(b)

	// duration_ms
	switch et {
	case etPageView:
		out.Int64(r.logUniform(400, 900_000))
	case etWebinarAttend:
		out.Int64(r.between(5*60_000, 75*60_000))
	default:
		out.Null()
	}

	g.json = g.properties(g.json[:0], &r, i, et, pg, subject, contact, camp, k)
	out.Bytes(g.json) // properties
}

func utmMedium(k campaign) string {
	switch k.kind {
	case ctSearch:
		return "cpc"
	case ctSocial:
		return "paid_social"
	case ctVideo:
		return "video"
	}
	return "display"
}

// properties is the event's JSON object: what the tracking plan records
// for its type, plus attribution parameters when a campaign brought it.
func (g *eventsGen) properties(b []byte, r *rng, i int64, et int, pg page, subject int, contact, camp int64, k campaign) []byte {
	w := g.w
	b = append(b, '{')
	switch {
	case isPageEvent(et):
		b = jsonString(b, "page_title", pg.title)
		b = jsonString(b, "path", pg.path)
		system := osWeights.from(r)
		device, widths := 0, desktopWidths
		if system == osIOS || system == osAndroid {
			device, widths = mobileDeviceWeights.from(r), mobileWidths
			if devices[device] == "tablet" {
				widths = tabletWidths
			}
		}
		b = jsonString(b, "browser", browsers[browserWeightsByOS[system].from(r)])
		b = jsonString(b, "os", operatingSystems[system])
		b = jsonString(b, "device", devices[device])
		b = jsonInt(b, "screen_width", oneOf(r, widths))
		b = jsonBool(b, "is_returning", contact >= 0 && r.percent(70))
		if et == etFormSubmit || et == etDemoRequest || et == etSignup || et == etContentDownload {
			b = jsonString(b, "form_id", formIDs[int(r.intn(uint64(len(formIDs))))])
			b = jsonInt(b, "fields_count", r.between(2, 9))
		}
	case subject >= 0:
		b = jsonBytes(b, "email_id", appendInt(append(g.buf[:0], "eml_"...), int64(1001+subject)))
		b = jsonString(b, "subject", emailSubjects[subject])
		if et == etEmailClick {
			b = jsonInt(b, "link_position", r.between(1, 6))
		}
	case et == etWebinarRegister || et == etWebinarAttend:
		b = jsonString(b, "webinar_title", oneOf(r, webinarTitles))
		b = jsonBool(b, "live", r.percent(80))
	case et == etMeetingBooked:
		b = jsonString(b, "meeting_type", oneOf(r, meetingTypes))
		b = jsonInt(b, "duration_minutes", 15*r.between(1, 5))
	}
	if camp >= 0 {
		b = jsonString(b, "utm_source", platformUTMSource[k.platform])
		b = jsonString(b, "utm_medium", utmMedium(k))
		b = jsonBytes(b, "utm_campaign", w.campaignName(g.buf[:0], k))
		b = jsonBytes(b, "campaign_id", w.campaignID(g.buf[:0], camp))
	}
	if contact < 0 {
		b = jsonBytes(b, "anonymous_id", appendHex(append(g.buf[:0], "anon_"...), mix(uint64(i)^w.idKey[events]^0xa707)))
	}
	return append(b, '}')
}
