/*
 * One customer's journey through all five stages, through libclm against a
 * real clmd: stage changes in TrackReply, the Customer per docs/api.md "The
 * lifecycle model", idempotency, arrival-order independence and durability
 * across restarts.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "harness.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)
/* 2026-01-10T00:00:00Z */
#define T0 1768003200000LL

HARNESS_SUITE(journey, 60);

struct step {
	const char *event_id; /* suffix; the customer id is prepended */
	Clm__V1__TouchpointType type;
	Clm__V1__Channel channel;
	int64_t at_ms;
	double value;
	uint32_t duration_s;
};

/* The journey: AD_CLICK → SITE_VISIT → PURCHASE → CONTENT_VIEW → PURCHASE →
 * REFERRAL, all with explicit event times. */
static const struct step journey[] = {
	{ "e1", CLM__V1__TOUCHPOINT_TYPE__AD_CLICK, CLM__V1__CHANNEL__PAID_ADS,
	        T0, 0, 0 },
	{ "e2", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
	        CLM__V1__CHANNEL__ORGANIC_SEARCH, T0 + HOUR_MS, 0, 120 },
	{ "e3", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__EMAIL,
	        T0 + DAY_MS, 49.5, 0 },
	{ "e4", CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW,
	        CLM__V1__CHANNEL__DIRECT, T0 + 2 * DAY_MS, 0, 0 },
	{ "e5", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__DIRECT,
	        T0 + 10 * DAY_MS, 20.25, 0 },
	{ "e6", CLM__V1__TOUCHPOINT_TYPE__REFERRAL,
	        CLM__V1__CHANNEL__REFERRAL_LINK, T0 + 20 * DAY_MS, 0, 0 },
};
#define N_STEPS (sizeof(journey) / sizeof(journey[0]))

/* Expected stage change per step when sent in order (0 = none). */
static const struct {
	Clm__V1__Stage from, to;
} in_order_changes[N_STEPS] = {
	{ CLM__V1__STAGE__STAGE_UNSPECIFIED, CLM__V1__STAGE__REACH },
	{ 0, 0 },
	{ CLM__V1__STAGE__REACH, CLM__V1__STAGE__ACQUISITION },
	{ CLM__V1__STAGE__ACQUISITION, CLM__V1__STAGE__NURTURE },
	{ CLM__V1__STAGE__NURTURE, CLM__V1__STAGE__RETENTION },
	{ CLM__V1__STAGE__RETENTION, CLM__V1__STAGE__ADVOCACY },
};

/* Touchpoints built from steps, with their strings. */
#define TPS_MAX 12
struct tps {
	Clm__V1__Touchpoint tp[TPS_MAX];
	Clm__V1__Touchpoint *ptr[TPS_MAX];
	char ids[TPS_MAX][64];
};

static void
make_tp(struct tps *t, size_t i, const char *customer, const struct step *s)
{
	cr_assert_lt(i, TPS_MAX);
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

static void
make_journey(struct tps *t, const char *customer)
{
	for (size_t i = 0; i < N_STEPS; i++) {
		make_tp(t, i, customer, &journey[i]);
	}
}

static clm_conn *
connect_to(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 5000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

static void
start_server(void)
{
	int rc = clmd_start(&srv, NULL, NULL);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

static void
restart_server(void)
{
	int rc = clmd_start(&srv, srv.data_dir, NULL);
	cr_assert_eq(rc, 0, "clmd did not restart (log %s)", srv.log_path);
}

/* Tracks n touchpoints; asserts status OK, no rejects; returns the reply. */
static Clm__V1__Response *
track(clm_conn *c, Clm__V1__Touchpoint **tps, size_t n)
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

static Clm__V1__Response *
get_customer(clm_conn *c, const char *id, int64_t as_of)
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

static Clm__V1__StatusReply
get_status(clm_conn *c)
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

static int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static uint64_t
touch_count(const Clm__V1__Customer *cu, Clm__V1__TouchpointType type)
{
	for (size_t i = 0; i < cu->n_touch_counts; i++) {
		if (cu->touch_counts[i]->type == type) {
			return cu->touch_counts[i]->count;
		}
	}
	return 0;
}

/*
 * Checks the finished journey's Customer against docs/api.md "The lifecycle
 * model".
 */
static void
check_journey_customer(const Clm__V1__Customer *cu)
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
		{ CLM__V1__STAGE__REACH, T0 },
		{ CLM__V1__STAGE__ACQUISITION, T0 + DAY_MS },
		{ CLM__V1__STAGE__NURTURE, T0 + 2 * DAY_MS },
		{ CLM__V1__STAGE__RETENTION, T0 + 10 * DAY_MS },
		{ CLM__V1__STAGE__ADVOCACY, T0 + 20 * DAY_MS },
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
	cr_expect_eq(cu->first_seen_ms, T0);
	cr_expect_eq(cu->last_seen_ms, T0 + 20 * DAY_MS);
	cr_expect_eq(cu->acquisition_channel, CLM__V1__CHANNEL__PAID_ADS);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__EMAIL);
	cr_expect_eq(cu->n_touch_counts, 5, "touch_counts has %zu entries",
	        cu->n_touch_counts);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__AD_CLICK), 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT), 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 2);
	cr_expect_eq(
	        touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW), 1);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__REFERRAL), 1);
	cr_expect_eq(cu->n_cart_items, 0);
	cr_expect_eq(cu->n_anonymous_ids, 0);
}

/*
 * Whether two Customers are the same but for customer_id and as_of_ms
 * (compared as serialized bytes).
 */
static bool
same_customer(Clm__V1__Customer *a, Clm__V1__Customer *b)
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

static void
check_change(const Clm__V1__LifecycleEvent *ev, const char *customer,
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

/* Tracks the journey of customer one touchpoint per call, in order. */
static void
track_in_order(clm_conn *c, const char *customer)
{
	struct tps t;
	make_journey(&t, customer);
	for (size_t i = 0; i < N_STEPS; i++) {
		Clm__V1__Response *resp = track(c, &t.ptr[i], 1);
		const Clm__V1__TrackReply *r = resp->track;
		cr_expect_eq(r->accepted, 1, "step %zu: accepted %u", i,
		        r->accepted);
		cr_expect_eq(r->duplicates, 0, "step %zu: duplicates %u", i,
		        r->duplicates);
		if (in_order_changes[i].to == 0) {
			cr_expect_eq(r->n_changes, 0, "step %zu: %zu changes",
			        i, r->n_changes);
		} else {
			cr_assert_eq(r->n_changes, 1, "step %zu: %zu changes",
			        i, r->n_changes);
			check_change(r->changes[0], customer, t.ids[i],
			        in_order_changes[i].from,
			        in_order_changes[i].to, journey[i].at_ms);
		}
		clm_response_free(resp);
	}
}

Test(journey, five_stages_in_order)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	track_in_order(c, "alice");

	int64_t before = wall_ms();
	Clm__V1__Response *r1 = get_customer(c, "alice", 0);
	int64_t after = wall_ms();
	check_journey_customer(r1->customer);
	cr_expect(r1->customer->as_of_ms >= before - 1000
	                && r1->customer->as_of_ms <= after + 1000,
	        "as_of_ms %lld is not now",
	        (long long) r1->customer->as_of_ms);

	/* The same batch again: every touchpoint a duplicate, no change. */
	struct tps t;
	make_journey(&t, "alice");
	Clm__V1__Response *resp = track(c, t.ptr, N_STEPS);
	cr_expect_eq(resp->track->accepted, 0);
	cr_expect_eq(resp->track->duplicates, N_STEPS);
	cr_expect_eq(resp->track->n_changes, 0);
	clm_response_free(resp);

	Clm__V1__Response *r2 = get_customer(c, "alice", 0);
	check_journey_customer(r2->customer);
	cr_expect(same_customer(r1->customer, r2->customer),
	        "customer changed after a batch of duplicates");
	Clm__V1__StatusReply st = get_status(c);
	cr_expect_eq(st.customers, 1);
	cr_expect_eq(st.touchpoints, N_STEPS);
	clm_response_free(r1);
	clm_response_free(r2);
	clm_close(c);
	cr_expect_eq(
	        clmd_stop(&srv), 0, "clmd exit status (log %s)", srv.log_path);
}

Test(journey, reversed_arrival_gives_the_same_customer)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	track_in_order(c, "alice");

	/* bob: the same journey, arriving newest first, one per call. */
	struct tps t;
	make_journey(&t, "bob");
	for (size_t k = 0; k < N_STEPS; k++) {
		size_t i = N_STEPS - 1 - k;
		Clm__V1__Response *resp = track(c, &t.ptr[i], 1);
		const Clm__V1__TrackReply *r = resp->track;
		cr_expect_eq(r->accepted, 1);
		cr_expect_eq(r->duplicates, 0);
		if (k == 0) {
			/* The REFERRAL alone: REACH, at its time. */
			cr_assert_eq(r->n_changes, 1);
			check_change(r->changes[0], "bob", t.ids[i],
			        CLM__V1__STAGE__STAGE_UNSPECIFIED,
			        CLM__V1__STAGE__REACH, T0 + 20 * DAY_MS);
		} else if (k == 1) {
			/* + the second PURCHASE: a purchase and a referral,
			 * ADVOCACY since max(purchase, referral) = T0+20d. */
			cr_assert_eq(r->n_changes, 1);
			check_change(r->changes[0], "bob", t.ids[i],
			        CLM__V1__STAGE__REACH,
			        CLM__V1__STAGE__ADVOCACY, T0 + 20 * DAY_MS);
		} else {
			/* The current stage stays ADVOCACY. */
			cr_expect_eq(r->n_changes, 0, "call %zu: %zu changes",
			        k, r->n_changes);
		}
		clm_response_free(resp);
	}

	Clm__V1__Response *ra = get_customer(c, "alice", 0);
	Clm__V1__Response *rb = get_customer(c, "bob", 0);
	check_journey_customer(rb->customer);
	cr_expect(same_customer(ra->customer, rb->customer),
	        "bob (reversed arrival) differs from alice (in order)");
	clm_response_free(ra);
	clm_response_free(rb);

	/* One batch, shuffled, for a third customer: same again. */
	static const size_t order[N_STEPS] = { 4, 0, 5, 2, 1, 3 };
	struct tps t3;
	make_journey(&t3, "carol");
	Clm__V1__Touchpoint *shuffled[N_STEPS];
	for (size_t i = 0; i < N_STEPS; i++) {
		shuffled[i] = t3.ptr[order[i]];
	}
	Clm__V1__Response *resp = track(c, shuffled, N_STEPS);
	cr_expect_eq(resp->track->accepted, N_STEPS);
	clm_response_free(resp);
	ra = get_customer(c, "alice", 0);
	Clm__V1__Response *rc = get_customer(c, "carol", 0);
	check_journey_customer(rc->customer);
	cr_expect(same_customer(ra->customer, rc->customer),
	        "carol (shuffled batch) differs from alice (in order)");
	clm_response_free(ra);
	clm_response_free(rc);
	clm_close(c);
}

Test(journey, unknown_customer_is_not_found)
{
	start_server();
	clm_conn *c = connect_to(&srv);
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
	track_in_order(c, "alice");
	e = clm_get_customer(c, "nobody", 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "got %s", clm_errname(e));
	clm_response_free(resp);
	clm_close(c);
}

Test(journey, restart_and_kill9_lose_nothing)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	track_in_order(c, "alice");
	Clm__V1__Response *r0 = get_customer(c, "alice", 0);
	Clm__V1__StatusReply s0 = get_status(c);
	cr_expect_eq(s0.customers, 1);
	cr_expect_eq(s0.touchpoints, N_STEPS);
	clm_close(c);

	/* Clean stop, restart on the same data dir. */
	int st = clmd_stop(&srv);
	cr_expect_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);
	restart_server();
	c = connect_to(&srv);
	Clm__V1__Response *r1 = get_customer(c, "alice", 0);
	check_journey_customer(r1->customer);
	cr_expect(same_customer(r0->customer, r1->customer),
	        "customer changed across a restart");
	Clm__V1__StatusReply s1 = get_status(c);
	cr_expect_eq(s1.customers, s0.customers);
	cr_expect_eq(s1.touchpoints, s0.touchpoints);

	/* The idempotency keys survived too. */
	struct tps t;
	make_journey(&t, "alice");
	Clm__V1__Response *resp = track(c, t.ptr, N_STEPS);
	cr_expect_eq(resp->track->accepted, 0);
	cr_expect_eq(resp->track->duplicates, N_STEPS);
	clm_response_free(resp);

	/* An acknowledged write, then kill -9: it is still there. */
	struct step extra = { "e7", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		CLM__V1__CHANNEL__DIRECT, T0 + 25 * DAY_MS, 0, 0 };
	struct tps t7;
	make_tp(&t7, 0, "alice", &extra);
	resp = track(c, t7.ptr, 1);
	cr_expect_eq(resp->track->accepted, 1);
	clm_response_free(resp);
	clm_close(c);
	clmd_kill9(&srv);
	restart_server();

	c = connect_to(&srv);
	Clm__V1__Response *r2 = get_customer(c, "alice", 0);
	const Clm__V1__Customer *cu = r2->customer;
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ADVOCACY);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW), 1);
	cr_expect_eq(cu->last_seen_ms, T0 + 25 * DAY_MS);
	cr_expect_eq(cu->n_stage_history, 5);
	Clm__V1__StatusReply s2 = get_status(c);
	cr_expect_eq(s2.customers, 1);
	cr_expect_eq(s2.touchpoints, N_STEPS + 1);
	resp = track(c, t7.ptr, 1);
	cr_expect_eq(resp->track->duplicates, 1, "e7 not deduped after kill");
	clm_response_free(resp);

	clm_response_free(r0);
	clm_response_free(r1);
	clm_response_free(r2);
	clm_close(c);
	st = clmd_stop(&srv);
	cr_expect_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);
}

/*
 * Health and churn risk as of a given time (docs/api.md "Health and churn
 * risk": ACTIVE, AT_RISK after at_risk_days = 30 without a touchpoint,
 * CHURNED after churn_days = 90; INACTIVE risk reason with weight 0.5).
 */
Test(journey, health_as_of)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	track_in_order(c, "alice");
	const int64_t last = T0 + 20 * DAY_MS;
	static const struct {
		int64_t after_last;
		Clm__V1__Health health;
		double risk;
	} cases[] = {
		{ DAY_MS, CLM__V1__HEALTH__ACTIVE, 0.0 },
		{ 31 * DAY_MS, CLM__V1__HEALTH__AT_RISK, 0.5 },
		{ 91 * DAY_MS, CLM__V1__HEALTH__CHURNED, 0.5 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t as_of = last + cases[i].after_last;
		Clm__V1__Response *resp = get_customer(c, "alice", as_of);
		const Clm__V1__Customer *cu = resp->customer;
		cr_expect_eq(cu->as_of_ms, as_of);
		cr_expect_eq(cu->health, cases[i].health,
		        "as of last+%lld d: health %d, want %d",
		        (long long) (cases[i].after_last / DAY_MS), cu->health,
		        cases[i].health);
		cr_expect(fabs(cu->churn_risk - cases[i].risk) < 1e-9,
		        "as of last+%lld d: churn_risk %f, want %f",
		        (long long) (cases[i].after_last / DAY_MS),
		        cu->churn_risk, cases[i].risk);
		bool inactive = false;
		for (size_t k = 0; k < cu->n_risk_reasons; k++) {
			inactive |= cu->risk_reasons[k]
			        == CLM__V1__RISK_REASON__INACTIVE;
		}
		cr_expect_eq(inactive, cases[i].risk > 0,
		        "as of last+%lld d: INACTIVE reason %d",
		        (long long) (cases[i].after_last / DAY_MS), inactive);
		clm_response_free(resp);
	}
	clm_close(c);
}

/*
 * A richer journey: a MESSAGE_SENT before anything else (not a "seen"
 * touchpoint), a cart, an engagement at the very instant of the first
 * purchase (not "strictly after"), a refund.
 */
static const struct step rich[] = {
	{ "r01", CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT,
	        CLM__V1__CHANNEL__EMAIL, T0 - 5 * DAY_MS, 0, 0 },
	{ "r02", CLM__V1__TOUCHPOINT_TYPE__AD_IMPRESSION,
	        CLM__V1__CHANNEL__ORGANIC_SOCIAL, T0, 0, 0 },
	{ "r03", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
	        CLM__V1__CHANNEL__DIRECT, T0 + HOUR_MS, 0, 60 },
	{ "r04", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART,
	        CLM__V1__CHANNEL__DIRECT, T0 + 2 * HOUR_MS, 0, 0 },
	{ "r05", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__EMAIL,
	        T0 + 3 * HOUR_MS, 100, 0 },
	{ "r06", CLM__V1__TOUCHPOINT_TYPE__EMAIL_OPEN, CLM__V1__CHANNEL__EMAIL,
	        T0 + 3 * HOUR_MS, 0, 0 },
	{ "r07", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART,
	        CLM__V1__CHANNEL__DIRECT, T0 + 4 * DAY_MS, 0, 0 },
	{ "r08", CLM__V1__TOUCHPOINT_TYPE__APP_OPEN, CLM__V1__CHANNEL__IN_APP,
	        T0 + 5 * DAY_MS, 0, 0 },
	{ "r09", CLM__V1__TOUCHPOINT_TYPE__REFUND, CLM__V1__CHANNEL__DIRECT,
	        T0 + 6 * DAY_MS, 30, 0 },
	{ "r10", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, CLM__V1__CHANNEL__DIRECT,
	        T0 + 9 * DAY_MS, 10, 0 },
	{ "r11", CLM__V1__TOUCHPOINT_TYPE__REFERRAL,
	        CLM__V1__CHANNEL__REFERRAL_LINK, T0 + 12 * DAY_MS, 0, 0 },
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
make_rich(struct rich_tps *t, const char *customer)
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
check_rich_customer(const Clm__V1__Customer *cu)
{
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ADVOCACY);
	cr_expect_eq(cu->funnel, CLM__V1__FUNNEL_POSITION__BOTTOM);
	/* The EMAIL_OPEN at the purchase's instant is not after it: NURTURE
	 * comes with the APP_OPEN. */
	static const struct {
		Clm__V1__Stage stage;
		int64_t at;
	} want[] = {
		{ CLM__V1__STAGE__REACH, T0 },
		{ CLM__V1__STAGE__ACQUISITION, T0 + 3 * HOUR_MS },
		{ CLM__V1__STAGE__NURTURE, T0 + 5 * DAY_MS },
		{ CLM__V1__STAGE__RETENTION, T0 + 9 * DAY_MS },
		{ CLM__V1__STAGE__ADVOCACY, T0 + 12 * DAY_MS },
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
	cr_expect_eq(cu->first_seen_ms, T0, "first_seen %lld",
	        (long long) cu->first_seen_ms);
	cr_expect_eq(cu->last_seen_ms, T0 + 12 * DAY_MS);
	cr_expect_eq(cu->acquisition_channel, CLM__V1__CHANNEL__ORGANIC_SOCIAL,
	        "acquisition_channel %d", cu->acquisition_channel);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__EMAIL);
	cr_expect_eq(
	        touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART), 2);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__PURCHASE), 2);
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__REFUND), 1);
	/* sku-1 was bought; sku-2 is still in the cart. */
	cr_assert_eq(cu->n_cart_items, 1, "%zu cart items", cu->n_cart_items);
	cr_expect_str_eq(cu->cart_items[0], "sku-2");
}

/* Whatever order the touchpoints arrive in, the Customer is the same. */
Test(journey, any_arrival_order_gives_the_same_customer)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	size_t idx[N_RICH];
	for (size_t i = 0; i < N_RICH; i++) {
		idx[i] = i;
	}
	struct rich_tps t0;
	make_rich(&t0, "p0");
	for (size_t i = 0; i < N_RICH; i++) {
		Clm__V1__Response *resp = track(c, &t0.ptr[i], 1);
		cr_expect_eq(resp->track->accepted, 1);
		clm_response_free(resp);
	}
	Clm__V1__Response *ref = get_customer(c, "p0", 0);
	check_rich_customer(ref->customer);

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
		make_rich(&t, id);
		for (size_t k = 0; k < N_RICH; k++) {
			Clm__V1__Response *resp = track(c, &t.ptr[idx[k]], 1);
			cr_expect_eq(resp->track->accepted, 1);
			clm_response_free(resp);
		}
		Clm__V1__Response *got = get_customer(c, id, 0);
		char order[64] = "";
		for (size_t k = 0; k < N_RICH; k++) {
			size_t l = strlen(order);
			snprintf(order + l, sizeof(order) - l, "%zu ", idx[k]);
		}
		cr_expect(same_customer(ref->customer, got->customer),
		        "%s (order %s) differs from in-order p0", id, order);
		check_rich_customer(got->customer);
		clm_response_free(got);
	}

	/* All in one call, newest first. */
	struct rich_tps tb;
	make_rich(&tb, "p-batch");
	Clm__V1__Touchpoint *rev[N_RICH];
	for (size_t i = 0; i < N_RICH; i++) {
		rev[i] = tb.ptr[N_RICH - 1 - i];
	}
	Clm__V1__Response *resp = track(c, rev, N_RICH);
	cr_expect_eq(resp->track->accepted, N_RICH);
	clm_response_free(resp);
	Clm__V1__Response *got = get_customer(c, "p-batch", 0);
	cr_expect(same_customer(ref->customer, got->customer),
	        "one reversed batch differs from in-order p0");
	clm_response_free(got);
	clm_response_free(ref);
	clm_close(c);
}

/* Stages reached at the same instant as the next one have no entry. */
Test(journey, stages_reached_at_once_are_skipped)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	static const struct step s[] = {
		{ "s1", CLM__V1__TOUCHPOINT_TYPE__REFERRAL,
		        CLM__V1__CHANNEL__REFERRAL_LINK, T0, 0, 0 },
		{ "s2", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, T0 + DAY_MS, 5, 0 },
	};
	struct tps t;
	make_tp(&t, 0, "dave", &s[0]);
	make_tp(&t, 1, "dave", &s[1]);
	Clm__V1__Response *resp = track(c, &t.ptr[0], 1);
	cr_assert_eq(resp->track->n_changes, 1);
	check_change(resp->track->changes[0], "dave", t.ids[0],
	        CLM__V1__STAGE__STAGE_UNSPECIFIED, CLM__V1__STAGE__REACH, T0);
	clm_response_free(resp);
	resp = track(c, &t.ptr[1], 1);
	cr_assert_eq(resp->track->n_changes, 1);
	check_change(resp->track->changes[0], "dave", t.ids[1],
	        CLM__V1__STAGE__REACH, CLM__V1__STAGE__ADVOCACY, T0 + DAY_MS);
	clm_response_free(resp);

	resp = get_customer(c, "dave", 0);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ADVOCACY);
	cr_assert_eq(
	        cu->n_stage_history, 2, "%zu entries", cu->n_stage_history);
	cr_expect_eq(cu->stage_history[0]->stage, CLM__V1__STAGE__REACH);
	cr_expect_eq(cu->stage_history[0]->entered_at_ms, T0);
	cr_expect_eq(cu->stage_history[1]->stage, CLM__V1__STAGE__ADVOCACY);
	cr_expect_eq(cu->stage_history[1]->entered_at_ms, T0 + DAY_MS);
	clm_response_free(resp);
	clm_close(c);
}

/*
 * A late, earlier purchase rewrites the history (docs/api.md "The lifecycle
 * model").
 */
Test(journey, late_purchase_rewrites_history)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	static const struct step s[] = {
		{ "l1", CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT,
		        CLM__V1__CHANNEL__ORGANIC_SEARCH, T0, 0, 0 },
		{ "l2", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, T0 + 5 * DAY_MS, 20, 0 },
		{ "l3", CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW,
		        CLM__V1__CHANNEL__DIRECT, T0 + 3 * DAY_MS, 0, 0 },
		{ "l4", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__EMAIL, T0 + DAY_MS, 10, 0 },
	};
	struct tps t;
	for (size_t i = 0; i < 4; i++) {
		make_tp(&t, i, "erin", &s[i]);
	}
	Clm__V1__Response *resp = track(c, t.ptr, 3);
	clm_response_free(resp);
	resp = get_customer(c, "erin", 0);
	const Clm__V1__Customer *cu = resp->customer;
	/* The CONTENT_VIEW is before the purchase: no NURTURE yet. */
	cr_expect_eq(cu->stage, CLM__V1__STAGE__ACQUISITION);
	cr_assert_eq(cu->n_stage_history, 2);
	cr_expect_eq(cu->stage_history[1]->entered_at_ms, T0 + 5 * DAY_MS);
	cr_expect_eq(cu->conversion_channel, CLM__V1__CHANNEL__DIRECT);
	clm_response_free(resp);

	resp = track(c, &t.ptr[3], 1);
	cr_assert_eq(resp->track->n_changes, 1);
	check_change(resp->track->changes[0], "erin", t.ids[3],
	        CLM__V1__STAGE__ACQUISITION, CLM__V1__STAGE__RETENTION,
	        T0 + 5 * DAY_MS);
	clm_response_free(resp);
	resp = get_customer(c, "erin", 0);
	cu = resp->customer;
	cr_expect_eq(cu->stage, CLM__V1__STAGE__RETENTION);
	static const int64_t at[]
	        = { T0, T0 + DAY_MS, T0 + 3 * DAY_MS, T0 + 5 * DAY_MS };
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

/* Receives one event from sub; returns 0 and its parts, or nng's error. */
static int
recv_event(
        nng_socket sub, char *topic, size_t tn, Clm__V1__LifecycleEvent **ev)
{
	nng_msg *msg;
	int rv = nng_recvmsg(sub, &msg, 0);
	if (rv != 0) {
		return rv;
	}
	const char *body = nng_msg_body(msg);
	size_t len = nng_msg_len(msg);
	const char *nul = memchr(body, '\0', len);
	cr_assert_not_null(nul, "event without a NUL after the topic");
	size_t tl = (size_t) (nul - body);
	snprintf(topic, tn, "%.*s", (int) tl, body);
	*ev = clm__v1__lifecycle_event__unpack(
	        NULL, len - tl - 1, (const uint8_t *) nul + 1);
	nng_msg_free(msg);
	cr_assert_not_null(*ev, "event payload is not a LifecycleEvent");
	return 0;
}

/* The stage changes of a Track are published as stage/<STAGE>. */
Test(journey, stage_changes_are_published)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	nng_socket sub;
	cr_assert_eq(nng_sub0_open(&sub), 0);
	cr_assert_eq(
	        nng_socket_set(sub, NNG_OPT_SUB_SUBSCRIBE, "stage/", 6), 0);
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 100);
	int rv = nng_dial(sub, srv.events_url, NULL, 0);
	cr_assert_eq(rv, 0, "dial %s: %s", srv.events_url, nng_strerror(rv));

	/* PUB drops what it sends before the pipe is up: probe until an
	 * event arrives, then drain. */
	char topic[64];
	Clm__V1__LifecycleEvent *ev = NULL;
	bool up = false;
	for (int k = 0; k < 100 && !up; k++) {
		char id[32];
		snprintf(id, sizeof(id), "probe-%d", k);
		struct step probe = { "p", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
			CLM__V1__CHANNEL__DIRECT, T0, 0, 0 };
		struct tps t;
		make_tp(&t, 0, id, &probe);
		clm_response_free(track(c, t.ptr, 1));
		if (recv_event(sub, topic, sizeof(topic), &ev) == 0) {
			up = true;
			clm__v1__lifecycle_event__free_unpacked(ev, NULL);
		}
	}
	cr_assert(up, "no event arrived on %s", srv.events_url);
	while (recv_event(sub, topic, sizeof(topic), &ev) == 0) {
		clm__v1__lifecycle_event__free_unpacked(ev, NULL);
	}
	nng_socket_set_ms(sub, NNG_OPT_RECVTIMEO, 3000);

	static const char *const names[] = { "", "REACH", "ACQUISITION",
		"NURTURE", "RETENTION", "ADVOCACY" };
	struct tps t;
	make_journey(&t, "alice");
	uint64_t last_seq = 0;
	size_t got = 0;
	for (size_t i = 0; i < N_STEPS; i++) {
		Clm__V1__Response *resp = track(c, &t.ptr[i], 1);
		for (size_t k = 0; k < resp->track->n_changes; k++) {
			const Clm__V1__LifecycleEvent *want
			        = resp->track->changes[k];
			rv = recv_event(sub, topic, sizeof(topic), &ev);
			cr_assert_eq(rv, 0, "step %zu: no event: %s", i,
			        nng_strerror(rv));
			char wt[64];
			snprintf(wt, sizeof(wt), "stage/%s",
			        names[want->to_stage]);
			cr_expect_str_eq(topic, wt);
			check_change(ev, "alice", t.ids[i], want->from_stage,
			        want->to_stage, want->at_ms);
			cr_expect_eq(ev->seq, want->seq,
			        "published seq %llu, replied %llu",
			        (unsigned long long) ev->seq,
			        (unsigned long long) want->seq);
			if (got > 0) {
				cr_expect_eq(ev->seq, last_seq + 1,
				        "seq %llu after %llu",
				        (unsigned long long) ev->seq,
				        (unsigned long long) last_seq);
			}
			last_seq = ev->seq;
			got++;
			clm__v1__lifecycle_event__free_unpacked(ev, NULL);
		}
		clm_response_free(resp);
	}
	cr_expect_eq(got, 5, "%zu events for 5 stage changes", got);
	nng_close(sub);
	clm_close(c);
}

/*
 * A customer whose first purchase arrives after its second: the late one
 * makes clmd look up the engagements between them in the customer's stored
 * touchpoints. There are none, so NURTURE and REACH share their instants
 * with the next stage: history = ACQUISITION at T0+1d, RETENTION at
 * T0+15d. Were its internal id reused from another customer (counters lost
 * in a restart), that customer's engagements would show up as NURTURE.
 */
static void
check_fresh_customer_after_restart(clm_conn *c, const char *id)
{
	static const struct step s[] = {
		{ "f1", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, T0 + 15 * DAY_MS, 1, 0 },
		{ "f2", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, T0 + DAY_MS, 1, 0 },
	};
	struct tps t;
	make_tp(&t, 0, id, &s[0]);
	make_tp(&t, 1, id, &s[1]);
	clm_response_free(track(c, &t.ptr[0], 1));
	clm_response_free(track(c, &t.ptr[1], 1));
	Clm__V1__Response *resp = get_customer(c, id, 0);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(cu->n_touch_counts, 1, "%s: %zu touchpoint types", id,
	        cu->n_touch_counts);
	cr_assert_eq(cu->n_stage_history, 2, "%s: %zu history entries", id,
	        cu->n_stage_history);
	cr_expect_eq(cu->stage_history[0]->stage, CLM__V1__STAGE__ACQUISITION);
	cr_expect_eq(cu->stage_history[0]->entered_at_ms, T0 + DAY_MS);
	cr_expect_eq(cu->stage_history[1]->stage, CLM__V1__STAGE__RETENTION);
	cr_expect_eq(cu->stage_history[1]->entered_at_ms, T0 + 15 * DAY_MS);
	clm_response_free(resp);
}

/* Tracks one new customer's first touchpoint; returns its event's seq. */
static uint64_t
new_customer_seq(clm_conn *c, const char *id)
{
	struct step s = { "n1", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		CLM__V1__CHANNEL__DIRECT, T0, 0, 0 };
	struct tps t;
	make_tp(&t, 0, id, &s);
	Clm__V1__Response *resp = track(c, t.ptr, 1);
	cr_assert_eq(resp->track->n_changes, 1);
	uint64_t seq = resp->track->changes[0]->seq;
	clm_response_free(resp);
	return seq;
}

/* Internal counters (customer ids, event seq) survive restarts. */
Test(journey, counters_survive_restarts)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	track_in_order(c, "alice");
	uint64_t s0 = new_customer_seq(c, "seq-0");
	cr_expect_eq(
	        s0, 6, "seq %llu after 5 changes", (unsigned long long) s0);
	clm_close(c);

	cr_expect_eq(clmd_stop(&srv), 0);
	restart_server();
	c = connect_to(&srv);
	check_fresh_customer_after_restart(c, "fresh-1");
	uint64_t s1 = new_customer_seq(c, "seq-1");
	/* fresh-1 changed stage once (to ACQUISITION then RETENTION: 2). */
	cr_expect_eq(s1, s0 + 3, "seq %llu after restart, before %llu",
	        (unsigned long long) s1, (unsigned long long) s0);
	clm_close(c);

	clmd_kill9(&srv);
	restart_server();
	c = connect_to(&srv);
	check_fresh_customer_after_restart(c, "fresh-2");
	uint64_t s2 = new_customer_seq(c, "seq-2");
	/* A crash may make the seqs jump (the seq floor, api.md), never go
	 * back. */
	cr_expect_geq(s2, s1 + 3, "seq %llu after kill -9, before %llu",
	        (unsigned long long) s2, (unsigned long long) s1);
	clm_close(c);
}

struct writer_arg {
	const char *url;
	int id;
	int n;          /* calls to make (0: until an error) */
	int acked;      /* calls answered OK */
	int duplicates; /* touchpoints answered as duplicates */
};

/* Tracks PURCHASEs for customer "w<id>", one per call; the event ids of
 * even calls are shared by all writers ("shared-<i>", customer "shared"). */
static void *
writer_main(void *p)
{
	struct writer_arg *a = p;
	clm_conn *c;
	if (clm_open(a->url, 2000, &c) != CLM_OK) {
		return NULL;
	}
	char cust[32];
	snprintf(cust, sizeof(cust), "w%d", a->id);
	for (int i = 0; a->n == 0 || i < a->n; i++) {
		char ev[64];
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
		tp.channel = CLM__V1__CHANNEL__DIRECT;
		tp.occurred_at_ms = T0 + i * MIN_MS;
		tp.value = 1;
		if (a->n != 0 && i % 2 == 0) {
			snprintf(ev, sizeof(ev), "shared-%d", i);
			tp.customer_id = "shared";
		} else {
			snprintf(ev, sizeof(ev), "w%d-%d", a->id, i);
			tp.customer_id = cust;
		}
		tp.event_id = ev;
		Clm__V1__Touchpoint *ptr = &tp;
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_track(c, &ptr, 1, &resp);
		if (e != CLM_OK || resp == NULL || resp->track == NULL) {
			clm_response_free(resp);
			break;
		}
		a->acked++;
		a->duplicates += (int) resp->track->duplicates;
		clm_response_free(resp);
	}
	clm_close(c);
	return NULL;
}

/* Concurrent writers: group commit loses and doubles nothing. */
Test(journey, concurrent_writers_count_exactly)
{
	start_server();
	enum { W = 6, N = 60 };
	struct writer_arg args[W];
	pthread_t th[W];
	for (int i = 0; i < W; i++) {
		args[i] = (struct writer_arg) { srv.url, i, N, 0, 0 };
		cr_assert_eq(
		        pthread_create(&th[i], NULL, writer_main, &args[i]),
		        0);
	}
	int dups = 0;
	for (int i = 0; i < W; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(args[i].acked, N, "writer %d: %d acked", i,
		        args[i].acked);
		dups += args[i].duplicates;
	}
	/* Each shared event id was applied once, by whichever came first. */
	cr_expect_eq(dups, (W - 1) * (N / 2), "%d duplicates", dups);
	clm_conn *c = connect_to(&srv);
	Clm__V1__Response *resp = get_customer(c, "shared", 0);
	cr_expect_eq(resp->customer->purchases, N / 2);
	cr_expect(fabs(resp->customer->revenue - N / 2) < 1e-9);
	clm_response_free(resp);
	for (int i = 0; i < W; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		resp = get_customer(c, id, 0);
		cr_expect_eq(resp->customer->purchases, N / 2, "%s: %u", id,
		        resp->customer->purchases);
		cr_expect_eq(resp->customer->stage, CLM__V1__STAGE__RETENTION);
		clm_response_free(resp);
	}
	Clm__V1__StatusReply st = get_status(c);
	cr_expect_eq(st.customers, W + 1);
	cr_expect_eq(st.touchpoints, W * (N / 2) + N / 2);
	clm_close(c);
}

/* SIGTERM while writers are busy: every acknowledged write is kept. */
Test(journey, sigterm_under_load_keeps_every_ack)
{
	start_server();
	enum { W = 4 };
	struct writer_arg args[W];
	pthread_t th[W];
	for (int i = 0; i < W; i++) {
		args[i] = (struct writer_arg) { srv.url, i, 0, 0, 0 };
		cr_assert_eq(
		        pthread_create(&th[i], NULL, writer_main, &args[i]),
		        0);
	}
	harness_sleep_ms(300);
	int st = clmd_stop(&srv);
	for (int i = 0; i < W; i++) {
		pthread_join(th[i], NULL);
	}
	/*
	 * nng 1.5.2's nng_close can wedge with busy clients (nng issues 1543
	 * and 1813); clmd then exits without waiting for it (rpc_close), so
	 * it must always exit 0 in time, every acknowledged write kept.
	 */
	cr_expect_eq(st, 0, "clmd exit status %d (log %s)", st, srv.log_path);

	restart_server();
	clm_conn *c = connect_to(&srv);
	for (int i = 0; i < W; i++) {
		char id[16];
		snprintf(id, sizeof(id), "w%d", i);
		cr_expect_gt(args[i].acked, 0, "writer %d got no ack", i);
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_get_customer(c, id, 0, &resp);
		cr_assert_eq(e, CLM_OK, "%s: %s", id, clm_errname(e));
		/* At most one more: committed, but its reply was lost. */
		int stored = (int) resp->customer->purchases;
		cr_expect(
		        stored >= args[i].acked && stored <= args[i].acked + 1,
		        "%s: %d acked, %d stored", id, args[i].acked, stored);
		clm_response_free(resp);
	}
	clm_close(c);
}

/* occurred_at_ms 0 means now; without an event_id nothing is deduped. */
Test(journey, zero_time_is_now_and_no_event_id_is_not_deduped)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "now";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *ptr[2] = { &tp, &tp };
	int64_t before = wall_ms();
	Clm__V1__Response *resp = track(c, ptr, 2);
	int64_t after = wall_ms();
	cr_expect_eq(resp->track->accepted, 2);
	cr_expect_eq(resp->track->duplicates, 0);
	clm_response_free(resp);
	resp = track(c, ptr, 1);
	cr_expect_eq(resp->track->accepted, 1);
	clm_response_free(resp);
	resp = get_customer(c, "now", 0);
	const Clm__V1__Customer *cu = resp->customer;
	cr_expect_eq(touch_count(cu, CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT), 3);
	cr_expect(cu->first_seen_ms >= before - 1000
	                && cu->first_seen_ms <= after + 1000,
	        "first_seen %lld is not the time of the call",
	        (long long) cu->first_seen_ms);
	cr_expect_eq(cu->acquisition_channel,
	        CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED);
	clm_response_free(resp);
	clm_close(c);
}

static bool
has_reason(const Clm__V1__Customer *cu, Clm__V1__RiskReason r)
{
	for (size_t k = 0; k < cu->n_risk_reasons; k++) {
		if (cu->risk_reasons[k] == r) {
			return true;
		}
	}
	return false;
}

/* Checks health, churn risk and exactly the given reasons as of as_of. */
static void
check_risk(clm_conn *c, const char *id, int64_t as_of, Clm__V1__Health h,
        double risk, const Clm__V1__RiskReason *reasons, size_t n)
{
	Clm__V1__Response *resp = get_customer(c, id, as_of);
	const Clm__V1__Customer *cu = resp->customer;
	long long d = (long long) ((as_of - T0) / HOUR_MS);
	cr_expect_eq(cu->health, h, "T0+%lldh: health %d, want %d", d,
	        cu->health, h);
	cr_expect(fabs(cu->churn_risk - risk) < 1e-6,
	        "T0+%lldh: churn_risk %.6f, want %.6f", d, cu->churn_risk,
	        risk);
	cr_expect_eq(cu->n_risk_reasons, n, "T0+%lldh: %zu reasons, want %zu",
	        d, cu->n_risk_reasons, n);
	for (size_t i = 0; i < n; i++) {
		cr_expect(has_reason(cu, reasons[i]), "T0+%lldh: no reason %d",
		        d, reasons[i]);
	}
	clm_response_free(resp);
}

/*
 * The risk reasons of docs/api.md "Health and churn risk" and their
 * weights.
 */
Test(journey, churn_risk_reasons_as_of)
{
	start_server();
	clm_conn *c = connect_to(&srv);
	static const struct step s[] = {
		{ "k1", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        CLM__V1__CHANNEL__DIRECT, T0, 50, 0 },
		{ "k2", CLM__V1__TOUCHPOINT_TYPE__REFUND,
		        CLM__V1__CHANNEL__DIRECT, T0 + DAY_MS, 10, 0 },
		{ "k3", CLM__V1__TOUCHPOINT_TYPE__BILLING_ISSUE,
		        CLM__V1__CHANNEL__EMAIL, T0 + 2 * DAY_MS, 0, 0 },
		{ "k4", CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET,
		        CLM__V1__CHANNEL__SUPPORT, T0 + 3 * DAY_MS, 0, 0 },
		{ "k5", CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET,
		        CLM__V1__CHANNEL__SUPPORT, T0 + 3 * DAY_MS + HOUR_MS,
		        0, 0 },
		{ "k6", CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET,
		        CLM__V1__CHANNEL__SUPPORT,
		        T0 + 3 * DAY_MS + 2 * HOUR_MS, 0, 0 },
		{ "k7", CLM__V1__TOUCHPOINT_TYPE__REVIEW,
		        CLM__V1__CHANNEL__DIRECT, T0 + 4 * DAY_MS, 0, 0 },
		{ "k8", CLM__V1__TOUCHPOINT_TYPE__FEEDBACK,
		        CLM__V1__CHANNEL__EMAIL, T0 + 4 * DAY_MS + HOUR_MS, 0,
		        0 },
	};
	static const float sentiment[] = { 0, 0, 0, 0, 0, 0, -0.8f, -0.6f };
	enum { N = sizeof(s) / sizeof(s[0]) };
	struct tps t;
	for (size_t i = 0; i < N; i++) {
		make_tp(&t, i, "risky", &s[i]);
		t.tp[i].sentiment = sentiment[i];
	}
	clm_response_free(track(c, t.ptr, N));

	/*
	 * T0+5d: a billing issue in the last 60 days (0.4), 3 tickets in the
	 * last 30 days (0.3), mean sentiment -0.7 (0.3), a refund in the last
	 * 30 days (0.2); active 1 day ago.
	 */
	static const Clm__V1__RiskReason r1[] = {
		CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE,
		CLM__V1__RISK_REASON__SUPPORT_TICKETS,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
		CLM__V1__RISK_REASON__RECENT_REFUND,
	};
	check_risk(c, "risky", T0 + 5 * DAY_MS, CLM__V1__HEALTH__ACTIVE,
	        1 - 0.6 * 0.7 * 0.7 * 0.8, r1, 4);

	/* A CANCELLATION after the last purchase: CHURNED, risk 1. */
	struct step cancel = { "k9", CLM__V1__TOUCHPOINT_TYPE__CANCELLATION,
		CLM__V1__CHANNEL__DIRECT, T0 + 4 * DAY_MS + 2 * HOUR_MS, 0,
		0 };
	struct tps tc;
	make_tp(&tc, 0, "risky", &cancel);
	clm_response_free(track(c, tc.ptr, 1));
	static const Clm__V1__RiskReason r2[] = {
		CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE,
		CLM__V1__RISK_REASON__SUPPORT_TICKETS,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
		CLM__V1__RISK_REASON__RECENT_REFUND,
		CLM__V1__RISK_REASON__SUBSCRIPTION_CANCELLED,
	};
	check_risk(c, "risky", T0 + 5 * DAY_MS, CLM__V1__HEALTH__CHURNED, 1.0,
	        r2, 5);

	/*
	 * T0+70d: inactive 65 days; the billing issue (68 d), tickets and
	 * refund are too old; the last sentiments are still negative.
	 */
	static const Clm__V1__RiskReason r3[] = {
		CLM__V1__RISK_REASON__INACTIVE,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
		CLM__V1__RISK_REASON__SUBSCRIPTION_CANCELLED,
	};
	check_risk(c, "risky", T0 + 70 * DAY_MS, CLM__V1__HEALTH__CHURNED, 1.0,
	        r3, 3);

	/* A new PURCHASE after the cancellation: no longer cancelled. */
	struct step again = { "k10", CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		CLM__V1__CHANNEL__DIRECT, T0 + 6 * DAY_MS, 20, 0 };
	make_tp(&tc, 1, "risky", &again);
	clm_response_free(track(c, &tc.ptr[1], 1));
	/*
	 * T0+46d: inactive 40 days (> 30, < 90): AT_RISK; the billing issue
	 * is 44 days old (< 60); tickets (43 d) and refund (45 d) are not
	 * recent.
	 */
	static const Clm__V1__RiskReason r4[] = {
		CLM__V1__RISK_REASON__INACTIVE,
		CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE,
		CLM__V1__RISK_REASON__NEGATIVE_SENTIMENT,
	};
	check_risk(c, "risky", T0 + 46 * DAY_MS, CLM__V1__HEALTH__AT_RISK,
	        1 - 0.5 * 0.6 * 0.7, r4, 3);
	clm_close(c);
}
