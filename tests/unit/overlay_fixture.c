/*
 * What overlay_test and overlay_ckpt_test share (overlay_fixture.h): stores
 * with and without an overlay, everything observable dumped as text, the
 * same random writes on two stores, and fillers.
 */
#include "overlay_fixture.h"

#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clm/v1/clm.pb-c.h"
#include "testdir.h"

char ovl_dir_a[64], ovl_dir_b[64];

void
ovl_setup(void)
{
	testdir_make(ovl_dir_a, sizeof(ovl_dir_a), "ovl-a");
	testdir_make(ovl_dir_b, sizeof(ovl_dir_b), "ovl-b");
}

void
ovl_teardown(void)
{
	testdir_remove(ovl_dir_a);
	testdir_remove(ovl_dir_b);
}

/* overlay: 0 for none, else the overlay's map size. */
store *
ovl_open(const char *dir, int64_t max_db, uint64_t overlay)
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
uint64_t
ovl_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned
ovl_rng_below(uint64_t *s, unsigned n)
{
	return (unsigned) (ovl_rng_next(s) % n);
}
/* ---------------------------------------------------------------------- */
/* Everything observable, as text                                         */

static void
ovl_hex(FILE *f, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char buf[512];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = ((const unsigned char *) p)[i];
		buf[k++] = digits[c >> 4];
		buf[k++] = digits[c & 15];
		if (k == sizeof(buf)) {
			fwrite(buf, 1, k, f);
			k = 0;
		}
	}
	fwrite(buf, 1, k, f);
}

static void
ovl_msg(FILE *f, const void *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	unsigned char *buf = malloc(n + 1);
	cr_assert_not_null(buf);
	protobuf_c_message_pack(m, buf);
	ovl_hex(f, buf, n);
	free(buf);
}

struct ovl_page {
	char ids[8][32];
	bool anon[8];
	size_t n;
};

static int
ovl_id_fn(void *arg, const char *id, bool anonymous)
{
	struct ovl_page *p = arg;
	cr_assert_lt(p->n, 8);
	snprintf(p->ids[p->n], sizeof(p->ids[0]), "%s", id);
	p->anon[p->n++] = anonymous;
	return 0;
}

int
ovl_dump_touch_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	FILE *f = arg;
	fprintf(f, " %lld/%llu:", (long long) at_ms, (unsigned long long) seq);
	ovl_msg(f, tp);
	return 0;
}

static int
ovl_count_fn(void *arg, const char *item, uint64_t count)
{
	fprintf(arg, " %s=%llu", item, (unsigned long long) count);
	return 0;
}

static int
ovl_agg_fn(void *arg, const unsigned char *key, size_t klen, const void *val,
        size_t vlen)
{
	FILE *f = arg;
	fprintf(f, "agg ");
	ovl_hex(f, key, klen);
	fprintf(f, " = ");
	ovl_hex(f, val, vlen);
	fprintf(f, "\n");
	return 0;
}

static int
ovl_spend_fn(void *arg, int channel, uint32_t day, int64_t micros)
{
	fprintf(arg, "spend %d %u %lld\n", channel, day, (long long) micros);
	return 0;
}

static int
ovl_store_fn(void *arg, const Clm__V1__Store *st)
{
	fprintf(arg, "store ");
	ovl_msg(arg, st);
	fprintf(arg, "\n");
	return 0;
}

static int
ovl_exp_fn(void *arg, Clm__V1__ExperimentRecord *rec)
{
	fprintf(arg, "experiment ");
	ovl_msg(arg, rec);
	fprintf(arg, "\n");
	return 0;
}

static void
ovl_key_agg(unsigned char key[4], unsigned i)
{
	key[0] = (unsigned char) (1 + i / 3);
	key[1] = 'k';
	key[2] = (unsigned char) ('0' + i % 3);
	key[3] = 0;
}

static void
ovl_key_blob(unsigned char key[4], unsigned i)
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
char *
ovl_dump(store_txn *t, bool with_stats)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	arena a;
	arena_init(&a);
	/* Profiles, three at a time. */
	struct ovl_page pg = { .n = 0 };
	char after[32] = "";
	bool after_anon = false, first = true;
	for (int guard = 0; guard < 100; guard++) {
		pg.n = 0;
		clm_err e = store_customers_after(t, first ? NULL : after,
		        after_anon, 3, ovl_id_fn, &pg);
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
				ovl_msg(f, rec);
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
			clm_err e
			        = store_touchpoints_scan(t, cid, ranges[r][0],
			                ranges[r][1], ovl_dump_touch_fn, f);
			fprintf(f, " %s\ncollect:", clm_errname(e));
			e = store_touchpoints_collect(t, cid, ranges[r][0],
			        ranges[r][1], &a, ovl_dump_touch_fn, f);
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
	e = store_pop_top(t, ovl_count_fn, f);
	fprintf(f, " %s\n", clm_errname(e));
	for (int i = 0; i < N_ITEM; i++) {
		snprintf(id, sizeof(id), "i%d", i);
		uint64_t n = 0;
		e = store_pop_get(t, id, &n);
		fprintf(f, "pop %s %s %llu co:", id, clm_errname(e),
		        (unsigned long long) n);
		e = store_co_each(t, id, ovl_count_fn, f);
		fprintf(f, " %s\n", clm_errname(e));
		Clm__V1__Item *item = NULL;
		e = store_item_get(t, id, &a, &item);
		fprintf(f, "item %s %s ", id, clm_errname(e));
		if (e == CLM_OK) {
			ovl_msg(f, item);
		}
		fprintf(f, "\n");
	}
	e = store_agg_scan(t, "\0", 1, "\xff", 1, ovl_agg_fn, f);
	fprintf(f, "agg scan %s\n", clm_errname(e));
	for (unsigned i = 0; i < N_AGG; i++) {
		unsigned char key[4];
		ovl_key_agg(key, i);
		int64_t c[4];
		e = store_agg_get(t, key, sizeof(key), c, 4);
		fprintf(f, "agg %u %s %lld %lld %lld %lld\n", i,
		        clm_errname(e), (long long) c[0], (long long) c[1],
		        (long long) c[2], (long long) c[3]);
	}
	for (unsigned i = 0; i < N_BLOB; i++) {
		unsigned char key[4];
		ovl_key_blob(key, i);
		const void *v = NULL;
		size_t vlen = 0;
		e = store_agg_blob_get(t, key, sizeof(key), &v, &vlen);
		fprintf(f, "blob %u %s ", i, clm_errname(e));
		ovl_hex(f, v, e == CLM_OK ? vlen : 0);
		fprintf(f, "\n");
	}
	uint64_t v0 = 0, v1 = 0;
	e = store_agg_version(t, false, &v0);
	clm_err e1 = store_agg_version(t, true, &v1);
	fprintf(f, "agg versions %s %s %llu %llu\n", clm_errname(e),
	        clm_errname(e1), (unsigned long long) v0,
	        (unsigned long long) v1);
	e = store_spend_each(t, ovl_spend_fn, f);
	fprintf(f, "spend %s\n", clm_errname(e));
	e = store_stores_each(t, &a, ovl_store_fn, f);
	fprintf(f, "stores %s\n", clm_errname(e));
	e = store_experiments_each(t, &a, ovl_exp_fn, f);
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
				ovl_msg(f, rep);
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
void
ovl_expect_same(const char *want, const char *got, const char *ctx, int step)
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
char *
ovl_dump_committed(store *s, bool with_stats)
{
	store_reader *r;
	cr_assert_eq(store_reader_new(s, &r), CLM_OK);
	store_txn *t;
	cr_assert_eq(store_read_begin(r, &t), CLM_OK);
	char *d = ovl_dump(t, with_stats);
	store_read_end(t);
	store_reader_free(r);
	return d;
}

void
ovl_compare_txns(
        store_txn *ta, store_txn *tb, bool stats, const char *ctx, int step)
{
	char *da = ovl_dump(ta, stats);
	char *db = ovl_dump(tb, stats);
	ovl_expect_same(da, db, ctx, step);
	free(da);
	free(db);
}

void
ovl_compare_committed(
        store *a, store *b, bool stats, const char *ctx, int step)
{
	char *da = ovl_dump_committed(a, stats);
	char *db = ovl_dump_committed(b, stats);
	ovl_expect_same(da, db, ctx, step);
	free(da);
	free(db);
}

/* ---------------------------------------------------------------------- */
/* The same random writes on both stores                                  */

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
ovl_customer_text(store_txn *t, const char *id, bool anon)
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
		ovl_msg(f, rec);
	}
	arena_fini(&a);
	fclose(f);
	return buf;
}

/* One random operation on both transactions. */
static void
ovl_pair_op(struct ovl_pair *p, store_txn *ta, store_txn *tb, int step)
{
	uint64_t *rng = &p->rng;
	unsigned op = ovl_rng_below(rng, 20);
	char id[16], id2[16];
	bool anon = ovl_rng_below(rng, 3) == 0;
	snprintf(id, sizeof(id), "%c%u", anon ? 'a' : 'k',
	        ovl_rng_below(rng, anon ? N_ANON : N_KNOWN));
	uint64_t cid = 1 + ovl_rng_below(rng, N_CID);
	int64_t at = 1000 * (int64_t) ovl_rng_below(rng, 10);
	uint64_t seq = 1 + ovl_rng_below(rng, 3);
	unsigned char key[4];
	switch (op) {
	case 0:
	case 1: {
		Clm__V1__CustomerRecord rec = CLM__V1__CUSTOMER_RECORD__INIT;
		rec.customer_id = id;
		rec.anonymous = anon;
		rec.cid = cid;
		rec.purchases = ovl_rng_below(rng, 1000);
		rec.last_item = ovl_rng_below(rng, 2) ? "i1" : "";
		/* Half the time as profile_save does: knowing it is there. */
		char *was = ovl_customer_text(ta, id, anon);
		bool loaded = strncmp(was, "OK ", 3) == 0
		        && ovl_rng_below(rng, 2) == 0;
		free(was);
		BOTH(store_customer_put(T, &rec, loaded));
		break;
	}
	case 2: {
		char *x = ovl_customer_text(ta, id, anon);
		char *y = ovl_customer_text(tb, id, anon);
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
		snprintf(id2, sizeof(id2), "e%u", ovl_rng_below(rng, N_EVENT));
		tp.event_id = id2;
		tp.value = (double) ovl_rng_below(rng, 100);
		if (ovl_rng_below(rng, 2) == 0) {
			BOTH(store_touchpoint_put(T, cid, at, seq, &tp));
		} else {
			/* As ingest does: a seq never used before. */
			seq = 1000 + p->fresh_seq++;
			BOTH(store_touchpoint_add(T, cid, at, seq, &tp));
		}
		break;
	}
	case 6:
		BOTH(store_touchpoint_del(T, cid, at, seq));
		break;
	case 7:
		snprintf(id2, sizeof(id2), "e%u", ovl_rng_below(rng, N_EVENT));
		switch (ovl_rng_below(rng, 3)) {
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
		snprintf(id, sizeof(id), "a%u", ovl_rng_below(rng, N_ANON));
		snprintf(id2, sizeof(id2), "k%u", ovl_rng_below(rng, N_KNOWN));
		if (ovl_rng_below(rng, 3) == 0) {
			BOTH(store_alias_del(T, id));
		} else {
			BOTH(store_alias_put(T, id, id2));
		}
		break;
	case 9: {
		int64_t old = p->onb[cid];
		int64_t now = ovl_rng_below(rng, 4) == 0
		        ? NONE
		        : 1000 * (int64_t) ovl_rng_below(rng, 8);
		BOTH(store_onboarding_update(T, cid, old == NONE ? NULL : &old,
		        now == NONE ? NULL : &now));
		p->onb[cid] = now;
		break;
	}
	case 10: {
		int delta = (int) ovl_rng_below(rng, 5) - 2;
		snprintf(id, sizeof(id), "i%u", ovl_rng_below(rng, N_ITEM));
		snprintf(id2, sizeof(id2), "i%u", ovl_rng_below(rng, N_ITEM));
		if (ovl_rng_below(rng, 2)) {
			BOTH(store_pop_add(T, id, delta));
		} else {
			BOTH(store_co_add(T, id, id2, delta));
		}
		break;
	}
	case 11: {
		snprintf(id, sizeof(id), "k%u",
		        2 * ovl_rng_below(rng, N_KNOWN / 2));
		snprintf(id2, sizeof(id2), "r%u", ovl_rng_below(rng, 3));
		if (ovl_rng_below(rng, 4) == 0) {
			BOTH(store_claims_del(T, id));
		} else {
			Clm__V1__RecommendReply rep
			        = CLM__V1__RECOMMEND_REPLY__INIT;
			rep.stage = (Clm__V1__Stage) ovl_rng_below(rng, 5);
			BOTH(store_claim_put(T, id, id2, &rep));
		}
		break;
	}
	case 12:
	case 13: {
		ovl_key_agg(key, ovl_rng_below(rng, N_AGG));
		int64_t d[3];
		size_t n = 1 + ovl_rng_below(rng, 3);
		if (ovl_rng_below(rng, 3) == 0) {
			/* Back to zero: the key goes. */
			cr_assert_eq(store_agg_get(ta, key, 4, d, n), CLM_OK);
			for (size_t i = 0; i < n; i++) {
				d[i] = -d[i];
			}
		} else {
			for (size_t i = 0; i < n; i++) {
				d[i] = (int64_t) ovl_rng_below(rng, 5) - 2;
			}
		}
		BOTH(store_agg_add(T, key, 4, d, n));
		break;
	}
	case 14: {
		ovl_key_blob(key, ovl_rng_below(rng, N_BLOB));
		unsigned char val[300];
		size_t n = 1 + ovl_rng_below(rng, sizeof(val));
		for (size_t i = 0; i < n; i++) {
			val[i] = (unsigned char) ovl_rng_next(rng);
		}
		BOTH(store_agg_blob_put(T, key, 4, val, n));
		break;
	}
	case 15:
		if (ovl_rng_below(rng, 6) == 0) {
			unsigned char lo
			        = (unsigned char) (1 + ovl_rng_below(rng, 4));
			unsigned char hi
			        = (unsigned char) (lo + ovl_rng_below(rng, 3));
			bool touch = ovl_rng_below(rng, 2);
			BOTH(store_agg_reset(T, lo, hi, touch));
		} else {
			bool touch = ovl_rng_below(rng, 2);
			uint64_t v = ovl_rng_below(rng, 4);
			BOTH(store_agg_set_version(T, touch, v));
		}
		break;
	case 16: {
		int64_t olda = -1, oldb = -2;
		int ch = (int) ovl_rng_below(rng, 3);
		uint32_t day = 20000 + ovl_rng_below(rng, 4);
		const char *camp = ovl_rng_below(rng, 2) ? "spring" : "";
		int64_t micros = (int64_t) ovl_rng_below(rng, 1000000);
		clm_err ea = store_spend_set(ta, ch, day, camp, micros, &olda);
		clm_err eb = store_spend_set(tb, ch, day, camp, micros, &oldb);
		cr_assert_eq(ea, eb, "step %d: spend_set", step);
		cr_assert_eq(olda, oldb, "step %d: spend_set old", step);
		break;
	}
	case 17:
		snprintf(id, sizeof(id), "i%u", ovl_rng_below(rng, N_ITEM));
		if (ovl_rng_below(rng, 3) == 0) {
			Clm__V1__ExperimentRecord x
			        = CLM__V1__EXPERIMENT_RECORD__INIT;
			x.experiment_id = id;
			x.defined_ms = (int64_t) ovl_rng_below(rng, 1000);
			BOTH(store_experiment_put(T, &x));
		} else if (ovl_rng_below(rng, 2) == 0) {
			Clm__V1__Store st = CLM__V1__STORE__INIT;
			st.store_id = id;
			st.radius_m = (double) ovl_rng_below(rng, 1000);
			BOTH(store_store_put(T, &st));
		} else {
			Clm__V1__Item it = CLM__V1__ITEM__INIT;
			it.item_id = id;
			it.price = (double) ovl_rng_below(rng, 1000);
			BOTH(store_item_put(T, &it));
		}
		break;
	case 18: {
		unsigned which = ovl_rng_below(rng, 3);
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
			        at - 1000, at + 3000, ovl_dump_touch_fn, f);
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
void
ovl_pair_checkpoint(struct ovl_pair *p)
{
	/* It first completes a background one left half way. */
	if (p->staged > p->pos) {
		p->pos = p->staged;
	}
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(p->b, ++p->pos, &st);
	cr_assert_eq(e, CLM_OK, "store_checkpoint: %s", clm_errname(e));
	cr_assert_eq(store_position(p->b), p->pos);
	cr_assert(!store_ckpt_frozen(p->b));
}

void
ovl_pair_stage(struct ovl_pair *p)
{
	struct store_ckpt_stats st;
	if (!store_ckpt_frozen(p->b)) {
		p->staged = p->pos + 1;
		clm_err e = store_ckpt_freeze(p->b, p->staged);
		cr_assert_eq(e, CLM_OK, "freeze: %s", clm_errname(e));
		cr_assert(store_ckpt_frozen(p->b));
		cr_assert_eq(store_position(p->b), p->pos,
		        "frozen at %llu: position %llu, not %llu",
		        (unsigned long long) p->staged,
		        (unsigned long long) store_position(p->b),
		        (unsigned long long) p->pos);
	} else if (p->staged > p->pos) {
		int rc = store_ckpt_run(p->b, false, &st);
		cr_assert_eq(rc, 0, "run: %s", mdb_strerror(rc));
		p->pos = p->staged;
		cr_assert_eq(store_position(p->b), p->pos);
		cr_assert(store_ckpt_frozen(p->b));
	} else {
		int rc = store_ckpt_release(p->b);
		cr_assert_eq(rc, 0, "release: %s", mdb_strerror(rc));
		cr_assert(!store_ckpt_frozen(p->b));
	}
}

/*
 * One write transaction of up to 12 random operations on both stores,
 * compared inside (without store_stats, which has its own test)
 * and, when committed, in fresh readers. Checkpoints B at random first
 * when ckpt.
 */
void
ovl_pair_txn(struct ovl_pair *p, int step, bool ckpt)
{
	if (ckpt) {
		/* A checkpoint, or one step of one in the background. */
		unsigned r = ovl_rng_below(&p->rng, 10);
		if (r == 0) {
			ovl_pair_checkpoint(p);
		} else if (r <= 2) {
			ovl_pair_stage(p);
		}
	}
	store_txn *ta, *tb;
	cr_assert_eq(store_write_begin(p->a, &ta), CLM_OK);
	cr_assert_eq(store_write_begin(p->b, &tb), CLM_OK);
	unsigned nops = 1 + ovl_rng_below(&p->rng, 12);
	for (unsigned i = 0; i < nops; i++) {
		ovl_pair_op(p, ta, tb, step);
	}
	if (ovl_rng_below(&p->rng, 3) == 0) {
		ovl_compare_txns(ta, tb, false, "in write txn", step);
	}
	if (ovl_rng_below(&p->rng, 8) == 0) {
		store_write_abort(ta);
		store_write_abort(tb);
		memcpy(p->onb, p->onb_done, sizeof(p->onb));
	} else {
		cr_assert_eq(store_write_commit(ta), CLM_OK);
		cr_assert_eq(store_write_commit(tb), CLM_OK);
		memcpy(p->onb_done, p->onb, sizeof(p->onb));
	}
	ovl_compare_committed(p->a, p->b, true, "committed", step);
}

void
ovl_pair_open(struct ovl_pair *p, uint64_t seed, uint64_t overlay)
{
	/*
	 * A test may open its directories again with another seed: the
	 * seed keeps store_touchpoint_add's seqs unused in what is there.
	 */
	*p = (struct ovl_pair) { .rng = seed, .fresh_seq = seed << 24 };
	for (int i = 0; i <= N_CID; i++) {
		p->onb[i] = p->onb_done[i] = NONE;
	}
	p->a = ovl_open(ovl_dir_a, 256 * MIB, 0);
	p->b = ovl_open(ovl_dir_b, 256 * MIB, overlay);
	p->pos = p->staged = store_position(p->b); /* a directory reused */
}

/* ---------------------------------------------------------------------- */
/* A full overlay, and a checkpoint the base has no room for              */

/* One transaction putting sketch 'f' i of vlen bytes (at most 4096). */
clm_err
ovl_fill(store *s, unsigned i, size_t vlen)
{
	store_txn *t;
	clm_err e = store_write_begin(s, &t);
	if (e != CLM_OK) {
		return e;
	}
	unsigned char key[4]
	        = { 9, 'f', (unsigned char) (i >> 8), (unsigned char) i };
	unsigned char val[4096];
	for (size_t j = 0; j < vlen; j++) {
		val[j] = (unsigned char) (i * 31 + j);
	}
	e = store_agg_blob_put(t, key, sizeof(key), val, vlen);
	if (e != CLM_OK) {
		store_write_abort(t);
		return e;
	}
	return store_write_commit(t);
}

/* ovl_fill on the store without an overlay, growing its map as needed. */
clm_err
ovl_fill_grow(store *s, unsigned i, size_t vlen)
{
	clm_err e = ovl_fill(s, i, vlen);
	for (int n = 0;
	        n < 8 && e == CLM_RESOURCE_EXHAUSTED && store_map_full(s);
	        n++) {
		cr_assert_eq(store_grow(s), CLM_OK);
		e = ovl_fill(s, i, vlen);
	}
	return e;
}

/*
 * Fills B's overlay (of 1 MiB: LMDB takes any map of a few pages) with
 * sketches of 2000 bytes, A getting the same, until a write fails; returns
 * the index that failed.
 */
unsigned
ovl_fill_until_full(store *a, store *b)
{
	for (unsigned i = 0; i < 2000; i++) {
		clm_err e = ovl_fill(b, i, 2000);
		if (e != CLM_OK) {
			cr_assert_eq(e, CLM_RESOURCE_EXHAUSTED, "write %u: %s",
			        i, clm_errname(e));
			cr_assert(store_overlay_full(b), "write %u: not full",
			        i);
			cr_assert_gt(i, 100, "full after %u writes", i);
			return i;
		}
		cr_assert_eq(ovl_fill_grow(a, i, 2000), CLM_OK);
	}
	cr_assert_fail("a 1 MiB overlay took 4 MB");
	return 0;
}

void
ovl_gate_wait(struct ovl_gate *g, int want)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	while (g->state < want) {
		if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0) {
			break;
		}
	}
}

void
ovl_gate_set(struct ovl_gate *g, int state)
{
	g->state = state;
	pthread_cond_broadcast(&g->cv);
}

struct ovl_race {
	struct ovl_gate *g;
	store *s;
	clm_err e;
};

/* The checkpointing thread of ovl_race_reader. */
static void *
ovl_race_ckpt(void *arg)
{
	struct ovl_race *c = arg;
	pthread_mutex_lock(&c->g->mu);
	ovl_gate_wait(c->g, 1);
	pthread_mutex_unlock(&c->g->mu);
	struct store_ckpt_stats st;
	c->e = store_checkpoint(c->s, 1, &st);
	return NULL;
}

void
ovl_race_reader(struct ovl_gate *g, const char *what)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 5, 64 * MIB);
	for (int step = 0; step < 40; step++) {
		ovl_pair_txn(&p, step, false);
	}
	store_reader *r;
	store_txn *t;
	cr_assert_eq(store_reader_new(p.b, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &t), CLM_OK); /* so the next renews */
	store_read_end(t);
	struct ovl_race c = { .g = g, .s = p.b, .e = CLM_INTERNAL };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, ovl_race_ckpt, &c), 0);
	pthread_mutex_lock(&g->mu);
	g->armed = true;
	pthread_mutex_unlock(&g->mu);
	clm_err e = store_read_begin(r, &t);
	pthread_mutex_lock(&g->mu);
	int state = g->state;
	pthread_mutex_unlock(&g->mu);
	char *got = e == CLM_OK ? ovl_dump(t, true) : NULL;
	if (e == CLM_OK) {
		store_read_end(t);
	}
	pthread_mutex_lock(&g->mu);
	g->armed = false;
	ovl_gate_set(g, 3);
	pthread_mutex_unlock(&g->mu);
	pthread_join(th, NULL);
	store_reader_free(r);
	cr_assert_eq(e, CLM_OK);
	cr_assert_eq(state, 2, "%s: the hooks did not line up (state %d)",
	        what, state);
	cr_assert_eq(c.e, CLM_OK, "store_checkpoint: %s", clm_errname(c.e));
	char *want = ovl_dump_committed(p.a, true);
	ovl_expect_same(want, got, what, 0);
	free(want);
	free(got);
	store_close(p.a);
	store_close(p.b);
}
