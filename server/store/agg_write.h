/*
 * agg_write: puts the contributions core/agg.h computes into the store's
 * `agg` table, inside the caller's write transaction.
 *
 * A customer's contributions move by difference (agg_write_diff); a
 * touchpoint's counters are added once when it is stored (agg_write_touch).
 * Visitors wait for the end of their write transaction in an agg_visits
 * list that the caller owns: agg_visits_fold merges each day and channel's
 * visitors into its sketch and writes it once, instead of once per visit
 * (a sketch is up to 16 KiB: rewriting it per visit was a third of Track's
 * CPU). Whoever commits (the writer, the start-up rebuild) folds just
 * before store_write_commit and clears the list when a transaction is
 * aborted.
 */
#ifndef CLM_STORE_AGG_WRITE_H
#define CLM_STORE_AGG_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"
#include "core/agg.h"
#include "store/store.h"

/* Visitors waiting for their transaction's end; opaque. */
struct agg_visits;

/*
 * agg_visits_new returns an empty list, or NULL when memory is exhausted.
 * agg_visits_free releases it (NULL is a no-op).
 */
struct agg_visits *agg_visits_new(void);
void agg_visits_free(struct agg_visits *v);

/* agg_visits_clear drops the visitors of an aborted transaction. */
void agg_visits_clear(struct agg_visits *v);

/*
 * agg_visits_fold adds every waiting visitor to its day and channel's
 * sketch in txn and empties the list. Returns CLM_OK, a storage error, or
 * DATA_LOSS for a stored sketch that does not decode.
 */
clm_err agg_visits_fold(store_txn *txn, struct agg_visits *v);

/*
 * agg_write_diff adds `to` minus `from` (both from agg_customer) to the
 * store: only keys whose counters differ are written.
 */
clm_err agg_write_diff(store_txn *txn, const struct agg_list *from,
        const struct agg_list *to);

/*
 * agg_write_touch adds one stored touchpoint to the day's counters and
 * money totals and, for a SITE_VISIT or PAGE_VIEW, queues the visitor (the
 * profile's id, anonymous or not) on v for the day's sketch. A long list
 * is folded early, in txn.
 */
clm_err agg_write_touch(store_txn *txn, struct agg_visits *v,
        const Clm__V1__Touchpoint *tp, int64_t at_ms, const char *visitor,
        bool anonymous);

#endif /* CLM_STORE_AGG_WRITE_H */
