#include "write/writer_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal/journal.h"
#include "store/agg_write.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "util/thread.h"
#include "write/ingest.h"
#include "write/journey.h"
#include "write/segment.h"

void
writer_job_init(writer_job *job, arena *a, Clm__V1__Response *resp,
        writer_done_fn done, void *done_arg)
{
	*job = (writer_job) { .done = done,
		.done_arg = done_arg,
		.arena = a,
		.resp = resp,
		.items = 1 };
}

Clm__V1__LifecycleEvent *
writer_job_event(writer_job *job)
{
	Clm__V1__LifecycleEvent **ev = arena_grow(job->arena, job->events,
	        job->n_events, &job->cap_events, sizeof(*ev));
	if (ev == NULL) {
		return NULL;
	}
	job->events = ev;
	Clm__V1__LifecycleEvent *e = arena_alloc(job->arena, sizeof(*e));
	if (e == NULL) {
		return NULL;
	}
	clm__v1__lifecycle_event__init(e);
	job->events[job->n_events++] = e;
	return e;
}

/* What a failed transaction may have loaded is loaded again. */
static void
writer_invalidate(writer *w)
{
	segw_invalidate(w->segs);
	jw_invalidate(w->jny);
}

/*
 * Applies jobs in a new write transaction, each at its instant (nows[i],
 * or now_ms for all when nows is NULL), and numbers their events. On
 * success *out is the open transaction; on failure it is already gone.
 */
static clm_err
writer_apply(writer *w, writer_job **jobs, size_t n, const int64_t *nows,
        int64_t now_ms, store_txn **out)
{
	store_txn *txn;
	clm_err e = store_write_begin(w->st, &txn);
	if (e != CLM_OK) {
		return e;
	}
	struct writer_batch b = { .txn = txn,
		.now_ms = now_ms,
		.scratch = &w->scratch,
		.visits = w->visits,
		.segs = w->segs,
		.jny = w->jny };
	agg_visits_clear(w->visits); /* left by an aborted attempt */
	ingest_cache_drop(w->cache);
	for (size_t i = 0; i < n && e == CLM_OK; i++) {
		/* Tracks share the profile cache; anything else reads the
		 * store, so it gets what the cache holds first. */
		bool track = WRITER_TYPE_CALL(jobs[i]->jtype)
		        == CLM__V1__REQUEST__CALL_TRACK;
		if (!track && b.cache != NULL) {
			e = ingest_cache_flush(&b);
			if (e != CLM_OK) {
				break;
			}
		}
		b.cache = track ? w->cache : NULL;
		jobs[i]->n_events = 0;
		if (nows != NULL) {
			b.now_ms = nows[i];
		}
		e = jobs[i]->apply(&b, jobs[i]);
	}
	if (e == CLM_OK) {
		e = ingest_cache_flush(&b);
	}
	/*
	 * The transaction's visitors go into their sketches once, here,
	 * and its summed aggregate deltas into LMDB: before the journal,
	 * so that nothing journaled can still fail to apply.
	 */
	if (e == CLM_OK) {
		e = agg_visits_fold(txn, w->visits);
	}
	if (e == CLM_OK) {
		e = store_agg_flush(txn);
	}
	if (e != CLM_OK) {
		ingest_cache_drop(w->cache);
		writer_invalidate(w);
		store_write_abort(txn);
		return e;
	}
	/* Events are numbered in the transaction, so seq survives restarts. */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < jobs[i]->n_events; k++) {
			jobs[i]->events[k]->seq = store_next_event_seq(txn);
		}
	}
	*out = txn;
	return CLM_OK;
}

/*
 * Appends one entry per job (now_ms, 8 bytes little-endian, then the
 * job's payload) and commits them: durable once this returns CLM_OK.
 */
static clm_err
writer_journal(writer *w, writer_job **jobs, size_t n, int64_t now_ms,
        bool *disk_full)
{
	uint64_t bytes = 0;
	clm_err e = CLM_OK;
	for (size_t i = 0; i < n && e == CLM_OK; i++) {
		writer_job *job = jobs[i];
		if (job->jtype == 0) {
			log_error("writer: a write without a journal entry");
			e = CLM_INTERNAL;
			break;
		}
		unsigned char *buf = arena_alloc(&w->scratch, job->jlen + 8);
		if (buf == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
			break;
		}
		uint64_t t = (uint64_t) now_ms;
		for (int k = 0; k < 8; k++) {
			buf[k] = (unsigned char) (t >> (8 * k));
		}
		if (job->jlen > 0) {
			memcpy(buf + 8, job->jdata, job->jlen);
		}
		e = journal_append(
		        w->j, job->jtype, buf, job->jlen + 8, &job->position);
		bytes += job->jlen + 8;
	}
	arena_reset(&w->scratch);
	if (e != CLM_OK) {
		journal_abandon(w->j);
		return e;
	}
	char err[256];
	e = journal_commit(w->j, err, sizeof(err));
	if (e != CLM_OK) {
		*disk_full = e == CLM_RESOURCE_EXHAUSTED;
		log_error("journal: %s", err);
		return e;
	}
	telemetry_journal(w->tm, n, bytes, jobs[n - 1]->position);
	return CLM_OK;
}

/* Notes a ForgetCustomer among jobs, for the next checkpoint's purge. */
static void
writer_note_forgets(writer *w, writer_job **jobs, size_t n)
{
	for (size_t i = 0; i < n && w->j != NULL; i++) {
		if (jobs[i]->jtype == CLM__V1__REQUEST__CALL_FORGET_CUSTOMER) {
			w->purge = true;
			if (jobs[i]->position > w->purge_pos) {
				w->purge_pos = jobs[i]->position;
			}
		}
	}
}

/*
 * Commits txn, counting its time with the apply's: what a replay of the
 * batch would cost (writer_ckpt_interval_left; not the journal's sync).
 */
static clm_err
writer_commit(writer *w, store_txn *txn)
{
	int64_t t0 = clock_mono_ns();
	clm_err e = store_write_commit(txn);
	writer_applied(w, t0);
	return e;
}

/*
 * Applies, journals and commits the batch at now_ms; nows (replay: the
 * instant of each job, whose entries are journaled already) or NULL.
 */
clm_err
writer_try(writer *w, writer_job **jobs, size_t n, const int64_t *nows,
        int64_t now_ms, bool *disk_full)
{
	store_txn *txn = NULL;
	clm_err e;
	for (int attempt = 0;; attempt++) {
		int64_t t0 = clock_mono_ns();
		e = writer_apply(w, jobs, n, nows, now_ms, &txn);
		writer_applied(w, t0);
		if (e == CLM_OK && w->j == NULL) {
			/* No journal: durable; a stream's entry: in it. */
			e = writer_commit(w, txn);
			if (e == CLM_OK) {
				return CLM_OK;
			}
			writer_invalidate(w); /* loaded in what failed */
		}
		if (e != CLM_RESOURCE_EXHAUSTED) {
			break;
		}
		if (store_overlay_full(w->st) && attempt == 0) {
			e = writer_checkpoint(w);
		} else if (store_map_full(w->st) && w->j == NULL
		        && w->cl == NULL) {
			e = store_grow(w->st); /* at max_db_bytes: no */
		} else {
			*disk_full = store_disk_full(w->st);
			return CLM_RESOURCE_EXHAUSTED;
		}
		if (e != CLM_OK) {
			*disk_full = w->ckpt_disk_full;
			return e;
		}
	}
	if (e != CLM_OK) {
		*disk_full = store_disk_full(w->st);
		return e;
	}
	if (nows == NULL) {
		e = writer_journal(w, jobs, n, now_ms, disk_full);
		if (e != CLM_OK) {
			/*
			 * The segments' cache may hold what this transaction
			 * loaded or changed (a DefineSegment, a cursor).
			 */
			writer_invalidate(w);
			store_write_abort(txn);
			return e;
		}
	}
	e = writer_commit(w, txn);
	if (e == CLM_OK) {
		writer_note_forgets(w, jobs, n);
		return CLM_OK;
	}
	writer_invalidate(w);
	/*
	 * Journaled but not visible: the overlay's commit failed (its map
	 * filled at commit). Make room and apply it again; if that fails
	 * too, exit, and the restart replays it from the journal.
	 */
	if (writer_checkpoint(w) == CLM_OK
	        && writer_apply(w, jobs, n, nows, now_ms, &txn) == CLM_OK) {
		e = store_write_commit(txn);
	}
	if (e == CLM_OK) {
		writer_note_forgets(w, jobs, n);
	} else {
		writer_invalidate(w);
	}
	if (e != CLM_OK && nows != NULL) {
		return e; /* replay: start-up fails */
	}
	if (e != CLM_OK) {
		log_error(
		        "writer: cannot make journaled writes visible (%s): exiting, a restart replays them",
		        clm_strerror(e));
		_exit(70);
	}
	return CLM_OK;
}

void
writer_run_batch(writer *w, writer_job **jobs, size_t n)
{
	/* A job whose deadline passed while queued is not applied. */
	size_t live = 0;
	int64_t now = clock_mono_ns();
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->deadline_ns != 0 && now > jobs[i]->deadline_ns) {
			jobs[i]->err = CLM_DEADLINE_EXCEEDED;
			jobs[i]->done(jobs[i]);
		} else {
			jobs[live++] = jobs[i];
		}
	}
	if (live == 0) {
		return;
	}
	telemetry_batch(w->tm, live);
	/*
	 * One instant per batch, the same for a retry, and never before the
	 * last batch's even if the wall clock steps back: what a batch
	 * decides at its instant sees everything committed before it.
	 */
	int64_t now_ms = clock_now_ms();
	if (now_ms < w->last_now_ms) {
		now_ms = w->last_now_ms;
	}
	w->last_now_ms = now_ms;
	bool disk_full = false;
	clm_err e = CLM_OK;
	/* Admission: no write while the view cannot take the last ones. */
	if (w->j != NULL && w->ckpt_err != CLM_OK) {
		writer_maybe_checkpoint(w);
		e = w->ckpt_err;
		disk_full = w->ckpt_disk_full;
	}
	if (e == CLM_OK) {
		e = writer_try(w, jobs, live, NULL, now_ms, &disk_full);
	}
	if (e == CLM_OK && w->j != NULL) {
		__atomic_store_n(&w->position, jobs[live - 1]->position,
		        __ATOMIC_RELEASE);
		if (w->advanced != NULL) {
			w->advanced(w->advanced_arg, w->position);
		}
		if (w->dirty_since_ns == 0) {
			w->dirty_since_ns = now;
		}
	}
	if (e == CLM_OK && w->publish != NULL) {
		for (size_t i = 0; i < live; i++) {
			for (size_t k = 0; k < jobs[i]->n_events; k++) {
				w->publish(w->publish_arg, jobs[i]->events[k]);
			}
		}
	}
	for (size_t i = 0; i < live; i++) {
		jobs[i]->err = e;
		jobs[i]->disk_full = e == CLM_RESOURCE_EXHAUSTED && disk_full;
		if (e != CLM_OK) {
			jobs[i]->n_events = 0;
		}
		jobs[i]->done(jobs[i]);
	}
	writer_maybe_checkpoint(w);
}

uint64_t
writer_position(writer *w)
{
	return w == NULL ? 0 : __atomic_load_n(&w->position, __ATOMIC_ACQUIRE);
}

uint64_t
writer_stream_position(writer *w)
{
	return w == NULL || w->cl == NULL ? 0
	                                  : writer_cluster_stream_position(w);
}

bool
writer_refusal(writer *w, char *why, size_t len)
{
	return w != NULL && w->cl != NULL
	        && writer_cluster_refusal(w, why, len);
}

bool
writer_clustered(const writer *w)
{
	return w != NULL && w->cl != NULL;
}

static void *
writer_main(void *arg)
{
	writer *w = arg;
	writer_job **batch = calloc(w->batch_max, sizeof(*batch));
	if (batch == NULL) {
		log_error("writer: out of memory");
		abort();
	}
	int64_t next_check = clock_mono_ns()
	        + (int64_t) WRITER_READER_CHECK_S * 1000000000;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && !w->stopping && !w->ckpt_wake
		        && !w->ckpt_asked) {
			/* Idle: wake for the reader check or a checkpoint. */
			int64_t wait_ms = WRITER_READER_CHECK_S * 1000;
			if (w->ckpt_busy) {
				/* The checkpoint thread wakes us. */
			} else if (w->ckpt_err != CLM_OK) {
				int64_t due
				        = (w->ckpt_retry_ns - clock_mono_ns())
				        / 1000000;
				due = due < 0 ? 0 : due + 1;
				wait_ms = due < wait_ms ? due : wait_ms;
			} else if (w->dirty_since_ns == 0 && w->purge) {
				int64_t due
				        = (w->purge_retry_ns - clock_mono_ns())
				        / 1000000;
				due = due < 0 ? 0 : due + 1;
				wait_ms = due < wait_ms ? due : wait_ms;
			} else if (w->dirty_since_ns != 0) {
				int64_t due = writer_ckpt_interval_left(
				        w->ckpt_interval_ns,
				        clock_mono_ns() - w->dirty_since_ns,
				        w->apply_ns, w->purge);
				due = due < 0 ? 0 : due / 1000000 + 1;
				wait_ms = due < wait_ms ? due : wait_ms;
			}
			wait_ms = writer_segments_wait_ms(w, wait_ms);
			wait_ms = writer_journeys_wait_ms(w, wait_ms);
			wait_ms = writer_hooks_wait_ms(w, wait_ms);
			struct timespec ts = clock_deadline(wait_ms);
			if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0) {
				break;
			}
		}
		w->ckpt_wake = false;
		if (w->head == NULL && w->stopping) {
			pthread_mutex_unlock(&w->mu);
			/* The webhook outcomes reported before the stop. */
			writer_hooks(w);
			/* A clean stop leaves no journal to replay. */
			writer_ckpt_end(w);
			if (w->dirty_since_ns != 0
			        || store_ckpt_frozen(w->st)) {
				(void) writer_checkpoint(w);
			} else if (w->purge && w->ckpt_err == CLM_OK) {
				writer_purge(w);
			}
			break;
		}
		size_t n = 0, items = 0;
		while (w->head != NULL && n < w->batch_max
		        && (n == 0
		                || (items < w->batch_items_max
		                        && w->head->items <= w->batch_items_max
		                                        - items))) {
			items += w->head->items;
			batch[n++] = w->head;
			w->head = w->head->next;
			w->depth--;
		}
		if (w->head == NULL) {
			w->tail = NULL;
		}
		telemetry_queue_depth(w->tm, w->depth);
		pthread_mutex_unlock(&w->mu);

		if (n > 0) {
			writer_run_batch(w, batch, n);
		} else {
			writer_maybe_checkpoint(w);
		}
		writer_segments(w, n == 0);
		writer_journeys(w, n == 0);
		if (w->hooks != NULL) {
			writer_hooks(w);
		}
		int64_t now = clock_mono_ns();
		if (now >= next_check) {
			store_reader_check(w->st);
			next_check = now
			        + (int64_t) WRITER_READER_CHECK_S * 1000000000;
		}
	}
	free(batch);
	return NULL;
}

/* Start-up replay (writer_replay): jobs rebuilt, not yet applied. */
#define WRITER_REPLAY_JOBS 1024

struct writer_replay {
	writer *w;
	arena a; /* the pending jobs', reset after each batch */
	writer_job *jobs[WRITER_REPLAY_JOBS];
	int64_t nows[WRITER_REPLAY_JOBS];
	size_t n, items;
	uint64_t entries;
	clm_err err;
	char *msg;
	size_t msglen;
};

/* Applies the pending replayed jobs as one transaction. */
static clm_err
writer_replay_flush(struct writer_replay *r)
{
	if (r->n == 0) {
		return CLM_OK;
	}
	writer *w = r->w;
	bool disk_full = false;
	clm_err e = writer_try(w, r->jobs, r->n, r->nows, 0, &disk_full);
	if (e == CLM_OK) {
		__atomic_store_n(&w->position, r->jobs[r->n - 1]->position,
		        __ATOMIC_RELEASE);
		if (w->advanced != NULL) {
			w->advanced(w->advanced_arg, w->position);
		}
		w->last_now_ms = r->nows[r->n - 1] > w->last_now_ms
		        ? r->nows[r->n - 1]
		        : w->last_now_ms;
		if (w->dirty_since_ns == 0) {
			w->dirty_since_ns = clock_mono_ns();
		}
		/*
		 * A checkpoint that fails here refuses writes once clmd
		 * serves, as it would live; start-up goes on.
		 */
		if (writer_ckpt_due(w)) {
			(void) writer_checkpoint(w);
		}
	}
	if (e != CLM_OK && w->ckpt_err != CLM_OK) {
		snprintf(r->msg, r->msglen,
		        "cannot apply journal entries %llu..%llu: the overlay is full and the checkpoint that would empty it failed (%s): free disk space or raise max_db_bytes",
		        (unsigned long long) r->jobs[0]->position,
		        (unsigned long long) r->jobs[r->n - 1]->position,
		        clm_strerror(w->ckpt_err));
	} else if (e != CLM_OK) {
		snprintf(r->msg, r->msglen,
		        "cannot apply journal entries %llu..%llu: %s",
		        (unsigned long long) r->jobs[0]->position,
		        (unsigned long long) r->jobs[r->n - 1]->position,
		        clm_strerror(e));
	}
	r->n = 0;
	r->items = 0;
	arena_reset(&r->a);
	return e;
}

/*
 * Rebuilds the job of entry je in r's arena (*now: its instant). Returns
 * NULL with r->err and r->msg set when it cannot.
 */
static writer_job *
writer_replay_build(
        struct writer_replay *r, const struct journal_entry *je, int64_t *now)
{
	writer *w = r->w;
	if (je->len < 8) {
		r->err = CLM_DATA_LOSS;
		snprintf(r->msg, r->msglen,
		        "journal entry %llu is %zu bytes, too short",
		        (unsigned long long) je->position, je->len);
		return NULL;
	}
	writer_job *job = arena_zalloc(&r->a, sizeof(*job));
	Clm__V1__Response *resp = arena_alloc(&r->a, sizeof(*resp));
	if (job == NULL || resp == NULL) {
		r->err = CLM_RESOURCE_EXHAUSTED;
		snprintf(r->msg, r->msglen, "out of memory in replay");
		return NULL;
	}
	clm__v1__response__init(resp);
	writer_job_init(job, &r->a, resp, NULL, NULL);
	const unsigned char *p = je->data;
	uint64_t t = 0;
	for (int k = 7; k >= 0; k--) {
		t = (t << 8) | p[k];
	}
	*now = (int64_t) t;
	r->err = w->replay(
	        w->replay_arg, job, je->type, p + 8, je->len - 8, *now);
	if (r->err != CLM_OK) {
		snprintf(r->msg, r->msglen,
		        "journal entry %llu (type %u) cannot be replayed: %s",
		        (unsigned long long) je->position, je->type,
		        clm_strerror(r->err));
		return NULL;
	}
	job->position = je->position;
	job->jtype = je->type; /* writer_note_forgets reads it */
	return job;
}

/* journal_read's callback: one entry rebuilt into a pending job. */
static int
writer_replay_entry(void *arg, const struct journal_entry *je)
{
	struct writer_replay *r = arg;
	writer *w = r->w;
	int64_t now;
	writer_job *job = writer_replay_build(r, je, &now);
	if (job == NULL) {
		return 1;
	}
	/*
	 * Transactions as the live writer makes them (writer_main): when
	 * this one does not fit, apply the pending ones, which frees the
	 * arena, and build it again.
	 */
	if (r->n > 0 && job->items > w->batch_items_max - r->items) {
		r->err = writer_replay_flush(r);
		if (r->err != CLM_OK
		        || (job = writer_replay_build(r, je, &now)) == NULL) {
			return 1;
		}
	}
	r->jobs[r->n] = job;
	r->nows[r->n] = now;
	r->n++;
	r->items += job->items;
	r->entries++;
	if (r->n == WRITER_REPLAY_JOBS || r->n == w->batch_max
	        || r->items >= w->batch_items_max) {
		r->err = writer_replay_flush(r);
		if (r->err != CLM_OK) {
			return 1;
		}
	}
	return 0;
}

/* Replays the journal past the store's position (writer_start). */
static clm_err
writer_replay(writer *w, char *err, size_t errlen)
{
	struct writer_replay *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	r->w = w;
	r->msg = err;
	r->msglen = errlen;
	arena_init(&r->a);
	int64_t t0 = clock_mono_ns();
	uint64_t from = store_position(w->st) + 1;
	w->position = from - 1;
	w->replaying = true;
	clm_err e = journal_read(
	        w->j, from, writer_replay_entry, r, err, errlen);
	if (e == CLM_OK) {
		e = r->err;
	}
	if (e == CLM_OK) {
		e = writer_replay_flush(r);
	}
	w->replaying = false;
	/*
	 * Purge the journal behind the replay: a ForgetCustomer
	 * acknowledged before a crash may sit in entries the base already
	 * had (the checkpoint came, the purge after it did not), and
	 * nothing else would tell. What was replayed is checkpointed in
	 * the background once the checkpoint thread runs (writer_start),
	 * while clmd serves; that checkpoint purges. With nothing replayed
	 * the base covers the whole journal, and the purge is done now.
	 */
	w->purge = true;
	w->purge_pos = w->position;
	if (e == CLM_OK && r->entries == 0) {
		writer_purge(w);
	}
	int64_t ns = clock_mono_ns() - t0;
	if (e == CLM_OK && r->entries > 0) {
		log_info(
		        "replayed %llu journal entries (positions %llu..%llu) in %lld ms",
		        (unsigned long long) r->entries,
		        (unsigned long long) from,
		        (unsigned long long) (from + r->entries - 1),
		        (long long) (ns / 1000000));
	}
	telemetry_replay(w->tm, r->entries, ns);
	arena_fini(&r->a);
	free(r);
	return e;
}

clm_err
writer_start(store *st, const struct writer_opts *o, writer **out, char *err,
        size_t errlen)
{
	clm_err e = CLM_OK;
	writer *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->visits = agg_visits_new()) == NULL
	        || (w->cache = ingest_cache_new()) == NULL) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	w->j = o->journal;
	w->replay = o->replay;
	w->replay_arg = o->replay_arg;
	w->ckpt_auto = o->checkpoint_bytes == 0;
	w->ckpt_bytes = o->checkpoint_bytes;
	if (w->ckpt_auto) {
		/* The size main.c opened the overlays for. */
		w->ckpt_az.bytes
		        = writer_ckpt_auto_bytes(store_view_bytes(st));
	}
	w->ckpt_interval_ns = o->checkpoint_interval_auto
	        ? 0
	        : (o->checkpoint_interval_ms != 0 ? o->checkpoint_interval_ms
	                                          : 10000)
	                * 1000000;
	w->st = st;
	w->publish = o->publish;
	w->publish_arg = o->publish_arg;
	w->advanced = o->advanced;
	w->advanced_arg = o->advanced_arg;
	w->tm = o->telemetry;
	if (w->tm == NULL) {
		telemetry_init(&w->own_tm);
		w->tm = &w->own_tm;
	}
	telemetry_checkpoint_bytes(
	        w->tm, w->ckpt_auto ? w->ckpt_az.bytes : w->ckpt_bytes);
	w->queue_max = o->queue_max;
	w->batch_max = o->batch_max;
	w->batch_items_max
	        = o->batch_items_max == 0 ? SIZE_MAX : o->batch_items_max;
	arena_init(&w->scratch);
	arena_init(&w->seg_arena);
	arena_init(&w->jny_arena);
	if (o->segment_params != NULL
	        && (w->segs = segw_new(o->segment_params)) == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
		snprintf(err, errlen, "out of memory");
	}
	/* Journeys run with segments: their triggers and conditions. */
	if (e == CLM_OK && w->segs != NULL && o->fire_job != NULL) {
		w->fire_job = o->fire_job;
		w->fire_arg = o->fire_arg;
		w->feed_max = o->feed_max != 0 ? o->feed_max : 1000000;
		if ((w->jny = jw_new(o->segment_params)) == NULL
		        || (w->hooks = writer_hooks_new()) == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
			snprintf(err, errlen, "out of memory");
		}
	}
	pthread_mutex_init(&w->mu, NULL);
	clock_cond_init(&w->cv);
	if (e == CLM_OK && w->j != NULL) {
		e = w->replay != NULL ? writer_replay(w, err, errlen)
		                      : CLM_INTERNAL;
	}
	if (e == CLM_OK && w->j != NULL
	        && (e = writer_segments_settle(w)) != CLM_OK) {
		snprintf(err, errlen,
		        "cannot finish the segments' backfills: %s",
		        clm_strerror(e));
	}
	if (e == CLM_OK && (w->j != NULL || o->stream != NULL)
	        && writer_ckpt_begin(w) != 0) {
		snprintf(err, errlen, "cannot start the checkpoint thread");
		e = CLM_INTERNAL;
	}
	/* What the replay applied: checkpointed in the background, so that
	 * a crash from then on replays none of it. */
	if (e == CLM_OK && w->j != NULL && w->dirty_since_ns != 0) {
		writer_ckpt_start(w);
	}
	if (e == CLM_OK && o->stream != NULL) {
		e = writer_cluster_start(w, o, err, errlen);
		if (e == CLM_OK && (e = writer_segments_settle(w)) != CLM_OK) {
			snprintf(err, errlen,
			        "cannot finish the segments' backfills: %s",
			        clm_strerror(e));
		}
		if (e != CLM_OK) {
			writer_ckpt_end(w);
		}
	}
	if (e == CLM_OK
	        && thread_start(&w->thread,
	                   w->cl != NULL ? writer_cluster_main : writer_main,
	                   w, "clm:writer")
	                != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		writer_ckpt_end(w);
		e = CLM_INTERNAL;
	}
	if (e != CLM_OK) {
		writer_cluster_free(w);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		arena_fini(&w->scratch);
		arena_fini(&w->seg_arena);
		arena_fini(&w->jny_arena);
		segw_free(w->segs);
		jw_free(w->jny);
		writer_hooks_free(w->hooks);
		agg_visits_free(w->visits);
		ingest_cache_free(w->cache);
		free(w);
		return e;
	}
	*out = w;
	return CLM_OK;
}

clm_err
writer_submit(writer *w, writer_job *job)
{
	job->next = NULL;
	job->err = CLM_OK;
	job->disk_full = false;
	/* The events array lives in the request's arena: never reuse it. */
	job->events = NULL;
	job->n_events = 0;
	job->cap_events = 0;
	if (w->cl != NULL) {
		return writer_cluster_submit(w, job);
	}
	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->depth >= w->queue_max) {
		pthread_mutex_unlock(&w->mu);
		return CLM_UNAVAILABLE;
	}
	if (w->tail != NULL) {
		w->tail->next = job;
	} else {
		w->head = job;
	}
	w->tail = job;
	w->depth++;
	telemetry_queue_depth(w->tm, w->depth);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return CLM_OK;
}

size_t
writer_queue_depth(writer *w)
{
	if (w->cl != NULL) {
		return writer_cluster_depth(w);
	}
	pthread_mutex_lock(&w->mu);
	size_t d = w->depth;
	pthread_mutex_unlock(&w->mu);
	return d;
}

void
writer_checkpoint_soon(writer *w)
{
	if (w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->ckpt_asked = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
writer_stop(writer *w)
{
	if (w == NULL) {
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
}

void
writer_free(writer *w)
{
	if (w == NULL) {
		return;
	}
	writer_cluster_free(w);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	arena_fini(&w->scratch);
	arena_fini(&w->seg_arena);
	arena_fini(&w->jny_arena);
	segw_free(w->segs);
	jw_free(w->jny);
	writer_hooks_free(w->hooks);
	agg_visits_free(w->visits);
	ingest_cache_free(w->cache);
	free(w);
}
