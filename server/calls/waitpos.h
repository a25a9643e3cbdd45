/*
 * waitpos: requests waiting for the view to reach a position
 * (Request.min_position, docs/api.md "Positions").
 *
 * A request whose min_position the view has not applied yet is parked
 * here, not on a thread: its owner (net/rpc.c) leaves the work item
 * waiting, and waitpos wakes it once, either from the writer's advanced
 * hook when the position is reached, or from its one timer thread when
 * the deadline passes first. Any number of waiters cost one list entry
 * each and no thread.
 */
#ifndef CLM_CALLS_WAITPOS_H
#define CLM_CALLS_WAITPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

typedef struct waitpos waitpos;
struct waitpos_waiter;
struct telemetry;

/*
 * Called once per parked waiter, on the writer thread (reached true) or
 * on waitpos's timer thread (reached false: the deadline passed, or
 * waitpos_stop). The waiter is no longer waitpos's when it is called: it
 * may be parked again or reused. It must not block: hand the rest to the
 * owner's own thread.
 */
typedef void (*waitpos_wake_fn)(struct waitpos_waiter *wt, bool reached);

/* A caller-embedded waiter; the caller sets the first four members. */
struct waitpos_waiter {
	uint64_t position;   /* the position to wait for */
	int64_t deadline_ns; /* clock_mono_ns() instant to give up at */
	waitpos_wake_fn wake;
	void *arg; /* the caller's */
	/* waitpos's, while parked */
	struct waitpos_waiter *prev, *next;
};

/*
 * waitpos_open makes an empty waiter list at position position (the
 * view's, writer_position) and starts its timer thread; it keeps the
 * number of waiters in tm's gauge (util/telemetry.h; tm may be NULL, and
 * must outlive it). Returns CLM_OK, or RESOURCE_EXHAUSTED / INTERNAL.
 */
clm_err waitpos_open(uint64_t position, struct telemetry *tm, waitpos **out);

/*
 * waitpos_advanced records that the view now shows position: every
 * waiter for it or an earlier one is woken (reached), on the calling
 * thread. The writer's advanced hook (writer_opts.advanced, arg the
 * waitpos). Positions that go back are ignored.
 */
void waitpos_advanced(void *wp, uint64_t position);

/*
 * waitpos_position returns the last position waitpos_advanced (or
 * waitpos_open) gave it. Any thread.
 */
uint64_t waitpos_position(waitpos *wp);

/*
 * waitpos_park parks wt until the view shows wt->position or
 * wt->deadline_ns passes. Returns true when parked (wt->wake will be
 * called exactly once, later, on another thread), false when there is
 * nothing to wait for: the position is already reached, or waitpos is
 * stopping (the caller tells the two apart with waitpos_position).
 */
bool waitpos_park(waitpos *wp, struct waitpos_waiter *wt);

/* waitpos_count returns the number of waiters parked now (tests). */
size_t waitpos_count(waitpos *wp);

/*
 * waitpos_stop wakes every parked waiter (not reached) and makes
 * waitpos_park refuse from then on; waitpos_advanced stays harmless.
 * For the shutdown, before the owners of the waiters are closed. NULL is
 * a no-op.
 */
void waitpos_stop(waitpos *wp);

/*
 * waitpos_close stops wp and joins its timer thread, then frees it. No
 * thread may call into wp any more (the writer has stopped). NULL is a
 * no-op.
 */
void waitpos_close(waitpos *wp);

#endif /* CLM_CALLS_WAITPOS_H */
