/*
 * The writer's background work for segments (write/segment.h): what time
 * alone changes, backfills and dropped members, each in transactions of
 * its own between batches.
 *
 * Such a transaction has no journal entry: it holds derived state, which
 * the journal's writes and the clock determine. It goes into the overlay
 * like a batch and reaches the base with the next checkpoint. After a
 * crash the overlay is rebuilt from the journal without it, and the
 * base's time index, backfill cursors and members of dropped definitions
 * still show what is left to do, so the writer does it again: events of
 * time-driven changes may then be published twice (at least once).
 */
#include "write/writer_internal.h"

#include "util/clock.h"
#include "util/log.h"
#include "write/journey.h"
#include "write/segment.h"

/* Background steps per call while no write waits. */
#define WRITER_SEG_STEPS 64

/* One step in its own transaction; false when it failed or did nothing. */
static bool
writer_segment_step(writer *w)
{
	store_txn *txn;
	int64_t t0 = clock_mono_ns(); /* a crash would redo the step */
	if (store_write_begin(w->st, &txn) != CLM_OK) {
		return false;
	}
	/*
	 * The step's own instant, never before the last batch's or step's.
	 * It does not move w->last_now_ms, the batches' instant: in a
	 * cluster that is the clamp every node applies the stream's entries
	 * at, and a node's background work (its own clock, its own timing)
	 * must not shift it.
	 */
	int64_t now_ms = clock_now_ms();
	if (now_ms < w->last_now_ms) {
		now_ms = w->last_now_ms;
	}
	if (now_ms < w->seg_now_ms) {
		now_ms = w->seg_now_ms;
	}
	w->seg_now_ms = now_ms;
	arena_reset(&w->seg_arena);
	writer_job job;
	writer_job_init(&job, &w->seg_arena, NULL, NULL, NULL);
	struct writer_batch b = { .txn = txn,
		.now_ms = now_ms,
		.scratch = &w->scratch,
		.visits = w->visits,
		.segs = w->segs,
		.jny = w->jny };
	bool more = false, did = false;
	clm_err e = segw_step(w->segs, &b, &job, &more, &did);
	if (e == CLM_OK && did) {
		/* Time-driven segment entries enter journeys too. */
		e = jw_segment_entries(w->jny, &b, &job, 0);
	}
	w->seg_last_ns = clock_mono_ns();
	if (e == CLM_OK && !did) {
		store_write_abort(txn); /* nothing to commit */
		w->seg_more = false;
		return false;
	}
	if (e == CLM_OK) {
		for (size_t k = 0; k < job.n_events; k++) {
			job.events[k]->seq = store_next_event_seq(txn);
		}
		e = store_write_commit(txn);
	} else {
		store_write_abort(txn);
	}
	if (e != CLM_OK) {
		segw_invalidate(w->segs);
		jw_invalidate(w->jny);
		if (e == CLM_RESOURCE_EXHAUSTED && store_overlay_full(w->st)) {
			/* Room made: the work goes on at the next call. */
			w->seg_more = writer_checkpoint(w) == CLM_OK;
			return false;
		} else {
			log_warn(
			        "segments: background step failed (%s); retrying within a second",
			        clm_strerror(e));
		}
		w->seg_more = false;
		return false;
	}
	writer_applied(w, t0);
	if (w->j != NULL && w->dirty_since_ns == 0) {
		w->dirty_since_ns = clock_mono_ns();
	}
	if (segw_backfill_ended(w->segs)) {
		w->ckpt_soon = true; /* a crash now would start it over */
	}
	for (size_t k = 0; w->publish != NULL && k < job.n_events; k++) {
		w->publish(w->publish_arg, job.events[k]);
	}
	w->seg_more = more;
	return more;
}

void
writer_segments(writer *w, bool idle)
{
	if (w->segs == NULL || w->ckpt_err != CLM_OK) {
		return;
	}
	/* Between batches: once a second, or while work is left. */
	if (!idle && !w->seg_more
	        && clock_mono_ns() - w->seg_last_ns < 1000000000) {
		return;
	}
	for (int i = 0; i < WRITER_SEG_STEPS; i++) {
		if (!writer_segment_step(w)) {
			return;
		}
		pthread_mutex_lock(&w->mu);
		bool queued = w->head != NULL || w->stopping;
		pthread_mutex_unlock(&w->mu);
		if (queued) {
			return; /* writes first; the work goes on after them */
		}
	}
}

int64_t
writer_segments_wait_ms(writer *w, int64_t wait_ms)
{
	if (w->segs == NULL) {
		return wait_ms;
	}
	int64_t most = w->seg_more ? 0 : 1000;
	return wait_ms < most ? wait_ms : most;
}

/* Seconds between two progress lines of writer_segments_settle. */
#define WRITER_SETTLE_LOG_S 5

/* One chunk of the settle (*more: work left; *pg: where it stands). */
static clm_err
writer_settle_step(
        writer *w, int64_t now_ms, bool *more, struct segw_progress *pg)
{
	store_txn *txn;
	int64_t t0 = clock_mono_ns(); /* a crash would redo the step */
	clm_err e = store_write_begin(w->st, &txn);
	if (e != CLM_OK) {
		return e;
	}
	struct writer_batch b = { .txn = txn,
		.now_ms = now_ms,
		.scratch = &w->scratch,
		.visits = w->visits,
		.segs = w->segs };
	e = segw_backfill(w->segs, &b, more, pg);
	if (e == CLM_OK && !*more) {
		store_write_abort(txn); /* nothing to commit */
		return CLM_OK;
	}
	if (e == CLM_OK) {
		e = store_write_commit(txn);
	} else {
		store_write_abort(txn);
	}
	if (e != CLM_OK) {
		segw_invalidate(w->segs);
	} else {
		writer_applied(w, t0);
		if (w->dirty_since_ns == 0) {
			w->dirty_since_ns = clock_mono_ns();
		}
	}
	return e;
}

clm_err
writer_segments_settle(writer *w)
{
	if (w->segs == NULL) {
		return CLM_OK;
	}
	int64_t t0 = clock_mono_ns(), logged = t0;
	uint64_t steps = 0;
	int64_t now_ms = clock_now_ms();
	if (now_ms < w->last_now_ms) {
		now_ms = w->last_now_ms;
	}
	if (now_ms < w->seg_now_ms) {
		now_ms = w->seg_now_ms;
	}
	w->seg_now_ms = now_ms;
	bool more = true, retried = false;
	while (more) {
		struct segw_progress pg;
		clm_err e = writer_settle_step(w, now_ms, &more, &pg);
		if (e == CLM_RESOURCE_EXHAUSTED && store_overlay_full(w->st)
		        && !retried) {
			/* Room made, the chunk again (once: it must fit). */
			e = writer_checkpoint(w);
			retried = true;
			more = true;
			if (e != CLM_OK) {
				return e;
			}
			continue;
		}
		if (e != CLM_OK) {
			return e;
		}
		retried = false;
		if (!more) {
			break;
		}
		steps++;
		if (writer_ckpt_due(w)
		        && (e = writer_checkpoint(w)) != CLM_OK) {
			return e;
		}
		int64_t now = clock_mono_ns();
		if (pg.name[0] != '\0'
		        && now - logged
		                >= WRITER_SETTLE_LOG_S * 1000000000LL) {
			logged = now;
			log_info(
			        "segments: backfill of %s at %.0f%% (%llu of %llu customers) before serving, %lld s so far",
			        pg.name,
			        pg.total > 0 && pg.done < pg.total
			                ? 100.0 * (double) pg.done
			                        / (double) pg.total
			                : 99.0,
			        (unsigned long long) pg.done,
			        (unsigned long long) pg.total,
			        (long long) ((now - t0) / 1000000000));
		}
	}
	if (steps == 0) {
		return CLM_OK;
	}
	log_info("segments: backfills finished before serving in %lld ms",
	        (long long) ((clock_mono_ns() - t0) / 1000000));
	/* So that a crash after the start does not run them again. */
	if (writer_checkpoint(w) != CLM_OK) {
		log_warn(
		        "segments: the checkpoint after the backfills failed; retried later");
	}
	return CLM_OK;
}
