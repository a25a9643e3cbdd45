/*
 * Unit tests of server/agg.c: day numbers and DAY/WEEK/MONTH periods
 * against the C library's own calendar (timegm, gmtime_r), a customer's
 * contributions (agg_customer) for hand-built profiles against the key
 * layout of agg.h written out byte by byte, and agg_apply_diff / agg_touch
 * on a temporary store (opened inside each test: Criterion forks, and
 * LMDB must not be opened before the fork).
 */
#define _DEFAULT_SOURCE /* timegm */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agg.h"
#include "arena.h"
#include "hll.h"
#include "model.h"
#include "store.h"
#include "testdir.h"

#define DAY  MODEL_DAY_MS
#define HOUR (3600 * 1000LL)

/* Channels (clm.v1.Channel). */
#define CH_NONE     CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED
#define CH_DIRECT   CLM__V1__CHANNEL__DIRECT
#define CH_PAID     CLM__V1__CHANNEL__PAID_ADS
#define CH_SEARCH   CLM__V1__CHANNEL__ORGANIC_SEARCH
#define CH_EMAIL    CLM__V1__CHANNEL__EMAIL
#define CH_REFERRAL CLM__V1__CHANNEL__REFERRAL_LINK
#define CH_STORE    CLM__V1__CHANNEL__STORE
#define CH_SUPPORT  CLM__V1__CHANNEL__SUPPORT
#define CH_SMS      CLM__V1__CHANNEL__SMS

/* ---------------------------------------------------------------------- */
/* Calendar helpers (the C library's, independent of agg.c)               */

static int64_t
utc_ms(int y, int mo, int d, int h, int mi)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1; /* timegm normalises 13 to January next year */
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t) timegm(&tm) * 1000;
}

static uint32_t
utc_day(int y, int mo, int d)
{
	return (uint32_t) (utc_ms(y, mo, d, 0, 0) / DAY);
}

static void
day_tm(uint32_t day, struct tm *tm)
{
	time_t t = (time_t) day * 86400;
	cr_assert_not_null(gmtime_r(&t, tm));
}

/* ---------------------------------------------------------------------- */
/* agg_day                                                                */

Test(agg, day_numbers)
{
	cr_assert_eq(agg_day(0), 0);
	cr_assert_eq(agg_day(1), 0);
	cr_assert_eq(agg_day(DAY - 1), 0);
	cr_assert_eq(agg_day(DAY), 1);
	cr_assert_eq(agg_day(-1), 0, "before 1970: day 0");
	cr_assert_eq(agg_day(INT64_MIN), 0);
	int64_t leap = utc_ms(2024, 2, 29, 0, 0);
	cr_assert_eq(agg_day(leap), 19782); /* python3: date(2024,2,29) */
	cr_assert_eq(agg_day(leap), utc_day(2024, 2, 29));
	cr_assert_eq(agg_day(leap + DAY - 1), utc_day(2024, 2, 29));
	cr_assert_eq(agg_day(leap + DAY), utc_day(2024, 3, 1));
	cr_assert_eq(agg_day(utc_ms(2000, 1, 1, 12, 0)), 10957);
}

/* ---------------------------------------------------------------------- */
/* Periods                                                                */

Test(agg, periods_against_gmtime)
{
	/* Every day from 1999-12-01 to 2040-01-01. */
	uint32_t first = utc_day(1999, 12, 1), last = utc_day(2040, 1, 1);
	for (uint32_t d = first; d <= last; d++) {
		struct tm tm;
		day_tm(d, &tm);

		cr_assert_eq(agg_period(AGG_GRAN_DAY, d), d);
		cr_assert_eq(agg_period_start(AGG_GRAN_DAY, d), d);
		cr_assert_eq(agg_period_next(AGG_GRAN_DAY, d), d + 1);

		/* ISO weeks start on Monday (tm_wday 1). */
		uint32_t monday = d - (uint32_t) ((tm.tm_wday + 6) % 7);
		uint32_t w = agg_period(AGG_GRAN_WEEK, d);
		cr_assert_eq(w, monday, "week of day %u", d);
		cr_assert_eq(agg_period_start(AGG_GRAN_WEEK, w), monday);
		cr_assert_eq(agg_period_next(AGG_GRAN_WEEK, w), monday + 7);

		int y = tm.tm_year + 1900, m = tm.tm_mon + 1;
		uint32_t mp = agg_period(AGG_GRAN_MONTH, d);
		cr_assert_eq(
		        mp, (uint32_t) (y * 12 + m - 1), "month of %u", d);
		cr_assert_eq(agg_period_start(AGG_GRAN_MONTH, mp),
		        d - (uint32_t) (tm.tm_mday - 1), "first of %d-%d", y,
		        m);
		uint32_t next = agg_period_next(AGG_GRAN_MONTH, mp);
		cr_assert_eq(agg_period_start(AGG_GRAN_MONTH, next),
		        utc_day(y, m + 1, 1), "first after %d-%d", y, m);
	}
}

Test(agg, weeks_named_days)
{
	uint32_t mon = utc_day(2024, 1, 1); /* a Monday */
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, mon), mon);
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, utc_day(2024, 1, 7)), mon,
	        "Sunday 2024-01-07 is in the week of Monday 2024-01-01");
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, utc_day(2024, 1, 8)), mon + 7);
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, utc_day(2024, 2, 29)),
	        utc_day(2024, 2, 26));
	/* ISO week 53 of 2020 runs from Monday 2020-12-28 to 2021-01-03. */
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, utc_day(2021, 1, 3)),
	        utc_day(2020, 12, 28));
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, utc_day(2021, 1, 4)),
	        utc_day(2021, 1, 4));
}

Test(agg, months_named_days)
{
	uint32_t jan = 2024 * 12, feb = jan + 1, dec = jan + 11;
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2024, 1, 1)), jan);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2024, 1, 31)), jan);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2024, 2, 1)), feb);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2024, 2, 29)), feb);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2024, 3, 1)), feb + 1);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2024, 12, 31)), dec);
	cr_assert_eq(
	        agg_period_start(AGG_GRAN_MONTH, feb), utc_day(2024, 2, 1));
	cr_assert_eq(
	        agg_period_start(AGG_GRAN_MONTH, dec), utc_day(2024, 12, 1));
	cr_assert_eq(agg_period_next(AGG_GRAN_MONTH, dec), 2025 * 12);
	cr_assert_eq(agg_period_start(AGG_GRAN_MONTH, 2025 * 12),
	        utc_day(2025, 1, 1));
	/* Century rules: 2000 was a leap year, 2100 is not. */
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2000, 2, 29)),
	        2000 * 12 + 1);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2100, 2, 28)),
	        2100 * 12 + 1);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, utc_day(2100, 3, 1)),
	        2100 * 12 + 2);
	cr_assert_eq(agg_period_start(AGG_GRAN_MONTH, 2100 * 12 + 2),
	        utc_day(2100, 3, 1));
}

/*
 * Near day 0. 1970-01-01 was a Thursday, so days 0..3 belong to the week
 * of Monday 1969-12-29, day -3, which no uint32_t holds: agg_period
 * returns it modulo 2^32 (UINT32_MAX - 2), and agg_period_next of that
 * wraps to day 4, Monday 1970-01-05. The arithmetic is consistent modulo
 * 2^32, but agg_period_start returns UINT32_MAX - 2, which is not a day:
 * a caller comparing starts with days sees that week as the last of all.
 * Event times before 2000 are rejected (VALIDATE_MIN_TIME_MS), so only a
 * query bound can land there. Months have no such edge: day 0 is January
 * 1970 and its start is day 0.
 */
Test(agg, periods_near_day_zero)
{
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, 4), 4, "1970-01-05, a Monday");
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, 10), 4);
	cr_assert_eq(agg_period(AGG_GRAN_WEEK, 11), 11);
	for (uint32_t d = 0; d < 4; d++) {
		uint32_t w = agg_period(AGG_GRAN_WEEK, d);
		cr_assert_eq(w, (uint32_t) -3, "day %u: week %u", d, w);
		cr_assert_eq(agg_period_next(AGG_GRAN_WEEK, w), 4);
		cr_assert_eq(
		        agg_period_start(AGG_GRAN_WEEK, w), (uint32_t) -3);
	}
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, 0), 1970 * 12);
	cr_assert_eq(agg_period_start(AGG_GRAN_MONTH, 1970 * 12), 0);
	cr_assert_eq(agg_period(AGG_GRAN_MONTH, 31), 1970 * 12 + 1);
	cr_assert_eq(agg_period(AGG_GRAN_DAY, 0), 0);
}

/* ---------------------------------------------------------------------- */
/* Expected contributions, built from agg.h's key layout                  */

struct want {
	unsigned char key[AGG_KEY_MAX];
	size_t klen;
	int64_t v[4];
};

struct wants {
	struct want w[64];
	size_t n;
};

static void
be32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (unsigned char) (v >> (24 - 8 * i));
	}
}

static struct want *
want_new(struct wants *ws)
{
	cr_assert_lt(ws->n, sizeof(ws->w) / sizeof(ws->w[0]));
	struct want *w = &ws->w[ws->n++];
	memset(w, 0, sizeof(*w));
	return w;
}

/* kind stage -> customers, cancelled */
static void
want_stage(struct wants *ws, int stage, int64_t cancelled)
{
	struct want *w = want_new(ws);
	w->key[0] = AGG_STAGE;
	w->key[1] = (unsigned char) stage;
	w->klen = 2;
	w->v[0] = 1;
	w->v[1] = cancelled;
}

/* kind stage day -> 1 (HEALTH, ENTERED, REACHED) */
static void
want_sd(struct wants *ws, int kind, int stage, uint32_t day)
{
	struct want *w = want_new(ws);
	w->key[0] = (unsigned char) kind;
	w->key[1] = (unsigned char) stage;
	be32(w->key + 2, day);
	w->klen = 6;
	w->v[0] = 1;
}

/* kind day -> 1 (SECOND, CANCEL_FP) */
static void
want_d(struct wants *ws, int kind, uint32_t day)
{
	struct want *w = want_new(ws);
	w->key[0] = (unsigned char) kind;
	be32(w->key + 1, day);
	w->klen = 5;
	w->v[0] = 1;
}

/* CONV pair day lag -> 1 */
static void
want_conv(struct wants *ws, int pair, uint32_t day, uint32_t lag)
{
	struct want *w = want_new(ws);
	w->key[0] = AGG_CONV;
	w->key[1] = (unsigned char) pair;
	be32(w->key + 2, day);
	be32(w->key + 6, lag);
	w->klen = 10;
	w->v[0] = 1;
}

/* kind day channel -> v0, v1 (NEWVIS, NEWCUST) */
static void
want_dc(struct wants *ws, int kind, uint32_t day, int ch, int64_t v0,
        int64_t v1)
{
	struct want *w = want_new(ws);
	w->key[0] = (unsigned char) kind;
	be32(w->key + 1, day);
	w->key[5] = (unsigned char) ch;
	w->klen = 6;
	w->v[0] = v0;
	w->v[1] = v1;
}

/* COHORT gran period k -> 1 */
static void
want_cohort(struct wants *ws, int gran, uint32_t period, uint32_t k)
{
	struct want *w = want_new(ws);
	w->key[0] = AGG_COHORT;
	w->key[1] = (unsigned char) gran;
	be32(w->key + 2, period);
	be32(w->key + 6, k);
	w->klen = 10;
	w->v[0] = 1;
}

/* EXP hash64(id) variant(2) -> exposed, converted */
static void
want_exp(struct wants *ws, const char *id, uint32_t variant, int64_t conv)
{
	struct want *w = want_new(ws);
	uint64_t h = hll_hash(id, strlen(id));
	w->key[0] = AGG_EXP;
	be32(w->key + 1, (uint32_t) (h >> 32));
	be32(w->key + 5, (uint32_t) h);
	w->key[9] = (unsigned char) (variant >> 8);
	w->key[10] = (unsigned char) variant;
	w->klen = 11;
	w->v[0] = 1;
	w->v[1] = conv;
}

/* TOTALS -> second purchasers, advocates, cancelled purchasers */
static void
want_totals(struct wants *ws, int64_t second, int64_t adv, int64_t canc)
{
	struct want *w = want_new(ws);
	w->key[0] = AGG_TOTALS;
	w->klen = 1;
	w->v[0] = second;
	w->v[1] = adv;
	w->v[2] = canc;
}

/* LMDB's default order: bytes, then the shorter key first. */
static int
key_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c != 0 ? c : (an > bn) - (an < bn);
}

static const char *
key_hex(const unsigned char *k, size_t n, char *buf)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(buf + 2 * i, 3, "%02x", k[i]);
	}
	buf[2 * n] = '\0';
	return buf;
}

static bool
all_zero(const int64_t *v)
{
	return v[0] == 0 && v[1] == 0 && v[2] == 0 && v[3] == 0;
}

/*
 * Checks that l is sorted with no key twice, and that it holds exactly
 * the wanted keys with the wanted counters. An entry whose counters are
 * all 0 adds nothing to any aggregate (agg_apply_diff skips it), so it
 * counts as absent: agg_customer lists TOTALS {0, 0, 0} for a buyer with
 * no second purchase, referral or cancellation.
 */
static void
check_list(const struct agg_list *l, const struct wants *ws)
{
	char hex[2 * AGG_KEY_MAX + 1];
	for (size_t i = 1; i < l->n; i++) {
		cr_assert_lt(key_cmp(l->e[i - 1].key, l->e[i - 1].klen,
		                     l->e[i].key, l->e[i].klen),
		        0, "entry %zu (%s) not after the one before", i,
		        key_hex(l->e[i].key, l->e[i].klen, hex));
	}
	size_t live = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct agg_entry *e = &l->e[i];
		if (all_zero(e->v)) {
			continue;
		}
		live++;
		size_t j = 0;
		while (j < ws->n
		        && key_cmp(e->key, e->klen, ws->w[j].key,
		                   ws->w[j].klen)
		                != 0) {
			j++;
		}
		cr_expect_lt(j, ws->n, "unexpected key %s {%lld, %lld, %lld}",
		        key_hex(e->key, e->klen, hex), (long long) e->v[0],
		        (long long) e->v[1], (long long) e->v[2]);
		if (j == ws->n) {
			continue;
		}
		for (int k = 0; k < 4; k++) {
			cr_expect_eq(e->v[k], ws->w[j].v[k],
			        "key %s counter %d: %lld, want %lld",
			        key_hex(e->key, e->klen, hex), k,
			        (long long) e->v[k],
			        (long long) ws->w[j].v[k]);
		}
	}
	for (size_t j = 0; j < ws->n; j++) {
		const struct want *w = &ws->w[j];
		size_t i = 0;
		while (i < l->n
		        && key_cmp(l->e[i].key, l->e[i].klen, w->key, w->klen)
		                != 0) {
			i++;
		}
		cr_expect_lt(i, l->n, "missing key %s",
		        key_hex(w->key, w->klen, hex));
	}
	cr_assert_eq(
	        live, ws->n, "%zu non-zero entries, want %zu", live, ws->n);
}

/* ---------------------------------------------------------------------- */
/* Profiles                                                               */

/* A profile fed touchpoints in event-time order (so nothing to rescan:
 * when a first purchase arrives, no engagement after it is stored yet). */
struct journey {
	struct model_profile p;
	uint64_t seq;
};

static void
journey_init(struct journey *j)
{
	model_profile_init(&j->p);
	j->seq = 0;
}

static void
touch(struct journey *j, int type, int channel, int64_t at)
{
	struct model_touch t = {
		.type = type,
		.channel = channel,
		.at_ms = at,
		.seq = ++j->seq,
		.item_id = "",
		.value_micros = type == MODEL_T_PURCHASE ? 10000000 : 0,
	};
	struct model_rescan r;
	model_apply(&j->p, &t, &r);
}

/* A record with purchase days and assignments (borrowed arrays). */
static void
record_init(Clm__V1__CustomerRecord *rec, uint32_t *days, size_t ndays,
        Clm__V1__ExperimentEntry **xs, size_t nxs)
{
	clm__v1__customer_record__init(rec);
	rec->customer_id = (char *) "c";
	rec->purchase_days = days;
	rec->n_purchase_days = ndays;
	rec->experiments = xs;
	rec->n_experiments = nxs;
}

static void
exp_init(Clm__V1__ExperimentEntry *x, const char *id, uint32_t variant,
        int64_t converted_ms)
{
	clm__v1__experiment_entry__init(x);
	x->experiment_id = (char *) id;
	x->variant = variant;
	x->exposed_ms = utc_ms(2024, 1, 1, 0, 0);
	x->goal = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	x->converted_ms = converted_ms;
}

static void
contributions(const struct model_profile *p,
        const Clm__V1__CustomerRecord *rec, arena *a, struct agg_list *l)
{
	cr_assert_eq(agg_customer(p, rec, a, l), 0);
}

/* ---------------------------------------------------------------------- */
/* agg_customer                                                           */

Test(agg, customer_without_touchpoints)
{
	/* Assigned to an experiment, nothing else (Assign of a new id). */
	arena a;
	arena_init(&a);
	struct journey j;
	journey_init(&j);
	Clm__V1__ExperimentEntry x;
	exp_init(&x, "exp-a", 1, 0);
	Clm__V1__ExperimentEntry *xs[] = { &x };
	Clm__V1__CustomerRecord rec;
	record_init(&rec, NULL, 0, xs, 1);
	struct agg_list l;
	contributions(&j.p, &rec, &a, &l);
	struct wants ws = { .n = 0 };
	want_exp(&ws, "exp-a", 1, 0);
	check_list(&l, &ws);

	/* MESSAGE_SENT alone does not make a customer either. */
	touch(&j, MODEL_T_MESSAGE_SENT, CH_SMS, utc_ms(2024, 5, 1, 0, 0));
	contributions(&j.p, &rec, &a, &l);
	check_list(&l, &ws);
	arena_fini(&a);
}

Test(agg, customer_visitor_without_purchase)
{
	arena a;
	arena_init(&a);
	int64_t t0 = utc_ms(2024, 5, 20, 8, 0); /* a Monday */
	uint32_t d0 = utc_day(2024, 5, 20);
	struct journey j;
	journey_init(&j);
	touch(&j, MODEL_T_MESSAGE_SENT, CH_SMS, t0 - 5 * DAY); /* not seen */
	touch(&j, MODEL_T_SITE_VISIT, CH_PAID, t0);
	touch(&j, MODEL_T_PAGE_VIEW, CH_PAID, t0 + HOUR);
	touch(&j, MODEL_T_CONTENT_VIEW, CH_EMAIL, t0 + 2 * DAY);
	cr_assert_eq(model_stage(&j.p), MODEL_REACH);

	Clm__V1__ExperimentEntry x;
	exp_init(&x, "exp-a", 1, 0);
	Clm__V1__ExperimentEntry *xs[] = { &x };
	Clm__V1__CustomerRecord rec;
	record_init(&rec, NULL, 0, xs, 1);
	struct agg_list l;
	contributions(&j.p, &rec, &a, &l);

	struct wants ws = { .n = 0 };
	want_stage(&ws, MODEL_REACH, 0);
	want_sd(&ws, AGG_HEALTH, MODEL_REACH, d0 + 2); /* last seen */
	want_sd(&ws, AGG_ENTERED, MODEL_REACH, d0);
	want_sd(&ws, AGG_REACHED, MODEL_REACH, d0);
	want_conv(&ws, 0, d0, 0); /* REACH -> ACQUISITION cohort */
	want_conv(&ws, 4, d0, 0); /* REACH -> ADVOCACY cohort */
	want_dc(&ws, AGG_NEWVIS, d0, CH_PAID, 1, 0);
	want_exp(&ws, "exp-a", 1, 0);
	check_list(&l, &ws);
	arena_fini(&a);
}

Test(agg, customer_one_time_buyer)
{
	arena a;
	arena_init(&a);
	int64_t t0 = utc_ms(2024, 3, 14, 10, 0); /* a Thursday */
	int64_t fp = t0 + 3 * DAY + 2 * HOUR;    /* Sunday 2024-03-17 */
	uint32_t d0 = utc_day(2024, 3, 14), dfp = utc_day(2024, 3, 17);
	struct journey j;
	journey_init(&j);
	touch(&j, MODEL_T_SITE_VISIT, CH_SEARCH, t0);
	touch(&j, MODEL_T_PURCHASE, CH_EMAIL, fp);
	cr_assert_eq(model_stage(&j.p), MODEL_ACQUISITION);

	uint32_t days[] = { dfp };
	Clm__V1__CustomerRecord rec;
	record_init(&rec, days, 1, NULL, 0);
	struct agg_list l;
	contributions(&j.p, &rec, &a, &l);

	struct wants ws = { .n = 0 };
	want_stage(&ws, MODEL_ACQUISITION, 0);
	want_sd(&ws, AGG_HEALTH, MODEL_ACQUISITION, dfp);
	want_sd(&ws, AGG_ENTERED, MODEL_REACH, d0);
	want_sd(&ws, AGG_ENTERED, MODEL_ACQUISITION, dfp);
	want_sd(&ws, AGG_REACHED, MODEL_REACH, d0);
	want_sd(&ws, AGG_REACHED, MODEL_ACQUISITION, dfp);
	/* REACH -> ACQUISITION after 3 d 2 h: ceil = 4 days, lag key 5. */
	want_conv(&ws, 0, d0, 0);
	want_conv(&ws, 0, d0, 5);
	want_conv(&ws, 1, dfp, 0); /* ACQUISITION -> NURTURE: cohort only */
	want_conv(&ws, 4, d0, 0);  /* REACH -> ADVOCACY */
	want_conv(&ws, 5, dfp, 0); /* ACQUISITION -> RETENTION */
	want_dc(&ws, AGG_NEWVIS, d0, CH_SEARCH, 1, 0);
	want_dc(&ws, AGG_NEWCUST, dfp, CH_SEARCH, 1, 0); /* first touch */
	want_dc(&ws, AGG_NEWCUST, dfp, CH_EMAIL, 0, 1);  /* last touch */
	want_cohort(&ws, AGG_GRAN_DAY, dfp, 0);
	want_cohort(&ws, AGG_GRAN_WEEK, utc_day(2024, 3, 11), 0);
	want_cohort(&ws, AGG_GRAN_MONTH, 2024 * 12 + 2, 0);
	check_list(&l, &ws);
	arena_fini(&a);
}

Test(agg, customer_repeat_buyer_with_referral)
{
	arena a;
	arena_init(&a);
	int64_t t0 = utc_ms(2024, 1, 25, 10, 0); /* a Thursday */
	uint32_t d0 = utc_day(2024, 1, 25);
	struct journey j;
	journey_init(&j);
	touch(&j, MODEL_T_SITE_VISIT, CH_DIRECT, t0);
	touch(&j, MODEL_T_PURCHASE, CH_DIRECT, t0 + 1 * DAY);
	touch(&j, MODEL_T_EMAIL_OPEN, CH_EMAIL, t0 + 3 * DAY);
	touch(&j, MODEL_T_PURCHASE, CH_STORE, t0 + 10 * DAY); /* Sun 4 Feb */
	touch(&j, MODEL_T_REFERRAL, CH_REFERRAL, t0 + 12 * DAY);
	cr_assert_eq(model_stage(&j.p), MODEL_ADVOCACY);

	uint32_t days[] = { d0 + 1, d0 + 10 };
	Clm__V1__ExperimentEntry x1, x2;
	exp_init(&x1, "exp-a", 0, t0 + DAY);
	exp_init(&x2, "exp-b", 258, 0); /* two bytes of variant */
	Clm__V1__ExperimentEntry *xs[] = { &x1, &x2 };
	Clm__V1__CustomerRecord rec;
	record_init(&rec, days, 2, xs, 2);
	struct agg_list l;
	contributions(&j.p, &rec, &a, &l);

	/* Reached: REACH d0, ACQ d0+1, NURTURE d0+3 (the email open after
	 * the first purchase), RETENTION d0+10, ADVOCACY d0+12. */
	static const uint32_t at[] = { 0, 0, 1, 3, 10, 12 };
	struct wants ws = { .n = 0 };
	want_stage(&ws, MODEL_ADVOCACY, 0);
	want_sd(&ws, AGG_HEALTH, MODEL_ADVOCACY, d0 + 12);
	for (int s = MODEL_REACH; s <= MODEL_ADVOCACY; s++) {
		want_sd(&ws, AGG_ENTERED, s, d0 + at[s]);
		want_sd(&ws, AGG_REACHED, s, d0 + at[s]);
	}
	/* Whole-day lags: ceil(n days) = n, lag key n + 1. */
	want_conv(&ws, 0, d0, 0);
	want_conv(&ws, 0, d0, 1 + 1);
	want_conv(&ws, 1, d0 + 1, 0);
	want_conv(&ws, 1, d0 + 1, 2 + 1);
	want_conv(&ws, 2, d0 + 3, 0);
	want_conv(&ws, 2, d0 + 3, 7 + 1);
	want_conv(&ws, 3, d0 + 10, 0);
	want_conv(&ws, 3, d0 + 10, 2 + 1);
	want_conv(&ws, 4, d0, 0);
	want_conv(&ws, 4, d0, 12 + 1);
	want_conv(&ws, 5, d0 + 1, 0);
	want_conv(&ws, 5, d0 + 1, 9 + 1);
	want_dc(&ws, AGG_NEWVIS, d0, CH_DIRECT, 1, 0);
	/* First and last touch on the same channel: one merged entry. */
	want_dc(&ws, AGG_NEWCUST, d0 + 1, CH_DIRECT, 1, 1);
	want_d(&ws, AGG_SECOND, d0 + 10);
	want_totals(&ws, 1, 1, 0);
	/* Cohorts: Fri 26 Jan, then Sun 4 Feb: 9 days, 1 week (Monday 22
	 * Jan -> Monday 29 Jan), 1 month later. */
	want_cohort(&ws, AGG_GRAN_DAY, d0 + 1, 0);
	want_cohort(&ws, AGG_GRAN_DAY, d0 + 1, 9);
	want_cohort(&ws, AGG_GRAN_WEEK, utc_day(2024, 1, 22), 0);
	want_cohort(&ws, AGG_GRAN_WEEK, utc_day(2024, 1, 22), 1);
	want_cohort(&ws, AGG_GRAN_MONTH, 2024 * 12, 0);
	want_cohort(&ws, AGG_GRAN_MONTH, 2024 * 12, 1);
	want_exp(&ws, "exp-a", 0, 1);
	want_exp(&ws, "exp-b", 258, 0);
	check_list(&l, &ws);
	arena_fini(&a);
}

Test(agg, customer_cancelled_buyer)
{
	arena a;
	arena_init(&a);
	int64_t t1 = utc_ms(2024, 7, 31, 23, 30); /* a Wednesday */
	uint32_t d1 = utc_day(2024, 7, 31);
	struct journey j;
	journey_init(&j);
	touch(&j, MODEL_T_PURCHASE, CH_STORE, t1); /* the first touchpoint */
	touch(&j, MODEL_T_CANCELLATION, CH_SUPPORT, t1 + 5 * DAY);
	cr_assert_eq(model_stage(&j.p), MODEL_ACQUISITION);
	cr_assert(model_cancelled(&j.p));

	uint32_t days[] = { d1 };
	Clm__V1__CustomerRecord rec;
	record_init(&rec, days, 1, NULL, 0);
	struct agg_list l;
	contributions(&j.p, &rec, &a, &l);

	struct wants ws = { .n = 0 };
	want_stage(&ws, MODEL_ACQUISITION, 1); /* cancelled: no HEALTH */
	/* REACH and ACQUISITION at the same instant: history has only
	 * ACQUISITION; reached_at has both. */
	want_sd(&ws, AGG_ENTERED, MODEL_ACQUISITION, d1);
	want_sd(&ws, AGG_REACHED, MODEL_REACH, d1);
	want_sd(&ws, AGG_REACHED, MODEL_ACQUISITION, d1);
	want_conv(&ws, 0, d1, 0);
	want_conv(&ws, 0, d1, 0 + 1); /* a lag of 0 */
	want_conv(&ws, 1, d1, 0);
	want_conv(&ws, 4, d1, 0);
	want_conv(&ws, 5, d1, 0);
	want_dc(&ws, AGG_NEWVIS, d1, CH_STORE, 1, 0);
	want_dc(&ws, AGG_NEWCUST, d1, CH_STORE, 1, 1);
	want_d(&ws, AGG_CANCEL_FP, d1);
	want_totals(&ws, 0, 0, 1);
	want_cohort(&ws, AGG_GRAN_DAY, d1, 0);
	want_cohort(&ws, AGG_GRAN_WEEK, utc_day(2024, 7, 29), 0);
	want_cohort(&ws, AGG_GRAN_MONTH, 2024 * 12 + 6, 0);
	check_list(&l, &ws);
	arena_fini(&a);
}

Test(agg, customer_lag_rounds_up)
{
	/* A lag of 1 day + 1 ms is "within 2 days", not within 1. */
	arena a;
	arena_init(&a);
	int64_t t0 = utc_ms(2024, 4, 2, 0, 0);
	uint32_t d0 = utc_day(2024, 4, 2);
	struct journey j;
	journey_init(&j);
	touch(&j, MODEL_T_SITE_VISIT, CH_NONE, t0);
	touch(&j, MODEL_T_PURCHASE, CH_NONE, t0 + DAY + 1);
	Clm__V1__CustomerRecord rec;
	record_init(&rec, NULL, 0, NULL, 0);
	struct agg_list l;
	contributions(&j.p, &rec, &a, &l);
	unsigned char key[10] = { AGG_CONV, 0 };
	be32(key + 2, d0);
	bool found = false;
	for (size_t i = 0; i < l.n; i++) {
		if (l.e[i].klen == 10 && memcmp(l.e[i].key, key, 6) == 0
		        && l.e[i].key[9] != 0) {
			cr_assert_eq(l.e[i].key[9], 2 + 1, "lag key %d",
			        l.e[i].key[9]);
			found = true;
		}
	}
	cr_assert(found);
	arena_fini(&a);
}

/* ---------------------------------------------------------------------- */
/* Store helpers                                                          */

/* A store in a fresh directory under /tmp. */
struct tstore {
	char dir[64];
	store *s;
};

static void
tstore_open(struct tstore *t)
{
	testdir_make(t->dir, sizeof(t->dir), "agg-test");
	struct store_opts o = {
		.dir = t->dir,
		.nosync = true,
		.map_bytes = 1 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 16,
	};
	char err[256] = "";
	clm_err e = store_open(&o, &t->s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
}

static void
tstore_close(struct tstore *t)
{
	store_close(t->s);
	testdir_remove(t->dir);
}

static store_txn *
write_begin(struct tstore *t)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(t->s, &txn), CLM_OK);
	return txn;
}

/* Every key of `agg`, with its raw value. */
struct dump {
	struct {
		unsigned char key[AGG_KEY_MAX];
		size_t klen;
		unsigned char val[AGG_TOUCH_N * 8];
		size_t vlen;
	} e[256];
	size_t n;
};

static int
dump_fn(void *arg, const unsigned char *key, size_t klen, const void *val,
        size_t vlen)
{
	struct dump *d = arg;
	cr_assert_lt(d->n, sizeof(d->e) / sizeof(d->e[0]));
	cr_assert_leq(klen, AGG_KEY_MAX);
	cr_assert_leq(vlen, sizeof(d->e[0].val));
	memcpy(d->e[d->n].key, key, klen);
	d->e[d->n].klen = klen;
	memcpy(d->e[d->n].val, val, vlen);
	d->e[d->n].vlen = vlen;
	d->n++;
	return 0;
}

/* Scans the whole key space: kinds are 1..255, so [0x00, 0xff) has all. */
static struct dump *
dump_all(store_txn *txn)
{
	struct dump *d = calloc(1, sizeof(*d));
	cr_assert_not_null(d);
	unsigned char lo = 0x00, hi = 0xff;
	cr_assert_eq(store_agg_scan(txn, &lo, 1, &hi, 1, dump_fn, d), CLM_OK);
	return d;
}

static void
check_dumps_equal(const struct dump *x, const struct dump *y)
{
	char hex[2 * AGG_KEY_MAX + 1];
	cr_assert_eq(x->n, y->n, "%zu keys vs %zu", x->n, y->n);
	for (size_t i = 0; i < x->n; i++) {
		cr_assert_eq(x->e[i].klen, y->e[i].klen);
		cr_assert_eq(memcmp(x->e[i].key, y->e[i].key, x->e[i].klen), 0,
		        "key %zu: %s", i,
		        key_hex(x->e[i].key, x->e[i].klen, hex));
		cr_assert_eq(x->e[i].vlen, y->e[i].vlen, "value of %s",
		        key_hex(x->e[i].key, x->e[i].klen, hex));
		cr_assert_eq(memcmp(x->e[i].val, y->e[i].val, x->e[i].vlen), 0,
		        "value of %s",
		        key_hex(x->e[i].key, x->e[i].klen, hex));
	}
}

/* The store holds exactly l's non-zero entries, trailing zeros trimmed. */
static void
check_dump_is_list(const struct dump *d, const struct agg_list *l)
{
	char hex[2 * AGG_KEY_MAX + 1], hex2[2 * AGG_KEY_MAX + 1];
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct agg_entry *e = &l->e[i];
		if (all_zero(e->v)) {
			continue;
		}
		cr_assert_lt(k, d->n, "key %s missing",
		        key_hex(e->key, e->klen, hex));
		cr_assert_eq(
		        key_cmp(d->e[k].key, d->e[k].klen, e->key, e->klen), 0,
		        "key %s in the store, %s listed",
		        key_hex(d->e[k].key, d->e[k].klen, hex),
		        key_hex(e->key, e->klen, hex2));
		size_t n = 4;
		while (n > 0 && e->v[n - 1] == 0) {
			n--;
		}
		cr_assert_eq(d->e[k].vlen, n * sizeof(int64_t));
		int64_t v[4] = { 0 };
		store_agg_counters(d->e[k].val, d->e[k].vlen, v, 4);
		for (int c = 0; c < 4; c++) {
			cr_assert_eq(v[c], e->v[c]);
		}
		k++;
	}
	cr_assert_eq(k, d->n, "%zu keys in the store, %zu listed", d->n, k);
}

/*
 * Three states of customers: A, a buyer; B, the same customer after a
 * late earlier purchase (the first purchase moves), an engagement, a
 * referral a month later and a cancellation, with an experiment converted
 * and another assigned; C, somebody else (the one-time buyer).
 */
struct states {
	struct journey a, b, c;
	uint32_t days_a[1], days_b[2], days_c[1];
	Clm__V1__ExperimentEntry xa, xb1, xb2;
	Clm__V1__ExperimentEntry *xsa[1], *xsb[2];
	Clm__V1__CustomerRecord ra, rb, rc;
	struct agg_list la, lb, lc, none;
};

static void
states_init(struct states *st, arena *ar)
{
	memset(st, 0, sizeof(*st));
	int64_t t0 = utc_ms(2024, 6, 27, 9, 15);
	uint32_t d0 = agg_day(t0);

	journey_init(&st->a);
	touch(&st->a, MODEL_T_SITE_VISIT, CH_PAID, t0);
	touch(&st->a, MODEL_T_PURCHASE, CH_EMAIL, t0 + 5 * DAY);
	st->days_a[0] = d0 + 5;
	exp_init(&st->xa, "exp-a", 1, 0);
	st->xsa[0] = &st->xa;
	record_init(&st->ra, st->days_a, 1, st->xsa, 1);

	journey_init(&st->b);
	touch(&st->b, MODEL_T_SITE_VISIT, CH_PAID, t0);
	touch(&st->b, MODEL_T_PURCHASE, CH_DIRECT, t0 + 2 * DAY);
	touch(&st->b, MODEL_T_PURCHASE, CH_EMAIL, t0 + 5 * DAY);
	touch(&st->b, MODEL_T_EMAIL_OPEN, CH_EMAIL, t0 + 6 * DAY);
	touch(&st->b, MODEL_T_REFERRAL, CH_REFERRAL, t0 + 40 * DAY);
	touch(&st->b, MODEL_T_CANCELLATION, CH_SUPPORT, t0 + 50 * DAY);
	cr_assert_eq(model_stage(&st->b.p), MODEL_ADVOCACY);
	cr_assert(model_cancelled(&st->b.p));
	st->days_b[0] = d0 + 2;
	st->days_b[1] = d0 + 5;
	exp_init(&st->xb1, "exp-a", 1, t0 + 5 * DAY);
	exp_init(&st->xb2, "exp-b", 0, 0);
	st->xsb[0] = &st->xb1;
	st->xsb[1] = &st->xb2;
	record_init(&st->rb, st->days_b, 2, st->xsb, 2);

	journey_init(&st->c);
	touch(&st->c, MODEL_T_SITE_VISIT, CH_SEARCH, t0 + HOUR);
	touch(&st->c, MODEL_T_PURCHASE, CH_EMAIL, t0 + 5 * DAY + HOUR);
	st->days_c[0] = d0 + 5;
	record_init(&st->rc, st->days_c, 1, NULL, 0);

	contributions(&st->a.p, &st->ra, ar, &st->la);
	contributions(&st->b.p, &st->rb, ar, &st->lb);
	contributions(&st->c.p, &st->rc, ar, &st->lc);
}

static void
apply(store_txn *txn, const struct agg_list *from, const struct agg_list *to)
{
	clm_err e = agg_apply_diff(txn, from, to);
	cr_assert_eq(e, CLM_OK, "agg_apply_diff: %s", clm_errname(e));
}

/* ---------------------------------------------------------------------- */
/* agg_apply_diff                                                         */

Test(agg, diff_in_two_steps_equals_one)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);

	store_txn *txn = write_begin(&t);
	apply(txn, &st->none, &st->la);
	struct dump *da = dump_all(txn);
	check_dump_is_list(da, &st->la);
	apply(txn, &st->la, &st->lb);
	struct dump *two = dump_all(txn);
	store_write_abort(txn);

	txn = write_begin(&t);
	apply(txn, &st->none, &st->lb);
	struct dump *one = dump_all(txn);
	store_write_abort(txn);

	check_dumps_equal(two, one);
	check_dump_is_list(one, &st->lb);
	free(da);
	free(two);
	free(one);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

Test(agg, diff_to_nothing_empties_the_store)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);

	/* Committed in separate transactions, as profile_save does. */
	store_txn *txn = write_begin(&t);
	apply(txn, &st->none, &st->la);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	txn = write_begin(&t);
	apply(txn, &st->la, &st->lb);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	txn = write_begin(&t);
	apply(txn, &st->lb, &st->none);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	store_reader *r;
	cr_assert_eq(store_reader_new(t.s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &txn), CLM_OK);
	struct dump *d = dump_all(txn);
	cr_assert_eq(d->n, 0, "%zu keys left", d->n);
	store_read_end(txn);
	store_reader_free(r);
	free(d);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

Test(agg, diff_leaves_other_customers_alone)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);

	store_txn *txn = write_begin(&t);
	apply(txn, &st->none, &st->lc);
	struct dump *only_c = dump_all(txn);
	check_dump_is_list(only_c, &st->lc);
	apply(txn, &st->none, &st->la);
	apply(txn, &st->la, &st->lb);
	/* Shared keys add up: C and B were both seen first on day d0. */
	unsigned char k[6] = { AGG_REACHED, MODEL_REACH };
	be32(k + 2, agg_day(utc_ms(2024, 6, 27, 0, 0)));
	int64_t v[2];
	cr_assert_eq(store_agg_get(txn, k, 6, v, 2), CLM_OK);
	cr_assert_eq(v[0], 2);
	apply(txn, &st->lb, &st->none);
	struct dump *after = dump_all(txn);
	check_dumps_equal(after, only_c);
	apply(txn, &st->lc, &st->none);
	struct dump *empty = dump_all(txn);
	cr_assert_eq(empty->n, 0);
	store_write_abort(txn);
	free(only_c);
	free(after);
	free(empty);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

Test(agg, diff_of_equal_lists_writes_nothing)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);
	store_txn *txn = write_begin(&t);
	apply(txn, &st->lb, &st->lb);
	struct dump *d = dump_all(txn);
	cr_assert_eq(d->n, 0);
	store_write_abort(txn);
	free(d);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

/* ---------------------------------------------------------------------- */
/* agg_touch                                                              */

static void
tp_init(Clm__V1__Touchpoint *tp, int type, int channel)
{
	clm__v1__touchpoint__init(tp);
	tp->type = (Clm__V1__TouchpointType) type;
	tp->channel = (Clm__V1__Channel) channel;
}

/*
 * Visitors wait for their transaction's commit: an aborted transaction's
 * are dropped, not folded into the next one's sketch, and many visitors of
 * one day and channel in one transaction make the same sketch as one
 * transaction each.
 */
Test(agg, visitors_fold_at_commit_only)
{
	struct tstore t;
	tstore_open(&t);
	int64_t at = utc_ms(2024, 9, 3, 14, 0);
	Clm__V1__Touchpoint tp;
	tp_init(&tp, MODEL_T_PAGE_VIEW, CH_EMAIL);

	store_txn *txn = write_begin(&t);
	cr_assert_eq(agg_touch(txn, &tp, at, "ghost", false), CLM_OK);
	store_write_abort(txn);

	char id[32];
	txn = write_begin(&t);
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "v%d", i % 500);
		cr_assert_eq(agg_touch(txn, &tp, at, id, false), CLM_OK);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	/* The same visitors, one transaction each, in another channel. */
	tp_init(&tp, MODEL_T_PAGE_VIEW, CH_STORE);
	for (int i = 0; i < 3000; i++) {
		txn = write_begin(&t);
		snprintf(id, sizeof(id), "v%d", i % 500);
		cr_assert_eq(agg_touch(txn, &tp, at, id, false), CLM_OK);
		cr_assert_eq(store_write_commit(txn), CLM_OK);
	}

	txn = write_begin(&t);
	unsigned char key[6] = { AGG_VISITORS };
	be32(key + 1, agg_day(at));
	const void *a, *b;
	size_t alen, blen;
	key[5] = CH_EMAIL;
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &a, &alen), CLM_OK);
	key[5] = CH_STORE;
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &b, &blen), CLM_OK);
	cr_assert_eq(alen, 1 + 500 * sizeof(uint64_t), "500 visitors, exact");
	cr_assert_eq(alen, blen);
	cr_assert(memcmp(a, b, alen) == 0, "same sketch either way");
	/* Exactly the 500: the aborted transaction's "ghost" is not there. */
	struct hll_acc *acc = malloc(sizeof(*acc));
	cr_assert_not_null(acc);
	hll_acc_init(acc);
	cr_assert_eq(hll_acc_merge(acc, a, alen), 0);
	cr_assert_eq(hll_acc_count(acc), 500);
	free(acc);
	store_write_abort(txn);
	tstore_close(&t);
}

Test(agg, touch_counters_money_and_visitors)
{
	struct tstore t;
	tstore_open(&t);
	int64_t at = utc_ms(2024, 9, 3, 14, 0);
	uint32_t day = agg_day(at);
	store_txn *txn = write_begin(&t);

	Clm__V1__Touchpoint tp;
	tp_init(&tp, MODEL_T_PURCHASE, CH_EMAIL);
	tp.value = 12.5;
	cr_assert_eq(agg_touch(txn, &tp, at, "alice", false), CLM_OK);
	tp_init(&tp, MODEL_T_REFUND, CH_EMAIL);
	tp.value = 0.000001;
	cr_assert_eq(agg_touch(txn, &tp, at + HOUR, "alice", false), CLM_OK);
	tp_init(&tp, MODEL_T_SITE_VISIT, CH_EMAIL);
	tp.duration_s = 30;
	cr_assert_eq(agg_touch(txn, &tp, at, "alice", false), CLM_OK);
	cr_assert_eq(agg_touch(txn, &tp, at, "alice", false), CLM_OK);
	tp_init(&tp, MODEL_T_PAGE_VIEW, CH_EMAIL);
	cr_assert_eq(agg_touch(txn, &tp, at, "alice", true), CLM_OK);
	static const float sentiments[] = { 0.5f, 0.25f, 0, -0.25f, -0.5f };
	for (size_t i = 0; i < 5; i++) {
		tp_init(&tp, MODEL_T_REVIEW, CH_EMAIL);
		tp.sentiment = sentiments[i];
		cr_assert_eq(agg_touch(txn, &tp, at, "alice", false), CLM_OK);
	}
	/* Another day and channel; an unknown type adds nothing. */
	tp_init(&tp, MODEL_T_PURCHASE, CH_STORE);
	tp.value = 2;
	cr_assert_eq(agg_touch(txn, &tp, at + DAY, "bob", false), CLM_OK);
	tp_init(&tp, 99, CH_STORE);
	cr_assert_eq(agg_touch(txn, &tp, at, "bob", false), CLM_OK);

	unsigned char key[6] = { AGG_TOUCH };
	be32(key + 1, day);
	key[5] = CH_EMAIL;
	int64_t c[AGG_TOUCH_N];
	cr_assert_eq(store_agg_get(txn, key, 6, c, AGG_TOUCH_N), CLM_OK);
	for (int i = 0; i < MODEL_N_TYPES; i++) {
		int64_t want = i == MODEL_T_PURCHASE ? 1
		        : i == MODEL_T_REFUND        ? 1
		        : i == MODEL_T_SITE_VISIT    ? 2
		        : i == MODEL_T_PAGE_VIEW     ? 1
		        : i == MODEL_T_REVIEW        ? 5
		                                     : 0;
		cr_assert_eq(c[AGG_TOUCH_TYPES + i], want, "type %d", i);
	}
	cr_assert_eq(c[AGG_TOUCH_PURCHASE_MICROS], 12500000);
	cr_assert_eq(c[AGG_TOUCH_REFUND_MICROS], 1);
	cr_assert_eq(c[AGG_TOUCH_VISIT_SECONDS], 60);
	/* > 0.25 positive, < -0.25 negative, the rest (bounds too) neutral */
	cr_assert_eq(c[AGG_TOUCH_POSITIVE], 1);
	cr_assert_eq(c[AGG_TOUCH_NEUTRAL], 3);
	cr_assert_eq(c[AGG_TOUCH_NEGATIVE], 1);

	key[5] = CH_STORE;
	be32(key + 1, day + 1);
	cr_assert_eq(store_agg_get(txn, key, 6, c, AGG_TOUCH_N), CLM_OK);
	cr_assert_eq(c[AGG_TOUCH_TYPES + MODEL_T_PURCHASE], 1);
	cr_assert_eq(c[AGG_TOUCH_PURCHASE_MICROS], 2000000);
	be32(key + 1, day);
	cr_assert_eq(store_agg_get(txn, key, 6, c, AGG_TOUCH_N), CLM_OK);
	for (int i = 0; i < AGG_TOUCH_N; i++) {
		cr_assert_eq(c[i], 0, "unknown type counted (%d)", i);
	}

	unsigned char mk = AGG_MONEY;
	int64_t m[2];
	cr_assert_eq(store_agg_get(txn, &mk, 1, m, 2), CLM_OK);
	cr_assert_eq(m[0], 14500000);
	cr_assert_eq(m[1], 1);

	/*
	 * The day's sketch: alice once as a customer, once anonymous.
	 * Visitors are folded into sketches when the transaction commits.
	 */
	key[0] = AGG_VISITORS;
	key[5] = CH_EMAIL;
	const void *blob;
	size_t len;
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &blob, &len),
	        CLM_NOT_FOUND, "folded at commit, not before");
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	txn = write_begin(&t);
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &blob, &len), CLM_OK);
	cr_assert_eq(len, 1 + 2 * sizeof(uint64_t));
	struct hll_acc *acc = malloc(sizeof(*acc));
	cr_assert_not_null(acc);
	hll_acc_init(acc);
	cr_assert_eq(hll_acc_merge(acc, blob, len), 0);
	cr_assert_eq(hll_acc_count(acc), 2);
	uint64_t h[2], x = agg_visitor_hash("alice", false),
	               y = agg_visitor_hash("alice", true);
	memcpy(h, (const unsigned char *) blob + 1, sizeof(h));
	cr_assert_neq(x, y);
	cr_assert_eq(h[0], x < y ? x : y);
	cr_assert_eq(h[1], x < y ? y : x);
	cr_assert_eq(x, hll_hash("alice", 5));
	free(acc);
	store_write_abort(txn);
	tstore_close(&t);
}
