/*
 * Who may read the stage-change stream (docs/operations.md "Securing it"):
 * with auth tokens and no events URL configured, clmd publishes on an
 * owner-only ipc:// socket in the data dir and not on the old tcp://
 * default; with tokens, a tcp:// events URL needs events_unauthenticated;
 * without tokens the default is paired with the listen URL (port + 1).
 *
 * The harness passes "--events tcp://127.0.0.1:PORT
 * --events-unauthenticated true": these tests override both (a later flag
 * wins; "--events ''" asks for the default).
 */
#define _GNU_SOURCE /* setgroups */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(stream_auth, 60);

static int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Whether something accepts TCP connections on 127.0.0.1:port. */
static bool
tcp_listening(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t) port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * Subscribes to url, tracks a first page view of customer as token and
 * asserts the subscriber gets its stage/REACH event.
 */
static void
expect_stage_change(const char *url, const char *token, const char *customer)
{
	clm_watch *w = NULL;
	cr_assert_eq(clm_watch_open(url, "stage/", &w), CLM_OK,
	        "clm_watch_open %s", url);
	cr_assert_eq(clm_watch_ready(w, 20000), CLM_OK,
	        "no connection to the event stream at %s", url);
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(srv.url, 5000, &c), CLM_OK, "%s", clm_open_error());
	if (token != NULL) {
		cr_assert_eq(clm_set_token(c, token), CLM_OK);
	}
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) customer;
	tp.event_id = "e1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
	tp.channel = CLM__V1__CHANNEL__DIRECT;
	tp.occurred_at_ms = wall_ms();
	Clm__V1__Touchpoint *ptr = &tp;
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_track(c, &ptr, 1, &resp), CLM_OK, "track: %s",
	        clm_last_error(c));
	cr_assert_eq(resp->track->accepted, 1);
	clm_response_free(resp);
	char topic[64];
	Clm__V1__LifecycleEvent *ev = NULL;
	cr_assert_eq(clm_watch_next(w, 20000, topic, sizeof(topic), &ev),
	        CLM_OK, "no stage change on %s", url);
	cr_expect_str_eq(topic, "stage/REACH");
	cr_expect_str_eq(ev->customer_id, customer);
	clm_event_free(ev);
	clm_close(c);
	clm_watch_close(w);
}

Test(stream_auth, tokens_move_the_default_to_an_owner_only_ipc_socket)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "s3cret\n");
	const char *args[] = { "--auth-token-file", tokens, "--events", "",
		"--log-level", "info", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0,
	        "clmd did not start with tokens and the default events URL (log %s)",
	        srv.log_path);

	char path[PATH_MAX + 16], url[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/events.sock", srv.data_dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "no events socket at %s", path);
	cr_expect(S_ISSOCK(st.st_mode));
	cr_expect_eq(st.st_mode & 077, 0, "events socket mode %03o",
	        (unsigned) (st.st_mode & 0777));
	cr_expect(!tcp_listening(srv.port + 1),
	        "something listens on the tcp:// default 127.0.0.1:%d",
	        srv.port + 1);

	/* The one-line notice says where the stream went and how to watch. */
	char *log = harness_read_file(srv.log_path);
	cr_assert_not_null(log);
	char watch[PATH_MAX + 64];
	snprintf(watch, sizeof(watch), "clm watch --events %s", url);
	cr_expect(strstr(log, watch) != NULL, "no '%s' in the log:\n%s", watch,
	        log);
	free(log);

	expect_stage_change(url, "s3cret", "ipc-watcher");
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * The Umask: line of /proc/PID/status as a number, or -1 when there is
 * none.
 */
static long
proc_umask(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	char *status = harness_read_file(path);
	cr_assert_not_null(status, "cannot read %s", path);
	const char *line = strstr(status, "\nUmask:");
	long mask = line != NULL ? strtol(line + 7, NULL, 8) : -1;
	free(status);
	return mask;
}

/*
 * connect() to the ipc socket at path from a child running as nobody
 * (65534); returns the child's errno, 0 when it connected.
 */
static int
connect_as_nobody(const char *path)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0
		        || setuid(65534) != 0) {
			_exit(100);
		}
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(path) >= sizeof(sa.sun_path)) {
			_exit(ENAMETOOLONG);
		}
		memcpy(sa.sun_path, path, strlen(path) + 1);
		int rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
		_exit(rc == 0 ? 0 : errno);
	}
	int status = 0;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_neq(WEXITSTATUS(status), 100, "cannot become nobody");
	return WEXITSTATUS(status);
}

/*
 * Another local user cannot subscribe, even with every directory on the
 * way open to it: the socket itself is 0600. And the umask clmd runs with
 * keeps group and others out of the moment between bind() and nng's
 * chmod, whatever umask it was started with.
 */
Test(stream_auth, another_user_cannot_connect_to_the_events_socket)
{
	if (geteuid() != 0) {
		cr_skip_test("needs root to run a child as another user");
	}
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "s3cret\n");
	const char *args[]
	        = { "--auth-token-file", tokens, "--events", "", NULL };
	mode_t old = umask(0);
	int started = clmd_start(&srv, NULL, args);
	umask(old);
	cr_assert_eq(started, 0, "clmd did not start (log %s)", srv.log_path);
	long mask = proc_umask(srv.pid);
	cr_expect(mask >= 0 && (mask & 027) == 027,
	        "clmd runs with umask %03lo, want group write and others masked",
	        mask);

	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/events.sock", srv.data_dir);
	cr_assert_eq(chmod(srv.base_dir, 0755), 0);
	cr_assert_eq(chmod(srv.data_dir, 0755), 0);
	int e = connect_as_nobody(path);
	cr_expect_eq(e, EACCES, "nobody's connect to %s: %s", path,
	        e == 0 ? "it connected" : strerror(e));
	cr_assert_eq(chmod(srv.data_dir, 0750), 0);
	cr_assert_eq(chmod(srv.base_dir, 0700), 0);
	cr_assert_eq(clmd_stop(&srv), 0);
}

Test(stream_auth, tokens_and_tcp_events_need_the_opt_in)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "s3cret\n");
	char eurl[64];
	snprintf(
	        eurl, sizeof(eurl), "tcp://127.0.0.1:%d", harness_free_port());
	char listen[64];
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d",
	        harness_free_port());
	char *out = NULL, *err = NULL;
	const char *a1[] = { "clmd", "--data", dir, "--listen", listen,
		"--events", eurl, "--auth-token-file", tokens, NULL };
	cr_assert_neq(run_cmd(CLMD_BIN, a1, NULL, 10000, &out, &err), 0,
	        "clmd started with tokens and a tcp:// stream");
	cr_expect(strstr(err, eurl) != NULL, "%s", err);
	cr_expect(strstr(err, "events_unauthenticated = true") != NULL, "%s",
	        err);
	free(out);
	free(err);

	/* The harness's own opt-in dropped: refused the same way. */
	const char *a2[] = { "--auth-token-file", tokens,
		"--events-unauthenticated", "false", NULL };
	cr_assert_neq(clmd_start(&srv, NULL, a2), 0);
	memset(&srv, 0, sizeof(srv));

	/* With the opt-in it starts, and the tcp:// stream works. */
	const char *a3[] = { "--auth-token-file", tokens,
		"--events-unauthenticated", "true", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, a3), 0, "log %s", srv.log_path);
	expect_stage_change(srv.events_url, "s3cret", "tcp-watcher");
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * Without tokens the default stream pairs with the listen URL, port + 1,
 * as `clm watch` derives it. The harness picks a free listen port; the
 * next one may be taken by chance (clmd then refuses to start, naming
 * the events address), so a few tries are allowed.
 */
Test(stream_auth, without_tokens_the_default_is_the_listen_port_plus_one)
{
	const char *args[] = { "--events", "", NULL };
	int started = -1;
	for (int tries = 0; tries < 5 && started != 0; tries++) {
		started = clmd_start(&srv, NULL, args);
		if (started != 0) {
			char *log = harness_read_file(srv.log_path);
			bool taken = log != NULL
			        && strstr(log, "listen for events") != NULL;
			free(log);
			cr_assert(taken, "clmd did not start (log %s)",
			        srv.log_path);
		}
	}
	cr_assert_eq(started, 0, "no free port pair in 5 tries");
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/events.sock", srv.data_dir);
	struct stat st;
	cr_expect_neq(stat(path, &st), 0, "an events socket without tokens");
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", srv.port + 1);
	expect_stage_change(url, NULL, "tcp-default-watcher");

	cr_assert_eq(clmd_stop(&srv), 0);
}
