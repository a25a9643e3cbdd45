/*
 * A really full disk (docs/operations.md "Durability and failures"): writes
 * get RESOURCE_EXHAUSTED ("disk full: ..."), never UNAVAILABLE, which
 * clients retry at once; nothing acknowledged is lost; reads keep working;
 * writes resume by themselves once space is freed.
 *
 * No fault shim: clmd's data dir is a real 32 MiB tmpfs, mounted by the
 * test (it runs as root; where the mount is refused the test is skipped).
 * clmd starts with the smallest map (64 KiB), so the map grows by doubling
 * as checkpoints fill it, and the smallest overlay (checkpoint_bytes 1M).
 * After a few acknowledged writes a file fills the filesystem but for some
 * room (192 KiB, none, 2 MiB: one test each), and writes go on until
 * several in a row fail: the journal's append (ENOSPC) or a checkpoint
 * into LMDB, whose commit cut short comes back as EIO on this tmpfs, both
 * refuse writes. Every refusal must be RESOURCE_EXHAUSTED "disk full:
 * ...", never UNAVAILABLE; reads must go on showing exactly what was
 * acknowledged. Then, with the filler deleted and no restart, a new write
 * and a refused one are accepted (nothing of the refused one was stored;
 * the client backs off while clmd retries its checkpoint), and after a
 * restart every acknowledged event is there exactly once, and the stopped
 * store is walked entry by entry.
 * What clmd logged about the full disk is printed.
 *
 * The fini fixture stops clmd (by its pid) before it unmounts, so a failed
 * assertion leaves no mount behind.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "flow.h"
#include "harness.h"

/* 2024-01-01T00:00:00Z: in the past on any clock. */
#define DISKFULL_T0       1704067200000LL
#define DISKFULL_CALL_MS  10000
#define DISKFULL_BATCH    16
#define DISKFULL_BEFORE   8    /* acknowledged batches before the filler */
#define DISKFULL_MAX      4000 /* batches tried at most while filling */
#define DISKFULL_REFUSALS 5    /* refused in a row: the disk is full */

static struct clmd_proc srv;
static char df_dir[32];
static char df_mnt[64];
static char df_data[80];
static char df_filler[80];
static bool df_mounted;

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	df_mounted = false;
	cr_assert_eq(harness_tmpdir(df_dir), 0);
	snprintf(df_mnt, sizeof(df_mnt), "%s/mnt", df_dir);
	/* The data dir is the mount, so clmd.log goes in df_dir, not on it. */
	snprintf(df_data, sizeof(df_data), "%s", df_mnt);
	snprintf(df_filler, sizeof(df_filler), "%s/filler", df_mnt);
	cr_assert_eq(mkdir(df_mnt, 0700), 0);
}

static void
teardown(void)
{
	/* clmd first: a process with files open on it keeps a mount busy. */
	clmd_cleanup(&srv);
	if (df_mounted && umount2(df_mnt, 0) != 0) {
		fprintf(stderr, "diskfull: umount '%s': %s; detaching\n",
		        df_mnt, strerror(errno));
		umount2(df_mnt, MNT_DETACH);
	}
	harness_fini();
}

TestSuite(diskfull, .init = setup, .fini = teardown, .timeout = 180);

/* Touchpoints with the storage of their strings. */
struct batch {
	Clm__V1__Touchpoint tp[DISKFULL_BATCH];
	Clm__V1__Touchpoint *ptr[DISKFULL_BATCH];
	char eid[DISKFULL_BATCH][48];
	char cid[32];
};

/* Batch i: one new customer c-I with DISKFULL_BATCH events e-I-K. */
static void
batch_make(struct batch *b, int i)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->cid, sizeof(b->cid), "c-%d", i);
	for (size_t k = 0; k < DISKFULL_BATCH; k++) {
		Clm__V1__Touchpoint *tp = &b->tp[k];
		clm__v1__touchpoint__init(tp);
		snprintf(b->eid[k], sizeof(b->eid[k]), "e-%d-%zu", i, k);
		tp->event_id = b->eid[k];
		tp->customer_id = b->cid;
		tp->type = k % 2 == 0 ? CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
		                      : CLM__V1__TOUCHPOINT_TYPE__EMAIL_OPEN;
		tp->channel = CLM__V1__CHANNEL__EMAIL;
		tp->occurred_at_ms = DISKFULL_T0 + (int64_t) k * 60000;
		tp->campaign = "diskfull, a campaign with a rather long name";
		b->ptr[k] = tp;
	}
}

/*
 * Tracks batch i. Returns its status; on OK the batch was accepted whole
 * (want_accepted) or as duplicates; on an error there is no result.
 */
static clm_err
track(clm_conn *c, int i, bool want_accepted, char *msg, size_t msglen)
{
	struct batch b;
	batch_make(&b, i);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b.ptr, DISKFULL_BATCH, &resp);
	cr_assert_not_null(resp, "track batch %d: no answer: %s (%s)", i,
	        clm_errname(e), clm_last_error(c));
	snprintf(msg, msglen, "%s",
	        resp->status != NULL && resp->status->message != NULL
	                ? resp->status->message
	                : "");
	if (e == CLM_OK) {
		cr_assert_not_null(resp->track);
		cr_assert_eq(resp->track->n_rejected, 0);
		cr_assert_eq(resp->track->accepted,
		        want_accepted ? DISKFULL_BATCH : 0,
		        "batch %d: %u accepted, %u duplicates", i,
		        resp->track->accepted, resp->track->duplicates);
		cr_assert_eq(resp->track->duplicates,
		        want_accepted ? 0 : DISKFULL_BATCH);
	} else {
		cr_assert_null(resp->track, "a failed write has no result");
	}
	clm_response_free(resp);
	return e;
}

/* Tracks batch i, which must succeed. */
static void
track_ok(clm_conn *c, int i, bool want_accepted)
{
	char msg[512];
	clm_err e = track(c, i, want_accepted, msg, sizeof(msg));
	cr_assert_eq(
	        e, CLM_OK, "track batch %d: %s (%s)", i, clm_errname(e), msg);
}

/*
 * track_ok once the disk has room again: a refused write means back off
 * and retry (docs/api.md), and clmd retries a failed checkpoint once a
 * second, so this retries RESOURCE_EXHAUSTED for up to 30 s.
 */
static void
track_ok_after_backoff(clm_conn *c, int i)
{
	char msg[512];
	clm_err e = CLM_OK;
	for (int tries = 0; tries < 300; tries++) {
		e = track(c, i, true, msg, sizeof(msg));
		if (e != CLM_RESOURCE_EXHAUSTED) {
			break;
		}
		harness_sleep_ms(100); /* between polls: retry, back off */
	}
	cr_assert_eq(
	        e, CLM_OK, "track batch %d: %s (%s)", i, clm_errname(e), msg);
}

/* The touchpoints GetCustomer counts for batch i's customer (0: unknown). */
static uint64_t
customer_touches(clm_conn *c, int i)
{
	char id[32];
	snprintf(id, sizeof(id), "c-%d", i);
	return flow_customer_touches(c, id);
}

static clm_conn *
connect_to(void)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(srv.url, DISKFULL_CALL_MS, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv.url, clm_open_error());
	return c;
}

static void
start_server(void)
{
	/* The two overlays take 2 x (2 x 1M + 8M) of the 32 MiB
	 * (docs/operations.md). */
	const char *args[] = { "--map-bytes", "64K", "--checkpoint-bytes",
		"1M", "--log-level", "info", NULL };
	int rc = clmd_start(&srv, df_data, args);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

/*
 * Fills the filesystem with the filler file, then gives back room bytes of
 * it: with a little room, the commit that runs out of it is cut short
 * halfway (EIO); with none, it is refused whole (ENOSPC).
 */
static void
fill_disk(off_t room)
{
	static char chunk[64 * 1024];
	memset(chunk, 'x', sizeof(chunk));
	int fd = open(
	        df_filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(
	        fd, 0, "cannot create '%s': %s", df_filler, strerror(errno));
	off_t size = 0;
	for (;;) {
		ssize_t n = write(fd, chunk, sizeof(chunk));
		if (n <= 0) {
			cr_assert(n < 0 && errno == ENOSPC, "filling '%s': %s",
			        df_filler, strerror(errno));
			break;
		}
		size += n;
	}
	struct statvfs st;
	cr_assert_eq(fstatvfs(fd, &st), 0);
	cr_assert_lt(st.f_bfree * st.f_frsize, 64 * 1024,
	        "the filesystem is not full after the filler");
	cr_assert_gt(size, room);
	cr_assert_eq(ftruncate(fd, size - room), 0);
	cr_assert_eq(close(fd), 0);
	fprintf(stderr, "diskfull: filler of %lld bytes\n",
	        (long long) (size - room));
}

/* Prints the first lines of clmd's log that mention the full disk. */
static void
print_log(void)
{
	char *log = harness_read_file(srv.log_path);
	if (log == NULL) {
		return;
	}
	int shown = 0;
	for (char *line = strtok(log, "\n"); line != NULL && shown < 12;
	        line = strtok(NULL, "\n")) {
		if (strstr(line, "disk full") != NULL
		        || strstr(line, "map grown") != NULL
		        || strstr(line, "cannot") != NULL) {
			fprintf(stderr, "diskfull: clmd: %s\n", line);
			shown++;
		}
	}
	free(log);
}

/*
 * Walks every named database of the stopped clmd's store read-only, entry
 * by entry, so that a failed commit that damaged a page shows; touchpoints
 * and event_ids must both hold want entries.
 */
static void
assert_store_sound(uint64_t want)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_db;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	int rc = mdb_env_open(env, df_data, MDB_RDONLY, 0);
	cr_assert_eq(rc, 0, "open '%s': %s", df_data, mdb_strerror(rc));
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_db), 0);
	MDB_cursor *names;
	cr_assert_eq(mdb_cursor_open(txn, main_db, &names), 0);
	MDB_val k, v;
	size_t tps = SIZE_MAX, ids = SIZE_MAX;
	for (rc = mdb_cursor_get(names, &k, &v, MDB_FIRST); rc == 0;
	        rc = mdb_cursor_get(names, &k, &v, MDB_NEXT)) {
		char name[64];
		cr_assert(k.mv_size > 0 && k.mv_size < sizeof(name));
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		MDB_dbi dbi;
		MDB_stat st;
		MDB_cursor *cur;
		cr_assert_eq(
		        mdb_dbi_open(txn, name, 0, &dbi), 0, "'%s'", name);
		cr_assert_eq(mdb_stat(txn, dbi, &st), 0);
		cr_assert_eq(mdb_cursor_open(txn, dbi, &cur), 0);
		size_t n = 0;
		int crc;
		MDB_val ek, ev;
		for (crc = mdb_cursor_get(cur, &ek, &ev, MDB_FIRST); crc == 0;
		        crc = mdb_cursor_get(cur, &ek, &ev, MDB_NEXT)) {
			n++;
		}
		mdb_cursor_close(cur);
		cr_assert(crc == MDB_NOTFOUND && n == st.ms_entries,
		        "database '%s' is damaged: '%s' after %zu of %zu "
		        "entries",
		        name, mdb_strerror(crc), n, st.ms_entries);
		if (strcmp(name, "touchpoints") == 0) {
			tps = n;
		} else if (strcmp(name, "event_ids") == 0) {
			ids = n;
		}
	}
	mdb_cursor_close(names);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	cr_assert_eq(tps, want, "touchpoints holds %zu, want %llu", tps,
	        (unsigned long long) want);
	cr_assert_eq(ids, want, "event_ids holds %zu, want %llu", ids,
	        (unsigned long long) want);
}

static void
diskfull_scenario(off_t room)
{
	if (mount("tmpfs", df_mnt, "tmpfs", 0, "size=32m,mode=0700") != 0) {
		cr_skip_test("cannot mount a tmpfs on '%s' (%s): needs root "
		             "and a system that allows mounts",
		        df_mnt, strerror(errno));
	}
	df_mounted = true;
	start_server();
	clm_conn *c = connect_to();

	/* Before: acknowledged batches, with room to spare. */
	static bool ok[DISKFULL_MAX + 1]; /* batch i was acknowledged */
	int next = 0, last_ok = -1;
	uint64_t acked = 0;
	for (; next < DISKFULL_BEFORE; next++) {
		track_ok(c, next, true);
		ok[next] = true;
		last_ok = next;
		acked++;
	}

	/*
	 * The disk fills: every write is acknowledged (and counted) or gets
	 * RESOURCE_EXHAUSTED "disk full", never anything else. An OK after a
	 * refusal is allowed (a smaller commit may fit) but must be kept.
	 */
	fill_disk(room);
	int refused_in_a_row = 0, first_refused = -1, last_refused = -1;
	int refusals = 0;
	char msg[512];
	for (; next < DISKFULL_MAX && refused_in_a_row < DISKFULL_REFUSALS;
	        next++) {
		clm_err e = track(c, next, true, msg, sizeof(msg));
		if (e == CLM_OK) {
			ok[next] = true;
			last_ok = next;
			acked++;
			refused_in_a_row = 0;
			continue;
		}
		cr_assert_eq(e, CLM_RESOURCE_EXHAUSTED,
		        "batch %d on a full disk: got %s (%s), want "
		        "RESOURCE_EXHAUSTED",
		        next, clm_errname(e), msg);
		cr_assert(strncmp(msg, "disk full: ", 11) == 0
		                && strstr(msg, "nothing was written") != NULL,
		        "batch %d: message '%s'", next, msg);
		if (first_refused < 0) {
			first_refused = next;
		}
		last_refused = next;
		refusals++;
		refused_in_a_row++;
	}
	cr_assert_eq(refused_in_a_row, DISKFULL_REFUSALS,
	        "%d batches and the disk never filled", next);
	fprintf(stderr, "diskfull: %llu batches acknowledged, %d refused\n",
	        (unsigned long long) acked, refusals);

	/* Reads keep working and show exactly what was acknowledged. */
	cr_assert_eq(flow_touchpoints(c), acked * DISKFULL_BATCH);
	cr_assert_eq(customer_touches(c, 0), DISKFULL_BATCH);
	cr_assert_eq(customer_touches(c, last_ok), DISKFULL_BATCH);
	cr_assert_eq(customer_touches(c, first_refused), 0,
	        "a refused write created a customer");
	cr_assert_eq(customer_touches(c, last_refused), 0,
	        "a refused write created a customer");

	/* Space is back: writes resume without a restart. */
	cr_assert_eq(unlink(df_filler), 0);
	track_ok_after_backoff(c, first_refused); /* none of it was stored */
	track_ok(c, next, true);
	ok[first_refused] = ok[next] = true;
	acked += 2;
	cr_assert_eq(flow_touchpoints(c), acked * DISKFULL_BATCH);
	clm_close(c);
	print_log();

	/*
	 * After a restart every acknowledged batch is there exactly once
	 * (all duplicates), and one refused and never retried is not.
	 */
	cr_assert_eq(clmd_stop(&srv), 0, "clmd did not stop cleanly (log %s)",
	        srv.log_path);
	start_server();
	c = connect_to();
	cr_assert_eq(flow_touchpoints(c), acked * DISKFULL_BATCH);
	for (int i = 0; i <= next; i++) {
		if (ok[i]) {
			track_ok(c, i, false);
		}
	}
	cr_assert_eq(flow_touchpoints(c), acked * DISKFULL_BATCH);
	if (last_refused != first_refused) {
		track_ok(c, last_refused, true);
	}
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
	assert_store_sound(
	        (acked + (last_refused != first_refused)) * DISKFULL_BATCH);
}

/* A commit cut short by the full disk: LMDB says EIO. */
Test(diskfull, commit_cut_short_is_resource_exhausted)
{
	diskfull_scenario(192 * 1024);
}

/* No room at all: LMDB says ENOSPC. */
Test(diskfull, no_room_is_resource_exhausted)
{
	diskfull_scenario(0);
}

/* More room than the map: it doubles (to 4 MiB) while the disk fills. */
Test(diskfull, map_grows_until_the_disk_is_full)
{
	diskfull_scenario(2048 * 1024);
}
