/*
 * A unit test of the write transaction's summed aggregate deltas
 * (store_agg.c: store_agg_add's pending table, written by store_agg_flush,
 * early when it fills, dropped on abort) against an independent model: a
 * sorted array of (key, 64 counters) where a key's value is the sum of all
 * committed deltas, a key with all counters 0 is absent, and trailing zero
 * counters are not stored. (overlay_test's two stores share the table.)
 *
 * It proves: random transactions of adds (deltas that often cancel to
 * exactly 0) with gets, blob reads and full scans in the middle, aborts
 * and commits, equal the model inside the transaction and in a fresh
 * reader after each commit; over 1024 keys in one transaction (the table
 * written out early), then abort or commit; store_agg_reset mid-way; sums
 * of 0 on present and absent keys, and a key driven to 0 across flushes;
 * a reader begun before the adds never sees them, not even once a get has
 * flushed them into the open transaction. Each case runs on a plain store
 * and one with an overlay (checkpointed between transactions). The store
 * is opened inside each test: Criterion forks, LMDB must not be open then.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg_fixture.h"
#include "core/agg.h"
#include "store/store.h"
#include "testdir.h"

#define AGGPEND_N    64   /* counters a value may have (STORE_AGG_MAX) */
#define AGGPEND_KEYS 4096 /* keys a model or a scan holds at most */
#define AGGPEND_MIB  (1024 * 1024)

/* ---------------------------------------------------------------------- */
/* The model                                                              */

struct aggpend_entry {
	unsigned char key[AGG_KEY_MAX];
	size_t klen;
	int64_t c[AGGPEND_N];
};

/* Entries in LMDB's key order, every one with a non-zero counter. */
struct aggpend_model {
	struct aggpend_entry e[AGGPEND_KEYS];
	size_t n;
};

/* LMDB's default order: bytes first, then the shorter key first. */
static int
aggpend_keycmp(const unsigned char *a, size_t alen, const unsigned char *b,
        size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0) {
		return c;
	}
	return alen < blen ? -1 : alen > blen;
}

/* The index of key in m, or where it would go (*found false). */
static size_t
aggpend_model_find(const struct aggpend_model *m, const unsigned char *key,
        size_t klen, bool *found)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = aggpend_keycmp(
		        m->e[mid].key, m->e[mid].klen, key, klen);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*found = false;
	return lo;
}

static struct aggpend_model *
aggpend_model_new(void)
{
	struct aggpend_model *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	return m;
}

static void
aggpend_model_copy(struct aggpend_model *dst, const struct aggpend_model *src)
{
	memcpy(dst->e, src->e, src->n * sizeof(src->e[0]));
	dst->n = src->n;
}

/* The expected counters of key (zeros when absent). */
static void
aggpend_model_get(const struct aggpend_model *m, const unsigned char *key,
        size_t klen, int64_t *out)
{
	bool found;
	size_t i = aggpend_model_find(m, key, klen, &found);
	if (found) {
		memcpy(out, m->e[i].c, sizeof(m->e[i].c));
	} else {
		memset(out, 0, AGGPEND_N * sizeof(*out));
	}
}

/* Adds delta[0..n) to key: created when absent, removed at all zeros. */
static void
aggpend_model_add(struct aggpend_model *m, const unsigned char *key,
        size_t klen, const int64_t *delta, size_t n)
{
	bool found;
	size_t i = aggpend_model_find(m, key, klen, &found);
	if (!found) {
		cr_assert_lt(m->n, AGGPEND_KEYS);
		memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof(m->e[0]));
		memset(&m->e[i], 0, sizeof(m->e[i]));
		memcpy(m->e[i].key, key, klen);
		m->e[i].klen = klen;
		m->n++;
	}
	bool zero = true;
	for (size_t j = 0; j < AGGPEND_N; j++) {
		if (j < n) {
			m->e[i].c[j] += delta[j];
		}
		zero = zero && m->e[i].c[j] == 0;
	}
	if (zero) {
		memmove(&m->e[i], &m->e[i + 1],
		        (m->n - i - 1) * sizeof(m->e[0]));
		m->n--;
	}
}

/* Removes the keys whose first byte is in [lo, hi), as store_agg_reset. */
static void
aggpend_model_reset(
        struct aggpend_model *m, unsigned char lo, unsigned char hi)
{
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (m->e[i].key[0] >= lo && m->e[i].key[0] < hi) {
			continue;
		}
		m->e[k++] = m->e[i];
	}
	m->n = k;
}

/* How many counters the store keeps: up to the last non-zero one. */
static size_t
aggpend_stored_len(const int64_t *c)
{
	size_t len = AGGPEND_N;
	while (len > 0 && c[len - 1] == 0) {
		len--;
	}
	return len;
}

/* ---------------------------------------------------------------------- */
/* The store                                                              */

struct aggpend_store {
	char dir[64];
	store *s;
	bool overlay;
	uint64_t pos; /* the last checkpoint's journal position */
};

static void
aggpend_open(struct aggpend_store *t, bool overlay)
{
	testdir_make(t->dir, sizeof(t->dir), "aggpend");
	struct store_opts o = {
		.dir = t->dir,
		.nosync = true,
		.map_bytes = 4 * AGGPEND_MIB,
		.max_db_bytes = 256 * AGGPEND_MIB,
		.max_readers = 16,
	};
	char err[256] = "";
	clm_err e = store_open(&o, &t->s, err, sizeof(err));
	cr_assert_eq(e, CLM_OK, "store_open: %s (%s)", clm_errname(e), err);
	t->overlay = overlay;
	t->pos = 0;
	if (overlay) {
		e = store_overlay_open(
		        t->s, 64 * AGGPEND_MIB, err, sizeof(err));
		cr_assert_eq(e, CLM_OK, "store_overlay_open: %s (%s)",
		        clm_errname(e), err);
	}
}

static void
aggpend_close(struct aggpend_store *t)
{
	store_close(t->s);
	testdir_remove(t->dir);
}

static store_txn *
aggpend_write_begin(struct aggpend_store *t)
{
	store_txn *txn;
	clm_err e = store_write_begin(t->s, &txn);
	cr_assert_eq(e, CLM_OK, "store_write_begin: %s", clm_errname(e));
	return txn;
}

static void
aggpend_commit(store_txn *txn)
{
	clm_err e = store_write_commit(txn);
	cr_assert_eq(e, CLM_OK, "store_write_commit: %s", clm_errname(e));
}

static void
aggpend_checkpoint(struct aggpend_store *t)
{
	struct store_ckpt_stats st;
	clm_err e = store_checkpoint(t->s, ++t->pos, &st);
	cr_assert_eq(e, CLM_OK, "store_checkpoint: %s", clm_errname(e));
}

static void
aggpend_add(store_txn *txn, const unsigned char *key, size_t klen,
        const int64_t *delta, size_t n)
{
	clm_err e = store_agg_add(txn, key, klen, delta, n);
	cr_assert_eq(e, CLM_OK, "store_agg_add: %s", clm_errname(e));
}

/* Adds to the store and to the model alike. */
static void
aggpend_add_both(store_txn *txn, struct aggpend_model *m,
        const unsigned char *key, size_t klen, const int64_t *delta, size_t n)
{
	aggpend_add(txn, key, klen, delta, n);
	aggpend_model_add(m, key, klen, delta, n);
}

/* What a scan met, in its order. */
struct aggpend_scan {
	struct {
		unsigned char key[AGG_KEY_MAX];
		size_t klen;
		size_t vlen;
		int64_t c[AGGPEND_N];
	} e[AGGPEND_KEYS];
	size_t n;
	bool bad; /* a key or value too long */
};

static int
aggpend_scan_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct aggpend_scan *sc = arg;
	if (sc->n == AGGPEND_KEYS || klen > AGG_KEY_MAX
	        || vlen > AGGPEND_N * sizeof(int64_t)) {
		sc->bad = true;
		return 1;
	}
	memcpy(sc->e[sc->n].key, key, klen);
	sc->e[sc->n].klen = klen;
	sc->e[sc->n].vlen = vlen;
	store_agg_counters(val, vlen, sc->e[sc->n].c, AGGPEND_N);
	sc->n++;
	return 0;
}

/*
 * Scans the whole of `agg` in txn ([0x00, 0xff): the tests' keys start
 * with 0x01..0xfe) and checks it lists exactly m's keys, in order, each
 * with m's counters and no trailing zero stored. what names the check.
 */
static void
aggpend_check_scan(
        store_txn *txn, const struct aggpend_model *m, const char *what)
{
	static struct aggpend_scan sc; /* large: one per test process */
	sc.n = 0;
	sc.bad = false;
	unsigned char lo = 0x00, hi = 0xff;
	clm_err e = store_agg_scan(txn, &lo, 1, &hi, 1, aggpend_scan_fn, &sc);
	cr_assert_eq(
	        e, CLM_OK, "%s: store_agg_scan: %s", what, clm_errname(e));
	cr_assert(!sc.bad, "%s: a key or value too long", what);
	char hex[2 * AGG_KEY_MAX + 1];
	for (size_t i = 0; i < sc.n && i < m->n; i++) {
		const struct aggpend_entry *x = &m->e[i];
		key_hex(x->key, x->klen, hex);
		cr_assert(x->klen == sc.e[i].klen
		                && memcmp(x->key, sc.e[i].key, x->klen) == 0,
		        "%s: key %zu is not %s", what, i, hex);
		size_t len = aggpend_stored_len(x->c);
		cr_assert_eq(sc.e[i].vlen, len * sizeof(int64_t),
		        "%s: %s: %zu bytes stored, want %zu", what, hex,
		        sc.e[i].vlen, len * sizeof(int64_t));
		for (size_t j = 0; j < AGGPEND_N; j++) {
			cr_assert_eq(sc.e[i].c[j], x->c[j],
			        "%s: %s counter %zu: got %lld want %lld", what,
			        hex, j, (long long) sc.e[i].c[j],
			        (long long) x->c[j]);
		}
	}
	cr_assert_eq(sc.n, m->n, "%s: %zu keys, want %zu", what, sc.n, m->n);
}

/* store_agg_get of key in txn must give m's counters. */
static void
aggpend_check_get(store_txn *txn, const struct aggpend_model *m,
        const unsigned char *key, size_t klen, const char *what)
{
	int64_t got[AGGPEND_N], want[AGGPEND_N];
	clm_err e = store_agg_get(txn, key, klen, got, AGGPEND_N);
	cr_assert_eq(e, CLM_OK, "%s: store_agg_get: %s", what, clm_errname(e));
	aggpend_model_get(m, key, klen, want);
	char hex[2 * AGG_KEY_MAX + 1];
	key_hex(key, klen, hex);
	for (size_t j = 0; j < AGGPEND_N; j++) {
		cr_assert_eq(got[j], want[j],
		        "%s: get %s counter %zu: got %lld want %lld", what,
		        hex, j, (long long) got[j], (long long) want[j]);
	}
}

/* store_agg_blob_get of key in txn must give m's value, raw. */
static void
aggpend_check_blob(store_txn *txn, const struct aggpend_model *m,
        const unsigned char *key, size_t klen, const char *what)
{
	const void *val = NULL;
	size_t vlen = 0;
	int64_t want[AGGPEND_N], got[AGGPEND_N];
	aggpend_model_get(m, key, klen, want);
	size_t len = aggpend_stored_len(want);
	clm_err e = store_agg_blob_get(txn, key, klen, &val, &vlen);
	cr_assert_eq(e, len == 0 ? CLM_NOT_FOUND : CLM_OK,
	        "%s: store_agg_blob_get: %s", what, clm_errname(e));
	if (len > 0) {
		cr_assert_eq(vlen, len * sizeof(int64_t), "%s: blob", what);
		store_agg_counters(val, vlen, got, AGGPEND_N);
		cr_assert_arr_eq(got, want, sizeof(got), "%s: blob", what);
	}
}

/* A fresh reader's full scan must equal m. */
static void
aggpend_check_committed(struct aggpend_store *t, const struct aggpend_model *m,
        const char *what)
{
	store_reader *r;
	store_txn *txn;
	cr_assert_eq(store_reader_new(t->s, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &txn), CLM_OK);
	aggpend_check_scan(txn, m, what);
	store_read_end(txn);
	store_reader_free(r);
}

/* splitmix64 */
static uint64_t
aggpend_rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
aggpend_below(uint64_t *s, unsigned n)
{
	return (unsigned) (aggpend_rng(s) % n);
}

/* ---------------------------------------------------------------------- */
/* 1. Random transactions                                                 */

#define AGGPEND_SPACE 160 /* keys of the random tests */

struct aggpend_keys {
	unsigned char key[AGGPEND_SPACE][AGG_KEY_MAX];
	size_t klen[AGGPEND_SPACE];
};

/*
 * Distinct keys of 1..16 bytes over a small alphabet (0x00 and 0xff
 * included), about half of them extending a prefix of the one before:
 * many share prefixes, and some are prefixes of others.
 */
static void
aggpend_keys_make(struct aggpend_keys *k, uint64_t *rng)
{
	static const unsigned char kinds[] = { 0x01, 0x02, 0x41, 0xfe };
	static const unsigned char alpha[] = { 0x00, 0x01, 0x7f, 0xff };
	size_t n = 0;
	while (n < AGGPEND_SPACE) {
		unsigned char key[AGG_KEY_MAX];
		size_t klen = 1 + aggpend_below(rng, AGG_KEY_MAX);
		size_t keep = 0;
		if (n > 0 && aggpend_below(rng, 2) == 0) {
			keep = aggpend_below(
			        rng, (unsigned) k->klen[n - 1] + 1);
			memcpy(key, k->key[n - 1], keep);
		}
		if (keep == 0) {
			key[0] = kinds[aggpend_below(rng, 4)];
			keep = 1;
		}
		for (size_t i = keep; i < klen; i++) {
			key[i] = alpha[aggpend_below(rng, 4)];
		}
		if (klen < keep) {
			klen = keep;
		}
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++) {
			dup = k->klen[i] == klen
			        && memcmp(k->key[i], key, klen) == 0;
		}
		if (!dup) {
			memcpy(k->key[n], key, klen);
			k->klen[n++] = klen;
		}
	}
}

/* A random delta: mostly short and small, so that sums often cancel. */
static size_t
aggpend_delta(uint64_t *rng, int64_t *d)
{
	size_t n = aggpend_below(rng, 4) == 0
	        ? 1 + aggpend_below(rng, AGGPEND_N)
	        : 1 + aggpend_below(rng, 4);
	for (size_t i = 0; i < n; i++) {
		d[i] = (int64_t) aggpend_below(rng, 5) - 2;
	}
	if (aggpend_below(rng, 8) == 0) {
		d[n - 1] = 0; /* a trailing zero in the delta itself */
	}
	return n;
}

/* The last adds of a transaction, to take back exactly. */
struct aggpend_recent {
	size_t key[8];
	int64_t d[8][AGGPEND_N];
	size_t n[8];
	size_t count;
};

static void
aggpend_random_run(bool overlay, uint64_t seed, int txns)
{
	struct aggpend_store t;
	aggpend_open(&t, overlay);
	uint64_t rng = seed;
	static struct aggpend_keys keys;
	aggpend_keys_make(&keys, &rng);
	struct aggpend_model *done = aggpend_model_new();
	struct aggpend_model *cur = aggpend_model_new();
	char what[96];
	for (int x = 0; x < txns; x++) {
		store_txn *txn = aggpend_write_begin(&t);
		aggpend_model_copy(cur, done);
		struct aggpend_recent rec = { .count = 0 };
		unsigned ops = 1 + aggpend_below(&rng, 60);
		for (unsigned op = 0; op < ops; op++) {
			snprintf(what, sizeof(what), "seed %llu txn %d op %u",
			        (unsigned long long) seed, x, op);
			unsigned r = aggpend_below(&rng, 100);
			size_t ki = aggpend_below(&rng, AGGPEND_SPACE);
			const unsigned char *key = keys.key[ki];
			size_t klen = keys.klen[ki];
			int64_t d[AGGPEND_N];
			if (r < 65) {
				size_t n = aggpend_delta(&rng, d);
				aggpend_add_both(txn, cur, key, klen, d, n);
				size_t at = rec.count++ % 8;
				rec.key[at] = ki;
				memcpy(rec.d[at], d, n * sizeof(d[0]));
				rec.n[at] = n;
			} else if (r < 75 && rec.count > 0) {
				/* Take back an earlier add. */
				size_t at = aggpend_below(&rng,
				        rec.count < 8 ? (unsigned) rec.count
				                      : 8);
				if (rec.n[at] == 0) {
					continue; /* taken back already */
				}
				for (size_t i = 0; i < rec.n[at]; i++) {
					d[i] = -rec.d[at][i];
				}
				aggpend_add_both(txn, cur,
				        keys.key[rec.key[at]],
				        keys.klen[rec.key[at]], d, rec.n[at]);
				rec.n[at] = 0;
			} else if (r < 82) {
				/* To 0 in two adds, maybe a flush between. */
				int64_t c[AGGPEND_N], half[AGGPEND_N];
				aggpend_model_get(cur, key, klen, c);
				for (size_t i = 0; i < AGGPEND_N; i++) {
					half[i] = -c[i] / 2;
					d[i] = -c[i] - half[i];
				}
				aggpend_add_both(
				        txn, cur, key, klen, half, AGGPEND_N);
				if (aggpend_below(&rng, 2) == 0) {
					aggpend_check_get(txn, cur,
					        keys.key[0], keys.klen[0],
					        what);
				}
				size_t n = aggpend_stored_len(d);
				aggpend_add_both(txn, cur, key, klen, d,
				        n < AGGPEND_N ? n + 1 : n);
			} else if (r < 92) {
				aggpend_check_get(txn, cur, key, klen, what);
			} else if (r < 97) {
				aggpend_check_scan(txn, cur, what);
			} else if (r < 99) {
				cr_assert_eq(store_agg_flush(txn), CLM_OK);
			} else {
				aggpend_check_blob(txn, cur, key, klen, what);
			}
		}
		snprintf(what, sizeof(what), "seed %llu after txn %d",
		        (unsigned long long) seed, x);
		if (aggpend_below(&rng, 4) == 0) {
			store_write_abort(txn);
		} else {
			aggpend_commit(txn);
			aggpend_model_copy(done, cur);
		}
		aggpend_check_committed(&t, done, what);
		if (overlay && aggpend_below(&rng, 5) == 0) {
			aggpend_checkpoint(&t);
			aggpend_check_committed(&t, done, what);
		}
	}
	free(done);
	free(cur);
	aggpend_close(&t);
}

Test(agg_pend, random_plain, .timeout = 120)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		aggpend_random_run(false, seed, 200);
	}
}

Test(agg_pend, random_overlay, .timeout = 120)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		aggpend_random_run(true, seed, 200);
	}
}

/* ---------------------------------------------------------------------- */
/* 2. More keys than the table holds                                      */

#define AGGPEND_WIDE 1500 /* distinct keys in one transaction */

/* Key i of kind 0x10 (2 or 3 bytes: some are prefixes of others). */
static size_t
aggpend_wide_key(unsigned i, unsigned char *key)
{
	key[0] = 0x10;
	key[1] = (unsigned char) (i >> 4);
	key[2] = (unsigned char) (i & 0x0f);
	return i % 16 == 0 ? 2 : 3;
}

static void
aggpend_wide_run(bool overlay, bool commit)
{
	struct aggpend_store t;
	aggpend_open(&t, overlay);
	struct aggpend_model *done = aggpend_model_new();
	struct aggpend_model *cur = aggpend_model_new();
	uint64_t rng = commit ? 77 : 78;
	unsigned char key[AGG_KEY_MAX];
	int64_t d[AGGPEND_N];

	/* Before: every third key, some values stored already. */
	store_txn *txn = aggpend_write_begin(&t);
	for (unsigned i = 0; i < AGGPEND_WIDE; i += 3) {
		size_t klen = aggpend_wide_key(i, key);
		size_t n = aggpend_delta(&rng, d);
		d[0] = 1 + (int64_t) i;
		aggpend_add_both(txn, done, key, klen, d, n);
	}
	aggpend_commit(txn);
	aggpend_check_committed(&t, done, "wide before");
	if (overlay) {
		aggpend_checkpoint(&t);
	}

	txn = aggpend_write_begin(&t);
	aggpend_model_copy(cur, done);
	/* More distinct keys than 768 and 1024: written out early. */
	for (unsigned i = 0; i < AGGPEND_WIDE; i++) {
		size_t klen = aggpend_wide_key(i, key);
		size_t n = aggpend_delta(&rng, d);
		aggpend_add_both(txn, cur, key, klen, d, n);
	}
	/* Again to the keys written out early: some to 0, some not. */
	for (unsigned i = 0; i < 900; i++) {
		size_t klen = aggpend_wide_key(i, key);
		int64_t c[AGGPEND_N];
		aggpend_model_get(cur, key, klen, c);
		for (size_t j = 0; j < AGGPEND_N; j++) {
			d[j] = i % 2 == 0 ? -c[j] : (int64_t) (j % 3);
		}
		aggpend_add_both(txn, cur, key, klen, d, AGGPEND_N);
	}
	/* And new keys of another kind. */
	for (unsigned i = 0; i < 300; i++) {
		size_t klen = aggpend_wide_key(i, key);
		key[0] = 0x11;
		size_t n = aggpend_delta(&rng, d);
		aggpend_add_both(txn, cur, key, klen, d, n);
	}
	aggpend_check_get(txn, cur, key, 3, "wide get");
	aggpend_check_scan(txn, cur, "wide in the transaction");
	/* Adds after the scan's flush, to old and new keys. */
	for (unsigned i = 0; i < AGGPEND_WIDE; i += 7) {
		size_t klen = aggpend_wide_key(i, key);
		size_t n = aggpend_delta(&rng, d);
		aggpend_add_both(txn, cur, key, klen, d, n);
	}
	if (commit) {
		aggpend_commit(txn);
		aggpend_check_committed(&t, cur, "wide committed");
	} else {
		store_write_abort(txn);
		aggpend_check_committed(&t, done, "wide aborted");
	}
	free(done);
	free(cur);
	aggpend_close(&t);
}

Test(agg_pend, wide_abort_plain)
{
	aggpend_wide_run(false, false);
}

Test(agg_pend, wide_commit_plain)
{
	aggpend_wide_run(false, true);
}

Test(agg_pend, wide_abort_overlay)
{
	aggpend_wide_run(true, false);
}

Test(agg_pend, wide_commit_overlay)
{
	aggpend_wide_run(true, true);
}

/* ---------------------------------------------------------------------- */
/* 3. A reset in the middle of a transaction                              */

static void
aggpend_reset_run(bool overlay)
{
	struct aggpend_store t;
	aggpend_open(&t, overlay);
	struct aggpend_model *done = aggpend_model_new();
	struct aggpend_model *cur = aggpend_model_new();
	uint64_t rng = 5;
	int64_t d[AGGPEND_N];

	/* Keys of kinds 1..5, committed. */
	store_txn *txn = aggpend_write_begin(&t);
	for (unsigned i = 0; i < 100; i++) {
		unsigned char key[3] = { (unsigned char) (1 + i % 5), 'k',
			(unsigned char) i };
		size_t n = aggpend_delta(&rng, d);
		d[0] = 1;
		aggpend_add_both(txn, done, key, sizeof(key), d, n);
	}
	cr_assert_eq(store_agg_set_version(txn, true, 7), CLM_OK);
	aggpend_commit(txn);
	if (overlay) {
		aggpend_checkpoint(&t);
	}

	/* Pending adds to kinds 1..5, old keys and new, then reset [2, 4). */
	txn = aggpend_write_begin(&t);
	aggpend_model_copy(cur, done);
	for (unsigned i = 0; i < 200; i++) {
		unsigned char key[3] = { (unsigned char) (1 + i % 5), 'k',
			(unsigned char) i };
		size_t n = aggpend_delta(&rng, d);
		aggpend_add_both(txn, cur, key, sizeof(key), d, n);
	}
	cr_assert_eq(store_agg_reset(txn, 2, 4, true), CLM_OK);
	aggpend_model_reset(cur, 2, 4);
	aggpend_check_scan(txn, cur, "after the reset");
	uint64_t v = 1;
	cr_assert_eq(store_agg_version(txn, true, &v), CLM_OK);
	cr_assert_eq(
	        v, 0, "version %llu after the reset", (unsigned long long) v);
	/* Adds after the reset count from 0, inside and outside. */
	for (unsigned i = 0; i < 200; i += 3) {
		unsigned char key[3] = { (unsigned char) (1 + i % 5), 'k',
			(unsigned char) i };
		size_t n = aggpend_delta(&rng, d);
		d[0] = 2;
		aggpend_add_both(txn, cur, key, sizeof(key), d, n);
		aggpend_check_get(txn, cur, key, sizeof(key), "after reset");
	}
	aggpend_check_scan(txn, cur, "adds after the reset");
	aggpend_commit(txn);
	aggpend_check_committed(&t, cur, "reset committed");
	free(done);
	free(cur);
	aggpend_close(&t);
}

Test(agg_pend, reset_plain)
{
	aggpend_reset_run(false);
}

Test(agg_pend, reset_overlay)
{
	aggpend_reset_run(true);
}

/* ---------------------------------------------------------------------- */
/* 4. Sums of zero                                                        */

static void
aggpend_zero_run(bool overlay)
{
	struct aggpend_store t;
	aggpend_open(&t, overlay);
	struct aggpend_model *done = aggpend_model_new();
	struct aggpend_model *cur = aggpend_model_new();
	const unsigned char a[] = { 0x20, 'a' }, b[] = { 0x20, 'b' },
	                    c[] = { 0x20, 'c' }, e[] = { 0x20, 'e' };
	int64_t d[AGGPEND_N] = { 0 };

	store_txn *txn = aggpend_write_begin(&t);
	aggpend_add_both(txn, done, a, sizeof(a), (int64_t[]) { 3, 0, 5 }, 3);
	aggpend_add_both(txn, done, c, sizeof(c), (int64_t[]) { 10, -7 }, 2);
	aggpend_add_both(txn, done, e, sizeof(e), (int64_t[]) { 0, 0, 9 }, 3);
	aggpend_commit(txn);
	aggpend_check_committed(&t, done, "zero before");
	if (overlay) {
		aggpend_checkpoint(&t);
	}

	txn = aggpend_write_begin(&t);
	aggpend_model_copy(cur, done);
	/* a: deltas that cancel, and a long all-zero one: a unchanged. */
	aggpend_add_both(txn, cur, a, sizeof(a), (int64_t[]) { 1, 2 }, 2);
	aggpend_add_both(txn, cur, a, sizeof(a), (int64_t[]) { -1, -2 }, 2);
	aggpend_add_both(txn, cur, a, sizeof(a), d, AGGPEND_N);
	/* b: absent, deltas that cancel: never created. */
	aggpend_add_both(txn, cur, b, sizeof(b), (int64_t[]) { 4, 0, -1 }, 3);
	aggpend_add_both(txn, cur, b, sizeof(b), (int64_t[]) { -4, 0, 1 }, 3);
	/* c: to 0 in three adds with a flush between each. */
	aggpend_add_both(txn, cur, c, sizeof(c), (int64_t[]) { -4, 7 }, 2);
	aggpend_check_get(txn, cur, c, sizeof(c), "c first");
	aggpend_add_both(txn, cur, c, sizeof(c), (int64_t[]) { -5, 0, 1 }, 3);
	cr_assert_eq(store_agg_flush(txn), CLM_OK);
	aggpend_add_both(txn, cur, c, sizeof(c), (int64_t[]) { -1, 0, -1 }, 3);
	/* e: to 0 across a write-out of a full table. */
	aggpend_add_both(txn, cur, e, sizeof(e), (int64_t[]) { 0, 0, -4 }, 3);
	for (unsigned i = 0; i < 800; i++) {
		unsigned char key[3] = { 0x21, (unsigned char) (i >> 8),
			(unsigned char) i };
		aggpend_add_both(txn, cur, key, sizeof(key),
		        (int64_t[]) { 1 + (int64_t) i }, 1);
	}
	aggpend_add_both(txn, cur, e, sizeof(e), (int64_t[]) { 0, 0, -5 }, 3);
	aggpend_check_scan(txn, cur, "zero in the transaction");
	aggpend_commit(txn);
	aggpend_check_committed(&t, cur, "zero committed");
	/* The scenario as meant: a kept as it was, b, c and e absent. */
	const unsigned char *gone[] = { b, c, e };
	bool found;
	size_t ia = aggpend_model_find(cur, a, sizeof(a), &found);
	cr_assert(found && aggpend_stored_len(cur->e[ia].c) == 3, "a changed");
	for (size_t i = 0; i < 3; i++) {
		aggpend_model_find(cur, gone[i], 2, &found);
		cr_assert(!found, "the model has key %zu", i);
	}
	free(done);
	free(cur);
	aggpend_close(&t);
}

Test(agg_pend, zero_plain)
{
	aggpend_zero_run(false);
}

Test(agg_pend, zero_overlay)
{
	aggpend_zero_run(true);
}

/* ---------------------------------------------------------------------- */
/* 5. Readers never see pending deltas                                    */

static void
aggpend_isolation_run(bool overlay)
{
	struct aggpend_store t;
	aggpend_open(&t, overlay);
	struct aggpend_model *done = aggpend_model_new();
	struct aggpend_model *cur = aggpend_model_new();
	uint64_t rng = 9;
	int64_t d[AGGPEND_N];

	store_txn *txn = aggpend_write_begin(&t);
	for (unsigned i = 0; i < 50; i++) {
		unsigned char key[2] = { 0x30, (unsigned char) i };
		size_t n = aggpend_delta(&rng, d);
		d[0] = 1;
		aggpend_add_both(txn, done, key, sizeof(key), d, n);
	}
	aggpend_commit(txn);

	/* r1 begins before the writer, r2 after its adds were flushed. */
	store_reader *r1, *r2;
	store_txn *t1, *t2;
	cr_assert_eq(store_reader_new(t.s, &r1), CLM_OK);
	cr_assert_eq(store_reader_new(t.s, &r2), CLM_OK);
	cr_assert_eq(store_read_begin(r1, &t1), CLM_OK);
	txn = aggpend_write_begin(&t);
	aggpend_model_copy(cur, done);
	for (unsigned i = 0; i < 100; i++) {
		unsigned char key[2] = { 0x30, (unsigned char) (i * 3) };
		size_t n = aggpend_delta(&rng, d);
		d[0] = 5;
		aggpend_add_both(txn, cur, key, sizeof(key), d, n);
	}
	aggpend_check_scan(t1, done, "reader before the flush");
	unsigned char k0[2] = { 0x30, 0 };
	aggpend_check_get(txn, cur, k0, sizeof(k0), "writer's get");
	aggpend_check_get(t1, done, k0, sizeof(k0), "reader after the flush");
	aggpend_check_scan(t1, done, "reader after the flush");
	cr_assert_eq(store_read_begin(r2, &t2), CLM_OK);
	aggpend_check_scan(t2, done, "reader begun after the flush");
	/* More pending adds, then commit: both readers keep their view. */
	for (unsigned i = 0; i < 20; i++) {
		unsigned char key[2] = { 0x31, (unsigned char) i };
		aggpend_add_both(
		        txn, cur, key, sizeof(key), (int64_t[]) { 1 }, 1);
	}
	aggpend_commit(txn);
	aggpend_check_scan(t1, done, "reader before, after the commit");
	aggpend_check_scan(
	        t2, done, "reader after the flush, after the commit");
	store_read_end(t1);
	store_read_end(t2);
	aggpend_check_committed(&t, cur, "new reader");
	store_reader_free(r1);
	store_reader_free(r2);
	free(done);
	free(cur);
	aggpend_close(&t);
}

Test(agg_pend, isolation_plain)
{
	aggpend_isolation_run(false);
}

Test(agg_pend, isolation_overlay)
{
	aggpend_isolation_run(true);
}
