/*
 * Who the dashboard of `clmd --http` answers:
 *
 *   - with auth tokens, a non-loopback address is allowed and the data
 *     endpoints need the bearer token; without tokens it is refused;
 *   - only its own host names are answered (DNS rebinding): the listen
 *     address, loopback names and http_allowed_hosts; any other Host is
 *     421 (counted in /metrics), with a good token too, and a write from
 *     another origin's page is never a success;
 *   - an http_allowed_hosts entry with a port is refused at start.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "dashfix.h"
#include "harness.h"

/* The fixture of the test running (Criterion forks each test). */
DASHFIX_SUITE(dashboard, 240);

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
