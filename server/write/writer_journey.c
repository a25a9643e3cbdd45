/*
 * The writer's journeys between batches (write/journey.h,
 * docs/journeys.md "How steps run"): due timers become fire jobs, which
 * the writer journals, applies, commits and publishes like a batch of one
 * write; and the feed is trimmed to feed_max.
 *
 * In cluster mode a fire job goes through the stream like any write
 * (writer_cluster_submit, from this thread): every node applies it, and
 * jw_fire's idempotence makes a step run once whichever node fired it and
 * however many did. One fire job of this node is in flight at a time.
 *
 * The trim's transactions have no journal entry, like the segments'
 * background steps (writer_segment.c): after a crash the feed is simply
 * over feed_max until the next trim.
 */
#include "write/writer_internal.h"

#include <stdlib.h>

#include "store/journey.h"
#include "util/clock.h"
#include "util/log.h"
#include "write/journey.h"
#include "write/writer_cluster.h"

/* Due timers per fire job, and fire jobs per call while nothing waits. */
#define WRITER_JNY_ITEMS 1000
#define WRITER_JNY_JOBS  64

/* Feed messages deleted per trim transaction, and transactions a second. */
#define WRITER_JNY_TRIM  4096
#define WRITER_JNY_TRIMS 16

/* The fire job's done: its fate is in job->err. */
static void
writer_jny_done(writer_job *job)
{
	(void) job;
}

/* A fire job submitted to the stream, with what it lives in. */
struct writer_jny_flight {
	writer_job job;
	Clm__V1__Response resp;
	arena a;
	writer *w;
};

/* The stream's fire job completed (writer thread): look again. */
static void
writer_jny_landed(writer_job *job)
{
	struct writer_jny_flight *fl = job->done_arg;
	writer *w = fl->w;
	if (job->err != CLM_OK) {
		log_warn("journeys: due steps not run (%s); retried",
		        clm_strerror(job->err));
	}
	w->jny_inflight = false;
	w->jny_next_ms = 0;
	arena_fini(&fl->a);
	free(fl);
}

/*
 * Cluster mode: publishes f (in w->jny_arena) as a fire job of its own
 * arena; false when it could not.
 */
static bool
writer_jny_submit(writer *w, const Clm__V1__JourneyFire *f)
{
	struct writer_jny_flight *fl = calloc(1, sizeof(*fl));
	if (fl == NULL) {
		return false;
	}
	arena_init(&fl->a);
	fl->w = w;
	clm__v1__response__init(&fl->resp);
	writer_job_init(&fl->job, &fl->a, &fl->resp, writer_jny_landed, fl);
	clm_err e = w->fire_job(w->fire_arg, &fl->job, f);
	if (e == CLM_OK) {
		w->jny_inflight = true;
		e = writer_submit(w, &fl->job);
	}
	if (e != CLM_OK) {
		w->jny_inflight = false;
		log_warn("journeys: cannot publish the due steps (%s)",
		        clm_strerror(e));
		arena_fini(&fl->a);
		free(fl);
		return false;
	}
	return true;
}

/* Whether writes wait (the writer must get back to them). */
static bool
writer_jny_queued(writer *w)
{
	pthread_mutex_lock(&w->mu);
	bool queued = w->head != NULL || w->stopping;
	pthread_mutex_unlock(&w->mu);
	return queued;
}

/* The writer's instant now, never before the last batch's. */
static int64_t
writer_jny_now(writer *w)
{
	int64_t now_ms = clock_now_ms();
	return now_ms < w->last_now_ms ? w->last_now_ms : now_ms;
}

/* Reads the earliest timer into w->jny_next_ms (INT64_MAX: none). */
static void
writer_jny_look(writer *w)
{
	store_txn *txn;
	if (store_write_begin(w->st, &txn) != CLM_OK) {
		return;
	}
	int64_t due = 0;
	bool found = false;
	clm_err e = store_jdue_first(txn, &due, &found);
	store_write_abort(txn);
	if (e == CLM_OK) {
		w->jny_next_ms = found ? due : INT64_MAX;
	}
	w->jny_last_ns = clock_mono_ns();
}

/*
 * Takes up to WRITER_JNY_ITEMS due timers and runs them as one job;
 * false when there were none or it failed.
 */
static bool
writer_jny_fire(writer *w, int64_t now_ms)
{
	arena_reset(&w->jny_arena);
	store_txn *txn;
	if (store_write_begin(w->st, &txn) != CLM_OK) {
		return false;
	}
	Clm__V1__JourneyFire *f = NULL;
	bool more = false;
	clm_err e = jw_due(w->jny, txn, now_ms, WRITER_JNY_ITEMS,
	        &w->jny_arena, &f, &more);
	store_write_abort(txn);
	if (e != CLM_OK) {
		jw_invalidate(w->jny);
		log_warn("journeys: cannot read the due timers (%s)",
		        clm_strerror(e));
		w->jny_next_ms = now_ms + 1000;
		w->jny_last_ns = clock_mono_ns();
		return false;
	}
	if (f->n_items == 0) {
		w->jny_more = false;
		w->jny_next_ms = 0; /* look again */
		return false;
	}
	if (w->cl != NULL) {
		bool ok = writer_jny_submit(w, f);
		w->jny_more = false;
		w->jny_next_ms = ok ? 0 : now_ms + 1000;
		w->jny_last_ns = clock_mono_ns();
		return false; /* one at a time: the next after it landed */
	}
	Clm__V1__Response *resp = arena_alloc(&w->jny_arena, sizeof(*resp));
	writer_job *job = arena_alloc(&w->jny_arena, sizeof(*job));
	if (resp == NULL || job == NULL) {
		w->jny_next_ms = now_ms + 1000;
		w->jny_last_ns = clock_mono_ns();
		return false;
	}
	clm__v1__response__init(resp);
	writer_job_init(job, &w->jny_arena, resp, writer_jny_done, NULL);
	e = w->fire_job(w->fire_arg, job, f);
	if (e != CLM_OK) {
		log_warn("journeys: cannot make the fire job (%s)",
		        clm_strerror(e));
		w->jny_next_ms = now_ms + 1000;
		w->jny_last_ns = clock_mono_ns();
		return false;
	}
	writer_run_batch(w, &job, 1);
	if (job->err != CLM_OK) {
		log_warn(
		        "journeys: running %zu due steps failed (%s); retrying within a second",
		        f->n_items, clm_strerror(job->err));
		w->jny_more = false;
		w->jny_next_ms = now_ms + 1000;
		w->jny_last_ns = clock_mono_ns();
		return false;
	}
	w->jny_more = more;
	w->jny_next_ms = more ? now_ms : 0;
	return true;
}

/* One chunk of the feed's trim, unjournaled; false: nothing left. */
static bool
writer_jny_trim(writer *w)
{
	store_txn *txn;
	if (store_write_begin(w->st, &txn) != CLM_OK) {
		return false;
	}
	uint64_t oldest = 0, last = 0;
	bool more = false;
	clm_err e = store_jmsg_bounds(txn, &oldest, &last);
	if (e != CLM_OK || oldest == 0 || last - oldest + 1 <= w->feed_max) {
		store_write_abort(txn);
		return false;
	}
	e = store_jmsgs_trim(txn, w->feed_max, WRITER_JNY_TRIM, &more);
	if (e == CLM_OK) {
		e = store_write_commit(txn);
	} else {
		store_write_abort(txn);
	}
	if (e != CLM_OK) {
		if (e == CLM_RESOURCE_EXHAUSTED && store_overlay_full(w->st)) {
			(void) writer_checkpoint(w);
		}
		return false;
	}
	if (w->j != NULL && w->dirty_since_ns == 0) {
		w->dirty_since_ns = clock_mono_ns();
	}
	return more;
}

void
writer_journeys(writer *w, bool idle)
{
	if (w->jny == NULL || w->ckpt_err != CLM_OK) {
		return;
	}
	int64_t t = jw_take_next(w->jny);
	if (w->jny_next_ms != 0 && t < w->jny_next_ms) {
		w->jny_next_ms = t;
	}
	/* Once a second at least, the store's earliest timer. */
	int64_t mono = clock_mono_ns();
	if (w->jny_next_ms == 0 || mono - w->jny_last_ns >= 1000000000) {
		writer_jny_look(w);
		int most = idle ? 4 * WRITER_JNY_TRIMS : WRITER_JNY_TRIMS;
		for (int i = 0; i < most && writer_jny_trim(w)
		        && !writer_jny_queued(w);
		        i++) {
		}
	}
	if (w->fire_job == NULL || w->jny_inflight) {
		return;
	}
	for (int i = 0; i < WRITER_JNY_JOBS; i++) {
		int64_t now_ms = writer_jny_now(w);
		if (w->jny_next_ms == 0 || w->jny_next_ms > now_ms) {
			return;
		}
		if (!writer_jny_fire(w, now_ms)) {
			return;
		}
		if (w->jny_next_ms == 0) {
			writer_jny_look(w);
		}
		if (writer_jny_queued(w)) {
			return; /* writes first; the timers go on after them */
		}
	}
}

int64_t
writer_journeys_wait_ms(writer *w, int64_t wait_ms)
{
	if (w->jny == NULL) {
		return wait_ms;
	}
	int64_t most = 1000;
	if (w->jny_more || w->jny_next_ms == 0) {
		most = 0;
	} else if (w->jny_next_ms != INT64_MAX) {
		int64_t d = w->jny_next_ms - writer_jny_now(w);
		most = d < 0 ? 0 : d < most ? d + 1 : most;
	}
	return wait_ms < most ? wait_ms : most;
}
