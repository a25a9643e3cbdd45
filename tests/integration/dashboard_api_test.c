/*
 * The JSON endpoints of `clmd --http` (docs/api.md) against a real clmd
 * seeded with clm-gen journeys, their spend and an experiment with a few
 * assigned and converted customers (dashfix.h):
 *
 *   - the JSON endpoints, fetched over a plain socket, print exactly what
 *     `clm --json` prints for the same call and window (metrics with and
 *     without a channel, cohorts, experiment results, status);
 *   - /api/experiments lists the definition with its results;
 *   - bad parameters are 400 with {code, message, field}, an unknown
 *     experiment 404.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clm/v1/clm.pb-c.h"
#include "dashfix.h"
#include "harness.h"

#define DAY_MS 86400000LL

/* The fixture of the test running (Criterion forks each test). */
DASHFIX_SUITE(dashboard, 240);

/* YYYY-MM-DD of unix ms (UTC). */
static void
iso_day(int64_t ms, char out[11])
{
	time_t t = (time_t) (ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

Test(dashboard, json_endpoints_match_the_cli)
{
	dashfix_start_seeded(&fx);
	int64_t today = (int64_t) time(NULL) * 1000 / DAY_MS * DAY_MS;
	char from[11], to[11], path[256];
	iso_day(today - 45 * DAY_MS, from);
	iso_day(today + DAY_MS, to);

	/* Metrics, default channel and conversion window. */
	snprintf(path, sizeof(path), "/api/metrics?from=%s&to=%s", from, to);
	char *api = dashfix_get_json(fx.http_port, path);
	char *cli = dashfix_cli_json((const char *[]) {
	        "--json", "metrics", "--from", from, "--to", to, NULL });
	cr_expect_str_eq(api, cli);
	Clm__V1__MetricsReply *m = (Clm__V1__MetricsReply *) dashfix_decode(
	        api, &clm__v1__metrics_reply__descriptor);
	cr_expect_eq(m->n_stages, 5);
	cr_expect_gt(m->customers, 100, "the seed did not arrive");
	cr_expect_gt(m->n_channels, 0);
	bool spent = false;
	for (size_t i = 0; i < m->n_channels; i++) {
		spent = spent || m->channels[i]->spend > 0;
	}
	cr_expect(spent, "no channel shows the imported spend");
	protobuf_c_message_free_unpacked((ProtobufCMessage *) m, NULL);
	free(api);
	free(cli);

	/* A channel (any case) and a conversion window. */
	snprintf(path, sizeof(path),
	        "/api/metrics?from=%s&to=%s&channel=paid_ads&window_days=14",
	        from, to);
	api = dashfix_get_json(fx.http_port, path);
	cli = dashfix_cli_json((const char *[]) { "--json", "metrics",
	        "--from", from, "--to", to, "--channel", "PAID_ADS",
	        "--window-days", "14", NULL });
	cr_expect_str_eq(api, cli);
	free(api);
	free(cli);

	/* Cohorts by month. */
	snprintf(path, sizeof(path),
	        "/api/cohorts?from=%s&to=%s&by=month&periods=4", from, to);
	api = dashfix_get_json(fx.http_port, path);
	cli = dashfix_cli_json(
	        (const char *[]) { "--json", "cohorts", "--from", from, "--to",
	                to, "--by", "month", "--periods", "4", NULL });
	cr_expect_str_eq(api, cli);
	free(api);
	free(cli);

	/* Experiment results, and the list with the definition. */
	api = dashfix_get_json(
	        fx.http_port, "/api/experiments/" DASHFIX_EXPERIMENT);
	cli = dashfix_cli_json((const char *[]) {
	        "--json", "experiment", "results", DASHFIX_EXPERIMENT, NULL });
	cr_expect_str_eq(api, cli);
	Clm__V1__ExperimentResultsReply *x
	        = (Clm__V1__ExperimentResultsReply *) dashfix_decode(
	                api, &clm__v1__experiment_results_reply__descriptor);
	cr_assert_eq(x->n_variants, 2);
	cr_expect_eq(x->variants[0]->exposed + x->variants[1]->exposed, 40);
	cr_expect_eq(
	        x->variants[0]->converted + x->variants[1]->converted, 12);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) x, NULL);
	char *list = dashfix_get_json(fx.http_port, "/api/experiments");
	char want[4096];
	snprintf(want, sizeof(want),
	        "{\"experiments\":[{\"definition\":{\"experimentId\":\"%s\",\"variants\":[{\"name\":\"control\",\"weight\":1},{\"name\":\"new-copy\",\"weight\":1}],\"goal\":\"PURCHASE\",\"definedMs\":\"",
	        DASHFIX_EXPERIMENT);
	cr_expect_eq(strncmp(list, want, strlen(want)), 0, "got %s", list);
	snprintf(want, sizeof(want), ",\"results\":%s}]}", api);
	size_t ll = strlen(list), wl = strlen(want);
	cr_expect(ll > wl && strcmp(list + ll - wl, want) == 0,
	        "the list does not end with the results: %s", list);
	free(list);
	free(api);
	free(cli);

	/* Status: the same counts as `clm status`. */
	api = dashfix_get_json(fx.http_port, "/api/status");
	cli = dashfix_cli_json((const char *[]) { "--json", "status", NULL });
	Clm__V1__StatusReply *a = (Clm__V1__StatusReply *) dashfix_decode(
	        api, &clm__v1__status_reply__descriptor);
	Clm__V1__StatusReply *b = (Clm__V1__StatusReply *) dashfix_decode(
	        cli, &clm__v1__status_reply__descriptor);
	cr_expect_str_eq(a->version, b->version);
	cr_expect_eq(a->customers, b->customers);
	cr_expect_eq(a->touchpoints, b->touchpoints);
	cr_expect_gt(a->touchpoints, 1000);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) a, NULL);
	protobuf_c_message_free_unpacked((ProtobufCMessage *) b, NULL);
	free(api);
	free(cli);
}

/* GET path expecting status and an error naming field. */
static void
expect_error(const char *path, int status, const char *code, const char *field)
{
	struct dashfix_res r = dashfix_get(fx.http_port, path, NULL);
	cr_expect_eq(
	        r.status, status, "GET %s: %d %s", path, r.status, r.body);
	char want[256];
	snprintf(want, sizeof(want), "{\"code\":\"%s\",\"message\":\"", code);
	cr_expect_eq(strncmp(r.body, want, strlen(want)), 0, "GET %s: %s",
	        path, r.body);
	snprintf(want, sizeof(want), ",\"field\":\"%s\"}", field);
	size_t bl = strlen(r.body), wl = strlen(want);
	cr_expect(bl > wl && strcmp(r.body + bl - wl, want) == 0,
	        "GET %s: %s (want field '%s')", path, r.body, field);
	dashfix_res_free(&r);
}

Test(dashboard, bad_parameters_are_400_with_the_field)
{
	dashfix_start_seeded(&fx);
	expect_error("/api/metrics?from=2026-02-30", 400, "INVALID_ARGUMENT",
	        "from");
	expect_error(
	        "/api/metrics?to=yesterday", 400, "INVALID_ARGUMENT", "to");
	expect_error("/api/metrics?from=2026-03-01&to=2026-02-01", 400,
	        "INVALID_ARGUMENT", "from");
	expect_error("/api/metrics?channel=carrier-pigeon", 400,
	        "INVALID_ARGUMENT", "channel");
	expect_error("/api/metrics?window_days=-3", 400, "INVALID_ARGUMENT",
	        "window_days");
	expect_error("/api/metrics?window_days=9999", 400, "INVALID_ARGUMENT",
	        "window_days");
	expect_error(
	        "/api/metrics?colour=blue", 400, "INVALID_ARGUMENT", "colour");
	expect_error("/api/metrics?from=2026-01-01&from=2026-01-02", 400,
	        "INVALID_ARGUMENT", "from");
	expect_error(
	        "/api/cohorts?by=fortnight", 400, "INVALID_ARGUMENT", "by");
	expect_error("/api/cohorts?periods=121", 400, "INVALID_ARGUMENT",
	        "periods");
	expect_error("/api/experiments/no-such-test", 404, "NOT_FOUND", "");
	/* An encoded NUL would cut the value short: named, not a 404. */
	expect_error("/api/metrics?channel=direct%00x", 400,
	        "INVALID_ARGUMENT", "channel");
	expect_error("/api/experiments/ab%00x", 400, "INVALID_ARGUMENT", "id");
	struct dashfix_res r = dashfix_get(fx.http_port, "/api/nothing", NULL);
	cr_expect_eq(r.status, 404);
	dashfix_res_free(&r);
}
