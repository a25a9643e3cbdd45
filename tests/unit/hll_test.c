/*
 * Unit tests of server/core/hll.c: the exact sparse form while small, the
 * sparse -> dense transition at HLL_SPARSE_MAX, merges (exact while the
 * merged entries fit HLL_EXACT_MAX, register-wise max past that), the
 * accuracy of Ertl's estimator at several sizes, and malformed blobs.
 *
 * Values are deterministic: the i-th value of a stream is hll_hash of
 * "v-<seed>-<i>", so every run sees the same registers and the accuracy
 * bounds are fixed outcomes, not flaky ones.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hll.h"

/* The largest value a register can hold: 64 - P leading zeros, plus one. */
#define HLL_RHO_MAX (64 - HLL_P + 1)

/* The i-th value of stream `seed`, hashed as clmd hashes a visitor id. */
static uint64_t
value(unsigned seed, uint64_t i)
{
	char id[48];
	int n = snprintf(
	        id, sizeof(id), "v-%u-%llu", seed, (unsigned long long) i);
	return hll_hash(id, (size_t) n);
}

/*
 * A sketch being built with hll_add, the way agg.c keeps one per day: the
 * stored blob is replaced by hll_add's output whenever it says it changed
 * (two buffers swapped, so a change costs one copy, hll_add's own).
 */
struct sketch {
	unsigned char buf[2][HLL_BLOB_MAX];
	unsigned char *blob, *out;
	size_t len;
};

static struct sketch *
sketch_new(void)
{
	struct sketch *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	s->blob = s->buf[0];
	s->out = s->buf[1];
	return s;
}

/* Adds h; returns what hll_add returned. */
static long
sketch_add(struct sketch *s, uint64_t h)
{
	long n = hll_add(s->blob, s->len, h, s->out);
	cr_assert_geq(n, 0, "hll_add rejected a sketch it made");
	if (n > 0) {
		unsigned char *t = s->blob;
		s->blob = s->out;
		s->out = t;
		s->len = (size_t) n;
	}
	return n;
}

static struct hll_acc *
acc_new(void)
{
	struct hll_acc *acc = malloc(sizeof(*acc));
	cr_assert_not_null(acc);
	hll_acc_init(acc);
	return acc;
}

/* The count of one sketch on its own. */
static uint64_t
sketch_count(const struct sketch *s)
{
	struct hll_acc *acc = acc_new();
	cr_assert_eq(hll_acc_merge(acc, s->blob, s->len), 0);
	uint64_t c = hll_acc_count(acc);
	free(acc);
	return c;
}

static size_t
sparse_n(const struct sketch *s)
{
	return (s->len - 1) / sizeof(uint64_t);
}

static uint64_t
sparse_at(const struct sketch *s, size_t i)
{
	uint64_t h;
	memcpy(&h, s->blob + 1 + i * sizeof(h), sizeof(h));
	return h;
}

/* ---------------------------------------------------------------------- */
/* Hash functions                                                         */

Test(hll, hash_is_fnv1a_then_splitmix64)
{
	/* splitmix64 seeded with 0: its first output is mix(golden gamma). */
	cr_assert_eq(hll_mix(0x9e3779b97f4a7c15ULL), 0xe220a8397b1dcdafULL);
	cr_assert_eq(hll_mix(0), 0);
	/* FNV-1a 64 test vectors ("", "a", "foobar"), then the finalizer. */
	cr_assert_eq(hll_hash("", 0), hll_mix(0xcbf29ce484222325ULL));
	cr_assert_eq(hll_hash("a", 1), hll_mix(0xaf63dc4c8601ec8cULL));
	cr_assert_eq(hll_hash("foobar", 6), hll_mix(0x85944171f73967e8ULL));
}

/* ---------------------------------------------------------------------- */
/* Exact while small                                                      */

Test(hll, empty_counts_zero)
{
	struct hll_acc *acc = acc_new();
	cr_assert_eq(hll_acc_count(acc), 0);
	cr_assert_eq(hll_acc_merge(acc, NULL, 0), 0, "len 0 is the empty one");
	cr_assert_eq(hll_acc_count(acc), 0);
	free(acc);
}

Test(hll, one_value)
{
	struct sketch *s = sketch_new();
	uint64_t h = value(1, 0);
	cr_assert_eq(sketch_add(s, h), 1 + sizeof(uint64_t));
	cr_assert_eq(s->blob[0], HLL_SPARSE);
	cr_assert_eq(sparse_at(s, 0), h, "stored as is, native-endian");
	cr_assert_eq(sketch_count(s), 1);
	free(s);
}

Test(hll, duplicates_change_nothing)
{
	struct sketch *s = sketch_new();
	for (uint64_t i = 0; i < 100; i++) {
		cr_assert_gt(sketch_add(s, value(2, i)), 0);
	}
	size_t len = s->len;
	for (uint64_t i = 0; i < 100; i++) {
		memset(s->out, 0xa5, HLL_BLOB_MAX);
		cr_assert_eq(hll_add(s->blob, s->len, value(2, i), s->out), 0,
		        "value %llu added twice", (unsigned long long) i);
		for (size_t k = 0; k < HLL_BLOB_MAX; k++) {
			cr_assert_eq(s->out[k], 0xa5, "out is untouched");
		}
	}
	cr_assert_eq(s->len, len);
	cr_assert_eq(sketch_count(s), 100);
	free(s);
}

Test(hll, sparse_is_sorted_and_exact)
{
	struct sketch *s = sketch_new();
	for (uint64_t i = 0; i < 500; i++) {
		sketch_add(s, value(3, i));
		sketch_add(s, value(3, i / 2)); /* every other one a repeat */
	}
	cr_assert_eq(s->blob[0], HLL_SPARSE);
	cr_assert_eq(sparse_n(s), 500);
	for (size_t i = 1; i < sparse_n(s); i++) {
		cr_assert_lt(sparse_at(s, i - 1), sparse_at(s, i),
		        "ascending at %zu", i);
	}
	cr_assert_eq(sketch_count(s), 500);
	free(s);
}

/* ---------------------------------------------------------------------- */
/* Sparse -> dense                                                        */

Test(hll, dense_after_sparse_max)
{
	struct sketch *s = sketch_new();
	for (uint64_t i = 0; i < HLL_SPARSE_MAX; i++) {
		sketch_add(s, value(4, i));
	}
	cr_assert_eq(s->blob[0], HLL_SPARSE);
	cr_assert_eq(s->len, 1 + HLL_SPARSE_MAX * sizeof(uint64_t));
	cr_assert_eq(sketch_count(s), HLL_SPARSE_MAX, "exact at the limit");

	/* A repeat at the limit is still "nothing changed", not a switch. */
	cr_assert_eq(hll_add(s->blob, s->len, value(4, 7), s->out), 0);

	cr_assert_eq(sketch_add(s, value(4, HLL_SPARSE_MAX)), 1 + HLL_M);
	cr_assert_eq(s->blob[0], HLL_DENSE);
	for (size_t i = 0; i < HLL_M; i++) {
		cr_assert_leq(s->blob[1 + i], HLL_RHO_MAX);
	}
	/* Every value is in the registers: none of them changes one. */
	for (uint64_t i = 0; i <= HLL_SPARSE_MAX; i++) {
		cr_assert_eq(hll_add(s->blob, s->len, value(4, i), s->out), 0,
		        "value %llu lost in the switch",
		        (unsigned long long) i);
	}
	uint64_t c = sketch_count(s);
	cr_assert(fabs((double) c - (HLL_SPARSE_MAX + 1)) <= 0.03 * 1025,
	        "estimate %llu of 1025", (unsigned long long) c);
	free(s);
}

/* ---------------------------------------------------------------------- */
/* Many at once                                                           */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

/*
 * hll_add_many of a sorted run (with repeats, and with values already in
 * the sketch) leaves byte for byte the sketch that adding them one by one
 * does, on both sides of the sparse -> dense switch.
 */
Test(hll, add_many_equals_one_by_one)
{
	/* Batch sizes that cross HLL_SPARSE_MAX at different points. */
	static const size_t sizes[] = { 1, 2, 7, 100, 300, 1000, 40, 900, 5 };
	struct sketch *one = sketch_new(), *many = sketch_new();
	uint64_t *run = malloc(2 * 1000 * sizeof(*run));
	cr_assert_not_null(run);
	uint64_t next = 0;
	for (size_t b = 0; b < sizeof(sizes) / sizeof(sizes[0]); b++) {
		size_t n = 0;
		for (size_t i = 0; i < sizes[b]; i++) {
			run[n++] = value(9, next++);
			if (i % 3 == 0) {
				run[n++] = value(9, next - 1); /* a repeat */
			}
			if (i % 5 == 0 && next > 10) {
				run[n++]
				        = value(9, next / 2); /* seen before */
			}
		}
		for (size_t i = 0; i < n; i++) {
			sketch_add(one, run[i]);
		}
		qsort(run, n, sizeof(*run), cmp_u64);
		long got = hll_add_many(
		        many->blob, many->len, run, n, many->out);
		cr_assert_geq(got, 0);
		if (got > 0) {
			unsigned char *t = many->blob;
			many->blob = many->out;
			many->out = t;
			many->len = (size_t) got;
		}
		cr_assert_eq(many->len, one->len, "batch %zu: length", b);
		cr_assert(memcmp(many->blob, one->blob, one->len) == 0,
		        "batch %zu: same bytes", b);
		/* Again: nothing new, so nothing changes. */
		cr_assert_eq(
		        hll_add_many(many->blob, many->len, run, n, many->out),
		        0, "batch %zu twice", b);
	}
	cr_assert_eq(many->blob[0], HLL_DENSE, "the runs went past the limit");
	free(run);
	free(one);
	free(many);
}

/* ---------------------------------------------------------------------- */
/* Merges                                                                 */

/* A sketch of values [lo, hi) of stream `seed`. */
static struct sketch *
sketch_range(unsigned seed, uint64_t lo, uint64_t hi)
{
	struct sketch *s = sketch_new();
	for (uint64_t i = lo; i < hi; i++) {
		sketch_add(s, value(seed, i));
	}
	return s;
}

Test(hll, merge_exact_while_entries_fit)
{
	/*
	 * Four sparse sketches of 1,000 values each, overlapping by 250 with
	 * the next: 4,000 entries (<= HLL_EXACT_MAX), 3,250 distinct.
	 */
	struct sketch *s[4];
	for (unsigned k = 0; k < 4; k++) {
		s[k] = sketch_range(5, 750 * k, 750 * k + 1000);
		cr_assert_eq(s[k]->blob[0], HLL_SPARSE);
	}
	struct hll_acc *fwd = acc_new(), *rev = acc_new();
	for (unsigned k = 0; k < 4; k++) {
		cr_assert_eq(hll_acc_merge(fwd, s[k]->blob, s[k]->len), 0);
		cr_assert_eq(
		        hll_acc_merge(rev, s[3 - k]->blob, s[3 - k]->len), 0);
	}
	cr_assert_eq(hll_acc_count(fwd), 3250);
	cr_assert_eq(hll_acc_count(rev), 3250);
	/* The same sketch merged four times: 4,000 entries, 1,000 values. */
	struct hll_acc *same = acc_new();
	for (unsigned k = 0; k < 4; k++) {
		cr_assert_eq(hll_acc_merge(same, s[1]->blob, s[1]->len), 0);
	}
	cr_assert_eq(hll_acc_count(same), 1000);
	/* A single added hash too. */
	hll_acc_add(same, value(5, 123456));
	cr_assert_eq(hll_acc_count(same), 1001);
	for (unsigned k = 0; k < 4; k++) {
		free(s[k]);
	}
	free(fwd);
	free(rev);
	free(same);
}

/*
 * Past HLL_EXACT_MAX entries (or with any dense sketch) the merge is the
 * register-wise maximum, which is exactly the registers of one sketch of
 * the union: the counts must be equal, not just close.
 */
Test(hll, merge_of_several_equals_the_union)
{
	/* Five sparse sketches, 5,000 entries, values [0, 4,400). */
	struct sketch *sp[5];
	struct hll_acc *acc = acc_new();
	for (unsigned k = 0; k < 5; k++) {
		sp[k] = sketch_range(6, 850 * k, 850 * k + 1000);
		cr_assert_eq(hll_acc_merge(acc, sp[k]->blob, sp[k]->len), 0);
	}
	struct sketch *u = sketch_range(6, 0, 4400);
	cr_assert_eq(u->blob[0], HLL_DENSE);
	cr_assert_eq(hll_acc_count(acc), sketch_count(u));
	for (unsigned k = 0; k < 5; k++) {
		free(sp[k]);
	}
	free(u);
	free(acc);

	/*
	 * Three dense sketches of 20,000 overlapping values and one sparse
	 * one, merged in two orders: values [0, 40,300).
	 */
	struct sketch *s[4] = {
		sketch_range(7, 0, 20000),
		sketch_range(7, 10000, 30000),
		sketch_range(7, 20000, 40000),
		sketch_range(7, 39800, 40300),
	};
	cr_assert_eq(s[3]->blob[0], HLL_SPARSE);
	struct hll_acc *fwd = acc_new(), *rev = acc_new();
	for (unsigned k = 0; k < 4; k++) {
		cr_assert_eq(hll_acc_merge(fwd, s[k]->blob, s[k]->len), 0);
		cr_assert_eq(
		        hll_acc_merge(rev, s[3 - k]->blob, s[3 - k]->len), 0);
	}
	u = sketch_range(7, 0, 40300);
	uint64_t want = sketch_count(u);
	cr_assert_eq(hll_acc_count(fwd), want);
	cr_assert_eq(hll_acc_count(rev), want);
	cr_assert(fabs((double) want - 40300) <= 0.02 * 40300,
	        "estimate %llu of 40,300", (unsigned long long) want);
	for (unsigned k = 0; k < 4; k++) {
		free(s[k]);
	}
	free(u);
	free(fwd);
	free(rev);
}

/* ---------------------------------------------------------------------- */
/* Accuracy                                                               */

/* Relative error of the sketch path (hll_add) and of hll_acc_add. */
static void
check_accuracy(uint64_t n, unsigned seed)
{
	struct sketch *s = sketch_new();
	struct hll_acc *acc = acc_new();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t h = value(seed, i);
		sketch_add(s, h);
		hll_acc_add(acc, h);
	}
	double est = (double) sketch_count(s);
	double err = fabs(est - (double) n) / (double) n;
	cr_log_info("n %llu: estimate %.0f, error %.3f %%",
	        (unsigned long long) n, est, 100 * err);
	cr_assert(err <= 0.02, "n %llu: estimate %.0f, error %.2f %%",
	        (unsigned long long) n, est, 100 * err);
	cr_assert_eq(hll_acc_count(acc), (uint64_t) est,
	        "hll_acc_add and hll_add fill the same registers");
	free(s);
	free(acc);
}

Test(hll, accuracy_5000)
{
	check_accuracy(5000, 10);
}

Test(hll, accuracy_20000)
{
	check_accuracy(20000, 11);
}

Test(hll, accuracy_100000)
{
	check_accuracy(100000, 12);
}

Test(hll, accuracy_1000000)
{
	check_accuracy(1000000, 13);
}

/* ---------------------------------------------------------------------- */
/* Malformed blobs                                                        */

/* Both entry points reject blob, and hll_add leaves out untouched. */
static void
check_rejected(const unsigned char *blob, size_t len, const char *what)
{
	static unsigned char out[HLL_BLOB_MAX]; /* too big for the stack */
	memset(out, 0x5a, sizeof(out));
	cr_expect_eq(hll_add(blob, len, 42, out), -1, "hll_add: %s", what);
	for (size_t k = 0; k < sizeof(out); k++) {
		if (out[k] != 0x5a) {
			cr_expect_fail("hll_add wrote out for %s", what);
			break;
		}
	}
	struct hll_acc *acc = acc_new();
	cr_expect_eq(hll_acc_merge(acc, blob, len), -1, "merge: %s", what);
	free(acc);
}

Test(hll, malformed_blobs_rejected)
{
	static unsigned char b[HLL_BLOB_MAX + 16];
	memset(b, 0, sizeof(b));
	b[0] = 0;
	check_rejected(b, 9, "tag 0");
	b[0] = 3;
	check_rejected(b, 9, "tag 3");
	b[0] = HLL_SPARSE;
	check_rejected(b, 2, "sparse, 1 byte of a hash");
	check_rejected(b, 1 + 8 + 7, "sparse, 15 bytes of hashes");
	b[0] = HLL_DENSE;
	check_rejected(b, 1, "dense without registers");
	check_rejected(b, HLL_M, "dense, one register short");
	check_rejected(b, 2 + HLL_M, "dense, one register too many");
}

/*
 * A register can hold at most 64 - P + 1 = 51. hll_acc_count indexes a
 * 52-entry histogram by register value, so a dense blob with a larger
 * one (corruption) must be rejected by the merge; otherwise the count
 * writes outside the histogram. The count is deliberately not called.
 */
Test(hll, dense_register_out_of_range_rejected)
{
	static unsigned char b[HLL_BLOB_MAX];
	static const unsigned char bad[] = { HLL_RHO_MAX + 1, 200, 255 };
	for (size_t i = 0; i < sizeof(bad); i++) {
		memset(b, 0, sizeof(b));
		b[0] = HLL_DENSE;
		b[1 + 100] = bad[i];
		struct hll_acc *acc = acc_new();
		cr_expect_eq(hll_acc_merge(acc, b, sizeof(b)), -1,
		        "hll_acc_merge accepts a register of %d (max %d)",
		        bad[i], HLL_RHO_MAX);
		free(acc);
	}
	memset(b, 0, sizeof(b));
	b[0] = HLL_DENSE;
	b[1 + 100] = HLL_RHO_MAX;
	struct hll_acc *acc = acc_new();
	cr_assert_eq(hll_acc_merge(acc, b, sizeof(b)), 0, "51 is valid");
	cr_assert_gt(hll_acc_count(acc), 0);
	free(acc);
}
