/*
 * Unit tests of the pure lifecycle model (server/core/model.c) against
 * docs/api.md "The lifecycle model": table-driven checks of every rule,
 * CUSTOM events and orders of several items. The property test (random
 * journeys in many orders) is model_property_test.c.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "core/model.h"
#include "model_fixture.h"

/* Stage rules (docs/api.md "The lifecycle model"), table-driven. */

struct stage_case {
	const char *name;
	struct spec t[8];
	size_t n;
	int stage;
	int funnel;
};

static const struct stage_case stage_cases[] = {
	{ "empty profile", { { 0 } }, 0, MODEL_STAGE_NONE, MODEL_FUNNEL_NONE },
	{ "only MESSAGE_SENT", { TPC(MODEL_T_MESSAGE_SENT, 10, CH_EMAIL) }, 1,
	        MODEL_STAGE_NONE, MODEL_FUNNEL_NONE },
	{ "two MESSAGE_SENT",
	        { TPC(MODEL_T_MESSAGE_SENT, 10, CH_EMAIL),
	                TPC(MODEL_T_MESSAGE_SENT, 20, CH_SMS) },
	        2, MODEL_STAGE_NONE, MODEL_FUNNEL_NONE },
	{ "ad impression", { TPC(AD_IMPRESSION, 10, CH_PAID) }, 1, MODEL_REACH,
	        MODEL_TOP },
	{ "message then visit",
	        { TPC(MODEL_T_MESSAGE_SENT, 5, CH_EMAIL),
	                TPC(MODEL_T_SITE_VISIT, 10, CH_DIRECT) },
	        2, MODEL_REACH, MODEL_TOP },
	{ "referral without purchase",
	        { TPC(MODEL_T_REFERRAL, 10, CH_DIRECT) }, 1, MODEL_REACH,
	        MODEL_TOP },
	{ "refund alone", { TPC(MODEL_T_REFUND, 10, CH_DIRECT) }, 1,
	        MODEL_REACH, MODEL_TOP },
	{ "signup", { TPC(MODEL_T_SIGNUP, 10, CH_DIRECT) }, 1, MODEL_REACH,
	        MODEL_MIDDLE },
	{ "one purchase", { TPC(MODEL_T_PURCHASE, 10, CH_DIRECT) }, 1,
	        MODEL_ACQUISITION, MODEL_BOTTOM },
	{ "purchase then engagement",
	        { TPC(MODEL_T_PURCHASE, 10, CH_DIRECT),
	                TPC(MODEL_T_SITE_VISIT, 11, CH_DIRECT) },
	        2, MODEL_NURTURE, MODEL_BOTTOM },
	{ "engagement then purchase (late arrival)",
	        { TPC(MODEL_T_SITE_VISIT, 11, CH_DIRECT),
	                TPC(MODEL_T_PURCHASE, 10, CH_DIRECT) },
	        2, MODEL_NURTURE, MODEL_BOTTOM },
	{ "engagement at the purchase instant does not count",
	        { TPC(MODEL_T_PURCHASE, 10, CH_DIRECT),
	                TPC(MODEL_T_APP_OPEN, 10, CH_DIRECT) },
	        2, MODEL_ACQUISITION, MODEL_BOTTOM },
	{ "engagement at the purchase instant, applied first",
	        { TPC(MODEL_T_APP_OPEN, 10, CH_DIRECT),
	                TPC(MODEL_T_PURCHASE, 10, CH_DIRECT) },
	        2, MODEL_ACQUISITION, MODEL_BOTTOM },
	{ "engagement before the purchase",
	        { TPC(MODEL_T_PAGE_VIEW, 5, CH_DIRECT),
	                TPC(MODEL_T_PURCHASE, 10, CH_DIRECT) },
	        2, MODEL_ACQUISITION, MODEL_BOTTOM },
	{ "non-engagement after the purchase",
	        { TPC(MODEL_T_PURCHASE, 10, CH_DIRECT),
	                TPC(AD_CLICK, 20, CH_PAID),
	                TPC(MODEL_T_MESSAGE_SENT, 30, CH_EMAIL),
	                TPC(MODEL_T_REFUND, 40, CH_DIRECT) },
	        4, MODEL_ACQUISITION, MODEL_BOTTOM },
	{ "two purchases",
	        { TP(MODEL_T_PURCHASE, 10), TP(MODEL_T_PURCHASE, 20) }, 2,
	        MODEL_RETENTION, MODEL_BOTTOM },
	{ "two purchases at the same instant",
	        { TP(MODEL_T_PURCHASE, 10), TP(MODEL_T_PURCHASE, 10) }, 2,
	        MODEL_RETENTION, MODEL_BOTTOM },
	{ "two purchases and engagement",
	        { TP(MODEL_T_PURCHASE, 10), TP(MODEL_T_EMAIL_OPEN, 15),
	                TP(MODEL_T_PURCHASE, 20) },
	        3, MODEL_RETENTION, MODEL_BOTTOM },
	{ "purchase and referral",
	        { TP(MODEL_T_PURCHASE, 10), TP(MODEL_T_REFERRAL, 20) }, 2,
	        MODEL_ADVOCACY, MODEL_BOTTOM },
	{ "referral before the purchase",
	        { TP(MODEL_T_REFERRAL, 5), TP(MODEL_T_PURCHASE, 10) }, 2,
	        MODEL_ADVOCACY, MODEL_BOTTOM },
	{ "advocacy beats retention",
	        { TP(MODEL_T_PURCHASE, 10), TP(MODEL_T_PURCHASE, 20),
	                TP(MODEL_T_PURCHASE, 30), TP(MODEL_T_REFERRAL, 40),
	                TP(MODEL_T_SITE_VISIT, 50) },
	        5, MODEL_ADVOCACY, MODEL_BOTTOM },
	{ "purchase, refund: still one purchase",
	        { { MODEL_T_PURCHASE, 10, 0, NULL, 5000000 },
	                { MODEL_T_REFUND, 20, 0, NULL, 5000000 } },
	        2, MODEL_ACQUISITION, MODEL_BOTTOM },
};

Test(model_stage, table)
{
	for (size_t c = 0; c < sizeof(stage_cases) / sizeof(stage_cases[0]);
	        c++) {
		const struct stage_case *sc = &stage_cases[c];
		struct applier a;
		applier_init(&a, false);
		applier_run(&a, sc->t, sc->n);
		cr_assert_eq(model_stage(&a.p), sc->stage,
		        "%s: stage %d, want %d", sc->name, model_stage(&a.p),
		        sc->stage);
		cr_assert_eq(model_funnel(&a.p), sc->funnel,
		        "%s: funnel %d, want %d", sc->name, model_funnel(&a.p),
		        sc->funnel);
		/* The same touchpoints in reverse order. */
		struct applier b;
		applier_init(&b, false);
		for (size_t i = sc->n; i-- > 0;) {
			applier_apply(&b, &sc->t[i]);
		}
		cr_assert_eq(model_stage(&b.p), sc->stage,
		        "%s (reversed): stage %d, want %d", sc->name,
		        model_stage(&b.p), sc->stage);
		cr_assert_eq(model_funnel(&b.p), sc->funnel,
		        "%s (reversed): funnel", sc->name);
	}
}

Test(model_stage, engagement_types)
{
	static const int engagement[] = { MODEL_T_SITE_VISIT,
		MODEL_T_PAGE_VIEW, MODEL_T_CONTENT_VIEW, MODEL_T_EMAIL_OPEN,
		MODEL_T_EMAIL_CLICK, MODEL_T_APP_OPEN, MODEL_T_SUPPORT_TICKET,
		MODEL_T_FEEDBACK, MODEL_T_REVIEW,
		MODEL_T_ONBOARDING_COMPLETED };
	for (int type = 0; type < MODEL_N_TYPES; type++) {
		bool want = false;
		for (size_t i = 0; i < sizeof(engagement) / sizeof(int); i++) {
			want = want || engagement[i] == type;
		}
		cr_assert_eq(model_is_engagement(type), want,
		        "model_is_engagement(%d)", type);
	}
	cr_assert(!model_is_engagement(-1));
	cr_assert(!model_is_engagement(MODEL_N_TYPES));

	/* After one purchase, every engagement type gives NURTURE and every
	 * other type (but PURCHASE, REFERRAL) leaves ACQUISITION. */
	for (int type = 1; type < MODEL_N_TYPES; type++) {
		if (type == MODEL_T_PURCHASE || type == MODEL_T_REFERRAL) {
			continue;
		}
		struct spec s[2] = { TPC(MODEL_T_PURCHASE, 100, CH_DIRECT),
			TPC(type, 200, CH_DIRECT) };
		struct applier a;
		applier_init(&a, false);
		applier_run(&a, s, 2);
		int want = model_is_engagement(type) ? MODEL_NURTURE
		                                     : MODEL_ACQUISITION;
		cr_assert_eq(model_stage(&a.p), want, "type %d after purchase",
		        type);
		/* Late purchase: the rescan must find the engagement. */
		applier_init(&a, true);
		applier_apply(&a, &s[1]);
		applier_apply(&a, &s[0]);
		cr_assert_eq(model_stage(&a.p), want,
		        "type %d before a late purchase", type);
	}
}

Test(model_stage, every_type_alone_reaches)
{
	for (int type = 1; type < MODEL_N_TYPES; type++) {
		struct spec s = TPC(type, 100, CH_DIRECT);
		struct applier a;
		applier_init(&a, false);
		applier_apply(&a, &s);
		int want = type == MODEL_T_MESSAGE_SENT ? MODEL_STAGE_NONE
		        : type == MODEL_T_PURCHASE      ? MODEL_ACQUISITION
		                                        : MODEL_REACH;
		cr_assert_eq(model_stage(&a.p), want, "type %d alone", type);
		cr_assert_eq(a.p.touch_counts[type], 1);
	}
}

/* ---------------------------------------------------------------------- */
/* Funnel position.                                                       */

Test(model_funnel, positions)
{
	static const int middle[]
	        = { MODEL_T_SIGNUP, MODEL_T_PRICING_VIEW, MODEL_T_DEMO_REQUEST,
		          MODEL_T_ADD_TO_CART, MODEL_T_CHECKOUT_STARTED };
	for (int type = 1; type < MODEL_N_TYPES; type++) {
		bool is_middle = false;
		for (size_t i = 0; i < sizeof(middle) / sizeof(int); i++) {
			is_middle = is_middle || middle[i] == type;
		}
		struct spec s[3] = { TPC(AD_IMPRESSION, 10, CH_PAID),
			TPX(type, 20, CH_DIRECT, "sku"),
			TPC(MODEL_T_PURCHASE, 30, CH_DIRECT) };
		struct applier a;
		applier_init(&a, false);
		applier_apply(&a, &s[1]);
		int want = type == MODEL_T_PURCHASE ? MODEL_BOTTOM
		        : type == MODEL_T_MESSAGE_SENT
		        ? MODEL_FUNNEL_NONE
		        : (is_middle ? MODEL_MIDDLE : MODEL_TOP);
		cr_assert_eq(model_funnel(&a.p), want, "type %d alone: %d",
		        type, model_funnel(&a.p));
		/* With a TOP touchpoint before it. */
		applier_apply(&a, &s[0]);
		if (want == MODEL_FUNNEL_NONE) {
			want = MODEL_TOP;
		}
		cr_assert_eq(
		        model_funnel(&a.p), want, "type %d after an ad", type);
		/* A purchase always makes it BOTTOM. */
		applier_apply(&a, &s[2]);
		cr_assert_eq(model_funnel(&a.p), MODEL_BOTTOM,
		        "type %d then purchase", type);
	}
}

Test(model_funnel, middle_without_item_and_after_cart_removal)
{
	/* ADD_TO_CART without item still counts as MIDDLE; so does a cart
	 * that was emptied again (the touch happened). */
	struct spec s[] = { TPX(MODEL_T_ADD_TO_CART, 10, CH_DIRECT, NULL),
		TPX(MODEL_T_ADD_TO_CART, 20, CH_DIRECT, "a"),
		TPX(MODEL_T_REMOVE_FROM_CART, 30, CH_DIRECT, "a") };
	struct applier a;
	applier_init(&a, false);
	applier_apply(&a, &s[0]);
	cr_assert_eq(model_funnel(&a.p), MODEL_MIDDLE);
	applier_apply(&a, &s[1]);
	applier_apply(&a, &s[2]);
	cr_assert_eq(model_funnel(&a.p), MODEL_MIDDLE);
	const char *empty[] = { NULL };
	assert_cart(&a.p, empty, "after removal");
	cr_assert_eq(a.p.last_add_to_cart_ms, T0 + 20);
}

/* ---------------------------------------------------------------------- */
/* Stage history and reached_at (closed form).                            */

struct history_case {
	const char *name;
	struct spec t[8];
	size_t n;
	int64_t reached[MODEL_N_STAGES]; /* offsets from T0, -1 = never */
	struct model_stage_entry want[MODEL_N_STAGES - 1]; /* offsets */
	size_t n_want;
};

static const struct history_case history_cases[] = {
	{ "every stage in turn",
	        { TP(AD_IMPRESSION, 10), TP(MODEL_T_PURCHASE, 20),
	                TP(MODEL_T_SITE_VISIT, 30), TP(MODEL_T_PURCHASE, 40),
	                TP(MODEL_T_REFERRAL, 50) },
	        5, { -1, 10, 20, 30, 40, 50 },
	        { { MODEL_REACH, 10 }, { MODEL_ACQUISITION, 20 },
	                { MODEL_NURTURE, 30 }, { MODEL_RETENTION, 40 },
	                { MODEL_ADVOCACY, 50 } },
	        5 },
	{ "purchase first: no REACH entry", { TP(MODEL_T_PURCHASE, 10) }, 1,
	        { -1, 10, 10, -1, -1, -1 }, { { MODEL_ACQUISITION, 10 } }, 1 },
	{ "NURTURE skipped",
	        { TP(MODEL_T_SITE_VISIT, 10), TP(MODEL_T_PURCHASE, 20),
	                TP(MODEL_T_PURCHASE, 30) },
	        3, { -1, 10, 20, 30, 30, -1 },
	        { { MODEL_REACH, 10 }, { MODEL_ACQUISITION, 20 },
	                { MODEL_RETENTION, 30 } },
	        3 },
	{ "engagement at the second purchase instant",
	        { TP(MODEL_T_SITE_VISIT, 10), TP(MODEL_T_PURCHASE, 20),
	                TP(MODEL_T_APP_OPEN, 30), TP(MODEL_T_PURCHASE, 30) },
	        4, { -1, 10, 20, 30, 30, -1 },
	        { { MODEL_REACH, 10 }, { MODEL_ACQUISITION, 20 },
	                { MODEL_RETENTION, 30 } },
	        3 },
	{ "engagement at the first purchase instant",
	        { TP(MODEL_T_PURCHASE, 20), TP(MODEL_T_APP_OPEN, 20) }, 2,
	        { -1, 20, 20, -1, -1, -1 }, { { MODEL_ACQUISITION, 20 } }, 1 },
	{ "referral before the purchase",
	        { TP(MODEL_T_REFERRAL, 5), TP(MODEL_T_PURCHASE, 20) }, 2,
	        { -1, 5, 20, 20, 20, 20 },
	        { { MODEL_REACH, 5 }, { MODEL_ADVOCACY, 20 } }, 2 },
	{ "advocacy before the second purchase",
	        { TP(MODEL_T_PURCHASE, 20), TP(MODEL_T_REFERRAL, 30),
	                TP(MODEL_T_PURCHASE, 40) },
	        3, { -1, 20, 20, 30, 30, 30 },
	        { { MODEL_ACQUISITION, 20 }, { MODEL_ADVOCACY, 30 } }, 2 },
	{ "nurture, then advocacy",
	        { TP(MODEL_T_SIGNUP, 1), TP(MODEL_T_PURCHASE, 20),
	                TP(MODEL_T_FEEDBACK, 25), TP(MODEL_T_REFERRAL, 30),
	                TP(MODEL_T_PURCHASE, 40) },
	        5, { -1, 1, 20, 25, 30, 30 },
	        { { MODEL_REACH, 1 }, { MODEL_ACQUISITION, 20 },
	                { MODEL_NURTURE, 25 }, { MODEL_ADVOCACY, 30 } },
	        4 },
	{ "message sent does not start REACH",
	        { TP(MODEL_T_MESSAGE_SENT, 1), TP(MODEL_T_SITE_VISIT, 10) }, 2,
	        { -1, 10, -1, -1, -1, -1 }, { { MODEL_REACH, 10 } }, 1 },
	{ "only message sent", { TP(MODEL_T_MESSAGE_SENT, 1) }, 1,
	        { -1, -1, -1, -1, -1, -1 }, { { 0 } }, 0 },
};

static void
check_history_case(const struct history_case *hc, const struct applier *a,
        const char *order)
{
	int64_t at[MODEL_N_STAGES];
	model_reached_at(&a->p, at);
	for (int s = 0; s < MODEL_N_STAGES; s++) {
		int64_t want = hc->reached[s] < 0 ? 0 : T0 + hc->reached[s];
		cr_assert_eq(at[s], want,
		        "%s (%s): reached_at[%d] = %lld, want %lld", hc->name,
		        order, s, (long long) at[s], (long long) want);
	}
	struct model_stage_entry h[MODEL_N_STAGES - 1];
	size_t n = model_history(&a->p, h);
	cr_assert_eq(n, hc->n_want, "%s (%s): %zu history entries, want %zu",
	        hc->name, order, n, hc->n_want);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(h[i].stage, hc->want[i].stage,
		        "%s (%s): history[%zu].stage", hc->name, order, i);
		cr_assert_eq(h[i].entered_ms, T0 + hc->want[i].entered_ms,
		        "%s (%s): history[%zu].entered_ms", hc->name, order,
		        i);
	}
}

Test(model_history, closed_form_table)
{
	for (size_t c = 0;
	        c < sizeof(history_cases) / sizeof(history_cases[0]); c++) {
		const struct history_case *hc = &history_cases[c];
		struct applier a;
		applier_init(&a, false);
		applier_run(&a, hc->t, hc->n);
		check_history_case(hc, &a, "in order");
		applier_init(&a, true);
		for (size_t i = hc->n; i-- > 0;) {
			applier_apply(&a, &hc->t[i]);
		}
		check_history_case(hc, &a, "reversed");
	}
}

Test(model_history, late_purchase_rewrites_times)
{
	struct applier a;
	applier_init(&a, true);
	struct spec s[] = { TP(MODEL_T_SITE_VISIT, 10),
		TP(MODEL_T_PURCHASE, 50), TP(MODEL_T_PAGE_VIEW, 30),
		TP(MODEL_T_PURCHASE, 20) };
	applier_apply(&a, &s[0]);
	applier_apply(&a, &s[1]);
	cr_assert_eq(model_stage(&a.p), MODEL_ACQUISITION);
	applier_apply(&a, &s[2]);
	cr_assert_eq(model_stage(&a.p), MODEL_ACQUISITION);
	/* A purchase at 20 arrives late: it is the first, 50 the second, and
	 * the page view at 30 is now an engagement after the first. */
	applier_apply(&a, &s[3]);
	cr_assert_eq(model_stage(&a.p), MODEL_RETENTION);
	int64_t at[MODEL_N_STAGES];
	model_reached_at(&a.p, at);
	cr_assert_eq(at[MODEL_REACH], T0 + 10);
	cr_assert_eq(at[MODEL_ACQUISITION], T0 + 20);
	cr_assert_eq(at[MODEL_NURTURE], T0 + 30);
	cr_assert_eq(at[MODEL_RETENTION], T0 + 50);
	cr_assert_eq(at[MODEL_ADVOCACY], 0);
	cr_assert_eq(a.p.engaged_after_purchase_ms, T0 + 30);
	cr_assert_eq(a.p.second_purchase_ms, T0 + 50);
}

/* ---------------------------------------------------------------------- */
/* The rescan contract of model_apply.                                    */

Test(model_apply, rescan_windows)
{
	struct model_profile p;
	model_profile_init(&p);
	struct model_rescan r = { .active = true };
	struct model_touch t
	        = touch(MODEL_T_SITE_VISIT, CH_DIRECT, T0 + 300, 1);
	model_apply(&p, &t, &r);
	cr_assert(!r.active, "a visit needs no rescan");

	/* The first purchase: every engagement after it counts. */
	t = touch(MODEL_T_PURCHASE, CH_DIRECT, T0 + 200, 2);
	model_apply(&p, &t, &r);
	cr_assert(r.active);
	cr_assert_eq(r.after_ms, T0 + 200);
	cr_assert_eq(r.upto_ms, INT64_MAX);
	model_note_engagement(&p, T0 + 300);
	cr_assert_eq(p.engaged_after_purchase_ms, T0 + 300);

	/* A later purchase: nothing to scan. */
	t = touch(MODEL_T_PURCHASE, CH_DIRECT, T0 + 250, 3);
	model_apply(&p, &t, &r);
	cr_assert(!r.active);

	/* An earlier one: scan (new first, old first]. */
	t = touch(MODEL_T_PURCHASE, CH_DIRECT, T0 + 100, 4);
	model_apply(&p, &t, &r);
	cr_assert(r.active);
	cr_assert_eq(r.after_ms, T0 + 100);
	cr_assert_eq(r.upto_ms, T0 + 200);

	/* Same instant as the first, earlier seq: the time did not move. */
	t = touch(MODEL_T_PURCHASE, CH_EMAIL, T0 + 100, 0);
	model_apply(&p, &t, &r);
	cr_assert(!r.active);
	cr_assert_eq(p.first_purchase_ms, T0 + 100);
	cr_assert_eq(p.purchases, 4);

	/* Engagements at or before the first purchase are ignored. */
	model_note_engagement(&p, T0 + 100);
	model_note_engagement(&p, T0 + 50);
	cr_assert_eq(p.engaged_after_purchase_ms, T0 + 300);
	model_note_engagement(&p, T0 + 150);
	cr_assert_eq(p.engaged_after_purchase_ms, T0 + 150);
	model_note_engagement(&p, T0 + 180);
	cr_assert_eq(p.engaged_after_purchase_ms, T0 + 150);
}

/* ---------------------------------------------------------------------- */
/* Counters, money, times and channels.                                   */

Test(model_facts, revenue_in_micros)
{
	struct spec s[] = {
		{ MODEL_T_PURCHASE, 10, CH_DIRECT, NULL, 19990000 },
		{ MODEL_T_PURCHASE, 20, CH_DIRECT, NULL, 5000000 },
		{ MODEL_T_REFUND, 30, CH_DIRECT, NULL, 3500000 },
		{ MODEL_T_PURCHASE, 40, CH_DIRECT, NULL, 1 },
		TPC(MODEL_T_REFERRAL, 50, CH_DIRECT),
		TPC(MODEL_T_REFERRAL, 60, CH_DIRECT),
	};
	struct applier a;
	applier_init(&a, false);
	applier_run(&a, s, sizeof(s) / sizeof(s[0]));
	cr_assert_eq(a.p.purchases, 3);
	cr_assert_eq(a.p.refunds, 1);
	cr_assert_eq(a.p.referrals, 2);
	cr_assert_eq(a.p.purchase_micros, 24990001);
	cr_assert_eq(a.p.refund_micros, 3500000);
	cr_assert_eq(a.p.purchase_micros - a.p.refund_micros, 21490001);
	cr_assert_eq(a.p.first_purchase_ms, T0 + 10);
	cr_assert_eq(a.p.second_purchase_ms, T0 + 20);
	cr_assert_eq(a.p.last_purchase_ms, T0 + 40);
	cr_assert_eq(a.p.first_referral_ms, T0 + 50);
	cr_assert_eq(a.p.touch_counts[MODEL_T_PURCHASE], 3);
	cr_assert_eq(a.p.touch_counts[MODEL_T_REFUND], 1);
	cr_assert_eq(a.p.touch_counts[MODEL_T_REFERRAL], 2);
}

Test(model_facts, seen_times_exclude_message_sent)
{
	struct spec s[] = {
		TPC(MODEL_T_MESSAGE_SENT, 5, CH_SMS),
		TPC(MODEL_T_SITE_VISIT, 30, CH_SEARCH),
		TPC(MODEL_T_PAGE_VIEW, 10, CH_PAID),
		TPC(MODEL_T_MESSAGE_SENT, 100, CH_EMAIL),
		TPC(MODEL_T_EMAIL_OPEN, 20, CH_EMAIL),
	};
	struct applier a;
	applier_init(&a, false);
	applier_run(&a, s, sizeof(s) / sizeof(s[0]));
	cr_assert_eq(a.p.first_seen_ms, T0 + 10);
	cr_assert_eq(a.p.last_seen_ms, T0 + 30);
	cr_assert_eq(a.p.last_engaged_ms, T0 + 30);
	cr_assert_eq(a.p.acquisition_channel, CH_PAID,
	        "first touch is the page view at 10, not the message at 5");
	cr_assert_eq(a.p.touch_counts[MODEL_T_MESSAGE_SENT], 2);
	cr_assert_eq(model_stage(&a.p), MODEL_REACH);
}

Test(model_facts, acquisition_and_conversion_channels)
{
	/* Applied out of event-time order on purpose. */
	struct spec s[] = {
		TPC(MODEL_T_PURCHASE, 500, CH_DIRECT),
		TPC(MODEL_T_SITE_VISIT, 300, CH_SEARCH),
		TPC(MODEL_T_PURCHASE, 400, CH_EMAIL),
		TPC(AD_CLICK, 100, CH_PAID),
		TPC(MODEL_T_PURCHASE, 450, CH_STORE),
		TPC(MODEL_T_MESSAGE_SENT, 50, CH_SMS),
	};
	struct applier a;
	applier_init(&a, false);
	applier_run(&a, s, sizeof(s) / sizeof(s[0]));
	cr_assert_eq(a.p.acquisition_channel, CH_PAID);
	cr_assert_eq(a.p.conversion_channel, CH_EMAIL);
	cr_assert_eq(a.p.first_purchase_ms, T0 + 400);
	cr_assert_eq(a.p.second_purchase_ms, T0 + 450);
	cr_assert_eq(a.p.last_purchase_ms, T0 + 500);
	cr_assert_eq(a.p.first_seen_ms, T0 + 100);
	cr_assert_eq(a.p.last_seen_ms, T0 + 500);
	/* No purchase: no conversion channel. */
	struct applier b;
	applier_init(&b, false);
	applier_apply(&b, &s[1]);
	cr_assert_eq(b.p.conversion_channel, 0);
	cr_assert_eq(b.p.acquisition_channel, CH_SEARCH);
}

/* ---------------------------------------------------------------------- */
/* Cart.                                                                  */

struct cart_case {
	const char *name;
	struct spec t[8];
	size_t n;
	const char *want[6]; /* NULL-terminated, newest first */
};

static const struct cart_case cart_cases[] = {
	{ "empty", { TP(MODEL_T_SITE_VISIT, 1) }, 1, { NULL } },
	{ "newest first",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 20, "b"),
	                TPI(MODEL_T_ADD_TO_CART, 15, "c") },
	        3, { "b", "c", "a", NULL } },
	{ "ties by item id",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "b"),
	                TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 10, "c") },
	        3, { "a", "b", "c", NULL } },
	{ "removed",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 11, "b"),
	                TPI(MODEL_T_REMOVE_FROM_CART, 12, "a") },
	        3, { "b", NULL } },
	{ "removed, then added again",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_REMOVE_FROM_CART, 12, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 14, "a") },
	        3, { "a", NULL } },
	{ "removal before the add does not remove",
	        { TPI(MODEL_T_REMOVE_FROM_CART, 5, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 10, "a") },
	        2, { "a", NULL } },
	{ "add and remove at the same instant: removal wins",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_REMOVE_FROM_CART, 10, "a") },
	        2, { NULL } },
	{ "purchase of the item removes it",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 10, "b"),
	                TPI(MODEL_T_PURCHASE, 20, "a") },
	        3, { "b", NULL } },
	{ "purchase of the item at the add instant",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_PURCHASE, 10, "a") },
	        2, { NULL } },
	{ "purchase without item clears the cart",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_ADD_TO_CART, 12, "b"),
	                TPI(MODEL_T_PURCHASE, 20, NULL),
	                TPI(MODEL_T_ADD_TO_CART, 30, "c") },
	        4, { "c", NULL } },
	{ "clearing purchase at the add instant",
	        { TPI(MODEL_T_ADD_TO_CART, 20, "a"),
	                TPI(MODEL_T_PURCHASE, 20, NULL) },
	        2, { NULL } },
	{ "clearing purchase before the add",
	        { TPI(MODEL_T_PURCHASE, 5, NULL),
	                TPI(MODEL_T_ADD_TO_CART, 20, "a") },
	        2, { "a", NULL } },
	{ "purchase of another item leaves the cart",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_PURCHASE, 20, "z") },
	        2, { "a", NULL } },
	{ "remove without item and add without item change nothing",
	        { TPI(MODEL_T_ADD_TO_CART, 10, "a"),
	                TPI(MODEL_T_REMOVE_FROM_CART, 20, NULL),
	                TPI(MODEL_T_ADD_TO_CART, 30, NULL) },
	        3, { "a", NULL } },
};

Test(model_cart, table)
{
	for (size_t c = 0; c < sizeof(cart_cases) / sizeof(cart_cases[0]);
	        c++) {
		const struct cart_case *cc = &cart_cases[c];
		struct applier a;
		applier_init(&a, false);
		applier_run(&a, cc->t, cc->n);
		assert_cart(&a.p, cc->want, cc->name);
		applier_init(&a, false);
		for (size_t i = cc->n; i-- > 0;) {
			applier_apply(&a, &cc->t[i]);
		}
		char name[128];
		snprintf(name, sizeof(name), "%s (reversed)", cc->name);
		assert_cart(&a.p, cc->want, name);
	}
}

Test(model_cart, full_cart_forgets_the_oldest)
{
	static char ids[MODEL_CART_MAX + 1][8];
	struct applier a;
	applier_init(&a, false);
	for (int i = 0; i <= MODEL_CART_MAX; i++) {
		snprintf(ids[i], sizeof(ids[i]), "i%03d", i);
		struct spec s = TPI(MODEL_T_ADD_TO_CART, 100 + i, ids[i]);
		struct model_touch t
		        = touch(s.type, 0, T0 + s.at, (uint64_t) i + 1);
		t.item_id = s.item;
		struct model_rescan r;
		model_apply(&a.p, &t, &r);
	}
	const char *got[MODEL_CART_MAX];
	size_t n = cart_ids(&a.p, got);
	cr_assert_eq(n, MODEL_CART_MAX);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(got[i], ids[MODEL_CART_MAX - i]);
	}
}

Test(model_cart, long_item_id_is_kept_to_the_limit)
{
	char item[MODEL_ITEM_MAX + 1];
	memset(item, 'x', MODEL_ITEM_MAX);
	item[MODEL_ITEM_MAX] = '\0';
	struct spec s = TPI(MODEL_T_ADD_TO_CART, 10, item);
	struct applier a;
	applier_init(&a, false);
	applier_apply(&a, &s);
	const char *want[] = { item, NULL };
	assert_cart(&a.p, want, "128-byte item id");
}

/* ---------------------------------------------------------------------- */
/* CUSTOM touchpoints and orders of several items.                        */

Test(model_custom, counts_and_never_moves_a_stage)
{
	/* One journey per stage; a CUSTOM after it changes no stage. */
	static const struct spec journeys[][3] = {
		{ TP(MODEL_T_PAGE_VIEW, 100) },
		{ TP(MODEL_T_PURCHASE, 100) },
		{ TP(MODEL_T_PURCHASE, 100), TP(MODEL_T_APP_OPEN, 200) },
		{ TP(MODEL_T_PURCHASE, 100), TP(MODEL_T_PURCHASE, 200) },
		{ TP(MODEL_T_PURCHASE, 100), TP(MODEL_T_REFERRAL, 200) },
	};
	static const size_t lens[] = { 1, 1, 2, 2, 2 };
	for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
		struct applier a;
		applier_init(&a, false);
		applier_run(&a, journeys[j], lens[j]);
		int stage = model_stage(&a.p);
		int funnel = model_funnel(&a.p);
		int64_t before[MODEL_N_STAGES];
		model_reached_at(&a.p, before);
		/*
		 * Before, between and after: no stage past REACH moves; the
		 * one before the rest is the customer's first touchpoint, so
		 * REACH (first_seen) moves earlier, as for any touchpoint.
		 */
		struct spec c[3] = { TP(MODEL_T_CUSTOM, 50),
			TP(MODEL_T_CUSTOM, 150), TP(MODEL_T_CUSTOM, 300) };
		applier_run(&a, c, 3);
		cr_assert_eq(model_stage(&a.p), stage, "journey %zu", j);
		cr_assert_eq(model_funnel(&a.p), funnel, "journey %zu", j);
		int64_t after[MODEL_N_STAGES];
		model_reached_at(&a.p, after);
		cr_assert_eq(after[MODEL_REACH], T0 + 50, "journey %zu", j);
		for (int st = MODEL_ACQUISITION; st < MODEL_N_STAGES; st++) {
			cr_assert_eq(after[st], before[st],
			        "journey %zu, stage %d", j, st);
		}
		cr_assert_eq(a.p.touch_counts[MODEL_T_CUSTOM], 3);
		/* The customer's own activity: seen from 50 to 300. */
		cr_assert_eq(a.p.first_seen_ms, T0 + 50, "journey %zu", j);
		cr_assert_eq(a.p.last_seen_ms, T0 + 300, "journey %zu", j);
		cr_assert(a.p.last_engaged_ms < T0 + 300, "journey %zu", j);
	}
	cr_assert(!model_is_engagement(MODEL_T_CUSTOM));
	cr_assert_lt(MODEL_T_CUSTOM, MODEL_N_TYPES);
}

Test(model_custom, alone_is_reach)
{
	struct applier a;
	applier_init(&a, false);
	struct spec s = TPC(MODEL_T_CUSTOM, 100, CH_PAID);
	applier_apply(&a, &s);
	cr_assert_eq(model_stage(&a.p), MODEL_REACH);
	cr_assert_eq(model_funnel(&a.p), MODEL_TOP);
	cr_assert_eq(a.p.acquisition_channel, CH_PAID);
	cr_assert_eq(a.p.touch_counts[MODEL_T_CUSTOM], 1);
}

Test(model_order, one_purchase_and_every_item_leaves_the_cart)
{
	struct applier a;
	applier_init(&a, false);
	static const struct spec adds[] = {
		TPI(MODEL_T_ADD_TO_CART, 10, "phone"),
		TPI(MODEL_T_ADD_TO_CART, 20, "case"),
		TPI(MODEL_T_ADD_TO_CART, 30, "cable"),
		TPI(MODEL_T_ADD_TO_CART, 40, "strap"),
	};
	applier_run(&a, adds, 4);
	char *items[] = { "case", "cable" };
	struct model_touch t = touch(MODEL_T_PURCHASE, 0, T0 + 100, ++a.seq);
	t.item_id = "phone";
	t.order_items = items;
	t.n_order_items = 2;
	t.value_micros = 530000000;
	struct model_rescan r;
	model_apply(&a.p, &t, &r);
	cr_assert_eq(a.p.purchases, 1);
	cr_assert_eq(a.p.purchase_micros, 530000000);
	cr_assert_eq(a.p.touch_counts[MODEL_T_PURCHASE], 1);
	cr_assert_eq(model_stage(&a.p), MODEL_ACQUISITION);
	static const char *const want[] = { "strap", NULL };
	assert_cart(&a.p, want, "after the order");
	cr_assert_str_eq(a.p.last_item, "phone");

	/* A REFUND of the order leaves the cart and the counts alone. */
	struct model_touch rf = touch(MODEL_T_REFUND, 0, T0 + 200, ++a.seq);
	rf.item_id = "phone";
	rf.order_items = items;
	rf.n_order_items = 2;
	rf.value_micros = 30000000;
	model_apply(&a.p, &rf, &r);
	cr_assert_eq(a.p.purchases, 1);
	cr_assert_eq(a.p.refunds, 1);
	assert_cart(&a.p, want, "after the refund");
}
