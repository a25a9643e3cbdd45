/*
 * metrics: the figures of MetricsReply and CohortReply (docs/metrics.md).
 *
 * metrics_window and metrics_compute are pure: the first resolves a
 * request's window, the second turns the sums read from the aggregates
 * (struct metrics_sums, filled by store/metrics_read.h) into the reply's
 * numbers. No store, no clock.
 */
#ifndef CLM_METRICS_H
#define CLM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"
#include "core/agg.h"
#include "core/model.h"
#include "util/arena.h"

#define METRICS_MAX_WINDOW_DAYS     3660
#define METRICS_MAX_CONVERSION_DAYS 3650
#define METRICS_DEFAULT_DAYS        30
/* Window bounds past 9999-12-31 are refused. */
#define METRICS_MAX_TIME_MS 253402300800000LL

/* A resolved window: days [from, to), UTC day numbers. */
struct metrics_window {
	uint32_t from, to;
	uint32_t conversion_days;
	int channel; /* 0 = every channel */
};

/*
 * metrics_window resolves q at now_ms. Returns NULL, or the reason it is
 * invalid with the field in *field.
 */
const char *metrics_window(const Clm__V1__MetricsRequest *q, int64_t now_ms,
        struct metrics_window *w, const char **field);

struct metrics_channel {
	int64_t spend_micros;
	uint64_t new_visitors, first_touch, last_touch;
};

/* What metrics_compute needs, summed over the window by metrics_read. */
struct metrics_sums {
	uint64_t current[MODEL_N_STAGES], entered[MODEL_N_STAGES];
	uint64_t at_risk[MODEL_N_STAGES], churned[MODEL_N_STAGES];
	uint64_t conv_cohort[AGG_N_PAIRS], conv_converted[AGG_N_PAIRS];
	/* Customers with >= 1 purchase before `to`, of them with >= 2,
	 * with a referral too, and CHURNED as of `to`. */
	uint64_t purchasers, repeaters, advocates, churned_purchasers;
	uint64_t purchasers_now;
	int64_t touch[AGG_TOUCH_N]; /* the window's TOUCH counters */
	uint64_t unique_visitors;
	int64_t all_purchase_micros, all_refund_micros;
	struct metrics_channel channel[MODEL_N_CHANNELS];
};

/* metrics_compute fills out (arena memory) from s. Returns 0 or -1. */
int metrics_compute(const struct metrics_sums *s,
        const struct metrics_window *w, arena *a, Clm__V1__MetricsReply *out);

/* metrics_ratio is num / den, or 0 when den is 0. */
double metrics_ratio(double num, double den);

#endif /* CLM_METRICS_H */
