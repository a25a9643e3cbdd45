/*
 * Unit tests of the pure recommendation rules (server/core/recommend.c)
 * against docs/api.md "Recommend": one scenario per kind, built from
 * touchpoints applied with model_apply, then frequency capping (with and
 * without claim), ranking and the limit. recommend_build does no I/O, so every
 * input is made here.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/recommend.h"
#include "core/risk.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  MODEL_DAY_MS
#define T0      1700000000000LL /* a base event time (2023-11-14) */

/* Channels (clm.v1.Channel) the rules do not name. */
#define CH_DIRECT 1
#define CH_SMS    12
#define CH_EMAIL  REC_CH_EMAIL
#define CH_APP    REC_CH_APP_NOTIFICATION

/* ---------------------------------------------------------------------- */
/* Building profiles and inputs.                                          */

/* A profile built touchpoint by touchpoint, in event-time order. */
struct prof {
	struct model_profile p;
	uint64_t seq;
};

static void
prof_init(struct prof *f)
{
	memset(f, 0, sizeof(*f));
	model_profile_init(&f->p);
}

/*
 * Applies one touchpoint. Tests add them in event-time order, so a first
 * purchase never moves earlier than an applied engagement and the rescan
 * model_apply may ask for has nothing to find.
 */
static void
prof_add_kind(struct prof *f, int type, int channel, int64_t at_ms,
        const char *item, int kind)
{
	struct model_touch t = {
		.type = type,
		.channel = channel,
		.at_ms = at_ms,
		.seq = ++f->seq,
		.item_id = item != NULL ? item : "",
		.kind = kind,
	};
	struct model_rescan r;
	model_apply(&f->p, &t, &r);
}

static void
prof_add(struct prof *f, int type, int64_t at_ms, const char *item)
{
	prof_add_kind(f, type, CH_DIRECT, at_ms, item, 0);
}

/* An outbound message (MESSAGE_SENT) of the given kind on channel ch. */
static void
prof_msg(struct prof *f, int ch, int64_t at_ms, int kind)
{
	prof_add_kind(f, MODEL_T_MESSAGE_SENT, ch, at_ms, NULL, kind);
}

/* The input for f as of now: stage, funnel and health from the model. */
static struct recommend_input
input_for(const struct prof *f, int64_t now_ms)
{
	struct model_params mp;
	model_params_default(&mp);
	struct recommend_input in = {
		.p = &f->p,
		.stage = model_stage(&f->p),
		.funnel = model_funnel(&f->p),
		.health = risk_health(&f->p, &mp, now_ms),
		.now_ms = now_ms,
		.upgrade_to = "",
	};
	return in;
}

/* The result of one recommend_build call. */
struct recs {
	struct recommendation r[REC_MAX];
	size_t n;
};

static void
build_ex(const struct recommend_input *in, const struct recommend_params *rp,
        size_t limit, bool include_suppressed, bool claim, struct recs *out)
{
	memset(out, 0, sizeof(*out));
	out->n = recommend_build(
	        in, rp, limit, include_suppressed, claim, out->r);
	cr_assert_leq(
	        out->n, limit, "%zu results for limit %zu", out->n, limit);
	cr_assert_leq(out->n, REC_MAX);
}

/* Default parameters, limit REC_MAX, suppressed ones included, no claim. */
static void
build(const struct recommend_input *in, struct recs *out)
{
	struct recommend_params rp;
	recommend_params_default(&rp);
	build_ex(in, &rp, REC_MAX, true, false, out);
}

static size_t
count_kind(const struct recs *s, int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		n += s->r[i].kind == kind;
	}
	return n;
}

/* The first recommendation of a kind, or NULL. */
static const struct recommendation *
find_kind(const struct recs *s, int kind)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].kind == kind) {
			return &s->r[i];
		}
	}
	return NULL;
}

/* The one recommendation of a kind (asserts there is exactly one). */
static const struct recommendation *
only_kind(const struct recs *s, int kind, const char *what)
{
	cr_assert_eq(count_kind(s, kind), 1,
	        "%s: %zu recommendations of kind %d", what,
	        count_kind(s, kind), kind);
	return find_kind(s, kind);
}

static bool
near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}

/* ---------------------------------------------------------------------- */
/* CART_REMINDER.                                                         */

TestSuite(cart);

Test(cart, fires_sixty_minutes_after_the_last_add)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_add(&f, MODEL_T_ADD_TO_CART, T0 + 10 * MIN_MS, "teapot");
	int64_t last = T0 + 10 * MIN_MS;
	struct recs s;

	struct recommend_input in = input_for(&f, last + HOUR_MS - 1);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0,
	        "a reminder at 59:59.999 after the last add");

	in = input_for(&f, last + HOUR_MS);
	in.channel = CH_SMS; /* the reminder is an email whatever asked */
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_CART_REMINDER, "60 min");
	cr_expect_str_eq(r->action, "cart_reminder");
	cr_expect_eq(r->channel, CH_EMAIL);
	cr_expect_str_eq(r->item_id, "teapot", "the newest cart item");
	cr_expect(near(r->score, 0.95), "score %f", r->score);
	cr_expect_not(r->suppressed);
	cr_expect(
	        strstr(r->reason, "teapot") != NULL, "reason '%s'", r->reason);
}

Test(cart, names_the_newest_item_still_in_the_cart)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_add(&f, MODEL_T_ADD_TO_CART, T0 + MIN_MS, "teapot");
	prof_add(&f, MODEL_T_REMOVE_FROM_CART, T0 + 2 * MIN_MS, "teapot");
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + 3 * HOUR_MS);
	build(&in, &s);
	cr_expect_str_eq(
	        only_kind(&s, REC_CART_REMINDER, "removed")->item_id, "mug");
}

Test(cart, none_for_an_empty_cart)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_add(&f, MODEL_T_REMOVE_FROM_CART, T0 + MIN_MS, "mug");
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0, "after removal");

	prof_init(&f);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_add(&f, MODEL_T_PURCHASE, T0 + MIN_MS, "mug");
	in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0, "after purchase");

	prof_init(&f);
	prof_add(&f, MODEL_T_SITE_VISIT, T0, NULL);
	in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0, "never a cart");
}

/* A cart with one reminder sent at s_ms (2 h after the add at T0). */
static void
cart_with_reminder(struct prof *f, int64_t s_ms)
{
	prof_init(f);
	prof_add(f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_msg(f, CH_EMAIL, s_ms, REC_CART_REMINDER);
}

Test(cart, follow_up_when_the_reminder_was_not_opened)
{
	const int64_t s_ms = T0 + 2 * HOUR_MS;
	struct prof f;
	cart_with_reminder(&f, s_ms);
	struct recs s;

	struct recommend_input in = input_for(&f, s_ms + 24 * HOUR_MS - 1);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0,
	        "a follow-up before 24 h have passed");

	in = input_for(&f, s_ms + 24 * HOUR_MS);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_CART_REMINDER, "24 h, unopened");
	cr_expect_str_eq(r->action, "cart_reminder_followup");
	cr_expect_eq(r->channel, CH_EMAIL);
	cr_expect_str_eq(r->item_id, "mug");
	cr_expect(near(r->score, 0.9), "score %f", r->score);

	/* An open before the reminder is not an open of it. */
	prof_init(&f);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_add(&f, MODEL_T_EMAIL_OPEN, T0 + HOUR_MS, NULL);
	prof_msg(&f, CH_EMAIL, s_ms, REC_CART_REMINDER);
	in = input_for(&f, s_ms + 2 * DAY_MS);
	build(&in, &s);
	cr_expect_str_eq(
	        only_kind(&s, REC_CART_REMINDER, "open before")->action,
	        "cart_reminder_followup");

	/* Opened only after the 24 h: still unopened "within 24 h". */
	cart_with_reminder(&f, s_ms);
	prof_add(&f, MODEL_T_EMAIL_OPEN, s_ms + 24 * HOUR_MS + 1, NULL);
	in = input_for(&f, s_ms + 2 * DAY_MS);
	build(&in, &s);
	cr_expect_str_eq(only_kind(&s, REC_CART_REMINDER, "open late")->action,
	        "cart_reminder_followup");
	for (int i = 0; i < 3; i++) {
		prof_add(&f, MODEL_T_EMAIL_OPEN, s_ms + (30 + i) * HOUR_MS,
		        NULL);
	}
	build(&in, &s);
	cr_expect_str_eq(
	        only_kind(&s, REC_CART_REMINDER, "opens late")->action,
	        "cart_reminder_followup");
}

Test(cart, no_follow_up_when_the_reminder_was_opened)
{
	const int64_t s_ms = T0 + 2 * HOUR_MS;
	struct prof f;
	cart_with_reminder(&f, s_ms);
	prof_add(&f, MODEL_T_EMAIL_OPEN, s_ms + HOUR_MS, NULL);
	struct recs s;
	struct recommend_input in = input_for(&f, s_ms + 3 * DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0,
	        "a follow-up after the reminder was opened");
}

/*
 * Regression: "opened within 24 h" used to be decided from the latest
 * EMAIL_OPEN only, so a later, unrelated open (after the 24 h) hid the
 * open of the reminder and a follow-up went out although the reminder was
 * opened 1 h after it was sent.
 */
Test(cart, no_follow_up_when_opened_then_opened_again_later)
{
	const int64_t s_ms = T0 + 2 * HOUR_MS;
	struct prof f;
	cart_with_reminder(&f, s_ms);
	prof_add(&f, MODEL_T_EMAIL_OPEN, s_ms + HOUR_MS, NULL);
	prof_add(&f, MODEL_T_EMAIL_OPEN, s_ms + 30 * HOUR_MS, NULL);
	struct recs s;
	struct recommend_input in = input_for(&f, s_ms + 3 * DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0,
	        "follow-up '%s' although the reminder was opened after 1 h",
	        find_kind(&s, REC_CART_REMINDER)
	                ? find_kind(&s, REC_CART_REMINDER)->action
	                : "");
}

Test(cart, never_a_third_reminder)
{
	const int64_t s_ms = T0 + 2 * HOUR_MS;
	struct prof f;
	cart_with_reminder(&f, s_ms);
	prof_msg(&f, CH_EMAIL, s_ms + 25 * HOUR_MS, REC_CART_REMINDER);
	struct recs s;
	for (int64_t later = 2; later <= 60; later += 29) {
		struct recommend_input in
		        = input_for(&f, s_ms + later * DAY_MS);
		build(&in, &s);
		cr_expect_eq(count_kind(&s, REC_CART_REMINDER), 0,
		        "a third reminder after %lld days", (long long) later);
	}
}

Test(cart, reminders_before_the_last_add_do_not_count)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0, "mug");
	prof_msg(&f, CH_EMAIL, T0 + 2 * HOUR_MS, REC_CART_REMINDER);
	prof_msg(&f, CH_EMAIL, T0 + 27 * HOUR_MS, REC_CART_REMINDER);
	prof_add(&f, MODEL_T_ADD_TO_CART, T0 + 3 * DAY_MS, "teapot");
	/* Another kind of message after the add is not a reminder. */
	prof_msg(&f, CH_EMAIL, T0 + 3 * DAY_MS + HOUR_MS, REC_WIN_BACK);
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + 5 * DAY_MS);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_CART_REMINDER, "cart changed");
	cr_expect_str_eq(r->action, "cart_reminder");
	cr_expect_str_eq(r->item_id, "teapot");
}

/* ---------------------------------------------------------------------- */
/* FEEDBACK_REQUEST.                                                      */

TestSuite(feedback);

Test(feedback, after_a_refund_until_feedback)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_PURCHASE, T0, "mug");
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_FEEDBACK_REQUEST), 0, "no refund");

	prof_add(&f, MODEL_T_REFUND, T0 + DAY_MS, "mug");
	in = input_for(&f, T0 + 2 * DAY_MS);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_FEEDBACK_REQUEST, "refund");
	cr_expect_str_eq(r->action, "feedback_request");
	cr_expect_eq(r->channel, CH_EMAIL, "the default channel");
	cr_expect(near(r->score, 0.85), "score %f", r->score);

	in.channel = CH_SMS;
	build(&in, &s);
	cr_expect_eq(only_kind(&s, REC_FEEDBACK_REQUEST, "sms")->channel,
	        CH_SMS, "the request's channel");

	prof_add(&f, MODEL_T_FEEDBACK, T0 + 3 * DAY_MS, NULL);
	in = input_for(&f, T0 + 4 * DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_FEEDBACK_REQUEST), 0,
	        "feedback after the refund");

	prof_add(&f, MODEL_T_REFUND, T0 + 5 * DAY_MS, "mug");
	in = input_for(&f, T0 + 6 * DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_FEEDBACK_REQUEST), 1,
	        "a new refund after the feedback");
}

/* ---------------------------------------------------------------------- */
/* WIN_BACK.                                                              */

TestSuite(win_back);

Test(win_back, at_risk_or_likely_to_churn)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_PURCHASE, T0, "mug");
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + DAY_MS);
	cr_assert_eq(in.health, MODEL_ACTIVE);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_WIN_BACK), 0, "active, no risk");

	in.churn_risk = 0.49;
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_WIN_BACK), 0, "churn risk 0.49");

	in.churn_risk = 0.5;
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_WIN_BACK, "churn risk 0.5");
	cr_expect(near(r->score, 0.5 + 0.4 * 0.5), "score %f", r->score);
	cr_expect_str_eq(r->action, "reengagement", "no reason given");
	cr_expect_eq(r->channel, CH_EMAIL);

	/* AT_RISK by the model's own clock: 30 days and 1 ms of silence. */
	in = input_for(&f, T0 + 30 * DAY_MS + 1);
	cr_assert_eq(in.health, MODEL_AT_RISK);
	build(&in, &s);
	r = only_kind(&s, REC_WIN_BACK, "at risk");
	cr_expect(near(r->score, 0.5), "score %f", r->score);
	cr_expect(strstr(r->reason, "at risk") != NULL, "'%s'", r->reason);
}

Test(win_back, action_per_top_reason)
{
	static const struct {
		int reasons[2];
		size_t n;
		const char *action;
	} cases[] = {
		{ { MODEL_RECENT_BILLING_ISSUE }, 1, "billing_recovery" },
		{ { MODEL_SLOW_ONBOARDING }, 1, "onboarding_tutorials" },
		{ { MODEL_SUPPORT_TICKETS }, 1, "service_recovery" },
		{ { MODEL_NEGATIVE_SENTIMENT }, 1, "service_recovery" },
		{ { MODEL_RECENT_REFUND }, 1, "service_recovery" },
		{ { MODEL_INACTIVE }, 1, "reengagement" },
		{ { MODEL_SUBSCRIPTION_CANCELLED }, 1, "reengagement" },
		{ { 0 }, 0, "reengagement" },
		/* Only the heaviest reason (the first) decides. */
		{ { MODEL_INACTIVE, MODEL_RECENT_BILLING_ISSUE }, 2,
		        "reengagement" },
		{ { MODEL_RECENT_BILLING_ISSUE, MODEL_SUPPORT_TICKETS }, 2,
		        "billing_recovery" },
	};
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_SITE_VISIT, T0, NULL);
	struct recs s;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct recommend_input in = input_for(&f, T0 + HOUR_MS);
		in.churn_risk = 0.7;
		in.reasons = cases[i].reasons;
		in.n_reasons = cases[i].n;
		build(&in, &s);
		const struct recommendation *r
		        = only_kind(&s, REC_WIN_BACK, cases[i].action);
		cr_expect_str_eq(r->action, cases[i].action, "case %zu", i);
		cr_expect(near(r->score, 0.5 + 0.4 * 0.7), "case %zu: %f", i,
		        r->score);
	}
}

Test(win_back, through_the_risk_model)
{
	struct model_params mp;
	model_params_default(&mp);
	struct risk_onboarding onb = { .known = false };
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_PURCHASE, T0, "mug");
	prof_add(&f, MODEL_T_BILLING_ISSUE, T0 + HOUR_MS, NULL);
	int64_t now = T0 + DAY_MS;
	int reasons[MODEL_N_REASONS];
	struct recs s;

	struct recommend_input in = input_for(&f, now);
	in.reasons = reasons;
	in.churn_risk
	        = risk_score(&f.p, &mp, &onb, now, reasons, &in.n_reasons);
	cr_assert(near(in.churn_risk, 0.4), "risk %f", in.churn_risk);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_WIN_BACK), 0, "risk 0.4 only");

	for (int i = 0; i < 3; i++) {
		prof_add(&f, MODEL_T_SUPPORT_TICKET, T0 + (2 + i) * HOUR_MS,
		        NULL);
	}
	in = input_for(&f, now);
	in.reasons = reasons;
	in.churn_risk
	        = risk_score(&f.p, &mp, &onb, now, reasons, &in.n_reasons);
	cr_assert(
	        near(in.churn_risk, 1 - 0.6 * 0.7), "risk %f", in.churn_risk);
	build(&in, &s);
	cr_expect_str_eq(
	        only_kind(&s, REC_WIN_BACK, "billing and tickets")->action,
	        "billing_recovery");
}

/* ---------------------------------------------------------------------- */
/* GEO_OFFER.                                                             */

TestSuite(geo);

#define BERLIN_LAT 52.5200
#define BERLIN_LON 13.4050
#define PARIS_LAT  48.8566
#define PARIS_LON  2.3522

/* An independent great-circle distance (spherical law of cosines). */
static double
ref_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	const double rad = 3.14159265358979323846 / 180.0;
	double c = sin(lat1 * rad) * sin(lat2 * rad)
	        + cos(lat1 * rad) * cos(lat2 * rad) * cos((lon2 - lon1) * rad);
	return 6371008.8 * acos(c > 1 ? 1 : c);
}

Test(geo, distance)
{
	double d = recommend_distance_m(
	        BERLIN_LAT, BERLIN_LON, PARIS_LAT, PARIS_LON);
	cr_expect(fabs(d - 877500) < 877500 * 0.005, "Berlin-Paris %f m", d);
	cr_expect(fabs(d
	                  - ref_distance_m(BERLIN_LAT, BERLIN_LON, PARIS_LAT,
	                          PARIS_LON))
	                < 1,
	        "Berlin-Paris %f m", d);
	cr_expect(near(d,
	                  recommend_distance_m(PARIS_LAT, PARIS_LON,
	                          BERLIN_LAT, BERLIN_LON)),
	        "not symmetric");
	cr_expect_eq(recommend_distance_m(
	                     BERLIN_LAT, BERLIN_LON, BERLIN_LAT, BERLIN_LON),
	        0);
	/* Antipodes: half the circumference, no NaN. */
	d = recommend_distance_m(0, 0, 0, 180);
	cr_expect(fabs(d - 3.14159265358979323846 * 6371008.8) < 1, "%f", d);
	/* 0.01 degree of latitude is about 1112 m anywhere. */
	d = recommend_distance_m(10, 20, 10.01, 20);
	cr_expect(fabs(d - 1111.95) < 0.5, "%f", d);
}

/* The input for a customer at (lat, lon) with the stores given. */
static struct recommend_input
geo_input(const struct prof *f, double lat, double lon,
        const struct recommend_store *st, size_t n)
{
	struct recommend_input in = input_for(f, T0 + HOUR_MS);
	in.has_location = true;
	in.lat = lat;
	in.lon = lon;
	in.stores = st;
	in.n_stores = n;
	return in;
}

Test(geo, inside_the_radius_only)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_SITE_VISIT, T0, NULL);
	/* The customer 0.01 degree north of the store. */
	double lat = BERLIN_LAT + 0.01, lon = BERLIN_LON;
	double d = recommend_distance_m(lat, lon, BERLIN_LAT, BERLIN_LON);
	struct recommend_store st = { .store_id = "mitte",
		.lat = BERLIN_LAT,
		.lon = BERLIN_LON,
		.radius_m = d - 1,
		.discount_pct = 12.5 };
	struct recs s;

	struct recommend_input in = geo_input(&f, lat, lon, &st, 1);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_GEO_OFFER), 0, "1 m outside");

	st.radius_m = d;
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_GEO_OFFER), 1, "on the edge");

	st.radius_m = d + 1;
	in.channel = CH_EMAIL; /* a geo offer is a notification anyway */
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_GEO_OFFER, "1 m inside");
	cr_expect_str_eq(r->action, "store_discount");
	cr_expect_str_eq(r->store_id, "mitte");
	cr_expect_eq(r->discount_pct, 12.5);
	cr_expect_eq(r->channel, CH_APP);
	cr_expect_str_eq(r->item_id, "");

	in.has_location = false;
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_GEO_OFFER), 0, "no location");
}

Test(geo, nearest_store_first)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_SITE_VISIT, T0, NULL);
	/* Same radius: 2 km, 0.5 km, 10 km (outside) and 0 m away. */
	const struct recommend_store st[] = {
		{ "far", BERLIN_LAT + 0.018, BERLIN_LON, 5000, 5 },
		{ "near", BERLIN_LAT + 0.0045, BERLIN_LON, 5000, 10 },
		{ "out", BERLIN_LAT + 0.09, BERLIN_LON, 5000, 50 },
		{ "door", BERLIN_LAT, BERLIN_LON, 5000, 20 },
	};
	struct recs s;
	struct recommend_input in
	        = geo_input(&f, BERLIN_LAT, BERLIN_LON, st, 4);
	build(&in, &s);
	cr_assert_eq(count_kind(&s, REC_GEO_OFFER), 3);
	static const char *const want[] = { "door", "near", "far" };
	static const double disc[] = { 20, 10, 5 };
	size_t k = 0;
	double last = 2;
	for (size_t i = 0; i < s.n; i++) {
		if (s.r[i].kind != REC_GEO_OFFER) {
			continue;
		}
		cr_expect_str_eq(s.r[i].store_id, want[k], "offer %zu", k);
		cr_expect_eq(s.r[i].discount_pct, disc[k], "offer %zu", k);
		cr_expect_lt(s.r[i].score, last, "offer %zu", k);
		last = s.r[i].score;
		k++;
	}
	cr_expect(near(find_kind(&s, REC_GEO_OFFER)->score, 0.85),
	        "at the door %f", find_kind(&s, REC_GEO_OFFER)->score);
}

/* ---------------------------------------------------------------------- */
/* UPSELL.                                                                */

TestSuite(upsell);

Test(upsell, upgrade_of_the_last_purchase)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_PURCHASE, T0, "basic");
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_UPSELL), 0, "no upgrade path");

	in.upgrade_to = "pro";
	build(&in, &s);
	const struct recommendation *r = only_kind(&s, REC_UPSELL, "upgrade");
	cr_expect_str_eq(r->action, "item_upgrade");
	cr_expect_str_eq(r->item_id, "pro");
	cr_expect(near(r->score, 0.7), "score %f", r->score);
	cr_expect(strstr(r->reason, "basic") != NULL, "'%s'", r->reason);
}

Test(upsell, usage_limit_within_seven_days)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_PURCHASE, T0 - DAY_MS, "basic");
	prof_add(&f, MODEL_T_USAGE_LIMIT_REACHED, T0, NULL);
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + 7 * DAY_MS);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_UPSELL, "usage limit 7 d ago");
	cr_expect_str_eq(r->action, "plan_upgrade");
	cr_expect(near(r->score, 0.75), "score %f", r->score);
	cr_expect_str_eq(r->item_id, "");

	in = input_for(&f, T0 + 7 * DAY_MS + 1);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_UPSELL), 0, "7 d + 1 ms ago");

	/* Both: the plan upgrade ranks above the item upgrade. */
	in = input_for(&f, T0 + DAY_MS);
	in.upgrade_to = "pro";
	build(&in, &s);
	cr_assert_eq(count_kind(&s, REC_UPSELL), 2);
	cr_expect_str_eq(find_kind(&s, REC_UPSELL)->action, "plan_upgrade");
}

/* ---------------------------------------------------------------------- */
/* CROSS_SELL, LOYALTY_REWARD, REFERRAL_INCENTIVE, NEXT_BEST_ACTION.       */

TestSuite(kinds);

Test(kinds, cross_sell_from_the_items_given)
{
	struct prof f;
	prof_init(&f);
	prof_add(&f, MODEL_T_PURCHASE, T0, "mug");
	const struct recommend_item items[] = {
		{ "tea", 0.5, false },
		{ "spoon", 0.5, false },
		{ "teapot", 0.9, false },
	};
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + DAY_MS);
	in.cross = items;
	in.n_cross = 3;
	build(&in, &s);
	cr_assert_eq(count_kind(&s, REC_CROSS_SELL), 3);
	static const char *const want[] = { "teapot", "spoon", "tea" };
	static const double score[] = { 0.6 * 0.9, 0.6 * 0.5, 0.6 * 0.5 };
	size_t k = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct recommendation *r = &s.r[i];
		if (r->kind != REC_CROSS_SELL) {
			continue;
		}
		cr_expect_str_eq(r->item_id, want[k], "cross-sell %zu", k);
		cr_expect(near(r->score, score[k]), "cross-sell %zu: %f", k,
		        r->score);
		cr_expect_str_eq(r->action, "frequently_bought_together");
		cr_expect_eq(r->channel, CH_EMAIL);
		k++;
	}

	const struct recommend_item popular[] = {
		{ "tea", 1.0, true },
		{ "spoon", 0.25, true },
	};
	in.cross = popular;
	in.n_cross = 2;
	build(&in, &s);
	cr_assert_eq(count_kind(&s, REC_CROSS_SELL), 2);
	k = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct recommendation *r = &s.r[i];
		if (r->kind != REC_CROSS_SELL) {
			continue;
		}
		cr_expect_str_eq(r->action, "popular_item");
		cr_expect_str_eq(r->item_id, k == 0 ? "tea" : "spoon");
		cr_expect(near(r->score, k == 0 ? 0.2 : 0.05),
		        "popular %zu: %f", k, r->score);
		k++;
	}
}

Test(kinds, loyalty_from_five_purchases)
{
	struct prof f;
	prof_init(&f);
	for (int i = 0; i < 4; i++) {
		prof_add(&f, MODEL_T_PURCHASE, T0 + i * HOUR_MS, "mug");
	}
	struct recs s;
	struct recommend_input in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_LOYALTY_REWARD), 0, "4 purchases");

	prof_add(&f, MODEL_T_PURCHASE, T0 + 4 * HOUR_MS, "mug");
	in = input_for(&f, T0 + DAY_MS);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_LOYALTY_REWARD, "5 purchases");
	cr_expect_str_eq(r->action, "exclusive_discount");
	cr_expect(near(r->score, 0.5), "score %f", r->score);
	cr_expect_eq(r->channel, CH_EMAIL);
}

Test(kinds, referral_incentive_for_retention_and_advocacy)
{
	struct prof f;
	struct recs s;
	struct recommend_input in;

	prof_init(&f); /* NURTURE: one purchase, engaged after it */
	prof_add(&f, MODEL_T_PURCHASE, T0, "mug");
	prof_add(&f, MODEL_T_PAGE_VIEW, T0 + HOUR_MS, NULL);
	in = input_for(&f, T0 + DAY_MS);
	cr_assert_eq(in.stage, MODEL_NURTURE);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_REFERRAL_INCENTIVE), 0, "NURTURE");

	prof_add(&f, MODEL_T_PURCHASE, T0 + 2 * HOUR_MS, "tea");
	in = input_for(&f, T0 + DAY_MS);
	cr_assert_eq(in.stage, MODEL_RETENTION);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_REFERRAL_INCENTIVE, "RETENTION");
	cr_expect_str_eq(r->action, "referral_reward");
	cr_expect(near(r->score, 0.45), "score %f", r->score);

	prof_init(&f); /* ADVOCACY: one purchase and a referral */
	prof_add(&f, MODEL_T_PURCHASE, T0, "mug");
	prof_add(&f, MODEL_T_REFERRAL, T0 + HOUR_MS, NULL);
	in = input_for(&f, T0 + DAY_MS);
	cr_assert_eq(in.stage, MODEL_ADVOCACY);
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_REFERRAL_INCENTIVE), 1, "ADVOCACY");
}

Test(kinds, next_best_action_by_stage_and_funnel)
{
	static const struct {
		const char *name;
		int types[3];
		size_t n;
		int stage;
		const char *action;
	} cases[] = {
		{ "empty", { 0 }, 0, MODEL_STAGE_NONE, "educational_content" },
		{ "REACH/TOP", { MODEL_T_SITE_VISIT }, 1, MODEL_REACH,
		        "educational_content" },
		{ "REACH/MIDDLE", { MODEL_T_SITE_VISIT, MODEL_T_SIGNUP }, 2,
		        MODEL_REACH, "first_purchase_incentive" },
		{ "ACQUISITION", { MODEL_T_SITE_VISIT, MODEL_T_PURCHASE }, 2,
		        MODEL_ACQUISITION, "onboarding_followup" },
		{ "NURTURE", { MODEL_T_PURCHASE, MODEL_T_APP_OPEN }, 2,
		        MODEL_NURTURE, "personalized_offer" },
		{ "RETENTION", { MODEL_T_PURCHASE, MODEL_T_PURCHASE }, 2,
		        MODEL_RETENTION, "loyalty_program" },
		{ "ADVOCACY", { MODEL_T_PURCHASE, MODEL_T_REFERRAL }, 2,
		        MODEL_ADVOCACY, "advocate_thanks" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct prof f;
		prof_init(&f);
		for (size_t k = 0; k < cases[i].n; k++) {
			prof_add(&f, cases[i].types[k],
			        T0 + (int64_t) k * HOUR_MS, "mug");
		}
		struct recs s;
		struct recommend_input in = input_for(&f, T0 + DAY_MS);
		cr_assert_eq(in.stage, cases[i].stage, "%s: stage %d",
		        cases[i].name, in.stage);
		build(&in, &s);
		const struct recommendation *r
		        = only_kind(&s, REC_NEXT_BEST_ACTION, cases[i].name);
		cr_expect_str_eq(
		        r->action, cases[i].action, "%s", cases[i].name);
		cr_expect(near(r->score, 0.3), "%s: %f", cases[i].name,
		        r->score);
		cr_expect_eq(r->channel, CH_EMAIL, "%s", cases[i].name);
	}
}

/* ---------------------------------------------------------------------- */
/* Frequency capping.                                                     */

TestSuite(capping);

#define NOW (T0 + 30 * DAY_MS)

/* A REACH customer: NEXT_BEST_ACTION by EMAIL is the only candidate. */
static void
plain_customer(struct prof *f)
{
	prof_init(f);
	prof_add(f, MODEL_T_SITE_VISIT, NOW - DAY_MS, NULL);
}

/* Cluster mode may apply a customer's claims at instants out of order. */
Test(capping, messages_after_now_count)
{
	struct prof f;
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW + 1000, 0);
	prof_msg(&f, CH_EMAIL, NOW + 2000, 0);
	struct recs s;
	struct recommend_input in = input_for(&f, NOW);
	build(&in, &s);
	cr_expect(only_kind(&s, REC_NEXT_BEST_ACTION, "capped")->suppressed,
	        "3 emails, two of them after now");
}

Test(capping, cap_messages_within_cap_days)
{
	struct prof f;
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 7 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - 3 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - 2 * DAY_MS, 0);
	struct recs s;
	struct recommend_input in = input_for(&f, NOW);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_NEXT_BEST_ACTION, "capped");
	cr_expect(r->suppressed, "3 emails in 7 days");
	cr_expect(strstr(r->suppressed_reason, "frequency cap") != NULL,
	        "reason '%s'", r->suppressed_reason);

	struct recommend_params rp;
	recommend_params_default(&rp);
	build_ex(&in, &rp, REC_MAX, false, false, &s);
	cr_expect_eq(s.n, 0, "suppressed ones left out");

	/* Another channel is not capped. */
	in.channel = CH_SMS;
	build(&in, &s);
	cr_expect_not(only_kind(&s, REC_NEXT_BEST_ACTION, "sms")->suppressed);

	/* The oldest 1 ms outside the window: two left, no cap. */
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 7 * DAY_MS - 1, 0);
	prof_msg(&f, CH_EMAIL, NOW - 3 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - 2 * DAY_MS, 0);
	in = input_for(&f, NOW);
	build(&in, &s);
	r = only_kind(&s, REC_NEXT_BEST_ACTION, "outside");
	cr_expect_not(r->suppressed, "suppressed: '%s'", r->suppressed_reason);
}

Test(capping, quiet_hours)
{
	struct prof f;
	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 24 * HOUR_MS + 1, REC_WIN_BACK);
	struct recs s;
	struct recommend_input in = input_for(&f, NOW);
	build(&in, &s);
	const struct recommendation *r
	        = only_kind(&s, REC_NEXT_BEST_ACTION, "quiet");
	cr_expect(r->suppressed, "an email 23:59:59.999 ago");
	cr_expect(strstr(r->suppressed_reason, "quiet hours") != NULL,
	        "reason '%s'", r->suppressed_reason);

	plain_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - 24 * HOUR_MS, REC_WIN_BACK);
	in = input_for(&f, NOW);
	build(&in, &s);
	cr_expect_not(only_kind(&s, REC_NEXT_BEST_ACTION, "24 h")->suppressed,
	        "an email exactly 24 h ago");

	/* A message on another channel keeps email quiet-free. */
	plain_customer(&f);
	prof_msg(&f, CH_APP, NOW - HOUR_MS, REC_GEO_OFFER);
	in = input_for(&f, NOW);
	build(&in, &s);
	cr_expect_not(
	        only_kind(&s, REC_NEXT_BEST_ACTION, "app msg")->suppressed);
}

/*
 * A RETENTION customer with a refund and five purchases: FEEDBACK_REQUEST
 * (0.85), LOYALTY_REWARD (0.5), REFERRAL_INCENTIVE (0.45) and
 * NEXT_BEST_ACTION (0.3), all by EMAIL, plus one GEO_OFFER by
 * APP_NOTIFICATION when a store is given.
 */
static void
busy_customer(struct prof *f)
{
	prof_init(f);
	for (int i = 0; i < 5; i++) {
		prof_add(f, MODEL_T_PURCHASE, NOW - (10 - i) * DAY_MS, "mug");
	}
	prof_add(f, MODEL_T_REFUND, NOW - 4 * DAY_MS, "mug");
}

static size_t
count_live(const struct recs *s, int channel)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		n += s->r[i].channel == channel && !s->r[i].suppressed;
	}
	return n;
}

/* A store 50 m away with a 100 m radius: a GEO_OFFER scored 0.8. */
static void
with_store(struct recommend_input *in, const struct recommend_store *st)
{
	in->has_location = true;
	in->lat = BERLIN_LAT + 0.00045;
	in->lon = BERLIN_LON;
	in->stores = st;
	in->n_stores = 1;
}

Test(capping, claim_keeps_one_per_channel_per_quiet_window)
{
	struct prof f;
	busy_customer(&f);
	const struct recommend_store st
	        = { "door", BERLIN_LAT, BERLIN_LON, 100, 10 };
	struct recommend_input in = input_for(&f, NOW);
	with_store(&in, &st);
	struct recommend_params rp;
	recommend_params_default(&rp);
	struct recs s;

	build_ex(&in, &rp, REC_MAX, false, false, &s);
	cr_expect_eq(count_live(&s, CH_EMAIL), 4, "without claim: %zu",
	        count_live(&s, CH_EMAIL));
	cr_expect_eq(count_live(&s, CH_APP), 1);

	build_ex(&in, &rp, REC_MAX, false, true, &s);
	cr_assert_eq(s.n, 2, "with claim: %zu", s.n);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST, "the best email");
	cr_expect_eq(s.r[1].kind, REC_GEO_OFFER);

	build_ex(&in, &rp, REC_MAX, true, true, &s);
	cr_assert_eq(s.n, 5);
	cr_expect_eq(count_live(&s, CH_EMAIL), 1);
	cr_expect_eq(count_live(&s, CH_APP), 1);
	for (size_t i = 0; i < s.n; i++) {
		const struct recommendation *r = &s.r[i];
		if (r->kind == REC_FEEDBACK_REQUEST
		        || r->kind == REC_GEO_OFFER) {
			cr_expect_not(r->suppressed, "kind %d", r->kind);
			continue;
		}
		cr_expect(r->suppressed, "kind %d kept", r->kind);
		cr_expect(strstr(r->suppressed_reason, "quiet hours") != NULL,
		        "kind %d: '%s'", r->kind, r->suppressed_reason);
	}
}

Test(capping, claim_counts_towards_the_cap)
{
	struct prof f;
	busy_customer(&f);
	struct recommend_input in = input_for(&f, NOW);
	struct recommend_params rp;
	recommend_params_default(&rp);
	rp.quiet_ms = 0;
	struct recs s;

	build_ex(&in, &rp, REC_MAX, true, true, &s);
	cr_assert_eq(s.n, 4);
	cr_expect_eq(count_live(&s, CH_EMAIL), 3, "cap 3, no quiet hours");
	cr_expect(s.r[3].suppressed);
	cr_expect_eq(s.r[3].kind, REC_NEXT_BEST_ACTION);
	cr_expect(strstr(s.r[3].suppressed_reason, "frequency cap") != NULL,
	        "'%s'", s.r[3].suppressed_reason);

	/* Two sent already: one more. */
	prof_msg(&f, CH_EMAIL, NOW - 2 * DAY_MS, 0);
	prof_msg(&f, CH_EMAIL, NOW - DAY_MS, 0);
	in = input_for(&f, NOW);
	build_ex(&in, &rp, REC_MAX, false, true, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST);
	build_ex(&in, &rp, REC_MAX, false, false, &s);
	cr_expect_eq(s.n, 4, "without claim nothing is counted");
}

Test(capping, limit_counts_what_is_returned)
{
	struct prof f;
	busy_customer(&f);
	prof_msg(&f, CH_EMAIL, NOW - HOUR_MS, 0); /* email is quiet */
	const struct recommend_store st
	        = { "door", BERLIN_LAT, BERLIN_LON, 100, 10 };
	struct recommend_input in = input_for(&f, NOW);
	with_store(&in, &st);
	struct recommend_params rp;
	recommend_params_default(&rp);
	struct recs s;
	build_ex(&in, &rp, 1, false, false, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.r[0].kind, REC_GEO_OFFER, "the suppressed are skipped");
	build_ex(&in, &rp, 1, true, false, &s);
	cr_assert_eq(s.n, 1);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST);
	cr_expect(s.r[0].suppressed);
}

/*
 * Regression: every store in range used to become a GEO_OFFER candidate
 * before the later kinds, and candidates past REC_MAX were dropped before
 * ranking and capping, so with many stores around and APP_NOTIFICATION
 * capped the reply was empty, without NEXT_BEST_ACTION. Now only the
 * REC_GEO_MAX nearest stores are offered.
 */
#define MANY_STORES 100

Test(capping, many_stores_do_not_crowd_out_other_kinds)
{
	struct prof f;
	busy_customer(&f);
	/* Store k is k x ~6.8 m away; listed in a scrambled order. */
	struct recommend_store st[MANY_STORES];
	char ids[MANY_STORES][16];
	for (size_t i = 0; i < MANY_STORES; i++) {
		size_t k = (i * 37) % MANY_STORES;
		snprintf(ids[i], sizeof(ids[i]), "s%03zu", k);
		st[i] = (struct recommend_store) { .store_id = ids[i],
			.lat = BERLIN_LAT,
			.lon = BERLIN_LON + 0.0001 * (double) k,
			.radius_m = 1000,
			.discount_pct = 5 };
	}
	struct recommend_input in = input_for(&f, NOW);
	in.has_location = true;
	in.lat = BERLIN_LAT;
	in.lon = BERLIN_LON;
	in.stores = st;
	in.n_stores = MANY_STORES;
	struct recommend_params rp;
	recommend_params_default(&rp);
	struct recs s;

	/* The nearest stores, nearest first, and every other kind. */
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_GEO_OFFER), REC_GEO_MAX);
	size_t k = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.r[i].kind != REC_GEO_OFFER) {
			continue;
		}
		char want[16];
		snprintf(want, sizeof(want), "s%03zu", k);
		cr_expect_str_eq(s.r[i].store_id, want, "geo offer %zu", k);
		k++;
	}
	cr_expect_eq(count_kind(&s, REC_NEXT_BEST_ACTION), 1);
	cr_expect_eq(count_kind(&s, REC_LOYALTY_REWARD), 1);

	/* App notifications capped: the emails remain. */
	for (int i = 0; i < 3; i++) {
		prof_msg(&f, CH_APP, NOW - (i + 2) * DAY_MS, REC_GEO_OFFER);
	}
	in = input_for(&f, NOW);
	in.has_location = true;
	in.lat = BERLIN_LAT;
	in.lon = BERLIN_LON;
	in.stores = st;
	in.n_stores = MANY_STORES;
	build_ex(&in, &rp, 5, false, false, &s);
	cr_expect_eq(s.n, 4, "%zu recommendations, want the 4 emails", s.n);
	cr_expect_eq(count_kind(&s, REC_NEXT_BEST_ACTION), 1,
	        "no NEXT_BEST_ACTION");
}

/* ---------------------------------------------------------------------- */
/* Ranking and limit.                                                     */

TestSuite(ranking);

Test(ranking, by_score_then_kind)
{
	struct prof f;
	busy_customer(&f);
	const struct recommend_item items[] = {
		{ "b-item", 0.25, false },
		{ "a-item", 0.25, false },
	};
	/* AT_RISK with no risk score: WIN_BACK 0.5, a tie with loyalty. */
	struct recommend_input in = input_for(&f, NOW + 31 * DAY_MS);
	cr_assert_eq(in.health, MODEL_AT_RISK);
	in.cross = items;
	in.n_cross = 2;
	in.upgrade_to = "pro";
	struct recs s;
	build(&in, &s);
	static const struct {
		int kind;
		double score;
		const char *item;
	} want[] = {
		{ REC_FEEDBACK_REQUEST, 0.85, "" },
		{ REC_UPSELL, 0.7, "pro" },
		{ REC_WIN_BACK, 0.5, "" },
		{ REC_LOYALTY_REWARD, 0.5, "" },
		{ REC_REFERRAL_INCENTIVE, 0.45, "" },
		{ REC_NEXT_BEST_ACTION, 0.3, "" },
		{ REC_CROSS_SELL, 0.15, "a-item" },
		{ REC_CROSS_SELL, 0.15, "b-item" },
	};
	size_t nw = sizeof(want) / sizeof(want[0]);
	cr_assert_eq(s.n, nw, "%zu recommendations", s.n);
	for (size_t i = 0; i < nw; i++) {
		cr_expect_eq(s.r[i].kind, want[i].kind, "[%zu] kind %d", i,
		        s.r[i].kind);
		cr_expect(near(s.r[i].score, want[i].score), "[%zu] %f", i,
		        s.r[i].score);
		cr_expect_str_eq(s.r[i].item_id, want[i].item, "[%zu]", i);
	}

	struct recommend_params rp;
	recommend_params_default(&rp);
	for (size_t limit = 0; limit <= nw; limit++) {
		struct recs cut;
		build_ex(&in, &rp, limit, true, false, &cut);
		cr_assert_eq(cut.n, limit, "limit %zu", limit);
		for (size_t i = 0; i < limit; i++) {
			cr_expect_eq(cut.r[i].kind, s.r[i].kind,
			        "limit %zu [%zu]", limit, i);
			cr_expect_str_eq(cut.r[i].item_id, s.r[i].item_id,
			        "limit %zu [%zu]", limit, i);
		}
	}
}

Test(ranking, many_cross_sell_items_fit)
{
	struct prof f;
	busy_customer(&f);
	struct recommend_item items[50];
	char ids[50][16];
	for (size_t i = 0; i < 50; i++) {
		snprintf(ids[i], sizeof(ids[i]), "item-%02zu", i);
		items[i] = (struct recommend_item) { ids[i],
			1.0 - 0.01 * (double) i, false };
	}
	struct recommend_input in = input_for(&f, NOW);
	in.cross = items;
	in.n_cross = 50;
	struct recs s;
	build(&in, &s);
	cr_expect_eq(count_kind(&s, REC_CROSS_SELL), 50);
	cr_expect_eq(count_kind(&s, REC_NEXT_BEST_ACTION), 1);
	cr_expect_eq(s.r[0].kind, REC_FEEDBACK_REQUEST);
	cr_expect_str_eq(s.r[1].item_id, "item-00");
	for (size_t i = 1; i < s.n; i++) {
		cr_expect_geq(s.r[i - 1].score, s.r[i].score, "[%zu]", i);
	}
}
