package sample

// Word lists the generator draws from. Lists whose length is used as a
// radix (company words) have a power-of-two length; the others may have
// any length. Every word is valid UTF-8 and none needs escaping inside a
// JSON string, which lets the generator write JSON by appending.

// Company names are two words and a suffix; the two words are unique per
// company (see companyName), so their lists are 64 long each.
var companyFirst = [64]string{
	"Blue", "Iron", "Silver", "North", "Bright", "Cloud", "Data", "Quantum",
	"Rapid", "Green", "Red", "Swift", "Clear", "Deep", "Open", "Smart",
	"True", "Prime", "Nova", "Pixel", "Signal", "Summit", "Peak", "Harbor",
	"Atlas", "Orbit", "Vertex", "Lumen", "Stellar", "Core", "Fusion", "Echo",
	"Granite", "Cobalt", "Amber", "Crimson", "Polar", "Solar", "Lunar", "Terra",
	"Aero", "Hyper", "Meta", "Omni", "Zen", "Arc", "Bold", "Civic",
	"Delta", "Ember", "Falcon", "Golden", "Hollow", "Indigo", "Jade", "Kinetic",
	"Lattice", "Maple", "Noble", "Onyx", "Pine", "Quartz", "Raven", "Sierra",
}

var companySecond = [64]string{
	"Wave", "Stack", "Forge", "Bridge", "Works", "Point", "Path", "Logic",
	"Mind", "Scale", "Flow", "Grid", "Base", "Line", "Shift", "Spark",
	"Field", "Gate", "Hub", "Loop", "Mesh", "Node", "Pulse", "Rise",
	"Scope", "Sense", "Sight", "Sphere", "Stream", "Tide", "Vault", "Ware",
	"Beam", "Cast", "Craft", "Dash", "Edge", "Frame", "Gear", "Harvest",
	"Insight", "Jet", "Key", "Leaf", "Matrix", "Nest", "Ops", "Pilot",
	"Quest", "Root", "Signal", "Track", "Unity", "View", "Wing", "Yard",
	"Bay", "Crest", "Dome", "Fox", "Glen", "Hive", "Isle", "Lake",
}

var companySuffix = []string{
	"", "", "", "", "Inc.", "Labs", "Systems", "Technologies", "Analytics",
	"Group", "Software", "Health", "Capital", "GmbH", "Ltd", "Solutions",
	"Logistics", "Media", "Networks", "AI",
}

var tlds = []string{"com", "io", "ai", "co", "net", "tech"}
var tldWeights = weighted(75, 11, 5, 4, 3, 2)

var industries = []string{
	"Software", "Financial Services", "Healthcare", "Manufacturing", "Retail",
	"Education", "Media & Entertainment", "Telecommunications", "Logistics",
	"Energy", "Real Estate", "Professional Services", "Government",
	"Nonprofit", "Hospitality", "Biotechnology",
}
var industryWeights = weighted(30, 12, 9, 9, 7, 5, 4, 3, 4, 2, 3, 6, 1, 1, 2, 3)

// Countries are ISO 3166-1 alpha-2 codes; currencyOfCountry is parallel.
var countries = []string{
	"US", "GB", "DE", "FR", "CA", "NL", "AU", "IN", "SE", "ES", "IT", "JP", "BR", "SG", "IE",
}
var countryWeights = weighted(45, 10, 8, 5, 5, 3, 4, 4, 2, 2, 2, 3, 3, 2, 2)
var countryTLD = []string{
	"", "co.uk", "de", "fr", "ca", "nl", "com.au", "in", "se", "es", "it", "jp", "com.br", "sg", "ie",
}
var currencyOfCountry = []int{
	curUSD, curGBP, curEUR, curEUR, curCAD, curEUR, curAUD, curINR, curSEK, curEUR, curEUR, curJPY, curBRL, curSGD, curEUR,
}

// Currencies and their rate to USD in millionths (DECIMAL(12,6)).
const (
	curUSD = iota
	curEUR
	curGBP
	curCAD
	curAUD
	curINR
	curSEK
	curJPY
	curBRL
	curSGD
)

var currencies = []string{"USD", "EUR", "GBP", "CAD", "AUD", "INR", "SEK", "JPY", "BRL", "SGD"}
var usdRateMicros = []int64{1_000000, 1_083412, 1_271530, 736_218, 659_104, 11_972, 95_318, 6_712, 182_640, 741_905}

// dealScale multiplies a USD-sized amount so deals in weak currencies
// have realistic magnitudes (an INR deal is ~83 times its USD value).
var dealScale = []int64{1, 1, 1, 1, 2, 80, 10, 150, 5, 1}

var companyTags = []string{
	"enterprise", "mid-market", "smb", "abm-tier-1", "abm-tier-2", "partner",
	"competitor-customer", "churn-risk", "expansion", "open-opportunity",
	"trial", "g2-intent", "event-attendee", "high-fit", "low-fit", "reseller",
}

// Names carry the ASCII slug used to build email addresses; some are
// deliberately non-ASCII.
type name struct{ display, slug string }

var firstNames = []name{
	{"James", "james"}, {"Mary", "mary"}, {"Robert", "robert"}, {"Patricia", "patricia"},
	{"John", "john"}, {"Jennifer", "jennifer"}, {"Michael", "michael"}, {"Linda", "linda"},
	{"David", "david"}, {"Elizabeth", "elizabeth"}, {"William", "william"}, {"Barbara", "barbara"},
	{"Richard", "richard"}, {"Susan", "susan"}, {"Joseph", "joseph"}, {"Jessica", "jessica"},
	{"Thomas", "thomas"}, {"Sarah", "sarah"}, {"Daniel", "daniel"}, {"Karen", "karen"},
	{"Matthew", "matthew"}, {"Emily", "emily"}, {"Anthony", "anthony"}, {"Michelle", "michelle"},
	{"Mark", "mark"}, {"Laura", "laura"}, {"Steven", "steven"}, {"Rachel", "rachel"},
	{"Andrew", "andrew"}, {"Olivia", "olivia"}, {"Kevin", "kevin"}, {"Emma", "emma"},
	{"Brian", "brian"}, {"Sophie", "sophie"}, {"Lukas", "lukas"}, {"Hannah", "hannah"},
	{"Pierre", "pierre"}, {"Camille", "camille"}, {"José", "jose"}, {"Lucía", "lucia"},
	{"Søren", "soren"}, {"Zoë", "zoe"}, {"Chloé", "chloe"}, {"Łukasz", "lukasz"},
	{"François", "francois"}, {"Björn", "bjorn"}, {"Priya", "priya"}, {"Arjun", "arjun"},
	{"Wei", "wei"}, {"Mei", "mei"}, {"Hiroshi", "hiroshi"}, {"Yuki", "yuki"},
	{"Ana", "ana"}, {"João", "joao"}, {"Fatima", "fatima"}, {"Omar", "omar"},
	{"Aisha", "aisha"}, {"Mateo", "mateo"}, {"Ingrid", "ingrid"}, {"Sven", "sven"},
	{"Noah", "noah"}, {"Liam", "liam"}, {"Ava", "ava"}, {"Mia", "mia"},
}

var lastNames = []name{
	{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"},
	{"Jones", "jones"}, {"Miller", "miller"}, {"Davis", "davis"}, {"Wilson", "wilson"},
	{"Anderson", "anderson"}, {"Taylor", "taylor"}, {"Thomas", "thomas"}, {"Moore", "moore"},
	{"Martin", "martin"}, {"Jackson", "jackson"}, {"Thompson", "thompson"}, {"White", "white"},
	{"Harris", "harris"}, {"Clark", "clark"}, {"Lewis", "lewis"}, {"Walker", "walker"},
	{"Young", "young"}, {"Allen", "allen"}, {"King", "king"}, {"Wright", "wright"},
	{"Scott", "scott"}, {"Green", "green"}, {"Baker", "baker"}, {"Adams", "adams"},
	{"Nelson", "nelson"}, {"Hill", "hill"}, {"Campbell", "campbell"}, {"Mitchell", "mitchell"},
	{"Müller", "muller"}, {"Schmidt", "schmidt"}, {"Schneider", "schneider"}, {"Fischer", "fischer"},
	{"Dubois", "dubois"}, {"Lefèvre", "lefevre"}, {"García", "garcia"}, {"Fernández", "fernandez"},
	{"Rossi", "rossi"}, {"Bianchi", "bianchi"}, {"Jansen", "jansen"}, {"de Vries", "devries"},
	{"Nowak", "nowak"}, {"Kowalski", "kowalski"}, {"Andersson", "andersson"}, {"Nilsson", "nilsson"},
	{"O'Brien", "obrien"}, {"Murphy", "murphy"}, {"Patel", "patel"}, {"Sharma", "sharma"},
	{"Nguyễn", "nguyen"}, {"Chen", "chen"}, {"Wang", "wang"}, {"Kim", "kim"},
	{"佐藤", "sato"}, {"Tanaka", "tanaka"}, {"Silva", "silva"}, {"Santos", "santos"},
	{"Haddad", "haddad"}, {"Cohen", "cohen"}, {"Novák", "novak"}, {"Østergaard", "ostergaard"},
}

var jobTitles = []string{
	"CEO", "CTO", "CFO", "CMO", "VP Marketing", "VP Sales", "VP Engineering",
	"Head of Growth", "Head of Demand Generation", "Director of Marketing Operations",
	"Marketing Manager", "Product Marketing Manager", "Content Marketing Manager",
	"Growth Marketer", "Demand Generation Manager", "Marketing Operations Specialist",
	"Sales Development Representative", "Account Executive", "Sales Manager",
	"Revenue Operations Manager", "Data Analyst", "Analytics Engineer",
	"Data Engineer", "Software Engineer", "Product Manager", "Customer Success Manager",
	"Founder", "Consultant", "Business Analyst", "IT Manager", "Procurement Manager",
	"Chief Revenue Officer",
}

var freeMailDomains = []string{"gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "proton.me"}

var lifecycleStages = []string{"subscriber", "lead", "marketing_qualified_lead", "sales_qualified_lead", "opportunity", "customer", "evangelist"}
var lifecycleWeights = weighted(25, 30, 15, 10, 8, 10, 2)

// Channels, in the order of the ch* constants.
const (
	chDirect = iota
	chOrganicSearch
	chPaidSearch
	chPaidSocial
	chDisplay
	chEmail
	chReferral
	chOrganicSocial
	chWebinar
	chOffline
)

var channels = []string{
	"direct", "organic_search", "paid_search", "paid_social", "display",
	"email", "referral", "organic_social", "webinar", "offline",
}

// unpaidChannels are drawn for events not tied to an ad campaign.
var unpaidChannels = []int{chDirect, chOrganicSearch, chEmail, chReferral, chOrganicSocial, chWebinar}
var unpaidWeights = weighted(22, 30, 22, 10, 8, 8)

// Event types, in the order of the et* constants.
const (
	etPageView = iota
	etFormSubmit
	etContentDownload
	etDemoRequest
	etSignup
	etAdClick
	etEmailOpen
	etEmailClick
	etWebinarRegister
	etWebinarAttend
	etMeetingBooked
)

var eventTypes = []string{
	"page_view", "form_submit", "content_download", "demo_request", "signup",
	"ad_click", "email_open", "email_click", "webinar_register", "webinar_attend",
	"meeting_booked",
}

// Event type weights by kind of channel, indexed by event type.
var (
	webEventWeights     = weighted(80, 5, 5, 3, 3, 0, 0, 0, 0, 0, 4)
	paidEventWeights    = weighted(55, 5, 3, 3, 2, 32, 0, 0, 0, 0, 0)
	emailEventWeights   = weighted(5, 0, 0, 0, 0, 0, 60, 35, 0, 0, 0)
	webinarEventWeights = weighted(0, 0, 10, 0, 0, 0, 0, 0, 45, 45, 0)
)

// Pages of the account's website: path and title.
type page struct{ path, title string }

var pages = []page{
	{"/", "Home"},
	{"/pricing", "Pricing"},
	{"/product", "Product overview"},
	{"/product/attribution", "Multi-touch attribution"},
	{"/product/journeys", "Customer journeys"},
	{"/product/dashboards", "Dashboards"},
	{"/integrations", "Integrations"},
	{"/integrations/salesforce", "Salesforce integration"},
	{"/integrations/hubspot", "HubSpot integration"},
	{"/customers", "Customer stories"},
	{"/customers/northwind", "How Northwind doubled pipeline"},
	{"/blog", "Blog"},
	{"/blog/b2b-attribution-models", "B2B attribution models explained"},
	{"/blog/dark-funnel", "Measuring the dark funnel"},
	{"/blog/utm-hygiene", "UTM hygiene for marketing teams"},
	{"/blog/pipeline-velocity", "Pipeline velocity in 5 charts"},
	{"/docs/getting-started", "Getting started"},
	{"/docs/data-model", "Data model"},
	{"/about", "About us"},
	{"/careers", "Careers"},
	{"/security", "Security & compliance"},
	{"/compare/spreadsheets", "Attribution vs spreadsheets"},
}

var (
	demoPage     = page{"/demo", "Book a demo"}
	signupPage   = page{"/signup", "Start your free trial"}
	contactPage  = page{"/contact", "Contact sales"}
	resourcePage = []page{
		{"/resources/b2b-attribution-playbook", "The B2B attribution playbook"},
		{"/resources/benchmark-report-2025", "2025 demand gen benchmark report"},
		{"/resources/roi-calculator", "Marketing ROI calculator"},
	}
)

var formIDs = []string{"contact-sales", "newsletter", "demo-request", "ebook-download", "trial-signup"}

// Visitors' clients: the operating system decides which browsers and
// devices are possible.
var operatingSystems = []string{"Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS"}
var osWeights = weighted(38, 30, 14, 12, 4, 2)
var browsers = []string{"Chrome", "Safari", "Edge", "Firefox", "Samsung Internet"}
var browserWeightsByOS = []*choice{
	weighted(65, 0, 28, 7, 0), // Windows
	weighted(55, 35, 5, 5, 0), // macOS
	weighted(15, 85, 0, 0, 0), // iOS
	weighted(80, 0, 0, 0, 20), // Android
	weighted(60, 0, 0, 40, 0), // Linux
	weighted(100, 0, 0, 0, 0), // ChromeOS
}
var devices = []string{"desktop", "mobile", "tablet"}
var mobileDeviceWeights = weighted(0, 85, 15)

const osIOS, osAndroid = 2, 3

var desktopWidths = []int64{1920, 1440, 1536, 1366, 2560, 1280, 1680}
var mobileWidths = []int64{390, 393, 414, 430, 360, 412}
var tabletWidths = []int64{820, 768, 1024, 810}

var searchReferrers = []string{
	"https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/",
	"https://search.yahoo.com/", "https://www.ecosia.org/",
}
var searchReferrerWeights = weighted(82, 9, 5, 2, 2)
var referralReferrers = []string{
	"https://news.ycombinator.com/", "https://www.g2.com/products/", "https://www.capterra.com/",
	"https://www.producthunt.com/", "https://medium.com/", "https://www.reddit.com/r/marketing/",
	"https://partners.example.org/blog/",
}
var socialReferrers = []string{
	"https://www.linkedin.com/", "https://t.co/", "https://www.facebook.com/",
	"https://www.youtube.com/", "https://www.instagram.com/",
}
var socialReferrerWeights = weighted(55, 18, 12, 10, 5)

var emailSubjects = []string{
	"Your weekly pipeline digest", "New: journey analytics is here",
	"Join our live attribution masterclass", "3 ways to prove marketing ROI",
	"Your trial ends in 3 days", "Invitation: customer roundtable",
	"The 2025 benchmark report is out", "Quick question about your Q3 plans",
}
var webinarTitles = []string{
	"Attribution without the guesswork", "Building a revenue data model",
	"From MQL to pipeline: a live teardown", "Paid social for B2B in 2025",
}
var meetingTypes = []string{"discovery", "demo", "technical_review", "pricing", "onboarding"}

// Email and webinar tools an account may use; each account uses one.
var emailSources = []string{"hubspot", "marketo", "pardot", "customer_io"}
var webinarSources = []string{"zoom", "on24", "goldcast"}

// Ad platforms, in the order of the pl* constants.
const (
	plGoogle = iota
	plLinkedIn
	plMeta
	plMicrosoft
	plX
)

var platforms = []string{"google_ads", "linkedin_ads", "meta_ads", "microsoft_ads", "x_ads"}
var platformWeights = weighted(40, 30, 15, 10, 5)

// utm_source and referrer of each platform's clicks.
var platformUTMSource = []string{"google", "linkedin", "facebook", "bing", "twitter"}
var platformReferrer = []string{
	"https://www.google.com/", "https://www.linkedin.com/", "https://www.facebook.com/",
	"https://www.bing.com/", "https://t.co/",
}

// Campaign types, in the order of the ct* constants.
const (
	ctSearch = iota
	ctDisplay
	ctSocial
	ctVideo
)

var campaignTypes = []string{"search", "display", "social", "video"}

var campaignThemes = []string{
	"brand", "competitor", "attribution", "analytics", "retargeting",
	"webinar_promo", "ebook", "free_trial", "abm_enterprise", "product_launch",
}
var regions = []string{"na", "emea", "apac", "latam", "global", "dach", "uk"}

var keywords = []string{
	"marketing attribution", "b2b attribution software", "multi touch attribution",
	"marketing analytics", "revenue attribution", "pipeline reporting",
	"hubspot attribution", "salesforce attribution", "utm tracking",
	"marketing roi", "customer journey analytics", "dark funnel",
	"ad spend tracking", "b2b marketing dashboard", "campaign reporting tool",
	"linkedin ads roi",
}

var revenueTypes = []string{"new_business", "expansion", "renewal", "one_time"}
var revenueTypeWeights = weighted(45, 25, 20, 10)

// Attribution models, in the order of the am* constants.
const (
	amLinear = iota
	amTimeDecay
	amUShaped
)

var attributionModels = []string{"linear", "time_decay", "u_shaped"}
var attributionModelWeights = weighted(40, 25, 35)
