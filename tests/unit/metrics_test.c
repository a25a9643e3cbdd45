/*
 * Unit tests of server/core/metrics.c's pure half against docs/metrics.md:
 * metrics_window (defaults, rounding, bounds, the field named when a
 * request is invalid) and metrics_compute on hand-filled sums (every
 * ratio, zero denominators, money, the order of stages, conversions and
 * channels, the channel filter). metrics_read needs a populated store and
 * is covered elsewhere.
 */
#define _DEFAULT_SOURCE /* timegm */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clm/v1/clm.pb-c.h"
#include "core/metrics.h"

#define DAY MODEL_DAY_MS

static int64_t
utc_ms(int y, int mo, int d, int h, int mi)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
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

/* ---------------------------------------------------------------------- */
/* metrics_window                                                         */

static Clm__V1__MetricsRequest
req(int64_t from_ms, int64_t to_ms)
{
	Clm__V1__MetricsRequest q;
	clm__v1__metrics_request__init(&q);
	q.from_ms = from_ms;
	q.to_ms = to_ms;
	return q;
}

#define NOW utc_ms(2024, 6, 15, 13, 45) /* any time of day */

static struct metrics_window
window_ok(const Clm__V1__MetricsRequest *q)
{
	struct metrics_window w;
	const char *field = NULL;
	const char *why = metrics_window(q, NOW, &w, &field);
	cr_assert_null(why, "rejected: %s %s", field ? field : "?", why);
	return w;
}

/* Rejected, naming `field`; w is left as it was. */
static void
window_bad(const Clm__V1__MetricsRequest *q, const char *field)
{
	struct metrics_window w;
	memset(&w, 0xab, sizeof(w));
	const char *got = NULL;
	const char *why = metrics_window(q, NOW, &w, &got);
	cr_assert_not_null(why, "accepted, want %s rejected", field);
	cr_assert_not_null(got);
	cr_assert_str_eq(got, field, "%s", why);
	cr_assert_gt(strlen(why), 0);
	unsigned char *p = (unsigned char *) &w;
	for (size_t i = 0; i < sizeof(w); i++) {
		cr_assert_eq(p[i], 0xab, "w written on failure");
	}
}

Test(metrics, window_defaults)
{
	Clm__V1__MetricsRequest q = req(0, 0);
	struct metrics_window w = window_ok(&q);
	/* to = 00:00 UTC tomorrow, from = 30 days before. */
	cr_assert_eq(w.to, utc_day(2024, 6, 16));
	cr_assert_eq(w.from, utc_day(2024, 5, 17));
	cr_assert_eq(w.to - w.from, 30);
	cr_assert_eq(w.conversion_days, 30);
	cr_assert_eq(w.channel, 0);

	/* now exactly at midnight: tomorrow is still the day after. */
	struct metrics_window w2;
	const char *field;
	cr_assert_null(
	        metrics_window(&q, utc_ms(2024, 6, 15, 0, 0), &w2, &field));
	cr_assert_eq(w2.to, utc_day(2024, 6, 16));

	/* to given, from defaulted: 30 days before to. */
	q = req(0, utc_ms(2024, 3, 1, 0, 0));
	w = window_ok(&q);
	cr_assert_eq(w.to, utc_day(2024, 3, 1));
	cr_assert_eq(w.from, utc_day(2024, 1, 31)); /* 2024 is leap */

	/* from given, to defaulted. */
	q = req(utc_ms(2024, 6, 1, 0, 0), 0);
	w = window_ok(&q);
	cr_assert_eq(w.from, utc_day(2024, 6, 1));
	cr_assert_eq(w.to, utc_day(2024, 6, 16));
}

Test(metrics, window_rounds_down)
{
	Clm__V1__MetricsRequest q = req(utc_ms(2024, 1, 10, 23, 59) + 59999,
	        utc_ms(2024, 2, 1, 0, 0) - 1);
	struct metrics_window w = window_ok(&q);
	cr_assert_eq(w.from, utc_day(2024, 1, 10));
	cr_assert_eq(w.to, utc_day(2024, 1, 31));
	q = req(utc_ms(2024, 1, 10, 0, 0), utc_ms(2024, 2, 1, 0, 0));
	w = window_ok(&q);
	cr_assert_eq(w.from, utc_day(2024, 1, 10));
	cr_assert_eq(w.to, utc_day(2024, 2, 1));
	/* 1 ms is day 0: a non-zero from_ms, not the default. */
	q = req(1, 5 * DAY + 7);
	w = window_ok(&q);
	cr_assert_eq(w.from, 0);
	cr_assert_eq(w.to, 5);
	/* A default from before 1970 starts at day 0. */
	q = req(0, 10 * DAY);
	w = window_ok(&q);
	cr_assert_eq(w.from, 0);
	cr_assert_eq(w.to, 10);
}

Test(metrics, window_from_must_be_before_to)
{
	/* The same day once rounded: empty. */
	Clm__V1__MetricsRequest q
	        = req(utc_ms(2024, 1, 10, 8, 0), utc_ms(2024, 1, 10, 20, 0));
	window_bad(&q, "metrics.from_ms");
	q = req(utc_ms(2024, 1, 11, 0, 0), utc_ms(2024, 1, 10, 0, 0));
	window_bad(&q, "metrics.from_ms");
	/* from in the future with to defaulted (tomorrow). */
	q = req(utc_ms(2024, 6, 16, 0, 0), 0);
	window_bad(&q, "metrics.from_ms");
	q = req(utc_ms(2024, 6, 15, 23, 0), 0);
	cr_assert_eq(window_ok(&q).from, utc_day(2024, 6, 15));
	/* to within day 0: nothing is before it. */
	q = req(0, 1);
	window_bad(&q, "metrics.from_ms");
}

Test(metrics, window_negative_rejected)
{
	Clm__V1__MetricsRequest q = req(0, -1);
	window_bad(&q, "metrics.to_ms");
	q = req(-1, 0);
	window_bad(&q, "metrics.from_ms");
	q = req(INT64_MIN, utc_ms(2024, 1, 1, 0, 0));
	window_bad(&q, "metrics.from_ms");
}

Test(metrics, window_at_most_3660_days)
{
	int64_t to = utc_ms(2024, 1, 1, 0, 0);
	Clm__V1__MetricsRequest q = req(to - 3660 * DAY, to);
	struct metrics_window w = window_ok(&q);
	cr_assert_eq(w.to - w.from, 3660);
	q = req(to - 3661 * DAY, to);
	window_bad(&q, "metrics.from_ms");
	/* Rounding counts: from at 23:59 of the 3,661st day before is
	 * still that day. */
	q = req(to - 3661 * DAY + DAY - 1, to);
	window_bad(&q, "metrics.from_ms");
}

Test(metrics, window_conversion_days)
{
	Clm__V1__MetricsRequest q = req(0, 0);
	q.conversion_window_days = 7;
	cr_assert_eq(window_ok(&q).conversion_days, 7);
	q.conversion_window_days = 3650;
	cr_assert_eq(window_ok(&q).conversion_days, 3650);
	q.conversion_window_days = 3651;
	window_bad(&q, "metrics.conversion_window_days");
	q.conversion_window_days = UINT32_MAX;
	window_bad(&q, "metrics.conversion_window_days");
}

Test(metrics, window_channel)
{
	Clm__V1__MetricsRequest q = req(0, 0);
	q.channel = CLM__V1__CHANNEL__SMS; /* the largest */
	cr_assert_eq(window_ok(&q).channel, CLM__V1__CHANNEL__SMS);
	q.channel = CLM__V1__CHANNEL__PAID_ADS;
	cr_assert_eq(window_ok(&q).channel, 2);
	q.channel = (Clm__V1__Channel) MODEL_N_CHANNELS;
	window_bad(&q, "metrics.channel");
	q.channel = (Clm__V1__Channel) 200;
	window_bad(&q, "metrics.channel");
	q.channel = (Clm__V1__Channel) -1;
	window_bad(&q, "metrics.channel");
}

/*
 * Day numbers are uint32_t: the last representable day starts at
 * UINT32_MAX * 86,400,000 ms (3.7e17, year 11,761,191). A to_ms past it
 * must not be wrapped modulo 2^32 into January 1970: the window would
 * then silently be [0, 10) instead of 30 days in the far future (and a
 * window straddling the wrap is refused as "from after to"). Rejecting
 * such a bound is fine; answering for 1970 is not.
 */
Test(metrics, window_far_future_not_wrapped)
{
	int64_t to = ((int64_t) UINT32_MAX + 1 + 10) * DAY;
	Clm__V1__MetricsRequest q = req(0, to);
	struct metrics_window w;
	const char *field = NULL;
	if (metrics_window(&q, NOW, &w, &field) == NULL) {
		cr_expect_gt(w.to, utc_day(2024, 1, 1),
		        "to_ms %lld became day %u (1970-01-%02u)",
		        (long long) to, w.to, w.to + 1);
	}
	q = req(INT64_MAX - 5 * DAY, INT64_MAX);
	if (metrics_window(&q, NOW, &w, &field) == NULL) {
		cr_expect_gt(w.from, utc_day(2024, 1, 1),
		        "from_ms near INT64_MAX became day %u", w.from);
	}
}

/* ---------------------------------------------------------------------- */
/* metrics_ratio                                                          */

Test(metrics, ratio)
{
	cr_assert_eq(metrics_ratio(3, 4), 0.75);
	cr_assert_eq(metrics_ratio(0, 4), 0);
	cr_assert_eq(metrics_ratio(5, 0), 0);
	cr_assert_eq(metrics_ratio(0, 0), 0);
	cr_assert_eq(metrics_ratio(-3, 4), -0.75);
}

/* ---------------------------------------------------------------------- */
/* metrics_compute                                                        */

#define AD_IMPRESSION CLM__V1__TOUCHPOINT_TYPE__AD_IMPRESSION
#define AD_CLICK      CLM__V1__TOUCHPOINT_TYPE__AD_CLICK
#define EQ(a, b)      cr_assert_float_eq((double) (a), (double) (b), 1e-9)

/*
 * Sums with every figure distinct, so a field read from the wrong place
 * shows. The expected values are worked out next to each assertion.
 */
static void
sums_fill(struct metrics_sums *s)
{
	memset(s, 0, sizeof(*s));
	static const uint64_t cur[] = { 0, 50, 20, 10, 15, 5 };
	static const uint64_t ent[] = { 0, 30, 12, 6, 4, 2 };
	static const uint64_t risk[] = { 0, 5, 2, 1, 0, 0 };
	static const uint64_t churn[] = { 0, 10, 3, 0, 3, 1 };
	for (int st = 0; st < MODEL_N_STAGES; st++) {
		s->current[st] = cur[st];
		s->entered[st] = ent[st];
		s->at_risk[st] = risk[st];
		s->churned[st] = churn[st];
	}
	static const uint64_t coh[] = { 40, 20, 10, 8, 40, 20 };
	static const uint64_t conv[] = { 10, 5, 4, 2, 1, 6 };
	for (int i = 0; i < AGG_N_PAIRS; i++) {
		s->conv_cohort[i] = coh[i];
		s->conv_converted[i] = conv[i];
	}
	s->purchasers = 40;
	s->repeaters = 10;
	s->advocates = 4;
	s->churned_purchasers = 8;
	s->purchasers_now = 50;
	s->touch[AGG_TOUCH_TYPES + AD_IMPRESSION] = 1000;
	s->touch[AGG_TOUCH_TYPES + AD_CLICK] = 25;
	s->touch[AGG_TOUCH_TYPES + MODEL_T_SITE_VISIT] = 200;
	s->touch[AGG_TOUCH_TYPES + MODEL_T_PAGE_VIEW] = 600;
	s->touch[AGG_TOUCH_TYPES + MODEL_T_PURCHASE] = 8;
	s->touch[AGG_TOUCH_TYPES + MODEL_T_REFUND] = 2;
	s->touch[AGG_TOUCH_TYPES + MODEL_T_SUPPORT_TICKET] = 7;
	s->touch[AGG_TOUCH_TYPES + MODEL_T_BILLING_ISSUE] = 3;
	s->touch[AGG_TOUCH_PURCHASE_MICROS] = 1234567890; /* 1,234.56789 */
	s->touch[AGG_TOUCH_REFUND_MICROS] = 34567890;     /* 34.56789 */
	s->touch[AGG_TOUCH_VISIT_SECONDS] = 9000;
	s->touch[AGG_TOUCH_POSITIVE] = 6;
	s->touch[AGG_TOUCH_NEUTRAL] = 3;
	s->touch[AGG_TOUCH_NEGATIVE] = 1;
	s->unique_visitors = 150;
	s->all_purchase_micros = 5000000000; /* 5,000 */
	s->all_refund_micros = 250000000;    /* 250 */
	/* Channels: UNSPECIFIED, PAID_ADS, EMAIL, IN_APP and SMS have a
	 * non-zero figure; ORGANIC_SEARCH has none. */
	s->channel[CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED].new_visitors = 3;
	struct metrics_channel *paid = &s->channel[CLM__V1__CHANNEL__PAID_ADS];
	paid->spend_micros = 500000000; /* 500 */
	paid->new_visitors = 100;
	paid->first_touch = 10;
	paid->last_touch = 4;
	s->channel[CLM__V1__CHANNEL__EMAIL].last_touch = 6;
	s->channel[CLM__V1__CHANNEL__IN_APP].spend_micros = 1;
	s->channel[CLM__V1__CHANNEL__SMS].first_touch = 1;
}

static struct metrics_window
all_channels(void)
{
	struct metrics_window w = {
		.from = 100, .to = 130, .conversion_days = 30, .channel = 0
	};
	return w;
}

/* The reply survives a pack/unpack round trip (counts match pointers). */
static void
check_packs(const Clm__V1__MetricsReply *r)
{
	size_t n = clm__v1__metrics_reply__get_packed_size(r);
	uint8_t *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(clm__v1__metrics_reply__pack(r, buf), n);
	Clm__V1__MetricsReply *back
	        = clm__v1__metrics_reply__unpack(NULL, n, buf);
	cr_assert_not_null(back);
	cr_assert_eq(back->n_stages, r->n_stages);
	cr_assert_eq(back->n_channels, r->n_channels);
	cr_assert_eq(back->customers, r->customers);
	clm__v1__metrics_reply__free_unpacked(back, NULL);
	free(buf);
}

Test(metrics, compute_stages)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	sums_fill(&s);
	struct metrics_window w = all_channels();
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);

	cr_assert_eq(r.n_stages, 5);
	static const uint64_t cur[] = { 50, 20, 10, 15, 5 };
	static const uint64_t ent[] = { 30, 12, 6, 4, 2 };
	static const uint64_t risk[] = { 5, 2, 1, 0, 0 };
	static const uint64_t churn[] = { 10, 3, 0, 3, 1 };
	/* (at_risk + churned) / current */
	static const double drop[]
	        = { 15.0 / 50, 5.0 / 20, 1.0 / 10, 3.0 / 15, 1.0 / 5 };
	for (size_t i = 0; i < 5; i++) {
		const Clm__V1__StageMetric *m = r.stages[i];
		cr_assert_eq(m->stage, CLM__V1__STAGE__REACH + (int) i);
		cr_assert_eq(m->current, cur[i]);
		cr_assert_eq(m->entered, ent[i]);
		cr_assert_eq(m->at_risk, risk[i]);
		cr_assert_eq(m->churned, churn[i]);
		EQ(m->drop_off_rate, drop[i]);
	}
	cr_assert_eq(r.stages[0]->stage, CLM__V1__STAGE__REACH);
	cr_assert_eq(r.stages[4]->stage, CLM__V1__STAGE__ADVOCACY);
	cr_assert_eq(r.customers, 100, "50 + 20 + 10 + 15 + 5");
	check_packs(&r);
	arena_fini(&a);
}

Test(metrics, compute_conversions_and_rates)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	sums_fill(&s);
	struct metrics_window w = all_channels();
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);

	/* docs/metrics.md order; the 6th pair (ACQUISITION -> RETENTION)
	 * is only retention_rate. */
	static const int pairs[5][2] = {
		{ CLM__V1__STAGE__REACH, CLM__V1__STAGE__ACQUISITION },
		{ CLM__V1__STAGE__ACQUISITION, CLM__V1__STAGE__NURTURE },
		{ CLM__V1__STAGE__NURTURE, CLM__V1__STAGE__RETENTION },
		{ CLM__V1__STAGE__RETENTION, CLM__V1__STAGE__ADVOCACY },
		{ CLM__V1__STAGE__REACH, CLM__V1__STAGE__ADVOCACY },
	};
	static const uint64_t coh[] = { 40, 20, 10, 8, 40 };
	static const uint64_t conv[] = { 10, 5, 4, 2, 1 };
	static const double rate[] = { 0.25, 0.25, 0.4, 0.25, 0.025 };
	cr_assert_eq(r.n_conversions, 5);
	for (size_t i = 0; i < 5; i++) {
		const Clm__V1__Conversion *c = r.conversions[i];
		cr_assert_eq(c->from_stage, pairs[i][0], "conversion %zu", i);
		cr_assert_eq(c->to_stage, pairs[i][1], "conversion %zu", i);
		cr_assert_eq(c->cohort, coh[i]);
		cr_assert_eq(c->converted, conv[i]);
		EQ(c->rate, rate[i]);
	}
	EQ(r.retention_rate, 6.0 / 20);
	EQ(r.repeat_customer_rate, 10.0 / 40);
	EQ(r.referral_rate, 4.0 / 40);
	EQ(r.churn_rate, 8.0 / 40);
	arena_fini(&a);
}

Test(metrics, compute_money_ads_site_support)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	sums_fill(&s);
	struct metrics_window w = all_channels();
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);

	EQ(r.revenue, 1200.0); /* 1,234.56789 - 34.56789 */
	cr_assert_eq(r.orders, 8);
	EQ(r.average_order_value, 154.32098625); /* 1,234.56789 / 8 */
	EQ(r.refunds_value, 34.56789);
	EQ(r.ltv, 95.0); /* (5,000 - 250) / 50 purchasers now */

	cr_assert_eq(r.ad_impressions, 1000);
	cr_assert_eq(r.ad_clicks, 25);
	EQ(r.click_through_rate, 0.025);
	cr_assert_eq(r.site_visits, 200);
	cr_assert_eq(r.page_views, 600);
	cr_assert_eq(r.unique_visitors, 150);
	EQ(r.page_views_per_visitor, 4.0); /* 600 / 150 */
	EQ(r.avg_time_on_site_s, 45.0);    /* 9,000 s / 200 visits */

	cr_assert_not_null(r.sentiment);
	cr_assert_eq(r.sentiment->positive, 6);
	cr_assert_eq(r.sentiment->neutral, 3);
	cr_assert_eq(r.sentiment->negative, 1);
	EQ(r.sentiment->negative_share, 0.1);
	cr_assert_eq(r.support_tickets, 7);
	cr_assert_eq(r.billing_issues, 3);
	arena_fini(&a);
}

Test(metrics, compute_money_is_exact_micro_units)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	memset(&s, 0, sizeof(s));
	s.touch[AGG_TOUCH_TYPES + MODEL_T_PURCHASE] = 3;
	s.touch[AGG_TOUCH_PURCHASE_MICROS] = 1;
	s.touch[AGG_TOUCH_REFUND_MICROS] = 3;
	s.all_purchase_micros = 1;
	s.all_refund_micros = 3;
	s.purchasers_now = 2;
	struct metrics_window w = all_channels();
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);
	cr_assert_eq(r.revenue, -2e-6, "%.17g", r.revenue);
	cr_assert_eq(r.refunds_value, 3e-6);
	cr_assert_float_eq(r.average_order_value, 1e-6 / 3, 1e-18);
	cr_assert_eq(r.ltv, -1e-6);
	/* 2^53 micro-units and one more: the sum is taken in integers. */
	s.touch[AGG_TOUCH_PURCHASE_MICROS] = (INT64_C(1) << 53) + 3;
	s.touch[AGG_TOUCH_REFUND_MICROS] = (INT64_C(1) << 53);
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);
	cr_assert_eq(r.revenue, 3e-6);
	arena_fini(&a);
}

Test(metrics, compute_zero_denominators)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	memset(&s, 0, sizeof(s));
	/* Numerators without denominators: still 0. */
	s.at_risk[MODEL_REACH] = 3;
	s.conv_converted[0] = 2;
	s.conv_converted[AGG_N_PAIRS - 1] = 2;
	s.repeaters = 1;
	s.advocates = 1;
	s.churned_purchasers = 1;
	s.touch[AGG_TOUCH_PURCHASE_MICROS] = 5000000;
	s.touch[AGG_TOUCH_TYPES + AD_CLICK] = 4;
	s.touch[AGG_TOUCH_TYPES + MODEL_T_PAGE_VIEW] = 9;
	s.touch[AGG_TOUCH_VISIT_SECONDS] = 60;
	s.all_purchase_micros = 7000000;
	s.channel[CLM__V1__CHANNEL__EMAIL].spend_micros = 1000000;
	struct metrics_window w = all_channels();
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);

	cr_assert_eq(r.n_stages, 5);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(r.stages[i]->drop_off_rate, 0);
	}
	cr_assert_eq(r.n_conversions, 5);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(r.conversions[i]->rate, 0);
	}
	cr_assert_eq(r.retention_rate, 0);
	cr_assert_eq(r.repeat_customer_rate, 0);
	cr_assert_eq(r.referral_rate, 0);
	cr_assert_eq(r.churn_rate, 0);
	cr_assert_eq(r.orders, 0);
	cr_assert_eq(r.average_order_value, 0);
	EQ(r.revenue, 5.0);
	cr_assert_eq(r.ltv, 0);
	cr_assert_eq(r.click_through_rate, 0);
	cr_assert_eq(r.page_views_per_visitor, 0);
	cr_assert_eq(r.avg_time_on_site_s, 0);
	cr_assert_not_null(r.sentiment);
	cr_assert_eq(r.sentiment->negative_share, 0);
	cr_assert_eq(r.customers, 0);
	cr_assert_eq(r.n_channels, 1);
	cr_assert_eq(r.channels[0]->channel, CLM__V1__CHANNEL__EMAIL);
	EQ(r.channels[0]->spend, 1.0);
	cr_assert_eq(r.channels[0]->cac, 0);
	cr_assert_eq(r.channels[0]->cost_per_visitor, 0);
	check_packs(&r);

	/* All zero: no channel rows at all. */
	memset(&s, 0, sizeof(s));
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);
	cr_assert_eq(r.n_channels, 0);
	cr_assert_eq(r.n_stages, 5);
	check_packs(&r);
	arena_fini(&a);
}

Test(metrics, compute_channels)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	sums_fill(&s);
	struct metrics_window w = all_channels();
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);

	/* Non-zero ones only, by channel number. */
	static const int want[] = { CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED,
		CLM__V1__CHANNEL__PAID_ADS, CLM__V1__CHANNEL__EMAIL,
		CLM__V1__CHANNEL__IN_APP, CLM__V1__CHANNEL__SMS };
	cr_assert_eq(r.n_channels, 5);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(r.channels[i]->channel, want[i], "row %zu", i);
	}
	const Clm__V1__ChannelMetric *none = r.channels[0];
	EQ(none->spend, 0);
	cr_assert_eq(none->new_visitors, 3);
	cr_assert_eq(none->cost_per_visitor, 0);

	const Clm__V1__ChannelMetric *paid = r.channels[1];
	EQ(paid->spend, 500.0);
	cr_assert_eq(paid->new_visitors, 100);
	cr_assert_eq(paid->new_customers_first_touch, 10);
	cr_assert_eq(paid->new_customers_last_touch, 4);
	EQ(paid->cac, 50.0);             /* 500 / 10 first-touch customers */
	EQ(paid->cost_per_visitor, 5.0); /* 500 / 100 new visitors */

	const Clm__V1__ChannelMetric *email = r.channels[2];
	cr_assert_eq(email->new_customers_last_touch, 6);
	cr_assert_eq(email->new_customers_first_touch, 0);
	cr_assert_eq(email->cac, 0);

	const Clm__V1__ChannelMetric *inapp = r.channels[3];
	cr_assert_eq(inapp->spend, 1e-6, "one micro-unit of spend is a row");
	cr_assert_eq(inapp->cac, 0);
	cr_assert_eq(inapp->cost_per_visitor, 0);

	cr_assert_eq(r.channels[4]->new_customers_first_touch, 1);
	check_packs(&r);
	arena_fini(&a);
}

Test(metrics, compute_channel_filter)
{
	arena a;
	arena_init(&a);
	struct metrics_sums s;
	sums_fill(&s);
	struct metrics_window w = all_channels();
	w.channel = CLM__V1__CHANNEL__PAID_ADS;
	Clm__V1__MetricsReply r;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);
	cr_assert_eq(r.n_channels, 1);
	cr_assert_eq(r.channels[0]->channel, CLM__V1__CHANNEL__PAID_ADS);
	EQ(r.channels[0]->cac, 50.0);
	/* Customer-level figures are not filtered. */
	cr_assert_eq(r.customers, 100);
	EQ(r.ltv, 95.0);

	/* The filtered channel has nothing: no rows. */
	w.channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);
	cr_assert_eq(r.n_channels, 0);

	/* The last channel number. */
	w.channel = CLM__V1__CHANNEL__SMS;
	cr_assert_eq(metrics_compute(&s, &w, &a, &r), 0);
	cr_assert_eq(r.n_channels, 1);
	cr_assert_eq(r.channels[0]->channel, CLM__V1__CHANNEL__SMS);
	check_packs(&r);
	arena_fini(&a);
}
