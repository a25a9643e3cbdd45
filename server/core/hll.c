#include "core/hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t
hll_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t
hll_hash(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return hll_mix(h);
}

/* The register a hash goes to, and the value it offers it. */
static void
hll_split(uint64_t h, uint32_t *idx, uint8_t *rho)
{
	*idx = (uint32_t) (h >> (64 - HLL_P));
	uint64_t rest = h << HLL_P;
	/* Leading zeros of the remaining 64 - P bits, plus one. */
	uint8_t r = 1;
	while (r <= 64 - HLL_P && (rest & (1ULL << 63)) == 0) {
		rest <<= 1;
		r++;
	}
	*rho = r;
}

static size_t
hll_sparse_n(size_t len)
{
	return (len - 1) / sizeof(uint64_t);
}

static uint64_t
hll_sparse_at(const unsigned char *b, size_t i)
{
	uint64_t h;
	memcpy(&h, b + 1 + i * sizeof(h), sizeof(h));
	return h;
}

static void
hll_fold(uint8_t *reg, uint64_t h)
{
	uint32_t idx;
	uint8_t rho;
	hll_split(h, &idx, &rho);
	if (rho > reg[idx]) {
		reg[idx] = rho;
	}
}

/* Whether any of hs (ascending) is missing from the n sorted hashes at b. */
static bool
hll_sparse_news(const unsigned char *b, size_t n, const uint64_t *hs, size_t k)
{
	size_t lo = 0;
	for (size_t j = 0; j < k; j++) {
		size_t hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (hll_sparse_at(b, mid) < hs[j]) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		if (lo == n || hll_sparse_at(b, lo) != hs[j]) {
			return true;
		}
	}
	return false;
}

long
hll_add_many(const void *blob, size_t len, const uint64_t *hs, size_t n_hs,
        unsigned char *out)
{
	static const unsigned char empty[1] = { HLL_SPARSE };
	const unsigned char *b = len == 0 ? empty : blob;
	if (len == 0) {
		len = 1;
	}
	if (b[0] == HLL_DENSE && len == 1 + HLL_M) {
		bool changed = false;
		for (size_t i = 0; i < n_hs; i++) {
			uint32_t idx;
			uint8_t rho;
			hll_split(hs[i], &idx, &rho);
			if (b[1 + idx] < rho) {
				if (!changed) {
					memcpy(out, b, len);
					changed = true;
				}
				if (out[1 + idx] < rho) {
					out[1 + idx] = rho;
				}
			}
		}
		return changed ? (long) len : 0;
	}
	if (b[0] != HLL_SPARSE || (len - 1) % sizeof(uint64_t) != 0) {
		return -1;
	}
	size_t n = hll_sparse_n(len);
	if (!hll_sparse_news(b, n, hs, n_hs)) {
		return 0; /* out untouched */
	}
	/* Merge two ascending lists; the union's size decides the form. */
	size_t i = 0, j = 0, added = 0, m = 0;
	uint64_t last = 0;
	while (i < n || j < n_hs) {
		uint64_t h;
		if (j == n_hs || (i < n && hll_sparse_at(b, i) <= hs[j])) {
			h = hll_sparse_at(b, i++);
		} else {
			h = hs[j++];
			if (m > 0 && last == h) {
				continue; /* already in: from b or a repeat */
			}
			added++;
		}
		if (m == HLL_SPARSE_MAX + 1) {
			break; /* too many for the exact form */
		}
		memcpy(out + 1 + m * sizeof(h), &h, sizeof(h));
		m++;
		last = h;
	}
	if (added == 0) {
		return 0;
	}
	if (m <= HLL_SPARSE_MAX) {
		out[0] = HLL_SPARSE;
		return (long) (1 + m * sizeof(uint64_t));
	}
	/* Past HLL_SPARSE_MAX distinct hashes: registers of them all. */
	out[0] = HLL_DENSE;
	memset(out + 1, 0, HLL_M);
	for (size_t k = 0; k < n; k++) {
		hll_fold(out + 1, hll_sparse_at(b, k));
	}
	for (size_t k = 0; k < n_hs; k++) {
		hll_fold(out + 1, hs[k]);
	}
	return 1 + HLL_M;
}

long
hll_add(const void *blob, size_t len, uint64_t h, unsigned char *out)
{
	return hll_add_many(blob, len, &h, 1, out);
}

void
hll_acc_init(struct hll_acc *acc)
{
	acc->dense = false;
	acc->n = 0;
}

static void
hll_acc_densify(struct hll_acc *acc)
{
	if (acc->dense) {
		return;
	}
	memset(acc->reg, 0, sizeof(acc->reg));
	for (size_t i = 0; i < acc->n; i++) {
		hll_fold(acc->reg, acc->hashes[i]);
	}
	acc->dense = true;
}

void
hll_acc_add(struct hll_acc *acc, uint64_t h)
{
	if (!acc->dense && acc->n < HLL_EXACT_MAX) {
		acc->hashes[acc->n++] = h;
		return;
	}
	hll_acc_densify(acc);
	hll_fold(acc->reg, h);
}

/*
 * Register-wise max of src into dst, returning the largest register of
 * src. Written so that the compiler vectorizes it (no aliasing, no
 * branches): Metrics merges one 16 KiB sketch per day and channel, and a
 * byte at a time that was most of its time at 10 M touchpoints.
 */
static uint8_t
hll_max_into(uint8_t *restrict dst, const uint8_t *restrict src)
{
	uint8_t top = 0;
	for (size_t i = 0; i < HLL_M; i++) {
		uint8_t v = src[i], r = dst[i];
		dst[i] = v > r ? v : r;
		top = v > top ? v : top;
	}
	return top;
}

int
hll_acc_merge(struct hll_acc *acc, const void *blob, size_t len)
{
	const unsigned char *b = blob;
	if (len == 0) {
		return 0;
	}
	if (b[0] == HLL_DENSE && len == 1 + HLL_M) {
		hll_acc_densify(acc);
		/* A register holds at most 64 - P + 1: a corrupt one would
		 * index past the estimator's histogram. */
		if (hll_max_into(acc->reg, b + 1) > 64 - HLL_P + 1) {
			memset(acc->reg, 0, sizeof(acc->reg));
			return -1;
		}
		return 0;
	}
	if (b[0] != HLL_SPARSE || (len - 1) % sizeof(uint64_t) != 0) {
		return -1;
	}
	size_t n = hll_sparse_n(len);
	if (!acc->dense && acc->n + n > HLL_EXACT_MAX) {
		hll_acc_densify(acc);
	}
	for (size_t i = 0; i < n; i++) {
		hll_acc_add(acc, hll_sparse_at(b, i));
	}
	return 0;
}

static int
hll_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return (x > y) - (x < y);
}

/* sigma and tau of Ertl's estimator (series summed to convergence). */
static double
hll_sigma(double x)
{
	if (x == 1.0) {
		return INFINITY;
	}
	double y = 1.0, z = x, prev;
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

static double
hll_tau(double x)
{
	if (x == 0.0 || x == 1.0) {
		return 0.0;
	}
	double y = 1.0, z = 1.0 - x, prev;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1.0 - x) * (1.0 - x) * y;
	} while (z != prev);
	return z / 3.0;
}

uint64_t
hll_acc_count(struct hll_acc *acc)
{
	if (!acc->dense) {
		if (acc->n == 0) {
			return 0;
		}
		qsort(acc->hashes, acc->n, sizeof(uint64_t), hll_cmp);
		uint64_t distinct = 1;
		for (size_t i = 1; i < acc->n; i++) {
			distinct += acc->hashes[i] != acc->hashes[i - 1];
		}
		return distinct;
	}
	enum { Q = 64 - HLL_P };
	double c[Q + 2] = { 0 };
	for (size_t i = 0; i < HLL_M; i++) {
		c[acc->reg[i]]++;
	}
	double m = HLL_M;
	double z = m * hll_tau(1.0 - c[Q + 1] / m);
	for (int k = Q; k >= 1; k--) {
		z = 0.5 * (z + c[k]);
	}
	z += m * hll_sigma(c[0] / m);
	double alpha = 0.5 / log(2.0);
	return (uint64_t) llround(alpha * m * m / z);
}
