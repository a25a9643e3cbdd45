/*
 * checkpoint_interval = auto, the default (docs/operations.md, "Recovery
 * time"): a checkpoint starts once the writes past the last one took the
 * writer 10 s to apply, what a crash would replay, which /metrics shows
 * (clm_checkpoint_replay_seconds); 10 s after a ForgetCustomer, as the
 * fixed interval did; and at once on SIGUSR1. The rule's arithmetic is
 * tests/unit/ckpt_auto_test.c's; this is clmd doing it.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clm/client.h"
#include "harness.h"

HARNESS_SUITE(ckpt_interval, 180);

/* The value of metric on clmd's /metrics (--http port), which has it. */
static double
metric(int port, const char *name)
{
	double v = harness_metric(port, name);
	cr_assert_geq(v, 0, "no %s on /metrics", name);
	return v;
}

/* Tracks n page views of new customers (tp_track_new); the position. */
static uint64_t
track_new(clm_conn *c, int round, size_t n)
{
	uint64_t pos = tp_track_new(c, "ci", round, n);
	cr_assert_gt(pos, 0, "track: %s", clm_last_error(c));
	return pos;
}

/* The base's position (ServerStatus). */
static uint64_t
checkpoint_position(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	uint64_t at = resp->server_status->checkpoint_position;
	clm_response_free(resp);
	return at;
}

/* Seconds (monotonic) until the base reflects pos, failing after max_s. */
static double
wait_checkpoint(clm_conn *c, uint64_t pos, int max_s)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < max_s * 100; i++) {
		if (checkpoint_position(c) >= pos) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			return (double) (t1.tv_sec - t0.tv_sec)
			        + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
		}
		harness_sleep_ms(10); /* a poll, bounded above */
	}
	cr_assert_fail("no checkpoint reached position %llu in %d s",
	        (unsigned long long) pos, max_s);
	return 0;
}

/* Starts srv, checkpoint_interval left to its default, with /metrics. */
static int
start_default(void)
{
	int port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *const args[] = { "--warm-view", "false", "--log-level",
		"info", "--http", http, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "log %s", srv.log_path);
	return port;
}

/*
 * The writes' apply time shows on /metrics and stays while clmd idles
 * (what a crash would replay does not shrink by waiting); SIGUSR1
 * checkpoints them at once, and the gauge goes back to 0.
 */
Test(ckpt_interval, sigusr1_checkpoints_what_the_journal_holds)
{
	int port = start_default();
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 30000, &c), CLM_OK);
	uint64_t pos = 0;
	for (int round = 0; round < 20; round++) {
		pos = track_new(c, round, 200);
	}
	double replay = metric(port, "clm_checkpoint_replay_seconds");
	cr_expect(replay > 0 && replay < 10,
	        "4,000 touchpoints took the writer %f s", replay);
	cr_expect_lt(checkpoint_position(c), pos,
	        "checkpointed before any reason to");
	double ckpts = metric(port, "clm_checkpoints_total");

	cr_assert_eq(kill(srv.pid, SIGUSR1), 0);
	double took = wait_checkpoint(c, pos, 60);
	cr_expect_lt(took, 30, "SIGUSR1 took %f s to checkpoint", took);
	cr_expect_gt(metric(port, "clm_checkpoints_total"), ckpts);
	cr_expect_eq(metric(port, "clm_checkpoint_replay_seconds"), 0);

	/* Alive, and its writes still go on. */
	uint64_t next = track_new(c, 100, 10);
	cr_expect_gt(next, pos);
	cr_expect_gt(metric(port, "clm_checkpoint_replay_seconds"), 0);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
	char *log = harness_read_file(srv.log_path);
	cr_assert_not_null(log);
	cr_expect(strstr(log, "received SIGUSR1: checkpointing") != NULL,
	        "log %s", srv.log_path);
	free(log);
}

/*
 * A ForgetCustomer has its checkpoint, and the journal's purge, 10 s
 * after the first write not checkpointed, as with checkpoint_interval =
 * 10, not minutes later.
 */
Test(ckpt_interval, a_forget_is_checkpointed_within_ten_seconds)
{
	int port = start_default();
	(void) port;
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 30000, &c), CLM_OK);
	track_new(c, 0, 5);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_forget(c, "ci-0-3", &resp), CLM_OK, "forget: %s",
	        clm_last_error(c));
	uint64_t pos = resp->position;
	clm_response_free(resp);
	double took = wait_checkpoint(c, pos, 90);
	cr_expect_lt(
	        took, 60, "the Forget's checkpoint came after %f s", took);
	clm_close(c);
}
