/*
 * The page of `clmd --http` (server/net/dashboard.html) against a real
 * clmd seeded with clm-gen journeys, their spend and an experiment
 * (dashfix.h): it is self-contained, and headless Chromium renders it:
 * the funnel's stages with the REACH count the API gives, the cohort
 * matrix and the experiment, and the customer lookup box (opened as
 * /#customer=ID) shows the stage GET /api/customers/ID gives, with the
 * recommendations, the Segments panel a segment with the count `clm
 * segment define` printed, and the Journeys panel a journey defined with
 * PUT /api/journeys and a step skipped with its reason (the browser part
 * is skipped when no Chromium is installed).
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_run.h"
#include "clm/v1/clm.pb-c.h"
#include "dashfix.h"
#include "harness.h"
#include "jnyflow.h"

#define BROWSER_MS 90000

/* The fixture of the test running (Criterion forks each test). */
DASHFIX_SUITE(dashboard, 240);

static const char *
find_chromium(void)
{
	static const char *const paths[] = { "/usr/bin/chromium",
		"/usr/bin/chromium-browser", "/usr/bin/google-chrome",
		"/usr/bin/google-chrome-stable", NULL };
	for (int i = 0; paths[i] != NULL; i++) {
		if (access(paths[i], X_OK) == 0) {
			return paths[i];
		}
	}
	return NULL;
}

/* Occurrences of needle in hay. */
static int
count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(hay, needle); p != NULL;
	        p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}

/*
 * Defines journey "skipper", whose one step's `if` is false, tracks a
 * PAGE_VIEW that enters it, and waits (30 s at most) until GetJourney
 * counts the step skipped.
 */
static void
wait_for_a_skip(void)
{
	dashfix_put_journey_json(fx.http_port, "skipper",
	        "{\"trigger\": {\"event\": \"PAGE_VIEW\"}, \"steps\": "
	        "[{\"wait\": \"0s\", \"if\": \"count(PURCHASE, 30d) >= 1000000\", "
	        "\"send\": {\"kind\": \"WIN_BACK\", \"action\": \"never\", "
	        "\"channel\": \"EMAIL\"}}]}");
	free(dashfix_cli_out(
	        (const char *[]) { "track", "--customer", "dash-skip",
	                "--type", "page_view", NULL },
	        NULL));
	clm_conn *c = NULL;
	cr_assert_eq(clm_open(fx.srv.url, 10000, &c), CLM_OK, "%s",
	        clm_open_error());
	uint64_t skipped = jnyflow_wait_counter(
	        c, "skipper", JC_SKIP_COND, 0, 1, 30000);
	clm_close(c);
	cr_assert_eq(skipped, 1, "journey skipper: %llu skipped in 30 s",
	        (unsigned long long) skipped);
}

Test(dashboard, page_renders_funnel_cohorts_and_experiment)
{
	dashfix_start_seeded(&fx);
	/* A segment for the Segments panel, with the count define prints. */
	static const char *const def[]
	        = { "segment", "define", "buyers", "purchases >= 1", NULL };
	struct cli_output so = cli_run(def, NULL);
	cr_assert_eq(so.rc, 0, "%s", so.err);
	unsigned long long buyers = 0;
	cr_assert_eq(sscanf(so.out, "buyers: %llu customers", &buyers), 1,
	        "%s", so.out);
	cr_assert_gt(buyers, 0, "%s", so.out);
	cli_output_free(&so);
	struct dashfix_res page = dashfix_get(fx.http_port, "/", NULL);
	cr_assert_eq(page.status, 200);
	char *type = dashfix_header(&page, "Content-Type");
	cr_expect_str_eq(type, "text/html; charset=utf-8");
	free(type);
	char *csp = dashfix_header(&page, "Content-Security-Policy");
	cr_expect_not_null(csp);
	free(csp);
	/* Self-contained: no script, style or font from elsewhere. */
	cr_expect_null(strstr(page.body, "src=\"http"));
	cr_expect_null(strstr(page.body, "href=\"http"));
	cr_expect_null(strstr(page.body, "@import"));
	/* The customer lookup box, which calls GET /api/customers/ID. */
	cr_expect_not_null(strstr(page.body, "id=\"customer-id\""));
	cr_expect_not_null(strstr(
	        page.body, "\"/api/customers/\" + encodeURIComponent("));
	cr_expect_not_null(strstr(page.body, "\"/recommendations"));
	/* The segments panel, which calls GET /api/segments. */
	cr_expect_not_null(strstr(page.body, "id=\"segments\""));
	cr_expect_not_null(strstr(page.body, "api(\"/api/segments\")"));
	/* The journeys panel, which calls GET /api/journeys. */
	cr_expect_not_null(strstr(page.body, "id=\"journeys\""));
	cr_expect_not_null(strstr(page.body, "api(\"/api/journeys\")"));
	dashfix_res_free(&page);
	dashfix_put_journey(fx.http_port, "welcome");
	wait_for_a_skip();

	const char *chromium = find_chromium();
	if (chromium == NULL) {
		cr_skip_test(
		        "no chromium binary: the browser check is skipped");
	}
	/* The REACH count the API reports (current: not window-bound). */
	char *api = dashfix_get_json(fx.http_port, "/api/metrics");
	Clm__V1__MetricsReply *m = (Clm__V1__MetricsReply *) dashfix_decode(
	        api, &clm__v1__metrics_reply__descriptor);
	cr_assert_geq(m->n_stages, 1);
	cr_assert_eq(m->stages[0]->stage, CLM__V1__STAGE__REACH);
	unsigned long long reach = (unsigned long long) m->stages[0]->current;
	cr_assert_gt(reach, 0);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) m, NULL);
	free(api);
	char *cohorts = dashfix_get_json(
	        fx.http_port, "/api/cohorts?by=week&periods=8");
	Clm__V1__CohortReply *c = (Clm__V1__CohortReply *) dashfix_decode(
	        cohorts, &clm__v1__cohort_reply__descriptor);
	size_t rows = c->n_rows;
	cr_assert_gt(rows, 0);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) c, NULL);
	free(cohorts);

	char url[64], profile[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fx.http_port);
	snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium",
	        fx.dir);
	const char *argv[] = { "chromium", "--headless=new", "--no-sandbox",
		"--disable-gpu", "--no-first-run", "--disable-extensions",
		profile, "--virtual-time-budget=10000", "--dump-dom", url,
		NULL };
	char *dom = NULL, *err = NULL;
	int rc = run_cmd(chromium, argv, NULL, BROWSER_MS, &dom, &err);
	cr_assert_eq(rc, 0, "chromium: exit %d\n%s", rc, err ? err : "");
	cr_assert_not_null(dom);
	cr_assert_not_null(strstr(dom, "data-ready=\"1\""),
	        "the page did not finish loading:\n%.2000s", dom);
	cr_expect_not_null(
	        strstr(dom,
	                "id=\"error\" role=\"alert\" style=\"display: none;\""),
	        "the page shows an error");
	/* The funnel: every stage, and REACH with the API's count. */
	static const char *const stages[] = { "REACH", "ACQUISITION",
		"NURTURE", "RETENTION", "ADVOCACY" };
	for (int i = 0; i < 5; i++) {
		char want[64];
		snprintf(want, sizeof(want), "data-stage=\"%s\"", stages[i]);
		cr_expect_not_null(
		        strstr(dom, want), "no stage %s", stages[i]);
	}
	char want[128];
	snprintf(want, sizeof(want),
	        "data-stage=\"REACH\" data-current=\"%llu\"", reach);
	cr_expect_not_null(strstr(dom, want), "REACH is not %llu", reach);
	char reach_text[64];
	snprintf(reach_text, sizeof(reach_text), "\"num stage-current\">%llu<",
	        reach);
	cr_expect(reach < 1000 && strstr(dom, reach_text) != NULL,
	        "REACH's count %llu is not shown", reach);
	/* The cohort matrix: one row per cohort, with heat-map cells. */
	cr_expect_eq((size_t) count(dom, "data-cohort=\""), rows);
	cr_expect_gt(count(dom, "<td class=\"cell\""), (int) rows);
	cr_expect_not_null(strstr(dom, "100.0%"));
	/* The experiment with both variants. */
	cr_expect_not_null(
	        strstr(dom, "data-experiment=\"" DASHFIX_EXPERIMENT "\""));
	cr_expect_not_null(strstr(dom, "data-variant=\"control\""));
	cr_expect_not_null(strstr(dom, "data-variant=\"new-copy\""));
	cr_expect_not_null(strstr(dom, "p-value"));
	/* Channels with spend. */
	cr_expect_not_null(strstr(dom, "data-channel=\"PAID_ADS\""));
	/* The segments panel, rendered from /api/segments, with the count. */
	snprintf(want, sizeof(want),
	        "data-segment=\"buyers\" data-count=\"%llu\"", buyers);
	cr_expect_not_null(
	        strstr(dom, want), "no segment 'buyers' of %llu", buyers);
	/* The journeys panel, rendered from /api/journeys. */
	cr_expect_not_null(
	        strstr(dom, "data-journey=\"welcome\" data-active=\"0\""),
	        "no journey 'welcome' in the panel");
	/* ... with the removed, and a step's skips by reason (if false,
	 * capped, late). */
	cr_expect_not_null(strstr(dom, "<th>Removed</th>"));
	cr_expect_not_null(strstr(dom, "<td>1: 0 / 1 (1, 0, 0)</td>"),
	        "no skip by reason in the journeys panel");
	free(dom);
	free(err);

	/* The lookup, started from the address: c000003 bought (seeded). */
	char *cj = dashfix_get_json(fx.http_port, "/api/customers/c000003");
	Clm__V1__Customer *cu = (Clm__V1__Customer *) dashfix_decode(
	        cj, &clm__v1__customer__descriptor);
	char stage_attr[96];
	snprintf(stage_attr, sizeof(stage_attr),
	        "data-customer=\"c000003\" data-stage=\"%s\"",
	        protobuf_c_enum_descriptor_get_value(
	                &clm__v1__stage__descriptor, (int) cu->stage)
	                ->name);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) cu, NULL);
	free(cj);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#customer=c000003",
	        fx.http_port);
	argv[9] = url;
	dom = err = NULL;
	rc = run_cmd(chromium, argv, NULL, BROWSER_MS, &dom, &err);
	cr_assert_eq(rc, 0, "chromium: exit %d\n%s", rc, err ? err : "");
	cr_assert_not_null(dom);
	cr_expect_not_null(strstr(dom, stage_attr),
	        "no '%s' in the lookup:\n%.3000s", stage_attr,
	        strstr(dom, "id=\"customer\"") ? strstr(dom, "id=\"customer\"")
	                                       : dom);
	cr_expect_not_null(strstr(dom, "id=\"customer-recs\""));
	free(dom);
	free(err);

	/*
	 * A malformed escape in the address (decodeURIComponent throws)
	 * must not stop the page: the figures still load.
	 */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/#customer=%%E0",
	        fx.http_port);
	argv[9] = url;
	dom = err = NULL;
	rc = run_cmd(chromium, argv, NULL, BROWSER_MS, &dom, &err);
	cr_assert_eq(rc, 0, "chromium: exit %d\n%s", rc, err ? err : "");
	cr_assert_not_null(dom);
	cr_expect_not_null(strstr(dom, "data-ready=\"1\""),
	        "#customer=%%E0: the page did not finish loading:\n%.2000s",
	        dom);
	cr_expect_not_null(
	        strstr(dom, want), "#customer=%%E0: REACH is not %llu", reach);
	free(dom);
	free(err);
}
