/*
 * Unit tests of server/store/agg_write.c against a store: agg_write_diff
 * (diffs in steps equal one diff, a diff to nothing empties the store, any
 * order of states lands on the same bytes) and agg_write_touch (day counters,
 * money, visitor sketches folded at commit). The store is opened inside each
 * test: Criterion forks, and LMDB must not be opened before the fork.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_fixture.h"
#include "core/agg.h"
#include "core/hll.h"
#include "core/model.h"
#include "store/agg_write.h"
#include "store/store.h"
#include "testdir.h"
#include "util/arena.h"

/* ---------------------------------------------------------------------- */
/* Store helpers                                                          */

/* A store in a fresh directory under /tmp. */
struct tstore {
	char dir[64];
	store *s;
};

static void
tstore_open(struct tstore *t)
{
	testdir_make(t->dir, sizeof(t->dir), "agg-test");
	struct store_opts o = {
		.dir = t->dir,
		.nosync = true,
		.map_bytes = 1 << 20,
		.max_db_bytes = 64 << 20,
		.max_readers = 16,
	};
	char err[256] = "";
	clm_err e = store_open(&o, &t->s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
}

static void
tstore_close(struct tstore *t)
{
	store_close(t->s);
	testdir_remove(t->dir);
}

static store_txn *
write_begin(struct tstore *t)
{
	store_txn *txn;
	cr_assert_eq(store_write_begin(t->s, &txn), CLM_OK);
	return txn;
}

/* Every key of `agg`, with its raw value. */
struct dump {
	struct {
		unsigned char key[AGG_KEY_MAX];
		size_t klen;
		unsigned char val[AGG_TOUCH_N * 8];
		size_t vlen;
	} e[256];
	size_t n;
};

static int
dump_fn(void *arg, const unsigned char *key, size_t klen, const void *val,
        size_t vlen)
{
	struct dump *d = arg;
	cr_assert_lt(d->n, sizeof(d->e) / sizeof(d->e[0]));
	cr_assert_leq(klen, AGG_KEY_MAX);
	cr_assert_leq(vlen, sizeof(d->e[0].val));
	memcpy(d->e[d->n].key, key, klen);
	d->e[d->n].klen = klen;
	memcpy(d->e[d->n].val, val, vlen);
	d->e[d->n].vlen = vlen;
	d->n++;
	return 0;
}

/* Scans the whole key space: kinds are 1..255, so [0x00, 0xff) has all. */
static struct dump *
dump_all(store_txn *txn)
{
	struct dump *d = calloc(1, sizeof(*d));
	cr_assert_not_null(d);
	unsigned char lo = 0x00, hi = 0xff;
	cr_assert_eq(store_agg_scan(txn, &lo, 1, &hi, 1, dump_fn, d), CLM_OK);
	return d;
}

static void
check_dumps_equal(const struct dump *x, const struct dump *y)
{
	char hex[2 * AGG_KEY_MAX + 1];
	cr_assert_eq(x->n, y->n, "%zu keys vs %zu", x->n, y->n);
	for (size_t i = 0; i < x->n; i++) {
		cr_assert_eq(x->e[i].klen, y->e[i].klen);
		cr_assert_eq(memcmp(x->e[i].key, y->e[i].key, x->e[i].klen), 0,
		        "key %zu: %s", i,
		        key_hex(x->e[i].key, x->e[i].klen, hex));
		cr_assert_eq(x->e[i].vlen, y->e[i].vlen, "value of %s",
		        key_hex(x->e[i].key, x->e[i].klen, hex));
		cr_assert_eq(memcmp(x->e[i].val, y->e[i].val, x->e[i].vlen), 0,
		        "value of %s",
		        key_hex(x->e[i].key, x->e[i].klen, hex));
	}
}

/* The store holds exactly l's non-zero entries, trailing zeros trimmed. */
static void
check_dump_is_list(const struct dump *d, const struct agg_list *l)
{
	char hex[2 * AGG_KEY_MAX + 1], hex2[2 * AGG_KEY_MAX + 1];
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct agg_entry *e = &l->e[i];
		if (all_zero(e->v)) {
			continue;
		}
		cr_assert_lt(k, d->n, "key %s missing",
		        key_hex(e->key, e->klen, hex));
		cr_assert_eq(
		        key_cmp(d->e[k].key, d->e[k].klen, e->key, e->klen), 0,
		        "key %s in the store, %s listed",
		        key_hex(d->e[k].key, d->e[k].klen, hex),
		        key_hex(e->key, e->klen, hex2));
		size_t n = 4;
		while (n > 0 && e->v[n - 1] == 0) {
			n--;
		}
		cr_assert_eq(d->e[k].vlen, n * sizeof(int64_t));
		int64_t v[4] = { 0 };
		store_agg_counters(d->e[k].val, d->e[k].vlen, v, 4);
		for (int c = 0; c < 4; c++) {
			cr_assert_eq(v[c], e->v[c]);
		}
		k++;
	}
	cr_assert_eq(k, d->n, "%zu keys in the store, %zu listed", d->n, k);
}

/*
 * Three states of customers: A, a buyer; B, the same customer after a
 * late earlier purchase (the first purchase moves), an engagement, a
 * referral a month later and a cancellation, with an experiment converted
 * and another assigned; C, somebody else (the one-time buyer).
 */
struct states {
	struct journey a, b, c;
	uint32_t days_a[1], days_b[2], days_c[1];
	Clm__V1__ExperimentEntry xa, xb1, xb2;
	Clm__V1__ExperimentEntry *xsa[1], *xsb[2];
	Clm__V1__CustomerRecord ra, rb, rc;
	struct agg_list la, lb, lc, none;
};

static void
states_init(struct states *st, arena *ar)
{
	memset(st, 0, sizeof(*st));
	int64_t t0 = utc_ms(2024, 6, 27, 9, 15);
	uint32_t d0 = agg_day(t0);

	journey_init(&st->a);
	touch(&st->a, MODEL_T_SITE_VISIT, CH_PAID, t0);
	touch(&st->a, MODEL_T_PURCHASE, CH_EMAIL, t0 + 5 * DAY);
	st->days_a[0] = d0 + 5;
	exp_init(&st->xa, "exp-a", 1, 0);
	st->xsa[0] = &st->xa;
	record_init(&st->ra, st->days_a, 1, st->xsa, 1);

	journey_init(&st->b);
	touch(&st->b, MODEL_T_SITE_VISIT, CH_PAID, t0);
	touch(&st->b, MODEL_T_PURCHASE, CH_DIRECT, t0 + 2 * DAY);
	touch(&st->b, MODEL_T_PURCHASE, CH_EMAIL, t0 + 5 * DAY);
	touch(&st->b, MODEL_T_EMAIL_OPEN, CH_EMAIL, t0 + 6 * DAY);
	touch(&st->b, MODEL_T_REFERRAL, CH_REFERRAL, t0 + 40 * DAY);
	touch(&st->b, MODEL_T_CANCELLATION, CH_SUPPORT, t0 + 50 * DAY);
	cr_assert_eq(model_stage(&st->b.p), MODEL_ADVOCACY);
	cr_assert(model_cancelled(&st->b.p));
	st->days_b[0] = d0 + 2;
	st->days_b[1] = d0 + 5;
	exp_init(&st->xb1, "exp-a", 1, t0 + 5 * DAY);
	exp_init(&st->xb2, "exp-b", 0, 0);
	st->xsb[0] = &st->xb1;
	st->xsb[1] = &st->xb2;
	record_init(&st->rb, st->days_b, 2, st->xsb, 2);

	journey_init(&st->c);
	touch(&st->c, MODEL_T_SITE_VISIT, CH_SEARCH, t0 + HOUR);
	touch(&st->c, MODEL_T_PURCHASE, CH_EMAIL, t0 + 5 * DAY + HOUR);
	st->days_c[0] = d0 + 5;
	record_init(&st->rc, st->days_c, 1, NULL, 0);

	contributions(&st->a.p, &st->ra, ar, &st->la);
	contributions(&st->b.p, &st->rb, ar, &st->lb);
	contributions(&st->c.p, &st->rc, ar, &st->lc);
}

static void
apply(store_txn *txn, const struct agg_list *from, const struct agg_list *to)
{
	clm_err e = agg_write_diff(txn, from, to);
	cr_assert_eq(e, CLM_OK, "agg_write_diff: %s", clm_errname(e));
}

/* ---------------------------------------------------------------------- */
/* agg_write_diff                                                         */

Test(agg, diff_in_two_steps_equals_one)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);

	store_txn *txn = write_begin(&t);
	apply(txn, &st->none, &st->la);
	struct dump *da = dump_all(txn);
	check_dump_is_list(da, &st->la);
	apply(txn, &st->la, &st->lb);
	struct dump *two = dump_all(txn);
	store_write_abort(txn);

	txn = write_begin(&t);
	apply(txn, &st->none, &st->lb);
	struct dump *one = dump_all(txn);
	store_write_abort(txn);

	check_dumps_equal(two, one);
	check_dump_is_list(one, &st->lb);
	free(da);
	free(two);
	free(one);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

Test(agg, diff_to_nothing_empties_the_store)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);

	/* Committed in separate transactions, as profile_save does. */
	store_txn *txn = write_begin(&t);
	apply(txn, &st->none, &st->la);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	txn = write_begin(&t);
	apply(txn, &st->la, &st->lb);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
	txn = write_begin(&t);
	apply(txn, &st->lb, &st->none);
	cr_assert_eq(store_write_commit(txn), CLM_OK);

	store_reader *r;
	cr_assert_eq(store_reader_new(t.s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &txn), CLM_OK);
	struct dump *d = dump_all(txn);
	cr_assert_eq(d->n, 0, "%zu keys left", d->n);
	store_read_end(txn);
	store_reader_free(r);
	free(d);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

Test(agg, diff_leaves_other_customers_alone)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);

	store_txn *txn = write_begin(&t);
	apply(txn, &st->none, &st->lc);
	struct dump *only_c = dump_all(txn);
	check_dump_is_list(only_c, &st->lc);
	apply(txn, &st->none, &st->la);
	apply(txn, &st->la, &st->lb);
	/* Shared keys add up: C and B were both seen first on day d0. */
	unsigned char k[6] = { AGG_REACHED, MODEL_REACH };
	be32(k + 2, agg_day(utc_ms(2024, 6, 27, 0, 0)));
	int64_t v[2];
	cr_assert_eq(store_agg_get(txn, k, 6, v, 2), CLM_OK);
	cr_assert_eq(v[0], 2);
	apply(txn, &st->lb, &st->none);
	struct dump *after = dump_all(txn);
	check_dumps_equal(after, only_c);
	apply(txn, &st->lc, &st->none);
	struct dump *empty = dump_all(txn);
	cr_assert_eq(empty->n, 0);
	store_write_abort(txn);
	free(only_c);
	free(after);
	free(empty);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

Test(agg, diff_of_equal_lists_writes_nothing)
{
	struct tstore t;
	tstore_open(&t);
	arena ar;
	arena_init(&ar);
	struct states *st = malloc(sizeof(*st));
	cr_assert_not_null(st);
	states_init(st, &ar);
	store_txn *txn = write_begin(&t);
	apply(txn, &st->lb, &st->lb);
	struct dump *d = dump_all(txn);
	cr_assert_eq(d->n, 0);
	store_write_abort(txn);
	free(d);
	free(st);
	arena_fini(&ar);
	tstore_close(&t);
}

/* ---------------------------------------------------------------------- */
/* agg_write_touch                                                        */

/* The writer's end of a transaction: visitors folded, then the commit. */
static void
fold_commit(store_txn *txn, struct agg_visits *v)
{
	cr_assert_eq(agg_visits_fold(txn, v), CLM_OK);
	cr_assert_eq(store_write_commit(txn), CLM_OK);
}

static void
tp_init(Clm__V1__Touchpoint *tp, int type, int channel)
{
	clm__v1__touchpoint__init(tp);
	tp->type = (Clm__V1__TouchpointType) type;
	tp->channel = (Clm__V1__Channel) channel;
}

/*
 * Visitors wait for their transaction's commit: an aborted transaction's
 * are dropped, not folded into the next one's sketch, and many visitors of
 * one day and channel in one transaction make the same sketch as one
 * transaction each.
 */
Test(agg, visitors_fold_at_commit_only)
{
	struct tstore t;
	tstore_open(&t);
	int64_t at = utc_ms(2024, 9, 3, 14, 0);
	Clm__V1__Touchpoint tp;
	tp_init(&tp, MODEL_T_PAGE_VIEW, CH_EMAIL);

	struct agg_visits *v = agg_visits_new();
	cr_assert_not_null(v);
	store_txn *txn = write_begin(&t);
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "ghost", false), CLM_OK);
	store_write_abort(txn);
	agg_visits_clear(v); /* as the writer does before a new attempt */

	char id[32];
	txn = write_begin(&t);
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "v%d", i % 500);
		cr_assert_eq(
		        agg_write_touch(txn, v, &tp, at, id, false), CLM_OK);
	}
	fold_commit(txn, v);

	/* The same visitors, one transaction each, in another channel. */
	tp_init(&tp, MODEL_T_PAGE_VIEW, CH_STORE);
	for (int i = 0; i < 3000; i++) {
		txn = write_begin(&t);
		snprintf(id, sizeof(id), "v%d", i % 500);
		cr_assert_eq(
		        agg_write_touch(txn, v, &tp, at, id, false), CLM_OK);
		fold_commit(txn, v);
	}

	txn = write_begin(&t);
	unsigned char key[6] = { AGG_VISITORS };
	be32(key + 1, agg_day(at));
	const void *a, *b;
	size_t alen, blen;
	key[5] = CH_EMAIL;
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &a, &alen), CLM_OK);
	key[5] = CH_STORE;
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &b, &blen), CLM_OK);
	cr_assert_eq(alen, 1 + 500 * sizeof(uint64_t), "500 visitors, exact");
	cr_assert_eq(alen, blen);
	cr_assert(memcmp(a, b, alen) == 0, "same sketch either way");
	/* Exactly the 500: the aborted transaction's "ghost" is not there. */
	struct hll_acc *acc = malloc(sizeof(*acc));
	cr_assert_not_null(acc);
	hll_acc_init(acc);
	cr_assert_eq(hll_acc_merge(acc, a, alen), 0);
	cr_assert_eq(hll_acc_count(acc), 500);
	free(acc);
	store_write_abort(txn);
	agg_visits_free(v);
	tstore_close(&t);
}

Test(agg, touch_counters_money_and_visitors)
{
	struct tstore t;
	tstore_open(&t);
	int64_t at = utc_ms(2024, 9, 3, 14, 0);
	uint32_t day = agg_day(at);
	struct agg_visits *v = agg_visits_new();
	cr_assert_not_null(v);
	store_txn *txn = write_begin(&t);

	Clm__V1__Touchpoint tp;
	tp_init(&tp, MODEL_T_PURCHASE, CH_EMAIL);
	tp.value = 12.5;
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "alice", false), CLM_OK);
	tp_init(&tp, MODEL_T_REFUND, CH_EMAIL);
	tp.value = 0.000001;
	cr_assert_eq(agg_write_touch(txn, v, &tp, at + HOUR, "alice", false),
	        CLM_OK);
	tp_init(&tp, MODEL_T_SITE_VISIT, CH_EMAIL);
	tp.duration_s = 30;
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "alice", false), CLM_OK);
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "alice", false), CLM_OK);
	tp_init(&tp, MODEL_T_PAGE_VIEW, CH_EMAIL);
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "alice", true), CLM_OK);
	static const float sentiments[] = { 0.5f, 0.25f, 0, -0.25f, -0.5f };
	for (size_t i = 0; i < 5; i++) {
		tp_init(&tp, MODEL_T_REVIEW, CH_EMAIL);
		tp.sentiment = sentiments[i];
		cr_assert_eq(agg_write_touch(txn, v, &tp, at, "alice", false),
		        CLM_OK);
	}
	/* CUSTOM has a counter of its own, not the purchase micros'. */
	tp_init(&tp, MODEL_T_CUSTOM, CH_EMAIL);
	tp.event_name = "Video Played";
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "alice", false), CLM_OK);
	/* Another day and channel; an unknown type adds nothing. */
	tp_init(&tp, MODEL_T_PURCHASE, CH_STORE);
	tp.value = 2;
	cr_assert_eq(
	        agg_write_touch(txn, v, &tp, at + DAY, "bob", false), CLM_OK);
	tp_init(&tp, 99, CH_STORE);
	cr_assert_eq(agg_write_touch(txn, v, &tp, at, "bob", false), CLM_OK);

	unsigned char key[6] = { AGG_TOUCH };
	be32(key + 1, day);
	key[5] = CH_EMAIL;
	int64_t c[AGG_TOUCH_N];
	cr_assert_eq(store_agg_get(txn, key, 6, c, AGG_TOUCH_N), CLM_OK);
	for (int i = 1; i < MODEL_N_TYPES; i++) {
		int64_t want = i == MODEL_T_PURCHASE ? 1
		        : i == MODEL_T_REFUND        ? 1
		        : i == MODEL_T_SITE_VISIT    ? 2
		        : i == MODEL_T_PAGE_VIEW     ? 1
		        : i == MODEL_T_REVIEW        ? 5
		        : i == MODEL_T_CUSTOM        ? 1
		                                     : 0;
		cr_assert_eq(c[agg_touch_slot(i)], want, "type %d", i);
	}
	cr_assert_eq(c[AGG_TOUCH_CUSTOM], 1);
	cr_assert_eq(c[AGG_TOUCH_PURCHASE_MICROS], 12500000);
	cr_assert_eq(c[AGG_TOUCH_REFUND_MICROS], 1);
	cr_assert_eq(c[AGG_TOUCH_VISIT_SECONDS], 60);
	/* > 0.25 positive, < -0.25 negative, the rest (bounds too) neutral */
	cr_assert_eq(c[AGG_TOUCH_POSITIVE], 1);
	cr_assert_eq(c[AGG_TOUCH_NEUTRAL], 3);
	cr_assert_eq(c[AGG_TOUCH_NEGATIVE], 1);

	key[5] = CH_STORE;
	be32(key + 1, day + 1);
	cr_assert_eq(store_agg_get(txn, key, 6, c, AGG_TOUCH_N), CLM_OK);
	cr_assert_eq(c[AGG_TOUCH_TYPES + MODEL_T_PURCHASE], 1);
	cr_assert_eq(c[AGG_TOUCH_PURCHASE_MICROS], 2000000);
	be32(key + 1, day);
	cr_assert_eq(store_agg_get(txn, key, 6, c, AGG_TOUCH_N), CLM_OK);
	for (int i = 0; i < AGG_TOUCH_N; i++) {
		cr_assert_eq(c[i], 0, "unknown type counted (%d)", i);
	}

	unsigned char mk = AGG_MONEY;
	int64_t m[2];
	cr_assert_eq(store_agg_get(txn, &mk, 1, m, 2), CLM_OK);
	cr_assert_eq(m[0], 14500000);
	cr_assert_eq(m[1], 1);

	/*
	 * The day's sketch: alice once as a customer, once anonymous.
	 * Visitors are folded into sketches when the transaction commits.
	 */
	key[0] = AGG_VISITORS;
	key[5] = CH_EMAIL;
	const void *blob;
	size_t len;
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &blob, &len),
	        CLM_NOT_FOUND, "folded at commit, not before");
	fold_commit(txn, v);
	txn = write_begin(&t);
	cr_assert_eq(store_agg_blob_get(txn, key, 6, &blob, &len), CLM_OK);
	cr_assert_eq(len, 1 + 2 * sizeof(uint64_t));
	struct hll_acc *acc = malloc(sizeof(*acc));
	cr_assert_not_null(acc);
	hll_acc_init(acc);
	cr_assert_eq(hll_acc_merge(acc, blob, len), 0);
	cr_assert_eq(hll_acc_count(acc), 2);
	uint64_t h[2], x = agg_visitor_hash("alice", false),
	               y = agg_visitor_hash("alice", true);
	memcpy(h, (const unsigned char *) blob + 1, sizeof(h));
	cr_assert_neq(x, y);
	cr_assert_eq(h[0], x < y ? x : y);
	cr_assert_eq(h[1], x < y ? y : x);
	cr_assert_eq(x, hll_hash("alice", 5));
	free(acc);
	store_write_abort(txn);
	agg_visits_free(v);
	tstore_close(&t);
}
