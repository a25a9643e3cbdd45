/*
 * Cohorts: a read handler over the aggregates' cohort cells (core/agg.h);
 * the numbers' definitions are docs/metrics.md "Cohorts".
 */
#include <string.h>

#include "calls/calls.h"
#include "calls/reply.h"
#include "core/metrics.h"

#define COHORT_MAX_PERIODS     120
#define COHORT_DEFAULT_PERIODS 8
#define COHORT_MAX_ROWS        1000
#define COHORT_FIRST_DAY       10957 /* 2000-01-01 */

/* The period `n` periods before p (0 when that is before 1970). */
static uint32_t
cohorts_back(int gran, uint32_t p, uint32_t n)
{
	uint64_t step = gran == AGG_GRAN_WEEK ? 7ULL * n : n;
	return step > p ? 0 : p - (uint32_t) step;
}

struct cohort_row_scan {
	double *retained;
	uint64_t size;
	uint32_t periods;
};

static int
cohorts_cell_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct cohort_row_scan *s = arg;
	if (klen != 10) {
		return 0;
	}
	uint32_t k = (uint32_t) key[6] << 24 | (uint32_t) key[7] << 16
	        | (uint32_t) key[8] << 8 | key[9];
	int64_t c;
	store_agg_counters(val, vlen, &c, 1);
	if (k == 0) {
		s->size = (uint64_t) c;
	}
	if (k < s->periods) {
		s->retained[k] = (double) c; /* divided by size below */
	}
	return 0;
}

static clm_err
cohorts_row(store_txn *txn, int gran, uint32_t period, uint32_t periods,
        arena *a, Clm__V1__CohortRow **out)
{
	Clm__V1__CohortRow *row = arena_alloc(a, sizeof(*row));
	double *ret = arena_zalloc(a, periods * sizeof(double));
	if (row == NULL || ret == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__cohort_row__init(row);
	unsigned char lo[10], hi[10];
	lo[0] = hi[0] = AGG_COHORT;
	lo[1] = hi[1] = (unsigned char) gran;
	agg_put_u32(lo + 2, period);
	agg_put_u32(hi + 2, period);
	agg_put_u32(lo + 6, 0);
	agg_put_u32(hi + 6, periods);
	struct cohort_row_scan s = { ret, 0, periods };
	clm_err e = store_agg_scan(txn, lo, 10, hi, 10, cohorts_cell_fn, &s);
	for (uint32_t k = 0; k < periods; k++) {
		ret[k] = metrics_ratio(ret[k], (double) s.size);
	}
	row->cohort_start_ms
	        = (int64_t) agg_period_start(gran, period) * MODEL_DAY_MS;
	row->size = s.size;
	row->retained = ret;
	row->n_retained = periods;
	*out = row;
	return e;
}

void
cohorts_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__CohortRequest *q = r->req->cohorts;
	arena *a = r->a;
	int gran = q->granularity == 0 ? AGG_GRAN_WEEK : (int) q->granularity;
	if (gran < AGG_GRAN_DAY || gran > AGG_GRAN_MONTH) {
		reply_invalid(r->resp, a, "cohorts.granularity",
		        "is not a known Granularity");
		return;
	}
	if (q->periods > COHORT_MAX_PERIODS) {
		reply_invalid(r->resp, a, "cohorts.periods",
		        "must be at most %d", COHORT_MAX_PERIODS);
		return;
	}
	bool bad_from = q->from_ms < 0 || q->from_ms >= METRICS_MAX_TIME_MS;
	if (bad_from || q->to_ms < 0 || q->to_ms >= METRICS_MAX_TIME_MS) {
		reply_invalid(r->resp, a,
		        bad_from ? "cohorts.from_ms" : "cohorts.to_ms",
		        "must be unix ms from 0 to 9999-12-31");
		return;
	}
	uint32_t periods
	        = q->periods == 0 ? COHORT_DEFAULT_PERIODS : q->periods;
	uint32_t to
	        = q->to_ms == 0 ? agg_day(r->now_ms) + 1 : agg_day(q->to_ms);
	uint32_t from;
	if (q->from_ms == 0) {
		uint32_t last = agg_period(gran, to == 0 ? 0 : to - 1);
		from = agg_period_start(
		        gran, cohorts_back(gran, last, periods - 1));
	} else {
		from = agg_day(q->from_ms);
	}
	/* Nothing happens before 2000 (event times are later). */
	if (from < COHORT_FIRST_DAY) {
		from = COHORT_FIRST_DAY;
	}
	if (from >= to) {
		reply_invalid(r->resp, a, "cohorts.from_ms",
		        "must be before to_ms (both rounded down to 00:00 UTC)");
		return;
	}
	/* The first period that starts at or after `from`. */
	uint32_t p = agg_period(gran, from);
	if (agg_period_start(gran, p) < from) {
		p = agg_period_next(gran, p);
	}
	Clm__V1__CohortReply *reply = arena_alloc(a, sizeof(*reply));
	if (reply == NULL) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	clm__v1__cohort_reply__init(reply);
	reply->granularity = (Clm__V1__Granularity) gran;
	size_t cap = 0;
	for (; agg_period_start(gran, p) < to; p = agg_period_next(gran, p)) {
		if (reply->n_rows == COHORT_MAX_ROWS) {
			reply_invalid(r->resp, a, "cohorts.from_ms",
			        "the window holds more than %d periods",
			        COHORT_MAX_ROWS);
			return;
		}
		Clm__V1__CohortRow **rows = arena_grow(
		        a, reply->rows, reply->n_rows, &cap, sizeof(*rows));
		if (rows == NULL) {
			reply_error(r->resp, a, CLM_RESOURCE_EXHAUSTED,
			        "out of memory");
			return;
		}
		reply->rows = rows;
		clm_err e = cohorts_row(
		        txn, gran, p, periods, a, &reply->rows[reply->n_rows]);
		if (e != CLM_OK) {
			reply_error(r->resp, a, e,
			        "cannot read the aggregates: %s",
			        clm_strerror(e));
			return;
		}
		reply->n_rows++;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_COHORTS;
	r->resp->cohorts = reply;
}
