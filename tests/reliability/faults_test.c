/*
 * Disk errors without a restart (docs/operations.md "Durability and
 * failures": a commit's ENOSPC → RESOURCE_EXHAUSTED, EIO → UNAVAILABLE,
 * never an ack; MDB_PANIC → exit non-zero).
 *
 * clmd runs with the faultfs shim preloaded (tests/reliability/faultfs.c):
 * while the flag file in the test dir says "ENOSPC" or "EIO", every write
 * (or, with "sync", every fsync) of data.mdb and of the journal's segments
 * fails with that error: the journal's commit, which every acknowledgement
 * waits for, and the checkpoints into data.mdb. Each
 * scenario checks, with the fault on:
 *
 *   - Track gets the mapped error status, never OK, and no result;
 *   - reads keep working: ServerStatus and GetCustomer answer, and show
 *     nothing of the refused writes;
 *
 * and with the fault off again, without a restart: writes succeed, the
 * refused events are new (accepted, not duplicates: nothing was applied),
 * and the data acknowledged before the fault is intact. Finally clmd
 * stops cleanly and restarts without the shim: every acknowledged event
 * is there exactly once (re-tracked, all duplicates; the touchpoint count
 * is exact) and an event refused and never retried is not (re-tracked,
 * accepted).
 *
 * The same faults also come and go while four client threads Track
 * (group commit batches several requests into each failing commit); every
 * reply must be OK or the mapped error, and after a restart every OK batch
 * is stored and every refused one is not. After each scenario the stopped
 * store is walked with LMDB read-only (every named database and the
 * freelist, entry by entry), so a failed commit that damaged a page shows.
 *
 * LMDB 0.9.24 fails a commit cleanly when a data page write or the data sync
 * fails, but marks the environment fatal when the meta-page write fails (after
 * the data was synced): the next transaction then gets MDB_PANIC and clmd
 * exits 70, which docs/operations.md "Durability and failures" allows. The
 * sequential scenarios never reach the meta write; under load a fault that
 * begins during a commit's data sync does. Whenever clmd stops answering, the
 * test requires a non-zero exit status, then a clean restart and nothing
 * acknowledged lost. The behaviour seen is printed.
 *
 * Under AddressSanitizer the shim is preloaded ahead of the ASan runtime,
 * which ASan refuses unless verify_asan_link_order=0: the test adds that to
 * ASAN_OPTIONS for clmd (harmless without ASan).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow.h"
#include "harness.h"

#ifndef FAULTFS_LIB
#error "FAULTFS_LIB must be defined (absolute path of libclm_faultfs.so)"
#endif

/* 2024-01-01T00:00:00Z: in the past on any clock. */
#define FAULTS_T0      1704067200000LL
#define FAULTS_CALL_MS 5000
#define FAULTS_BATCH   8
#define FAULTS_THREADS 4
#define FAULTS_TOGGLES 6  /* fault on / off rounds under load */
#define FAULTS_PHASE   40 /* ms per half round */
#define FAULTS_ERR_LEN 512
#define FAULTS_BIG     512 /* touchpoints per checking Track */

static struct clmd_proc srv;
static char faults_dir[32];
static char faults_flag[64];

static void
setup(void)
{
	memset(&srv, 0, sizeof(srv));
	cr_assert_eq(harness_tmpdir(faults_dir), 0);
	snprintf(faults_flag, sizeof(faults_flag), "%s/fault", faults_dir);
}

static void
teardown(void)
{
	clmd_cleanup(&srv);
	harness_fini();
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

/* Touchpoints with the storage of their strings. */
struct batch {
	Clm__V1__Touchpoint tp[FAULTS_BATCH];
	Clm__V1__Touchpoint *ptr[FAULTS_BATCH];
	char eid[FAULTS_BATCH][48];
	size_t n;
};

/* The same, big enough to re-track many requests at once. */
struct big_batch {
	Clm__V1__Touchpoint tp[FAULTS_BIG];
	Clm__V1__Touchpoint *ptr[FAULTS_BIG];
	char eid[FAULTS_BIG][48];
	size_t n;
};

/* A batch of n touchpoints of customer, event ids PREFIX-0 .. PREFIX-n-1. */
static void
batch_make(struct batch *b, const char *customer, const char *prefix, size_t n)
{
	cr_assert_leq(n, FAULTS_BATCH);
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		Clm__V1__Touchpoint *tp = &b->tp[i];
		clm__v1__touchpoint__init(tp);
		snprintf(b->eid[i], sizeof(b->eid[i]), "%s-%zu", prefix, i);
		tp->event_id = b->eid[i];
		tp->customer_id = (char *) customer;
		tp->type = i % 2 == 0 ? CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
		                      : CLM__V1__TOUCHPOINT_TYPE__EMAIL_OPEN;
		tp->channel = CLM__V1__CHANNEL__EMAIL;
		tp->occurred_at_ms = FAULTS_T0 + (int64_t) i * 60000;
		tp->campaign = "faults";
		b->ptr[i] = tp;
	}
	b->n = n;
}

static void
flag_set(const char *content)
{
	cr_assert_eq(harness_write_file(faults_flag, content), 0,
	        "cannot write '%s'", faults_flag);
}

static void
flag_clear(void)
{
	cr_assert(unlink(faults_flag) == 0 || errno == ENOENT);
}

/*
 * Starts clmd on DIR/data, with the shim preloaded when faulty. The
 * environment is changed for the fork only: the test process itself and
 * the CLI it may run never load the shim.
 */
static void
start_server(bool faulty)
{
	char data[64];
	snprintf(data, sizeof(data), "%s/data", faults_dir);
	if (!faulty) {
		int rc = clmd_start(&srv, data, NULL);
		cr_assert_eq(
		        rc, 0, "clmd did not start (log %s)", srv.log_path);
		return;
	}
	char flag[sizeof(faults_flag) + 32];
	snprintf(flag, sizeof(flag), "CLM_FAULTFS_FLAG=%s", faults_flag);
	const char *const env[] = { flag, NULL };
	int rc = clmd_start_preloaded(&srv, data, NULL, FAULTFS_LIB, env);
	cr_assert_eq(rc, 0, "clmd with faultfs did not start (log %s)",
	        srv.log_path);
}

static clm_conn *
connect_to(void)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(srv.url, FAULTS_CALL_MS, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv.url, clm_open_error());
	return c;
}

/* Tracks b; asserts OK without rejects; returns accepted. */
static uint32_t
track_ok(clm_conn *c, struct batch *b)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b->ptr, b->n, &resp);
	cr_assert_eq(e, CLM_OK, "track %s..: %s (%s)", b->eid[0],
	        clm_errname(e), clm_last_error(c));
	cr_assert_not_null(resp->track);
	cr_assert_eq(resp->track->n_rejected, 0);
	cr_assert_eq(resp->track->accepted + resp->track->duplicates, b->n);
	uint32_t acc = resp->track->accepted;
	clm_response_free(resp);
	return acc;
}

/* Whether the export of id lists event_id. */
static bool
exported(clm_conn *c, const char *id, const char *event_id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_export(c, id, &resp);
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND, "export '%s': %s (%s)",
	        id, clm_errname(e), clm_last_error(c));
	bool found = false;
	for (size_t i = 0;
	        e == CLM_OK && i < resp->export_customer->n_touchpoints; i++) {
		found = found
		        || strcmp(resp->export_customer->touchpoints[i]
		                           ->event_id,
		                   event_id)
		                == 0;
	}
	clm_response_free(resp);
	return found;
}

/*
 * Tracks b with the fault on. Returns true when clmd answered with the
 * expected error (and no result), false when it gave no answer because it
 * exited (MDB_PANIC); anything else fails the test.
 */
static bool
track_refused(clm_conn *c, struct batch *b, clm_err want)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b->ptr, b->n, &resp);
	if (resp == NULL) {
		cr_assert(e == CLM_DEADLINE_EXCEEDED || e == CLM_UNAVAILABLE,
		        "track under a disk fault: %s (%s)", clm_errname(e),
		        clm_last_error(c));
		return false;
	}
	cr_assert_eq(e, want,
	        "track %s.. under a disk fault: got %s (%s), want %s",
	        b->eid[0], clm_errname(e),
	        resp->status ? resp->status->message : "", clm_errname(want));
	cr_assert_null(resp->track, "a failed write has no result");
	cr_assert(strstr(resp->status->message, "nothing was written") != NULL,
	        "message '%s' does not say nothing was written",
	        resp->status->message);
	clm_response_free(resp);
	return true;
}

/* Walks every entry of dbi; false with err set when LMDB objects. */
static bool
walk_db(MDB_txn *txn, MDB_dbi dbi, const char *name, size_t *entries,
        char *err, size_t errlen)
{
	MDB_stat st;
	MDB_cursor *cur;
	int rc = mdb_stat(txn, dbi, &st);
	if (rc == 0) {
		rc = mdb_cursor_open(txn, dbi, &cur);
	}
	if (rc != 0) {
		snprintf(err, errlen, "database '%s': %s", name,
		        mdb_strerror(rc));
		return false;
	}
	size_t n = 0;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND || n != st.ms_entries) {
		snprintf(err, errlen,
		        "database '%s': walk ended with '%s' after %zu of %zu entries",
		        name, mdb_strerror(rc), n, st.ms_entries);
		return false;
	}
	*entries = n;
	return true;
}

/*
 * Opens the stopped clmd's store read-only and walks the freelist and
 * every named database; event_ids and touchpoints must both hold want.
 */
static void
assert_store_sound(uint64_t want)
{
	char dir[64], err[FAULTS_ERR_LEN] = "";
	snprintf(dir, sizeof(dir), "%s/data", faults_dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_db;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 64), 0);
	int rc = mdb_env_open(env, dir, MDB_RDONLY, 0);
	cr_assert_eq(rc, 0, "open '%s': %s", dir, mdb_strerror(rc));
	cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &main_db), 0);
	size_t n, ids = SIZE_MAX, tps = SIZE_MAX;
	bool ok = walk_db(txn, 0, "(freelist)", &n, err, sizeof(err));
	MDB_cursor *cur;
	cr_assert_eq(mdb_cursor_open(txn, main_db, &cur), 0);
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); ok && rc == 0;
	        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[64];
		MDB_dbi dbi;
		cr_assert(k.mv_size > 0 && k.mv_size < sizeof(name));
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		int drc = mdb_dbi_open(txn, name, 0, &dbi);
		cr_assert_eq(
		        drc, 0, "database '%s': %s", name, mdb_strerror(drc));
		ok = walk_db(txn, dbi, name, &n, err, sizeof(err));
		if (strcmp(name, "event_ids") == 0) {
			ids = n;
		} else if (strcmp(name, "touchpoints") == 0) {
			tps = n;
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	cr_assert(ok, "the store is damaged: %s", err);
	cr_assert_eq(ids, want, "event_ids holds %zu, want %llu", ids,
	        (unsigned long long) want);
	cr_assert_eq(tps, want, "touchpoints holds %zu, want %llu", tps,
	        (unsigned long long) want);
}

/* ---------------------------------------------------------------------- */
/* The scenario                                                           */

static void
fault_scenario(const char *fault, clm_err want)
{
	start_server(true);
	clm_conn *c = connect_to();

	/* Before: acknowledged data for two customers. */
	struct batch a, b, d, e;
	batch_make(&a, "alice", "a", 5);
	cr_assert_eq(track_ok(c, &a), 5);
	batch_make(&b, "bob", "b0", 1);
	cr_assert_eq(track_ok(c, &b), 1);
	uint64_t base = flow_touchpoints(c);
	cr_assert_eq(base, 6);
	cr_assert_eq(flow_customer_touches(c, "alice"), 5);

	/* The fault: writes fail with the mapped code, reads still work. */
	flag_set(fault);
	struct batch r1, r2;
	batch_make(&r1, "alice", "r1", 3);    /* retried after the fault */
	batch_make(&r2, "carol", "never", 2); /* refused and never retried */
	bool answered = track_refused(c, &r1, want);
	const char *seen;
	if (answered) {
		cr_assert(track_refused(c, &r2, want),
		        "clmd stopped answering at the second refused write");
		for (int i = 0; i < 3; i++) {
			/* Repeated failures leave the store usable. */
			cr_assert(track_refused(c, &r1, want));
		}
		cr_assert_eq(flow_touchpoints(c), base,
		        "refused writes are counted");
		cr_assert_eq(flow_customer_touches(c, "alice"), 5);
		cr_assert_eq(flow_customer_touches(c, "carol"), 0,
		        "a refused write created a customer");
		cr_assert(!exported(c, "alice", "r1-0"));
		cr_assert(exported(c, "alice", "a-4"));

		/* No restart: writes work again once the disk does. */
		flag_clear();
		cr_assert_eq(track_ok(c, &r1), 3,
		        "a refused write was applied after all");
		batch_make(&d, "bob", "d", 4);
		cr_assert_eq(track_ok(c, &d), 4);
		cr_assert_eq(flow_touchpoints(c), base + 7);
		cr_assert_eq(flow_customer_touches(c, "alice"), 8);
		cr_assert_eq(flow_customer_touches(c, "bob"), 5);
		cr_assert(exported(c, "alice", "r1-2"));
		seen = "clmd answered and kept serving";
	} else {
		/* clmd exited; docs/operations.md allows it for MDB_PANIC. */
		flag_clear();
		int st = clmd_stop(&srv);
		cr_assert_neq(st, 0, "clmd stopped answering but exits 0");
		seen = "clmd exited (MDB_PANIC)";
		fprintf(stderr, "faults: '%s': clmd exited with %d\n", fault,
		        st);
	}
	fprintf(stderr, "faults: '%s': %s\n", fault, seen);
	if (answered) {
		clm_close(c);
		cr_assert_eq(clmd_stop(&srv), 0, "clean stop after the fault");
	}
	/* Otherwise c is left open: see load_worker_main. */

	/* A clean restart without the shim: exactly what was acknowledged. */
	start_server(false);
	c = connect_to();
	uint64_t want_n = answered ? base + 7 : base;
	cr_assert_eq(flow_touchpoints(c), want_n, "after the restart");
	cr_assert_eq(track_ok(c, &a), 0, "acknowledged events were lost");
	cr_assert_eq(track_ok(c, &b), 0, "acknowledged events were lost");
	if (answered) {
		cr_assert_eq(track_ok(c, &r1), 0);
		cr_assert_eq(track_ok(c, &d), 0);
	}
	cr_assert_eq(flow_customer_touches(c, "carol"), 0);
	cr_assert_eq(track_ok(c, &r2), 2,
	        "an event refused under the fault was stored");
	batch_make(&e, "dave", "e", 2);
	cr_assert_eq(track_ok(c, &e), 2);
	cr_assert_eq(flow_touchpoints(c), want_n + 4);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
	assert_store_sound(want_n + 4);
}

Test(faults, enospc_is_resource_exhausted_and_recovers)
{
	fault_scenario("ENOSPC", CLM_RESOURCE_EXHAUSTED);
}

Test(faults, eio_is_unavailable_and_recovers)
{
	fault_scenario("EIO", CLM_UNAVAILABLE);
}

/* The disk takes the pages but the flush fails (fsync EIO). */
Test(faults, fsync_eio_is_unavailable_and_recovers)
{
	fault_scenario("EIO sync", CLM_UNAVAILABLE);
}

/* The same with ENOSPC at flush time (thin provisioning, NFS). */
Test(faults, fsync_enospc_is_resource_exhausted_and_recovers)
{
	fault_scenario("ENOSPC sync", CLM_RESOURCE_EXHAUSTED);
}

/* ---------------------------------------------------------------------- */
/* Faults that come and go under load                                     */

enum load_fate { LOAD_OK, LOAD_REFUSED, LOAD_UNKNOWN };

/* One Track of a worker: events L-THREAD-first .. first + n - 1. */
struct load_req {
	uint32_t first;
	uint8_t n;
	uint8_t fate;
};

struct load_worker {
	pthread_t thread;
	char url[64]; /* of the clmd of its round */
	unsigned id;
	clm_err want; /* the fault's code */
	atomic_bool *stop;
	struct load_req *log;
	size_t n_log, cap_log;
	unsigned ok, refused, unknown, bad;
	char first_bad[FAULTS_ERR_LEN];
};

/*
 * Appends events first .. first + n - 1 of worker id to the n_tp
 * touchpoints at tp (with eid their ids' storage).
 */
static void
load_fill(Clm__V1__Touchpoint *tp, Clm__V1__Touchpoint **ptr, char (*eid)[48],
        unsigned id, uint32_t first, size_t n)
{
	static const char *const customers[]
	        = { "lc-0", "lc-1", "lc-2", "lc-3", "lc-4", "lc-5" };
	for (size_t i = 0; i < n; i++) {
		uint32_t seq = first + (uint32_t) i;
		clm__v1__touchpoint__init(&tp[i]);
		snprintf(
		        eid[i], sizeof(eid[i]), "L-%u-%u", id, (unsigned) seq);
		tp[i].event_id = eid[i];
		tp[i].customer_id = (char *) customers[(seq * 7 + id) % 6];
		tp[i].type = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
		tp[i].channel = CLM__V1__CHANNEL__DIRECT;
		tp[i].occurred_at_ms = FAULTS_T0 + (int64_t) seq * 1000;
		ptr[i] = &tp[i];
	}
}

static void
load_batch(struct batch *b, unsigned id, uint32_t first, size_t n)
{
	load_fill(b->tp, b->ptr, b->eid, id, first, n);
	b->n = n;
}

static void
load_bad(struct load_worker *w, const char *what)
{
	if (w->bad++ == 0) {
		snprintf(w->first_bad, sizeof(w->first_bad), "%s", what);
	}
}

static void *
load_worker_main(void *arg)
{
	struct load_worker *w = arg;
	clm_conn *c;
	if (clm_open(w->url, FAULTS_CALL_MS, &c) != CLM_OK) {
		load_bad(w, clm_open_error());
		return NULL;
	}
	uint32_t seq = 0;
	while (!atomic_load(w->stop)) {
		struct batch b;
		size_t n = 1 + (seq + w->id) % 4;
		load_batch(&b, w->id, seq, n);
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_track(c, b.ptr, n, &resp);
		struct load_req q = { .first = seq, .n = (uint8_t) n };
		char why[FAULTS_ERR_LEN];
		if (resp == NULL) {
			q.fate = LOAD_UNKNOWN; /* clmd exited (MDB_PANIC) */
		} else if (e == CLM_OK) {
			q.fate = LOAD_OK;
			if (resp->track == NULL
			        || resp->track->accepted != n) {
				snprintf(why, sizeof(why),
				        "%s..: OK but accepted %u of %zu",
				        b.eid[0],
				        resp->track ? resp->track->accepted
				                    : 0,
				        n);
				load_bad(w, why);
			}
		} else {
			q.fate = LOAD_REFUSED;
			if (e != w->want || resp->track != NULL) {
				snprintf(why, sizeof(why), "%s..: %s (%s)",
				        b.eid[0], clm_errname(e),
				        resp->status->message);
				load_bad(w, why);
			}
		}
		clm_response_free(resp);
		w->ok += q.fate == LOAD_OK;
		w->refused += q.fate == LOAD_REFUSED;
		w->unknown += q.fate == LOAD_UNKNOWN;
		if (w->n_log == w->cap_log) {
			size_t cap = w->cap_log ? w->cap_log * 2 : 256;
			struct load_req *v = realloc(w->log, cap * sizeof(*v));
			if (v == NULL) {
				load_bad(w, "out of memory");
				break;
			}
			w->log = v;
			w->cap_log = cap;
		}
		w->log[w->n_log++] = q;
		seq += (uint32_t) n;
		if (q.fate == LOAD_UNKNOWN) {
			break;
		}
	}
	/*
	 * nng 1.5.2's close can hang for good while the socket redials a
	 * peer that is gone (issues 1543, 1813): then the connection is left
	 * open, for the test process's exit to reclaim.
	 */
	if (w->unknown == 0) {
		clm_close(c);
	}
	return NULL;
}

/* Tracks b (requests of one fate) and empties it; returns duplicates. */
static uint64_t
load_flush(clm_conn *c, struct big_batch *b, enum load_fate fate)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, b->ptr, b->n, &resp);
	cr_assert_eq(e, CLM_OK, "re-track %s..: %s (%s)", b->eid[0],
	        clm_errname(e), clm_last_error(c));
	const Clm__V1__TrackReply *t = resp->track;
	cr_assert_eq(t->n_rejected, 0);
	cr_assert_eq(t->accepted + t->duplicates, b->n);
	if (fate == LOAD_OK) {
		cr_assert_eq(t->accepted, 0,
		        "%u acknowledged events among %s.. were lost",
		        t->accepted, b->eid[0]);
	} else if (fate == LOAD_UNKNOWN) {
		cr_assert(t->accepted == 0 || t->accepted == b->n,
		        "torn batch %s..: %u of %zu stored", b->eid[0],
		        t->duplicates, b->n);
	}
	uint64_t dups = t->duplicates;
	clm_response_free(resp);
	b->n = 0;
	return dups;
}

/*
 * Re-tracks every request of the workers w[rounds][FAULTS_THREADS] that
 * ended with fate, and returns how many of their events were already
 * stored. Acknowledged ones must all be (none accepted), refused ones
 * none; an unanswered one is re-tracked alone, and must be all or none.
 */
static uint64_t
load_retrack(clm_conn *c, struct load_worker (*w)[FAULTS_THREADS],
        enum load_fate fate, unsigned rounds)
{
	static struct big_batch b;
	uint64_t stored = 0;
	b.n = 0;
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < FAULTS_THREADS; i++) {
			const struct load_worker *lw = &w[r][i];
			for (size_t k = 0; k < lw->n_log; k++) {
				const struct load_req *q = &lw->log[k];
				if (q->fate != fate) {
					continue;
				}
				load_fill(b.tp + b.n, b.ptr + b.n, b.eid + b.n,
				        lw->id, q->first, q->n);
				b.n += q->n;
				bool flush = fate == LOAD_UNKNOWN
				        || b.n + FAULTS_BATCH > FAULTS_BIG;
				if (flush) {
					stored += load_flush(c, &b, fate);
				}
			}
		}
	}
	return stored + (b.n > 0 ? load_flush(c, &b, fate) : 0);
}

/* Whether process pid has exited (a zombie nobody reaped yet). */
static bool
load_exited(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return true;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')'); /* "PID (comm) STATE ..." */
	return paren == NULL || paren[1] == '\0' || paren[2] == 'Z'
	        || paren[2] == 'X';
}

/* One round of load: its workers and how clmd ended. */
struct load_round {
	struct load_worker w[FAULTS_THREADS];
	int exit_status;
	bool joined;
};

static void
load_join(struct load_round *r)
{
	for (unsigned i = 0; i < FAULTS_THREADS && !r->joined; i++) {
		pthread_join(r->w[i].thread, NULL);
	}
	r->joined = true;
}

/*
 * Starts the workers of round r (ids from base) against a new clmd, turns
 * the fault on and off once, and stops them and clmd. When clmd exited
 * (MDB_PANIC), the workers still wait for replies that cannot come: they
 * are joined later, by load_scenario, while the next rounds run.
 */
static void
load_round(struct load_round *r, unsigned base, const char *fault,
        clm_err want, atomic_bool *stop)
{
	start_server(true);
	for (unsigned i = 0; i < FAULTS_THREADS; i++) {
		struct load_worker *w = &r->w[i];
		memset(w, 0, sizeof(*w));
		snprintf(w->url, sizeof(w->url), "%s", srv.url);
		w->id = base + i;
		w->want = want;
		w->stop = stop;
		cr_assert_eq(
		        pthread_create(&w->thread, NULL, load_worker_main, w),
		        0);
	}
	harness_sleep_ms(FAULTS_PHASE);
	flag_set(fault);
	harness_sleep_ms(FAULTS_PHASE);
	flag_clear();
	harness_sleep_ms(FAULTS_PHASE);
	atomic_store(stop, true);
	r->joined = false;
	if (!load_exited(srv.pid)) {
		load_join(r);
	}
	r->exit_status = clmd_stop(&srv);
}

/*
 * FAULTS_TOGGLES rounds of load with the fault on for a moment; the fault
 * may begin anywhere in a commit, the meta-page write included, which
 * LMDB turns into MDB_PANIC (clmd exits 70 and the next round starts a
 * new one). Requests can go unanswered only in a round where clmd exited
 * non-zero. Then a clean restart without the shim checks every reply.
 */
static void
load_scenario(const char *fault, clm_err want)
{
	static struct load_round rounds[FAULTS_TOGGLES];
	static struct load_worker w[FAULTS_TOGGLES][FAULTS_THREADS];
	static atomic_bool stops[FAULTS_TOGGLES];
	unsigned counts[3] = { 0, 0, 0 }, exits = 0;
	for (unsigned r = 0; r < FAULTS_TOGGLES; r++) {
		atomic_init(&stops[r], false);
		load_round(&rounds[r], r * FAULTS_THREADS, fault, want,
		        &stops[r]);
	}
	for (unsigned r = 0; r < FAULTS_TOGGLES; r++) {
		load_join(&rounds[r]);
		unsigned unknown = 0;
		for (unsigned i = 0; i < FAULTS_THREADS; i++) {
			const struct load_worker *lw = &rounds[r].w[i];
			cr_assert_eq(lw->bad, 0,
			        "worker %u: %u bad replies; first: %s", lw->id,
			        lw->bad, lw->first_bad);
			counts[LOAD_OK] += lw->ok;
			counts[LOAD_REFUSED] += lw->refused;
			unknown += lw->unknown;
			w[r][i] = *lw;
		}
		counts[LOAD_UNKNOWN] += unknown;
		int st = rounds[r].exit_status;
		exits += st != 0;
		if (unknown > 0) {
			/* Only an exit (MDB_PANIC) leaves requests unanswered.
			 */
			cr_assert_neq(st, 0,
			        "round %u: requests went unanswered, yet clmd exits 0",
			        r);
		} else {
			cr_assert_eq(st, 0,
			        "round %u: clean stop after the fault", r);
		}
	}
	fprintf(stderr,
	        "faults: '%s' on and off under load, %d rounds: %u OK, %u refused%s, %u without a reply; clmd exited (MDB_PANIC) in %u rounds\n",
	        fault, FAULTS_TOGGLES, counts[LOAD_OK], counts[LOAD_REFUSED],
	        counts[LOAD_REFUSED] == 0
	                ? " (no request met the fault this run)"
	                : "",
	        counts[LOAD_UNKNOWN], exits);

	start_server(false);
	clm_conn *c = connect_to();
	uint64_t stored = flow_touchpoints(c);
	uint64_t acked = load_retrack(c, w, LOAD_OK, FAULTS_TOGGLES);
	uint64_t unknown_stored
	        = load_retrack(c, w, LOAD_UNKNOWN, FAULTS_TOGGLES);
	uint64_t refused_stored
	        = load_retrack(c, w, LOAD_REFUSED, FAULTS_TOGGLES);
	cr_assert_eq(refused_stored, 0, "%llu refused events were applied",
	        (unsigned long long) refused_stored);
	cr_assert_eq(stored, acked + unknown_stored,
	        "%llu touchpoints after the restart; the replies account for %llu",
	        (unsigned long long) stored,
	        (unsigned long long) (acked + unknown_stored));
	uint64_t sent = 0;
	for (unsigned r = 0; r < FAULTS_TOGGLES; r++) {
		for (unsigned i = 0; i < FAULTS_THREADS; i++) {
			for (size_t k = 0; k < w[r][i].n_log; k++) {
				sent += w[r][i].log[k].n;
			}
			free(w[r][i].log);
		}
	}
	cr_assert_eq(
	        flow_touchpoints(c), sent, "after re-tracking everything");
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
	assert_store_sound(sent);
}

Test(faults, enospc_under_load)
{
	load_scenario("ENOSPC", CLM_RESOURCE_EXHAUSTED);
}

Test(faults, fsync_eio_under_load)
{
	load_scenario("EIO sync", CLM_UNAVAILABLE);
}
