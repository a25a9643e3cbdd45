/*
 * calls/waitpos.c: waiters are woken once, when the position reaches
 * theirs (reached), when their deadline passes, or at waitpos_stop (not
 * reached); positions that go back change nothing.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "calls/waitpos.h"
#include "util/clock.h"
#include "util/telemetry.h"

/* What happened to one waiter. */
struct woken {
	atomic_int calls;
	atomic_bool reached;
	atomic_llong at_ns;
};

static void
woke(struct waitpos_waiter *wt, bool reached)
{
	struct woken *w = wt->arg;
	atomic_store(&w->reached, reached);
	atomic_store(&w->at_ns, clock_mono_ns());
	atomic_fetch_add(&w->calls, 1);
}

static void
waiter_init(struct waitpos_waiter *wt, struct woken *w, uint64_t position,
        int64_t wait_ms)
{
	*wt = (struct waitpos_waiter) { .position = position,
		.deadline_ns = clock_mono_ns() + wait_ms * 1000000,
		.wake = woke,
		.arg = w };
}

/* Waits up to 10 s for w to be woken; false if it is not. */
static bool
wait_woken(struct woken *w)
{
	for (int i = 0; i < 2000 && atomic_load(&w->calls) == 0; i++) {
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	return atomic_load(&w->calls) > 0;
}

Test(waitpos, reached_at_once_is_not_parked)
{
	waitpos *wp;
	cr_assert_eq(waitpos_open(5, NULL, &wp), CLM_OK);
	struct woken w = { 0 };
	struct waitpos_waiter wt;
	waiter_init(&wt, &w, 5, 10000);
	cr_assert(!waitpos_park(wp, &wt));
	cr_assert_eq(waitpos_count(wp), 0);
	cr_assert_eq(atomic_load(&w.calls), 0);
	waitpos_close(wp);
}

Test(waitpos, an_advance_wakes_the_waiters_it_reaches)
{
	struct telemetry tm;
	telemetry_init(&tm);
	waitpos *wp;
	cr_assert_eq(waitpos_open(1, &tm, &wp), CLM_OK);
	struct woken w2 = { 0 }, w3 = { 0 };
	struct waitpos_waiter a, b;
	waiter_init(&a, &w2, 2, 60000);
	waiter_init(&b, &w3, 3, 60000);
	cr_assert(waitpos_park(wp, &a));
	cr_assert(waitpos_park(wp, &b));
	cr_assert_eq(waitpos_count(wp), 2);
	cr_assert_eq(atomic_load(&tm.position_waits), 2);
	waitpos_advanced(wp, 2);
	cr_assert_eq(
	        atomic_load(&w2.calls), 1, "woken on the caller's thread");
	cr_assert(atomic_load(&w2.reached));
	cr_assert_eq(atomic_load(&w3.calls), 0);
	cr_assert_eq(waitpos_position(wp), 2);
	waitpos_advanced(wp, 1); /* back: ignored */
	cr_assert_eq(waitpos_position(wp), 2);
	waitpos_advanced(wp, 9);
	cr_assert_eq(atomic_load(&w3.calls), 1);
	cr_assert(atomic_load(&w3.reached));
	cr_assert_eq(atomic_load(&w2.calls), 1, "woken twice");
	cr_assert_eq(waitpos_count(wp), 0);
	cr_assert_eq(atomic_load(&tm.position_waits), 0);
	waitpos_close(wp);
}

Test(waitpos, the_deadline_wakes_unreached)
{
	waitpos *wp;
	cr_assert_eq(waitpos_open(0, NULL, &wp), CLM_OK);
	struct woken late = { 0 }, soon = { 0 };
	struct waitpos_waiter a, b;
	int64_t t0 = clock_mono_ns();
	waiter_init(&a, &late, 7, 60000);
	waiter_init(&b, &soon, 7, 200);
	cr_assert(waitpos_park(wp, &a));
	cr_assert(waitpos_park(wp, &b));
	cr_assert(wait_woken(&soon), "not woken at its deadline");
	cr_assert(!atomic_load(&soon.reached));
	cr_assert_geq(atomic_load(&soon.at_ns), b.deadline_ns,
	        "woken %lld ns before its deadline",
	        (long long) (b.deadline_ns - atomic_load(&soon.at_ns)));
	cr_assert_geq(atomic_load(&soon.at_ns) - t0, 200 * 1000000LL);
	cr_assert_eq(atomic_load(&late.calls), 0);
	cr_assert_eq(waitpos_count(wp), 1);
	/* Stop wakes the rest, unreached, and refuses new ones. */
	waitpos_stop(wp);
	cr_assert_eq(atomic_load(&late.calls), 1);
	cr_assert(!atomic_load(&late.reached));
	struct woken again = { 0 };
	struct waitpos_waiter c;
	waiter_init(&c, &again, 8, 60000);
	cr_assert(!waitpos_park(wp, &c));
	cr_assert_lt(waitpos_position(wp), 8, "so the caller answers at once");
	waitpos_close(wp);
	cr_assert_eq(atomic_load(&again.calls), 0);
	cr_assert_eq(atomic_load(&soon.calls), 1);
}

/* Advances from another thread while waiters park: none is lost. */
struct racer {
	waitpos *wp;
	uint64_t to;
};

static void *
racer_main(void *arg)
{
	struct racer *r = arg;
	for (uint64_t p = 1; p <= r->to; p++) {
		waitpos_advanced(r->wp, p);
	}
	return NULL;
}

Test(waitpos, parking_races_with_advances)
{
	enum { N = 500 };
	waitpos *wp;
	cr_assert_eq(waitpos_open(0, NULL, &wp), CLM_OK);
	static struct woken w[N];
	static struct waitpos_waiter wt[N];
	struct racer r = { .wp = wp, .to = N };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, racer_main, &r), 0);
	int parked = 0;
	for (int i = 0; i < N; i++) {
		waiter_init(&wt[i], &w[i], (uint64_t) i + 1, 60000);
		parked += waitpos_park(wp, &wt[i]);
	}
	pthread_join(t, NULL);
	/* Every parked waiter was reached by the last advance. */
	for (int i = 0; i < N; i++) {
		int calls = atomic_load(&w[i].calls);
		cr_assert_leq(calls, 1, "waiter %d woken %d times", i, calls);
		if (calls == 1) {
			cr_assert(atomic_load(&w[i].reached), "waiter %d", i);
		}
	}
	cr_assert_eq(waitpos_count(wp), 0, "%zu left of %d parked",
	        waitpos_count(wp), parked);
	waitpos_close(wp);
	int woken = 0;
	for (int i = 0; i < N; i++) {
		woken += atomic_load(&w[i].calls);
	}
	cr_assert_eq(woken, parked);
}
