/*
 * jny_smoke: a journey end to end on a real clmd (docs/journeys.md):
 * cart-recovery with waits of 1 h sends its reminder by itself once the
 * test clock passes its due instant, on the stream (journey/cart-recovery)
 * and in the feed (JourneyMessages); an opened email stops the follow-up
 * (the test clock moves past its due instant, and a control customer's
 * reminder proves the timers ran); a purchase exits the journey before
 * anything is sent. No step depends on how fast the box is: every due
 * instant is an hour away until the test moves the clock.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "harness.h"
#include "segflow.h"

HARNESS_SUITE(jny_smoke, 180);

#define ADD_TO_CART CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART
#define EMAIL_OPEN  CLM__V1__TOUCHPOINT_TYPE__EMAIL_OPEN
#define PURCHASE    CLM__V1__TOUCHPOINT_TYPE__PURCHASE

static const char CART[]
        = "{\"name\": \"cart-recovery\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
          " \"exit\": \"count(PURCHASE, since_entry) >= 1\","
          " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": "
          "\"CART_REMINDER\", \"action\": \"cart_reminder\", \"channel\": "
          "\"EMAIL\"}}, {\"wait\": \"1h\", \"if\": \"count(EMAIL_OPEN, "
          "since_entry) = 0\", \"send\": {\"kind\": \"CART_REMINDER\", "
          "\"action\": \"cart_followup\", \"channel\": \"SMS\"}}]}";

static void
smoke_define(clm_conn *c)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__DefineJourneyRequest dj
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	dj.definition = (char *) CART;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	req.define_journey = &dj;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK, "%s", clm_last_error(c));
	cr_assert(r->status == NULL || r->status->code == 0, "define: %s",
	        r->status != NULL ? r->status->message : "");
	clm_response_free(r);
}

/* GetJourney's statistics (copied out). */
struct smoke_stats {
	uint64_t entered, active, exited, completed;
	uint64_t sent[2], skipped_condition[2];
};

static void
smoke_stats(clm_conn *c, struct smoke_stats *s)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__GetJourneyRequest gj = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	gj.name = "cart-recovery";
	req.call_case = CLM__V1__REQUEST__CALL_GET_JOURNEY;
	req.get_journey = &gj;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0);
	const Clm__V1__JourneyStats *st = r->get_journey->journey->stats;
	cr_assert_not_null(st);
	cr_assert_eq(st->n_steps, 2);
	memset(s, 0, sizeof(*s));
	s->entered = st->entered;
	s->active = st->active;
	s->exited = st->exited;
	s->completed = st->completed;
	for (int k = 0; k < 2; k++) {
		s->sent[k] = st->steps[k]->sent;
		s->skipped_condition[k] = st->steps[k]->skipped_condition;
	}
	clm_response_free(r);
}

/* The feed's messages (the caller frees the reply). */
static Clm__V1__Response *
smoke_feed(clm_conn *c)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__JourneyMessagesRequest jm
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	req.journey_messages = &jm;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0);
	cr_assert_not_null(r->journey_messages);
	return r;
}

/* Waits up to ms for the next journey message on w (NULL: none came). */
static Clm__V1__LifecycleEvent *
smoke_next(clm_watch *w, int ms, char *topic, size_t n)
{
	for (;;) {
		Clm__V1__LifecycleEvent *ev = NULL;
		clm_err e = clm_watch_next(w, ms, topic, n, &ev);
		if (e == CLM_DEADLINE_EXCEEDED) {
			return NULL;
		}
		if (e == CLM_INVALID_ARGUMENT) {
			continue;
		}
		cr_assert_eq(e, CLM_OK, "watch: %s", clm_errname(e));
		return ev;
	}
}

/* Tracks one touchpoint at at_ms (0: clmd's now). */
static void
smoke_track(clm_conn *c, const char *customer, const char *eid, int type,
        int64_t at_ms)
{
	struct segflow_tp t = { customer, eid, (Clm__V1__TouchpointType) type,
		at_ms, "sku-1", 5 };
	clm_response_free(segflow_track(c, &t, 1));
}

Test(jny_smoke, reminder_no_followup_after_an_open_and_exit_on_purchase)
{
	static struct clmd_proc p;
	char dir[32], clock[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(clock, sizeof(clock), "%s/clock", dir);
	segflow_clock_set(clock, 0);
	const char *args[] = { "--test-clock-file", clock, NULL };
	flow_start(&p, NULL, args);
	clm_conn *c = flow_connect_to(&p);
	clm_watch *w = NULL;
	cr_assert_eq(clm_watch_open(p.events_url, "journey/", &w), CLM_OK);
	cr_assert_eq(clm_watch_ready(w, 10000), CLM_OK);

	smoke_define(c);
	smoke_track(c, "c1", "c1-cart", ADD_TO_CART, 0);
	/* Its reminder, an hour later (on the test clock), by itself. */
	segflow_clock_set(clock, HOUR_MS + 1000);
	char topic[96];
	Clm__V1__LifecycleEvent *ev
	        = smoke_next(w, 20000, topic, sizeof(topic));
	cr_assert_not_null(ev, "no reminder within 20 s");
	cr_assert_str_eq(topic, "journey/cart-recovery");
	cr_assert_eq(ev->kind, CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE);
	cr_assert_str_eq(ev->customer_id, "c1");
	cr_assert_str_eq(ev->action, "cart_reminder");
	cr_assert_str_eq(ev->item, "sku-1");
	cr_assert_eq(ev->step, 0);
	cr_assert_eq(ev->position, 1);
	cr_assert_eq(strncmp(ev->message_id, "jm_", 3), 0);
	char mid[64];
	snprintf(mid, sizeof(mid), "%s", ev->message_id);
	clm_event_free(ev);
	Clm__V1__Response *r = smoke_feed(c);
	cr_assert_eq(r->journey_messages->n_messages, 1);
	cr_assert_str_eq(r->journey_messages->messages[0]->message_id, mid);
	cr_assert_eq(r->journey_messages->messages[0]->position, 1);
	clm_response_free(r);

	/*
	 * The email is opened (an hour before the follow-up is due): no
	 * follow-up, even past its due instant.
	 */
	smoke_track(c, "c1", "c1-open", EMAIL_OPEN, 0);
	/* c2 buys at once: it leaves. c3 is the control. */
	/*
	 * since_entry counts what is after the entry instant: the purchase
	 * is a second after the cart (two calls may fall in one ms). They
	 * are two calls, so the purchase exits c2 from the journey it is
	 * in (one call would keep c2 out: its exit holds at the entry).
	 */
	int64_t now = segflow_now_ms() + HOUR_MS + 1000;
	smoke_track(c, "c2", "c2-cart", ADD_TO_CART, now - 1000);
	smoke_track(c, "c2", "c2-buy", PURCHASE, now);
	smoke_track(c, "c3", "c3-cart", ADD_TO_CART, 0);
	struct smoke_stats s;
	smoke_stats(c, &s);
	cr_assert_eq(s.entered, 3);
	cr_assert_eq(s.exited, 1, "exited %llu active %llu completed %llu",
	        (unsigned long long) s.exited, (unsigned long long) s.active,
	        (unsigned long long) s.completed);
	/*
	 * Past c3's reminder and c1's follow-up, both due at about 2 h; c3's
	 * follow-up is due an hour after its reminder, past 3 h.
	 */
	segflow_clock_set(clock, 5 * HOUR_MS / 2);
	/* The control's reminder: the timers ran past c2's and c1's. */
	ev = smoke_next(w, 20000, topic, sizeof(topic));
	cr_assert_not_null(ev, "no reminder for c3 within 20 s");
	cr_assert_str_eq(ev->customer_id, "c3");
	cr_assert_str_eq(ev->action, "cart_reminder");
	clm_event_free(ev);
	int i = 0;
	for (; i < 1000; i++) {
		smoke_stats(c, &s);
		if (s.skipped_condition[1] == 1) {
			break;
		}
		harness_sleep_ms(20);
	}
	cr_assert_lt(i, 1000, "c1's follow-up was not skipped in 20 s");
	/*
	 * c3's follow-up is due past 3 h: c1 completed, c3 waits; c1 got one
	 * message, c2 none.
	 */
	cr_assert_eq(s.sent[0], 2);
	cr_assert_eq(s.sent[1], 0);
	cr_assert_eq(s.exited, 1);
	cr_assert_eq(s.completed, 1);
	cr_assert_eq(s.active, 1);
	r = smoke_feed(c);
	size_t c1 = 0;
	for (size_t k = 0; k < r->journey_messages->n_messages; k++) {
		const Clm__V1__LifecycleEvent *m
		        = r->journey_messages->messages[k];
		cr_assert_str_neq(m->customer_id, "c2");
		c1 += strcmp(m->customer_id, "c1") == 0;
		cr_assert_eq(m->position, k + 1);
	}
	cr_assert_eq(c1, 1);
	clm_response_free(r);
	clm_watch_close(w);
	clm_close(c);
	cr_assert_eq(clmd_stop(&p), 0);
	clmd_cleanup(&p);
	harness_rm_rf(dir);
}

/*
 * The feed keeps the newest journey_feed_max messages: 1,100 customers
 * get one message each; the feed then starts at position 101, and
 * every message kept is there.
 */
Test(jny_smoke, the_feed_is_trimmed_to_journey_feed_max)
{
	static struct clmd_proc p;
	const char *args[] = { "--journey-feed-max", "1000", NULL };
	flow_start(&p, NULL, args);
	clm_conn *c = flow_connect_to(&p);
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__DefineJourneyRequest dj
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	dj.definition = "{\"name\": \"hello\", \"trigger\": {\"event\": "
	                "\"SIGNUP\"}, \"steps\": [{\"send\": {\"kind\": "
	                "\"NEXT_BEST_ACTION\", \"action\": \"hello\", "
	                "\"channel\": \"EMAIL\"}}]}";
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	req.define_journey = &dj;
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0);
	clm_response_free(r);
	enum { N = 1100 };
	static struct segflow_tp t[N];
	static char ids[N][16], eids[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "u%d", i);
		snprintf(eids[i], sizeof(eids[i]), "s%d", i);
		t[i] = (struct segflow_tp) { ids[i], eids[i],
			CLM__V1__TOUCHPOINT_TYPE__SIGNUP, 0, NULL, 0 };
	}
	for (int i = 0; i < N; i += 100) {
		clm_response_free(segflow_track(c, &t[i], 100));
	}
	int i = 0;
	uint64_t oldest = 0, last = 0;
	for (; i < 1500; i++) {
		r = smoke_feed(c);
		oldest = r->journey_messages->oldest;
		last = r->journey_messages->last;
		clm_response_free(r);
		if (last == N && oldest == N - 1000 + 1) {
			break;
		}
		harness_sleep_ms(20);
	}
	cr_assert_lt(i, 1500, "feed %llu..%llu after 30 s",
	        (unsigned long long) oldest, (unsigned long long) last);
	/* Kept: positions 101 to 1,100, every one. */
	Clm__V1__JourneyMessagesRequest jm
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	jm.limit = 1000;
	req.call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	req.journey_messages = &jm;
	cr_assert_eq(clm_call(c, &req, &r), CLM_OK);
	cr_assert(r->status == NULL || r->status->code == 0);
	cr_assert_eq(r->journey_messages->n_messages, 1000);
	for (size_t k = 0; k < 1000; k++) {
		cr_assert_eq(r->journey_messages->messages[k]->position,
		        k + N - 1000 + 1);
	}
	clm_response_free(r);
	clm_close(c);
	cr_assert_eq(clmd_stop(&p), 0);
	clmd_cleanup(&p);
}
