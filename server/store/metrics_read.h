/*
 * metrics_read: the aggregate reads behind Metrics, summed over a window
 * for core/metrics.h's metrics_compute.
 */
#ifndef CLM_STORE_METRICS_READ_H
#define CLM_STORE_METRICS_READ_H

#include "clm/error.h"
#include "core/metrics.h"
#include "store/store.h"
#include "util/arena.h"

/*
 * metrics_read sums the aggregates for w in txn; at_risk_days and
 * churn_days are the health thresholds. a holds scratch memory.
 */
clm_err metrics_read(store_txn *txn, const struct metrics_window *w,
        int at_risk_days, int churn_days, arena *a, struct metrics_sums *s);

#endif /* CLM_STORE_METRICS_READ_H */
