#include "calls/waitpos.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/telemetry.h"
#include "util/thread.h"

/*
 * The waiters are one unsorted doubly linked list under mu: parking and
 * unparking are O(1), and both the writer's wake-up and the timer walk the
 * whole list. That is linear in the waiters, but only when the position
 * advances or a deadline passes, and a list of thousands is walked in
 * microseconds; a heap keyed twice would not pay for itself here.
 *
 * Wake callbacks run after mu is released, on a private list made of the
 * woken waiters' next links, so a callback may park again at once.
 */
struct waitpos {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the timer: a new earlier deadline, or stop */
	struct waitpos_waiter *head; /* guarded by mu */
	size_t n;                    /* guarded by mu */
	uint64_t position;           /* guarded by mu; atomic reads */
	bool stopping;               /* guarded by mu */
	bool quit;                   /* guarded by mu: the timer exits */
	pthread_t timer;
	struct telemetry *tm; /* the gauge of n, or NULL */
};

static void
waitpos_unlink(waitpos *wp, struct waitpos_waiter *wt)
{
	if (wt->prev != NULL) {
		wt->prev->next = wt->next;
	} else {
		wp->head = wt->next;
	}
	if (wt->next != NULL) {
		wt->next->prev = wt->prev;
	}
	wt->prev = wt->next = NULL;
	wp->n--;
	telemetry_position_waits(wp->tm, wp->n);
}

/*
 * Moves the waiters that pass test (reached, or due at now_ns) from the
 * list onto a private list linked by next, and returns it. mu.
 */
static struct waitpos_waiter *
waitpos_take(waitpos *wp, bool all, int64_t now_ns)
{
	struct waitpos_waiter *out = NULL;
	struct waitpos_waiter *wt = wp->head;
	while (wt != NULL) {
		struct waitpos_waiter *next = wt->next;
		if (all || wt->position <= wp->position
		        || wt->deadline_ns <= now_ns) {
			waitpos_unlink(wp, wt);
			wt->next = out;
			out = wt;
		}
		wt = next;
	}
	return out;
}

/* Wakes a private list from waitpos_take; outside mu. */
static void
waitpos_wake_all(struct waitpos_waiter *list, uint64_t position)
{
	while (list != NULL) {
		struct waitpos_waiter *next = list->next;
		list->next = NULL;
		list->wake(list, list->position <= position);
		list = next;
	}
}

/* The timer thread: wakes the waiters whose deadline passed. */
static void *
waitpos_timer_main(void *arg)
{
	waitpos *wp = arg;
	pthread_mutex_lock(&wp->mu);
	while (!wp->quit) {
		int64_t now = clock_mono_ns();
		struct waitpos_waiter *due = waitpos_take(wp, false, now);
		if (due != NULL) {
			uint64_t pos = wp->position;
			pthread_mutex_unlock(&wp->mu);
			waitpos_wake_all(due, pos);
			pthread_mutex_lock(&wp->mu);
			continue;
		}
		int64_t first = 0;
		for (struct waitpos_waiter *wt = wp->head; wt != NULL;
		        wt = wt->next) {
			if (first == 0 || wt->deadline_ns < first) {
				first = wt->deadline_ns;
			}
		}
		if (first == 0) {
			pthread_cond_wait(&wp->cv, &wp->mu);
		} else {
			/* Rounded up, so a wake-up is never a little early. */
			int64_t ms = (first - now + 999999) / 1000000;
			struct timespec ts = clock_deadline(ms);
			pthread_cond_timedwait(&wp->cv, &wp->mu, &ts);
		}
	}
	pthread_mutex_unlock(&wp->mu);
	return NULL;
}

clm_err
waitpos_open(uint64_t position, struct telemetry *tm, waitpos **out)
{
	waitpos *wp = calloc(1, sizeof(*wp));
	if (wp == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	wp->position = position;
	wp->tm = tm;
	pthread_mutex_init(&wp->mu, NULL);
	clock_cond_init(&wp->cv);
	if (thread_start(&wp->timer, waitpos_timer_main, wp, "clm:waitpos")
	        != 0) {
		pthread_cond_destroy(&wp->cv);
		pthread_mutex_destroy(&wp->mu);
		free(wp);
		return CLM_INTERNAL;
	}
	*out = wp;
	return CLM_OK;
}

void
waitpos_advanced(void *arg, uint64_t position)
{
	waitpos *wp = arg;
	pthread_mutex_lock(&wp->mu);
	if (position <= wp->position) {
		pthread_mutex_unlock(&wp->mu);
		return;
	}
	__atomic_store_n(&wp->position, position, __ATOMIC_RELEASE);
	struct waitpos_waiter *done = waitpos_take(wp, false, INT64_MIN);
	pthread_mutex_unlock(&wp->mu);
	waitpos_wake_all(done, position);
}

uint64_t
waitpos_position(waitpos *wp)
{
	return __atomic_load_n(&wp->position, __ATOMIC_ACQUIRE);
}

bool
waitpos_park(waitpos *wp, struct waitpos_waiter *wt)
{
	pthread_mutex_lock(&wp->mu);
	/*
	 * Under mu, so that an advance either happened before (seen here)
	 * or comes after the waiter is in the list (and wakes it).
	 */
	if (wp->stopping || wt->position <= wp->position) {
		pthread_mutex_unlock(&wp->mu);
		return false;
	}
	wt->prev = NULL;
	wt->next = wp->head;
	if (wp->head != NULL) {
		wp->head->prev = wt;
	}
	wp->head = wt;
	wp->n++;
	telemetry_position_waits(wp->tm, wp->n);
	pthread_cond_signal(&wp->cv); /* the timer may need to wake sooner */
	pthread_mutex_unlock(&wp->mu);
	return true;
}

size_t
waitpos_count(waitpos *wp)
{
	pthread_mutex_lock(&wp->mu);
	size_t n = wp->n;
	pthread_mutex_unlock(&wp->mu);
	return n;
}

void
waitpos_stop(waitpos *wp)
{
	if (wp == NULL) {
		return;
	}
	pthread_mutex_lock(&wp->mu);
	wp->stopping = true;
	struct waitpos_waiter *all = waitpos_take(wp, true, 0);
	uint64_t pos = wp->position;
	pthread_mutex_unlock(&wp->mu);
	waitpos_wake_all(all, pos);
}

void
waitpos_close(waitpos *wp)
{
	if (wp == NULL) {
		return;
	}
	waitpos_stop(wp);
	pthread_mutex_lock(&wp->mu);
	wp->quit = true;
	pthread_cond_signal(&wp->cv);
	pthread_mutex_unlock(&wp->mu);
	pthread_join(wp->timer, NULL);
	pthread_cond_destroy(&wp->cv);
	pthread_mutex_destroy(&wp->mu);
	free(wp);
}
