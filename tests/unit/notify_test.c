/*
 * Unit tests of server/net/notify.c: each notification arrives as one datagram
 * on the socket $NOTIFY_SOCKET names (a path or an '@' abstract name);
 * without $NOTIFY_SOCKET nothing is sent; a socket that is missing, not
 * supported or not reading never fails nor hangs the caller.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "net/notify.h"

struct receiver {
	int fd;
	char dir[64];
	char path[128];
};

static struct receiver rx = { .fd = -1 };

static void
teardown(void)
{
	if (rx.fd >= 0) {
		close(rx.fd);
		rx.fd = -1;
	}
	if (rx.path[0] != '\0' && rx.path[0] != '@') {
		unlink(rx.path);
	}
	if (rx.dir[0] != '\0') {
		rmdir(rx.dir);
	}
	memset(&rx, 0, sizeof(rx));
	rx.fd = -1;
	unsetenv("NOTIFY_SOCKET");
}

TestSuite(notify, .fini = teardown, .timeout = 30);

/* A datagram socket waiting for at most 2 s per receive. */
static int
receiver_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	struct timeval tv = { .tv_sec = 2 };
	cr_assert_eq(
	        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

/* Binds rx to a path in a new temp dir and points NOTIFY_SOCKET at it. */
static void
listen_path(void)
{
	snprintf(rx.dir, sizeof(rx.dir), "/tmp/clm-notify-XXXXXX");
	cr_assert_not_null(mkdtemp(rx.dir));
	snprintf(rx.path, sizeof(rx.path), "%s/notify", rx.dir);
	rx.fd = receiver_socket();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, rx.path);
	cr_assert_eq(bind(rx.fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	        "bind %s: %s", rx.path, strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", rx.path, 1), 0);
}

/* Binds rx to an abstract name and sets NOTIFY_SOCKET to "@name". */
static void
listen_abstract(void)
{
	snprintf(rx.path, sizeof(rx.path), "@clm-notify-test-%ld-%ld",
	        (long) getpid(), (long) time(NULL));
	rx.fd = receiver_socket();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(rx.path);
	memcpy(sa.sun_path, rx.path, len);
	sa.sun_path[0] = '\0';
	socklen_t salen
	        = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + len);
	cr_assert_eq(bind(rx.fd, (struct sockaddr *) &sa, salen), 0,
	        "bind %s: %s", rx.path, strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", rx.path, 1), 0);
}

/* The next datagram, NUL-terminated, into buf. */
static void
receive(char *buf, size_t len)
{
	ssize_t n = recv(rx.fd, buf, len - 1, 0);
	cr_assert_geq(n, 0, "no datagram: %s", strerror(errno));
	buf[n] = '\0';
}

/* Whether a datagram is waiting (without waiting for one). */
static bool
pending(void)
{
	char buf[16];
	ssize_t n = recv(rx.fd, buf, sizeof(buf), MSG_DONTWAIT);
	return n >= 0;
}

Test(notify, ready_sends_ready_and_mainpid)
{
	listen_path();
	cr_assert(notify_ready());
	char got[256], want[64];
	receive(got, sizeof(got));
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%ld", (long) getpid());
	cr_expect_str_eq(got, want);
	cr_expect_not(pending(), "one datagram per notification");
}

Test(notify, stopping_sends_stopping)
{
	listen_path();
	cr_assert(notify_stopping());
	char got[256];
	receive(got, sizeof(got));
	cr_expect_str_eq(got, "STOPPING=1");
}

Test(notify, status_is_formatted_and_one_line)
{
	listen_path();
	cr_assert(notify_status("serving %d listeners on %s", 2, "tcp"));
	char got[256];
	receive(got, sizeof(got));
	cr_expect_str_eq(got, "STATUS=serving 2 listeners on tcp");
	cr_assert(notify_status("first line\nREADY=1"));
	receive(got, sizeof(got));
	cr_expect_str_eq(got, "STATUS=first line");
}

Test(notify, status_too_long_is_not_sent)
{
	listen_path();
	char *big = malloc(8192);
	cr_assert_not_null(big);
	memset(big, 'x', 8191);
	big[8191] = '\0';
	cr_expect_not(notify_status("%s", big));
	free(big);
	cr_expect_not(pending());
}

Test(notify, messages_arrive_in_order)
{
	listen_path();
	cr_assert(notify_ready());
	cr_assert(notify_status("draining"));
	cr_assert(notify_stopping());
	char got[256];
	receive(got, sizeof(got));
	cr_expect(strncmp(got, "READY=1\n", 8) == 0, "'%s'", got);
	receive(got, sizeof(got));
	cr_expect_str_eq(got, "STATUS=draining");
	receive(got, sizeof(got));
	cr_expect_str_eq(got, "STOPPING=1");
}

Test(notify, abstract_socket)
{
	listen_abstract();
	cr_assert(notify_ready(), "NOTIFY_SOCKET=%s", rx.path);
	char got[256];
	receive(got, sizeof(got));
	cr_expect(strncmp(got, "READY=1\nMAINPID=", 16) == 0, "'%s'", got);
	cr_assert(notify_stopping());
	receive(got, sizeof(got));
	cr_expect_str_eq(got, "STOPPING=1");
}

Test(notify, unset_is_a_noop)
{
	listen_path();
	unsetenv("NOTIFY_SOCKET");
	errno = 1234;
	cr_expect_not(notify_ready());
	cr_expect_not(notify_stopping());
	cr_expect_not(notify_status("x"));
	cr_expect_eq(errno, 1234, "errno changed to %d", errno);
	cr_expect_not(pending(), "something was sent without NOTIFY_SOCKET");
	/* An empty value is the same as none. */
	cr_assert_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
	cr_expect_not(notify_ready());
	cr_expect_not(pending());
}

Test(notify, bad_socket_does_not_fail)
{
	static const char *const bad[] = {
		"/nonexistent-dir/notify", /* no such socket */
		"relative/notify",         /* neither a path nor '@' */
		"vsock:2:1234",            /* a transport not supported */
		"@",                       /* an empty abstract name */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(setenv("NOTIFY_SOCKET", bad[i], 1), 0);
		errno = 4321;
		cr_expect_not(notify_ready(), "'%s'", bad[i]);
		cr_expect_not(notify_stopping(), "'%s'", bad[i]);
		cr_expect_eq(errno, 4321, "'%s': errno %d", bad[i], errno);
	}
	/* A path longer than sun_path. */
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	cr_assert_eq(setenv("NOTIFY_SOCKET", longpath, 1), 0);
	cr_expect_not(notify_ready());
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * A receiver that never reads: once its queue is full, a notification
 * gives up after NOTIFY_SEND_TIMEOUT_MS instead of blocking clmd.
 */
Test(notify, full_queue_does_not_hang)
{
	listen_path();
	int sent = 0;
	double slowest = 0;
	bool failed = false;
	while (sent < 100000 && !failed) {
		double t0 = now_s();
		failed = !notify_stopping();
		double dt = now_s() - t0;
		if (dt > slowest) {
			slowest = dt;
		}
		sent += !failed;
	}
	cr_expect(failed, "the queue never filled (%d sent)", sent);
	cr_expect_gt(sent, 0);
	cr_expect_lt(slowest, NOTIFY_SEND_TIMEOUT_MS / 1000.0 + 2.0,
	        "a notification blocked for %.1f s", slowest);
}
