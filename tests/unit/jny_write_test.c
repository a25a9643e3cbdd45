/*
 * server/write/journey.c and journey_run.c (write/journey.h,
 * docs/journeys.md): entries by each trigger, reentry rules, exits at a
 * write, the order of a step's checks (late, exit, if, caps, send), a
 * capped step's timer, redefinition, deletion, ForgetCustomer, the
 * counters, the feed, and the fire entry's idempotence and replay.
 *
 * Writes go through the calls' prepare steps and are applied as the
 * writer applies them (one transaction per job, the segments and
 * journeys of the batch set, Tracks through the profile cache), each at
 * an instant the test chooses; fires are the writer's: jw_due, then the
 * job journey_fire_job makes, applied at the instant given. So the clock
 * plays no part (the fixture: jnyw_fixture.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "config.h"
#include "core/journey.h"
#include "jnyw_fixture.h"
#include "server.h"
#include "store/agg_write.h"
#include "store/journey.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"
#include "write/ingest.h"
#include "write/journey.h"
#include "write/segment.h"
#include "write_fixture.h"

/* 2026-11-01T10:00:00Z. */
#include "jnyw_fixture.h"

static void
fx_init(void)
{
	jfx_init("jnyw");
}

static const char CART[]
        = "{\"name\": \"cart-recovery\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
          " \"exit\": \"count(PURCHASE, since_entry) >= 1\","
          " \"steps\": ["
          "{\"wait\": \"1h\", \"send\": {\"kind\": \"CART_REMINDER\","
          " \"action\": \"cart_reminder\", \"channel\": \"EMAIL\"}},"
          "{\"wait\": \"24h\", \"if\": \"count(EMAIL_OPEN, since_entry) = 0\","
          " \"send\": {\"kind\": \"CART_REMINDER\", \"action\": \"cart_followup\","
          " \"channel\": \"SMS\"}, \"when_capped\": \"skip\"}]}";

TestSuite(jny_write, .init = fx_init, .fini = jfx_fini);

Test(jny_write, cart_reminder_then_no_followup_after_an_open)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", "sku-1", T0);
	jfx_assert_stats(id, 2, 1, 1, 0, 0);
	cr_assert_eq(jfx_stats(id, 2)->steps[0]->waiting, 1);
	cr_assert_eq(jfx_first_due(), T0 + HOUR);
	/* Not due yet: nothing. */
	cr_assert_eq(jfx_fire(T0 + 30 * MIN), 0);
	cr_assert_eq(jfx_fire(T0 + HOUR), 1);
	Clm__V1__LifecycleEvent *m = F.msgs[0];
	cr_assert_str_eq(m->customer_id, "c1");
	cr_assert_str_eq(m->journey, "cart-recovery");
	cr_assert_eq(m->step, 0);
	cr_assert_str_eq(m->action, "cart_reminder");
	cr_assert_eq(m->channel, CLM__V1__CHANNEL__EMAIL);
	cr_assert_eq(m->recommendation_kind,
	        CLM__V1__RECOMMENDATION_KIND__CART_REMINDER);
	cr_assert_str_eq(m->item, "sku-1");
	cr_assert_eq(m->at_ms, T0 + HOUR);
	cr_assert_eq(m->position, 1);
	char mid[JNY_MESSAGE_ID_LEN + 1];
	jny_message_id(id, "c1", T0, 0, mid);
	cr_assert_str_eq(m->message_id, mid);
	char eid[64];
	snprintf(eid, sizeof(eid), "jny:%s", mid);
	cr_assert_str_eq(m->event_id, eid);
	cr_assert(jfx_event_exists(eid), "the MESSAGE_SENT touchpoint");
	Clm__V1__JourneyStats *s = jfx_stats(id, 2);
	cr_assert_eq(s->steps[0]->sent, 1);
	cr_assert_eq(s->steps[0]->waiting, 0);
	cr_assert_eq(s->steps[1]->waiting, 1);
	cr_assert_eq(jfx_first_due(), T0 + 25 * HOUR);
	/* The email is opened: the follow-up's "if" is false. */
	jfx_track("c1", "EMAIL_OPEN", NULL, T0 + 2 * HOUR);
	cr_assert_eq(jfx_fire(T0 + 25 * HOUR), 0);
	s = jfx_stats(id, 2);
	cr_assert_eq(s->steps[1]->skipped_condition, 1);
	cr_assert_eq(s->steps[1]->sent, 0);
	cr_assert_eq(s->steps[1]->waiting, 0);
	jfx_assert_stats(id, 2, 1, 0, 0, 1);
	cr_assert_eq(jfx_first_due(), 0, "no timer is left");
	Clm__V1__JourneyState *st = jfx_state("c1", id);
	cr_assert(st != NULL && !st->active && st->entries == 1);
}

Test(jny_write, followup_sent_without_an_open)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	cr_assert_eq(jfx_fire(T0 + HOUR), 1);
	cr_assert_eq(jfx_fire(T0 + 25 * HOUR), 1);
	cr_assert_str_eq(F.msgs[1]->action, "cart_followup");
	cr_assert_eq(F.msgs[1]->channel, CLM__V1__CHANNEL__SMS);
	cr_assert_eq(F.msgs[1]->position, 2);
	cr_assert_str_eq(F.msgs[1]->item, "");
	jfx_assert_stats(id, 2, 1, 0, 0, 1);
	cr_assert_eq(jfx_stats(id, 2)->steps[1]->sent, 1);
}

Test(jny_write, exit_at_a_write_stops_the_steps)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_track("c1", "PURCHASE", NULL, T0 + 1);
	jfx_assert_stats(id, 2, 1, 0, 1, 0);
	cr_assert_eq(jfx_stats(id, 2)->steps[0]->waiting, 0);
	cr_assert_eq(jfx_first_due(), 0);
	cr_assert_eq(jfx_fire(T0 + HOUR), 0);
	/* A new cart enters again ("always"). */
	jfx_track("c1", "ADD_TO_CART", NULL, T0 + 2 * HOUR);
	jfx_assert_stats(id, 2, 2, 1, 1, 0);
	cr_assert_eq(jfx_state("c1", id)->entries, 2);
}

Test(jny_write, old_touchpoints_and_anonymous_ones_enter_nobody)
{
	uint32_t id = jfx_define(CART, T0);
	/* More than max_lateness (1d) before the write's instant. */
	char json[512];
	snprintf(json, sizeof(json),
	        "{\"track\":{\"touchpoints\":[{\"eventId\":\"old\","
	        "\"customerId\":\"c1\",\"type\":\"ADD_TO_CART\","
	        "\"occurredAtMs\":%lld}]}}",
	        (long long) (T0 - 2 * DAY));
	jfx_write(json, T0);
	snprintf(json, sizeof(json),
	        "{\"track\":{\"touchpoints\":[{\"eventId\":\"anon\","
	        "\"anonymousId\":\"cookie\",\"type\":\"ADD_TO_CART\","
	        "\"occurredAtMs\":%lld}]}}",
	        (long long) T0);
	jfx_write(json, T0);
	jfx_assert_stats(id, 2, 0, 0, 0, 0);
	cr_assert_eq(jfx_first_due(), 0);
}

Test(jny_write, reentry_rules)
{
	const char *once
	        = "{\"name\": \"once\", \"trigger\": {\"event\": "
	          "\"PURCHASE\"}, \"reentry\": \"once\", \"steps\": "
	          "[{\"send\": {\"kind\": \"LOYALTY_REWARD\", "
	          "\"action\": \"thanks\", \"channel\": \"EMAIL\"}}]}";
	const char *after = "{\"name\": \"after\", \"trigger\": {\"event\": "
	                    "\"PURCHASE\"}, \"reentry\": \"30d\", \"steps\": "
	                    "[{\"send\": {\"kind\": \"LOYALTY_REWARD\", "
	                    "\"action\": \"thanks\", \"channel\": \"SMS\"}}]}";
	const char *always = "{\"name\": \"always\", \"trigger\": {\"event\": "
	                     "\"PURCHASE\"}, \"steps\": [{\"wait\": \"1h\", "
	                     "\"send\": {\"kind\": \"LOYALTY_REWARD\", "
	                     "\"action\": \"thanks\", \"channel\": "
	                     "\"APP_NOTIFICATION\"}}]}";
	uint32_t a = jfx_define(once, T0), b = jfx_define(after, T0),
	         c = jfx_define(always, T0);
	jfx_track("c1", "PURCHASE", NULL, T0);
	/* Active in "always": a second purchase restarts nothing. */
	jfx_track("c1", "PURCHASE", NULL, T0 + MIN);
	cr_assert_eq(jfx_fire(T0 + 2 * MIN), 2); /* once, after (wait 0s) */
	cr_assert_eq(jfx_fire(T0 + HOUR), 1);    /* always */
	jfx_assert_stats(a, 1, 1, 0, 0, 1);
	jfx_assert_stats(b, 1, 1, 0, 0, 1);
	jfx_assert_stats(c, 1, 1, 0, 0, 1);
	jfx_track("c1", "PURCHASE", NULL, T0 + 2 * DAY);
	jfx_assert_stats(a, 1, 1, 0, 0, 1); /* never again */
	jfx_assert_stats(b, 1, 1, 0, 0, 1); /* not within 30 d */
	jfx_assert_stats(c, 1, 2, 1, 0, 1); /* again */
	jfx_track("c1", "PURCHASE", NULL, T0 + 31 * DAY);
	jfx_assert_stats(a, 1, 1, 0, 0, 1);
	jfx_assert_stats(b, 1, 2, 1, 0, 1); /* 30 d after the last entry */
}

Test(jny_write, stage_risk_and_segment_triggers)
{
	/* Which stage a first purchase moves a customer into. */
	jfx_track("probe", "PURCHASE", NULL, T0);
	int stage = 0;
	for (size_t k = 0; k < F.n_events; k++) {
		if (F.events[k]->kind
		        == CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED) {
			stage = (int) F.events[k]->to_stage;
		}
	}
	cr_assert_neq(stage, 0, "a first purchase changes the stage");
	const char *sname = protobuf_c_enum_descriptor_get_value(
	        &clm__v1__stage__descriptor, stage)
	                            ->name;
	char def[512];
	snprintf(def, sizeof(def),
	        "{\"name\": \"staged\", \"trigger\": {\"stage\": \"%s\"},"
	        " \"steps\": [{\"send\": {\"kind\": \"LOYALTY_REWARD\","
	        " \"action\": \"welcome\", \"channel\": \"EMAIL\"}}]}",
	        sname);
	uint32_t st = jfx_define(def, T0);
	uint32_t rk = jfx_define(
	        "{\"name\": \"billing-help\", \"trigger\": {\"risk\": "
	        "\"RECENT_BILLING_ISSUE\"}, \"steps\": [{\"wait\": \"10m\", "
	        "\"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": "
	        "\"update_payment\", \"channel\": \"EMAIL\"}}]}",
	        T0);
	uint32_t sg = jfx_define(
	        "{\"name\": \"buyers-welcome\", \"trigger\": {\"segment\": "
	        "\"buyers\"}, \"steps\": [{\"send\": {\"kind\": "
	        "\"LOYALTY_REWARD\", \"action\": \"hello\", \"channel\": "
	        "\"SMS\"}}]}",
	        T0);
	jfx_write("{\"defineSegment\":{\"name\":\"buyers\","
	          "\"expression\":\"purchases >= 1\"}}",
	        T0);
	/* The backfill (of the probe alone) enters nobody. */
	jfx_seg_steps(T0);
	jfx_assert_stats(sg, 1, 0, 0, 0, 0);
	jfx_track("c1", "PURCHASE", NULL, T0 + MIN);
	jfx_assert_stats(st, 1, 1, 1, 0, 0);
	jfx_assert_stats(sg, 1, 1, 1, 0, 0);
	jfx_assert_stats(rk, 1, 0, 0, 0, 0);
	jfx_track("c1", "BILLING_ISSUE", NULL, T0 + 2 * MIN);
	bool signal = false;
	for (size_t k = 0; k < F.n_events; k++) {
		signal = signal
		        || (F.events[k]->kind
		                        == CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL
		                && F.events[k]->reason
		                        == CLM__V1__RISK_REASON__RECENT_BILLING_ISSUE);
	}
	cr_assert(signal, "a billing issue is a risk signal");
	jfx_assert_stats(rk, 1, 1, 1, 0, 0);
	cr_assert_eq(jfx_state("c1", rk)->entered_ms, T0 + 2 * MIN);
	cr_assert_eq(jfx_fire(T0 + 12 * MIN), 3);
}

Test(jny_write, late_steps_are_skipped)
{
	uint32_t id = jfx_define(
	        "{\"name\": \"late\", \"trigger\": {\"event\": \"SIGNUP\"},"
	        " \"max_lateness\": \"1h\", \"steps\": [{\"wait\": \"1h\","
	        " \"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"a\","
	        " \"channel\": \"EMAIL\"}}, {\"wait\": \"1h\", \"send\": "
	        "{\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"b\", "
	        "\"channel\": \"EMAIL\"}}]}",
	        T0);
	jfx_track("c1", "SIGNUP", NULL, T0);
	/* Due at T0 + 1h, runs at T0 + 3h: late. */
	cr_assert_eq(jfx_fire(T0 + 3 * HOUR), 0);
	Clm__V1__JourneyStats *s = jfx_stats(id, 2);
	cr_assert_eq(s->steps[0]->skipped_late, 1);
	cr_assert_eq(s->steps[1]->waiting, 1);
	/* The next one is due its wait after the skip. */
	cr_assert_eq(jfx_first_due(), T0 + 4 * HOUR);
	cr_assert_eq(jfx_fire(T0 + 4 * HOUR), 1);
	cr_assert_str_eq(F.msgs[0]->action, "b");
	jfx_assert_stats(id, 2, 1, 0, 0, 1);
}

Test(jny_write, capped_steps_wait_or_skip)
{
	F.cfg.quiet_hours = 24;
	server_init(&F.srv, &F.cfg, NULL, NULL, T0);
	F.srv.st = F.st;
	uint32_t w = jfx_define(
	        "{\"name\": \"waits\", \"trigger\": {\"event\": \"SIGNUP\"},"
	        " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": "
	        "\"NEXT_BEST_ACTION\", \"action\": \"w\", \"channel\": "
	        "\"EMAIL\"}}]}",
	        T0);
	uint32_t s = jfx_define(
	        "{\"name\": \"skips\", \"trigger\": {\"event\": \"SIGNUP\"},"
	        " \"steps\": [{\"wait\": \"2h\", \"send\": {\"kind\": "
	        "\"NEXT_BEST_ACTION\", \"action\": \"s\", \"channel\": "
	        "\"EMAIL\"}, \"when_capped\": \"skip\"}]}",
	        T0);
	uint32_t q = jfx_define(
	        "{\"name\": \"quick\", \"trigger\": {\"event\": \"SIGNUP\"},"
	        " \"steps\": [{\"send\": {\"kind\": \"NEXT_BEST_ACTION\","
	        " \"action\": \"q\", \"channel\": \"EMAIL\"}}]}",
	        T0);
	jfx_track("c1", "SIGNUP", NULL, T0);
	/* quick sends at T0; then the quiet hours hold the others. */
	cr_assert_eq(jfx_fire(T0), 1);
	cr_assert_eq(jfx_fire(T0 + HOUR), 0);
	cr_assert_eq(jfx_fire(T0 + 2 * HOUR), 0);
	jfx_assert_stats(q, 1, 1, 0, 0, 1);
	jfx_assert_stats(s, 1, 1, 0, 0, 1);
	cr_assert_eq(jfx_stats(s, 1)->steps[0]->skipped_capped, 1);
	jfx_assert_stats(w, 1, 1, 1, 0, 0);
	cr_assert_eq(jfx_stats(w, 1)->steps[0]->waiting, 1);
	/* Its timer moved to when the caps allow it. */
	int64_t free_ms = jfx_first_due();
	cr_assert_gt(free_ms, T0 + 2 * HOUR);
	cr_assert_leq(free_ms, T0 + DAY + 1);
	cr_assert_eq(jfx_state("c1", w)->due_ms, free_ms);
	cr_assert_eq(jfx_fire(free_ms - 1), 0);
	cr_assert_eq(jfx_fire(free_ms), 1);
	cr_assert_str_eq(F.msgs[1]->action, "w");
	jfx_assert_stats(w, 1, 1, 0, 0, 1);
}

Test(jny_write, redefinition_keeps_customers_at_their_step)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	/* The same name: the same id, a new first action. */
	const char *v2
	        = "{\"name\": \"cart-recovery\", \"trigger\": {\"event\": "
	          "\"ADD_TO_CART\"}, \"steps\": [{\"wait\": \"1h\", \"send\": "
	          "{\"kind\": \"CART_REMINDER\", \"action\": \"v2\", "
	          "\"channel\": \"EMAIL\"}}]}";
	cr_assert_eq(jfx_define(v2, T0 + MIN), id);
	cr_assert_eq(jfx_fire(T0 + HOUR), 1);
	cr_assert_str_eq(F.msgs[0]->action, "v2");
	jfx_assert_stats(id, 1, 1, 0, 0, 1);
}

Test(jny_write, deletion_drops_the_timers_as_they_come_due)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_delete("cart-recovery", id);
	cr_assert_eq(jfx_first_due(), T0 + HOUR, "dropped lazily");
	cr_assert_eq(jfx_fire(T0 + HOUR), 0);
	cr_assert_eq(jfx_first_due(), 0);
	/* Defined again: a new journey nobody is in. */
	uint32_t id2 = jfx_define(CART, T0 + 2 * HOUR);
	cr_assert_neq(id2, id);
	jfx_assert_stats(id2, 2, 0, 0, 0, 0);
	/* The old state is pruned at the next save; the new one enters. */
	jfx_track("c1", "ADD_TO_CART", NULL, T0 + 2 * HOUR);
	cr_assert_null(jfx_state("c1", id));
	jfx_assert_stats(id2, 2, 1, 1, 0, 0);
}

Test(jny_write, forget_takes_the_customer_out)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	jfx_track("c2", "ADD_TO_CART", NULL, T0);
	cr_assert_eq(jfx_fire(T0 + HOUR), 2);
	jfx_write(
	        "{\"forgetCustomer\":{\"customerId\":\"c1\"}}", T0 + 2 * HOUR);
	Clm__V1__JourneyStats *s = jfx_stats(id, 2);
	cr_assert_eq(s->removed, 1);
	cr_assert_eq(s->active, 1);
	cr_assert_eq(s->steps[1]->waiting, 1);
	/* c1's message is gone from the feed, c2's is kept. */
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__LifecycleEvent *ev;
	uint64_t c1 = strcmp(F.msgs[0]->customer_id, "c1") == 0 ? 1 : 2;
	cr_assert_eq(store_jmsg_get(txn, c1, &F.a, &ev), CLM_NOT_FOUND);
	cr_assert_eq(store_jmsg_get(txn, 3 - c1, &F.a, &ev), CLM_OK);
	store_write_abort(txn);
	cr_assert_eq(jfx_fire(T0 + 25 * HOUR), 1);
	cr_assert_str_eq(F.msgs[2]->customer_id, "c2");
	cr_assert_eq(F.msgs[2]->position, 3);
}

Test(jny_write, a_fire_entry_applied_twice_sends_once)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", NULL, T0);
	Clm__V1__JourneyFire *f = jfx_due(T0 + HOUR);
	cr_assert_eq(f->n_items, 1);
	jfx_fire_entry(f, T0 + HOUR);
	jfx_fire_entry(f, T0 + HOUR + 1);
	jfx_fire_entry(f, T0 + 2 * HOUR);
	cr_assert_eq(F.n_msgs, 1);
	Clm__V1__JourneyStats *s = jfx_stats(id, 2);
	cr_assert_eq(s->steps[0]->sent, 1);
	cr_assert_eq(s->steps[1]->waiting, 1);
	cr_assert_eq(s->entered, 1);
	cr_assert_eq(jfx_first_due(), T0 + 25 * HOUR);
}

Test(jny_write, a_fire_entry_recreates_a_lost_entry)
{
	uint32_t id = jfx_define(CART, T0);
	jfx_track("c1", "ADD_TO_CART", "sku-9", T0);
	Clm__V1__JourneyFire *f = jfx_due(T0 + HOUR);
	cr_assert_eq(f->n_items, 1);
	/*
	 * A crash loses the derived entry (as a background step's entry
	 * would be): the state, its timer and its counters. The journaled
	 * fire entry is then replayed.
	 */
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__CustomerRecord *rec;
	cr_assert_eq(store_customer_get(txn, "c1", false, &F.a, &rec), CLM_OK);
	cr_assert_eq(rec->n_journeys, 1);
	cr_assert_eq(store_jdue_del(txn, rec->journeys[0]->due_ms, id, "c1"),
	        CLM_OK);
	rec->n_journeys = 0;
	cr_assert_eq(store_customer_put(txn, rec, true), CLM_OK);
	bool left = true;
	while (left) {
		cr_assert_eq(store_jstats_drop(txn, id, 1000, &left), CLM_OK);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	/* The entry as journaled, rebuilt as call_replay does. */
	writer_job *job = arena_zalloc(&F.a, sizeof(*job));
	Clm__V1__Response *resp = arena_alloc(&F.a, sizeof(*resp));
	clm__v1__response__init(resp);
	writer_job_init(job, &F.a, resp, NULL, NULL);
	cr_assert_eq(journey_fire_job(&F.srv, job, f), CLM_OK);
	writer_job *re = arena_zalloc(&F.a, sizeof(*re));
	writer_job_init(re, &F.a, resp, NULL, NULL);
	cr_assert_eq(call_replay(&F.srv, re, job->jtype, job->jdata, job->jlen,
	                     T0 + HOUR),
	        CLM_OK);
	re->jtype = job->jtype;
	jfx_apply(re, T0 + HOUR);
	cr_assert_eq(F.n_msgs, 1);
	cr_assert_str_eq(F.msgs[0]->item, "sku-9");
	Clm__V1__JourneyState *st = jfx_state("c1", id);
	cr_assert(st != NULL && st->active && st->step == 1);
	cr_assert_eq(st->entered_ms, T0);
	jfx_assert_stats(id, 2, 1, 1, 0, 0);
	cr_assert_eq(jfx_first_due(), T0 + 25 * HOUR);
	/* A replay of it again does nothing. */
	jfx_apply(re, T0 + HOUR);
	cr_assert_eq(F.n_msgs, 1);
}

Test(jny_write, a_corrupt_fire_entry_is_data_loss)
{
	writer_job *job = arena_zalloc(&F.a, sizeof(*job));
	writer_job_init(job, &F.a, NULL, NULL, NULL);
	uint8_t junk[CALL_POLICY_BYTES + 4];
	memset(junk, 0xff, sizeof(junk));
	cr_assert_eq(call_replay(&F.srv, job, CALL_ENTRY_JOURNEY_FIRE, junk,
	                     sizeof(junk), T0),
	        CLM_DATA_LOSS);
	cr_assert_eq(
	        call_replay(&F.srv, job, CALL_ENTRY_JOURNEY_FIRE, junk, 3, T0),
	        CLM_DATA_LOSS);
}

Test(jny_write, the_feed_numbers_messages_in_apply_order)
{
	jfx_define(CART, T0);
	for (int i = 0; i < 5; i++) {
		char c[8];
		snprintf(c, sizeof(c), "c%d", i);
		jfx_track(c, "ADD_TO_CART", NULL, T0 + i * MIN);
	}
	cr_assert_eq(jfx_fire(T0 + HOUR + 2 * MIN), 3);
	cr_assert_eq(jfx_fire(T0 + HOUR + 10 * MIN), 2);
	for (size_t i = 0; i < F.n_msgs; i++) {
		cr_assert_eq(F.msgs[i]->position, i + 1);
		char c[24];
		snprintf(c, sizeof(c), "c%zu", i);
		cr_assert_str_eq(F.msgs[i]->customer_id, c);
	}
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	uint64_t oldest, last;
	cr_assert_eq(store_jmsg_bounds(txn, &oldest, &last), CLM_OK);
	store_write_abort(txn);
	cr_assert_eq(oldest, 1);
	cr_assert_eq(last, 5);
}

/*
 * Many customers due at once: every one gets its message exactly once,
 * fired in jobs of 1,000 as the writer takes them. CLM_JNY_FIRE_N sets
 * how many (default 3,000); the rate is printed (docs: a measurement of
 * the apply alone, without the journal's fsync).
 */
Test(jny_write, many_due_at_once_fire_once_each, .timeout = 600)
{
	const char *env = getenv("CLM_JNY_FIRE_N");
	size_t n = env != NULL ? (size_t) strtoull(env, NULL, 10) : 3000;
	uint32_t id = jfx_define(
	        "{\"name\": \"bulk\", \"trigger\": {\"event\": \"SIGNUP\"},"
	        " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": "
	        "\"NEXT_BEST_ACTION\", \"action\": \"hi\", \"channel\": "
	        "\"EMAIL\"}}]}",
	        T0);
	size_t per = 1000;
	char *json = malloc(per * 160 + 64);
	cr_assert_not_null(json);
	for (size_t i = 0; i < n; i += per) {
		size_t len = (size_t) sprintf(
		        json, "{\"track\":{\"touchpoints\":[");
		for (size_t k = i; k < i + per && k < n; k++) {
			len += (size_t) sprintf(json + len,
			        "%s{\"eventId\":\"s%zu\",\"customerId\":\"u%zu\","
			        "\"type\":\"SIGNUP\",\"occurredAtMs\":%lld}",
			        k > i ? "," : "", k, k, (long long) T0);
		}
		sprintf(json + len, "]}}");
		jfx_write(json, T0);
		arena_reset(&F.a);
	}
	free(json);
	jfx_assert_stats(id, 1, n, n, 0, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t sent = 0, jobs = 0;
	for (;;) {
		store_txn *txn;
		cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
		Clm__V1__JourneyFire *f;
		bool more;
		cr_assert_eq(
		        jw_due(F.jny, txn, T0 + HOUR, 1000, &F.a, &f, &more),
		        CLM_OK);
		store_write_abort(txn);
		if (f->n_items == 0) {
			break;
		}
		size_t before = F.n_msgs;
		jfx_fire_entry(f, T0 + HOUR);
		sent += F.n_msgs - before;
		F.n_msgs = 0;
		jobs++;
		arena_reset(&F.a);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double) (t1.tv_sec - t0.tv_sec)
	        + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_log_info("fired %zu steps in %zu jobs in %.2f s: %.0f steps/s",
	        sent, jobs, s, (double) sent / s);
	fprintf(stderr,
	        "journey_write: fired %zu steps in %zu jobs in %.2f s: %.0f steps/s\n",
	        sent, jobs, s, (double) sent / s);
	cr_assert_eq(sent, n);
	cr_assert_eq(jobs, (n + 999) / 1000);
	jfx_assert_stats(id, 1, n, 0, 0, n);
	cr_assert_eq(jfx_stats(id, 1)->steps[0]->sent, n);
	cr_assert_eq(jfx_first_due(), 0);
}
