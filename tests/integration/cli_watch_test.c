/*
 * clm watch finds the event stream from --url (docs/operations.md "The clm
 * command line"): tcp://HOST:PORT publishes on PORT + 1, ipc://DIR/NAME on
 * ipc://DIR/events.sock (the owner-only socket of a clmd with auth tokens
 * whose data dir is DIR); with a token and a tcp:// URL it cannot tell and
 * says so (exit 2); and it exits 3 when nothing listens, within --timeout.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(cli_watch, 120);

/* A `clm watch --count 1` run in a thread, and whether it has ended. */
struct watcher {
	pthread_t t;
	const char *const *argv;
	struct cli_output o;
	atomic_bool done;
};

static void *
watcher_main(void *arg)
{
	struct watcher *w = arg;
	w->o = cli_run(w->argv, NULL);
	atomic_store(&w->done, true);
	return NULL;
}

/*
 * Runs argv (a `clm watch --count 1`) and, until it ends, tracks a new
 * customer every 200 ms through url (with token when not NULL): the
 * watcher subscribes at some moment this side cannot see, so events are
 * made until one reaches it (bounded by run_cli's 20 s). Returns what the
 * watcher printed.
 */
static struct cli_output
watch_while_tracking(
        const char *const *argv, const char *url, const char *token)
{
	static struct watcher w;
	memset(&w, 0, sizeof(w));
	w.argv = argv;
	cr_assert_eq(pthread_create(&w.t, NULL, watcher_main, &w), 0);
	clm_conn *c = NULL;
	cr_assert_eq(clm_open(url, 5000, &c), CLM_OK, "%s", clm_open_error());
	if (token != NULL) {
		cr_assert_eq(clm_set_token(c, token), CLM_OK);
	}
	for (int i = 0; i < 150 && !atomic_load(&w.done); i++) {
		char id[32];
		snprintf(id, sizeof(id), "watched-%d", i);
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		Clm__V1__Touchpoint *ptr[1] = { &tp };
		tp.customer_id = id;
		tp.type = CLM__V1__TOUCHPOINT_TYPE__SIGNUP;
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_track(c, ptr, 1, &resp);
		cr_expect_eq(e, CLM_OK, "track: %s", clm_last_error(c));
		clm_response_free(resp);
		harness_sleep_ms(200);
	}
	clm_close(c);
	pthread_join(w.t, NULL);
	return w.o;
}

Test(cli_watch, events_url_is_the_rpc_port_plus_one)
{
	/* Two ports in a row, free: retried while the second is taken. */
	char url[64], events[64];
	int rc = -1;
	for (int tries = 0; tries < 20 && rc != 0; tries++) {
		int port = harness_free_port();
		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
		snprintf(events, sizeof(events), "tcp://127.0.0.1:%d",
		        port + 1);
		const char *args[]
		        = { "--listen", url, "--events", events, NULL };
		rc = clmd_start(&srv, NULL, args);
	}
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
	const char *argv[] = { "--url", url, "watch", "--count", "1", NULL };
	struct cli_output o = watch_while_tracking(argv, url, NULL);
	cr_expect_eq(o.rc, 0, "watch: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "watched-") != NULL, "stdout '%s'", o.out);
	cli_output_free(&o);
}

Test(cli_watch, ipc_url_finds_the_owner_only_stream_of_a_clmd_with_tokens)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "s3cret\n");
	char data[64], url[96];
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(url, sizeof(url), "ipc://%s/clmd.sock", data);
	/* "--events" "": clmd's default, ipc://DATA/events.sock. */
	const char *args[] = { "--auth-token-file", tokens, "--events", "",
		"--events-unauthenticated", "false", "--listen", url, NULL };
	cr_assert_eq(clmd_start(&srv, data, args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	const char *argv[] = { "--url", url, "--token", "s3cret", "watch",
		"--count", "1", NULL };
	struct cli_output o = watch_while_tracking(argv, url, "s3cret");
	cr_expect_eq(o.rc, 0, "watch: exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.out, "watched-") != NULL, "stdout '%s'", o.out);
	cli_output_free(&o);

	/* With a token, a tcp:// URL does not tell where DATA is. */
	const char *tcp[]
	        = { "--url", srv.url, "--token", "s3cret", "watch", NULL };
	o = cli_run(tcp, NULL);
	cr_expect_eq(o.rc, 2, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "ipc://DATA/events.sock") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}

Test(cli_watch, nothing_listening_exits_3)
{
	char url[64], events[64];
	int port = harness_free_port();
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	snprintf(events, sizeof(events), "tcp://127.0.0.1:%d", port + 1);
	const char *argv[]
	        = { "--url", url, "--timeout", "1000", "watch", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 3, "exit %d (-1: did not end), stderr '%s'", o.rc,
	        o.err);
	cr_expect(strstr(o.err, events) != NULL, "stderr '%s', want '%s'",
	        o.err, events);
	cli_output_free(&o);

	/* An explicit --events wins over the derived one. */
	const char *given[] = { "--url", url, "--timeout", "1000", "watch",
		"--events", "ipc:///nonexistent/clm-events.sock", NULL };
	o = cli_run(given, NULL);
	cr_expect_eq(o.rc, 3, "exit %d, stderr '%s'", o.rc, o.err);
	cr_expect(strstr(o.err, "ipc:///nonexistent/clm-events.sock") != NULL,
	        "stderr '%s'", o.err);
	cli_output_free(&o);
}
