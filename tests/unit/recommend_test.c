/*
 * Unit tests of the pure recommendation rules (server/core/recommend.c)
 * against docs/api.md "Recommend": one scenario per kind, built from
 * touchpoints applied with model_apply. Frequency capping, ranking and the
 * limit are in recommend_capping_test.c; both share recommend_fixture.[ch].
 * recommend_build does no I/O, so every input is made here.
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
#include "recommend_fixture.h"

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

#define PARIS_LAT 48.8566
#define PARIS_LON 2.3522

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
