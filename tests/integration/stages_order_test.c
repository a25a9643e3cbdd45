/*
 * stages_order: one customer's journey through all five stages of
 * docs/api.md "The lifecycle model" against a real clmd: the stage changes
 * in TrackReply, the Customer they give, idempotency, and that the
 * Customer does not depend on the order the touchpoints arrive in
 * (reversed, shuffled, all at once, a late earlier purchase). Not the
 * journeys of docs/journeys.md (jny_*_test.c).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"
#include "stages.h"

HARNESS_SUITE(stages_order, 60);

static int64_t
stages_order_wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

Test(stages_order, five_stages_in_order)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	stages_track_in_order(c, "alice");

	int64_t before = stages_order_wall_ms();
	Clm__V1__Response *r1 = stages_get_customer(c, "alice", 0);
	int64_t after = stages_order_wall_ms();
	stages_check_journey_customer(r1->customer);
	cr_expect(r1->customer->as_of_ms >= before - 1000
	                && r1->customer->as_of_ms <= after + 1000,
	        "as_of_ms %lld is not now",
	        (long long) r1->customer->as_of_ms);

	/* The same batch again: every touchpoint a duplicate, no change. */
	struct stages_tps t;
	stages_make_journey(&t, "alice");
	Clm__V1__Response *resp = stages_track(c, t.ptr, STAGES_N_STEPS);
	cr_expect_eq(resp->track->accepted, 0);
	cr_expect_eq(resp->track->duplicates, STAGES_N_STEPS);
	cr_expect_eq(resp->track->n_changes, 0);
	clm_response_free(resp);

	Clm__V1__Response *r2 = stages_get_customer(c, "alice", 0);
	stages_check_journey_customer(r2->customer);
	cr_expect(stages_same_customer(r1->customer, r2->customer),
	        "customer changed after a batch of duplicates");
	Clm__V1__StatusReply st = stages_status(c);
	cr_expect_eq(st.customers, 1);
	cr_expect_eq(st.touchpoints, STAGES_N_STEPS);
	clm_response_free(r1);
	clm_response_free(r2);
	clm_close(c);
	cr_expect_eq(
	        clmd_stop(&srv), 0, "clmd exit status (log %s)", srv.log_path);
}

Test(stages_order, reversed_arrival_gives_the_same_customer)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	stages_track_in_order(c, "alice");

	/* bob: the same journey, arriving newest first, one per call. */
	struct stages_tps t;
	stages_make_journey(&t, "bob");
	for (size_t k = 0; k < STAGES_N_STEPS; k++) {
		size_t i = STAGES_N_STEPS - 1 - k;
		Clm__V1__Response *resp = stages_track(c, &t.ptr[i], 1);
		const Clm__V1__TrackReply *r = resp->track;
		cr_expect_eq(r->accepted, 1);
		cr_expect_eq(r->duplicates, 0);
		if (k == 0) {
			/* The REFERRAL alone: REACH, at its time. */
			cr_assert_eq(r->n_changes, 1);
			stages_check_change(r->changes[0], "bob", t.ids[i],
			        CLM__V1__STAGE__STAGE_UNSPECIFIED,
			        CLM__V1__STAGE__REACH,
			        STAGES_T0 + 20 * STAGES_DAY_MS);
		} else if (k == 1) {
			/* + the second PURCHASE: a purchase and a referral,
			 * ADVOCACY since max(purchase, referral) = T0+20d. */
			cr_assert_eq(r->n_changes, 1);
			stages_check_change(r->changes[0], "bob", t.ids[i],
			        CLM__V1__STAGE__REACH,
			        CLM__V1__STAGE__ADVOCACY,
			        STAGES_T0 + 20 * STAGES_DAY_MS);
		} else {
			/* The current stage stays ADVOCACY. */
			cr_expect_eq(r->n_changes, 0, "call %zu: %zu changes",
			        k, r->n_changes);
		}
		clm_response_free(resp);
	}

	Clm__V1__Response *ra = stages_get_customer(c, "alice", 0);
	Clm__V1__Response *rb = stages_get_customer(c, "bob", 0);
	stages_check_journey_customer(rb->customer);
	cr_expect(stages_same_customer(ra->customer, rb->customer),
	        "bob (reversed arrival) differs from alice (in order)");
	clm_response_free(ra);
	clm_response_free(rb);

	/* One batch, shuffled, for a third customer: same again. */
	static const size_t order[STAGES_N_STEPS] = { 4, 0, 5, 2, 1, 3 };
	struct stages_tps t3;
	stages_make_journey(&t3, "carol");
	Clm__V1__Touchpoint *shuffled[STAGES_N_STEPS];
	for (size_t i = 0; i < STAGES_N_STEPS; i++) {
		shuffled[i] = t3.ptr[order[i]];
	}
	Clm__V1__Response *resp = stages_track(c, shuffled, STAGES_N_STEPS);
	cr_expect_eq(resp->track->accepted, STAGES_N_STEPS);
	clm_response_free(resp);
	ra = stages_get_customer(c, "alice", 0);
	Clm__V1__Response *rc = stages_get_customer(c, "carol", 0);
	stages_check_journey_customer(rc->customer);
	cr_expect(stages_same_customer(ra->customer, rc->customer),
	        "carol (shuffled batch) differs from alice (in order)");
	clm_response_free(ra);
	clm_response_free(rc);
	clm_close(c);
}

Test(stages_order, unknown_customer_is_not_found)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, "nobody", 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "got %s", clm_errname(e));
	cr_assert_not_null(resp);
	cr_assert_not_null(resp->status);
	cr_expect_eq(resp->status->code, CLM__V1__CODE__NOT_FOUND);
	cr_expect_eq(resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	cr_expect(strstr(resp->status->message, "nobody") != NULL,
	        "message '%s' does not name the customer",
	        resp->status->message);
	clm_response_free(resp);

	/* Still not found after someone else exists. */
	stages_track_in_order(c, "alice");
	e = clm_get_customer(c, "nobody", 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "got %s", clm_errname(e));
	clm_response_free(resp);
	clm_close(c);
}

/*
 * A richer journey: a MESSAGE_SENT before anything else (not a "seen"
 * touchpoint), a cart, an engagement at the very instant of the first
 * purchase (not "strictly after"), a refund.
 */
static const struct stages_step rich[] = {
	{ "r01", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT,
	        CLM__V1__CHANNEL__EMAIL, STAGES_T0 - 5 * STAGES_DAY_MS, 0, 0 },
	{ "r02", CLM__V1__TOUCHPOINT_TYPE__AD_IMPRESSION,
	        CLM__V1__CHANNEL__ORGANIC_SOCIAL, STAGES_T0, 0, 0 },
	{ "r03", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
	        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + STAGES_HOUR_MS, 0, 60 },
	{ "r04", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART,
	        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + 2 * STAGES_HOUR_MS, 0,
	        0 },
	{ "r05", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__EMAIL,
	        STAGES_T0 + 3 * STAGES_HOUR_MS, 100, 0 },
	{ "r06", CLM__V1__TOUCHPOINT_TYPE__EMAIL_OPEN, CLM__V1__CHANNEL__EMAIL,
	        STAGES_T0 + 3 * STAGES_HOUR_MS, 0, 0 },
	{ "r07", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART,
	        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + 4 * STAGES_DAY_MS, 0,
	        0 },
	{ "r08", CLM__V1__TOUCHPOINT_TYPE__APP_OPEN, CLM__V1__CHANNEL__IN_APP,
	        STAGES_T0 + 5 * STAGES_DAY_MS, 0, 0 },
	{ "r09", CLM__V1__TOUCHPOINT_TYPE__REFUND, CLM__V1__CHANNEL__DIRECT,
	        STAGES_T0 + 6 * STAGES_DAY_MS, 30, 0 },
	{ "r10", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__DIRECT,
	        STAGES_T0 + 9 * STAGES_DAY_MS, 10, 0 },
	{ "r11", CLM__V1__TOUCHPOINT_TYPE__REFERRAL,
	        CLM__V1__CHANNEL__REFERRAL_LINK,
	        STAGES_T0 + 12 * STAGES_DAY_MS, 0, 0 },
};
#define N_RICH (sizeof(rich) / sizeof(rich[0]))
/* Items of the cart steps and purchases (NULL: none). */
static const char *const rich_items[N_RICH] = { NULL, NULL, NULL, "sku-1",
	"sku-1", NULL, "sku-2", NULL, NULL, "sku-3", NULL };

struct rich_tps {
	Clm__V1__Touchpoint tp[N_RICH];
	Clm__V1__Touchpoint *ptr[N_RICH];
	char ids[N_RICH][64];
};

static void
stages_order_make_rich(struct rich_tps *t, const char *customer)
{
	for (size_t i = 0; i < N_RICH; i++) {
		Clm__V1__Touchpoint *tp = &t->tp[i];
		clm__v1__touchpoint__init(tp);
		snprintf(t->ids[i], sizeof(t->ids[i]), "%s-%s", customer,
		        rich[i].event_id);
		tp->event_id = t->ids[i];
		tp->customer_id = (char *) customer;
		tp->type = rich[i].type;
		tp->channel = rich[i].channel;
		tp->occurred_at_ms = rich[i].at_ms;
		tp->value = rich[i].value;
		tp->duration_s = rich[i].duration_s;
		if (rich_items[i] != NULL) {
			tp->item_id = (char *) rich_items[i];
		}
		t->ptr[i] = tp;
	}
}

static void
stages_order_check_rich_customer(const Clm__V1__Customer *cu)
{
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ADVOCACY);
	cr_expect_eq(cu->funnel, CLM__V1__FUNNEL_POSITION__BOTTOM);
	/* The EMAIL_OPEN at the purchase's instant is not after it: NURTURE
	 * comes with the APP_OPEN. */
	static const struct {
		Clm__V1__Stage stage;
		int64_t at;
	} want[] = {
		{ CLM__V1__STAGE__REACH, STAGES_T0 },
		{ CLM__V1__STAGE__ACQUISITION,
		        STAGES_T0 + 3 * STAGES_HOUR_MS },
		{ CLM__V1__STAGE__NURTURE, STAGES_T0 + 5 * STAGES_DAY_MS },
		{ CLM__V1__STAGE__RETENTION, STAGES_T0 + 9 * STAGES_DAY_MS },
		{ CLM__V1__STAGE__ADVOCACY, STAGES_T0 + 12 * STAGES_DAY_MS },
	};
	cr_assert_eq(cu->n_stage_history, 5, "stage_history has %zu entries",
	        cu->n_stage_history);
	for (size_t i = 0; i < 5; i++) {
		cr_expect_eq(cu->stage_history[i]->stage, want[i].stage);
		cr_expect_eq(cu->stage_history[i]->entered_at_ms, want[i].at,
		        "history[%zu] at %lld, want %lld", i,
		        (long long) cu->stage_history[i]->entered_at_ms,
		        (long long) want[i].at);
	}
	cr_expect_eq(cu->purchases, 2);
	cr_expect_eq(cu->refunds, 1);
	cr_expect_eq(cu->referrals, 1);
	cr_expect(fabs(cu->revenue - 80.0) < 1e-9, "revenue %f", cu->revenue);
	/* MESSAGE_SENT counts for neither first_seen nor first touch. */
	cr_expect_eq(cu->first_seen_ms, STAGES_T0, "first_seen %lld",
	        (long long) cu->first_seen_ms);
	cr_expect_eq(cu->last_seen_ms, STAGES_T0 + 12 * STAGES_DAY_MS);
	cr_expect_eq(cu->acquisition_channel, CLM__V1__CHANNEL__ORGANIC_SOCIAL,
	        "acquisition_channel %d", cu->acquisition_channel);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__EMAIL);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART),
	        2);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 2);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__REFUND), 1);
	/* sku-1 was bought; sku-2 is still in the cart. */
	cr_assert_eq(cu->n_cart_items, 1, "%zu cart items", cu->n_cart_items);
	cr_expect_str_eq(cu->cart_items[0], "sku-2");
}

/* Whatever order the touchpoints arrive in, the Customer is the same. */
Test(stages_order, any_arrival_order_gives_the_same_customer)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	size_t idx[N_RICH];
	for (size_t i = 0; i < N_RICH; i++) {
		idx[i] = i;
	}
	struct rich_tps t0;
	stages_order_make_rich(&t0, "p0");
	for (size_t i = 0; i < N_RICH; i++) {
		Clm__V1__Response *resp = stages_track(c, &t0.ptr[i], 1);
		cr_expect_eq(resp->track->accepted, 1);
		clm_response_free(resp);
	}
	Clm__V1__Response *ref = stages_get_customer(c, "p0", 0);
	stages_order_check_rich_customer(ref->customer);

	/* Fixed pseudo-random permutations, one touchpoint per call. */
	uint64_t x = 42;
	for (int round = 1; round <= 6; round++) {
		for (size_t i = N_RICH - 1; i > 0; i--) {
			x = x * 6364136223846793005ULL
			        + 1442695040888963407ULL;
			size_t j = (size_t) ((x >> 33) % (i + 1));
			size_t tmp = idx[i];
			idx[i] = idx[j];
			idx[j] = tmp;
		}
		char id[16];
		snprintf(id, sizeof(id), "p%d", round);
		struct rich_tps t;
		stages_order_make_rich(&t, id);
		for (size_t k = 0; k < N_RICH; k++) {
			Clm__V1__Response *resp
			        = stages_track(c, &t.ptr[idx[k]], 1);
			cr_expect_eq(resp->track->accepted, 1);
			clm_response_free(resp);
		}
		Clm__V1__Response *got = stages_get_customer(c, id, 0);
		char order[64] = "";
		for (size_t k = 0; k < N_RICH; k++) {
			size_t l = strlen(order);
			snprintf(order + l, sizeof(order) - l, "%zu ", idx[k]);
		}
		cr_expect(stages_same_customer(ref->customer, got->customer),
		        "%s (order %s) differs from in-order p0", id, order);
		stages_order_check_rich_customer(got->customer);
		clm_response_free(got);
	}

	/* All in one call, newest first. */
	struct rich_tps tb;
	stages_order_make_rich(&tb, "p-batch");
	Clm__V1__Touchpoint *rev[N_RICH];
	for (size_t i = 0; i < N_RICH; i++) {
		rev[i] = tb.ptr[N_RICH - 1 - i];
	}
	Clm__V1__Response *resp = stages_track(c, rev, N_RICH);
	cr_expect_eq(resp->track->accepted, N_RICH);
	clm_response_free(resp);
	Clm__V1__Response *got = stages_get_customer(c, "p-batch", 0);
	cr_expect(stages_same_customer(ref->customer, got->customer),
	        "one reversed batch differs from in-order p0");
	clm_response_free(got);
	clm_response_free(ref);
	clm_close(c);
}

/* Stages reached at the same instant as the next one have no entry. */
Test(stages_order, stages_reached_at_once_are_skipped)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	static const struct stages_step s[] = {
		{ "s1", CLM__V1__TOUCHPOINT_TYPE__REFERRAL,
		        CLM__V1__CHANNEL__REFERRAL_LINK, STAGES_T0, 0, 0 },
		{ "s2", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + STAGES_DAY_MS, 5,
		        0 },
	};
	struct stages_tps t;
	stages_make_tp(&t, 0, "dave", &s[0]);
	stages_make_tp(&t, 1, "dave", &s[1]);
	Clm__V1__Response *resp = stages_track(c, &t.ptr[0], 1);
	cr_assert_eq(resp->track->n_changes, 1);
	stages_check_change(resp->track->changes[0], "dave", t.ids[0],
	        CLM__V1__STAGE__STAGE_UNSPECIFIED, CLM__V1__STAGE__REACH,
	        STAGES_T0);
	clm_response_free(resp);
	resp = stages_track(c, &t.ptr[1], 1);
	cr_assert_eq(resp->track->n_changes, 1);
	stages_check_change(resp->track->changes[0], "dave", t.ids[1],
	        CLM__V1__STAGE__REACH, CLM__V1__STAGE__ADVOCACY,
	        STAGES_T0 + STAGES_DAY_MS);
	clm_response_free(resp);

	resp = stages_get_customer(c, "dave", 0);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ADVOCACY);
	cr_assert_eq(
	        cu->n_stage_history, 2, "%zu entries", cu->n_stage_history);
	cr_expect_eq(cu->stage_history[0]->stage, CLM__V1__STAGE__REACH);
	cr_expect_eq(cu->stage_history[0]->entered_at_ms, STAGES_T0);
	cr_expect_eq(cu->stage_history[1]->stage, CLM__V1__STAGE__ADVOCACY);
	cr_expect_eq(cu->stage_history[1]->entered_at_ms,
	        STAGES_T0 + STAGES_DAY_MS);
	clm_response_free(resp);
	clm_close(c);
}

/*
 * A late, earlier purchase rewrites the history (docs/api.md "The lifecycle
 * model").
 */
Test(stages_order, late_purchase_rewrites_history)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	static const struct stages_step s[] = {
		{ "l1", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
		        CLM__V1__CHANNEL__ORGANIC_SEARCH, STAGES_T0, 0, 0 },
		{ "l2", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT,
		        STAGES_T0 + 5 * STAGES_DAY_MS, 20, 0 },
		{ "l3", CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW,
		        CLM__V1__CHANNEL__DIRECT,
		        STAGES_T0 + 3 * STAGES_DAY_MS, 0, 0 },
		{ "l4", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__EMAIL, STAGES_T0 + STAGES_DAY_MS, 10,
		        0 },
	};
	struct stages_tps t;
	for (size_t i = 0; i < 4; i++) {
		stages_make_tp(&t, i, "erin", &s[i]);
	}
	Clm__V1__Response *resp = stages_track(c, t.ptr, 3);
	clm_response_free(resp);
	resp = stages_get_customer(c, "erin", 0);
	const Clm__V1__Customer *cu = resp->customer;
	/* The CONTENT_VIEW is before the purchase: no NURTURE yet. */
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ACQUISITION);
	cr_assert_eq(cu->n_stage_history, 2);
	cr_expect_eq(cu->stage_history[1]->entered_at_ms,
	        STAGES_T0 + 5 * STAGES_DAY_MS);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__DIRECT);
	clm_response_free(resp);

	resp = stages_track(c, &t.ptr[3], 1);
	cr_assert_eq(resp->track->n_changes, 1);
	stages_check_change(resp->track->changes[0], "erin", t.ids[3],
	        CLM__V1__STAGE__ACQUISITION, CLM__V1__STAGE__RETENTION,
	        STAGES_T0 + 5 * STAGES_DAY_MS);
	clm_response_free(resp);
	resp = stages_get_customer(c, "erin", 0);
	cu = resp->customer;
	cr_expect_eq(cu->stage, CLM__V1__STAGE__RETENTION);
	static const int64_t at[] = { STAGES_T0, STAGES_T0 + STAGES_DAY_MS,
		STAGES_T0 + 3 * STAGES_DAY_MS, STAGES_T0 + 5 * STAGES_DAY_MS };
	cr_assert_eq(
	        cu->n_stage_history, 4, "%zu entries", cu->n_stage_history);
	for (size_t i = 0; i < 4; i++) {
		cr_expect_eq(cu->stage_history[i]->stage, (int) i + 1);
		cr_expect_eq(cu->stage_history[i]->entered_at_ms, at[i],
		        "history[%zu] at %lld, want %lld", i,
		        (long long) cu->stage_history[i]->entered_at_ms,
		        (long long) at[i]);
	}
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__EMAIL);
	cr_expect(fabs(cu->revenue - 30.0) < 1e-9);
	clm_response_free(resp);
	clm_close(c);
}

/* occurred_at_ms 0 means now; without an event_id nothing is deduped. */
Test(stages_order, zero_time_is_now_and_no_event_id_is_not_deduped)
{
	stages_start(&srv);
	clm_conn *c = stages_connect(&srv);
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "now";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *ptr[2] = { &tp, &tp };
	int64_t before = stages_order_wall_ms();
	Clm__V1__Response *resp = stages_track(c, ptr, 2);
	int64_t after = stages_order_wall_ms();
	cr_expect_eq(resp->track->accepted, 2);
	cr_expect_eq(resp->track->duplicates, 0);
	clm_response_free(resp);
	resp = stages_track(c, ptr, 1);
	cr_expect_eq(resp->track->accepted, 1);
	clm_response_free(resp);
	resp = stages_get_customer(c, "now", 0);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT),
	        3);
	cr_expect(cu->first_seen_ms >= before - 1000
	                && cu->first_seen_ms <= after + 1000,
	        "first_seen %lld is not the time of the call",
	        (long long) cu->first_seen_ms);
	cr_expect_eq(cu->acquisition_channel,
	        CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED);
	clm_response_free(resp);
	clm_close(c);
}
