/*
 * Unit tests of server/store/store.c against a temporary data directory. Each
 * test makes its own directory under /tmp, opens the store inside the test
 * (Criterion forks: never open LMDB before the fork) and removes it.
 *
 * lmdb.h is included only to write a newer schema version into "meta",
 * which the store API has no way to do.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

struct tmpdir {
	char path[64];
};

static void
tmpdir_make(struct tmpdir *t)
{
	testdir_make(t->path, sizeof(t->path), "store-test");
}

static struct store_opts
opts_for(const char *dir)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true, /* tests need no fsync */
		.map_bytes = 1 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 16,
	};
	return o;
}

static store *
open_ok(const struct store_opts *o)
{
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	cr_assert_not_null(s);
	return s;
}

static void
customer_init(Clm__V1__CustomerRecord *rec, const char *id, bool anonymous,
        uint64_t cid, uint32_t purchases)
{
	clm__v1__customer_record__init(rec);
	rec->customer_id = (char *) id;
	rec->anonymous = anonymous;
	rec->cid = cid;
	rec->purchases = purchases;
}

/* Writes one record in its own transaction, growing the map as the writer
 * does; returns the result and counts grows. */
static clm_err
put_with_retry(store *s, const Clm__V1__CustomerRecord *rec, int *grows)
{
	for (;;) {
		store_txn *txn;
		clm_err e = store_write_begin(s, &txn);
		if (e != CLM_OK) {
			return e;
		}
		e = store_customer_put(txn, rec, false);
		if (e == CLM_OK) {
			(void) store_next_seq(txn);
			e = store_write_commit(txn);
		} else {
			store_write_abort(txn);
		}
		if (e == CLM_RESOURCE_EXHAUSTED && store_map_full(s)) {
			store_write_abort(txn); /* no-op after commit */
			clm_err g = store_grow(s);
			if (g != CLM_OK) {
				return g;
			}
			(*grows)++;
			continue;
		}
		return e;
	}
}

/* A record of about 1 KiB. */
struct big_record {
	Clm__V1__CustomerRecord rec;
	char id[32];
	char pad[8][112];
	char *ids[8];
};

static void
big_record_init(struct big_record *b, int i)
{
	snprintf(b->id, sizeof(b->id), "customer-%06d", i);
	customer_init(&b->rec, b->id, false, (uint64_t) i + 1, (uint32_t) i);
	for (int k = 0; k < 8; k++) {
		memset(b->pad[k], 'a' + (i + k) % 26, 110);
		b->pad[k][110] = '\0';
		b->ids[k] = b->pad[k];
	}
	b->rec.n_anonymous_ids = 8;
	b->rec.anonymous_ids = b->ids;
}

/* Reads customer-i back through a reader and checks it. */
static void
check_big_record(store_txn *txn, arena *a, int i)
{
	char id[32];
	snprintf(id, sizeof(id), "customer-%06d", i);
	Clm__V1__CustomerRecord *got;
	clm_err e = store_customer_get(txn, id, false, a, &got);
	cr_assert_eq(e, CLM_OK, "get '%s': %s", id, clm_errname(e));
	cr_assert_str_eq(got->customer_id, id);
	cr_assert_eq(got->cid, (uint64_t) i + 1);
	cr_assert_eq(got->purchases, (uint32_t) i);
	cr_assert_eq(got->n_anonymous_ids, 8);
	cr_assert_eq(strlen(got->anonymous_ids[7]), 110);
	cr_assert_eq(got->anonymous_ids[7][0], 'a' + (i + 7) % 26);
}

/* ---------------------------------------------------------------------- */
/* Open and close                                                         */

Test(store, open_close_and_pid_file)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	char path[128], buf[32] = "";
	snprintf(path, sizeof(path), "%s/clmd.pid", t.path);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "DATA/clmd.pid exists");
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_eq(atol(buf), (long) getpid(), "pid file holds our pid");

	store_close(s);
	store_close(NULL);
	store_reader_free(NULL);
	/* Opening again works: the lock was released. */
	s = open_ok(&o);
	store_close(s);
	testdir_remove(t.path);
}

Test(store, stale_pid_file_is_replaced)
{
	struct tmpdir t;
	tmpdir_make(&t);
	char path[128];
	snprintf(path, sizeof(path), "%s/clmd.pid", t.path);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("123456789012345\n", f); /* a dead clmd, longer than ours */
	fclose(f);

	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	char buf[64] = "";
	f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char want[32];
	snprintf(want, sizeof(want), "%ld\n", (long) getpid());
	cr_assert_str_eq(buf, want, "the old pid is gone entirely");
	store_close(s);
	testdir_remove(t.path);
}

Test(store, open_creates_the_directory)
{
	struct tmpdir t;
	tmpdir_make(&t);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/data", t.path);
	struct store_opts o = opts_for(sub);
	store *s = open_ok(&o);
	struct stat st;
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	store_close(s);
	testdir_remove(t.path);
}

Test(store, open_on_a_file_fails)
{
	struct tmpdir t;
	tmpdir_make(&t);
	char file[128];
	snprintf(file, sizeof(file), "%s/plain", t.path);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fclose(f);
	struct store_opts o = opts_for(file);
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_neq(e, CLM_OK);
	cr_assert_null(s, "out-parameter written only on success");
	cr_assert_neq(err[0], '\0');
	cr_assert_not_null(
	        strstr(err, file), "message names the path: %s", err);
	testdir_remove(t.path);
}

Test(store, second_open_is_refused)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	store *s2 = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s2, err, sizeof(err));
	cr_assert_eq(e, CLM_FAILED_PRECONDITION, "got %s (%s)", clm_errname(e),
	        err);
	cr_assert_null(s2);
	cr_assert_not_null(strstr(err, "in use"), "message: %s", err);
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long) getpid());
	cr_assert_not_null(strstr(err, pid), "message names the pid: %s", err);

	/* The failed attempt must not have released the first one's lock. */
	err[0] = '\0';
	e = store_open(&o, &s2, err, sizeof(err));
	cr_assert_eq(
	        e, CLM_FAILED_PRECONDITION, "third open: %s", clm_errname(e));

	/* The first store still works. */
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	Clm__V1__CustomerRecord rec;
	customer_init(&rec, "alice", false, 1, 1);
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	store_close(s);

	s = open_ok(&o);
	store_close(s);
	testdir_remove(t.path);
}

/* The lock is the directory's: deleting clmd.pid does not release it. */
Test(store, deleted_pid_file_keeps_the_lock)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	char path[128];
	snprintf(path, sizeof(path), "%s/clmd.pid", t.path);
	cr_assert_eq(unlink(path), 0);

	store *s2 = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s2, err, sizeof(err));
	cr_assert_eq(e, CLM_FAILED_PRECONDITION, "got %s (%s)", clm_errname(e),
	        err);
	cr_assert_null(s2);
	char want[64];
	snprintf(want, sizeof(want), "in use by another clmd (pid %ld)",
	        (long) getpid());
	cr_assert_not_null(strstr(err, want), "message: %s", err);
	cr_assert_neq(
	        access(path, F_OK), 0, "the refused open made no pid file");

	store_close(s);
	s = open_ok(&o);
	store_close(s);
	testdir_remove(t.path);
}

/* Writes schema version v into meta with LMDB directly. */
static void
poke_schema(const char *dir, uint64_t v)
{
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, 1 << 20), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi;
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	unsigned char buf[8];
	for (int i = 7; i >= 0; i--) {
		buf[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
	MDB_val k = { 6, "schema" }, val = { 8, buf };
	cr_assert_eq(mdb_put(txn, dbi, &k, &val, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(store, newer_schema_is_refused)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	store_close(s);

	poke_schema(t.path, STORE_SCHEMA_VERSION);
	s = open_ok(&o); /* the same version is fine */
	store_close(s);

	poke_schema(t.path, STORE_SCHEMA_VERSION + 1);
	s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_neq(e, CLM_OK);
	cr_assert_null(s);
	cr_assert_not_null(strstr(err, "schema"), "message: %s", err);
	cr_assert_not_null(strstr(err, "newer"), "message: %s", err);
	/* Refusing must neither rewrite the version nor keep the lock. */
	err[0] = '\0';
	e = store_open(&o, &s, err, sizeof(err));
	cr_assert_neq(e, CLM_OK);
	cr_assert_not_null(strstr(err, "newer"), "second try: %s", err);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Customers                                                              */

Test(store, customer_round_trip)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	Clm__V1__CustomerRecord rec;
	customer_init(&rec, "alice", false, 7, 3);
	rec.refunds = 1;
	rec.purchase_micros = 123456789;
	rec.first_seen_ms = 1700000000000LL;
	rec.acquisition_channel = CLM__V1__CHANNEL__EMAIL;
	uint64_t counts[28] = { 0 };
	counts[13] = 3;
	counts[27] = 9;
	rec.n_touch_counts = 28;
	rec.touch_counts = counts;
	Clm__V1__CartEntry ce = CLM__V1__CART_ENTRY__INIT;
	ce.item_id = "sku-1";
	ce.added_ms = 42;
	Clm__V1__CartEntry *cart[] = { &ce };
	rec.n_cart = 1;
	rec.cart = cart;

	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	arena a;
	arena_init(&a);
	Clm__V1__CustomerRecord *got = NULL;
	/* Visible inside the writing transaction. */
	cr_assert_eq(
	        store_customer_get(txn, "alice", false, &a, &got), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	got = NULL;
	cr_assert_eq(store_customer_get(rt, "alice", false, &a, &got), CLM_OK);
	store_read_end(rt);
	/* The record lives in the arena, after the transaction. */
	cr_assert_str_eq(got->customer_id, "alice");
	cr_assert_eq(got->cid, 7);
	cr_assert(!got->anonymous);
	cr_assert_eq(got->purchases, 3);
	cr_assert_eq(got->refunds, 1);
	cr_assert_eq(got->purchase_micros, 123456789);
	cr_assert_eq(got->first_seen_ms, 1700000000000LL);
	cr_assert_eq(got->acquisition_channel, CLM__V1__CHANNEL__EMAIL);
	cr_assert_eq(got->n_touch_counts, 28);
	cr_assert_eq(got->touch_counts[13], 3);
	cr_assert_eq(got->touch_counts[27], 9);
	cr_assert_eq(got->n_cart, 1);
	cr_assert_str_eq(got->cart[0]->item_id, "sku-1");
	cr_assert_eq(got->cart[0]->added_ms, 42);

	/* Overwrite. */
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	rec.purchases = 4;
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "alice", false, &a, &got), CLM_OK);
	cr_assert_eq(got->purchases, 4);
	struct store_stats st;
	cr_assert_eq(store_stats(rt, &st), CLM_OK);
	cr_assert_eq(st.customers, 1);
	store_read_end(rt);

	store_reader_free(r);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}

Test(store, missing_customer_is_not_found)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	arena a;
	arena_init(&a);
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	Clm__V1__CustomerRecord *got = (Clm__V1__CustomerRecord *) &a;
	cr_assert_eq(store_customer_get(rt, "nobody", false, &a, &got),
	        CLM_NOT_FOUND);
	cr_assert_eq(got, (Clm__V1__CustomerRecord *) &a,
	        "out-parameter untouched on failure");
	cr_assert_eq(store_customer_get(rt, "nobody", true, &a, &got),
	        CLM_NOT_FOUND);
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}

Test(store, anonymous_and_known_profiles_are_distinct)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	Clm__V1__CustomerRecord known, anon, only_anon;
	customer_init(&known, "x", false, 1, 1);
	customer_init(&anon, "x", true, 2, 2);
	customer_init(&only_anon, "device-9", true, 3, 0);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_customer_put(txn, &known, false), CLM_OK);
	cr_assert_eq(store_customer_put(txn, &anon, false), CLM_OK);
	cr_assert_eq(store_customer_put(txn, &only_anon, false), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	arena a;
	arena_init(&a);
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	Clm__V1__CustomerRecord *k, *an;
	cr_assert_eq(store_customer_get(rt, "x", false, &a, &k), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "x", true, &a, &an), CLM_OK);
	cr_assert_eq(k->cid, 1);
	cr_assert_eq(k->purchases, 1);
	cr_assert(!k->anonymous);
	cr_assert_eq(an->cid, 2);
	cr_assert_eq(an->purchases, 2);
	cr_assert(an->anonymous);
	cr_assert_str_eq(an->customer_id, "x");
	Clm__V1__CustomerRecord *tmp;
	cr_assert_eq(store_customer_get(rt, "device-9", false, &a, &tmp),
	        CLM_NOT_FOUND);
	cr_assert_eq(
	        store_customer_get(rt, "device-9", true, &a, &tmp), CLM_OK);
	struct store_stats st;
	cr_assert_eq(store_stats(rt, &st), CLM_OK);
	cr_assert_eq(st.customers, 3, "anonymous profiles are counted");
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Event ids                                                              */

Test(store, event_ids)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_event_exists(txn, "ev-1"), CLM_NOT_FOUND);
	cr_assert_eq(store_event_put(txn, "ev-1", 1, 1000, 5), CLM_OK);
	cr_assert_eq(store_event_exists(txn, "ev-1"), CLM_OK);
	cr_assert_eq(store_event_exists(txn, "ev-10"), CLM_NOT_FOUND);
	cr_assert_eq(store_event_exists(txn, "ev-"), CLM_NOT_FOUND);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	/* An aborted put is not recorded. */
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_event_put(txn, "ev-2", 1, 2000, 6), CLM_OK);
	store_write_abort(txn);

	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	cr_assert_eq(store_event_exists(rt, "ev-1"), CLM_OK);
	cr_assert_eq(store_event_exists(rt, "ev-2"), CLM_NOT_FOUND);
	store_read_end(rt);
	store_reader_free(r);
	store_close(s);

	/* And it survives a restart. */
	s = open_ok(&o);
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	cr_assert_eq(store_event_exists(rt, "ev-1"), CLM_OK);
	cr_assert_eq(store_event_exists(rt, "ev-2"), CLM_NOT_FOUND);
	store_read_end(rt);
	store_reader_free(r);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Touchpoints                                                            */

struct seen_touch {
	int64_t at;
	uint64_t seq;
	int type;
	char item[16];
	bool customer_empty;
	int64_t occurred;
};

struct scan_log {
	struct seen_touch t[32];
	size_t n;
	size_t stop_after; /* 0 = never stop */
};

static int
scan_collect(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	struct scan_log *l = arg;
	cr_assert_lt(l->n, 32);
	struct seen_touch *s = &l->t[l->n++];
	s->at = at_ms;
	s->seq = seq;
	s->type = (int) tp->type;
	snprintf(s->item, sizeof(s->item), "%s", tp->item_id);
	s->customer_empty = tp->customer_id[0] == '\0';
	s->occurred = tp->occurred_at_ms;
	return l->stop_after != 0 && l->n >= l->stop_after;
}

static void
scan(store_txn *txn, uint64_t cid, int64_t after, int64_t upto,
        struct scan_log *l, size_t stop_after)
{
	memset(l, 0, sizeof(*l));
	l->stop_after = stop_after;
	clm_err e = store_touchpoints_scan(
	        txn, cid, after, upto, scan_collect, l);
	cr_assert_eq(e, CLM_OK, "scan: %s", clm_errname(e));
}

static void
put_touch(store_txn *txn, uint64_t cid, int64_t at, uint64_t seq, int type,
        const char *item)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "someone";
	tp.type = (Clm__V1__TouchpointType) type;
	tp.item_id = (char *) item;
	tp.occurred_at_ms = 0; /* the stored copy gets at */
	cr_assert_eq(store_touchpoint_put(txn, cid, at, seq, &tp), CLM_OK);
}

Test(store, touchpoint_scan_bounds_and_order)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	const int64_t T = 1700000000000LL;
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	/* cid 2, inserted out of order; neighbours cid 1 and 3. */
	put_touch(txn, 2, T + 300, 4, 3, "c");
	put_touch(txn, 2, T + 200, 9, 4, "b2");
	put_touch(txn, 2, T + 100, 1, 13, "a");
	put_touch(txn, 2, T + 200, 2, 5, "b1");
	put_touch(txn, 2, T + 400, 3, 17, "d");
	put_touch(txn, 1, T + 250, 5, 1, "x");
	put_touch(txn, 1, T + 500, 6, 1, "x");
	put_touch(txn, 3, T + 50, 7, 1, "y");
	put_touch(txn, 3, T + 250, 8, 1, "y");
	put_touch(txn, 256, T + 250, 10, 1, "z"); /* cid bytes differ late */
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	struct scan_log l;

	/* Everything of cid 2, by time then seq, and nothing else. */
	scan(rt, 2, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 5);
	static const char *const order[] = { "a", "b1", "b2", "c", "d" };
	static const int64_t at[] = { 100, 200, 200, 300, 400 };
	static const uint64_t seq[] = { 1, 2, 9, 4, 3 };
	for (size_t i = 0; i < 5; i++) {
		cr_assert_str_eq(l.t[i].item, order[i], "entry %zu", i);
		cr_assert_eq(l.t[i].at, T + at[i]);
		cr_assert_eq(l.t[i].seq, seq[i]);
		cr_assert(l.t[i].customer_empty, "customer_id not stored");
		cr_assert_eq(l.t[i].occurred, T + at[i]);
	}
	cr_assert_eq(l.t[0].type, 13);

	/* after is exclusive, upto inclusive. */
	scan(rt, 2, T + 100, T + 300, &l, 0);
	cr_assert_eq(l.n, 3);
	cr_assert_str_eq(l.t[0].item, "b1");
	cr_assert_str_eq(l.t[2].item, "c");
	scan(rt, 2, T + 99, T + 100, &l, 0);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.t[0].item, "a");
	scan(rt, 2, T + 199, T + 200, &l, 0);
	cr_assert_eq(l.n, 2, "both touchpoints at the same instant");
	scan(rt, 2, T + 200, T + 299, &l, 0);
	cr_assert_eq(l.n, 0);
	scan(rt, 2, T + 400, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 0, "no leak into cid 3");
	scan(rt, 2, -1, T + 100, &l, 0);
	cr_assert_eq(l.n, 1, "negative after");
	scan(rt, 2, T + 300, T + 300, &l, 0);
	cr_assert_eq(l.n, 0, "empty window");
	scan(rt, 2, T + 300, T + 100, &l, 0);
	cr_assert_eq(l.n, 0, "reversed window");

	/* The neighbours. */
	scan(rt, 1, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.t[0].item, "x");
	scan(rt, 3, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.t[1].item, "y");
	scan(rt, 256, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 1);
	scan(rt, 4, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 0);
	scan(rt, 0, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 0);

	/* The callback stops the scan. */
	scan(rt, 2, 0, INT64_MAX, &l, 2);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.t[1].item, "b1");

	struct store_stats st;
	cr_assert_eq(store_stats(rt, &st), CLM_OK);
	cr_assert_eq(st.touchpoints, 10);
	cr_assert_eq(st.customers, 0);
	cr_assert_gt(st.db_bytes, 0);
	cr_assert_geq(st.map_bytes, st.db_bytes);
	store_read_end(rt);
	store_reader_free(r);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Warming the view (store_warm.c)                                        */

Test(store, warm_reads_the_whole_used_view)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	cr_assert_eq(store_warm_wait(s), 0, "no warming started yet");

	/* Enough customers for the view to span many 1 MiB reads. */
	int grows = 0;
	char id[160];
	for (int i = 0; i < 12000; i++) {
		Clm__V1__CustomerRecord rec;
		snprintf(id, sizeof(id), "warm-%05d-%0100d", i, i);
		customer_init(&rec, id, false, (uint64_t) i + 1, 1);
		cr_assert_eq(put_with_retry(s, &rec, &grows), CLM_OK);
	}
	store_reader *r;
	store_txn *rt;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	struct store_stats st;
	cr_assert_eq(store_stats(rt, &st), CLM_OK);
	store_read_end(rt);
	store_reader_free(r);
	cr_assert_gt(st.db_bytes, 1 << 20, "a view of %llu bytes",
	        (unsigned long long) st.db_bytes);

	/* It reads every used byte of data.mdb, then ends on its own. */
	cr_assert(store_warm_start(s));
	cr_assert_eq(store_warm_wait(s), st.db_bytes);
	cr_assert_eq(store_warm_wait(s), 0, "the thread was joined");

	/* store_close stops one still running, and the store reopens. */
	cr_assert(store_warm_start(s));
	store_close(s);
	s = open_ok(&o);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Counters and durability across reopen                                  */

Test(store, counters_persist_only_when_committed)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);

	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_cid(txn), 1);
	cr_assert_eq(store_next_cid(txn), 2);
	cr_assert_eq(store_next_seq(txn), 1);
	cr_assert_eq(store_next_event_seq(txn), 1);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	/* Aborted: the values come back. */
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_cid(txn), 3);
	cr_assert_eq(store_next_seq(txn), 2);
	cr_assert_eq(store_next_event_seq(txn), 2);
	store_write_abort(txn);

	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_cid(txn), 3);
	cr_assert_eq(store_next_seq(txn), 2);
	cr_assert_eq(store_next_seq(txn), 3);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	/* An aborted transaction just before closing. */
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_cid(txn), 4);
	cr_assert_eq(store_next_event_seq(txn), 2);
	store_write_abort(txn);
	store_close(s);

	s = open_ok(&o);
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_cid(txn), 4);
	cr_assert_eq(store_next_seq(txn), 4);
	cr_assert_eq(store_next_event_seq(txn), 2);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	store_close(s);

	s = open_ok(&o);
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_cid(txn), 5);
	cr_assert_eq(store_next_seq(txn), 5);
	cr_assert_eq(store_next_event_seq(txn), 3);
	store_write_abort(txn);
	store_close(s);
	testdir_remove(t.path);
}

Test(store, data_survives_reopen)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	o.nosync = false; /* durability full on this one */
	store *s = open_ok(&o);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	Clm__V1__CustomerRecord rec;
	customer_init(&rec, "bob", false, 11, 2);
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	put_touch(txn, 11, 1700000000000LL, 1, 13, "sku");
	cr_assert_eq(
	        store_event_put(txn, "bob-1", 11, 1700000000000LL, 1), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	/* Not committed: lost. */
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	customer_init(&rec, "carol", false, 12, 1);
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	store_write_abort(txn);
	store_close(s);

	s = open_ok(&o);
	arena a;
	arena_init(&a);
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	Clm__V1__CustomerRecord *got;
	cr_assert_eq(store_customer_get(rt, "bob", false, &a, &got), CLM_OK);
	cr_assert_eq(got->cid, 11);
	cr_assert_eq(got->purchases, 2);
	cr_assert_eq(store_customer_get(rt, "carol", false, &a, &got),
	        CLM_NOT_FOUND);
	cr_assert_eq(store_event_exists(rt, "bob-1"), CLM_OK);
	struct scan_log l;
	scan(rt, 11, 0, INT64_MAX, &l, 0);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.t[0].item, "sku");
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Readers                                                                */

Test(store, readers_see_committed_data_only)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	arena a;
	arena_init(&a);
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	Clm__V1__CustomerRecord *got;

	/* A snapshot taken before the write does not see it... */
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	Clm__V1__CustomerRecord rec;
	customer_init(&rec, "dave", false, 1, 1);
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "dave", false, &a, &got),
	        CLM_NOT_FOUND, "uncommitted write visible to a reader");
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "dave", false, &a, &got),
	        CLM_NOT_FOUND, "the snapshot changed under the reader");
	store_read_end(rt);
	store_read_end(rt); /* ending twice is harmless */

	/* ...a new one does. */
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "dave", false, &a, &got), CLM_OK);
	store_read_end(rt);

	/* An aborted write is never seen. */
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	customer_init(&rec, "erin", false, 2, 1);
	cr_assert_eq(store_customer_put(txn, &rec, false), CLM_OK);
	store_write_abort(txn);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "erin", false, &a, &got),
	        CLM_NOT_FOUND);
	store_read_end(rt);

	/* Two readers at once. */
	store_reader *r2;
	cr_assert_eq(store_reader_new(s, &r2), CLM_OK);
	store_txn *rt2;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	cr_assert_eq(store_read_begin(r2, &rt2), CLM_OK);
	cr_assert_eq(store_customer_get(rt, "dave", false, &a, &got), CLM_OK);
	cr_assert_eq(store_customer_get(rt2, "dave", false, &a, &got), CLM_OK);
	store_read_end(rt2);
	store_read_end(rt);
	store_reader_free(r2);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Map growth                                                             */

Test(store, map_grows_on_demand)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	o.map_bytes = 64 << 10;
	o.max_db_bytes = 64 << 20;
	store *s = open_ok(&o);

	/* A reader that exists (ended) across the remaps. */
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	store_read_end(rt);

	const int n = 1500;
	int grows = 0;
	for (int i = 0; i < n; i++) {
		struct big_record b;
		big_record_init(&b, i);
		clm_err e = put_with_retry(s, &b.rec, &grows);
		cr_assert_eq(e, CLM_OK, "record %d: %s", i, clm_errname(e));
	}
	cr_assert_geq(grows, 4, "64 KiB -> over 1 MiB takes several grows");

	arena a;
	arena_init(&a);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	for (int i = 0; i < n; i++) {
		check_big_record(rt, &a, i);
		arena_reset(&a);
	}
	struct store_stats st;
	cr_assert_eq(store_stats(rt, &st), CLM_OK);
	cr_assert_eq(st.customers, (uint64_t) n);
	cr_assert_gt(st.map_bytes, 1 << 20);
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);

	/* Reopening with the small initial map still reads everything. */
	s = open_ok(&o);
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	arena_init(&a);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	check_big_record(rt, &a, 0);
	check_big_record(rt, &a, n - 1);
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	/* The next seq continued through every retry. */
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	cr_assert_eq(store_next_seq(txn), (uint64_t) n + 1);
	store_write_abort(txn);
	store_close(s);
	testdir_remove(t.path);
}

Test(store, growth_stops_at_max_db_bytes)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	o.map_bytes = 64 << 10;
	o.max_db_bytes = 256 << 10;
	store *s = open_ok(&o);

	int grows = 0, written = 0;
	clm_err e = CLM_OK;
	for (int i = 0; i < 2000; i++) {
		struct big_record b;
		big_record_init(&b, i);
		e = put_with_retry(s, &b.rec, &grows);
		if (e != CLM_OK) {
			break;
		}
		written++;
	}
	cr_assert_eq(e, CLM_RESOURCE_EXHAUSTED, "got %s after %d records",
	        clm_errname(e), written);
	cr_assert_gt(written, 10);
	cr_assert_eq(grows, 2, "64K -> 128K -> 256K");
	/* Growing again keeps failing. */
	cr_assert_eq(store_grow(s), CLM_RESOURCE_EXHAUSTED);

	/* Everything committed is readable, and nothing else. */
	arena a;
	arena_init(&a);
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	for (int i = 0; i < written; i++) {
		check_big_record(rt, &a, i);
		arena_reset(&a);
	}
	char id[32];
	snprintf(id, sizeof(id), "customer-%06d", written);
	Clm__V1__CustomerRecord *got;
	cr_assert_eq(
	        store_customer_get(rt, id, false, &a, &got), CLM_NOT_FOUND);
	struct store_stats st;
	cr_assert_eq(store_stats(rt, &st), CLM_OK);
	cr_assert_eq(st.customers, (uint64_t) written);
	cr_assert_leq(st.map_bytes, 256 << 10);
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);

	/* A small write may still fit; either way the store keeps working. */
	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	store_write_abort(txn);
	store_close(s);

	s = open_ok(&o);
	arena_init(&a);
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	check_big_record(rt, &a, written - 1);
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Corruption                                                             */

/* Puts raw bytes under a raw key in a named database with LMDB directly. */
static void
poke_raw(const char *dir, const char *db, const void *key, size_t klen,
        const void *val, size_t vlen)
{
	MDB_env *env;
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, 1 << 20), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0640), 0);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	MDB_dbi dbi;
	cr_assert_eq(mdb_dbi_open(txn, db, 0, &dbi), 0);
	MDB_val k = { klen, (void *) key }, v = { vlen, (void *) val };
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(store, corrupt_values_are_data_loss)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	store_close(s);

	static const unsigned char junk[] = { 0xff, 0xff, 0xff, 0xff };
	poke_raw(t.path, "customers", "mallory", 7, junk, sizeof(junk));
	unsigned char key[24] = { 0 };
	key[7] = 5;  /* cid 5 */
	key[13] = 1; /* at = 256 ms */
	key[23] = 1; /* seq 1 */
	poke_raw(t.path, "touchpoints", key, sizeof(key), junk, sizeof(junk));

	s = open_ok(&o);
	arena a;
	arena_init(&a);
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *rt;
	cr_assert_eq(store_read_begin(r, &rt), CLM_OK);
	Clm__V1__CustomerRecord *got = NULL;
	cr_assert_eq(store_customer_get(rt, "mallory", false, &a, &got),
	        CLM_DATA_LOSS);
	cr_assert_null(got);
	struct scan_log l;
	memset(&l, 0, sizeof(l));
	cr_assert_eq(
	        store_touchpoints_scan(rt, 5, 0, INT64_MAX, scan_collect, &l),
	        CLM_DATA_LOSS);
	cr_assert_eq(l.n, 0);
	store_read_end(rt);
	store_reader_free(r);
	arena_fini(&a);
	store_close(s);

	/* A meta counter of the wrong size: the store refuses to open. */
	poke_raw(t.path, "meta", "schema", 6, "\x01", 1);
	s = NULL;
	char err[256] = "";
	cr_assert_neq(store_open(&o, &s, err, sizeof(err)), CLM_OK);
	cr_assert_null(s);
	cr_assert_not_null(strstr(err, "schema"), "message: %s", err);
	testdir_remove(t.path);
}

/* ---------------------------------------------------------------------- */
/* Keys built from callers' strings                                       */

/*
 * The co-purchase and claim keys concatenate callers' strings into a
 * fixed buffer; one too long for a key is refused, not written past it.
 */
Test(store, keys_too_long_are_refused)
{
	struct tmpdir t;
	tmpdir_make(&t);
	struct store_opts o = opts_for(t.path);
	store *s = open_ok(&o);
	char big[2048];
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	/* 'q' "dana" 0x00 edge: 511 bytes, the most a key holds. */
	char edge[506];
	memset(edge, 'e', sizeof(edge) - 1);
	edge[sizeof(edge) - 1] = '\0';

	store_txn *txn;
	cr_assert_eq(store_write_begin(s, &txn), CLM_OK);
	Clm__V1__RecommendReply rep = CLM__V1__RECOMMEND_REPLY__INIT;
	cr_assert_neq(store_claim_put(txn, "dana", big, &rep), CLM_OK);
	cr_assert_neq(store_claim_put(txn, big, "r1", &rep), CLM_OK);
	cr_assert_eq(store_claim_put(txn, "dana", edge, &rep), CLM_OK);
	cr_assert_neq(store_pop_add(txn, big, 1), CLM_OK);
	cr_assert_neq(store_co_add(txn, "a", big, 1), CLM_OK);
	cr_assert_neq(store_co_add(txn, big, "a", 1), CLM_OK);
	cr_assert_neq(store_claims_del(txn, big), CLM_OK);
	cr_assert_eq(store_pop_add(txn, "a", 1), CLM_OK);
	arena a;
	arena_init(&a);
	Clm__V1__RecommendReply *got = NULL;
	cr_assert_neq(store_claim_get(txn, "dana", big, &a, &got), CLM_OK);
	cr_assert_eq(store_claim_get(txn, "dana", edge, &a, &got), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	arena_fini(&a);
	store_close(s);
	testdir_remove(t.path);
}
