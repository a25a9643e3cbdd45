/*
 * cross_sell: the candidates the co-purchase counts give, which
 * profile_save keeps in the write transaction of every PURCHASE.
 */
#include "store/cross_sell.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cross_sell_scored {
	const char *item;
	double sim;
};

struct cross_sell_scan {
	arena *a;
	store_txn *txn;
	uint64_t pop_x;
	char *const *exclude;
	size_t ne;
	struct cross_sell_scored *v;
	size_t n, cap;
	size_t seen; /* neighbours read of the current basis item */
	size_t k;    /* popular fallback: how many items to take */
	clm_err err;
};

static bool
cross_sell_excluded(char *const *ex, size_t ne, const char *item)
{
	for (size_t i = 0; i < ne; i++) {
		if (strcmp(ex[i], item) == 0) {
			return true;
		}
	}
	return false;
}

static int
cross_sell_push(struct cross_sell_scan *s, const char *item, double sim)
{
	struct cross_sell_scored *v
	        = arena_grow(s->a, s->v, s->n, &s->cap, sizeof(*v));
	if (v == NULL) {
		s->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	s->v = v;
	char *copy = arena_strdup(s->a, item);
	if (copy == NULL) {
		s->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	s->v[s->n++] = (struct cross_sell_scored) { copy, sim };
	return 0;
}

static int
cross_sell_neighbour_fn(void *arg, const char *item, uint64_t co)
{
	struct cross_sell_scan *s = arg;
	if (++s->seen > CROSS_SELL_NEIGHBOURS_MAX) {
		return 1;
	}
	if (co == 0 || cross_sell_excluded(s->exclude, s->ne, item)) {
		return 0;
	}
	uint64_t pop_y;
	s->err = store_pop_get(s->txn, item, &pop_y);
	if (s->err != CLM_OK) {
		return 1;
	}
	if (pop_y == 0 || s->pop_x == 0) {
		return 0;
	}
	double sim = (double) co / sqrt((double) s->pop_x * (double) pop_y);
	return cross_sell_push(s, item, sim > 1 ? 1 : sim);
}

static int
cross_sell_popular_fn(void *arg, const char *item, uint64_t count)
{
	struct cross_sell_scan *s = arg;
	if (cross_sell_excluded(s->exclude, s->ne, item)) {
		return 0;
	}
	if (s->pop_x == 0) {
		s->pop_x = count; /* the most popular: similarity 1 */
	}
	if (cross_sell_push(s, item, (double) count / (double) s->pop_x)
	        != 0) {
		return 1;
	}
	return s->n >= s->k;
}

static int
cross_sell_by_item(const void *a, const void *b)
{
	const struct cross_sell_scored *x = a, *y = b;
	int c = strcmp(x->item, y->item);
	if (c != 0) {
		return c;
	}
	return x->sim > y->sim ? -1 : x->sim < y->sim;
}

static int
cross_sell_by_score(const void *a, const void *b)
{
	const struct cross_sell_scored *x = a, *y = b;
	if (x->sim != y->sim) {
		return x->sim > y->sim ? -1 : 1;
	}
	return strcmp(x->item, y->item);
}

clm_err
cross_sell(store_txn *txn, char *const *basis, size_t nb, char *const *exclude,
        size_t ne, size_t k, arena *a, struct recommend_item **out, size_t *n)
{
	struct cross_sell_scan s
	        = { .a = a, .txn = txn, .exclude = exclude, .ne = ne };
	for (size_t i = 0; i < nb && s.err == CLM_OK; i++) {
		s.err = store_pop_get(txn, basis[i], &s.pop_x);
		s.seen = 0;
		if (s.err == CLM_OK && s.pop_x > 0) {
			clm_err e = store_co_each(
			        txn, basis[i], cross_sell_neighbour_fn, &s);
			if (s.err == CLM_OK) {
				s.err = e;
			}
		}
	}
	if (s.err != CLM_OK) {
		return s.err;
	}
	/* Keep each item's best similarity. */
	if (s.n > 1) {
		qsort(s.v, s.n, sizeof(*s.v), cross_sell_by_item);
	}
	size_t m = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (m == 0 || strcmp(s.v[m - 1].item, s.v[i].item) != 0) {
			s.v[m++] = s.v[i];
		}
	}
	s.n = m;
	bool popular = false;
	if (s.n == 0 && k > 0) {
		popular = true;
		s.pop_x = 0;
		s.k = k;
		clm_err e = store_pop_top(txn, cross_sell_popular_fn, &s);
		if (e == CLM_OK) {
			e = s.err;
		}
		if (e != CLM_OK) {
			return e;
		}
	}
	if (s.n > 1) {
		qsort(s.v, s.n, sizeof(*s.v), cross_sell_by_score);
	}
	if (s.n > k) {
		s.n = k;
	}
	struct recommend_item *items
	        = arena_alloc(a, (s.n + 1) * sizeof(*items));
	if (items == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < s.n; i++) {
		items[i] = (struct recommend_item) { s.v[i].item, s.v[i].sim,
			popular };
	}
	*out = items;
	*n = s.n;
	return CLM_OK;
}
