/*
 * stages: the journey of five stages, its touchpoints, the calls and the
 * checks the lifecycle-stage integration tests share (stages.h).
 */
#include "stages.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct stages_step stages_journey[] = {
	{ "e1", CLM__V1__TOUCHPOINT_TYPE__AD_CLICK, CLM__V1__CHANNEL__PAID_ADS,
	        STAGES_T0, 0, 0 },
	{ "e2", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
	        CLM__V1__CHANNEL__ORGANIC_SEARCH, STAGES_T0 + STAGES_HOUR_MS,
	        0, 120 },
	{ "e3", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__EMAIL,
	        STAGES_T0 + STAGES_DAY_MS, 49.5, 0 },
	{ "e4", CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW,
	        CLM__V1__CHANNEL__DIRECT, STAGES_T0 + 2 * STAGES_DAY_MS, 0,
	        0 },
	{ "e5", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__DIRECT,
	        STAGES_T0 + 10 * STAGES_DAY_MS, 20.25, 0 },
	{ "e6", CLM__V1__TOUCHPOINT_TYPE__REFERRAL,
	        CLM__V1__CHANNEL__REFERRAL_LINK,
	        STAGES_T0 + 20 * STAGES_DAY_MS, 0, 0 },
};
_Static_assert(
        sizeof(stages_journey) / sizeof(stages_journey[0]) == STAGES_N_STEPS,
        "STAGES_N_STEPS is not the journey's length");

/* Expected stage change per step when sent in order (0 = none). */
static const struct {
	Clm__V1__Stage from, to;
} stages_in_order_changes[STAGES_N_STEPS] = {
	{ CLM__V1__STAGE__STAGE_UNSPECIFIED, CLM__V1__STAGE__REACH },
	{ 0, 0 },
	{ CLM__V1__STAGE__REACH, CLM__V1__STAGE__ACQUISITION },
	{ CLM__V1__STAGE__ACQUISITION, CLM__V1__STAGE__NURTURE },
	{ CLM__V1__STAGE__NURTURE, CLM__V1__STAGE__RETENTION },
	{ CLM__V1__STAGE__RETENTION, CLM__V1__STAGE__ADVOCACY },
};

void
stages_make_tp(struct stages_tps *t, size_t i, const char *customer,
        const struct stages_step *s)
{
	cr_assert_lt(i, STAGES_TPS_MAX);
	Clm__V1__Touchpoint *tp = &t->tp[i];
	clm__v1__touchpoint__init(tp);
	snprintf(t->ids[i], sizeof(t->ids[i]), "%s-%s", customer, s->event_id);
	tp->event_id = t->ids[i];
	tp->customer_id = (char *) customer;
	tp->type = s->type;
	tp->channel = s->channel;
	tp->occurred_at_ms = s->at_ms;
	tp->value = s->value;
	tp->duration_s = s->duration_s;
	if (s->type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE) {
		tp->currency = "EUR";
	}
	t->ptr[i] = tp;
}

void
stages_make_journey(struct stages_tps *t, const char *customer)
{
	for (size_t i = 0; i < STAGES_N_STEPS; i++) {
		stages_make_tp(t, i, customer, &stages_journey[i]);
	}
}

clm_conn *
stages_connect(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 5000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

void
stages_start(struct clmd_proc *p)
{
	int rc = clmd_start(p, NULL, NULL);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", p->log_path);
}

Clm__V1__Response *
stages_track(clm_conn *c, Clm__V1__Touchpoint **tps, size_t n)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, tps, n, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp);
	cr_assert_eq(resp->result_case, CLM__V1__RESPONSE__RESULT_TRACK);
	cr_assert_not_null(resp->track);
	cr_assert_eq(resp->track->n_rejected, 0);
	return resp;
}

Clm__V1__Response *
stages_get_customer(clm_conn *c, const char *id, int64_t as_of)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, as_of, &resp);
	cr_assert_eq(e, CLM_OK, "get_customer %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp);
	cr_assert_eq(resp->result_case, CLM__V1__RESPONSE__RESULT_CUSTOMER);
	cr_assert_not_null(resp->customer);
	cr_assert_str_eq(resp->customer->customer_id, id);
	return resp;
}

Clm__V1__StatusReply
stages_status(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp->server_status);
	Clm__V1__StatusReply s = *resp->server_status;
	s.version = NULL;
	s.durability = NULL;
	clm_response_free(resp);
	return s;
}

uint64_t
stages_touch_count(const Clm__V1__Customer *cu, Clm__V1__TouchpointType type)
{
	for (size_t i = 0; i < cu->n_touch_counts; i++) {
		if (cu->touch_counts[i]->type == type) {
			return cu->touch_counts[i]->count;
		}
	}
	return 0;
}

void
stages_check_journey_customer(const Clm__V1__Customer *cu)
{
	cr_expect_eq(
	        cu->stage, CLM__V1__STAGE__ADVOCACY, "stage %d", cu->stage);
	cr_expect_eq(cu->funnel, CLM__V1__FUNNEL_POSITION__BOTTOM);
	/*
	 * Closed form: REACH = first_seen = T0; ACQUISITION = first purchase
	 * = T0+1d; ADVOCACY = max(first purchase, first referral) = T0+20d;
	 * RETENTION = min(second purchase, ADVOCACY) = T0+10d; NURTURE =
	 * min(first engagement after the first purchase, RETENTION) = T0+2d.
	 */
	static const struct {
		Clm__V1__Stage stage;
		int64_t at;
	} want[] = {
		{ CLM__V1__STAGE__REACH, STAGES_T0 },
		{ CLM__V1__STAGE__ACQUISITION, STAGES_T0 + STAGES_DAY_MS },
		{ CLM__V1__STAGE__NURTURE, STAGES_T0 + 2 * STAGES_DAY_MS },
		{ CLM__V1__STAGE__RETENTION, STAGES_T0 + 10 * STAGES_DAY_MS },
		{ CLM__V1__STAGE__ADVOCACY, STAGES_T0 + 20 * STAGES_DAY_MS },
	};
	cr_assert_eq(cu->n_stage_history, 5, "stage_history has %zu entries",
	        cu->n_stage_history);
	for (size_t i = 0; i < 5; i++) {
		cr_expect_eq(cu->stage_history[i]->stage, want[i].stage,
		        "history[%zu].stage %d", i,
		        cu->stage_history[i]->stage);
		cr_expect_eq(cu->stage_history[i]->entered_at_ms, want[i].at,
		        "history[%zu].entered_at_ms %lld, want %lld", i,
		        (long long) cu->stage_history[i]->entered_at_ms,
		        (long long) want[i].at);
	}
	cr_expect_eq(cu->purchases, 2);
	cr_expect_eq(cu->refunds, 0);
	cr_expect_eq(cu->referrals, 1);
	cr_expect(fabs(cu->revenue - 69.75) < 1e-9, "revenue %f", cu->revenue);
	cr_expect_eq(cu->first_seen_ms, STAGES_T0);
	cr_expect_eq(cu->last_seen_ms, STAGES_T0 + 20 * STAGES_DAY_MS);
	cr_expect_eq(cu->acquisition_channel, CLM__V1__CHANNEL__PAID_ADS);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__EMAIL);
	cr_expect_eq(cu->n_touch_counts, 5, "touch_counts has %zu entries",
	        cu->n_touch_counts);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__AD_CLICK), 1);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT),
	        1);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 2);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW),
	        1);
	cr_expect_eq(
	        stages_touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__REFERRAL), 1);
	cr_expect_eq(cu->n_cart_items, 0);
	cr_expect_eq(cu->n_anonymous_ids, 0);
}

bool
stages_same_customer(Clm__V1__Customer *a, Clm__V1__Customer *b)
{
	char *ida = a->customer_id, *idb = b->customer_id;
	int64_t asa = a->as_of_ms, asb = b->as_of_ms;
	a->customer_id = b->customer_id = "";
	a->as_of_ms = b->as_of_ms = 0;
	size_t na = clm__v1__customer__get_packed_size(a);
	size_t nb = clm__v1__customer__get_packed_size(b);
	bool same = false;
	if (na == nb) {
		uint8_t *ba = malloc(na + 1), *bb = malloc(nb + 1);
		cr_assert(ba != NULL && bb != NULL);
		clm__v1__customer__pack(a, ba);
		clm__v1__customer__pack(b, bb);
		same = memcmp(ba, bb, na) == 0;
		free(ba);
		free(bb);
	}
	a->customer_id = ida;
	b->customer_id = idb;
	a->as_of_ms = asa;
	b->as_of_ms = asb;
	return same;
}

void
stages_check_change(const Clm__V1__LifecycleEvent *ev, const char *customer,
        const char *event_id, Clm__V1__Stage from, Clm__V1__Stage to,
        int64_t at)
{
	cr_expect_eq(ev->kind, CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED);
	cr_expect_str_eq(ev->customer_id, customer);
	cr_expect_eq(ev->from_stage, from, "from_stage %d, want %d",
	        ev->from_stage, from);
	cr_expect_eq(
	        ev->to_stage, to, "to_stage %d, want %d", ev->to_stage, to);
	cr_expect_eq(ev->at_ms, at, "at_ms %lld, want %lld",
	        (long long) ev->at_ms, (long long) at);
	cr_expect_str_eq(ev->event_id, event_id);
}

void
stages_track_in_order(clm_conn *c, const char *customer)
{
	struct stages_tps t;
	stages_make_journey(&t, customer);
	for (size_t i = 0; i < STAGES_N_STEPS; i++) {
		Clm__V1__Response *resp = stages_track(c, &t.ptr[i], 1);
		const Clm__V1__TrackReply *r = resp->track;
		cr_expect_eq(r->accepted, 1, "step %zu: accepted %u", i,
		        r->accepted);
		cr_expect_eq(r->duplicates, 0, "step %zu: duplicates %u", i,
		        r->duplicates);
		if (stages_in_order_changes[i].to == 0) {
			cr_expect_eq(r->n_changes, 0, "step %zu: %zu changes",
			        i, r->n_changes);
		} else {
			cr_assert_eq(r->n_changes, 1, "step %zu: %zu changes",
			        i, r->n_changes);
			stages_check_change(r->changes[0], customer, t.ids[i],
			        stages_in_order_changes[i].from,
			        stages_in_order_changes[i].to,
			        stages_journey[i].at_ms);
		}
		clm_response_free(resp);
	}
}
