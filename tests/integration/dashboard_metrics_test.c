/*
 * GET /metrics of `clmd --http` (docs/metrics.md) against a real clmd
 * seeded with clm-gen journeys, their spend and an experiment
 * (dashfix.h): it parses as the Prometheus text format, its gauges match
 * the store, the request counters grow with RPC calls, and a journey's
 * series appear once one is defined.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "dashfix.h"
#include "harness.h"

/* The fixture of the test running (Criterion forks each test). */
DASHFIX_SUITE(dashboard, 240);

Test(dashboard, prometheus_metrics_parse_and_grow)
{
	dashfix_start_seeded(&fx);
	char *t1 = dashfix_get_prometheus(fx.http_port);
	char *st = dashfix_cli_json(
	        (const char *[]) { "--json", "status", NULL });
	Clm__V1__StatusReply *s = (Clm__V1__StatusReply *) dashfix_decode(
	        st, &clm__v1__status_reply__descriptor);
	cr_expect_eq(dashfix_prom_value(t1,
	                     "clm_build_info{version=\"" CLM_VERSION "\"}"),
	        1);
	cr_expect_eq(dashfix_prom_value(t1, "clm_customers"),
	        (double) s->customers);
	cr_expect_eq(dashfix_prom_value(t1, "clm_touchpoints"),
	        (double) s->touchpoints);
	cr_expect_gt(dashfix_prom_value(t1, "clm_db_bytes"), 0);
	cr_expect_gt(dashfix_prom_value(t1, "clm_map_bytes"), 0);
	cr_expect_geq(dashfix_prom_value(t1, "clm_uptime_seconds"), 0);
	cr_expect_eq(dashfix_prom_value(t1, "clm_write_queue_depth"), 0);
	/* The seeding wrote: the writer ran batches of at least one job. */
	cr_expect_gt(dashfix_prom_value(t1, "clm_write_batch_size_count"), 0);
	cr_expect_geq(dashfix_prom_value(t1, "clm_write_batch_size_sum"),
	        dashfix_prom_value(t1, "clm_write_batch_size_count"));
	double assigns = dashfix_prom_value(
	        t1, "clm_requests_total{call=\"assign\",code=\"OK\"}");
	cr_expect_eq(assigns, 40);
	const char *ok = "clm_requests_total{call=\"metrics\",code=\"OK\"}";
	const char *bad
	        = "clm_requests_total{call=\"get_customer\",code=\"NOT_FOUND\"}";
	const char *cnt
	        = "clm_request_duration_seconds_count{call=\"metrics\"}";
	double ok1 = dashfix_prom_value(t1, ok),
	       bad1 = dashfix_prom_value(t1, bad);
	double cnt1 = dashfix_prom_value(t1, cnt);
	ok1 = isnan(ok1) ? 0 : ok1;
	bad1 = isnan(bad1) ? 0 : bad1;
	cnt1 = isnan(cnt1) ? 0 : cnt1;

	/* Three Metrics calls and one unknown customer over RPC. */
	for (int i = 0; i < 3; i++) {
		free(dashfix_cli_out(
		        (const char *[]) { "--json", "metrics", NULL }, NULL));
	}
	char *out = NULL, *err = NULL;
	int rc = run_cli((const char *[]) { "customer", "nobody-here", NULL },
	        NULL, &out, &err);
	cr_expect_eq(rc, 1, "clm customer nobody-here: exit %d", rc);
	free(out);
	free(err);

	char *t2 = dashfix_get_prometheus(fx.http_port);
	cr_expect_eq(dashfix_prom_value(t2, ok), ok1 + 3);
	cr_expect_eq(dashfix_prom_value(t2, bad), bad1 + 1);
	cr_expect_eq(dashfix_prom_value(t2, cnt), cnt1 + 3);
	cr_expect_eq(
	        dashfix_prom_value(t2,
	                "clm_request_duration_seconds_bucket{call=\"metrics\",le=\"+Inf\"}"),
	        cnt1 + 3);
	cr_expect_gt(
	        dashfix_prom_value(t2,
	                "clm_request_duration_seconds_sum{call=\"metrics\"}"),
	        0);
	/*
	 * A journey's series appear once one is defined (docs/journeys.md
	 * "Metrics"), each with its journey label, per step where they are.
	 */
	cr_expect(isnan(dashfix_prom_value(
	        t2, "clm_journey_active{journey=\"dash\"}")));
	dashfix_put_journey(fx.http_port, "dash");
	char *t3 = dashfix_get_prometheus(fx.http_port);
	static const char *const zero[] = {
		"clm_journey_entered_total{journey=\"dash\"}",
		"clm_journey_active{journey=\"dash\"}",
		"clm_journey_exited_total{journey=\"dash\"}",
		"clm_journey_completed_total{journey=\"dash\"}",
		"clm_journey_removed_total{journey=\"dash\"}",
		"clm_journey_sent_total{journey=\"dash\",step=\"0\"}",
		"clm_journey_skipped_total{journey=\"dash\",step=\"0\",reason=\"condition\"}",
		"clm_journey_skipped_total{journey=\"dash\",step=\"0\",reason=\"capped\"}",
		"clm_journey_skipped_total{journey=\"dash\",step=\"0\",reason=\"late\"}",
		"clm_journey_webhook_delivered_total{journey=\"dash\"}",
		"clm_journey_webhook_pending{journey=\"dash\"}",
		"clm_journey_webhook_retries_total{journey=\"dash\"}",
		"clm_journey_webhook_dead_total{journey=\"dash\"}",
	};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
		cr_expect_eq(
		        dashfix_prom_value(t3, zero[i]), 0, "%s", zero[i]);
	}
	cr_expect_not_null(strstr(t3, "# TYPE clm_journey_active gauge\n"));
	cr_expect_not_null(
	        strstr(t3, "# TYPE clm_journey_sent_total counter\n"));
	cr_expect_not_null(
	        strstr(t3, "# TYPE clm_journey_removed_total counter\n"));
	cr_expect_not_null(strstr(
	        t3, "# TYPE clm_journey_webhook_retries_total counter\n"));
	cr_expect(isnan(dashfix_prom_value(
	        t3, "clm_journey_sent_total{journey=\"dash\",step=\"1\"}")));
	free(t3);
	/* The first scrape is counted by the second. */
	cr_expect_geq(
	        dashfix_prom_value(t2,
	                "clm_http_requests_total{handler=\"/metrics\",code=\"200\"}"),
	        1);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) s, NULL);
	free(st);
	free(t1);
	free(t2);
}
