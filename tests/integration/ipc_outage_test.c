/*
 * IPC listener outage (issue 15 item 8, docs/operations.md "Unix
 * sockets"): nng 1.5.2's IPC listener stops accepting after a peer
 * connects and closes during the handshake (nng issue 1518). While a
 * thread does a bare connect() + close() on clmd's ipc:// socket every
 * IPC_BARE_MS, the test tracks IPC_CALLS touchpoints, one call every
 * IPC_PACE_MS, each on a new connection (as the clm CLI makes them) with an
 * IPC_TIMEOUT_MS deadline and one retry. Every call must get through, and
 * clmd must hold every touchpoint. /metrics shows that the listener did
 * stop accepting, and was started again.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define IPC_CALLS      70
#define IPC_PACE_MS    100
#define IPC_BARE_MS    500
#define IPC_TIMEOUT_MS 1000

HARNESS_SUITE(ipc_outage, 120);

struct bare {
	const char *path;
	atomic_bool stop;
	atomic_int n; /* connects made */
};

/* Connects to the socket and closes at once, until told to stop. */
static void *
bare_main(void *arg)
{
	struct bare *b = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->path);
	while (!atomic_load(&b->stop)) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd >= 0) {
			if (connect(fd, (struct sockaddr *) &sa, sizeof(sa))
			        == 0) {
				atomic_fetch_add(&b->n, 1);
			}
			close(fd);
		}
		harness_sleep_ms(IPC_BARE_MS);
	}
	return NULL;
}

/*
 * nng 1.5.2 never frees a listener that stopped accepting (nng issue
 * 1518): closing it leaves the connections it negotiated but never handed
 * over in its endpoint, which waits for them for good (docs/operations.md
 * "Unix sockets"). Under LeakSanitizer clmd would then exit 1 for memory
 * that only nng holds: leaks allocated inside libnng are ignored here,
 * through a suppressions file in dir for the clmd this test starts.
 */
static void
lsan_ignore_nng(const char *dir)
{
	char supp[64];
	snprintf(supp, sizeof(supp), "%s/lsan.supp", dir);
	FILE *f = fopen(supp, "w");
	cr_assert_not_null(f);
	fputs("leak:libnng.so\n", f);
	fclose(f);
	const char *old = getenv("LSAN_OPTIONS");
	char opts[256];
	snprintf(opts, sizeof(opts), "%s%ssuppressions=%s",
	        old != NULL ? old : "",
	        old != NULL && old[0] != '\0' ? ":" : "", supp);
	cr_assert_eq(setenv("LSAN_OPTIONS", opts, 1), 0);
}

/* One Track on a new connection; CLM_OK, or why it failed. */
static clm_err
track_once(const char *url, int i)
{
	clm_conn *c;
	clm_err e = clm_open(url, IPC_TIMEOUT_MS, &c);
	if (e != CLM_OK) {
		return e;
	}
	char eid[32];
	snprintf(eid, sizeof(eid), "ipc-%d", i);
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "ipc-outage";
	tp.event_id = eid;
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *tps[] = { &tp };
	Clm__V1__Response *resp = NULL;
	e = clm_track(c, tps, 1, &resp);
	clm_response_free(resp);
	clm_close(c);
	return e;
}

Test(ipc_outage, bare_connects_lose_no_call)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char sock[64], url[80];
	snprintf(sock, sizeof(sock), "%s/clmd.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", sock);
	int port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *args[] = { "--listen", url, "--http", http, NULL };
	lsan_ignore_nng(dir);
	cr_assert_eq(clmd_start(&srv, NULL, args), 0);

	struct bare b = { .path = sock };
	atomic_init(&b.stop, false);
	atomic_init(&b.n, 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, bare_main, &b), 0);
	int failed = 0, retried = 0;
	int64_t slowest = 0;
	for (int i = 0; i < IPC_CALLS; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		clm_err e = track_once(url, i);
		clm_err first = e;
		if (e == CLM_UNAVAILABLE || e == CLM_DEADLINE_EXCEEDED) {
			retried++;
			e = track_once(url, i);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000
		        + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		slowest = ms > slowest ? ms : slowest;
		if (ms > IPC_TIMEOUT_MS / 2) {
			cr_log_info("call %d: %lld ms (%s)", i, (long long) ms,
			        clm_errname(first));
		}
		if (e != CLM_OK) {
			failed++;
			cr_log_warn("call %d failed after a retry: %s", i,
			        clm_errname(e));
		}
		harness_sleep_ms(IPC_PACE_MS);
	}
	atomic_store(&b.stop, true);
	pthread_join(t, NULL);
	/* The bare connects did stop the listener, and clmd noticed. */
	char *m = harness_metrics(port);
	cr_assert_not_null(m, "no /metrics on port %d", port);
	const char *at = strstr(m, "\nclm_ipc_relistens_total ");
	unsigned long long relistens = 0;
	bool counted = at != NULL
	        && sscanf(at, " clm_ipc_relistens_total %llu", &relistens)
	                == 1;
	free(m);
	cr_log_info("%d of %d calls failed, %d retried, slowest %lld ms; "
	            "%d bare connects, listened again %llu times",
	        failed, IPC_CALLS, retried, (long long) slowest,
	        atomic_load(&b.n), relistens);
	cr_assert_gt(atomic_load(&b.n),
	        IPC_CALLS * IPC_PACE_MS / IPC_BARE_MS / 2,
	        "the bare connects did not happen");
	cr_expect(counted, "no clm_ipc_relistens_total in /metrics");
	cr_expect_geq(relistens, 1, "the listener never stopped accepting");
	cr_expect_eq(failed, 0, "%d of %d calls failed (%d retried)", failed,
	        IPC_CALLS, retried);

	/* Every call's touchpoint is there, each once. */
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 10000, &c), CLM_OK);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	cr_expect_eq(resp->server_status->touchpoints, IPC_CALLS);
	clm_response_free(resp);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}
