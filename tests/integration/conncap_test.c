/*
 * Connection cap and idle timeout (issue 15 item 6, docs/operations.md
 * "Connections"): with --max-connections 8, eight raw REQ connections are
 * served and a ninth is closed by clmd as it arrives, counted in /metrics;
 * closing one lets a new one in. With --idle-timeout, a connection without
 * requests is closed while one that keeps sending is not.
 *
 * Each connection is its own REQ socket that dials once (no reconnect) and
 * counts its pipe's ADD_POST and REM_POST, which is how the client sees
 * clmd accept or close it. Every wait is a bounded poll.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define CONNCAP_MAX     8
#define CONNCAP_WAIT_MS 30000 /* generous: a loaded machine */

HARNESS_SUITE(conncap, 240);

struct conn {
	nng_socket s;
	atomic_int added;   /* ADD_POST seen */
	atomic_int removed; /* REM_POST seen */
	bool open;
};

static void
conn_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void) p;
	struct conn *c = arg;
	atomic_fetch_add(
	        ev == NNG_PIPE_EV_ADD_POST ? &c->added : &c->removed, 1);
}

/* Dials url once, in the background; see conn_wait. */
static void
conn_dial(struct conn *c, const char *url)
{
	atomic_init(&c->added, 0);
	atomic_init(&c->removed, 0);
	cr_assert_eq(nng_req0_open(&c->s), 0);
	c->open = true;
	nng_socket_set_ms(c->s, NNG_OPT_RECONNMINT, 600000);
	nng_socket_set_ms(c->s, NNG_OPT_RECONNMAXT, 600000);
	nng_socket_set_ms(c->s, NNG_OPT_SENDTIMEO, 10000);
	nng_socket_set_ms(c->s, NNG_OPT_RECVTIMEO, 10000);
	nng_pipe_notify(c->s, NNG_PIPE_EV_ADD_POST, conn_pipe_cb, c);
	nng_pipe_notify(c->s, NNG_PIPE_EV_REM_POST, conn_pipe_cb, c);
	cr_assert_eq(nng_dial(c->s, url, NULL, NNG_FLAG_NONBLOCK), 0);
}

/* Waits up to CONNCAP_WAIT_MS for *counter to reach 1. */
static bool
conn_wait(atomic_int *counter)
{
	for (int ms = 0; ms < CONNCAP_WAIT_MS; ms += 5) {
		if (atomic_load(counter) > 0) {
			return true;
		}
		harness_sleep_ms(5);
	}
	return atomic_load(counter) > 0;
}

static void
conn_close(struct conn *c)
{
	if (c->open) {
		nng_close(c->s);
		c->open = false;
	}
}

/* Sends a ServerStatus on c and returns whether a reply came. */
static bool
conn_request(struct conn *c)
{
	Clm__V1__StatusRequest st = CLM__V1__STATUS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "conncap";
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &st;
	unsigned char buf[64];
	size_t n = clm__v1__request__pack(&req, buf);
	nng_msg *msg = NULL;
	if (nng_send(c->s, buf, n, 0) != 0
	        || nng_recvmsg(c->s, &msg, 0) != 0) {
		return false;
	}
	nng_msg_free(msg);
	return true;
}

/* Waits up to CONNCAP_WAIT_MS for /metrics to hold the line `want`. */
static void
metrics_wait(int port, const char *want)
{
	char line[256];
	snprintf(line, sizeof(line), "\n%s\n", want);
	char *m = NULL;
	for (int ms = 0; ms < CONNCAP_WAIT_MS; ms += 50) {
		free(m);
		m = harness_metrics(port);
		cr_assert_not_null(m, "no /metrics on port %d", port);
		if (strstr(m, line) != NULL) {
			free(m);
			return;
		}
		harness_sleep_ms(50);
	}
	cr_assert_fail("no '%s' in /metrics:\n%s", want, m);
}

/*
 * Waits up to CONNCAP_WAIT_MS for the sample `series` of /metrics to reach
 * at least min; returns its value.
 */
static unsigned long long
metrics_wait_min(int port, const char *series, unsigned long long min)
{
	char key[256];
	snprintf(key, sizeof(key), "\n%s ", series);
	unsigned long long v = 0;
	for (int ms = 0; ms < CONNCAP_WAIT_MS; ms += 50) {
		char *m = harness_metrics(port);
		cr_assert_not_null(m, "no /metrics on port %d", port);
		const char *at = strstr(m, key);
		v = at != NULL ? strtoull(at + strlen(key), NULL, 10) : 0;
		free(m);
		if (v >= min) {
			return v;
		}
		harness_sleep_ms(50);
	}
	cr_assert_fail("%s stayed at %llu, under %llu", series, v, min);
	return v;
}

static int
start_clmd(const char *max, const char *idle)
{
	int port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *args[] = { "--max-connections", max, "--idle-timeout",
		idle, "--http", http, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "clmd did not start");
	/* The harness's readiness probe has gone. */
	metrics_wait(port, "clm_connections{listener=\"rpc\"} 0");
	return port;
}

Test(conncap, past_the_cap_is_refused_and_counted)
{
	int port = start_clmd("8", "0");
	struct conn c[CONNCAP_MAX + 2];
	for (int i = 0; i < CONNCAP_MAX; i++) {
		conn_dial(&c[i], srv.url);
		cr_assert(conn_wait(&c[i].added), "connection %d not up", i);
		cr_assert(conn_request(&c[i]), "connection %d not served", i);
	}
	metrics_wait(port, "clm_connections{listener=\"rpc\"} 8");

	struct conn *over = &c[CONNCAP_MAX];
	conn_dial(over, srv.url);
	cr_assert(conn_wait(&over->removed),
	        "the connection past the cap was not closed");
	/* Closed before a slot frees, so that its dialer cannot take it. */
	conn_close(over);
	unsigned long long refused = metrics_wait_min(
	        port, "clm_connections_refused_total{listener=\"rpc\"}", 1);
	for (int i = 0; i < CONNCAP_MAX; i++) {
		cr_assert_eq(atomic_load(&c[i].removed), 0);
		cr_assert(conn_request(&c[i]), "connection %d not served", i);
	}

	conn_close(&c[0]);
	metrics_wait(port, "clm_connections{listener=\"rpc\"} 7");
	/*
	 * Under the cap from here: the count to compare with is taken now,
	 * not while at the cap, when a connection from elsewhere is rightly
	 * refused (CI once counted one more between the two).
	 */
	refused = metrics_wait_min(port,
	        "clm_connections_refused_total{listener=\"rpc\"}", refused);
	struct conn *again = &c[CONNCAP_MAX + 1];
	conn_dial(again, srv.url);
	cr_assert(conn_wait(&again->added));
	cr_assert(conn_request(again), "a freed slot was not reused");
	cr_assert_eq(atomic_load(&again->removed), 0);
	metrics_wait(port, "clm_connections{listener=\"rpc\"} 8");
	cr_assert_eq(metrics_wait_min(port,
	                     "clm_connections_refused_total{listener=\"rpc\"}",
	                     refused),
	        refused, "a connection under the cap was refused");

	for (int i = 0; i < CONNCAP_MAX + 2; i++) {
		conn_close(&c[i]);
	}
	cr_assert_eq(clmd_stop(&srv), 0, "clmd did not exit 0 (log %s)",
	        srv.log_path);
}

Test(conncap, idle_connection_is_closed_busy_one_is_not)
{
	int port = start_clmd("8", "3");
	struct conn idle, busy;
	conn_dial(&idle, srv.url);
	conn_dial(&busy, srv.url);
	cr_assert(conn_wait(&idle.added));
	cr_assert(conn_wait(&busy.added));
	cr_assert(conn_request(&idle));
	/*
	 * Busy sends a request every 200 ms (well under the 3 s timeout)
	 * until idle has been closed, for up to CONNCAP_WAIT_MS.
	 */
	int requests = 0;
	for (int ms = 0;
	        ms < CONNCAP_WAIT_MS && atomic_load(&idle.removed) == 0;
	        ms += 200) {
		cr_assert(conn_request(&busy), "busy request %d failed",
		        requests);
		requests++;
		harness_sleep_ms(200);
	}
	cr_assert_gt(atomic_load(&idle.removed), 0,
	        "the idle connection was not closed");
	cr_assert_eq(atomic_load(&busy.removed), 0,
	        "the busy connection was closed after %d requests", requests);
	/* Closed before its dialer tries again. */
	conn_close(&idle);
	/*
	 * The counters, read while busy goes on sending (else it too
	 * would go idle while the test waits).
	 */
	bool counted = false;
	char *m = NULL;
	for (int ms = 0; ms < CONNCAP_WAIT_MS && !counted; ms += 200) {
		cr_assert(conn_request(&busy), "busy request %d failed",
		        requests);
		requests++;
		free(m);
		m = harness_metrics(port);
		cr_assert_not_null(m, "no /metrics on port %d", port);
		counted = strstr(m,
		                  "\nclm_connections_closed_idle_total{listener=\"rpc\"} 1\n")
		                != NULL
		        && strstr(m, "\nclm_connections{listener=\"rpc\"} 1\n")
		                != NULL;
		if (!counted) {
			harness_sleep_ms(200);
		}
	}
	cr_assert(counted, "the idle close is not in /metrics:\n%s", m);
	free(m);
	cr_assert_eq(atomic_load(&busy.removed), 0);
	conn_close(&busy);
	cr_assert_eq(clmd_stop(&srv), 0, "clmd did not exit 0 (log %s)",
	        srv.log_path);
}

Test(conncap, warns_when_the_fd_limit_is_below_the_cap)
{
	/* clmd inherits the limit; 256 files are plenty for it otherwise. */
	struct rlimit rl = { 256, 256 };
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	const char *args[] = { "--max-connections", "1000", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "clmd did not start");
	char *log = harness_read_file(srv.log_path);
	cr_assert_not_null(log);
	cr_assert_not_null(
	        strstr(log, "exceeds the open file limit 256"), "%s", log);
	free(log);
	cr_assert_eq(clmd_stop(&srv), 0);
}
