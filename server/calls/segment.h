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
 * segment_names evaluates every defined segment for the stored customer
 * rec at as_of_ms (thresholds mp) in txn, and gives the names of those it
 * is in, by name, in *names / *n (arena memory; none for an anonymous
 * profile). Exact at any instant, now included: it evaluates rather than
 * reading the maintained membership. Returns CLM_OK or a storage error.
 */
clm_err segment_names(store_txn *txn, const Clm__V1__CustomerRecord *rec,
        int64_t as_of_ms, const struct model_params *mp, arena *a,
        char ***names, size_t *n);

#endif /* CLM_CALLS_SEGMENT_H */
