#include "write/writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/agg_write.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"

/* How often the idle writer clears stale LMDB reader slots. */
#define WRITER_READER_CHECK_S 60

struct writer {
	store *st;
	writer_publish_fn publish;
	void *publish_arg;
	struct telemetry *tm;    /* the server's; never NULL */
	struct telemetry own_tm; /* tm when the caller gave none */
	size_t queue_max, batch_max, batch_items_max;
	pthread_t thread;
	arena scratch; /* the writer thread's (writer_batch.scratch) */
	struct agg_visits *visits; /* writer_batch.visits */
	int64_t last_now_ms;       /* the last batch's writer_batch.now_ms */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	writer_job *head, *tail; /* guarded by mu */
	size_t depth;            /* guarded by mu */
	bool stopping;           /* guarded by mu */
};

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

/*
 * Applies the batch once at now_ms; on failure the transaction is already
 * gone.
 */
static clm_err
writer_try(writer *w, writer_job **jobs, size_t n, int64_t now_ms)
{
	store_txn *txn;
	clm_err e = store_write_begin(w->st, &txn);
	if (e != CLM_OK) {
		return e;
	}
	struct writer_batch b = { .txn = txn,
		.now_ms = now_ms,
		.scratch = &w->scratch,
		.visits = w->visits };
	agg_visits_clear(w->visits); /* left by an aborted attempt */
	for (size_t i = 0; i < n && e == CLM_OK; i++) {
		jobs[i]->n_events = 0;
		e = jobs[i]->apply(&b, jobs[i]);
	}
	/* The transaction's visitors go into their sketches once, here. */
	if (e == CLM_OK) {
		e = agg_visits_fold(txn, w->visits);
	}
	if (e != CLM_OK) {
		store_write_abort(txn);
		return e;
	}
	/* Events are numbered in the transaction, so seq survives restarts. */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < jobs[i]->n_events; k++) {
			jobs[i]->events[k]->seq = store_next_event_seq(txn);
		}
	}
	return store_write_commit(txn);
}

static void
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
	clm_err e = writer_try(w, jobs, live, now_ms);
	while (e == CLM_RESOURCE_EXHAUSTED && store_map_full(w->st)) {
		if (store_grow(w->st) != CLM_OK) {
			break; /* at max_db_bytes: RESOURCE_EXHAUSTED */
		}
		e = writer_try(w, jobs, live, now_ms);
	}
	if (e == CLM_OK && w->publish != NULL) {
		for (size_t i = 0; i < live; i++) {
			for (size_t k = 0; k < jobs[i]->n_events; k++) {
				w->publish(w->publish_arg, jobs[i]->events[k]);
			}
		}
	}
	bool disk_full = e == CLM_RESOURCE_EXHAUSTED && store_disk_full(w->st);
	for (size_t i = 0; i < live; i++) {
		jobs[i]->err = e;
		jobs[i]->disk_full = disk_full;
		if (e != CLM_OK) {
			jobs[i]->n_events = 0;
		}
		jobs[i]->done(jobs[i]);
	}
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
		while (w->head == NULL && !w->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += WRITER_READER_CHECK_S;
			if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0) {
				break;
			}
		}
		if (w->head == NULL && w->stopping) {
			pthread_mutex_unlock(&w->mu);
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

clm_err
writer_start(store *st, const struct writer_opts *o, writer **out)
{
	writer *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->visits = agg_visits_new()) == NULL) {
		free(w);
		return CLM_RESOURCE_EXHAUSTED;
	}
	w->st = st;
	w->publish = o->publish;
	w->publish_arg = o->publish_arg;
	w->tm = o->telemetry;
	if (w->tm == NULL) {
		telemetry_init(&w->own_tm);
		w->tm = &w->own_tm;
	}
	w->queue_max = o->queue_max;
	w->batch_max = o->batch_max;
	w->batch_items_max
	        = o->batch_items_max == 0 ? SIZE_MAX : o->batch_items_max;
	arena_init(&w->scratch);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		agg_visits_free(w->visits);
		free(w);
		return CLM_INTERNAL;
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
	pthread_mutex_lock(&w->mu);
	size_t d = w->depth;
	pthread_mutex_unlock(&w->mu);
	return d;
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
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	arena_fini(&w->scratch);
	agg_visits_free(w->visits);
	free(w);
}
