/*
 * clmd that cannot listen where it is told (issue 18): a port another
 * program holds stops clmd before it creates anything, with one line that
 * names the address, and no shutdown of a half-started daemon ("requests
 * still in flight at close"). And a clmd that started has named its own
 * threads (util/thread.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "proctask.h"

HARNESS_SUITE(startup, 120);

/*
 * Runs clmd on a new data dir under a new temp dir with args, and expects
 * it to exit 1 at once with want in its stderr, the data dir never made,
 * and none of a shutdown's lines.
 */
static void
expect_refused(const char *const *args, const char *want)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	const char *argv[32] = { "clmd", "--data", data };
	int n = 3;
	for (int i = 0; args[i] != NULL && n < 31; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char *err = NULL;
	int rc = run_cmd(CLMD_BIN, argv, NULL, 20000, NULL, &err);
	cr_expect_eq(rc, 1, "clmd: exit %d (-1: still running), stderr '%s'",
	        rc, err);
	cr_expect(strstr(err, want) != NULL, "stderr '%s', want '%s'", err,
	        want);
	cr_expect(strstr(err, "address in use") != NULL, "stderr '%s'", err);
	cr_expect(strstr(err, "in flight") == NULL, "stderr '%s'", err);
	cr_expect(strstr(err, "started") == NULL, "stderr '%s'", err);
	struct stat st;
	cr_expect(stat(data, &st) != 0, "clmd made its data dir '%s'", data);
	free(err);
}

static void
start_server(void)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0,
	        "clmd did not start (log %s)", srv.log_path);
}

/* The running clmd's ports are the ones taken. */
Test(startup, listen_address_in_use)
{
	start_server();
	const char *args[] = { "--listen", srv.url, "--events", "none", NULL };
	char want[128];
	snprintf(want, sizeof(want), "cannot listen on '%s'", srv.url);
	expect_refused(args, want);
}

Test(startup, events_address_in_use)
{
	start_server();
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", harness_free_port());
	const char *args[]
	        = { "--listen", url, "--events", srv.events_url, NULL };
	char want[128];
	snprintf(want, sizeof(want), "cannot listen for events on '%s'",
	        srv.events_url);
	expect_refused(args, want);
}

Test(startup, http_address_in_use)
{
	start_server();
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", harness_free_port());
	char http[64];
	snprintf(http, sizeof(http), "127.0.0.1:%d", srv.port);
	const char *args[] = { "--listen", url, "--events", "none", "--http",
		http, NULL };
	char want[128];
	snprintf(want, sizeof(want), "cannot serve http on '%s'", http);
	expect_refused(args, want);
}

/*
 * The check closes what it opened: with every address free, clmd starts
 * and listens on them (ipc:// included, whose socket file the check made
 * and removed again).
 */
Test(startup, free_addresses_still_start)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char ipc[64];
	snprintf(ipc, sizeof(ipc), "ipc://%s/clmd.sock", dir);
	const char *args[] = { "--listen", ipc, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	clm_conn *c = NULL;
	cr_assert_eq(clm_open(ipc, 5000, &c), CLM_OK, "%s", clm_open_error());
	Clm__V1__Response *r = NULL;
	cr_expect_eq(
	        clm_server_status(c, &r), CLM_OK, "%s", clm_last_error(c));
	clm_response_free(r);
	clm_close(c);
}

/* The value of the unlabelled counter name in clmd's /metrics on port. */
static unsigned long long
metric(int port, const char *name)
{
	char *m = harness_metrics(port);
	cr_assert_not_null(m, "no /metrics on port %d", port);
	char key[96];
	snprintf(key, sizeof(key), "\n%s ", name);
	const char *at = strstr(m, key);
	cr_assert_not_null(at, "no %s in /metrics", name);
	unsigned long long v = strtoull(at + strlen(key), NULL, 10);
	free(m);
	return v;
}

/*
 * An ipc:// path a running clmd serves is found taken by a whole
 * handshake, not by nng's connect-and-close, which could stop that
 * clmd's listener (nng issue 1518) and make it listen again. Its probe
 * would notice within a look or two: after ten more looks, counted in
 * clm_ipc_probes_total, none may have found the listener stopped.
 */
Test(startup, ipc_address_in_use_leaves_the_running_clmd_alone)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char ipc[64];
	snprintf(ipc, sizeof(ipc), "ipc://%s/clmd.sock", dir);
	int port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *a_args[] = { "--listen", ipc, "--http", http, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, a_args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	const char *args[] = { "--listen", ipc, "--events", "none", NULL };
	char want[128];
	snprintf(want, sizeof(want), "cannot listen on '%s'", ipc);
	/* nng's check stopped the listener about one time in three. */
	for (int i = 0; i < 5; i++) {
		expect_refused(args, want);
	}
	unsigned long long probes = metric(port, "clm_ipc_probes_total");
	for (int ms = 0; ms < 30000
	        && metric(port, "clm_ipc_probes_total") < probes + 10;
	        ms += 50) {
		harness_sleep_ms(50);
	}
	cr_assert_geq(metric(port, "clm_ipc_probes_total"), probes + 10,
	        "the ipc probe did not run");
	cr_expect_eq(metric(port, "clm_ipc_relistens_total"), 0,
	        "the running clmd's ipc listener stopped (log %s)",
	        srv.log_path);
	clm_conn *c = NULL;
	cr_assert_eq(clm_open(ipc, 5000, &c), CLM_OK, "%s", clm_open_error());
	Clm__V1__Response *r = NULL;
	cr_expect_eq(
	        clm_server_status(c, &r), CLM_OK, "%s", clm_last_error(c));
	clm_response_free(r);
	clm_close(c);
}

/*
 * The writer and the checkpoint thread carry their names, so that top -H
 * and perf tell them apart (docs/operations.md, "Monitoring"); the
 * process keeps its own. Both start, named (thread_start), before clmd
 * listens, so a clmd that answers has them.
 */
Test(startup, threads_are_named)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0,
	        "clmd did not start (log %s)", srv.log_path);
	cr_expect(proctask_named(srv.pid, "clm:writer", NULL) == 1,
	        "no clm:writer thread");
	cr_expect(proctask_named(srv.pid, "clm:ckpt", NULL) == 1,
	        "no clm:ckpt thread");
	char path[64], comm[32] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int) srv.pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	cr_expect_str_eq(comm, "clmd\n");
}
