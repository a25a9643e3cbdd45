/*
 * Metrics: a read handler over the aggregates (core/agg.h, summed by
 * store/metrics_read.h); the numbers' definitions are docs/metrics.md.
 */
#include <string.h>

#include "calls/calls.h"
#include "calls/reply.h"
#include "core/metrics.h"
#include "store/metrics_read.h"

void
metrics_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__MetricsRequest *q = r->req->metrics;
	struct metrics_window w;
	const char *field = NULL;
	const char *why = metrics_window(q, r->now_ms, &w, &field);
	if (why != NULL) {
		reply_invalid(r->resp, r->a, field, "%s", why);
		return;
	}
	struct metrics_sums *s = arena_alloc(r->a, sizeof(*s));
	Clm__V1__MetricsReply *m = arena_alloc(r->a, sizeof(*m));
	if (s == NULL || m == NULL) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return;
	}
	const struct config *cfg = r->srv->cfg;
	clm_err e = metrics_read(txn, &w, (int) cfg->at_risk_days,
	        (int) cfg->churn_days, r->a, s);
	if (e != CLM_OK) {
		reply_error(r->resp, r->a, e, "cannot read the aggregates: %s",
		        clm_strerror(e));
		return;
	}
	if (metrics_compute(s, &w, r->a, m) != 0) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_METRICS;
	r->resp->metrics = m;
}
