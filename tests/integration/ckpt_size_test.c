/*
 * checkpoint_bytes = auto, the default (docs/operations.md, "Recovery
 * time"): clmd sizes its overlays for the view it opens, and grows them
 * once a checkpoint makes the view cross the next size while it runs. A
 * view just under 384 MiB (data.mdb padded with a table clmd does not
 * know) gets 64M, so overlay files of 136 MiB; once writes and their
 * checkpoints take it past 384 MiB, 128M, and the overlay taking the
 * writes grows to 264 MiB. An explicit size is kept as given.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clm/client.h"
#include "harness.h"

HARNESS_SUITE(ckpt_size, 240);

#define MIB (1024LL * 1024)

/* The size of DATA/overlay/NAME, -1 when it is not there. */
static long long
overlay_size(const char *data, const char *name)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/overlay/%s", data, name);
	struct stat st;
	return stat(path, &st) == 0 ? (long long) st.st_size : -1;
}

/*
 * Makes data.mdb's used pages reach view bytes, with one value in a table
 * of its own (clmd stopped): what auto sizes the overlays for.
 */
static void
pad_view(const char *data, long long view)
{
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, (size_t) (view + 64 * MIB)), 0);
	cr_assert_eq(mdb_env_open(env, data, MDB_NOSYNC, 0600), 0);
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &ms);
	long long used = (long long) (info.me_last_pgno + 1) * ms.ms_psize;
	/* A value of n bytes takes (n + 16) / psize overflow pages, rounded
	 * up. */
	long long n = view - used - 16 * ms.ms_psize;
	cr_assert_gt(n, 0);
	MDB_txn *txn;
	MDB_dbi dbi;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "test_pad", MDB_CREATE, &dbi), 0);
	MDB_val k = { 3, "pad" }, v = { (size_t) n, NULL };
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, MDB_RESERVE), 0);
	memset(v.mv_data, 0x5a, v.mv_size);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_eq(mdb_env_sync(env, 1), 0);
	mdb_env_info(env, &info);
	used = (long long) (info.me_last_pgno + 1) * ms.ms_psize;
	cr_assert(used <= view && used > view - 64 * ms.ms_psize,
	        "view %lld, want just under %lld", used, view);
	mdb_env_close(env);
}

/* Tracks n page views of new customers (tp_track_new); the position. */
static uint64_t
track_new(clm_conn *c, int round, size_t n)
{
	uint64_t pos = tp_track_new(c, "cs", round, n);
	cr_assert_gt(pos, 0, "track: %s", clm_last_error(c));
	return pos;
}

/* Waits (up to 30 s) until the base reflects position pos. */
static void
wait_checkpoint(clm_conn *c, uint64_t pos)
{
	for (int i = 0; i < 3000; i++) {
		Clm__V1__Response *resp = NULL;
		cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
		uint64_t at = resp->server_status->checkpoint_position;
		clm_response_free(resp);
		if (at >= pos) {
			return;
		}
		harness_sleep_ms(10); /* a poll, bounded above */
	}
	cr_assert_fail("no checkpoint reached position %llu in 30 s",
	        (unsigned long long) pos);
}

/* The value of clm_checkpoint_bytes on clmd's /metrics (--http port). */
static long long
checkpoint_bytes_metric(int port)
{
	double v = harness_metric(port, "clm_checkpoint_bytes");
	cr_assert_geq(v, 0, "no clm_checkpoint_bytes on /metrics");
	return (long long) v;
}

/* Whether clmd's log has line, waiting up to ms for it. */
static bool
log_has(const char *line, int ms)
{
	for (int i = 0; i <= ms / 10; i++) {
		char *log = harness_read_file(srv.log_path);
		cr_assert_not_null(log);
		bool has = strstr(log, line) != NULL;
		free(log);
		if (has) {
			return true;
		}
		if (i < ms / 10) {
			harness_sleep_ms(10); /* a poll, bounded above */
		}
	}
	return false;
}

/*
 * Starts srv on data (NULL: a new dir) with the default checkpoint_bytes,
 * checkpoints only when the test sends SIGUSR1 (an interval of an hour:
 * none of its own between two writes of the test), info lines in the log
 * and /metrics on a free port, which it returns.
 */
static int
start_auto(const char *data)
{
	int port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *const args[]
	        = { "--warm-view", "false", "--checkpoint-interval", "3600",
		          "--log-level", "info", "--http", http, NULL };
	cr_assert_eq(clmd_start(&srv, data, args), 0, "log %s", srv.log_path);
	return port;
}

Test(ckpt_size, overlays_follow_the_view)
{
	int port = start_auto(NULL);
	cr_expect_eq(checkpoint_bytes_metric(port), 64 * MIB);
	cr_expect_eq(overlay_size(srv.data_dir, "a.mdb"), 136 * MIB);
	cr_expect_eq(overlay_size(srv.data_dir, "b.mdb"), 136 * MIB);
	cr_assert_eq(clmd_stop(&srv), 0);

	pad_view(srv.data_dir, 384 * MIB);
	port = start_auto(srv.data_dir);
	cr_expect_eq(overlay_size(srv.data_dir, "a.mdb"), 136 * MIB);
	cr_expect_eq(overlay_size(srv.data_dir, "b.mdb"), 136 * MIB);

	/* Writes, checkpointed, until the view crosses 384 MiB. */
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 30000, &c), CLM_OK);
	bool grown = false;
	for (int round = 0; round < 40 && !grown; round++) {
		uint64_t pos = track_new(c, round, 500);
		cr_assert_eq(kill(srv.pid, SIGUSR1), 0);
		wait_checkpoint(c, pos);
		/*
		 * The next batch finds the view grown (writer_ckpt_due, after
		 * its reply); the reply to the one after it comes once the
		 * writer has done so, and no checkpoint swapped the overlays
		 * between the two.
		 */
		track_new(c, 1000 + round, 1);
		track_new(c, 2000 + round, 1);
		grown = log_has("checkpoint_bytes auto: 128 MiB", 0);
	}
	cr_assert(grown, "the view never crossed 384 MiB (log %s)",
	        srv.log_path);
	cr_assert(log_has("overlay map grown from 142606336 to 276824064", 0),
	        "no overlay grown to 264 MiB (log %s)", srv.log_path);
	cr_expect_eq(checkpoint_bytes_metric(port), 128 * MIB);
	long long a = overlay_size(srv.data_dir, "a.mdb");
	long long b = overlay_size(srv.data_dir, "b.mdb");
	cr_expect((a == 264 * MIB) != (b == 264 * MIB),
	        "one overlay grown to 264 MiB, the other not yet: %lld, %lld",
	        a, b);
	/* And it keeps working: a write, read back. */
	track_new(c, 5000, 10);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_get_customer(c, "cs-5000-9", 0, &resp), CLM_OK);
	clm_response_free(resp);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);

	/* A restart sizes both for the view it opens. */
	port = start_auto(srv.data_dir);
	cr_expect_eq(checkpoint_bytes_metric(port), 128 * MIB);
	cr_expect_eq(overlay_size(srv.data_dir, "a.mdb"), 264 * MIB);
	cr_expect_eq(overlay_size(srv.data_dir, "b.mdb"), 264 * MIB);
}

Test(ckpt_size, an_explicit_size_is_kept)
{
	static const char *const args[]
	        = { "--warm-view", "false", "--checkpoint-bytes", "4M", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "log %s", srv.log_path);
	cr_expect_eq(overlay_size(srv.data_dir, "a.mdb"), 16 * MIB);
	cr_expect_eq(overlay_size(srv.data_dir, "b.mdb"), 16 * MIB);
}
