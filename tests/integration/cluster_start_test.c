/*
 * clmd's start in cluster mode (issue 16, docs/cluster.md): --journal
 * nats://... joins the stream on real nats-server processes (natsrv.h)
 * with the --journal-* settings, and stops cleanly; a stream nobody
 * serves, or credentials NATS refuses, stop the start with one line that
 * says so.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "natsrv.h"

HARNESS_SUITE(cluster_start, 120);

/* The NATS cluster of the test, stopped by its .fini. */
static natsrv *nats;

static void
cluster_start_fini(void)
{
	natsrv_stop(nats);
	nats = NULL;
}

/*
 * Runs clmd with args on a new data dir and expects it to exit 1 with want
 * in its stderr, and without having started.
 */
static void
expect_refused(const char *const *args, const char *want)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	const char *argv[32] = { "clmd", "--data", data, "--events", "none" };
	int n = 5;
	for (int i = 0; args[i] != NULL && n < 31; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	char *err = NULL;
	int rc = run_cmd(CLMD_BIN, argv, NULL, 30000, NULL, &err);
	cr_expect_eq(rc, 1, "clmd: exit %d (-1: still running), stderr '%s'",
	        rc, err);
	cr_expect(strstr(err, want) != NULL, "stderr '%s', want '%s'", err,
	        want);
	cr_expect(strstr(err, "started") == NULL, "stderr '%s'", err);
	free(err);
}

/* Writes text into a new file under a temp dir; its path into path. */
static void
write_file(char *path, size_t n, const char *text)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(path, n, "%s/auth", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(cluster_start, nobody_serves_the_stream)
{
	char url[64], listen[64];
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", harness_free_port());
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d",
	        harness_free_port());
	const char *args[] = { "--listen", listen, "--journal", url, NULL };
	expect_refused(args, "cannot join the stream 'CLM'");
	expect_refused(args, url);
}

Test(cluster_start, joins_the_stream_with_its_token_and_stops,
        .fini = cluster_start_fini)
{
	nats = natsrv_start(1, "authorization { token: \"s3cret\" }\n");
	cr_assert_not_null(nats);
	char good[PATH_MAX], bad[PATH_MAX];
	write_file(good, sizeof(good), "s3cret\n");
	write_file(bad, sizeof(bad), "guess\n");

	/* A token NATS refuses: the start stops, saying so. */
	char listen[64];
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d",
	        harness_free_port());
	const char *refused[] = { "--listen", listen, "--journal",
		natsrv_urls(nats), "--journal-replicas", "1",
		"--journal-auth-file", bad, NULL };
	expect_refused(refused, "cannot join the stream 'CLM'");

	/* The right one: clmd joins (and so creates) the stream and serves. */
	const char *args[] = { "--journal", natsrv_urls(nats),
		"--journal-stream", "CLM_IT", "--journal-replicas", "1",
		"--journal-auth-file", good, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	cr_assert_eq(natsrv_leader(nats, "CLM_IT", 10000), 0,
	        "no stream CLM_IT on the server");
	/* It closes the stream after the writer, and exits 0. */
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}
