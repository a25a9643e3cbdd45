/*
 * gen: the parts of clm-gen, the seeded journey generator (see main.c for
 * what it writes and why it is built the way it is).
 *
 *   rng.c       splitmix64 streams, distributions, and the logarithm and
 *               exponential of our own that keep the output bit-exact
 *   calendar.c  UTC days and dates, Black Friday, campaign names
 *   journey.c   the catalog and the customer model: one customer's
 *               touchpoints, built, sorted and made distinct in time
 *   emit.c      the buffered NDJSON writer, and the touchpoint, catalog
 *               and spend lines
 *   main.c      the command line, the run and the summary
 *
 * Everything here is single-threaded; nothing is allocated but the output
 * buffers (gen_out_open) and the one customer main allocates.
 */
#ifndef CLM_GEN_H
#define CLM_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GEN_DAY_MS     86400000LL
#define GEN_MAX_EVENTS 1024 /* per customer; far above need */
#define GEN_N_TYPES    28
#define GEN_N_CITIES   8

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

/*
 * Where customers live, and the one store in each city (store-1 is in the
 * first city). Coordinates in 1e-5 degrees. Defined in journey.c.
 */
struct gen_city {
	const char *name;
	int32_t lat, lon;
};

extern const struct gen_city gen_cities[GEN_N_CITIES];

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

/* ------------------------------------------------------------------ */
/* Random numbers and deterministic math (rng.c)                       */
/* ------------------------------------------------------------------ */

struct gen_rng {
	uint64_t s;
};

/*
 * gen_rng_init starts r as the stream of (seed, stream, index): the same
 * three always give the same numbers, and different ones unrelated numbers.
 */
void gen_rng_init(struct gen_rng *r, uint64_t seed, enum gen_stream stream,
        uint64_t index);

/* gen_unit returns a double in [0, 1). */
double gen_unit(struct gen_rng *r);

/* gen_below returns an integer in [0, n), for 0 < n < 2^32. */
uint32_t gen_below(struct gen_rng *r, uint32_t n);

/* gen_range returns an integer in [lo, hi]; hi - lo < 2^32 - 1. */
int64_t gen_range(struct gen_rng *r, int64_t lo, int64_t hi);

/* gen_chance returns true with probability p. */
bool gen_chance(struct gen_rng *r, double p);

/*
 * gen_run returns how many of up to max trials in a row succeed with
 * probability p.
 */
int gen_run(struct gen_rng *r, double p, int max);

/*
 * gen_pick returns an index in [0, n) chosen by the integer weights
 * weight[0..n), whose sum must be positive.
 */
int gen_pick(struct gen_rng *r, const int *weight, int n);

/* gen_expo returns an exponential variate with the given mean. */
double gen_expo(struct gen_rng *r, double mean);

/* gen_lognormal returns a lognormal variate with the given median. */
double gen_lognormal(struct gen_rng *r, double median, double sigma);

/* gen_loguniform returns x^u for x >= 1: log-uniform between 1 and x. */
double gen_loguniform(struct gen_rng *r, double x);

/* ------------------------------------------------------------------ */
/* Calendar (calendar.c)                                               */
/* ------------------------------------------------------------------ */

/* gen_floor_div returns a / b rounded toward minus infinity; b != 0. */
int64_t gen_floor_div(int64_t a, int64_t b);

/* gen_weekday returns the weekday of a day, 0 = Sunday. */
int gen_weekday(int64_t day);

/*
 * gen_black_friday tells whether day lies between Thanksgiving Thursday and
 * Cyber Monday, the Black Friday campaign.
 */
bool gen_black_friday(int64_t day);

/*
 * gen_campaign writes into buf (len bytes; 40 is enough) the campaign
 * running on channel ch on a UTC day, or "" when the channel has none.
 */
void gen_campaign(int64_t day, enum gen_channel ch, char *buf, size_t len);

/*
 * gen_format_time writes ms as "2026-01-02T03:04:05Z" into buf (len
 * bytes; 32 is enough).
 */
void gen_format_time(int64_t ms, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* The catalog and the customer model (journey.c)                      */
/* ------------------------------------------------------------------ */

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

struct gen_item {
	int64_t price; /* cents */
	const char *adjective, *noun, *category;
	uint32_t upgrade_to; /* 0 = none */
};

/*
 * gen_item_get fills in catalog item k (1 .. g->items), a function of the
 * seed and k only. The strings are static.
 */
void gen_item_get(const struct gen *g, uint32_t k, struct gen_item *it);

/*
 * gen_day_weight returns how many customers are first seen on a day,
 * relative to the other days of g's window (g->first_day and g->last_day
 * set). Spend follows the same curve.
 */
double gen_day_weight(const struct gen *g, int64_t day);

/*
 * gen_journey builds the touchpoints of the customer in c (c->g, c->idx
 * and c->r set, the rest zero) into c->ev, unsorted.
 */
void gen_journey(struct gen_cust *c);

/*
 * gen_sort sorts c's touchpoints by time, then makes the times distinct
 * while keeping them in [start, end).
 */
void gen_sort(struct gen_cust *c);

/* ------------------------------------------------------------------ */
/* Output (emit.c)                                                     */
/* ------------------------------------------------------------------ */

/* A buffered writer of hand-made JSON. */
struct gen_out {
	FILE *f;
	const char *path; /* for messages; "-" is standard output */
	char *buf;
	size_t len;
	int err; /* errno of the first failed write, 0 if none */
	uint64_t lines;
};

/*
 * gen_out_open creates path for writing ("-" is standard output) into o.
 * Returns 0, or -1 after saying on standard error what failed (then o
 * holds nothing to close). A zeroed gen_out may be closed too.
 */
int gen_out_open(struct gen_out *o, const char *path);

/*
 * gen_out_close flushes and closes o and frees its buffer. Returns 0, or
 * -1 after saying what failed, including any earlier failed write.
 */
int gen_out_close(struct gen_out *o);

/*
 * gen_customer generates customer idx (1-based) into c, which it
 * overwrites, and writes its touchpoints to o, counting them in g.
 */
void gen_customer(
        struct gen *g, struct gen_cust *c, uint64_t idx, struct gen_out *o);

/*
 * gen_write_catalog writes the g->items catalog items (clm.v1.Item) and
 * then the stores (clm.v1.Store) to o.
 */
void gen_write_catalog(const struct gen *g, struct gen_out *o);

/*
 * gen_write_spend writes a clm.v1.Spend line per day of g's window for
 * PAID_ADS, ORGANIC_SOCIAL and EMAIL to o (g->weight_sum set).
 */
void gen_write_spend(const struct gen *g, struct gen_out *o);

#endif /* CLM_GEN_H */
