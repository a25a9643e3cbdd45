/*
 * jny_cluster: journeys in cluster mode (docs/journeys.md "Cluster
 * mode"): two clmd nodes on one stream both find the same timers due and
 * both publish their fire entries; each step is sent once, with the same
 * message id and feed position on both nodes, and the statistics agree.
 * The stream is read back: every step has at least one fire entry on
 * its customer's subject (two nodes firing the same items give the same
 * Nats-Msg-Id, so the stream mostly drops the second; one it holds is
 * applied as nothing, which the feeds show). Which node published an
 * entry is not visible on the stream, so "both nodes fired" itself is
 * not asserted.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "harness.h"

static struct cluster cl;

static void
suite_setup(void)
{
	memset(&cl, 0, sizeof(cl));
}

static void
suite_teardown(void)
{
	cluster_fini(&cl);
}

TestSuite(jny_cluster, .init = suite_setup, .fini = suite_teardown,
        .timeout = 180);

static const char DEF[]
        = "{\"name\": \"thanks\", \"trigger\": {\"event\": \"PURCHASE\"},"
          " \"steps\": [{\"wait\": \"2s\", \"send\": {\"kind\": "
          "\"LOYALTY_REWARD\", \"action\": \"thank_you\", \"channel\": "
          "\"EMAIL\"}}, {\"wait\": \"2s\", \"send\": {\"kind\": "
          "\"REFERRAL_INCENTIVE\", \"action\": \"refer\", \"channel\": "
          "\"SMS\"}}]}";

/* Sends a write; asserts it was accepted; returns its position. */
static uint64_t
jc_write(clm_conn *c, const Clm__V1__Request *req)
{
	Clm__V1__Response *r = NULL;
	cr_assert_eq(cluster_call(c, req, 0, 20000, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0, "write: %s",
	        r->status != NULL ? r->status->message : "");
	uint64_t pos = r->position;
	clm_response_free(r);
	return pos;
}

static uint64_t
jc_purchase(clm_conn *c, const char *customer, const char *eid)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.event_id = (char *) eid;
	tp.customer_id = (char *) customer;
	tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	tp.value = 10;
	Clm__V1__Touchpoint *tps[1] = { &tp };
	Clm__V1__TrackRequest t = CLM__V1__TRACK_REQUEST__INIT;
	t.touchpoints = tps;
	t.n_touchpoints = 1;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &t;
	return jc_write(c, &req);
}

/* The feed of node c (at least min_position; the caller frees it). */
static Clm__V1__Response *
jc_feed(clm_conn *c, uint64_t min_position)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__JourneyMessagesRequest jm
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	req.journey_messages = &jm;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(cluster_read(c, &req, min_position, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0);
	cr_assert_not_null(r->journey_messages);
	return r;
}

/* Waits (bounded) until node c's feed holds n messages; returns it. */
static Clm__V1__Response *
jc_wait_feed(clm_conn *c, size_t n)
{
	for (int i = 0; i < 1500; i++) {
		Clm__V1__Response *r = jc_feed(c, 0);
		if (r->journey_messages->n_messages >= n) {
			return r;
		}
		clm_response_free(r);
		harness_sleep_ms(20);
	}
	cr_assert_fail("the feed did not reach %zu messages in 30 s", n);
	return NULL;
}

static void
jc_stats(clm_conn *c, uint64_t min_position, uint64_t sent[2],
        uint64_t *completed, uint64_t waiting[2])
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__GetJourneyRequest gj = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	gj.name = "thanks";
	req.call_case = CLM__V1__REQUEST__CALL_GET_JOURNEY;
	req.get_journey = &gj;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(cluster_read(c, &req, min_position, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0);
	const Clm__V1__JourneyStats *st = r->get_journey->journey->stats;
	cr_assert_eq(st->n_steps, 2);
	sent[0] = st->steps[0]->sent;
	sent[1] = st->steps[1]->sent;
	waiting[0] = st->steps[0]->waiting;
	waiting[1] = st->steps[1]->waiting;
	*completed = st->completed;
	clm_response_free(r);
}

/*
 * Waits (bounded) until node c has both customers completed and nobody
 * waiting at a step: every fire entry that ran a step is applied there.
 */
static void
jc_wait_done(clm_conn *c, const char *node)
{
	uint64_t sent[2], waiting[2], completed = 0;
	for (int i = 0; i < 1500; i++) {
		jc_stats(c, 0, sent, &completed, waiting);
		if (completed == 2 && waiting[0] == 0 && waiting[1] == 0) {
			return;
		}
		harness_sleep_ms(20);
	}
	cr_assert_fail("%s: completed %llu, waiting %llu %llu after 30 s",
	        node, (unsigned long long) completed,
	        (unsigned long long) waiting[0],
	        (unsigned long long) waiting[1]);
}

/* Counts the fire entries of the stream on each customer's subject. */
struct jc_scan {
	size_t fires[2]; /* of C1, C2 */
	size_t buys;
};

#define C1 "jc-cust-1"
#define C2 "jc-cust-2"

static void
jc_scan_one(void *arg, const struct cluster_entry *e)
{
	struct jc_scan *s = arg;
	static const char *const who[2] = { C1, C2 };
	if (cluster_has_bytes(e->data, e->len, "-buy", 4)) {
		s->buys++;
		return;
	}
	for (int k = 0; k < 2; k++) {
		s->fires[k] += cluster_has_bytes(
		        e->data, e->len, who[k], strlen(who[k]));
	}
}

Test(jny_cluster, each_step_once_with_the_same_ids_on_every_node)
{
	cluster_start(&cl, 2, NULL);
	clm_conn *a = cluster_conn(&cl, 0), *b = cluster_conn(&cl, 1);
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__DefineJourneyRequest dj
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	dj.definition = (char *) DEF;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	req.define_journey = &dj;
	uint64_t pos = jc_write(a, &req);
	/* B has the definition before its customers buy. */
	Clm__V1__Response *r = jc_feed(b, pos);
	clm_response_free(r);
	jc_purchase(b, C1, "c1-buy");
	jc_purchase(a, C2, "c2-buy");
	/* Both steps of both customers, on both nodes. */
	Clm__V1__Response *fa = jc_wait_feed(a, 4);
	Clm__V1__Response *fb = jc_wait_feed(b, 4);
	/* Every step applied on both nodes: nobody waits at a step. */
	jc_wait_done(a, "A");
	jc_wait_done(b, "B");
	clm_response_free(fa);
	clm_response_free(fb);
	fa = jc_feed(a, 0);
	uint64_t last = fa->journey_messages->last;
	fb = jc_feed(b, fa->position);
	cr_assert_eq(fa->journey_messages->n_messages, 4, "%zu messages on A",
	        fa->journey_messages->n_messages);
	cr_assert_eq(fb->journey_messages->n_messages, 4, "%zu messages on B",
	        fb->journey_messages->n_messages);
	cr_assert_eq(last, 4);
	for (size_t k = 0; k < 4; k++) {
		const Clm__V1__LifecycleEvent *x
		        = fa->journey_messages->messages[k];
		const Clm__V1__LifecycleEvent *y
		        = fb->journey_messages->messages[k];
		cr_assert_eq(x->position, k + 1);
		cr_assert_eq(y->position, k + 1);
		cr_assert_str_eq(x->message_id, y->message_id);
		cr_assert_str_eq(x->customer_id, y->customer_id);
		cr_assert_eq(x->step, y->step);
		cr_assert_eq(x->at_ms, y->at_ms);
		for (size_t j = 0; j < k; j++) {
			cr_assert_str_neq(x->message_id,
			        fa->journey_messages->messages[j]->message_id);
		}
	}
	uint64_t sa[2], sb[2], ca, cb, wa[2], wb[2];
	jc_stats(a, fa->position, sa, &ca, wa);
	jc_stats(b, fa->position, sb, &cb, wb);
	cr_assert(sa[0] == 2 && sa[1] == 2 && ca == 2, "A: %llu %llu %llu",
	        (unsigned long long) sa[0], (unsigned long long) sa[1],
	        (unsigned long long) ca);
	cr_assert(sb[0] == 2 && sb[1] == 2 && cb == 2);
	/* The stream: both purchases, and each customer's two steps. */
	struct jc_scan sc = { { 0, 0 }, 0 };
	size_t n = cluster_stream_scan(&cl, jc_scan_one, &sc);
	cr_expect_gt(n, 0);
	cr_expect_eq(sc.buys, 2, "%zu purchase entries", sc.buys);
	cr_expect_geq(sc.fires[0], 2, "%zu fire entries of " C1, sc.fires[0]);
	cr_expect_geq(sc.fires[1], 2, "%zu fire entries of " C2, sc.fires[1]);
	cr_log_info("fire entries on the stream: %zu of " C1 ", %zu of " C2,
	        sc.fires[0], sc.fires[1]);
	clm_response_free(fa);
	clm_response_free(fb);
	clm_close(a);
	clm_close(b);
	cr_assert_eq(cluster_expect_no_halt(&cl), 0);
}
