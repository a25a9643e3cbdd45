/*
 * hll: distinct counting for unique_visitors (pure functions, no I/O).
 *
 * A sketch is exact while small (the sorted distinct 64-bit hashes of what
 * was added) and becomes a HyperLogLog of 2^14 one-byte registers past
 * HLL_SPARSE_MAX entries (relative standard error 1.04 / sqrt(2^14) =
 * 0.8 %). Sketches merge: an accumulator counts exactly while the merged
 * exact sketches hold at most HLL_EXACT_MAX entries in all, and estimates
 * with Ertl's improved estimator ("New cardinality estimation algorithms
 * for HyperLogLog sketches", 2017) otherwise, which needs no bias tables.
 *
 * Stored form: one byte HLL_SPARSE then n native-endian uint64 hashes in
 * ascending order, or HLL_DENSE then HLL_M registers.
 */
#ifndef CLM_HLL_H
#define CLM_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLL_P          14
#define HLL_M          (1u << HLL_P)
#define HLL_SPARSE_MAX 1024u
#define HLL_EXACT_MAX  4096u
#define HLL_BLOB_MAX   (1u + HLL_M) /* the larger of the two forms */

enum { HLL_SPARSE = 1, HLL_DENSE = 2 };

/* hll_hash hashes n bytes (FNV-1a 64, then the splitmix64 finalizer). */
uint64_t hll_hash(const void *data, size_t n);

/* hll_mix is the splitmix64 finalizer (a bijection on 64-bit values). */
uint64_t hll_mix(uint64_t x);

/*
 * hll_add writes into out (HLL_BLOB_MAX bytes) the sketch `blob` (len
 * bytes; len 0 = empty) with h added, and returns its length, or 0 when
 * adding h changes nothing (out is then untouched), or -1 when blob is
 * not a sketch.
 */
long hll_add(const void *blob, size_t len, uint64_t h, unsigned char *out);

/*
 * hll_add_many is hll_add of n hashes at once, hs in ascending order
 * (repeats allowed): the same sketch as adding them one by one, for one
 * copy of the blob instead of n.
 */
long hll_add_many(const void *blob, size_t len, const uint64_t *hs, size_t n,
        unsigned char *out);

/* A merge of sketches (about 48 KiB: allocate it, do not put it on a stack).
 */
struct hll_acc {
	bool dense;
	size_t n; /* hashes held while exact */
	uint64_t hashes[HLL_EXACT_MAX];
	uint8_t reg[HLL_M];
};

void hll_acc_init(struct hll_acc *acc);

/* hll_acc_merge adds one stored sketch; returns -1 when it is not one. */
int hll_acc_merge(struct hll_acc *acc, const void *blob, size_t len);

/* hll_acc_add adds one hash. */
void hll_acc_add(struct hll_acc *acc, uint64_t h);

/* hll_acc_count: the exact count, or the estimate once dense. */
uint64_t hll_acc_count(struct hll_acc *acc);

#endif /* CLM_HLL_H */
