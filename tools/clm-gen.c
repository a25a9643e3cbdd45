/*
 * clm-gen: a seeded generator of realistic customer journeys, for demos,
 * benchmarks and tests of clmd. It writes NDJSON, one clm.v1.Touchpoint per
 * line in proto3 JSON (what `clm track` and `clm import` read), and on
 * request the daily ad spend (clm.v1.Spend lines) and the product catalog
 * (clm.v1.Item lines, then the stores the STORE_VISITs name).
 *
 *   clm-gen [--seed N] [--customers N] [--days D] [--end DATE]
 *           [--out FILE] [--spend FILE] [--items N] [--catalog FILE]
 *           [--quiet]
 *
 * Why it is built this way:
 *
 * - The output is a pure function of the arguments. Every random choice
 *   comes from splitmix64 streams keyed by (seed, purpose, index): customer
 *   i, catalog item k and spend day d each have their own stream, so one
 *   customer's journey does not depend on how many came before, and the
 *   catalog and spend agree with the touchpoints that use them. The only
 *   floating-point operations are +, -, *, / and the exact frexp, ldexp and
 *   floor (logarithm and exponential are our own series), and every number
 *   printed is an integer count of cents, hundredths or 1e-5 degrees, so the
 *   bytes are the same on every IEEE-754 machine. The clock is read only for
 *   the --end default and to refuse an --end clmd would reject.
 *
 * - Memory is constant: a customer's touchpoints are built in one fixed
 *   array (GEN_MAX_EVENTS), sorted by time, written, and forgotten.
 *
 * - Every event time lies in [end - days, end). A journey is simulated
 *   forward from the customer's first-seen time and whatever would happen
 *   at or after `end` is dropped, as if the history were cut at `end`;
 *   since effects come strictly after their causes (a refund after its
 *   purchase), a dropped cause never leaves its effect behind. A customer's
 *   times are made distinct (to the ms) after sorting, so "first touchpoint"
 *   is never a tie.
 *
 * - The journey: an acquisition channel (paid ones start with ad
 *   impressions and maybe a click), browsing sessions (SITE_VISIT with
 *   PAGE_VIEWs, CONTENT_VIEWs, PRICING_VIEW, SIGNUP, DEMO_REQUEST, carts that
 *   are abandoned), for about a third of the customers a purchase session
 *   and for some repeat purchases, and around them the after-life:
 *   onboarding, newsletters, app use, store visits, support, billing
 *   issues, refunds, reviews, referrals, mentions, feedback and
 *   cancellations (some won back).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GEN_DAY_MS     86400000LL
#define GEN_MIN_MS     946684800000LL /* 2000-01-01, clmd's lower bound */
#define GEN_MAX_EVENTS 1024           /* per customer; far above need */
#define GEN_OUT_CAP    (1u << 20)
#define GEN_LINE_MAX   1024 /* no line we write is longer */
#define GEN_N_TYPES    28
#define GEN_N_CITIES   8
#define GEN_N_CATS     8

/* Exit codes. */
#define GEN_EXIT_OK    0
#define GEN_EXIT_IO    1
#define GEN_EXIT_USAGE 2

/* clm.v1.TouchpointType, by number. */
enum gen_type {
	AD_IMPRESSION = 1,
	AD_CLICK = 2,
	SITE_VISIT = 3,
	PAGE_VIEW = 4,
	CONTENT_VIEW = 5,
	SOCIAL_MENTION = 6,
	SIGNUP = 7,
	PRICING_VIEW = 8,
	DEMO_REQUEST = 9,
	ADD_TO_CART = 10,
	REMOVE_FROM_CART = 11,
	CHECKOUT_STARTED = 12,
	PURCHASE = 13,
	REFUND = 14,
	REFERRAL = 15,
	REVIEW = 16,
	EMAIL_OPEN = 17,
	EMAIL_CLICK = 18,
	APP_OPEN = 19,
	MESSAGE_SENT = 20,
	SUPPORT_TICKET = 21,
	BILLING_ISSUE = 22,
	ONBOARDING_COMPLETED = 23,
	USAGE_LIMIT_REACHED = 24,
	STORE_VISIT = 25,
	CANCELLATION = 26,
	FEEDBACK = 27,
};

static const char *const gen_type_names[GEN_N_TYPES] = {
	"TOUCHPOINT_TYPE_UNSPECIFIED",
	"AD_IMPRESSION",
	"AD_CLICK",
	"SITE_VISIT",
	"PAGE_VIEW",
	"CONTENT_VIEW",
	"SOCIAL_MENTION",
	"SIGNUP",
	"PRICING_VIEW",
	"DEMO_REQUEST",
	"ADD_TO_CART",
	"REMOVE_FROM_CART",
	"CHECKOUT_STARTED",
	"PURCHASE",
	"REFUND",
	"REFERRAL",
	"REVIEW",
	"EMAIL_OPEN",
	"EMAIL_CLICK",
	"APP_OPEN",
	"MESSAGE_SENT",
	"SUPPORT_TICKET",
	"BILLING_ISSUE",
	"ONBOARDING_COMPLETED",
	"USAGE_LIMIT_REACHED",
	"STORE_VISIT",
	"CANCELLATION",
	"FEEDBACK",
};

/* clm.v1.Channel, by number. */
enum gen_channel {
	NO_CHANNEL = 0,
	DIRECT = 1,
	PAID_ADS = 2,
	ORGANIC_SEARCH = 3,
	ORGANIC_SOCIAL = 4,
	EMAIL = 5,
	APP_NOTIFICATION = 6,
	IN_APP = 7,
	LIVE_CHAT = 8,
	REFERRAL_LINK = 9,
	STORE = 10,
	SUPPORT = 11,
	SMS = 12,
	GEN_N_CHANNELS
};

static const char *const gen_channel_names[GEN_N_CHANNELS] = {
	"CHANNEL_UNSPECIFIED",
	"DIRECT",
	"PAID_ADS",
	"ORGANIC_SEARCH",
	"ORGANIC_SOCIAL",
	"EMAIL",
	"APP_NOTIFICATION",
	"IN_APP",
	"LIVE_CHAT",
	"REFERRAL_LINK",
	"STORE",
	"SUPPORT",
	"SMS",
};

/* The channels that get a Spend line per day (--spend). */
static const enum gen_channel gen_spend_channels[]
        = { PAID_ADS, ORGANIC_SOCIAL, EMAIL };

/*
 * Where customers live, and the one store in each city (store-1 is in the
 * first city). Coordinates in 1e-5 degrees.
 */
static const struct gen_city {
	const char *name;
	int32_t lat, lon;
} gen_cities[GEN_N_CITIES] = {
	{ "New York", 4071280, -7400600 },
	{ "San Francisco", 3777490, -12241940 },
	{ "Chicago", 4187810, -8762980 },
	{ "Austin", 3026720, -9774310 },
	{ "Toronto", 4365320, -7938320 },
	{ "London", 5150740, -12780 },
	{ "Berlin", 5252000, 1340500 },
	{ "Sydney", -3386880, 15120930 },
};

/* The catalog: a category per item (item k is in category (k-1) % 8). */
static const struct gen_category {
	const char *name;
	int64_t lo, hi; /* price range in whole dollars */
	const char *nouns[4];
} gen_categories[GEN_N_CATS] = {
	{ "apparel", 15, 120, { "T-Shirt", "Hoodie", "Jacket", "Sneakers" } },
	{ "bags", 30, 250, { "Backpack", "Tote", "Duffel", "Sling" } },
	{ "electronics", 40, 1200,
	        { "Headphones", "Speaker", "Smartwatch", "Tablet" } },
	{ "home", 10, 300, { "Lamp", "Blanket", "Kettle", "Chair" } },
	{ "outdoor", 20, 400, { "Tent", "Sleeping Bag", "Stove", "Lantern" } },
	{ "beauty", 8, 90, { "Serum", "Cleanser", "Moisturizer", "Palette" } },
	{ "books", 8, 60, { "Cookbook", "Novel", "Field Guide", "Atlas" } },
	{ "software", 5, 500,
	        { "Starter Plan", "Team Plan", "Add-on", "Pro Plan" } },
};

static const char *const gen_adjectives[8] = { "Classic", "Pro", "Lite",
	"Ultra", "Everyday", "Premium", "Compact", "Eco" };

static const char *const gen_paths[8] = { "/", "/features", "/products",
	"/blog", "/docs", "/about", "/faq", "/account" };
static const char *const gen_topics[5]
        = { "login", "shipping", "bug", "how-to", "billing" };
static const char *const gen_billing_reasons[3]
        = { "card_declined", "card_expired", "insufficient_funds" };
static const char *const gen_cancel_reasons[4]
        = { "too_expensive", "not_using", "switched", "missing_feature" };
static const char *const gen_limits[3] = { "api_calls", "seats", "storage" };

/* Fractions of an hour's traffic by UTC hour, for session start times. */
static const int gen_hour_weight[24] = { 3, 2, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9,
	9, 8, 8, 8, 8, 9, 10, 10, 9, 7, 5 };

/* Which properties a touchpoint carries (the argument in gen_event.arg). */
enum gen_prop {
	PROP_NONE,
	PROP_PATH,    /* {"path": gen_paths[arg]} */
	PROP_PRODUCT, /* {"path": "/products/sku-<item>"} */
	PROP_CONTENT, /* {"contentId": "post-<arg>"} */
	PROP_ORDER,   /* {"orderId": "o<customer>-<arg>"} */
	PROP_TOPIC,   /* {"topic": gen_topics[arg]} */
	PROP_BILLING, /* {"reason": gen_billing_reasons[arg]} */
	PROP_STORE,   /* {"storeId": "store-<arg>"} */
	PROP_CANCEL,  /* {"reason": gen_cancel_reasons[arg]} */
	PROP_LIMIT,   /* {"limit": gen_limits[arg]} */
};

/* Independent random streams; see gen_rng_init. */
enum gen_stream {
	STREAM_CUSTOMER = 1,
	STREAM_ITEM = 2,
	STREAM_SPEND = 3,
};

/* ------------------------------------------------------------------ */
/* Random numbers and deterministic math                               */
/* ------------------------------------------------------------------ */

struct gen_rng {
	uint64_t s;
};

/* The splitmix64 finalizer: a bijective 64-bit mix. */
static uint64_t
gen_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
gen_rng_init(struct gen_rng *r, uint64_t seed, enum gen_stream stream,
        uint64_t index)
{
	r->s = gen_mix(gen_mix(seed ^ 0x636c6d2d67656e31ULL)
	        ^ gen_mix(((uint64_t) stream << 56) + index));
}

static uint64_t
gen_rng_next(struct gen_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ULL;
	return gen_mix(r->s);
}

/* A double in [0, 1). */
static double
gen_unit(struct gen_rng *r)
{
	return (double) (gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* An integer in [0, n), n < 2^32 (Lemire's multiply; the bias is < 2^-32). */
static uint32_t
gen_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t) (((gen_rng_next(r) >> 32) * n) >> 32);
}

/* An integer in [lo, hi]. */
static int64_t
gen_range(struct gen_rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t) gen_below(r, (uint32_t) (hi - lo + 1));
}

static bool
gen_chance(struct gen_rng *r, double p)
{
	return gen_unit(r) < p;
}

/* How many of up to max trials in a row succeed with probability p. */
static int
gen_run(struct gen_rng *r, double p, int max)
{
	int n = 0;
	while (n < max && gen_chance(r, p)) {
		n++;
	}
	return n;
}

/* Picks an index by integer weights. */
static int
gen_pick(struct gen_rng *r, const int *weight, int n)
{
	int total = 0;
	for (int i = 0; i < n; i++) {
		total += weight[i];
	}
	int x = (int) gen_below(r, (uint32_t) total);
	for (int i = 0; i < n; i++) {
		if (x < weight[i]) {
			return i;
		}
		x -= weight[i];
	}
	return n - 1;
}

/*
 * Natural logarithm for x > 0, with basic arithmetic only (libm's log may
 * differ in the last bit between platforms, and one bit can move an event
 * by a millisecond): x = m 2^e with m in [0.707, 1.414), then
 * ln m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172, summed to 1e-19.
 */
static double
gen_ln(double x)
{
	int e;
	double m = frexp(x, &e);
	if (m < 0.70710678118654752) {
		m *= 2;
		e--;
	}
	double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k < 26; k += 2) {
		sum += term / k;
		term *= s2;
	}
	return 2 * sum + e * 0.69314718055994531;
}

/* e^x for |x| < 700, like gen_ln: x = k ln 2 + r, |r| <= 0.35, Taylor. */
static double
gen_exp(double x)
{
	double k = floor(x / 0.69314718055994531 + 0.5);
	double r = x - k * 0.69314718055994531, term = 1, sum = 1;
	for (int i = 1; i < 20; i++) {
		term *= r / i;
		sum += term;
	}
	return ldexp(sum, (int) k);
}

/* An exponential variate with the given mean. */
static double
gen_expo(struct gen_rng *r, double mean)
{
	return -gen_ln(1 - gen_unit(r)) * mean;
}

/* An approximately standard normal variate (Irwin-Hall, 12 uniforms). */
static double
gen_normal(struct gen_rng *r)
{
	double s = 0;
	for (int i = 0; i < 12; i++) {
		s += gen_unit(r);
	}
	return s - 6;
}

/* A lognormal variate with the given median. */
static double
gen_lognormal(struct gen_rng *r, double median, double sigma)
{
	return median * gen_exp(sigma * gen_normal(r));
}

/* x^u for x >= 1: log-uniform between 1 and x. */
static double
gen_loguniform(struct gen_rng *r, double x)
{
	return gen_exp(gen_unit(r) * gen_ln(x));
}

/* ------------------------------------------------------------------ */
/* Calendar (UTC, proleptic Gregorian; H. Hinnant's algorithms)        */
/* ------------------------------------------------------------------ */

static int64_t
gen_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t
gen_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = gen_floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
gen_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = gen_floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday. */
static int
gen_weekday(int64_t day)
{
	return (int) (((day + 4) % 7 + 7) % 7);
}

/* The day of the Thursday of US Thanksgiving (4th Thursday of November). */
static int64_t
gen_thanksgiving(int64_t year)
{
	int64_t nov1 = gen_days_from_civil(year, 11, 1);
	return nov1 + (4 - gen_weekday(nov1) + 7) % 7 + 21;
}

/* Thanksgiving Thursday to Cyber Monday: the Black Friday campaign. */
static bool
gen_black_friday(int64_t day)
{
	int64_t y;
	int m, d;
	gen_civil_from_days(day, &y, &m, &d);
	int64_t tg = gen_thanksgiving(y);
	return day >= tg && day < tg + 5;
}

/*
 * The campaign running on a channel on a UTC day (empty when the channel has
 * none): "bf-2026" over Black Friday, "holiday-2026" in December up to the
 * 24th, else one per channel and month ("ads-2026-01"). Spend lines and the
 * touchpoints they paid for use the same names.
 */
static void
gen_campaign(int64_t day, enum gen_channel ch, char *buf, size_t len)
{
	int64_t y;
	int m, d;
	const char *prefix;
	switch (ch) {
	case PAID_ADS:
		prefix = "ads";
		break;
	case ORGANIC_SOCIAL:
		prefix = "social";
		break;
	case EMAIL:
		prefix = "newsletter";
		break;
	case REFERRAL_LINK:
		snprintf(buf, len, "referral-program");
		return;
	default:
		buf[0] = '\0';
		return;
	}
	gen_civil_from_days(day, &y, &m, &d);
	if (gen_black_friday(day)) {
		snprintf(buf, len, "bf-%lld", (long long) y);
	} else if (m == 12 && d <= 24) {
		snprintf(buf, len, "holiday-%lld", (long long) y);
	} else {
		snprintf(buf, len, "%s-%04lld-%02d", prefix, (long long) y, m);
	}
}

/* "2026-01-02T03:04:05Z" (buf of 32 bytes). */
static void
gen_format_time(int64_t ms, char *buf, size_t len)
{
	int64_t day = gen_floor_div(ms, GEN_DAY_MS), y;
	int64_t s = (ms - day * GEN_DAY_MS) / 1000;
	int m, d;
	gen_civil_from_days(day, &y, &m, &d);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long) y,
	        m, d, (int) (s / 3600), (int) (s / 60 % 60), (int) (s % 60));
}

/* ------------------------------------------------------------------ */
/* Output: a buffered writer of hand-made JSON                         */
/* ------------------------------------------------------------------ */

struct gen_out {
	FILE *f;
	const char *path; /* for messages; "-" is standard output */
	char *buf;
	size_t len;
	int err; /* errno of the first failed write, 0 if none */
	uint64_t lines;
};

static void
gen_out_flush(struct gen_out *o)
{
	if (o->len > 0 && o->err == 0
	        && fwrite(o->buf, 1, o->len, o->f) != o->len) {
		o->err = errno != 0 ? errno : EIO;
	}
	o->len = 0;
}

static void
gen_out_mem(struct gen_out *o, const char *s, size_t n)
{
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
gen_out_str(struct gen_out *o, const char *s)
{
	gen_out_mem(o, s, strlen(s));
}

static void
gen_out_char(struct gen_out *o, char ch)
{
	o->buf[o->len++] = ch;
}

/* An unsigned integer, left-padded with zeros to at least width digits. */
static void
gen_out_uint(struct gen_out *o, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width) {
		tmp[n++] = '0';
	}
	while (n > 0) {
		o->buf[o->len++] = tmp[--n];
	}
}

static void
gen_out_int(struct gen_out *o, int64_t v)
{
	if (v < 0) {
		gen_out_char(o, '-');
		gen_out_uint(o, (uint64_t) 0 - (uint64_t) v, 1);
	} else {
		gen_out_uint(o, (uint64_t) v, 1);
	}
}

/*
 * v / 10^places as a JSON number without trailing zeros, as proto3 JSON
 * prints doubles: 4990 with 2 places is 49.9, 5000 is 50.
 */
static void
gen_out_fixed(struct gen_out *o, int64_t v, int places)
{
	uint64_t scale = 1;
	for (int i = 0; i < places; i++) {
		scale *= 10;
	}
	uint64_t a = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
	if (v < 0) {
		gen_out_char(o, '-');
	}
	gen_out_uint(o, a / scale, 1);
	uint64_t frac = a % scale;
	if (frac == 0) {
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		places--;
	}
	gen_out_char(o, '.');
	gen_out_uint(o, frac, places);
}

/* Ends a line; flushes when the buffer could not take another one. */
static void
gen_out_endline(struct gen_out *o)
{
	gen_out_char(o, '\n');
	o->lines++;
	if (o->len > GEN_OUT_CAP - GEN_LINE_MAX) {
		gen_out_flush(o);
	}
}

static int
gen_out_open(struct gen_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->buf = malloc(GEN_OUT_CAP);
	if (o->buf == NULL) {
		fprintf(stderr, "clm-gen: out of memory\n");
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	o->f = fopen(path, "w");
	if (o->f == NULL) {
		fprintf(stderr, "clm-gen: cannot create '%s': %s\n", path,
		        strerror(errno));
		free(o->buf);
		o->buf = NULL;
		return -1;
	}
	return 0;
}

/* Flushes and closes; returns 0, or -1 after saying what failed. */
static int
gen_out_close(struct gen_out *o)
{
	if (o->buf == NULL) {
		return 0;
	}
	gen_out_flush(o);
	if (fflush(o->f) != 0 && o->err == 0) {
		o->err = errno != 0 ? errno : EIO;
	}
	if (o->f != stdout && fclose(o->f) != 0 && o->err == 0) {
		o->err = errno != 0 ? errno : EIO;
	}
	free(o->buf);
	o->buf = NULL;
	if (o->err != 0) {
		fprintf(stderr, "clm-gen: cannot write '%s': %s\n",
		        strcmp(o->path, "-") == 0 ? "stdout" : o->path,
		        strerror(o->err));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The run                                                             */
/* ------------------------------------------------------------------ */

struct gen {
	/* Arguments. */
	uint64_t seed;
	uint64_t customers;
	uint64_t days;
	uint64_t items;
	const char *end_arg; /* NULL: today 00:00 UTC */
	const char *out_path;
	const char *spend_path;
	const char *catalog_path;
	bool quiet;

	/* Derived. */
	int64_t end_ms, start_ms;
	int64_t first_day, last_day; /* UTC days that [start, end) touches */
	double weight_max;           /* of gen_day_weight over those days */
	double weight_sum;

	/* Totals, for the summary. */
	uint64_t counter; /* event ids written */
	uint64_t buyers;
	uint64_t type_count[GEN_N_TYPES];
	int64_t min_t, max_t;
};

struct gen_event {
	int64_t t;
	int64_t value; /* cents (PURCHASE, REFUND); 0 = none */
	int32_t item;  /* sku number; 0 = none */
	int32_t lat, lon;
	uint32_t arg; /* of prop */
	uint16_t duration_s;
	int16_t sentiment; /* hundredths */
	uint8_t type, channel, prop;
	bool campaign, located;
};

/* One customer being generated. */
struct gen_cust {
	const struct gen *g;
	struct gen_rng r;
	uint64_t idx; /* 1-based: "c000001" */
	enum gen_channel acq;
	int32_t lat, lon; /* home */
	int city;
	double engagement; /* 0..1 */
	bool buyer;        /* wants to buy; may run out of time */
	bool signed_up;
	int64_t signup_at;
	uint32_t orders;
	int64_t last_purchase_at;
	int64_t first_purchase_at; /* 0 = none yet */
	int32_t last_item;
	bool app_user;
	int n;
	struct gen_event ev[GEN_MAX_EVENTS];
};

/* ---- catalog ---- */

struct gen_item {
	int64_t price; /* cents */
	const char *adjective, *noun, *category;
	uint32_t upgrade_to; /* 0 = none */
};

static int64_t
gen_item_price(const struct gen *g, uint32_t k, struct gen_rng *r)
{
	gen_rng_init(r, g->seed, STREAM_ITEM, k);
	const struct gen_category *cat = &gen_categories[(k - 1) % GEN_N_CATS];
	double ratio = (double) cat->hi / (double) cat->lo;
	int64_t dollars
	        = (int64_t) ((double) cat->lo * gen_loguniform(r, ratio));
	static const int endings[3] = { 99, 49, 0 };
	static const int ending_weight[3] = { 55, 15, 30 };
	int e = endings[gen_pick(r, ending_weight, 3)];
	/* $49.99, $49.49 or $50: every range starts at $5 or more. */
	return e == 0 ? dollars * 100 : (dollars - 1) * 100 + e;
}

/* Catalog item k (1-based): a function of the seed and k only. */
static void
gen_item_get(const struct gen *g, uint32_t k, struct gen_item *it)
{
	struct gen_rng r;
	it->price = gen_item_price(g, k, &r);
	const struct gen_category *cat = &gen_categories[(k - 1) % GEN_N_CATS];
	it->category = cat->name;
	it->adjective = gen_adjectives[gen_below(&r, 8)];
	it->noun = cat->nouns[gen_below(&r, 4)];
	it->upgrade_to = 0;
	bool has_upgrade = gen_chance(&r, 0.5);
	uint32_t j = k + GEN_N_CATS;
	if (has_upgrade && j <= g->items) {
		struct gen_rng r2;
		if (gen_item_price(g, j, &r2) > it->price) {
			it->upgrade_to = j;
		}
	}
}

/* A catalog item by popularity: log-uniform ranks, sku-1 the best seller. */
static int32_t
gen_pick_item(struct gen_cust *c)
{
	uint32_t n = (uint32_t) c->g->items;
	if (n == 1) {
		return 1;
	}
	if (gen_chance(&c->r, 0.3)) {
		return (int32_t) (1 + gen_below(&c->r, n));
	}
	uint32_t k = (uint32_t) gen_loguniform(&c->r, (double) n + 1);
	return (int32_t) (k < 1 ? 1 : k > n ? n : k);
}

/* ---- time ---- */

/*
 * How many customers are first seen on a day, relative: the business grows
 * (twice the traffic at the end of the span as at the start), weekends are
 * quieter and Black Friday is busy. Spend follows the same curve.
 */
static double
gen_day_weight(const struct gen *g, int64_t day)
{
	double span = (double) (g->last_day - g->first_day + 1);
	double x = (double) (day - g->first_day) / span;
	double w = 1 + x;
	int wd = gen_weekday(day);
	if (wd == 0 || wd == 6) {
		w *= 0.75;
	}
	if (gen_black_friday(day)) {
		w *= 1.6;
	}
	return w;
}

/* A time of day in ms, following gen_hour_weight. */
static int64_t
gen_time_of_day(struct gen_rng *r)
{
	int h = gen_pick(r, gen_hour_weight, 24);
	return (int64_t) h * 3600000 + gen_range(r, 0, 3599999);
}

/* The customer's first-seen time, in [start, end). */
static int64_t
gen_first_seen(struct gen_cust *c)
{
	const struct gen *g = c->g;
	uint32_t ndays = (uint32_t) (g->last_day - g->first_day + 1);
	for (;;) {
		int64_t day = g->first_day + gen_below(&c->r, ndays);
		if (gen_unit(&c->r) * g->weight_max > gen_day_weight(g, day)) {
			continue;
		}
		int64_t t = day * GEN_DAY_MS + gen_time_of_day(&c->r);
		if (t >= g->start_ms && t < g->end_ms) {
			return t;
		}
	}
}

/* A later session's start: after mean_days on average, at a usual hour. */
static int64_t
gen_later(struct gen_cust *c, int64_t t, double mean_days)
{
	int64_t next = t + (int64_t) (gen_expo(&c->r, mean_days) * GEN_DAY_MS);
	int64_t day = gen_floor_div(next, GEN_DAY_MS);
	next = day * GEN_DAY_MS + gen_time_of_day(&c->r);
	if (next < t + 60000) {
		next = t + 60000 + gen_range(&c->r, 0, 3600000);
	}
	return next;
}

/* A gap of lo..hi seconds, in ms. */
static int64_t
gen_secs(struct gen_cust *c, int lo, int hi)
{
	return gen_range(&c->r, (int64_t) lo * 1000, (int64_t) hi * 1000);
}

/* ---- building a journey ---- */

/*
 * Adds a touchpoint; returns it for the caller to fill in, or NULL when it
 * would happen at or after the end of the history (or the customer is
 * full, which GEN_MAX_EVENTS makes impossible in practice).
 */
static struct gen_event *
gen_add(struct gen_cust *c, int64_t t, enum gen_type type, enum gen_channel ch)
{
	if (t >= c->g->end_ms || c->n == GEN_MAX_EVENTS) {
		return NULL;
	}
	struct gen_event *e = &c->ev[c->n++];
	memset(e, 0, sizeof(*e));
	e->t = t;
	e->type = (uint8_t) type;
	e->channel = (uint8_t) ch;
	return e;
}

enum gen_mood { MOOD_POSITIVE, MOOD_NEUTRAL, MOOD_NEGATIVE };

static enum gen_mood
gen_mood(struct gen_cust *c, int positive, int neutral, int negative)
{
	const int w[3] = { positive, neutral, negative };
	return (enum gen_mood) gen_pick(&c->r, w, 3);
}

/*
 * A sentiment in hundredths for a mood. One in eight lands exactly on the
 * ±0.25 boundary (which counts as neutral) so consumers' comparisons are
 * exercised; a neutral 0 is left out of the JSON, as proto3 does.
 */
static int16_t
gen_sentiment(struct gen_cust *c, enum gen_mood mood)
{
	if (gen_chance(&c->r, 0.125)) {
		return gen_chance(&c->r, 0.5) ? 25 : -25;
	}
	switch (mood) {
	case MOOD_POSITIVE:
		return (int16_t) gen_range(&c->r, 26, 100);
	case MOOD_NEGATIVE:
		return (int16_t) -gen_range(&c->r, 26, 100);
	default:
		return (int16_t) gen_range(&c->r, -24, 24);
	}
}

static void
gen_add_felt(struct gen_cust *c, int64_t t, enum gen_type type,
        enum gen_channel ch, enum gen_mood mood)
{
	struct gen_event *e = gen_add(c, t, type, ch);
	if (e != NULL) {
		e->sentiment = gen_sentiment(c, mood);
	}
}

static void
gen_add_prop(struct gen_cust *c, int64_t t, enum gen_type type,
        enum gen_channel ch, enum gen_prop prop, uint32_t arg)
{
	struct gen_event *e = gen_add(c, t, type, ch);
	if (e != NULL) {
		e->prop = (uint8_t) prop;
		e->arg = arg;
	}
}

static void
gen_add_campaign(
        struct gen_cust *c, int64_t t, enum gen_type type, enum gen_channel ch)
{
	struct gen_event *e = gen_add(c, t, type, ch);
	if (e != NULL) {
		e->campaign = true;
	}
}

/* A point within ±spread (1e-5 degrees) of (lat, lon). */
static void
gen_locate(struct gen_cust *c, struct gen_event *e, int32_t lat, int32_t lon,
        int32_t spread)
{
	e->located = true;
	e->lat = lat + (int32_t) gen_range(&c->r, -spread, spread);
	e->lon = lon + (int32_t) gen_range(&c->r, -spread, spread);
	if (e->lat == 0) {
		e->lat = 1; /* 0 would be left out of the JSON */
	}
	if (e->lon == 0) {
		e->lon = 1;
	}
}

/* The channel a returning customer comes back through. */
static enum gen_channel
gen_return_channel(struct gen_cust *c)
{
	const enum gen_channel ch[7] = { DIRECT, ORGANIC_SEARCH, EMAIL,
		PAID_ADS, ORGANIC_SOCIAL, SMS, c->acq };
	int w[7] = { 30, 25, 15, 12, 6, 2, 12 };
	if (!c->signed_up && c->acq != EMAIL) {
		w[2] = 0; /* no address to mail yet */
		w[5] = 0;
	}
	return ch[gen_pick(&c->r, w, 7)];
}

static void
gen_signup(struct gen_cust *c, int64_t t, enum gen_channel ch)
{
	if (gen_add(c, t, SIGNUP, ch) == NULL) {
		return;
	}
	c->signed_up = true;
	c->signup_at = t;
	/* Most finish onboarding, typically within a day; some take weeks. */
	if (gen_chance(&c->r, 0.82)) {
		double h = gen_lognormal(&c->r, 8, 1.3);
		if (h > 45 * 24) {
			h = 45 * 24;
		}
		int64_t lag = 60000 + (int64_t) (h * 3600000);
		gen_add(c, t + lag, ONBOARDING_COMPLETED,
		        gen_chance(&c->r, 0.7) ? IN_APP : ch);
	}
}

/* What may follow a purchase: refund, review, feedback, billing trouble. */
static void
gen_after_purchase(struct gen_cust *c, int64_t t, int32_t item, int64_t value,
        uint32_t order)
{
	bool refunded = false;
	if (gen_chance(&c->r, 0.06)) {
		int64_t at = t
		        + (int64_t) ((1 + gen_expo(&c->r, 6)) * GEN_DAY_MS);
		int64_t v = value;
		if (gen_chance(&c->r, 0.3)) {
			v = value * gen_range(&c->r, 20, 80) / 100;
			if (v < 1) {
				v = 1;
			}
		}
		struct gen_event *e = gen_add(c, at, REFUND,
		        gen_chance(&c->r, 0.6) ? SUPPORT : DIRECT);
		if (e != NULL) {
			refunded = true;
			e->item = item;
			e->value = v;
			e->prop = PROP_ORDER;
			e->arg = order;
			if (gen_chance(&c->r, 0.45)) {
				gen_add_felt(c,
				        at + gen_secs(c, 3600, 3 * 86400),
				        FEEDBACK, EMAIL, gen_mood(c, 1, 3, 6));
			}
		}
	}
	if (gen_chance(&c->r, refunded ? 0.5 : 0.18)) {
		int64_t at = t
		        + (int64_t) ((2 + gen_expo(&c->r, 7)) * GEN_DAY_MS);
		struct gen_event *e = gen_add(c, at, REVIEW, DIRECT);
		if (e != NULL) {
			e->item = item;
			e->sentiment = gen_sentiment(c,
			        refunded ? gen_mood(c, 1, 2, 7)
			                 : gen_mood(c, 70, 18, 12));
		}
	}
	if (gen_chance(&c->r, 0.035)) {
		int64_t at = t + (int64_t) (gen_expo(&c->r, 20) * GEN_DAY_MS)
		        + 3600000;
		gen_add_prop(c, at, BILLING_ISSUE,
		        gen_chance(&c->r, 0.5) ? EMAIL : DIRECT, PROP_BILLING,
		        gen_below(&c->r, 3));
	}
}

/*
 * A visit to the site through channel ch starting at t: the ad or email that
 * brought the customer (unless `arrived`, when the acquisition prelude did),
 * the SITE_VISIT, page and content views, maybe pricing, signup, a demo
 * request, and a cart: bought when `buy`, else sometimes abandoned. Returns
 * the time of the session's last touchpoint.
 */
static int64_t
gen_session(struct gen_cust *c, int64_t t, enum gen_channel ch, bool buy,
        bool arrived)
{
	struct gen_rng *r = &c->r;
	if (t >= c->g->end_ms) {
		return t;
	}
	int64_t u = t;
	if (!arrived && ch == EMAIL) {
		gen_add_campaign(c, u, EMAIL_OPEN, EMAIL);
		u += gen_secs(c, 5, 3600);
		gen_add_campaign(c, u, EMAIL_CLICK, EMAIL);
		u += gen_secs(c, 1, 4);
	} else if (!arrived && ch == PAID_ADS) {
		/* Retargeting: a few impressions over hours, then a click. */
		int n = 1 + gen_run(r, 0.6, 5);
		for (int i = 0; i < n; i++) {
			gen_add_campaign(c, u, AD_IMPRESSION, PAID_ADS);
			u += gen_secs(c, 60, 6 * 3600);
		}
		gen_add_campaign(c, u, AD_CLICK, PAID_ADS);
		u += gen_secs(c, 1, 4);
	}
	int64_t visit_at = u;
	int visit = c->n;
	struct gen_event *v = gen_add(c, u, SITE_VISIT, ch);
	if (v == NULL) {
		return u;
	}
	v->campaign = arrived; /* the ad's, email's or link's campaign */

	int pages = 1 + gen_run(r, 0.45 + 0.3 * c->engagement, 9);
	for (int i = 0; i < pages; i++) {
		u += gen_secs(c, 3, 60);
		struct gen_event *e = gen_add(c, u, PAGE_VIEW, ch);
		if (e == NULL) {
			break;
		}
		if (gen_chance(r, 0.4)) {
			e->item = gen_pick_item(c);
			e->prop = PROP_PRODUCT;
		} else {
			e->prop = PROP_PATH;
			e->arg = gen_below(r, 8);
		}
	}
	if (gen_chance(r, 0.2 + 0.3 * c->engagement)) {
		int n = 1 + gen_run(r, 0.3, 2);
		for (int i = 0; i < n; i++) {
			u += gen_secs(c, 15, 240);
			gen_add_prop(c, u, CONTENT_VIEW, ch, PROP_CONTENT,
			        1 + gen_below(r, 40));
		}
	}
	bool pricing = gen_chance(r, buy ? 0.45 : c->buyer ? 0.35 : 0.12);
	if (pricing) {
		u += gen_secs(c, 5, 90);
		gen_add(c, u, PRICING_VIEW, ch);
	}
	if (!c->signed_up
	        && gen_chance(r,
	                buy                ? 0.35
	                        : c->buyer ? 0.3
	                                   : 0.1)) {
		u += gen_secs(c, 10, 120);
		gen_signup(c, u, ch);
	}
	if (pricing && gen_chance(r, c->signed_up ? 0.12 : 0.04)) {
		u += gen_secs(c, 10, 200);
		gen_add(c, u, DEMO_REQUEST, ch);
	}

	if (buy) {
		int32_t item = c->last_item != 0 && gen_chance(r, 0.2)
		        ? c->last_item
		        : gen_pick_item(c);
		if (c->last_item != 0 && gen_chance(r, 0.25)) {
			struct gen_item it; /* an upgrade of the last one */
			gen_item_get(c->g, (uint32_t) c->last_item, &it);
			if (it.upgrade_to != 0) {
				item = (int32_t) it.upgrade_to;
			}
		}
		u += gen_secs(c, 5, 180);
		struct gen_event *e = gen_add(c, u, ADD_TO_CART, ch);
		if (e != NULL) {
			e->item = item;
		}
		if (gen_chance(r, 0.22)) {
			/* A second item; one of the two goes again. */
			int32_t other = gen_pick_item(c);
			u += gen_secs(c, 5, 180);
			e = gen_add(c, u, ADD_TO_CART, ch);
			if (e != NULL) {
				e->item = other;
			}
			u += gen_secs(c, 5, 300);
			e = gen_add(c, u, REMOVE_FROM_CART, ch);
			if (e != NULL) {
				bool keep_other = gen_chance(r, 0.3);
				e->item = keep_other ? item : other;
				item = keep_other ? other : item;
			}
		}
		if (!c->signed_up && gen_chance(r, 0.6)) {
			u += gen_secs(c, 20, 120);
			gen_signup(c, u, ch);
		}
		u += gen_secs(c, 10, 240);
		e = gen_add(c, u, CHECKOUT_STARTED, ch);
		if (e != NULL) {
			e->item = item;
		}
		u += gen_secs(c, 30, 600);
		e = gen_add(c, u, PURCHASE, ch);
		if (e != NULL) {
			struct gen_item it;
			gen_item_get(c->g, (uint32_t) item, &it);
			int64_t qty = gen_chance(r, 0.85) ? 1
			        : gen_chance(r, 0.8)      ? 2
			                                  : 3;
			int64_t value = it.price * qty;
			if (gen_chance(r, 0.15)) {
				value = value
				        * (100
				                - (gen_chance(r, 0.5) ? 10
				                                      : 20))
				        / 100;
			}
			e->item = item;
			e->value = value < 1 ? 1 : value;
			e->prop = PROP_ORDER;
			e->arg = ++c->orders;
			c->last_item = item;
			c->last_purchase_at = u;
			if (c->first_purchase_at == 0) {
				c->first_purchase_at = u;
			}
			gen_after_purchase(c, u, item, e->value, e->arg);
		}
	} else if (gen_chance(r, c->buyer ? 0.2 : 0.1)) {
		/* A cart that is left behind. */
		int32_t item = gen_pick_item(c);
		u += gen_secs(c, 5, 180);
		struct gen_event *e = gen_add(c, u, ADD_TO_CART, ch);
		if (e != NULL) {
			e->item = item;
		}
		if (gen_chance(r, 0.35)) {
			u += gen_secs(c, 5, 300);
			e = gen_add(c, u, REMOVE_FROM_CART, ch);
			if (e != NULL) {
				e->item = item;
			}
		} else if (gen_chance(r, 0.4)) {
			u += gen_secs(c, 10, 240);
			e = gen_add(c, u, CHECKOUT_STARTED, ch);
			if (e != NULL) {
				e->item = item;
			}
		}
	}

	/* Time on site covers the session, and then some. */
	int64_t secs = (u - visit_at) / 1000 + gen_range(r, 5, 90);
	double typical = gen_lognormal(r, 60, 1.2);
	if (typical > (double) secs) {
		secs = (int64_t) typical;
	}
	c->ev[visit].duration_s = (uint16_t) (secs < 5 ? 5
	                : secs > 1800                  ? 1800
	                                               : secs);
	return u;
}

/*
 * How the customer first came: ads (impressions, maybe a click), an email,
 * a referral link, search, social or typing the address. Returns false when
 * the customer never reached the site (only impressions or an email open);
 * otherwise sets *t to the first visit's time and *ch to its channel.
 */
static bool
gen_acquire(struct gen_cust *c, int64_t *t, enum gen_channel *ch)
{
	struct gen_rng *r = &c->r;
	int64_t u = *t;
	*ch = c->acq;
	bool boosted = c->acq == ORGANIC_SOCIAL && gen_chance(r, 0.4);
	if (c->acq == PAID_ADS || boosted) {
		int n = 2 + gen_run(r, 0.7, 10);
		for (int i = 0; i < n; i++) {
			if (i > 0) {
				u += (int64_t) (gen_expo(r, 0.8) * GEN_DAY_MS)
				        + 1000;
			}
			gen_add_campaign(c, u, AD_IMPRESSION, c->acq);
		}
		if (gen_chance(r, c->buyer ? 0.85 : 0.5)) {
			u += gen_secs(c, 2, 300);
			gen_add_campaign(c, u, AD_CLICK, c->acq);
			*t = u + gen_secs(c, 1, 4);
			return true;
		}
		if (!c->buyer && gen_chance(r, 0.6)) {
			return false; /* saw the ads, never came */
		}
		/* Came later by itself: a view-through. */
		*t = gen_later(c, u, 3);
		*ch = gen_chance(r, 0.5) ? ORGANIC_SEARCH : DIRECT;
		return true;
	}
	if (c->acq == EMAIL) {
		gen_add_campaign(c, u, EMAIL_OPEN, EMAIL);
		if (!gen_chance(r, c->buyer ? 0.9 : 0.6)) {
			return false;
		}
		u += gen_secs(c, 5, 1800);
		gen_add_campaign(c, u, EMAIL_CLICK, EMAIL);
		*t = u + gen_secs(c, 1, 4);
		return true;
	}
	return true;
}

/* Things that happen beside the sessions, across the customer's life. */
static void
gen_afterlife(struct gen_cust *c, int64_t first, int64_t last)
{
	struct gen_rng *r = &c->r;
	int64_t life = last - first + 14 * GEN_DAY_MS;

	/* Newsletters, to those who gave their address. */
	if (c->signed_up || c->acq == EMAIL) {
		int64_t t = c->signed_up ? c->signup_at : first;
		double open = 0.15 + 0.45 * c->engagement;
		for (int i = 0; i < 30; i++) {
			t = gen_later(c, t, 7);
			if (t >= c->g->end_ms) {
				break;
			}
			if (!gen_chance(r, open)) {
				continue;
			}
			gen_add_campaign(c, t, EMAIL_OPEN, EMAIL);
			if (gen_chance(r, 0.3)) {
				gen_add_campaign(c, t + gen_secs(c, 3, 600),
				        EMAIL_CLICK, EMAIL);
			}
			open *= 0.93; /* interest fades */
		}
	}

	/* The app, for some who signed up. */
	if (c->signed_up && gen_chance(r, 0.35)) {
		c->app_user = true;
		int64_t t = c->signup_at + gen_secs(c, 60, 86400);
		int n = 2 + gen_run(r, 0.85, 28);
		for (int i = 0; i < n && t < c->g->end_ms; i++) {
			struct gen_event *e = gen_add(c, t, APP_OPEN,
			        gen_chance(r, 0.2) ? APP_NOTIFICATION
			                           : IN_APP);
			if (e != NULL && gen_chance(r, 0.4)) {
				gen_locate(c, e, c->lat, c->lon, 1000);
			}
			t = gen_later(c, t, 3);
		}
	}
	if ((c->app_user || c->orders > 0) && gen_chance(r, 0.12)) {
		int64_t t = (c->signed_up ? c->signup_at : first)
		        + (int64_t) (gen_expo(r, 20) * GEN_DAY_MS) + 3600000;
		int n = 1 + gen_run(r, 0.3, 2);
		for (int i = 0; i < n; i++) {
			gen_add_prop(c, t, USAGE_LIMIT_REACHED, IN_APP,
			        PROP_LIMIT, gen_below(r, 3));
			t = gen_later(c, t, 10);
		}
	}

	/* Visits to the store in the customer's city. */
	if (gen_chance(r, c->orders > 0 ? 0.15 : 0.05)) {
		int n = 1 + gen_run(r, 0.35, 3);
		for (int i = 0; i < n; i++) {
			int64_t t
			        = first + gen_range(r, 0, life / 1000) * 1000;
			struct gen_event *e
			        = gen_add(c, t, STORE_VISIT, STORE);
			if (e != NULL) {
				e->prop = PROP_STORE;
				e->arg = (uint32_t) c->city + 1;
				gen_locate(c, e, gen_cities[c->city].lat,
				        gen_cities[c->city].lon, 50);
			}
		}
	}

	/* Support: usually one ticket, sometimes a bad week of several. */
	if (gen_chance(r, c->orders > 0 ? 0.18 : 0.05)) {
		int64_t t = first + gen_range(r, 0, life / 1000) * 1000;
		int n = 1 + gen_run(r, 0.4, 5);
		for (int i = 0; i < n; i++) {
			gen_add_prop(c, t, SUPPORT_TICKET,
			        gen_chance(r, 0.6) ? SUPPORT : LIVE_CHAT,
			        PROP_TOPIC, gen_below(r, 5));
			t += (int64_t) (gen_expo(r, 4) * GEN_DAY_MS) + 600000;
		}
	}

	/* Referrals by some buyers, after their first purchase. */
	if (c->first_purchase_at != 0 && gen_chance(r, 0.15)) {
		int64_t t = c->first_purchase_at;
		int n = 1 + gen_run(r, 0.3, 3);
		for (int i = 0; i < n; i++) {
			t += (int64_t) ((0.5 + gen_expo(r, 10)) * GEN_DAY_MS);
			gen_add_campaign(c, t, REFERRAL, REFERRAL_LINK);
		}
	}

	/* Mentions on social media and feedback forms. */
	if (gen_chance(r, c->orders > 0 ? 0.1 : 0.04)) {
		int n = 1 + gen_run(r, 0.3, 2);
		for (int i = 0; i < n; i++) {
			int64_t t
			        = first + gen_range(r, 0, life / 1000) * 1000;
			gen_add_felt(c, t, SOCIAL_MENTION, ORGANIC_SOCIAL,
			        gen_mood(c, 45, 30, 25));
		}
	}
	if (c->signed_up && gen_chance(r, 0.1)) {
		int64_t t = c->signup_at
		        + (int64_t) ((1 + gen_expo(r, 15)) * GEN_DAY_MS);
		gen_add_felt(c, t, FEEDBACK,
		        gen_chance(r, 0.5) ? IN_APP : EMAIL,
		        gen_mood(c, 40, 35, 25));
	}
}

/* Builds customer idx's touchpoints into c->ev (unsorted). */
static void
gen_journey(struct gen_cust *c)
{
	struct gen_rng *r = &c->r;
	static const enum gen_channel acq[6] = { PAID_ADS, ORGANIC_SEARCH,
		ORGANIC_SOCIAL, EMAIL, REFERRAL_LINK, DIRECT };
	static const int acq_weight[6] = { 28, 24, 14, 10, 8, 16 };
	/* Who buys depends on how they came: referred friends most often. */
	static const double acq_buy[6] = { 0.34, 0.38, 0.3, 0.42, 0.52, 0.4 };

	int a = gen_pick(r, acq_weight, 6);
	c->acq = acq[a];
	c->buyer = gen_chance(r, acq_buy[a]);
	c->engagement = gen_unit(r);
	c->city = (int) gen_below(r, GEN_N_CITIES);
	c->lat = gen_cities[c->city].lat + (int32_t) gen_range(r, -8000, 8000);
	c->lon = gen_cities[c->city].lon + (int32_t) gen_range(r, -8000, 8000);

	int64_t first = gen_first_seen(c), t = first;
	enum gen_channel ch;
	if (!gen_acquire(c, &t, &ch)) {
		return;
	}

	/* Browsing before (or instead of) buying. */
	int browse = c->buyer ? gen_run(r, 0.45, 4)
	                      : 1 + gen_run(r, 0.3 + 0.4 * c->engagement, 7);
	bool arrived = true;
	for (int i = 0; i < browse; i++) {
		t = gen_session(c, t, ch, false, arrived);
		t = gen_later(c, t, 2 + 4 * (1 - c->engagement));
		ch = gen_return_channel(c);
		arrived = false;
	}

	/* Purchases: most buy once, some come back for 2 to 10. */
	if (c->buyer) {
		int n = gen_chance(r, 0.62) ? 1 : 2 + gen_run(r, 0.6, 8);
		for (int i = 0; i < n && t < c->g->end_ms; i++) {
			t = gen_session(c, t, ch, true, arrived);
			arrived = false;
			int after = gen_run(r, 0.35, 2);
			for (int j = 0; j < after; j++) {
				t = gen_later(c, t, 5);
				t = gen_session(c, t, gen_return_channel(c),
				        false, false);
			}
			t = gen_later(c, t, 6 + 20 * (1 - c->engagement));
			ch = gen_return_channel(c);
		}
		/* A few cancel; some of those are won back later. */
		if (c->orders > 0 && gen_chance(r, 0.08)) {
			int64_t at = c->last_purchase_at
			        + (int64_t) ((1 + gen_expo(r, 12))
			                * GEN_DAY_MS);
			if (at > t) {
				t = at;
			}
			struct gen_event *e = gen_add(c, at, CANCELLATION,
			        gen_chance(r, 0.5) ? SUPPORT : DIRECT);
			if (e != NULL) {
				e->prop = PROP_CANCEL;
				e->arg = gen_below(r, 4);
				if (gen_chance(r, 0.3)) {
					t = gen_later(c, at, 20);
					t = gen_session(
					        c, t, EMAIL, true, false);
				}
			}
		}
	}
	gen_afterlife(c, first, t < first ? first : t);
}

/*
 * Sorts the touchpoints by time (stable: causes stay before effects at
 * equal times), then makes the times distinct: a tie moves the later one
 * 1 ms on, and if that pushes past the end, the tail is walked back from
 * end - 1 ms. A customer has far fewer touchpoints than the span has ms, so
 * this never leaves [start, end).
 */
static void
gen_sort(struct gen_cust *c)
{
	struct gen_event *ev = c->ev;
	for (int i = 1; i < c->n; i++) {
		struct gen_event e = ev[i];
		int j = i;
		while (j > 0 && ev[j - 1].t > e.t) {
			ev[j] = ev[j - 1];
			j--;
		}
		ev[j] = e;
	}
	for (int i = 1; i < c->n; i++) {
		if (ev[i].t <= ev[i - 1].t) {
			ev[i].t = ev[i - 1].t + 1;
		}
	}
	int64_t limit = c->g->end_ms - 1;
	for (int i = c->n - 1; i >= 0 && ev[i].t > limit; i--) {
		ev[i].t = limit--;
	}
}

static void
gen_write_event(struct gen *g, struct gen_cust *c, struct gen_out *o,
        const struct gen_event *e, bool first)
{
	gen_out_str(o, "{\"eventId\":\"g");
	gen_out_uint(o, g->seed, 1);
	gen_out_char(o, '-');
	gen_out_uint(o, ++g->counter, 6);
	gen_out_str(o, "\",\"customerId\":\"c");
	gen_out_uint(o, c->idx, 6);
	gen_out_str(o, "\",\"type\":\"");
	gen_out_str(o, gen_type_names[e->type]);
	gen_out_char(o, '"');
	/*
	 * Some touchpoints come without a channel (a tracker that did not know
	 * it). Never the first, so the acquisition channel stays meaningful.
	 */
	enum gen_channel ch = (enum gen_channel) e->channel;
	if (!first && gen_chance(&c->r, 0.03)) {
		ch = NO_CHANNEL;
	}
	if (ch != NO_CHANNEL) {
		gen_out_str(o, ",\"channel\":\"");
		gen_out_str(o, gen_channel_names[ch]);
		gen_out_char(o, '"');
	}
	gen_out_str(o, ",\"occurredAtMs\":\"");
	gen_out_int(o, e->t);
	gen_out_char(o, '"');
	if (e->item != 0) {
		gen_out_str(o, ",\"itemId\":\"sku-");
		gen_out_uint(o, (uint64_t) e->item, 1);
		gen_out_char(o, '"');
	}
	if (e->value != 0) {
		gen_out_str(o, ",\"value\":");
		gen_out_fixed(o, e->value, 2);
		gen_out_str(o, ",\"currency\":\"USD\"");
	}
	if (e->duration_s != 0) {
		gen_out_str(o, ",\"durationS\":");
		gen_out_uint(o, e->duration_s, 1);
	}
	if (e->sentiment != 0) {
		gen_out_str(o, ",\"sentiment\":");
		gen_out_fixed(o, e->sentiment, 2);
	}
	if (e->located) {
		gen_out_str(o, ",\"location\":{\"lat\":");
		gen_out_fixed(o, e->lat, 5);
		gen_out_str(o, ",\"lon\":");
		gen_out_fixed(o, e->lon, 5);
		gen_out_char(o, '}');
	}
	if (e->campaign && ch != NO_CHANNEL) {
		char name[40];
		gen_campaign(gen_floor_div(e->t, GEN_DAY_MS), ch, name,
		        sizeof(name));
		if (name[0] != '\0') {
			gen_out_str(o, ",\"campaign\":\"");
			gen_out_str(o, name);
			gen_out_char(o, '"');
		}
	}
	switch ((enum gen_prop) e->prop) {
	case PROP_NONE:
		break;
	case PROP_PATH:
		gen_out_str(o, ",\"properties\":{\"path\":\"");
		gen_out_str(o, gen_paths[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_PRODUCT:
		gen_out_str(o, ",\"properties\":{\"path\":\"/products/sku-");
		gen_out_uint(o, (uint64_t) e->item, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_CONTENT:
		gen_out_str(o, ",\"properties\":{\"contentId\":\"post-");
		gen_out_uint(o, e->arg, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_ORDER:
		gen_out_str(o, ",\"properties\":{\"orderId\":\"o");
		gen_out_uint(o, c->idx, 6);
		gen_out_char(o, '-');
		gen_out_uint(o, e->arg, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_TOPIC:
		gen_out_str(o, ",\"properties\":{\"topic\":\"");
		gen_out_str(o, gen_topics[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_BILLING:
		gen_out_str(o, ",\"properties\":{\"reason\":\"");
		gen_out_str(o, gen_billing_reasons[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_STORE:
		gen_out_str(o, ",\"properties\":{\"storeId\":\"store-");
		gen_out_uint(o, e->arg, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_CANCEL:
		gen_out_str(o, ",\"properties\":{\"reason\":\"");
		gen_out_str(o, gen_cancel_reasons[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_LIMIT:
		gen_out_str(o, ",\"properties\":{\"limit\":\"");
		gen_out_str(o, gen_limits[e->arg]);
		gen_out_str(o, "\"}");
		break;
	}
	gen_out_char(o, '}');
	gen_out_endline(o);
}

/* Generates customer idx and writes its touchpoints. */
static void
gen_customer(
        struct gen *g, struct gen_cust *c, uint64_t idx, struct gen_out *o)
{
	memset(c, 0, offsetof(struct gen_cust, ev));
	c->g = g;
	c->idx = idx;
	gen_rng_init(&c->r, g->seed, STREAM_CUSTOMER, idx);
	gen_journey(c);
	gen_sort(c);
	bool bought = false;
	for (int i = 0; i < c->n; i++) {
		const struct gen_event *e = &c->ev[i];
		gen_write_event(g, c, o, e, i == 0);
		g->type_count[e->type]++;
		bought |= e->type == PURCHASE;
	}
	g->buyers += bought;
	if (c->n > 0) {
		if (g->min_t == 0 || c->ev[0].t < g->min_t) {
			g->min_t = c->ev[0].t;
		}
		if (c->ev[c->n - 1].t > g->max_t) {
			g->max_t = c->ev[c->n - 1].t;
		}
	}
}

static void
gen_write_catalog(const struct gen *g, struct gen_out *o)
{
	for (uint32_t k = 1; k <= g->items; k++) {
		struct gen_item it;
		gen_item_get(g, k, &it);
		gen_out_str(o, "{\"itemId\":\"sku-");
		gen_out_uint(o, k, 1);
		gen_out_str(o, "\",\"name\":\"");
		gen_out_str(o, it.adjective);
		gen_out_char(o, ' ');
		gen_out_str(o, it.noun);
		gen_out_str(o, "\",\"category\":\"");
		gen_out_str(o, it.category);
		gen_out_str(o, "\",\"price\":");
		gen_out_fixed(o, it.price, 2);
		if (it.upgrade_to != 0) {
			gen_out_str(o, ",\"upgradeTo\":\"sku-");
			gen_out_uint(o, it.upgrade_to, 1);
			gen_out_char(o, '"');
		}
		gen_out_char(o, '}');
		gen_out_endline(o);
	}
	/* The stores that STORE_VISITs name, for GEO_OFFER. */
	for (int i = 0; i < GEN_N_CITIES; i++) {
		gen_out_str(o, "{\"storeId\":\"store-");
		gen_out_uint(o, (uint64_t) i + 1, 1);
		gen_out_str(o, "\",\"name\":\"");
		gen_out_str(o, gen_cities[i].name);
		gen_out_str(o, "\",\"location\":{\"lat\":");
		gen_out_fixed(o, gen_cities[i].lat, 5);
		gen_out_str(o, ",\"lon\":");
		gen_out_fixed(o, gen_cities[i].lon, 5);
		gen_out_str(o, "},\"radiusM\":500,\"discountPct\":");
		gen_out_uint(o, i % 2 == 0 ? 10 : 15, 1);
		gen_out_char(o, '}');
		gen_out_endline(o);
	}
}

/*
 * Daily spend per paid channel, in line with the traffic that channel
 * brings (gen_day_weight): a fixed daily budget plus a cost per acquired
 * customer, with noise, doubled for ads over Black Friday.
 */
static void
gen_write_spend(const struct gen *g, struct gen_out *o)
{
	for (int64_t day = g->first_day; day <= g->last_day; day++) {
		double per_day = (double) g->customers * gen_day_weight(g, day)
		        / g->weight_sum;
		for (size_t i = 0; i < sizeof(gen_spend_channels)
		                / sizeof(gen_spend_channels[0]);
		        i++) {
			enum gen_channel ch = gen_spend_channels[i];
			struct gen_rng r;
			gen_rng_init(&r, g->seed, STREAM_SPEND,
			        (uint64_t) day * 16 + (uint64_t) ch);
			double cents;
			switch (ch) {
			case PAID_ADS:
				cents = 2500 + per_day * 0.28 * 450;
				break;
			case ORGANIC_SOCIAL:
				cents = 1000 + per_day * 0.14 * 0.4 * 300;
				break;
			default:
				cents = 1500 + per_day * 30;
				break;
			}
			if (ch != EMAIL && gen_black_friday(day)) {
				cents *= 2;
			}
			cents *= 0.8 + 0.4 * gen_unit(&r);
			char name[40];
			gen_campaign(day, ch, name, sizeof(name));
			gen_out_str(o, "{\"channel\":\"");
			gen_out_str(o, gen_channel_names[ch]);
			gen_out_str(o, "\",\"dayMs\":\"");
			gen_out_int(o, day * GEN_DAY_MS);
			gen_out_str(o, "\",\"amount\":");
			gen_out_fixed(o, (int64_t) cents, 2);
			gen_out_str(
			        o, ",\"currency\":\"USD\",\"campaign\":\"");
			gen_out_str(o, name);
			gen_out_str(o, "\"}");
			gen_out_endline(o);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static const char gen_usage_text[]
        = "usage: clm-gen [options]\n"
          "\n"
          "Writes realistic customer journeys as NDJSON, one "
          "clm.v1.Touchpoint per line\n"
          "(proto3 JSON, as `clm track` and `clm import` read). The output "
          "is a pure\n"
          "function of the options.\n"
          "\n"
          "  --seed N        random seed (default 1)\n"
          "  --customers N   customers to generate (default 1000)\n"
          "  --days D        span of history in days (default 90)\n"
          "  --end DATE      end of the history, exclusive: YYYY-MM-DD "
          "(00:00 UTC) or\n"
          "                  unix ms (default today 00:00 UTC); events lie "
          "in\n"
          "                  [end - days, end)\n"
          "  --out FILE      touchpoints to FILE (default standard output, "
          "also -)\n"
          "  --spend FILE    also write daily spend of PAID_ADS, "
          "ORGANIC_SOCIAL and EMAIL\n"
          "                  as NDJSON of clm.v1.Spend\n"
          "  --items N       catalog size (default 50)\n"
          "  --catalog FILE  also write the catalog as NDJSON of "
          "clm.v1.Item, then the\n"
          "                  clm.v1.Store lines the STORE_VISITs name\n"
          "  --quiet         no summary on standard error\n"
          "  --help          this text\n"
          "\n"
          "exit codes: 0 ok, 1 cannot write, 2 usage error\n";

enum gen_opt_kind { OPT_UINT, OPT_STR, OPT_FLAG, OPT_HELP };

/* The options, as data: one parser does every check. */
static const struct gen_opt {
	const char *name;
	enum gen_opt_kind kind;
	uint64_t min, max; /* OPT_UINT */
	size_t field;      /* offsetof in struct gen */
} gen_opts[] = {
	{ "seed", OPT_UINT, 0, UINT64_MAX, offsetof(struct gen, seed) },
	{ "customers", OPT_UINT, 1, 100000000,
	        offsetof(struct gen, customers) },
	{ "days", OPT_UINT, 1, 36500, offsetof(struct gen, days) },
	{ "items", OPT_UINT, 1, 1000000, offsetof(struct gen, items) },
	{ "end", OPT_STR, 0, 0, offsetof(struct gen, end_arg) },
	{ "out", OPT_STR, 0, 0, offsetof(struct gen, out_path) },
	{ "spend", OPT_STR, 0, 0, offsetof(struct gen, spend_path) },
	{ "catalog", OPT_STR, 0, 0, offsetof(struct gen, catalog_path) },
	{ "quiet", OPT_FLAG, 0, 0, offsetof(struct gen, quiet) },
	{ "help", OPT_HELP, 0, 0, 0 },
};

/* Says what is wrong with the command line; returns the exit code. */
static int gen_usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

static int
gen_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("clm-gen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\ntry 'clm-gen --help'\n", stderr);
	va_end(ap);
	return GEN_EXIT_USAGE;
}

/* Digits only, no sign or spaces, no overflow. */
static bool
gen_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0') {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		unsigned d = (unsigned) (*s - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* YYYY-MM-DD (00:00 UTC) or unix ms. */
static bool
gen_parse_end(const char *s, int64_t *ms)
{
	uint64_t v;
	if (gen_parse_uint(s, &v)) {
		if (v > (uint64_t) INT64_MAX / 2) {
			return false;
		}
		*ms = (int64_t) v;
		return true;
	}
	int y, m, d;
	char tail;
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-'
	        || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) {
		return false;
	}
	for (int i = 0; i < 10; i++) {
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
			return false;
		}
	}
	static const int mdays[12]
	        = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1]
	        || (m == 2 && d == 29 && !leap)) {
		return false;
	}
	*ms = gen_days_from_civil(y, m, d) * GEN_DAY_MS;
	return true;
}

/* Returns -1 to go on, or an exit code. */
static int
gen_parse_args(struct gen *g, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0) {
			a = "--help";
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			return gen_usage_error("unexpected argument '%s'", a);
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq != NULL ? (size_t) (eq - name) : strlen(name);
		const struct gen_opt *opt = NULL;
		for (size_t k = 0; k < sizeof(gen_opts) / sizeof(gen_opts[0]);
		        k++) {
			if (strlen(gen_opts[k].name) == len
			        && strncmp(gen_opts[k].name, name, len) == 0) {
				opt = &gen_opts[k];
			}
		}
		if (opt == NULL) {
			return gen_usage_error("unknown option '%s'", a);
		}
		char *field = (char *) g + opt->field;
		if (opt->kind == OPT_HELP || opt->kind == OPT_FLAG) {
			if (eq != NULL) {
				return gen_usage_error(
				        "option '--%s' takes no value",
				        opt->name);
			}
			if (opt->kind == OPT_HELP) {
				fputs(gen_usage_text, stdout);
				return GEN_EXIT_OK;
			}
			*(bool *) field = true;
			continue;
		}
		const char *value = eq != NULL ? eq + 1 : NULL;
		if (value == NULL) {
			if (i + 1 == argc) {
				return gen_usage_error(
				        "option '--%s' needs a value",
				        opt->name);
			}
			value = argv[++i];
		}
		if (opt->kind == OPT_STR) {
			if (*value == '\0') {
				return gen_usage_error(
				        "option '--%s' needs a value",
				        opt->name);
			}
			*(const char **) field = value;
			continue;
		}
		uint64_t v;
		if (!gen_parse_uint(value, &v) || v < opt->min
		        || v > opt->max) {
			return gen_usage_error(
			        "invalid --%s '%s': want a whole "
			        "number from %llu to %llu",
			        opt->name, value,
			        (unsigned long long) opt->min,
			        (unsigned long long) opt->max);
		}
		*(uint64_t *) field = v;
	}

	/* The time window. */
	int64_t now_ms = (int64_t) time(NULL) * 1000;
	if (g->end_arg == NULL) {
		g->end_ms = gen_floor_div(now_ms, GEN_DAY_MS) * GEN_DAY_MS;
	} else if (!gen_parse_end(g->end_arg, &g->end_ms)) {
		return gen_usage_error(
		        "invalid --end '%s': want YYYY-MM-DD or "
		        "unix milliseconds",
		        g->end_arg);
	}
	g->start_ms = g->end_ms - (int64_t) g->days * GEN_DAY_MS;
	if (g->start_ms < GEN_MIN_MS) {
		return gen_usage_error(
		        "--end minus --days is before 2000-01-01, "
		        "which clmd rejects");
	}
	if (g->end_ms > now_ms + GEN_DAY_MS) {
		return gen_usage_error("--end '%s' is more than 24 h in the "
		                       "future, which clmd rejects",
		        g->end_arg);
	}
	return -1;
}

static void
gen_summary(const struct gen *g, double seconds)
{
	char from[32], to[32], first[32], last[32];
	gen_format_time(g->start_ms, from, sizeof(from));
	gen_format_time(g->end_ms, to, sizeof(to));
	gen_format_time(g->min_t, first, sizeof(first));
	gen_format_time(g->max_t, last, sizeof(last));
	fprintf(stderr,
	        "clm-gen: %llu customers, %llu touchpoints, %llu purchases by "
	        "%llu customers (%.1f %%), window [%s, %s) %llu days, events "
	        "%s .. %s, %.1f s\n",
	        (unsigned long long) g->customers,
	        (unsigned long long) g->counter,
	        (unsigned long long) g->type_count[PURCHASE],
	        (unsigned long long) g->buyers,
	        100.0 * (double) g->buyers / (double) g->customers, from, to,
	        (unsigned long long) g->days, first, last, seconds);
}

int
main(int argc, char **argv)
{
	struct gen g;
	memset(&g, 0, sizeof(g));
	g.seed = 1;
	g.customers = 1000;
	g.days = 90;
	g.items = 50;
	g.out_path = "-";
	int rc = gen_parse_args(&g, argc, argv);
	if (rc >= 0) {
		return rc;
	}
	g.first_day = gen_floor_div(g.start_ms, GEN_DAY_MS);
	g.last_day = gen_floor_div(g.end_ms - 1, GEN_DAY_MS);
	for (int64_t d = g.first_day; d <= g.last_day; d++) {
		double w = gen_day_weight(&g, d);
		g.weight_sum += w;
		if (w > g.weight_max) {
			g.weight_max = w;
		}
	}

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct gen_out out, spend, catalog;
	memset(&spend, 0, sizeof(spend));
	memset(&catalog, 0, sizeof(catalog));
	struct gen_cust *c = malloc(sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "clm-gen: out of memory\n");
		return GEN_EXIT_IO;
	}
	if (gen_out_open(&out, g.out_path) != 0) {
		free(c);
		return GEN_EXIT_IO;
	}
	rc = GEN_EXIT_OK;
	if (g.catalog_path != NULL) {
		if (gen_out_open(&catalog, g.catalog_path) != 0) {
			rc = GEN_EXIT_IO;
			goto done;
		}
		gen_write_catalog(&g, &catalog);
	}
	if (g.spend_path != NULL) {
		if (gen_out_open(&spend, g.spend_path) != 0) {
			rc = GEN_EXIT_IO;
			goto done;
		}
		gen_write_spend(&g, &spend);
	}
	for (uint64_t i = 1; i <= g.customers && out.err == 0; i++) {
		gen_customer(&g, c, i, &out);
	}
done:
	/* Close all three, whichever fails. */
	if (gen_out_close(&out) != 0) {
		rc = GEN_EXIT_IO;
	}
	if (gen_out_close(&spend) != 0) {
		rc = GEN_EXIT_IO;
	}
	if (gen_out_close(&catalog) != 0) {
		rc = GEN_EXIT_IO;
	}
	free(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == GEN_EXIT_OK && !g.quiet) {
		gen_summary(&g,
		        (double) (t1.tv_sec - t0.tv_sec)
		                + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	return rc;
}
