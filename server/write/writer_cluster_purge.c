/*
 * The purge thread of the writer's cluster mode (docs/cluster.md,
 * "Forget"): it erases a forgotten customer's entries from the stream,
 * off the writer thread.
 *
 * Why a thread: an erase is synced on every replica and each one needs
 * a next-by-subject lookup first (about 2.5 ms an entry), so a customer
 * with thousands of entries took seconds; on the writer thread that
 * stopped every write on every node, and the Forget's reply waited for
 * it. The writer now only queues the work (writer_cl_purge_add) once the
 * Forget's batch committed: the view forgets at once, the stream a
 * little later.
 *
 * Invariants:
 * - The thread works in slices of at most WRITER_CL_PURGE_SLICE erases
 *   and looks at purge_stop between them, so a stop waits for one slice
 *   at most.
 * - Every node queues every Forget's purge, but only the node that
 *   published it starts at once; the others wait purge_delay_ms (30 s),
 *   then look once whether anything is left below the Forget's position
 *   on that subject (one request: the first lookup of a slice) and are
 *   done when not. So the erases are not made N times, and a purge still
 *   happens when the publishing node died before it finished.
 * - Each purge is retried on its own, with its own backoff (1 s doubling
 *   to a minute): one that always fails (no erase permission) does not
 *   hold back the others. The thread takes the purge due first, and a
 *   purge that made progress is due again at once, after those already
 *   due: long purges take turns.
 * - One purge per subject key: a later Forget of the same id (or the
 *   same Forget applied again after a restart) raises its position; the
 *   thread, which works on a copy, then goes on rather than drop it.
 * - The thread uses the writer's jstream handle: jstream's calls that
 *   wait for the server may run on two threads at once (jstream.h). The
 *   writer stops this thread before it returns, so before jstream_close.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "journal/jstream.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/telemetry.h"
#include "util/thread.h"
#include "write/writer_cluster.h"
#include "write/writer_internal.h"

/* Erases in one slice at most: bounds how long a stop waits. */
#define WRITER_CL_PURGE_SLICE 256
/* Before other nodes' Forgets are purged here: their node does it. */
#define WRITER_CL_PURGE_DELAY_MS 30000
/* A failed purge waits this long, doubling up to the most. */
#define WRITER_CL_PURGE_BACKOFF_MS     1000
#define WRITER_CL_PURGE_BACKOFF_MAX_MS 60000

/* Initializes the purge list's mutex once (writer thread). */
static void
writer_cl_purge_init(struct writer_cluster *cl)
{
	if (!cl->purge_init) {
		pthread_mutex_init(&cl->purge_mu, NULL);
		pthread_cond_init(&cl->purge_cv, NULL);
		cl->purge_init = true;
	}
}

/*
 * Queues the purge of key below before, due at due (purge_mu not held):
 * one purge per key, with the latest Forget's position (a Forget applied
 * again after a restart finds its recorded purge queued already).
 */
static void
writer_cl_purge_queue(struct writer_cluster *cl, const char *key,
        uint64_t before, int64_t due)
{
	pthread_mutex_lock(&cl->purge_mu);
	for (struct writer_cl_purge *q = cl->purges; q != NULL; q = q->next) {
		if (strcmp(q->key, key) == 0) {
			if (before > q->before) {
				q->before = before;
			}
			pthread_mutex_unlock(&cl->purge_mu);
			return;
		}
	}
	struct writer_cl_purge *q = calloc(1, sizeof(*q));
	if (q == NULL) {
		pthread_mutex_unlock(&cl->purge_mu);
		log_error(
		        "out of memory: a forgotten customer's stream entries are purged after a restart");
		return;
	}
	snprintf(q->key, sizeof(q->key), "%s", key);
	q->before = before;
	q->from = 1;
	q->due_ns = due;
	q->backoff_ms = WRITER_CL_PURGE_BACKOFF_MS;
	q->next = cl->purges;
	cl->purges = q;
	cl->n_purges++;
	pthread_cond_signal(&cl->purge_cv);
	pthread_mutex_unlock(&cl->purge_mu);
}

void
writer_cl_purge_add(writer *w, const struct writer_cl_hook *h)
{
	struct writer_cluster *cl = w->cl;
	writer_cl_purge_init(cl);
	int64_t delay_ms = cl->purge_delay_ms > 0 ? cl->purge_delay_ms
	                                          : WRITER_CL_PURGE_DELAY_MS;
	int64_t due = clock_mono_ns();
	if (h->origin != cl->node) {
		due += delay_ms * 1000000;
	}
	for (size_t i = 0; i < h->n_ids; i++) {
		char key[33];
		jstream_subject_key(cl->js, h->ids[i], h->lens[i], key);
		writer_cl_purge_queue(cl, key, h->position, due);
	}
}

clm_err
writer_cl_purge_save(writer *w, store_txn *txn, const struct writer_cl_hook *h)
{
	clm_err e = CLM_OK;
	for (size_t i = 0; i < h->n_ids && e == CLM_OK; i++) {
		char key[33];
		jstream_subject_key(w->cl->js, h->ids[i], h->lens[i], key);
		e = store_stream_purge_put(txn, key, h->position);
	}
	return e;
}

/* store_stream_purges_each's function for writer_cl_purge_load. */
static void
writer_cl_purge_loaded(void *arg, const char key[33], uint64_t before)
{
	writer_cl_purge_queue(arg, key, before, clock_mono_ns());
}

clm_err
writer_cl_purge_load(writer *w, store_txn *txn)
{
	writer_cl_purge_init(w->cl);
	clm_err e
	        = store_stream_purges_each(txn, writer_cl_purge_loaded, w->cl);
	size_t n = writer_cl_purge_count(w->cl);
	if (e == CLM_OK && n > 0) {
		log_info(
		        "stream purges pending from before the start: %zu", n);
	}
	return e;
}

void
writer_cl_purge_reap(writer *w)
{
	struct writer_cluster *cl = w->cl;
	if (!cl->purge_init) {
		return;
	}
	pthread_mutex_lock(&cl->purge_mu);
	struct writer_cl_purge *done = cl->purge_done;
	cl->purge_done = NULL;
	telemetry_stream_purges(w->tm, cl->n_purges);
	pthread_mutex_unlock(&cl->purge_mu);
	if (done == NULL) {
		return;
	}
	store_txn *txn;
	clm_err e = store_write_begin(w->st, &txn);
	for (struct writer_cl_purge *q = done; q != NULL && e == CLM_OK;
	        q = q->next) {
		e = store_stream_purge_del(txn, q->key, q->before);
	}
	if (e == CLM_OK) {
		e = store_write_commit(txn);
	} else {
		store_write_abort(txn);
	}
	if (e != CLM_OK) {
		/* The records stay: the purges are checked again later. */
		log_warn("cannot delete the records of stream purges done: %s",
		        clm_strerror(e));
		pthread_mutex_lock(&cl->purge_mu);
		struct writer_cl_purge **pp = &done;
		while (*pp != NULL) {
			pp = &(*pp)->next;
		}
		*pp = cl->purge_done;
		cl->purge_done = done;
		pthread_mutex_unlock(&cl->purge_mu);
		return;
	}
	if (w->dirty_since_ns == 0) {
		w->dirty_since_ns = clock_mono_ns();
	}
	while (done != NULL) {
		struct writer_cl_purge *q = done;
		done = q->next;
		free(q);
	}
}

/* The queued purge due first, or NULL; *wait_ns until it is due. */
static struct writer_cl_purge *
writer_cl_purge_next(struct writer_cluster *cl, int64_t now, int64_t *wait_ns)
{
	struct writer_cl_purge *best = NULL;
	for (struct writer_cl_purge *q = cl->purges; q != NULL; q = q->next) {
		if (best == NULL || q->due_ns < best->due_ns) {
			best = q;
		}
	}
	if (best == NULL) {
		*wait_ns = WRITER_CL_SECOND_NS;
		return NULL;
	}
	if (best->due_ns > now) {
		*wait_ns = best->due_ns - now;
		return NULL;
	}
	return best;
}

/* Moves q to the purges done, for their records (purge_mu held). */
static void
writer_cl_purge_drop(struct writer_cluster *cl, struct writer_cl_purge *q)
{
	for (struct writer_cl_purge **pp = &cl->purges; *pp != NULL;
	        pp = &(*pp)->next) {
		if (*pp == q) {
			*pp = q->next;
			cl->n_purges--;
			q->next = cl->purge_done;
			cl->purge_done = q;
			return;
		}
	}
}

static void *
writer_cl_purge_main(void *arg)
{
	struct writer_cluster *cl = arg;
	clm_err logged = CLM_OK; /* the failure kind last logged */
	pthread_mutex_lock(&cl->purge_mu);
	while (!cl->purge_stop) {
		int64_t wait_ns;
		struct writer_cl_purge *q
		        = writer_cl_purge_next(cl, clock_mono_ns(), &wait_ns);
		if (q == NULL) {
			int64_t ms = wait_ns / 1000000 + 1;
			struct timespec ts
			        = clock_deadline(ms < 1000 ? ms : 1000);
			(void) pthread_cond_timedwait(
			        &cl->purge_cv, &cl->purge_mu, &ts);
			continue;
		}
		/* Only this thread changes or frees a queued purge. */
		char key[33];
		memcpy(key, q->key, sizeof(key));
		uint64_t before = q->before, from = q->from;
		pthread_mutex_unlock(&cl->purge_mu);
		char err[256];
		bool done = false;
		clm_err e = jstream_purge_slice(cl->js, key, before, &from,
		        WRITER_CL_PURGE_SLICE, &done, err, sizeof(err));
		pthread_mutex_lock(&cl->purge_mu);
		q->from = from;
		if (e == CLM_OK && done && q->before != before) {
			/* A later Forget of the same id came meanwhile. */
			q->due_ns = clock_mono_ns();
		} else if (e == CLM_OK && done) {
			writer_cl_purge_drop(cl, q);
			logged = CLM_OK;
		} else if (e == CLM_OK) {
			q->due_ns = clock_mono_ns();
			q->backoff_ms = WRITER_CL_PURGE_BACKOFF_MS;
		} else {
			if (e != logged) {
				log_warn(
				        "stream purge of a forgotten customer's entries: %s; retried (%zu purges pending)",
				        err, cl->n_purges);
				logged = e;
			} else {
				log_debug("stream purge: %s; retried", err);
			}
			q->due_ns = clock_mono_ns() + q->backoff_ms * 1000000;
			q->backoff_ms = q->backoff_ms * 2
			                > WRITER_CL_PURGE_BACKOFF_MAX_MS
			        ? WRITER_CL_PURGE_BACKOFF_MAX_MS
			        : q->backoff_ms * 2;
		}
	}
	pthread_mutex_unlock(&cl->purge_mu);
	return NULL;
}

clm_err
writer_cl_purge_start(writer *w)
{
	struct writer_cluster *cl = w->cl;
	writer_cl_purge_init(cl);
	if (cl->purge_running) {
		return CLM_OK;
	}
	cl->purge_stop = false;
	if (thread_start(
	            &cl->purge_thread, writer_cl_purge_main, cl, "clm:purge")
	        != 0) {
		log_error(
		        "cannot start the stream purge thread: forgotten customers' entries stay in the stream until a restart");
		return CLM_RESOURCE_EXHAUSTED;
	}
	cl->purge_running = true;
	return CLM_OK;
}

/* Stops the thread and waits for it, when it runs. */
static void
writer_cl_purge_join(struct writer_cluster *cl)
{
	if (!cl->purge_running) {
		return;
	}
	pthread_mutex_lock(&cl->purge_mu);
	cl->purge_stop = true;
	pthread_cond_signal(&cl->purge_cv);
	pthread_mutex_unlock(&cl->purge_mu);
	pthread_join(cl->purge_thread, NULL);
	cl->purge_running = false;
}

void
writer_cl_purge_stop(writer *w)
{
	writer_cl_purge_join(w->cl);
}

size_t
writer_cl_purge_count(struct writer_cluster *cl)
{
	if (!cl->purge_init) {
		return 0;
	}
	pthread_mutex_lock(&cl->purge_mu);
	size_t n = cl->n_purges;
	pthread_mutex_unlock(&cl->purge_mu);
	return n;
}

void
writer_cl_purge_fini(struct writer_cluster *cl)
{
	writer_cl_purge_join(cl);
	while (cl->purges != NULL) {
		struct writer_cl_purge *q = cl->purges;
		cl->purges = q->next;
		free(q);
	}
	while (cl->purge_done != NULL) {
		struct writer_cl_purge *q = cl->purge_done;
		cl->purge_done = q->next;
		free(q);
	}
	cl->n_purges = 0;
	if (cl->purge_init) {
		pthread_cond_destroy(&cl->purge_cv);
		pthread_mutex_destroy(&cl->purge_mu);
		cl->purge_init = false;
	}
}
