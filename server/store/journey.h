/*
 * journey: the store's tables of journeys (docs/journeys.md), in
 * store_journey.c:
 *   journeys      name -> JourneyRecord (store.proto), the definitions
 *   jny_due       instant (8 bytes big-endian, offset so that order is
 *                 numeric) | journey id (4 bytes BE) | customer id ->
 *                 empty: the timers, earliest first
 *   jny_stats     journey id (4 BE) | counter (1 byte) | step (2 BE) ->
 *                 uint64 (8 bytes little-endian): the statistics
 *   jny_msgs      feed position (8 BE) -> packed LifecycleEvent (kind
 *                 JOURNEY_MESSAGE): the feed
 *   jny_msg_cust  customer id | 0 | feed position (8 BE) -> empty: each
 *                 customer's messages, for ForgetCustomer
 *   jny_hooks     feed position (8 BE) -> JourneyHook: messages waiting
 *                 for their webhook
 * and in meta: "jny_next_id" (the next journey id, from 1) and
 * "jny_msg_pos" (the last feed position given, from 0).
 *
 * A customer's own place in each journey is in its CustomerRecord
 * (journeys), so the writer needs no lookup here to know it.
 *
 * Same threads and errors as store.h: reads in any transaction, writes in
 * a write transaction; NOT_FOUND, DATA_LOSS (a value that does not
 * decode), RESOURCE_EXHAUSTED (arena, or the map full).
 */
#ifndef CLM_STORE_JOURNEY_H
#define CLM_STORE_JOURNEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/store.pb-c.h"
#include "store/store.h"
#include "util/arena.h"

/* Definitions. */
clm_err store_journey_get(store_txn *txn, const char *name, arena *a,
        Clm__V1__JourneyRecord **out);
clm_err store_journey_put(store_txn *txn, const Clm__V1__JourneyRecord *rec);
clm_err store_journey_del(store_txn *txn, const char *name); /* NOT_FOUND */
typedef int (*store_journey_fn)(void *arg, Clm__V1__JourneyRecord *rec);
/* In name order, decoded into a (outliving txn); fn non-zero stops. */
clm_err store_journeys_each(
        store_txn *txn, arena *a, store_journey_fn fn, void *arg);
/* The next journey id (meta "jny_next_id"; never reused). */
clm_err store_journey_new_id(store_txn *txn, uint32_t *id);

/* Timers: add, remove (a missing one is not an error), walk due ones. */
clm_err store_jdue_put(store_txn *txn, int64_t due_ms, uint32_t journey,
        const char *customer_id);
clm_err store_jdue_del(store_txn *txn, int64_t due_ms, uint32_t journey,
        const char *customer_id);
/*
 * store_jdue_each calls fn for up to max timers due at or before upto_ms,
 * earliest first (then by journey id, then customer id); fn returns
 * non-zero to stop. The id lives until fn returns; fn must not write to
 * the table.
 */
typedef int (*store_jdue_fn)(
        void *arg, int64_t due_ms, uint32_t journey, const char *customer_id);
clm_err store_jdue_each(store_txn *txn, int64_t upto_ms, size_t max,
        store_jdue_fn fn, void *arg);
/* The earliest timer's instant (*found false when there is none). */
clm_err store_jdue_first(store_txn *txn, int64_t *due_ms, bool *found);

/* Statistics: counters per journey, some per step. */
enum store_jstat {
	STORE_JSTAT_ENTERED = 1,
	STORE_JSTAT_ACTIVE,
	STORE_JSTAT_EXITED,
	STORE_JSTAT_COMPLETED,
	STORE_JSTAT_REMOVED,
	STORE_JSTAT_HOOK_DELIVERED,
	STORE_JSTAT_HOOK_PENDING,
	STORE_JSTAT_HOOK_RETRIES,
	STORE_JSTAT_HOOK_DEAD,
	/* Per step (the others take step 0): */
	STORE_JSTAT_SENT,
	STORE_JSTAT_SKIPPED_CONDITION,
	STORE_JSTAT_SKIPPED_CAPPED,
	STORE_JSTAT_SKIPPED_LATE,
	STORE_JSTAT_WAITING
};
/*
 * store_jstat_add adds delta to a counter (one that would go below 0
 * stays at 0: it never wraps).
 */
clm_err store_jstat_add(store_txn *txn, uint32_t journey, enum store_jstat s,
        uint32_t step, int64_t delta);
/*
 * store_jstats_get reads every counter of journey into *out (arena a),
 * with one JourneyStepStats per step 0 .. n_steps-1 (zeros for steps
 * without counters).
 */
clm_err store_jstats_get(store_txn *txn, uint32_t journey, size_t n_steps,
        arena *a, Clm__V1__JourneyStats **out);
/* Deletes up to max of journey's counters; *left: some remain. */
clm_err store_jstats_drop(
        store_txn *txn, uint32_t journey, size_t max, bool *left);

/*
 * The feed. store_jmsg_append gives ev the next position (ev->position,
 * meta "jny_msg_pos" + 1), stores it and indexes it under its customer.
 */
clm_err store_jmsg_append(store_txn *txn, Clm__V1__LifecycleEvent *ev);
clm_err store_jmsg_get(store_txn *txn, uint64_t position, arena *a,
        Clm__V1__LifecycleEvent **out);
/*
 * store_jmsgs_after calls fn for up to max messages after position
 * `after`, ascending, of the journey called journey (NULL: every one),
 * examining at most scan_max entries (so a filter that matches little
 * stays bounded; *scanned_to tells the last position examined, 0 when
 * none); fn non-zero stops.
 */
typedef int (*store_jmsg_fn)(void *arg, Clm__V1__LifecycleEvent *ev);
clm_err store_jmsgs_after(store_txn *txn, uint64_t after, size_t max,
        size_t scan_max, const char *journey, arena *a, store_jmsg_fn fn,
        void *arg, uint64_t *scanned_to);
/*
 * The oldest position kept (0: none kept) and the last given (0: none
 * ever given; it stays when everything was trimmed or forgotten).
 */
clm_err store_jmsg_bounds(store_txn *txn, uint64_t *oldest, uint64_t *last);
/*
 * store_jmsgs_trim deletes up to max of the oldest messages while more
 * than keep are kept (with their customer index entries and pending
 * hooks); *more: some are still over. "Kept" counts positions: the
 * messages at positions up to the last given minus keep go, so forgotten
 * ones (holes) are not made up for. A pending hook trimmed with its
 * message takes 1 from its journey's HOOK_PENDING here.
 */
clm_err store_jmsgs_trim(
        store_txn *txn, uint64_t keep, size_t max, bool *more);
/*
 * store_jmsgs_forget deletes customer_id's messages, their index entries
 * and their pending hooks; *n (may be NULL): how many messages; *hooks
 * (may be NULL): how many pending hooks, per journey the caller adjusts
 * its counters with fn (NULL: none) called once per deleted hook.
 */
typedef void (*store_jhook_gone_fn)(void *arg, uint32_t journey);
clm_err store_jmsgs_forget(store_txn *txn, const char *customer_id,
        uint64_t *n, store_jhook_gone_fn fn, void *arg);

/* Webhook deliveries waiting (key: the message's feed position). */
clm_err store_jhook_put(
        store_txn *txn, uint64_t position, const Clm__V1__JourneyHook *h);
clm_err store_jhook_get(store_txn *txn, uint64_t position, arena *a,
        Clm__V1__JourneyHook **out);
clm_err store_jhook_del(store_txn *txn, uint64_t position);
/*
 * store_jhooks_each calls fn for up to max waiting deliveries with
 * position after `after`, ascending (decoded into a); fn non-zero stops.
 */
typedef int (*store_jhook_fn)(
        void *arg, uint64_t position, Clm__V1__JourneyHook *h);
clm_err store_jhooks_each(store_txn *txn, uint64_t after, size_t max, arena *a,
        store_jhook_fn fn, void *arg);

#endif /* CLM_STORE_JOURNEY_H */
