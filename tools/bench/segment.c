/*
 * The segment workload's setup and backfill (docs/segments.md): twenty
 * segments of varied shape (profile fields, set tests, windows with and
 * without where, since(), traits, not/or), defined between two
 * track-batch runs so the cost of maintaining them at write time is the
 * ratio of the two; and the time a backfill over every customer takes.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "clm/client.h"

/* The twenty segments: bench-seg-00 .. bench-seg-19. */
static const char *const bench_seg_exprs[BENCH_SEGMENTS] = {
	"stage = RETENTION",
	"stage >= NURTURE and health = AT_RISK",
	"funnel = BOTTOM",
	"purchases >= 2",
	"revenue > 100",
	"refunds >= 1",
	"churn_risk > 0.5",
	"acquisition_channel = PAID_ADS and revenue > 50",
	"risk has INACTIVE",
	"cart has \"sku-7\"",
	"bought \"sku-7\"",
	"count(PAGE_VIEW, 30d) >= 3",
	"count(SITE_VISIT, 7d) >= 1",
	"count(PAGE_VIEW where item = \"sku-1\", 7d) >= 1",
	"count(PURCHASE, 90d) = 0 and purchases >= 1",
	"since(last_seen) > 30d",
	"since(first_seen) < 7d",
	"trait.plan = \"pro\"",
	"not (stage = REACH) and since(last_seen) > 14d",
	"health = CHURNED or (count(ADD_TO_CART, 1d) >= 1 and purchases = 0)",
};

/* The one the backfill is timed with. */
#define BENCH_SEG_BACKFILL      "bench-seg-backfill"
#define BENCH_SEG_BACKFILL_EXPR "purchases >= 1 and since(last_seen) < 90d"

/* How long a backfill may take before the bench gives up. */
#define BENCH_SEG_WAIT_S 600.0

void
bench_segment_name(int i, char name[32])
{
	snprintf(name, 32, "bench-seg-%02d", i);
}

/* Defines name as expr on c. Returns 0, or -1 (said on stderr). */
static int
bench_segment_put(clm_conn *c, const char *name, const char *expr)
{
	Clm__V1__DefineSegmentRequest q
	        = CLM__V1__DEFINE_SEGMENT_REQUEST__INIT;
	q.name = (char *) name;
	q.expression = (char *) expr;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_define_segment(c, &q, &resp);
	clm_response_free(resp);
	if (e != CLM_OK) {
		fprintf(stderr, "clm-bench: cannot define segment '%s': %s\n",
		        name, clm_last_error(c));
		return -1;
	}
	return 0;
}

/*
 * Waits until segment name is no longer backfilling, polling every 5 ms.
 * Returns 0, or -1 (said on stderr).
 */
static int
bench_segment_wait(clm_conn *c, const char *name)
{
	Clm__V1__GetSegmentRequest q = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	q.name = (char *) name;
	double end = bench_now() + BENCH_SEG_WAIT_S;
	while (bench_now() < end) {
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_get_segment(c, &q, &resp);
		bool busy = e == CLM_OK && resp->get_segment != NULL
		        && resp->get_segment->segment != NULL
		        && resp->get_segment->segment->backfilling;
		clm_response_free(resp);
		if (e != CLM_OK) {
			fprintf(stderr,
			        "clm-bench: cannot read segment '%s': %s\n",
			        name, clm_last_error(c));
			return -1;
		}
		if (!busy) {
			return 0;
		}
		bench_sleep(0.005);
	}
	fprintf(stderr,
	        "clm-bench: segment '%s' still backfilling after %.0f s\n",
	        name, BENCH_SEG_WAIT_S);
	return -1;
}

int
bench_segments_define(const char *url, double *seconds)
{
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		fprintf(stderr, "clm-bench: %s\n", clm_open_error());
		return -1;
	}
	double t0 = bench_now();
	int rc = 0;
	char name[32];
	for (int i = 0; i < BENCH_SEGMENTS && rc == 0; i++) {
		bench_segment_name(i, name);
		rc = bench_segment_put(c, name, bench_seg_exprs[i]);
	}
	for (int i = 0; i < BENCH_SEGMENTS && rc == 0; i++) {
		bench_segment_name(i, name);
		rc = bench_segment_wait(c, name);
	}
	*seconds = bench_now() - t0;
	clm_close(c);
	return rc;
}

void
bench_segments_clear(const char *url)
{
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		return;
	}
	char name[32];
	for (int i = 0; i <= BENCH_SEGMENTS; i++) {
		Clm__V1__DeleteSegmentRequest q
		        = CLM__V1__DELETE_SEGMENT_REQUEST__INIT;
		if (i == BENCH_SEGMENTS) {
			snprintf(name, sizeof(name), "%s", BENCH_SEG_BACKFILL);
		} else {
			bench_segment_name(i, name);
		}
		q.name = name;
		Clm__V1__Response *resp = NULL;
		clm_delete_segment(c, &q, &resp);
		clm_response_free(resp);
	}
	clm_close(c);
}

int
bench_segment_backfill(const char *url, double *seconds, uint64_t *customers,
        uint64_t *members)
{
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		fprintf(stderr, "clm-bench: %s\n", clm_open_error());
		return -1;
	}
	Clm__V1__Response *resp = NULL;
	*customers = 0;
	if (clm_server_status(c, &resp) == CLM_OK
	        && resp->server_status != NULL) {
		*customers = resp->server_status->customers;
	}
	clm_response_free(resp);
	double t0 = bench_now();
	int rc = bench_segment_put(
	        c, BENCH_SEG_BACKFILL, BENCH_SEG_BACKFILL_EXPR);
	if (rc == 0) {
		rc = bench_segment_wait(c, BENCH_SEG_BACKFILL);
	}
	*seconds = bench_now() - t0;
	*members = 0;
	Clm__V1__GetSegmentRequest q = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	q.name = BENCH_SEG_BACKFILL;
	resp = NULL;
	if (rc == 0 && clm_get_segment(c, &q, &resp) == CLM_OK
	        && resp->get_segment->segment != NULL) {
		*members = resp->get_segment->segment->count;
	}
	clm_response_free(resp);
	clm_close(c);
	return rc;
}
