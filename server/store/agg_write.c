#include "store/agg_write.h"

#include <stdlib.h>
#include <string.h>

#include "core/hll.h"
#include "core/model.h"

/* Past this many waiting visitors the list is folded early. */
#define AGG_VISITS_MAX 65536

struct agg_visit {
	unsigned char key[6]; /* AGG_VISITORS day channel */
	uint64_t h;
};

struct agg_visits {
	struct agg_visit *v;
	uint64_t *hs; /* one key's hashes, for hll_add_many */
	size_t n, cap;
	unsigned char out[HLL_BLOB_MAX];
};

struct agg_visits *
agg_visits_new(void)
{
	return calloc(1, sizeof(struct agg_visits));
}

void
agg_visits_free(struct agg_visits *v)
{
	if (v != NULL) {
		free(v->v);
		free(v->hs);
		free(v);
	}
}

void
agg_visits_clear(struct agg_visits *v)
{
	v->n = 0;
}

static int
agg_visit_cmp(const void *pa, const void *pb)
{
	const struct agg_visit *a = pa, *b = pb;
	int c = memcmp(a->key, b->key, sizeof(a->key));
	return c != 0 ? c : (a->h > b->h) - (a->h < b->h);
}

clm_err
agg_visits_fold(store_txn *txn, struct agg_visits *p)
{
	if (p->n == 0) {
		return CLM_OK;
	}
	qsort(p->v, p->n, sizeof(*p->v), agg_visit_cmp);
	clm_err e = CLM_OK;
	for (size_t i = 0; i < p->n && e == CLM_OK;) {
		size_t k = 0, j = i;
		for (; j < p->n && memcmp(p->v[j].key, p->v[i].key, 6) == 0;
		        j++) {
			p->hs[k++] = p->v[j].h;
		}
		const void *cur = NULL;
		size_t len = 0;
		e = store_agg_blob_get(txn, p->v[i].key, 6, &cur, &len);
		if (e == CLM_NOT_FOUND) {
			len = 0;
			e = CLM_OK;
		}
		if (e == CLM_OK) {
			long n = hll_add_many(cur, len, p->hs, k, p->out);
			if (n < 0) {
				e = CLM_DATA_LOSS;
			} else if (n > 0) {
				e = store_agg_blob_put(txn, p->v[i].key, 6,
				        p->out, (size_t) n);
			}
		}
		i = j;
	}
	p->n = 0;
	return e;
}

static clm_err
agg_visits_add(store_txn *txn, struct agg_visits *p, const unsigned char *key,
        uint64_t h)
{
	if (p->n == AGG_VISITS_MAX) {
		clm_err e = agg_visits_fold(txn, p);
		if (e != CLM_OK) {
			return e;
		}
	}
	if (p->n == p->cap) {
		size_t cap = p->cap == 0 ? 256 : p->cap * 2;
		struct agg_visit *v = realloc(p->v, cap * sizeof(*v));
		if (v != NULL) {
			p->v = v;
		}
		uint64_t *hs = realloc(p->hs, cap * sizeof(*hs));
		if (hs != NULL) {
			p->hs = hs;
		}
		if (v == NULL || hs == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		p->cap = cap;
	}
	memcpy(p->v[p->n].key, key, 6);
	p->v[p->n].h = h;
	p->n++;
	return CLM_OK;
}

/* Adds sign * e minus `minus` (when given) to e's key. */
static clm_err
agg_write_entry(store_txn *txn, const struct agg_entry *e, int sign,
        const struct agg_entry *minus)
{
	int64_t d[4];
	bool zero = true;
	for (int k = 0; k < 4; k++) {
		d[k] = sign * e->v[k] - (minus ? minus->v[k] : 0);
		zero = zero && d[k] == 0;
	}
	if (zero) {
		return CLM_OK;
	}
	size_t n = 4;
	while (n > 0 && d[n - 1] == 0) {
		n--;
	}
	return store_agg_add(txn, e->key, e->klen, d, n);
}

clm_err
agg_write_diff(
        store_txn *txn, const struct agg_list *from, const struct agg_list *to)
{
	size_t i = 0, j = 0;
	clm_err e = CLM_OK;
	while (e == CLM_OK && (i < from->n || j < to->n)) {
		int c = i == from->n ? 1
		        : j == to->n ? -1
		                     : agg_entry_cmp(&from->e[i], &to->e[j]);
		if (c < 0) {
			e = agg_write_entry(txn, &from->e[i++], -1, NULL);
		} else if (c > 0) {
			e = agg_write_entry(txn, &to->e[j++], 1, NULL);
		} else {
			e = agg_write_entry(
			        txn, &to->e[j++], 1, &from->e[i++]);
		}
	}
	return e;
}

clm_err
agg_write_touch(store_txn *txn, struct agg_visits *v,
        const Clm__V1__Touchpoint *tp, int64_t at_ms, const char *visitor,
        bool anonymous)
{
	int64_t d[AGG_TOUCH_N];
	size_t n = agg_touch_counters(tp, d);
	if (n == 0) {
		return CLM_OK;
	}
	int type = (int) tp->type;
	unsigned char key[AGG_KEY_MAX];
	key[0] = AGG_TOUCH;
	agg_put_u32(key + 1, agg_day(at_ms));
	key[5] = (unsigned char) tp->channel;
	clm_err e = store_agg_add(txn, key, 6, d, n);
	if (e == CLM_OK
	        && (type == MODEL_T_PURCHASE || type == MODEL_T_REFUND)) {
		unsigned char mk = AGG_MONEY;
		int64_t m[2] = { d[AGG_TOUCH_PURCHASE_MICROS],
			d[AGG_TOUCH_REFUND_MICROS] };
		e = store_agg_add(txn, &mk, 1, m, 2);
	}
	if (e == CLM_OK
	        && (type == MODEL_T_SITE_VISIT || type == MODEL_T_PAGE_VIEW)) {
		key[0] = AGG_VISITORS;
		e = agg_visits_add(
		        txn, v, key, agg_visitor_hash(visitor, anonymous));
	}
	return e;
}
