/*
 * The writer's side of journey webhooks (docs/journeys.md "Webhooks"):
 * net/webhook.c delivers the messages waiting in `jny_hooks` and reports
 * each outcome with writer_hook_report, from its own thread; the writer
 * applies the reports between batches (writer_hooks), in transactions of
 * their own.
 *
 * Such a transaction has no journal entry, like the segments' background
 * steps (writer_segment.c): it goes into the overlay and reaches the base
 * with the next checkpoint. After a crash the overlay is rebuilt from the
 * journal without it, so a delivery recorded only there is made again:
 * webhooks are at least once, and receivers deduplicate by message id.
 */
#include "write/writer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/journey.h"
#include "util/clock.h"
#include "util/log.h"

/* Reports queued at most: writer_hook_report says false beyond. */
#define WRITER_HOOKS_MAX 4096
/* Reports applied per transaction. */
#define WRITER_HOOKS_TXN 256
/* Bytes kept of a failure's reason (JourneyHook.last_error). */
#define WRITER_HOOK_ERROR 128

/* One outcome, as writer_hook_report was told it. */
struct writer_hook_rep {
	uint64_t position;
	uint32_t journey; /* 0: the journey is gone (webhook.c) */
	bool ok;
	int64_t retry_ms;
	char error[WRITER_HOOK_ERROR];
};

struct writer_hooks {
	pthread_mutex_t mu;
	/* The queue: a ring of WRITER_HOOKS_MAX, n from head. */
	struct writer_hook_rep *ring;
	size_t head, n;
	/* The writer thread's: the reports of one transaction. */
	struct writer_hook_rep txn[WRITER_HOOKS_TXN];
	arena a;
};

struct writer_hooks *
writer_hooks_new(void)
{
	struct writer_hooks *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		return NULL;
	}
	h->ring = calloc(WRITER_HOOKS_MAX, sizeof(*h->ring));
	if (h->ring == NULL || pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h->ring);
		free(h);
		return NULL;
	}
	arena_init(&h->a);
	return h;
}

void
writer_hooks_free(struct writer_hooks *h)
{
	if (h == NULL) {
		return;
	}
	pthread_mutex_destroy(&h->mu);
	arena_fini(&h->a);
	free(h->ring);
	free(h);
}

bool
writer_hook_report(writer *w, uint64_t position, uint32_t journey, bool ok,
        int64_t retry_ms, const char *error)
{
	if (w == NULL || w->hooks == NULL) {
		return false;
	}
	struct writer_hooks *h = w->hooks;
	pthread_mutex_lock(&w->mu);
	bool stopping = w->stopping;
	pthread_mutex_unlock(&w->mu);
	if (stopping) {
		return false;
	}
	pthread_mutex_lock(&h->mu);
	if (h->n == WRITER_HOOKS_MAX) {
		pthread_mutex_unlock(&h->mu);
		return false;
	}
	struct writer_hook_rep *r
	        = &h->ring[(h->head + h->n) % WRITER_HOOKS_MAX];
	h->n++;
	*r = (struct writer_hook_rep) { .position = position,
		.journey = journey,
		.ok = ok,
		.retry_ms = retry_ms };
	snprintf(r->error, sizeof(r->error), "%s", error != NULL ? error : "");
	pthread_mutex_unlock(&h->mu);
	/*
	 * The idle writer waits on w->cv: waking it makes it ask
	 * writer_hooks_wait_ms again, which now says 0.
	 */
	pthread_mutex_lock(&w->mu);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return true;
}

int64_t
writer_hooks_wait_ms(writer *w, int64_t wait_ms)
{
	if (w->hooks == NULL) {
		return wait_ms;
	}
	pthread_mutex_lock(&w->hooks->mu);
	bool queued = w->hooks->n > 0;
	pthread_mutex_unlock(&w->hooks->mu);
	return queued ? 0 : wait_ms;
}

/*
 * One report. The hook may be gone (the customer forgotten, the message
 * trimmed from the feed, or an earlier report already delivered it) or
 * already rescheduled by a report of the same attempt: then nothing.
 */
static clm_err
writer_hook_apply(store_txn *txn, arena *a, const struct writer_hook_rep *r)
{
	Clm__V1__JourneyHook *h;
	clm_err e = store_jhook_get(txn, r->position, a, &h);
	if (e == CLM_NOT_FOUND) {
		return CLM_OK;
	}
	if (e == CLM_DATA_LOSS) {
		log_warn(
		        "webhooks: the delivery of message %llu does not decode; dropped",
		        (unsigned long long) r->position);
		return store_jhook_del(txn, r->position);
	}
	if (e != CLM_OK) {
		return e;
	}
	if (r->journey == 0) {
		/* Its journey was deleted, and its counters with it. */
		return store_jhook_del(txn, r->position);
	}
	if (h->journey != r->journey) {
		return CLM_OK;
	}
	if (r->ok || r->retry_ms == 0) {
		e = store_jhook_del(txn, r->position);
		if (e == CLM_OK) {
			e = store_jstat_add(txn, r->journey,
			        r->ok ? STORE_JSTAT_HOOK_DELIVERED
			              : STORE_JSTAT_HOOK_DEAD,
			        0, 1);
		}
		if (e == CLM_OK) {
			e = store_jstat_add(txn, r->journey,
			        STORE_JSTAT_HOOK_PENDING, 0, -1);
		}
		return e;
	}
	/*
	 * A failed try was made when the hook was due, so its retry is
	 * later than the hook's next_ms: a report whose retry is not was
	 * applied already.
	 */
	if (h->next_ms >= r->retry_ms) {
		return CLM_OK;
	}
	h->attempts++;
	h->next_ms = r->retry_ms;
	h->last_error = (char *) r->error;
	e = store_jhook_put(txn, r->position, h);
	if (e == CLM_OK) {
		e = store_jstat_add(
		        txn, r->journey, STORE_JSTAT_HOOK_RETRIES, 0, 1);
	}
	return e;
}

/* Applies h->txn[0..n) in one transaction. */
static clm_err
writer_hooks_commit(writer *w, size_t n)
{
	struct writer_hooks *h = w->hooks;
	store_txn *txn;
	clm_err e = store_write_begin(w->st, &txn);
	if (e != CLM_OK) {
		return e;
	}
	for (size_t i = 0; i < n && e == CLM_OK; i++) {
		arena_reset(&h->a);
		e = writer_hook_apply(txn, &h->a, &h->txn[i]);
	}
	if (e == CLM_OK) {
		e = store_write_commit(txn);
	} else {
		store_write_abort(txn);
	}
	if (e == CLM_OK && w->j != NULL && w->dirty_since_ns == 0) {
		w->dirty_since_ns = clock_mono_ns();
	}
	return e;
}

void
writer_hooks(writer *w)
{
	struct writer_hooks *h = w->hooks;
	if (h == NULL || w->ckpt_err != CLM_OK) {
		return;
	}
	for (;;) {
		pthread_mutex_lock(&h->mu);
		size_t n = h->n < WRITER_HOOKS_TXN ? h->n : WRITER_HOOKS_TXN;
		for (size_t i = 0; i < n; i++) {
			h->txn[i] = h->ring[h->head];
			h->head = (h->head + 1) % WRITER_HOOKS_MAX;
		}
		h->n -= n;
		pthread_mutex_unlock(&h->mu);
		if (n == 0) {
			return;
		}
		clm_err e = writer_hooks_commit(w, n);
		if (e == CLM_RESOURCE_EXHAUSTED && store_overlay_full(w->st)
		        && writer_checkpoint(w) == CLM_OK) {
			e = writer_hooks_commit(w, n); /* room made */
		}
		if (e != CLM_OK) {
			/*
			 * Lost reports: their messages are delivered
			 * again when due (at least once).
			 */
			log_warn(
			        "webhooks: cannot record %zu deliveries (%s); they will be made again",
			        n, clm_strerror(e));
			return;
		}
		pthread_mutex_lock(&w->mu);
		bool queued = w->head != NULL || w->stopping;
		pthread_mutex_unlock(&w->mu);
		if (queued) {
			return; /* writes first; the rest after them */
		}
	}
}
