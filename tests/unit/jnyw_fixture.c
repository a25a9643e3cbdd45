/* The journeys' writer-level unit test fixture (jnyw_fixture.h). */
#include "jnyw_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "core/journey.h"
#include "store/agg_write.h"
#include "store/journey.h"
#include "testdir.h"
#include "write/ingest.h"
#include "write/journey.h"
#include "write/segment.h"
#include "write_fixture.h"

struct jfx F;

void
jfx_init(const char *tag)
{
	memset(&F, 0, sizeof(F));
	testdir_make(F.dir, sizeof(F.dir), tag);
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

void
jfx_fini(void)
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
clm_err
jfx_try(writer_job *job, int64_t now_ms, store_txn *txn)
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
void
jfx_apply(writer_job *job, int64_t now_ms)
{
	store_txn *txn;
	clm_err e;
	for (int attempt = 0;; attempt++) {
		cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
		e = jfx_try(job, now_ms, txn);
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
void
jfx_write(const char *json, int64_t now_ms)
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
	jfx_apply(&r->job, now_ms);
}

/* Tracks one touchpoint of customer at at_ms, applied at at_ms. */
void
jfx_track(const char *customer, const char *type, const char *item,
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
	jfx_write(json, at_ms);
}

/* Defines (or redefines) the journey of json as DefineJourney applies. */
uint32_t
jfx_define(const char *json, int64_t now_ms)
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

/* Deletes the journey called name as DeleteJourney applies. */
void
jfx_delete(const char *name, uint32_t id)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	cr_assert_eq(store_journey_del(txn, name), CLM_OK);
	bool left = true;
	while (left) {
		cr_assert_eq(store_jstats_drop(txn, id, 1000, &left), CLM_OK);
	}
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	jw_invalidate(F.jny);
}

/* The due timers at now_ms as the writer takes them (all of them). */
Clm__V1__JourneyFire *
jfx_due(int64_t now_ms)
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
void
jfx_fire_entry(const Clm__V1__JourneyFire *f, int64_t now_ms)
{
	writer_job *job = arena_zalloc(&F.a, sizeof(*job));
	Clm__V1__Response *resp = arena_alloc(&F.a, sizeof(*resp));
	cr_assert(job && resp);
	clm__v1__response__init(resp);
	writer_job_init(job, &F.a, resp, NULL, NULL);
	cr_assert_eq(journey_fire_job(&F.srv, job, f), CLM_OK);
	cr_assert_eq(job->jtype, CALL_ENTRY_JOURNEY_FIRE);
	jfx_apply(job, now_ms);
}

/* Fires what is due at now_ms; returns how many messages it sent. */
size_t
jfx_fire(int64_t now_ms)
{
	size_t before = F.n_msgs;
	Clm__V1__JourneyFire *f = jfx_due(now_ms);
	if (f->n_items > 0) {
		jfx_fire_entry(f, now_ms);
	}
	return F.n_msgs - before;
}

Clm__V1__JourneyStats *
jfx_stats(uint32_t id, size_t n_steps)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	Clm__V1__JourneyStats *s;
	cr_assert_eq(store_jstats_get(txn, id, n_steps, &F.a, &s), CLM_OK);
	store_write_abort(txn);
	return s;
}

/* The earliest timer (0: none). */
int64_t
jfx_first_due(void)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	int64_t due = 0;
	bool found;
	cr_assert_eq(store_jdue_first(txn, &due, &found), CLM_OK);
	store_write_abort(txn);
	return found ? due : 0;
}

bool
jfx_event_exists(const char *event_id)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(F.st, &txn), CLM_OK);
	clm_err e = store_event_exists(txn, event_id);
	store_write_abort(txn);
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND);
	return e == CLM_OK;
}

Clm__V1__JourneyState *
jfx_state(const char *customer, uint32_t id)
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

void
jfx_assert_stats(uint32_t id, size_t n_steps, uint64_t entered,
        uint64_t active, uint64_t exited, uint64_t completed)
{
	Clm__V1__JourneyStats *s = jfx_stats(id, n_steps);
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
void
jfx_seg_steps(int64_t now_ms)
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
