/*
 * segment: the segments (docs/segments.md) a customer is in, for every
 * call that returns a Customer; the calls themselves are in calls.h.
 */
#ifndef CLM_CALLS_SEGMENT_H
#define CLM_CALLS_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "store/store.h"
#include "util/arena.h"

/*
 * segment_names gives the names of the defined segments the stored
 * customer rec is in at as_of_ms (thresholds mp) in txn, by name, in
 * *names / *n (arena memory; none for an anonymous profile). At now_ms
 * (the read's now, or the batch's instant on the writer) it reads the
 * maintained membership (rec's segment_ids), exact there, and evaluates
 * only the segments whose backfill has not reached the customer, or all
 * when the customer's time index entry is due; at another instant it
 * evaluates every segment on the customer as stored. Returns CLM_OK or a
 * storage error.
 */
clm_err segment_names(store_txn *txn, const Clm__V1__CustomerRecord *rec,
        int64_t as_of_ms, int64_t now_ms, const struct model_params *mp,
        arena *a, char ***names, size_t *n);

#endif /* CLM_CALLS_SEGMENT_H */
