/*
 * Unit tests of server/core/agg.c, the pure part: day numbers and
 * DAY/WEEK/MONTH periods against the C library's own calendar (timegm,
 * gmtime_r), and a customer's contributions (agg_customer) for hand-built
 * profiles against the key layout of agg.h written out byte by byte.
 * agg_store_test.c applies them (and touchpoints) to a store.
 */
#define _DEFAULT_SOURCE /* timegm */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agg_fixture.h"
#include "core/agg.h"
#include "core/hll.h"
#include "core/model.h"
#include "util/arena.h"

/* ---------------------------------------------------------------------- */
/* Calendar helpers (the C library's, independent of agg.c)               */

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

/*
 * Checks that l is sorted with no key twice, and that it holds exactly
 * the wanted keys with the wanted counters. An entry whose counters are
 * all 0 adds nothing to any aggregate (agg_write_diff skips it), so it
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
/* agg_touch_counters                                                     */

/*
 * The TOUCH counters' positions are stored: a type added after FEEDBACK
 * (CUSTOM, 28) gets a counter of its own after the sentiment ones, never
 * the position of the purchase micros that stored keys hold at 28.
 */
Test(agg, touch_counter_positions_are_fixed)
{
	cr_assert_eq(AGG_TOUCH_PURCHASE_MICROS, 28);
	cr_assert_eq(AGG_TOUCH_REFUND_MICROS, 29);
	cr_assert_eq(AGG_TOUCH_VISIT_SECONDS, 30);
	cr_assert_eq(AGG_TOUCH_POSITIVE, 31);
	cr_assert_eq(AGG_TOUCH_NEUTRAL, 32);
	cr_assert_eq(AGG_TOUCH_NEGATIVE, 33);
	cr_assert_eq(AGG_TOUCH_CUSTOM, 34);

	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	int64_t d[AGG_TOUCH_N];
	for (int type = 1; type < MODEL_N_TYPES; type++) {
		tp.type = (Clm__V1__TouchpointType) type;
		tp.value = 7;
		size_t n = agg_touch_counters(&tp, d);
		int slot = type == MODEL_T_CUSTOM ? AGG_TOUCH_CUSTOM
		                                  : AGG_TOUCH_TYPES + type;
		cr_assert_eq(agg_touch_slot(type), slot, "type %d", type);
		cr_assert_gt(n, (size_t) slot, "type %d", type);
		for (size_t i = 0; i < AGG_TOUCH_N; i++) {
			int64_t want = (int) i == slot ? 1 : 0;
			if (type == MODEL_T_PURCHASE
			        && i == AGG_TOUCH_PURCHASE_MICROS) {
				want = 7000000;
			} else if (type == MODEL_T_REFUND
			        && i == AGG_TOUCH_REFUND_MICROS) {
				want = 7000000;
			} else if ((type == MODEL_T_SOCIAL_MENTION
			                   || type == MODEL_T_REVIEW
			                   || type == MODEL_T_FEEDBACK)
			        && i == AGG_TOUCH_NEUTRAL) {
				want = 1;
			}
			cr_assert_eq(
			        d[i], want, "type %d, counter %zu", type, i);
		}
	}
	tp.type = (Clm__V1__TouchpointType) MODEL_N_TYPES;
	cr_assert_eq(agg_touch_counters(&tp, d), 0);
	cr_assert_eq(agg_touch_slot(MODEL_N_TYPES), -1);
	cr_assert_eq(agg_touch_slot(0), -1);
}
