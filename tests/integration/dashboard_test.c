/*
 * The dashboard of `clmd --http` against a real clmd seeded with clm-gen
 * journeys (clm import), their spend (clm spend) and an experiment with a
 * few assigned and converted customers:
 *
 *   - the JSON endpoints, fetched over a plain socket, print exactly what
 *     `clm --json` prints for the same call and window (metrics with and
 *     without a channel, cohorts, experiment results, status);
 *   - /api/experiments lists the definition with its results;
 *   - bad parameters are 400 with {code, message, field}, an unknown
 *     experiment 404;
 *   - /metrics parses as the Prometheus text format, its gauges match the
 *     store, and the request counters grow with RPC calls;
 *   - with auth tokens, a non-loopback address is allowed and the data
 *     endpoints need the bearer token; without tokens it is refused;
 *   - headless Chromium renders the page: the funnel's stages with the
 *     REACH count the API gives, the cohort matrix and the experiment,
 *     and the customer lookup box (opened as /#customer=ID) shows the
 *     stage GET /api/customers/ID gives, with the recommendations, and
 *     the Segments panel a segment with the count `clm segment define`
 *     printed (skipped when no Chromium is installed).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "clm/v1/clm.pb-c.h"
#include "dashfix.h"
#include "harness.h"

#define DAY_MS     86400000LL
#define BROWSER_MS 90000

/* The fixture of the test running (Criterion forks each test). */
static struct dashfix fx;

static void
setup(void)
{
	dashfix_init(&fx);
}

static void
teardown(void)
{
	dashfix_fini(&fx);
}

TestSuite(dashboard, .init = setup, .fini = teardown, .timeout = 240);

/* YYYY-MM-DD of unix ms (UTC). */
static void
iso_day(int64_t ms, char out[11])
{
	time_t t = (time_t) (ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* ---- JSON endpoints ---- */

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

/* ---- /metrics ---- */

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

/* ---- exposure and tokens ---- */

Test(dashboard, non_loopback_needs_tokens_and_then_a_bearer)
{
	cr_assert_eq(harness_tmpdir(fx.dir), 0);
	int port = harness_free_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "http://0.0.0.0:%d", port);
	const char *open_args[] = { "--http", addr, NULL };
	cr_expect_neq(clmd_start(&fx.srv, NULL, open_args), 0,
	        "clmd served http on 0.0.0.0 without tokens");
	char *log = harness_read_file(fx.srv.log_path);
	cr_expect(log != NULL && strstr(log, "not a loopback address"),
	        "log: %s", log ? log : "(none)");
	free(log);
	clmd_cleanup(&fx.srv);

	const char *tokens
	        = test_file(fx.dir, "tokens", "# dashboard\nhunter2\n");
	chmod(tokens, 0600);
	const char *args[]
	        = { "--http", addr, "--auth-token-file", tokens, NULL };
	harness_cli_url(NULL);
	cr_assert_eq(
	        clmd_start(&fx.srv, NULL, args), 0, "log %s", fx.srv.log_path);
	fx.http_port = port;
	struct dashfix_res r = dashfix_get(port, "/api/status", NULL);
	cr_expect_eq(r.status, 401);
	char *www = dashfix_header(&r, "WWW-Authenticate");
	cr_expect(www != NULL && strncmp(www, "Bearer", 6) == 0);
	free(www);
	cr_expect_eq(strncmp(r.body, "{\"code\":\"UNAUTHENTICATED\"", 25), 0,
	        "%s", r.body);
	dashfix_res_free(&r);
	r = dashfix_get(port, "/metrics", "Authorization: Bearer hunter3");
	cr_expect_eq(r.status, 401);
	dashfix_res_free(&r);
	r = dashfix_get(port, "/api/experiments", NULL);
	cr_expect_eq(r.status, 401);
	dashfix_res_free(&r);
	r = dashfix_get(port, "/metrics", "Authorization: Bearer hunter2");
	cr_expect_eq(r.status, 200);
	cr_expect_not_null(strstr(r.body, "clm_uptime_seconds "));
	dashfix_res_free(&r);
	r = dashfix_get(port, "/api/status", "Authorization: bearer hunter2");
	cr_expect_eq(r.status, 200, "%s", r.body);
	dashfix_res_free(&r);
	/* The page holds no data: it loads, then asks for the token. */
	r = dashfix_get(port, "/", NULL);
	cr_expect_eq(r.status, 200);
	cr_expect_not_null(strstr(r.body, "id=\"token\""));
	dashfix_res_free(&r);
	cr_expect_eq(clmd_stop(&fx.srv), 0, "clmd did not stop cleanly");
}

/* ---- Host names and origins (DNS rebinding) ---- */

/*
 * Waits, up to 10 s, until the dashboard port accepts connections: clmd
 * answers ServerStatus (what clmd_start waits for) a moment before it
 * opens --http.
 */
static void
wait_http(int port)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long delay_ms = 5;;
	        delay_ms = delay_ms < 200 ? delay_ms * 2 : 200) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_geq(fd, 0);
		struct sockaddr_in sa = { 0 };
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t) port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
		close(fd);
		if (rc == 0) {
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		cr_assert_lt(now.tv_sec - start.tv_sec, 10,
		        "the dashboard port %d did not open: %s", port,
		        strerror(errno));
		struct timespec ts = { 0, delay_ms * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* The status of METHOD path with Host host and extra headers. */
static int
status_of(int port, const char *method, const char *path, const char *host,
        const char *headers)
{
	struct dashfix_res r
	        = dashfix_request(port, method, path, host, headers);
	int status = r.status;
	if (status == 421) {
		/* The refusal: short plain text, nothing of the data. */
		char *type = dashfix_header(&r, "Content-Type");
		cr_expect(type != NULL
		                && strcmp(type, "text/plain; charset=utf-8")
		                        == 0,
		        "421 as %s", type ? type : "(none)");
		free(type);
		cr_expect(strcmp(method, "HEAD") == 0
		                || strncmp(r.body, "misdirected request: ", 21)
		                        == 0,
		        "%s", r.body);
	}
	dashfix_res_free(&r);
	return status;
}

/*
 * Starts clmd with --http ADDR:PORT, http_allowed_hosts from a clmd.conf
 * (the names a dashboard behind a proxy is reached by) and the extra
 * flags; waits for the port.
 */
static void
start_with_names(const char *addr, const char *const *extra)
{
	cr_assert_eq(harness_tmpdir(fx.dir), 0);
	fx.http_port = harness_free_port();
	char http[64];
	snprintf(http, sizeof(http), "%s:%d", addr, fx.http_port);
	const char *conf = test_file(fx.dir, "clmd.conf",
	        "http_allowed_hosts = dash.example.test, Metrics.Internal\n");
	const char *args[16] = { "--config", conf, "--http", http };
	size_t n = 4;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		cr_assert_lt(n, 15);
		args[n++] = extra[i];
	}
	args[n] = NULL;
	harness_cli_url(NULL);
	cr_assert_eq(clmd_start(&fx.srv, NULL, args), 0,
	        "clmd did not start (log %s)", fx.srv.log_path);
	wait_http(fx.http_port);
}

Test(dashboard, only_its_own_host_names_are_answered)
{
	start_with_names("127.0.0.1", NULL);
	int port = fx.http_port;
	char own[64], local[64], v6[64], named[64];
	snprintf(own, sizeof(own), "127.0.0.1:%d", port);
	snprintf(local, sizeof(local), "localhost:%d", port);
	snprintf(v6, sizeof(v6), "[::1]:%d", port);
	snprintf(named, sizeof(named), "dash.example.test:%d", port);
	static const char *const paths[]
	        = { "/", "/api/status", "/api/metrics", "/metrics" };
	for (int i = 0; i < 4; i++) {
		const char *p = paths[i];
		/* A rebinding page's name, with and without the port. */
		cr_expect_eq(status_of(port, "GET", p, "evil.example", NULL),
		        421, "GET %s", p);
		char evil[64];
		snprintf(evil, sizeof(evil), "evil.example:%d", port);
		cr_expect_eq(status_of(port, "GET", p, evil, NULL), 421,
		        "GET %s", p);
		/* The listen address, loopback names, configured names. */
		cr_expect_eq(status_of(port, "GET", p, own, NULL), 200,
		        "GET %s", p);
		cr_expect_eq(status_of(port, "GET", p, local, NULL), 200,
		        "GET %s", p);
		cr_expect_eq(
		        status_of(port, "GET", p, v6, NULL), 200, "GET %s", p);
		cr_expect_eq(status_of(port, "GET", p, named, NULL), 200,
		        "GET %s", p);
		cr_expect_eq(
		        status_of(port, "GET", p, "metrics.internal", NULL),
		        200, "GET %s", p);
	}
	cr_expect_eq(
	        status_of(port, "HEAD", "/api/status", "evil.example", NULL),
	        421);
	/* HTTP/1.1 needs a Host; two are no better than none. */
	cr_expect_eq(status_of(port, "GET", "/api/status", NULL, NULL), 400);
	cr_expect_eq(status_of(port, "GET", "/api/status", own,
	                     "Host: evil.example\r\n"),
	        400);
	/* HTTP/1.0 may omit it: no browser sends such a request. */
	struct dashfix_res r
	        = dashfix_send(port, "GET /api/status HTTP/1.0\r\n\r\n");
	cr_expect_eq(r.status, 200, "%s", r.body);
	dashfix_res_free(&r);
	r = dashfix_send(port,
	        "GET /api/status HTTP/1.0\r\nHost: evil.example\r\n\r\n");
	cr_expect_eq(r.status, 421, "%s", r.body);
	dashfix_res_free(&r);

	/* A write from another origin's page is never a success. */
	const char *cross = "Origin: http://evil.example\r\n"
	                    "Sec-Fetch-Site: cross-site\r\n"
	                    "Content-Length: 0\r\n";
	int st = status_of(port, "POST", "/api/status", own, cross);
	cr_expect(st >= 400, "POST from another origin: %d", st);
	st = status_of(port, "POST", "/api/status", "evil.example", cross);
	cr_expect(st >= 400, "POST to a rebound name: %d", st);

	/* The refusals are counted: 4 paths x 2 + HEAD + HTTP/1.0. */
	char *text = dashfix_get_prometheus(fx.http_port);
	const char *status421
	        = "clm_http_requests_total{handler=\"/api/status\",code=\"421\"}";
	cr_expect_eq(dashfix_prom_value(text, status421), 4, "%s", text);
	cr_expect_eq(
	        dashfix_prom_value(text,
	                "clm_http_requests_total{handler=\"/metrics\",code=\"421\"}"),
	        2);
	cr_expect_eq(
	        dashfix_prom_value(text,
	                "clm_http_requests_total{handler=\"/\",code=\"421\"}"),
	        2);
	free(text);
	cr_expect_eq(clmd_stop(&fx.srv), 0, "clmd did not stop cleanly");
}

Test(dashboard, host_names_are_checked_with_tokens_too)
{
	cr_assert_eq(harness_tmpdir(fx.dir), 0);
	const char *tokens
	        = test_file(fx.dir, "tokens", "# dashboard\nhunter2\n");
	chmod(tokens, 0600);
	const char *extra[] = { "--auth-token-file", tokens, NULL };
	start_with_names("0.0.0.0", extra);
	int port = fx.http_port;
	char own[64], local[64], named[64];
	snprintf(own, sizeof(own), "127.0.0.1:%d", port);
	snprintf(local, sizeof(local), "localhost:%d", port);
	snprintf(named, sizeof(named), "dash.example.test:%d", port);
	const char *bearer = "Authorization: Bearer hunter2\r\n";
	/* A good token does not make a foreign name this server's. */
	cr_expect_eq(
	        status_of(port, "GET", "/api/status", "evil.example", bearer),
	        421);
	cr_expect_eq(
	        status_of(port, "GET", "/metrics", "evil.example", bearer),
	        421);
	cr_expect_eq(status_of(port, "GET", "/", "evil.example", NULL), 421);
	/* Own names: the token decides, as before. */
	cr_expect_eq(status_of(port, "GET", "/api/status", own, bearer), 200);
	cr_expect_eq(
	        status_of(port, "GET", "/api/status", local, bearer), 200);
	cr_expect_eq(status_of(port, "GET", "/metrics", named, bearer), 200);
	cr_expect_eq(status_of(port, "GET", "/api/status", local, NULL), 401);
	cr_expect_eq(status_of(port, "GET", "/", local, NULL), 200);
	/* A scrape of the machine's address (0.0.0.0 is served). */
	cr_expect_eq(
	        status_of(port, "GET", "/metrics", "10.11.12.13:7452", bearer),
	        200);
	cr_expect_eq(clmd_stop(&fx.srv), 0, "clmd did not stop cleanly");
}

Test(dashboard, bad_allowed_hosts_are_refused_at_start)
{
	cr_assert_eq(harness_tmpdir(fx.dir), 0);
	int port = harness_free_port();
	char http[64];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *args[] = { "--http", http, "--http-allowed-hosts",
		"dash.example.test:443", NULL };
	cr_expect_neq(clmd_start(&fx.srv, NULL, args), 0,
	        "clmd started with a port in http_allowed_hosts");
	char *log = harness_read_file(fx.srv.log_path);
	cr_expect(log != NULL
	                && strstr(log,
	                        "invalid http_allowed_hosts entry 'dash.example.test:443'"),
	        "log: %s", log ? log : "(none)");
	free(log);
}

/* ---- the page in a browser ---- */

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
