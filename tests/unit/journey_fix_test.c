/*
 * Fixes of write/journey.c, journey_run.c and the segments' count
 * callback (store_segment_eval.c): a since_entry exit sets no timer of
 * its own, time-driven entries of several segments of one customer enter
 * the journeys of each, a fire item runs whichever timer brought it, and
 * a customer record that does not decode drops its own step only.
 *
 * The fixture is journey_write_test.c's: writes through the calls'
 * prepare steps, applied as the writer applies them at instants the test
 * chooses; fires are jw_due and the job journey_fire_job makes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "config.h"
#include "core/journey.h"
#include "server.h"
#include "store/agg_write.h"
#include "store/journey.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "testdir.h"
#include "util/arena.h"
#include "write/ingest.h"
#include "write/journey.h"
#include "write/segment.h"
#include "write_fixture.h"

/* 2026-11-01T10:00:00Z. */
#define T0   1793527200000LL
#define MIN  (60 * 1000LL)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

struct fx {
	char dir[256];
	struct config cfg;
	struct server srv;
	store *st;
	struct segw *segs;
	struct jw *jny;
	struct ingest_cache *cache;
	struct agg_visits *visits;
	arena scratch;
	arena a;
	/* The JOURNEY_MESSAGE events of the fires, in order. */
	Clm__V1__LifecycleEvent *msgs[1024];
	size_t n_msgs;
	/* The events of the last job applied. */
	Clm__V1__LifecycleEvent **events;
	size_t n_events;
};

static struct fx F;

static void
fx_init(void)
{
	memset(&F, 0, sizeof(F));
	testdir_make(F.dir, sizeof(F.dir), "jnyf");
	config_init(&F.cfg);
	F.cfg.cap_messages = 3;
	F.cfg.cap_days = 7;
	F.cfg.quiet_hours = 0;
	server_init(&F.srv, &F.cfg, NULL, NULL, T0);
	F.st = wfx_store_open(F.dir, 1u << 30);
	F.srv.st = F.st;
	F.segs = segw_new(&F.srv.params);
	F.jny = jw_new(&F.srv.params);
	F.cache = ingest_cache_new();
	F.visits = agg_visits_new();
	cr_assert(F.segs && F.jny && F.cache && F.visits);
	arena_init(&F.scratch);
	arena_init(&F.a);
}

static void
fx_fini(void)
{
	segw_free(F.segs);
	jw_free(F.jny);
	ingest_cache_free(F.cache);
	agg_visits_free(F.visits);
	arena_fini(&F.scratch);
	arena_fini(&F.a);
	store_close(F.st);
	config_fini(&F.cfg);
	testdir_remove(F.dir);
}

/*
 * Applies job alone at now_ms in txn as the writer does (writer.c);
 * returns the apply's error (the transaction is then aborted).
 */
static clm_err
fx_try(writer_job *job, int64_t now_ms, store_txn *txn)
{
	bool track
	        = WRITER_TYPE_CALL(job->jtype) == CLM__V1__REQUEST__CALL_TRACK;
	struct writer_batch b = { .txn = txn,
		.now_ms = now_ms,
		.scratch = &F.scratch,
		.visits = F.visits,
		.cache = track ? F.cache : NULL,
		.segs = F.segs,
		.jny = F.jny };
	agg_visits_clear(F.visits);
	job->n_events = 0;
	clm_err e = job->apply(&b, job);
	if (e == CLM_OK) {
		e = ingest_cache_flush(&b);
	}
	if (e == CLM_OK) {
		e = agg_visits_fold(txn, F.visits);
	}
	if (e == CLM_OK) {
		e = store_agg_flush(txn);
	}
	if (e != CLM_OK) {
		ingest_cache_drop(F.cache);
		segw_invalidate(F.segs);
		jw_invalidate(F.jny);
		store_write_abort(txn);
	}
	return e;
}

/* Applies job alone at now_ms (the map grown when it fills). */
static void
fx_apply(writer_job *job, int64_t now_ms)
{
	store_txn *txn;
	clm_err e;
	for (int attempt = 0;; attempt++) {
		cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
		e = fx_try(job, now_ms, txn);
		if (e != CLM_RESOURCE_EXHAUSTED || attempt == 8) {
			break;
		}
		cr_assert_eq(store_grow(F.st), CLM_OK);
	}
	cr_assert_eq(e, CLM_OK, "apply: %s", clm_strerror(e));
	for (size_t k = 0; k < job->n_events; k++) {
		job->events[k]->seq = store_next_event_seq(txn);
		if (job->events[k]->kind
		        == CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE) {
			cr_assert_lt(F.n_msgs, 1024);
			F.msgs[F.n_msgs++] = job->events[k];
		}
	}
	F.events = job->events;
	F.n_events = job->n_events;
	cr_assert_eq(store_write_commit(txn), CLM_OK);
}

/* Runs the prepare step of json's write call at now_ms and applies it. */
static void
fx_write(const char *json, int64_t now_ms)
{
	struct call_req *r = arena_zalloc(&F.a, sizeof(*r));
	cr_assert_not_null(r);
	r->srv = &F.srv;
	r->a = &F.a;
	r->now_ms = now_ms;
	r->resp = arena_alloc(&F.a, sizeof(*r->resp));
	cr_assert_not_null(r->resp);
	clm__v1__response__init(r->resp);
	r->req = wfx_request(&F.a, json);
	writer_job_init(&r->job, &F.a, r->resp, NULL, NULL);
	bool ok = false;
	switch (r->req->call_case) {
	case CLM__V1__REQUEST__CALL_TRACK:
		ok = track_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_FORGET_CUSTOMER:
		ok = forget_prepare(r);
		break;
	case CLM__V1__REQUEST__CALL_DEFINE_SEGMENT:
		ok = seg_define_prepare(r);
		break;
	default:
		cr_assert_fail("not a write of the test: %s", json);
	}
	cr_assert(ok, "prepare refused %s", json);
	fx_apply(&r->job, now_ms);
}

/* Tracks one touchpoint of customer at at_ms, applied at at_ms. */
static void
fx_track(const char *customer, const char *type, const char *item,
        int64_t at_ms)
{
	static int n;
	char json[512];
	snprintf(json, sizeof(json),
	        "{\"track\":{\"touchpoints\":[{\"eventId\":\"e%d\","
	        "\"customerId\":\"%s\",\"type\":\"%s\",\"itemId\":\"%s\","
	        "\"occurredAtMs\":%lld}]}}",
	        ++n, customer, type, item != NULL ? item : "",
	        (long long) at_ms);
	fx_write(json, at_ms);
}

/* Defines (or redefines) the journey of json as DefineJourney applies. */
static uint32_t
fx_define(const char *json, int64_t now_ms)
{
	struct jny_def *d;
	struct jny_error err;
	cr_assert_eq(jny_parse(json, strlen(json), &d, &err), CLM_OK, "%s",
	        err.msg);
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__JourneyRecord rec = CLM__V1__JOURNEY_RECORD__INIT, *old;
	rec.name = d->name;
	rec.definition = d->json;
	rec.defined_at_ms = now_ms;
	rec.created_at_ms = now_ms;
	clm_err e = store_journey_get(txn, d->name, &F.a, &old);
	if (e == CLM_OK) {
		rec.id = old->id;
		rec.created_at_ms = old->created_at_ms;
	} else {
		cr_assert_eq(e, CLM_NOT_FOUND);
		cr_assert_eq(store_journey_new_id(txn, &rec.id), CLM_OK);
	}
	cr_assert_eq(store_journey_put(txn, &rec), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	jny_free(d);
	jw_invalidate(F.jny);
	return rec.id;
}

/* The due timers at now_ms as the writer takes them (all of them). */
static Clm__V1__JourneyFire *
fx_due(int64_t now_ms)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__JourneyFire *f;
	bool more;
	cr_assert_eq(
	        jw_due(F.jny, txn, now_ms, 1000, &F.a, &f, &more), CLM_OK);
	store_write_abort(txn);
	cr_assert(!more);
	return f;
}

/* Applies fire f at now_ms as the writer's fire job. */
static void
fx_fire_entry(const Clm__V1__JourneyFire *f, int64_t now_ms)
{
	writer_job *job = arena_zalloc(&F.a, sizeof(*job));
	Clm__V1__Response *resp = arena_alloc(&F.a, sizeof(*resp));
	cr_assert(job && resp);
	clm__v1__response__init(resp);
	writer_job_init(job, &F.a, resp, NULL, NULL);
	cr_assert_eq(journey_fire_job(&F.srv, job, f), CLM_OK);
	cr_assert_eq(job->jtype, CALL_ENTRY_JOURNEY_FIRE);
	fx_apply(job, now_ms);
}

/* Fires what is due at now_ms; returns how many messages it sent. */
static size_t
fx_fire(int64_t now_ms)
{
	size_t before = F.n_msgs;
	Clm__V1__JourneyFire *f = fx_due(now_ms);
	if (f->n_items > 0) {
		fx_fire_entry(f, now_ms);
	}
	return F.n_msgs - before;
}

static Clm__V1__JourneyStats *
fx_stats(uint32_t id, size_t n_steps)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__JourneyStats *s;
	cr_assert_eq(store_jstats_get(txn, id, n_steps, &F.a, &s), CLM_OK);
	store_write_abort(txn);
	return s;
}

/* The earliest timer (0: none). */
static int64_t
fx_first_due(void)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	int64_t due = 0;
	bool found;
	cr_assert_eq(store_jdue_first(txn, &due, &found), CLM_OK);
	store_write_abort(txn);
	return found ? due : 0;
}

static Clm__V1__JourneyState *
fx_state(const char *customer, uint32_t id)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__CustomerRecord *rec;
	clm_err e = store_customer_get(txn, customer, false, &F.a, &rec);
	store_write_abort(txn);
	if (e == CLM_NOT_FOUND) {
		return NULL;
	}
	cr_assert_eq(e, CLM_OK);
	for (size_t i = 0; i < rec->n_journeys; i++) {
		if (rec->journeys[i]->journey == id) {
			return rec->journeys[i];
		}
	}
	return NULL;
}

static void
fx_assert_stats(uint32_t id, size_t n_steps, uint64_t entered, uint64_t active,
        uint64_t exited, uint64_t completed)
{
	Clm__V1__JourneyStats *s = fx_stats(id, n_steps);
	cr_assert_eq(s->entered, entered, "entered %llu, not %llu",
	        (unsigned long long) s->entered, (unsigned long long) entered);
	cr_assert_eq(s->active, active, "active %llu, not %llu",
	        (unsigned long long) s->active, (unsigned long long) active);
	cr_assert_eq(s->exited, exited, "exited %llu, not %llu",
	        (unsigned long long) s->exited, (unsigned long long) exited);
	cr_assert_eq(s->completed, completed, "completed %llu, not %llu",
	        (unsigned long long) s->completed,
	        (unsigned long long) completed);
}

/* Runs the segments' background steps at now_ms as writer_segment_step. */
static void
fx_seg_steps(int64_t now_ms)
{
	for (int i = 0; i < 100; i++) {
		store_txn *txn;
		cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
		struct writer_batch b = { .txn = txn,
			.now_ms = now_ms,
			.scratch = &F.scratch,
			.visits = F.visits,
			.segs = F.segs,
			.jny = F.jny };
		writer_job job;
		writer_job_init(&job, &F.a, NULL, NULL, NULL);
		bool more = false, did = false;
		cr_assert_eq(segw_step(F.segs, &b, &job, &more, &did), CLM_OK);
		if (did) {
			cr_assert_eq(jw_segment_entries(F.jny, &b, &job, 0),
			        CLM_OK);
		}
		cr_assert_eq(store_write_commit(txn), CLM_OK);
		if (!more) {
			return;
		}
	}
	cr_assert_fail("the background steps do not end");
}

/* Overwrites customer's record with bytes that do not decode. */
static void
fx_corrupt(const char *customer)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	unsigned char junk[3] = { 0xff, 0xff, 0xff };
	MDB_val k = { strlen(customer), (void *) customer };
	MDB_val v = { sizeof(junk), junk };
	cr_assert_eq(kv_put(txn, STORE_DB_CUSTOMERS, &k, &v, 0), 0);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
}

static const char ONE_STEP[]
        = "{\"name\": \"nudge\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
          " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\":"
          " \"CART_REMINDER\", \"action\": \"nudge\", \"channel\":"
          " \"EMAIL\"}}]}";

TestSuite(journey_fix, .init = fx_init, .fini = fx_fini);

Test(journey_fix, a_since_entry_exit_sets_no_timer_of_its_own)
{
	uint32_t id = fx_define(
	        "{\"name\": \"opens\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
	        " \"exit\": \"count(EMAIL_OPEN, since_entry) >= 3\","
	        " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\":"
	        " \"CART_REMINDER\", \"action\": \"remind\", \"channel\":"
	        " \"EMAIL\"}}]}",
	        T0);
	fx_track("c1", "ADD_TO_CART", NULL, T0);
	fx_track("c1", "EMAIL_OPEN", NULL, T0 + MIN);
	Clm__V1__JourneyState *st = fx_state("c1", id);
	cr_assert(st != NULL && st->active);
	/* One open never leaves a window that only grows. */
	cr_assert_eq(st->due_ms, T0 + HOUR, "timer at %+lld ms",
	        (long long) (st->due_ms - T0));
	cr_assert_eq(fx_first_due(), T0 + HOUR);
	const int64_t at[] = { T0 + 2 * MIN, T0 + 10 * MIN, T0 + 59 * MIN };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		cr_assert_eq(fx_due(at[i])->n_items, 0, "work at %+lld ms",
		        (long long) (at[i] - T0));
	}
	cr_assert_eq(fx_fire(T0 + HOUR), 1);
	fx_assert_stats(id, 1, 1, 0, 0, 1);
}

Test(journey_fix, two_time_driven_segments_of_a_customer_enter_each)
{
	uint32_t id = fx_define(
	        "{\"name\": \"winback\", \"trigger\": {\"segment\": "
	        "\"idle-b\"}, \"steps\": [{\"send\": {\"kind\": "
	        "\"WIN_BACK\", \"action\": \"come_back\", \"channel\": "
	        "\"EMAIL\"}}]}",
	        T0);
	fx_track("c1", "ADD_TO_CART", NULL, T0);
	fx_write("{\"defineSegment\":{\"name\":\"idle-a\","
	         "\"expression\":\"since(last_seen) > 1d\"}}",
	        T0);
	fx_write("{\"defineSegment\":{\"name\":\"idle-b\","
	         "\"expression\":\"since(last_seen) > 1d\"}}",
	        T0);
	fx_seg_steps(T0); /* the backfills: nobody is idle yet */
	fx_assert_stats(id, 1, 0, 0, 0, 0);
	fx_seg_steps(T0 + 2 * DAY);
	fx_assert_stats(id, 1, 1, 1, 0, 0);
	Clm__V1__JourneyState *st = fx_state("c1", id);
	cr_assert(st != NULL && st->active);
}

Test(journey_fix, an_item_runs_whichever_timer_brought_it)
{
	uint32_t id = fx_define(ONE_STEP, T0);
	fx_track("c1", "ADD_TO_CART", NULL, T0);
	Clm__V1__JourneyFire *f = fx_due(T0 + HOUR);
	cr_assert_eq(f->n_items, 1);
	/*
	 * Another node took the customer's timer at another instant (its
	 * exit's next change, from its own view): the same entry and step.
	 */
	Clm__V1__JourneyFireItem other = *f->items[0];
	Clm__V1__JourneyFireItem *items[1] = { &other };
	Clm__V1__JourneyFire g = CLM__V1__JOURNEY_FIRE__INIT;
	g.items = items;
	g.n_items = 1;
	/* Early: the step waits, its timer as it was. */
	other.due_ms = T0 + 30 * MIN;
	fx_fire_entry(&g, T0 + 30 * MIN);
	cr_assert_eq(F.n_msgs, 0);
	cr_assert_eq(fx_first_due(), T0 + HOUR);
	/* Due: it runs, once. */
	other.due_ms = T0 + HOUR - 1;
	fx_fire_entry(&g, T0 + HOUR);
	cr_assert_eq(F.n_msgs, 1);
	cr_assert_eq(fx_first_due(), 0);
	fx_fire_entry(f, T0 + HOUR);
	fx_fire_entry(&g, T0 + HOUR + 1);
	cr_assert_eq(F.n_msgs, 1);
	fx_assert_stats(id, 1, 1, 0, 0, 1);
}

Test(journey_fix, a_record_that_does_not_decode_drops_its_step_only)
{
	uint32_t id = fx_define(ONE_STEP, T0);
	fx_track("c1", "ADD_TO_CART", NULL, T0);
	fx_track("c2", "ADD_TO_CART", NULL, T0);
	fx_track("c3", "ADD_TO_CART", NULL, T0);
	/* Taken before c2 broke: the fire entry itself drops it. */
	Clm__V1__JourneyFire *f = fx_due(T0 + HOUR);
	cr_assert_eq(f->n_items, 3);
	fx_corrupt("c2");
	fx_fire_entry(f, T0 + HOUR);
	cr_assert_eq(F.n_msgs, 2);
	cr_assert_eq(fx_first_due(), 0);
	fx_assert_stats(id, 1, 3, 1, 0, 2);
}

Test(journey_fix, a_record_that_does_not_decode_is_not_collected)
{
	fx_define(ONE_STEP, T0);
	fx_track("c1", "ADD_TO_CART", NULL, T0);
	fx_track("c2", "ADD_TO_CART", NULL, T0);
	fx_corrupt("c1");
	cr_assert_eq(fx_fire(T0 + HOUR), 1);
	cr_assert_eq(fx_first_due(), 0);
	cr_assert_eq(fx_due(T0 + 2 * HOUR)->n_items, 0);
}
