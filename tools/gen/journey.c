/*
 * journey: clm-gen's customer model. The catalog (each item a function of
 * the seed and its number), when customers are first seen, and one
 * customer's journey: an acquisition channel, browsing sessions, for some
 * a purchase or several, and around them the after-life (onboarding,
 * newsletters, app use, store visits, support, refunds, reviews,
 * referrals, mentions, feedback and cancellations).
 *
 * A journey is simulated forward from the customer's first-seen time and
 * whatever would happen at or after the end of the history is dropped
 * (gen_add); since effects come strictly after their causes, a dropped
 * cause never leaves its effect behind.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gen.h"

#define GEN_N_CATS 8

/*
 * Where customers live, and the one store in each city (store-1 is in the
 * first city). Coordinates in 1e-5 degrees.
 */
const struct gen_city gen_cities[GEN_N_CITIES] = {
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

/* Fractions of an hour's traffic by UTC hour, for session start times. */
static const int gen_hour_weight[24] = { 3, 2, 1, 1, 1, 2, 3, 5, 7, 8, 8, 8, 9,
	9, 8, 8, 8, 8, 9, 10, 10, 9, 7, 5 };

/* ---- catalog ---- */

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
void
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
double
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
void
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
void
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
