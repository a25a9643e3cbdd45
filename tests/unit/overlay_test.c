/*
 * A differential test of the store's overlay (server/store/store_kv.c,
 * store_overlay.c). Two stores get the same random write transactions
 * through the public store.h API: A without an overlay, B with one, and B
 * checkpointed at random points. Everything a reader can observe is dumped
 * as text (overlay_dump) and the two dumps must be equal, inside each write
 * transaction and in a fresh reader after each commit. Then: B reopened
 * after a checkpoint, readers across checkpoints (by hand, with reader
 * threads, and with a checkpoint forced between a reader's two snapshot
 * begins), a full overlay and a checkpoint refused at max_db_bytes.
 *
 * The tests named known_bug_* show a bug of the overlay found by this file:
 * they fail until it is fixed (see their comments).
 */
#define _GNU_SOURCE /* dlsym(RTLD_NEXT) */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "store/store.h"
#include "testdir.h"

#define N_KNOWN 10 /* customer ids k0..k9 */
#define N_ANON  6  /* anonymous ids a0..a5 */
#define N_CID   6  /* touchpoint cids 1..6 */
#define N_EVENT 16
#define N_ITEM  5
#define N_AGG   12 /* counter keys: kind 1..4, 3 keys each */
#define N_BLOB  3  /* sketch keys: kind 9 */
#define NONE    (-1)
#define MIB     (1024 * 1024)

static char dir_a[64], dir_b[64];

static void
setup(void)
{
	testdir_make(dir_a, sizeof(dir_a), "ovl-a");
	testdir_make(dir_b, sizeof(dir_b), "ovl-b");
}

static void
teardown(void)
{
	testdir_remove(dir_a);
	testdir_remove(dir_b);
}

TestSuite(overlay, .init = setup, .fini = teardown, .timeout = 90);

/* overlay: 0 for none, else the overlay's map size. */
static store *
open_store(const char *dir, int64_t max_db, uint64_t overlay)
{
	struct store_opts o = {
		.dir = dir,
		.nosync = true,
		.map_bytes = max_db < 4 * MIB ? max_db : 4 * MIB,
		.max_db_bytes = max_db,
		.max_readers = 16,
	};
	store *s = NULL;
	char err[256] = "";
	clm_err e = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	if (overlay > 0) {
		e = store_overlay_open(s, overlay, err, sizeof(err));
		cr_assert_eq(e, CLM_OK, "store_overlay_open: %s (%s)",
		        clm_errname(e), err);
	}
	return s;
}

/* splitmix64 */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
rng_below(uint64_t *s, unsigned n)
{
	return (unsigned) (rng_next(s) % n);
}

/* ---------------------------------------------------------------------- */
/* Everything observable, as text                                         */

static void
dump_hex(FILE *f, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%02x", ((const unsigned char *) p)[i]);
	}
}

static void
dump_msg(FILE *f, const void *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	unsigned char *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	protobuf_c_message_pack(m, buf);
	dump_hex(f, buf, n);
	free(buf);
}

struct page {
	char ids[8][32];
	bool anon[8];
	size_t n;
};

static int
dump_id_fn(void *arg, const char *id, bool anonymous)
{
	struct page *p = arg;
	cr_assert_lt(p->n, 8);
	snprintf(p->ids[p->n], sizeof(p->ids[0]), "%s", id);
	p->anon[p->n++] = anonymous;
	return 0;
}

static int
dump_touch_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	FILE *f = arg;
	fprintf(f, " %lld/%llu:", (long long) at_ms, (unsigned long long) seq);
	dump_msg(f, tp);
	return 0;
}

static int
dump_count_fn(void *arg, const char *item, uint64_t count)
{
	fprintf(arg, " %s=%llu", item, (unsigned long long) count);
	return 0;
}

static int
dump_agg_fn(void *arg, const unsigned char *key, size_t klen, const void *val,
        size_t vlen)
{
	FILE *f = arg;
	fprintf(f, "agg ");
	dump_hex(f, key, klen);
	fprintf(f, " = ");
	dump_hex(f, val, vlen);
	fprintf(f, "\n");
	return 0;
}

static int
dump_spend_fn(void *arg, int channel, uint32_t day, int64_t micros)
{
	fprintf(arg, "spend %d %u %lld\n", channel, day, (long long) micros);
	return 0;
}

static int
dump_store_fn(void *arg, const Clm__V1__Store *st)
{
	fprintf(arg, "store ");
	dump_msg(arg, st);
	fprintf(arg, "\n");
	return 0;
}

static int
dump_exp_fn(void *arg, Clm__V1__ExperimentRecord *rec)
{
	fprintf(arg, "experiment ");
	dump_msg(arg, rec);
	fprintf(arg, "\n");
	return 0;
}

static void
key_agg(unsigned char key[4], unsigned i)
{
	key[0] = (unsigned char) (1 + i / 3);
	key[1] = 'k';
	key[2] = (unsigned char) ('0' + i % 3);
	key[3] = 0;
}

static void
key_blob(unsigned char key[4], unsigned i)
{
	key[0] = 9;
	key[1] = 'b';
	key[2] = (unsigned char) ('0' + i);
	key[3] = 0;
}

/*
 * Dumps what a reader of txn can see into a malloc'd string; with_stats
 * adds store_stats' counts.
 */
static char *
overlay_dump(store_txn *t, bool with_stats)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	arena a;
	arena_init(&a);
	/* Profiles, three at a time. */
	struct page pg = { .n = 0 };
	char after[32] = "";
	bool after_anon = false, first = true;
	for (int guard = 0; guard < 100; guard++) {
		pg.n = 0;
		clm_err e = store_customers_after(t, first ? NULL : after,
		        after_anon, 3, dump_id_fn, &pg);
		cr_assert_eq(e, CLM_OK, "store_customers_after: %s",
		        clm_errname(e));
		if (pg.n == 0) {
			break;
		}
		for (size_t i = 0; i < pg.n; i++) {
			Clm__V1__CustomerRecord *rec = NULL;
			e = store_customer_get(
			        t, pg.ids[i], pg.anon[i], &a, &rec);
			fprintf(f, "customer %s %d %s ", pg.ids[i], pg.anon[i],
			        clm_errname(e));
			if (e == CLM_OK) {
				dump_msg(f, rec);
			}
			fprintf(f, "\n");
		}
		memcpy(after, pg.ids[pg.n - 1], sizeof(after));
		after_anon = pg.anon[pg.n - 1];
		first = false;
	}
	/* Touchpoints: all, and two sub-ranges, scanned and collected. */
	static const int64_t ranges[][2]
	        = { { -1, INT64_MAX }, { 2000, 6000 }, { 0, 3000 } };
	for (uint64_t cid = 0; cid <= N_CID + 1; cid++) {
		for (size_t r = 0; r < 3; r++) {
			fprintf(f, "touch %llu %zu:", (unsigned long long) cid,
			        r);
			clm_err e = store_touchpoints_scan(t, cid,
			        ranges[r][0], ranges[r][1], dump_touch_fn, f);
			fprintf(f, " %s\ncollect:", clm_errname(e));
			e = store_touchpoints_collect(t, cid, ranges[r][0],
			        ranges[r][1], &a, dump_touch_fn, f);
			fprintf(f, " %s\n", clm_errname(e));
		}
	}
	char id[32];
	for (int i = 0; i < N_EVENT; i++) {
		snprintf(id, sizeof(id), "e%d", i);
		fprintf(f, "event %s %s\n", id,
		        clm_errname(store_event_exists(t, id)));
	}
	for (int i = 0; i < N_ANON; i++) {
		snprintf(id, sizeof(id), "a%d", i);
		char *to = NULL;
		clm_err e = store_alias_get(t, id, &a, &to);
		fprintf(f, "alias %s %s %s\n", id, clm_errname(e),
		        e == CLM_OK ? to : "");
	}
	bool known = false;
	int64_t twice = 0;
	clm_err e = store_onboarding_median(t, &known, &twice);
	fprintf(f, "onboarding %s %d %lld\n", clm_errname(e), known,
	        (long long) twice);
	fprintf(f, "pop:");
	e = store_pop_top(t, dump_count_fn, f);
	fprintf(f, " %s\n", clm_errname(e));
	for (int i = 0; i < N_ITEM; i++) {
		snprintf(id, sizeof(id), "i%d", i);
		uint64_t n = 0;
		e = store_pop_get(t, id, &n);
		fprintf(f, "pop %s %s %llu co:", id, clm_errname(e),
		        (unsigned long long) n);
		e = store_co_each(t, id, dump_count_fn, f);
		fprintf(f, " %s\n", clm_errname(e));
		Clm__V1__Item *item = NULL;
		e = store_item_get(t, id, &a, &item);
		fprintf(f, "item %s %s ", id, clm_errname(e));
		if (e == CLM_OK) {
			dump_msg(f, item);
		}
		fprintf(f, "\n");
	}
	e = store_agg_scan(t, "\0", 1, "\xff", 1, dump_agg_fn, f);
	fprintf(f, "agg scan %s\n", clm_errname(e));
	for (unsigned i = 0; i < N_AGG; i++) {
		unsigned char key[4];
		key_agg(key, i);
		int64_t c[4];
		e = store_agg_get(t, key, sizeof(key), c, 4);
		fprintf(f, "agg %u %s %lld %lld %lld %lld\n", i,
		        clm_errname(e), (long long) c[0], (long long) c[1],
		        (long long) c[2], (long long) c[3]);
	}
	for (unsigned i = 0; i < N_BLOB; i++) {
		unsigned char key[4];
		key_blob(key, i);
		const void *v = NULL;
		size_t vlen = 0;
		e = store_agg_blob_get(t, key, sizeof(key), &v, &vlen);
		fprintf(f, "blob %u %s ", i, clm_errname(e));
		dump_hex(f, v, e == CLM_OK ? vlen : 0);
		fprintf(f, "\n");
	}
	uint64_t v0 = 0, v1 = 0;
	e = store_agg_version(t, false, &v0);
	clm_err e1 = store_agg_version(t, true, &v1);
	fprintf(f, "agg versions %s %s %llu %llu\n", clm_errname(e),
	        clm_errname(e1), (unsigned long long) v0,
	        (unsigned long long) v1);
	e = store_spend_each(t, dump_spend_fn, f);
	fprintf(f, "spend %s\n", clm_errname(e));
	e = store_stores_each(t, &a, dump_store_fn, f);
	fprintf(f, "stores %s\n", clm_errname(e));
	e = store_experiments_each(t, &a, dump_exp_fn, f);
	fprintf(f, "experiments %s\n", clm_errname(e));
	for (int i = 0; i < N_KNOWN; i += 2) {
		for (int q = 0; q < 3; q++) {
			char cid[16], req[16];
			snprintf(cid, sizeof(cid), "k%d", i);
			snprintf(req, sizeof(req), "r%d", q);
			Clm__V1__RecommendReply *rep = NULL;
			e = store_claim_get(t, cid, req, &a, &rep);
			fprintf(f, "claim %s %s %s ", cid, req,
			        clm_errname(e));
			if (e == CLM_OK) {
				dump_msg(f, rep);
			}
			fprintf(f, "\n");
		}
	}
	if (with_stats) {
		struct store_stats st;
		e = store_stats(t, &st);
		fprintf(f, "stats %s customers %llu touchpoints %llu\n",
		        clm_errname(e), (unsigned long long) st.customers,
		        (unsigned long long) st.touchpoints);
	}
	arena_fini(&a);
	fclose(f);
	return buf;
}

/* Asserts two dumps are equal, showing the first line that differs. */
static void
expect_same(const char *want, const char *got, const char *ctx, int step)
{
	if (strcmp(want, got) == 0) {
		return;
	}
	size_t i = 0;
	while (want[i] == got[i]) {
		i++;
	}
	while (i > 0 && want[i - 1] != '\n') {
		i--;
	}
	cr_assert_fail("%s step %d: the stores differ\nwithout overlay: "
	               "%.300s\nwith overlay:    %.300s",
	        ctx, step, want + i, got + i);
}

/* Dumps a fresh reader of s. */
static char *
dump_committed(store *s, bool with_stats)
{
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *t;
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	char *d = overlay_dump(t, with_stats);
	store_read_end(t);
	store_reader_free(r);
	return d;
}

static void
compare_txns(
        store_txn *ta, store_txn *tb, bool stats, const char *ctx, int step)
{
	char *da = overlay_dump(ta, stats);
	char *db = overlay_dump(tb, stats);
	expect_same(da, db, ctx, step);
	free(da);
	free(db);
}

static void
compare_committed(store *a, store *b, bool stats, const char *ctx, int step)
{
	char *da = dump_committed(a, stats);
	char *db = dump_committed(b, stats);
	expect_same(da, db, ctx, step);
	free(da);
	free(db);
}

/* ---------------------------------------------------------------------- */
/* The same random writes on both stores                                  */

/* Two stores, the onboarding times the test gave (model), the random state. */
struct pair {
	store *a, *b;
	int64_t onb[N_CID + 1];      /* in the open transaction */
	int64_t onb_done[N_CID + 1]; /* as committed */
	uint64_t rng;
	uint64_t pos; /* the last checkpoint's position */
};

/* Evaluates expr with T the transaction of A, then of B: same result. */
#define BOTH(expr)                                                            \
	do {                                                                  \
		store_txn *T = ta;                                            \
		clm_err ea_ = (expr);                                         \
		T = tb;                                                       \
		clm_err eb_ = (expr);                                         \
		cr_assert_eq(ea_, eb_,                                        \
		        "step %d op %u: %s without, %s with overlay: %s",     \
		        step, op, clm_errname(ea_), clm_errname(eb_), #expr); \
	} while (0)

static char *
customer_text(store_txn *t, const char *id, bool anon)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	arena a;
	arena_init(&a);
	Clm__V1__CustomerRecord *rec = NULL;
	clm_err e = store_customer_get(t, id, anon, &a, &rec);
	fprintf(f, "%s ", clm_errname(e));
	if (e == CLM_OK) {
		dump_msg(f, rec);
	}
	arena_fini(&a);
	fclose(f);
	return buf;
}

/* One random operation on both transactions. */
static void
pair_op(struct pair *p, store_txn *ta, store_txn *tb, int step)
{
	uint64_t *rng = &p->rng;
	unsigned op = rng_below(rng, 20);
	char id[16], id2[16];
	bool anon = rng_below(rng, 3) == 0;
	snprintf(id, sizeof(id), "%c%u", anon ? 'a' : 'k',
	        rng_below(rng, anon ? N_ANON : N_KNOWN));
	uint64_t cid = 1 + rng_below(rng, N_CID);
	int64_t at = 1000 * (int64_t) rng_below(rng, 10);
	uint64_t seq = 1 + rng_below(rng, 3);
	unsigned char key[4];
	switch (op) {
	case 0:
	case 1: {
		Clm__V1__CustomerRecord rec = CLM__V1__CUSTOMER_RECORD__INIT;
		rec.customer_id = id;
		rec.anonymous = anon;
		rec.cid = cid;
		rec.purchases = rng_below(rng, 1000);
		rec.last_item = rng_below(rng, 2) ? "i1" : "";
		BOTH(store_customer_put(T, &rec));
		break;
	}
	case 2: {
		char *x = customer_text(ta, id, anon);
		char *y = customer_text(tb, id, anon);
		cr_assert_str_eq(x, y, "step %d: customer %s", step, id);
		free(x);
		free(y);
		break;
	}
	case 3:
		BOTH(store_customer_del(T, id, anon));
		break;
	case 4:
	case 5: {
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		snprintf(id2, sizeof(id2), "e%u", rng_below(rng, N_EVENT));
		tp.event_id = id2;
		tp.value = (double) rng_below(rng, 100);
		BOTH(store_touchpoint_put(T, cid, at, seq, &tp));
		break;
	}
	case 6:
		BOTH(store_touchpoint_del(T, cid, at, seq));
		break;
	case 7:
		snprintf(id2, sizeof(id2), "e%u", rng_below(rng, N_EVENT));
		switch (rng_below(rng, 3)) {
		case 0:
			BOTH(store_event_put(T, id2, cid, at, seq));
			break;
		case 1:
			BOTH(store_event_del(T, id2));
			break;
		default:
			BOTH(store_event_exists(T, id2));
		}
		break;
	case 8:
		snprintf(id, sizeof(id), "a%u", rng_below(rng, N_ANON));
		snprintf(id2, sizeof(id2), "k%u", rng_below(rng, N_KNOWN));
		if (rng_below(rng, 3) == 0) {
			BOTH(store_alias_del(T, id));
		} else {
			BOTH(store_alias_put(T, id, id2));
		}
		break;
	case 9: {
		int64_t old = p->onb[cid];
		int64_t now = rng_below(rng, 4) == 0
		        ? NONE
		        : 1000 * (int64_t) rng_below(rng, 8);
		BOTH(store_onboarding_update(T, cid, old == NONE ? NULL : &old,
		        now == NONE ? NULL : &now));
		p->onb[cid] = now;
		break;
	}
	case 10: {
		int delta = (int) rng_below(rng, 5) - 2;
		snprintf(id, sizeof(id), "i%u", rng_below(rng, N_ITEM));
		snprintf(id2, sizeof(id2), "i%u", rng_below(rng, N_ITEM));
		if (rng_below(rng, 2)) {
			BOTH(store_pop_add(T, id, delta));
		} else {
			BOTH(store_co_add(T, id, id2, delta));
		}
		break;
	}
	case 11: {
		snprintf(id, sizeof(id), "k%u",
		        2 * rng_below(rng, N_KNOWN / 2));
		snprintf(id2, sizeof(id2), "r%u", rng_below(rng, 3));
		if (rng_below(rng, 4) == 0) {
			BOTH(store_claims_del(T, id));
		} else {
			Clm__V1__RecommendReply rep
			        = CLM__V1__RECOMMEND_REPLY__INIT;
			rep.stage = (Clm__V1__Stage) rng_below(rng, 5);
			BOTH(store_claim_put(T, id, id2, &rep));
		}
		break;
	}
	case 12:
	case 13: {
		key_agg(key, rng_below(rng, N_AGG));
		int64_t d[3];
		size_t n = 1 + rng_below(rng, 3);
		if (rng_below(rng, 3) == 0) {
			/* Back to zero: the key goes. */
			cr_assert_eq(store_agg_get(ta, key, 4, d, n), CLM_OK);
			for (size_t i = 0; i < n; i++) {
				d[i] = -d[i];
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				d[i] = (int64_t) rng_below(rng, 5) - 2;
			}
		}
		BOTH(store_agg_add(T, key, 4, d, n));
		break;
	}
	case 14: {
		key_blob(key, rng_below(rng, N_BLOB));
		unsigned char val[300];
		size_t n = 1 + rng_below(rng, sizeof(val));
		for (size_t i = 0; i < n; i++) {
			val[i] = (unsigned char) rng_next(rng);
		}
		BOTH(store_agg_blob_put(T, key, 4, val, n));
		break;
	}
	case 15:
		if (rng_below(rng, 6) == 0) {
			unsigned char lo
			        = (unsigned char) (1 + rng_below(rng, 4));
			unsigned char hi
			        = (unsigned char) (lo + rng_below(rng, 3));
			bool touch = rng_below(rng, 2);
			BOTH(store_agg_reset(T, lo, hi, touch));
		} else {
			bool touch = rng_below(rng, 2);
			uint64_t v = rng_below(rng, 4);
			BOTH(store_agg_set_version(T, touch, v));
		}
		break;
	case 16: {
		int64_t olda = -1, oldb = -2;
		int ch = (int) rng_below(rng, 3);
		uint32_t day = 20000 + rng_below(rng, 4);
		const char *camp = rng_below(rng, 2) ? "spring" : "";
		int64_t micros = (int64_t) rng_below(rng, 1000000);
		clm_err ea = store_spend_set(ta, ch, day, camp, micros, &olda);
		clm_err eb = store_spend_set(tb, ch, day, camp, micros, &oldb);
		cr_assert_eq(ea, eb, "step %d: spend_set", step);
		cr_assert_eq(olda, oldb, "step %d: spend_set old", step);
		break;
	}
	case 17:
		snprintf(id, sizeof(id), "i%u", rng_below(rng, N_ITEM));
		if (rng_below(rng, 3) == 0) {
			Clm__V1__ExperimentRecord x
			        = CLM__V1__EXPERIMENT_RECORD__INIT;
			x.experiment_id = id;
			x.defined_ms = (int64_t) rng_below(rng, 1000);
			BOTH(store_experiment_put(T, &x));
		} else if (rng_below(rng, 2) == 0) {
			Clm__V1__Store st = CLM__V1__STORE__INIT;
			st.store_id = id;
			st.radius_m = (double) rng_below(rng, 1000);
			BOTH(store_store_put(T, &st));
		} else {
			Clm__V1__Item it = CLM__V1__ITEM__INIT;
			it.item_id = id;
			it.price = (double) rng_below(rng, 1000);
			BOTH(store_item_put(T, &it));
		}
		break;
	case 18: {
		unsigned which = rng_below(rng, 3);
		uint64_t (*fn)(store_txn *) = which == 0 ? store_next_cid
		        : which == 1                     ? store_next_seq
		                     : store_next_event_seq;
		uint64_t x = fn(ta), y = fn(tb);
		cr_assert_eq(x, y, "step %d: counter %u: %llu vs %llu", step,
		        which, (unsigned long long) x, (unsigned long long) y);
		break;
	}
	default: {
		/* A scan of one customer's touchpoints, inside the txn. */
		char *bufs[2];
		store_txn *ts[2] = { ta, tb };
		for (int i = 0; i < 2; i++) {
			size_t len;
			FILE *f = open_memstream(&bufs[i], &len);
			clm_err e = store_touchpoints_scan(ts[i], cid,
			        at - 1000, at + 3000, dump_touch_fn, f);
			fprintf(f, " %s", clm_errname(e));
			fclose(f);
		}
		cr_assert_str_eq(bufs[0], bufs[1], "step %d: scan", step);
		free(bufs[0]);
		free(bufs[1]);
	}
	}
}

/* Checkpoints B at the next position. */
static void
pair_checkpoint(struct pair *p)
{
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(p->b, ++p->pos, &st);
	cr_assert_eq(e, CLM_OK, "store_checkpoint: %s", clm_errname(e));
	cr_assert_eq(store_position(p->b), p->pos);
}

/*
 * One write transaction of up to 12 random operations on both stores,
 * compared inside (without store_stats: see known_bug_stats_in_write_txn)
 * and, when committed, in fresh readers. Checkpoints B at random first
 * when ckpt.
 */
static void
pair_txn(struct pair *p, int step, bool ckpt)
{
	if (ckpt && rng_below(&p->rng, 10) == 0) {
		pair_checkpoint(p);
	}
	store_txn *ta, *tb;
	cr_assert_eq(store_write_begin(p->a, &ta), CLM_OK);
	cr_assert_eq(store_write_begin(p->b, &tb), CLM_OK);
	unsigned nops = 1 + rng_below(&p->rng, 12);
	for (unsigned i = 0; i < nops; i++) {
		pair_op(p, ta, tb, step);
	}
	if (rng_below(&p->rng, 3) == 0) {
		compare_txns(ta, tb, false, "in write txn", step);
	}
	if (rng_below(&p->rng, 8) == 0) {
		store_write_abort(ta);
		store_write_abort(tb);
		memcpy(p->onb, p->onb_done, sizeof(p->onb));
	} else {
		cr_assert_eq(store_write_commit(ta), CLM_OK);
		cr_assert_eq(store_write_commit(tb), CLM_OK);
		memcpy(p->onb_done, p->onb, sizeof(p->onb));
	}
	compare_committed(p->a, p->b, true, "committed", step);
}

static void
pair_open(struct pair *p, uint64_t seed, uint64_t overlay)
{
	*p = (struct pair) { .rng = seed };
	for (int i = 0; i <= N_CID; i++) {
		p->onb[i] = p->onb_done[i] = NONE;
	}
	p->a = open_store(dir_a, 256 * MIB, 0);
	p->b = open_store(dir_b, 256 * MIB, overlay);
}

static void
run_differential(uint64_t seed, int txns)
{
	struct pair p;
	pair_open(&p, seed, 64 * MIB);
	for (int step = 0; step < txns; step++) {
		pair_txn(&p, step, true);
	}
	pair_checkpoint(&p);
	compare_committed(p.a, p.b, true, "final checkpoint", txns);
	store_close(p.a);
	store_close(p.b);
}

Test(overlay, differential_seed_1)
{
	run_differential(1, 500);
}

Test(overlay, differential_seed_2)
{
	run_differential(0xc0ffee, 500);
}

Test(overlay, differential_seed_3)
{
	run_differential(20261206, 500);
}

/* ---------------------------------------------------------------------- */
/* Reopening, and readers across checkpoints                              */

/* The counters a write transaction of s would hand out next. */
static void
next_counters(store *s, uint64_t out[3])
{
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	out[0] = store_next_cid(t);
	out[1] = store_next_seq(t);
	out[2] = store_next_event_seq(t);
	store_write_abort(t);
}

Test(overlay, reopen_keeps_the_checkpoint_only)
{
	struct pair p;
	pair_open(&p, 77, 64 * MIB);
	for (int step = 0; step < 150; step++) {
		pair_txn(&p, step, true);
	}
	pair_checkpoint(&p);
	uint64_t at = p.pos;
	char *want = dump_committed(p.a, true);
	uint64_t want_next[3], got_next[3];
	next_counters(p.a, want_next);
	/* More on both, but never checkpointed: lost with the overlay. */
	for (int step = 150; step < 250; step++) {
		pair_txn(&p, step, false);
	}
	char *later = dump_committed(p.b, true);
	cr_assert_str_neq(want, later, "the writes after it changed nothing");
	free(later);
	store_close(p.b);
	p.b = open_store(dir_b, 256 * MIB, 64 * MIB);
	cr_assert_eq(store_position(p.b), at, "position %llu after reopening",
	        (unsigned long long) store_position(p.b));
	char *got = dump_committed(p.b, true);
	expect_same(want, got, "reopened", 0);
	next_counters(p.b, got_next);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(got_next[i], want_next[i],
		        "counter %d: %llu, want %llu", i,
		        (unsigned long long) got_next[i],
		        (unsigned long long) want_next[i]);
	}
	free(want);
	free(got);
	store_close(p.a);
	store_close(p.b);
}

Test(overlay, reader_keeps_its_snapshot_across_checkpoints)
{
	struct pair p;
	pair_open(&p, 4242, 64 * MIB);
	for (int step = 0; step < 60; step++) {
		pair_txn(&p, step, false);
	}
	store_reader *r1, *r2;
	cr_assert_eq(store_reader_new(p.b, &r1), CLM_OK);
	cr_assert_eq(store_reader_new(p.b, &r2), CLM_OK);
	store_txn *t1, *t2;
	cr_assert_eq(store_read_begin(r1, &t1), CLM_OK);
	char *before = overlay_dump(t1, true);
	char *want = dump_committed(p.a, true);
	expect_same(want, before, "reader before checkpoints", 0);
	/* Two checkpoints with writes between and after them. */
	for (int round = 0; round < 2; round++) {
		pair_checkpoint(&p);
		for (int step = 0; step < 40; step++) {
			pair_txn(&p, 100 * (round + 1) + step, false);
		}
		char *again = overlay_dump(t1, true);
		expect_same(before, again, "old reader", round);
		free(again);
	}
	cr_assert_eq(store_read_begin(r2, &t2), CLM_OK);
	char *now = overlay_dump(t2, true);
	char *want_now = dump_committed(p.a, true);
	expect_same(want_now, now, "new reader", 0);
	cr_assert_str_neq(before, now, "nothing was written");
	store_read_end(t1);
	store_read_end(t2);
	store_reader_free(r1);
	store_reader_free(r2);
	free(before);
	free(want);
	free(now);
	free(want_now);
	store_close(p.a);
	store_close(p.b);
}

/*
 * Known bug: under an overlay, store_stats in a write transaction leaves
 * out the transaction's own profiles and touchpoints (it adds the
 * overlay's committed counters, not t->delta_*), while without an overlay
 * LMDB counts them.
 */
Test(overlay, known_bug_stats_in_write_txn)
{
	struct pair p;
	pair_open(&p, 1, 64 * MIB);
	store_txn *ta, *tb;
	cr_assert_eq(store_write_begin(p.a, &ta), CLM_OK);
	cr_assert_eq(store_write_begin(p.b, &tb), CLM_OK);
	int step = 0;
	unsigned op = 0;
	Clm__V1__CustomerRecord rec = CLM__V1__CUSTOMER_RECORD__INIT;
	rec.customer_id = "k1";
	BOTH(store_customer_put(T, &rec));
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	BOTH(store_touchpoint_put(T, 1, 1000, 1, &tp));
	compare_txns(ta, tb, true, "stats in write txn", 0);
	store_write_abort(ta);
	store_write_abort(tb);
	store_close(p.a);
	store_close(p.b);
}

/* ---------------------------------------------------------------------- */
/* Reader threads while the writer commits and checkpoints                */

#define INV_KEY "\x01inv"

struct inv_reader {
	store *s;
	int done; /* set (atomically) by the writer when it finishes */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* reads moved */
	uint64_t reads, kv_bad, stats_bad;
	char first_bad[200];
};

static int
inv_count_fn(void *arg, const char *id, bool anonymous)
{
	(void) id;
	(void) anonymous;
	(*(uint64_t *) arg)++;
	return 0;
}

static int
inv_touch_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) at_ms;
	(void) seq;
	(void) tp;
	(*(uint64_t *) arg)++;
	return 0;
}

/*
 * The invariant the writer keeps in every transaction: counter 0 of
 * INV_KEY is the number of profiles, counter 1 of touchpoints (of cids
 * 1..N_CID). Checked by listing them (the merged cursors) and by
 * store_stats.
 */
static void
inv_check(struct inv_reader *x, store_txn *t)
{
	int64_t c[2];
	uint64_t n = 0, tps = 0;
	clm_err e = store_agg_get(t, INV_KEY, 4, c, 2);
	if (e == CLM_OK) {
		e = store_customers_after(
		        t, NULL, false, 100000, inv_count_fn, &n);
	}
	for (uint64_t cid = 1; e == CLM_OK && cid <= N_CID; cid++) {
		e = store_touchpoints_scan(
		        t, cid, -1, INT64_MAX, inv_touch_fn, &tps);
	}
	struct store_stats st = { 0 };
	if (e == CLM_OK) {
		e = store_stats(t, &st);
	}
	pthread_mutex_lock(&x->mu);
	x->reads++;
	pthread_cond_broadcast(&x->cv);
	bool kv_ok
	        = e == CLM_OK && (int64_t) n == c[0] && (int64_t) tps == c[1];
	bool st_ok = e == CLM_OK && st.customers == n && st.touchpoints == tps;
	if ((!kv_ok || !st_ok) && x->first_bad[0] == '\0') {
		snprintf(x->first_bad, sizeof(x->first_bad),
		        "%s: counters %lld %lld, listed %llu %llu, stats %llu %llu",
		        clm_errname(e), (long long) c[0], (long long) c[1],
		        (unsigned long long) n, (unsigned long long) tps,
		        (unsigned long long) st.customers,
		        (unsigned long long) st.touchpoints);
	}
	x->kv_bad += !kv_ok;
	x->stats_bad += !st_ok;
	pthread_mutex_unlock(&x->mu);
}

static void *
inv_reader_main(void *arg)
{
	struct inv_reader *x = arg;
	store_reader *r;
	if (store_reader_new(x->s, &r) != CLM_OK) {
		return NULL;
	}
	/* Bounded: the writer's end stops it long before. */
	for (int i = 0; i < 10000000; i++) {
		if (__atomic_load_n(&x->done, __ATOMIC_SEQ_CST)) {
			break;
		}
		store_txn *t;
		if (store_read_begin(r, &t) != CLM_OK) {
			pthread_mutex_lock(&x->mu);
			x->kv_bad++;
			pthread_mutex_unlock(&x->mu);
			break;
		}
		inv_check(x, t);
		store_read_end(t);
	}
	store_reader_free(r);
	return NULL;
}

/* One writer transaction keeping the invariant; returns nothing. */
static void
inv_write(store *s, uint64_t *rng, int step, int *next_id)
{
	store_txn *t;
	cr_assert_eq(store_write_begin(s, &t), CLM_OK);
	int64_t d[2] = { 0, 0 };
	unsigned n = 1 + rng_below(rng, 4);
	char id[32];
	for (unsigned i = 0; i < n; i++) {
		if (rng_below(rng, 3) == 0 && *next_id > 0) {
			snprintf(id, sizeof(id), "c%u",
			        rng_below(rng, *next_id));
			clm_err e = store_customer_del(t, id, false);
			cr_assert(e == CLM_OK || e == CLM_NOT_FOUND);
			d[0] -= e == CLM_OK;
		} else {
			Clm__V1__CustomerRecord rec
			        = CLM__V1__CUSTOMER_RECORD__INIT;
			snprintf(id, sizeof(id), "c%d", (*next_id)++);
			rec.customer_id = id;
			cr_assert_eq(store_customer_put(t, &rec), CLM_OK);
			d[0]++;
		}
		uint64_t cid = 1 + rng_below(rng, N_CID);
		int64_t at = 1000 * (int64_t) rng_below(rng, 10);
		uint64_t seq = 1 + rng_below(rng, 3);
		if (rng_below(rng, 3) == 0) {
			clm_err e = store_touchpoint_del(t, cid, at, seq);
			cr_assert(e == CLM_OK || e == CLM_NOT_FOUND);
			d[1] -= e == CLM_OK;
		} else {
			Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
			/* A put over an existing key adds nothing. */
			uint64_t before = 0, after = 0;
			store_touchpoints_scan(
			        t, cid, at - 1, at, inv_touch_fn, &before);
			cr_assert_eq(
			        store_touchpoint_put(t, cid, at, seq, &tp),
			        CLM_OK);
			store_touchpoints_scan(
			        t, cid, at - 1, at, inv_touch_fn, &after);
			d[1] += (int64_t) (after - before);
		}
	}
	cr_assert_eq(
	        store_agg_add(t, INV_KEY, 4, d, 2), CLM_OK, "step %d", step);
	cr_assert_eq(store_write_commit(t), CLM_OK);
}

/*
 * The writer commits and checkpoints 600 times while two reader threads
 * check the invariant; store_stats mismatches (see
 * known_bug_stats_reader_meets_checkpoint) are only counted and logged:
 * they come by chance.
 */
static void
inv_run(void)
{
	store *s = open_store(dir_b, 256 * MIB, 64 * MIB);
	struct inv_reader x = { .s = s };
	pthread_mutex_init(&x.mu, NULL);
	pthread_cond_init(&x.cv, NULL);
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(
		        pthread_create(&th[i], NULL, inv_reader_main, &x), 0);
	}
	uint64_t rng = 99, pos = 0;
	int next_id = 0;
	for (int step = 0; step < 600; step++) {
		inv_write(s, &rng, step, &next_id);
		if (step % 3 == 2) {
			struct store_ckpt_stats st;
			cr_assert_eq(store_checkpoint(s, ++pos, &st), CLM_OK);
		}
		/*
		 * Let the readers in (two cores, shared): wait, at most 10 s,
		 * until they have read twice since the last round.
		 */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		pthread_mutex_lock(&x.mu);
		uint64_t want = x.reads + 2;
		while (x.reads < want
		        && pthread_cond_timedwait(&x.cv, &x.mu, &ts) == 0) {
		}
		pthread_mutex_unlock(&x.mu);
	}
	__atomic_store_n(&x.done, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
	}
	/* And once more after everything, so there is at least one read. */
	x.done = 0;
	store_reader *r;
	store_txn *t;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	inv_check(&x, t);
	store_read_end(t);
	store_reader_free(r);
	cr_log_info(
	        "%llu reads, %llu kv mismatches, %llu stats mismatches%s%s",
	        (unsigned long long) x.reads, (unsigned long long) x.kv_bad,
	        (unsigned long long) x.stats_bad, x.first_bad[0] ? ": " : "",
	        x.first_bad);
	cr_assert_geq(x.reads, 600, "the readers hardly read");
	cr_assert_eq(x.kv_bad, 0, "%llu of %llu reads broke the invariant: %s",
	        (unsigned long long) x.kv_bad, (unsigned long long) x.reads,
	        x.first_bad);
	pthread_mutex_destroy(&x.mu);
	pthread_cond_destroy(&x.cv);
	store_close(s);
}

Test(overlay, reader_threads_see_whole_transactions)
{
	inv_run();
}

/* ---------------------------------------------------------------------- */
/* A checkpoint between a reader's two snapshots, forced                  */

/*
 * The test's hooks into LMDB, to put a checkpoint exactly where a reader
 * can meet it: this executable's mdb_txn_renew and mdb_drop wrap LMDB's
 * (RTLD_NEXT). Armed, a reader's renewal of its overlay transaction lets
 * a checkpointer thread go and waits until it has committed the base and
 * stands before emptying the overlay (its first mdb_drop), which waits in
 * turn until the reader lets it go. File-private statics: the hooks have
 * no argument to carry them. Unarmed they only pass the call on.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool armed;
	int state; /* 1: checkpoint may go; 2: at mdb_drop; 3: drop may go */
} hook = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };

/* Waits (at most 20 s) until hook.state is at least want; hook.mu held. */
static void
hook_wait(int want)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	while (hook.state < want) {
		if (pthread_cond_timedwait(&hook.cv, &hook.mu, &ts) != 0) {
			break;
		}
	}
}

static void
hook_set(int state)
{
	hook.state = state;
	pthread_cond_broadcast(&hook.cv);
}

int
mdb_txn_renew(MDB_txn *txn)
{
	static int (*real)(MDB_txn *);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_txn_renew");
	}
	int rc = real(txn);
	unsigned flags = 0;
	mdb_env_get_flags(mdb_txn_env(txn), &flags);
	pthread_mutex_lock(&hook.mu);
	if (hook.armed && hook.state == 0 && (flags & MDB_WRITEMAP)) {
		hook_set(1);
		hook_wait(2);
	}
	pthread_mutex_unlock(&hook.mu);
	return rc;
}

int
mdb_drop(MDB_txn *txn, MDB_dbi dbi, int del)
{
	static int (*real)(MDB_txn *, MDB_dbi, int);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_drop");
	}
	pthread_mutex_lock(&hook.mu);
	if (hook.armed && hook.state == 1) {
		hook_set(2);
		hook_wait(3);
	}
	pthread_mutex_unlock(&hook.mu);
	return real(txn, dbi, del);
}

struct hook_ckpt {
	store *s;
	clm_err e;
};

static void *
hook_ckpt_main(void *arg)
{
	struct hook_ckpt *c = arg;
	pthread_mutex_lock(&hook.mu);
	hook_wait(1);
	pthread_mutex_unlock(&hook.mu);
	struct store_ckpt_stats st;
	c->e = store_checkpoint(c->s, 1, &st);
	return NULL;
}

/*
 * Known bug: a reader that begins its overlay transaction before a
 * checkpoint commits the base and its base transaction after (before the
 * overlay is emptied) passes store_read_begin's generation check (one
 * step, not two). Its values are right (the overlay holds post-images),
 * but store_stats adds the old overlay's counters to a base that already
 * holds them: profiles and touchpoints are counted twice.
 * reader_threads_see_whole_transactions meets it by chance, and logs how
 * often.
 */
Test(overlay, known_bug_stats_reader_meets_checkpoint)
{
	struct pair p;
	pair_open(&p, 5, 64 * MIB);
	for (int step = 0; step < 40; step++) {
		pair_txn(&p, step, false);
	}
	store_reader *r;
	store_txn *t;
	cr_assert_eq(store_reader_new(p.b, &r), CLM_OK);
	/* Once, so that the next begin renews (where the hook is). */
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	store_read_end(t);
	struct hook_ckpt c = { .s = p.b, .e = CLM_INTERNAL };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, hook_ckpt_main, &c), 0);
	pthread_mutex_lock(&hook.mu);
	hook.armed = true;
	pthread_mutex_unlock(&hook.mu);
	clm_err e = store_read_begin(r, &t);
	pthread_mutex_lock(&hook.mu);
	int state = hook.state;
	pthread_mutex_unlock(&hook.mu);
	char *got = e == CLM_OK ? overlay_dump(t, true) : NULL;
	if (e == CLM_OK) {
		store_read_end(t);
	}
	pthread_mutex_lock(&hook.mu);
	hook.armed = false;
	hook_set(3);
	pthread_mutex_unlock(&hook.mu);
	pthread_join(th, NULL);
	store_reader_free(r);
	cr_assert_eq(e, CLM_OK);
	cr_assert_eq(
	        state, 2, "the checkpoint did not reach the overlay's drop");
	cr_assert_eq(c.e, CLM_OK, "store_checkpoint: %s", clm_errname(c.e));
	char *want = dump_committed(p.a, true);
	expect_same(want, got, "reader across a checkpoint's commit", 0);
	free(want);
	free(got);
	store_close(p.a);
	store_close(p.b);
}
