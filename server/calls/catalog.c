/*
 * PutCatalog upserts items (category, price, upgrade path) and stores
 * (location, radius, discount); cross-sell reads the co-purchase counts
 * that profile_save keeps in the write transaction of every PURCHASE.
 */
#include "calls/catalog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/reply.h"
#include "calls/validate.h"

#define CATALOG_MAX_ENTRIES 10000 /* items + stores per call */
#define CATALOG_NAME_MAX    256

struct catalog_scored {
	const char *item;
	double sim;
};

struct catalog_scan {
	arena *a;
	store_txn *txn;
	uint64_t pop_x;
	char *const *exclude;
	size_t ne;
	struct catalog_scored *v;
	size_t n, cap;
	size_t seen; /* neighbours read of the current basis item */
	size_t k;    /* popular fallback: how many items to take */
	clm_err err;
};

static bool
catalog_excluded(char *const *ex, size_t ne, const char *item)
{
	for (size_t i = 0; i < ne; i++) {
		if (strcmp(ex[i], item) == 0) {
			return true;
		}
	}
	return false;
}

static int
catalog_push(struct catalog_scan *s, const char *item, double sim)
{
	struct catalog_scored *v
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
	s->v[s->n++] = (struct catalog_scored) { copy, sim };
	return 0;
}

static int
catalog_neighbour_fn(void *arg, const char *item, uint64_t co)
{
	struct catalog_scan *s = arg;
	if (++s->seen > CATALOG_NEIGHBOURS_MAX) {
		return 1;
	}
	if (co == 0 || catalog_excluded(s->exclude, s->ne, item)) {
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
	return catalog_push(s, item, sim > 1 ? 1 : sim);
}

static int
catalog_popular_fn(void *arg, const char *item, uint64_t count)
{
	struct catalog_scan *s = arg;
	if (catalog_excluded(s->exclude, s->ne, item)) {
		return 0;
	}
	if (s->pop_x == 0) {
		s->pop_x = count; /* the most popular: similarity 1 */
	}
	if (catalog_push(s, item, (double) count / (double) s->pop_x) != 0) {
		return 1;
	}
	return s->n >= s->k;
}

static int
catalog_by_item(const void *a, const void *b)
{
	const struct catalog_scored *x = a, *y = b;
	int c = strcmp(x->item, y->item);
	if (c != 0) {
		return c;
	}
	return x->sim > y->sim ? -1 : x->sim < y->sim;
}

static int
catalog_by_score(const void *a, const void *b)
{
	const struct catalog_scored *x = a, *y = b;
	if (x->sim != y->sim) {
		return x->sim > y->sim ? -1 : 1;
	}
	return strcmp(x->item, y->item);
}

clm_err
catalog_cross_sell(store_txn *txn, char *const *basis, size_t nb,
        char *const *exclude, size_t ne, size_t k, arena *a,
        struct recommend_item **out, size_t *n)
{
	struct catalog_scan s
	        = { .a = a, .txn = txn, .exclude = exclude, .ne = ne };
	for (size_t i = 0; i < nb && s.err == CLM_OK; i++) {
		s.err = store_pop_get(txn, basis[i], &s.pop_x);
		s.seen = 0;
		if (s.err == CLM_OK && s.pop_x > 0) {
			clm_err e = store_co_each(
			        txn, basis[i], catalog_neighbour_fn, &s);
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
		qsort(s.v, s.n, sizeof(*s.v), catalog_by_item);
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
		clm_err e = store_pop_top(txn, catalog_popular_fn, &s);
		if (e == CLM_OK) {
			e = s.err;
		}
		if (e != CLM_OK) {
			return e;
		}
	}
	if (s.n > 1) {
		qsort(s.v, s.n, sizeof(*s.v), catalog_by_score);
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

struct catalog_state {
	const Clm__V1__PutCatalogRequest *req;
	Clm__V1__PutCatalogReply *reply;
};

static clm_err
catalog_apply(struct writer_batch *b, writer_job *job)
{
	struct catalog_state *s = job->arg;
	for (size_t i = 0; i < s->req->n_items; i++) {
		clm_err e = store_item_put(b->txn, s->req->items[i]);
		if (e != CLM_OK) {
			return e;
		}
	}
	for (size_t i = 0; i < s->req->n_stores; i++) {
		clm_err e = store_store_put(b->txn, s->req->stores[i]);
		if (e != CLM_OK) {
			return e;
		}
	}
	s->reply->items = (uint32_t) s->req->n_items;
	s->reply->stores = (uint32_t) s->req->n_stores;
	return CLM_OK;
}

/* The name of field `name` of entry i of list (items or stores), in f. */
static const char *
catalog_field(char f[64], const char *list, size_t i, const char *name)
{
	snprintf(f, 64, "put_catalog.%s[%zu].%s", list, i, name);
	return f;
}

static void
catalog_text(struct violations *v, const char *list, size_t i,
        const char *name, const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max || !validate_utf8(s, n, true)) {
		char f[64];
		violations_add(v, catalog_field(f, list, i, name),
		        "must be at most %zu bytes of printable UTF-8", max);
	}
}

static void
catalog_check_item(
        const Clm__V1__Item *it, size_t i, size_t max_id, struct violations *v)
{
	char f[64];
	const char *why = validate_id(it->item_id, max_id);
	if (why != NULL) {
		violations_add(
		        v, catalog_field(f, "items", i, "item_id"), "%s", why);
	}
	catalog_text(v, "items", i, "name", it->name, CATALOG_NAME_MAX);
	catalog_text(v, "items", i, "category", it->category, max_id);
	if (!isfinite(it->price) || it->price < 0
	        || it->price > VALIDATE_MAX_VALUE) {
		violations_add(v, catalog_field(f, "items", i, "price"),
		        "must be a finite number from 0 to 1e12");
	}
	if (it->upgrade_to[0] != '\0') {
		catalog_field(f, "items", i, "upgrade_to");
		why = validate_id(it->upgrade_to, max_id);
		if (why != NULL) {
			violations_add(v, f, "%s", why);
		} else if (strcmp(it->upgrade_to, it->item_id) == 0) {
			violations_add(
			        v, f, "an item cannot upgrade to itself");
		}
	}
}

static void
catalog_check_store(const Clm__V1__Store *st, size_t i, size_t max_id,
        struct violations *v)
{
	char f[64];
	const char *why = validate_id(st->store_id, max_id);
	if (why != NULL) {
		violations_add(v, catalog_field(f, "stores", i, "store_id"),
		        "%s", why);
	}
	catalog_text(v, "stores", i, "name", st->name, CATALOG_NAME_MAX);
	catalog_field(f, "stores", i, "location");
	if (st->location == NULL) {
		violations_add(v, f, "is required");
	} else if (!isfinite(st->location->lat) || st->location->lat < -90
	        || st->location->lat > 90 || !isfinite(st->location->lon)
	        || st->location->lon < -180 || st->location->lon > 180) {
		violations_add(v, f, "lat must be -90..90 and lon -180..180");
	}
	if (!isfinite(st->radius_m) || st->radius_m <= 0
	        || st->radius_m > 20037509) {
		violations_add(v, catalog_field(f, "stores", i, "radius_m"),
		        "must be more than 0 and at most half the Earth's circumference (20,037,509 m)");
	}
	if (!isfinite(st->discount_pct) || st->discount_pct < 0
	        || st->discount_pct > 100) {
		violations_add(v,
		        catalog_field(f, "stores", i, "discount_pct"),
		        "must be between 0 and 100");
	}
}

bool
catalog_prepare(struct call_req *r)
{
	const Clm__V1__PutCatalogRequest *q = r->req->put_catalog;
	arena *a = r->a;
	size_t max_id = r->srv->limits.max_id_bytes;
	if (q->n_items + q->n_stores == 0) {
		reply_invalid(r->resp, a, "put_catalog",
		        "holds no items and no stores");
		return false;
	}
	if (q->n_items + q->n_stores > CATALOG_MAX_ENTRIES) {
		reply_invalid(r->resp, a, "put_catalog",
		        "holds %zu items and stores, the limit is %d per call",
		        q->n_items + q->n_stores, CATALOG_MAX_ENTRIES);
		return false;
	}
	struct violations v;
	violations_init(&v, a);
	for (size_t i = 0; i < q->n_items; i++) {
		catalog_check_item(q->items[i], i, max_id, &v);
	}
	for (size_t i = 0; i < q->n_stores; i++) {
		catalog_check_store(q->stores[i], i, max_id, &v);
	}
	if (v.n > 0) {
		reply_violations(r->resp, a, &v);
		return false;
	}
	struct catalog_state *s = arena_zalloc(a, sizeof(*s));
	Clm__V1__PutCatalogReply *reply = arena_alloc(a, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	clm__v1__put_catalog_reply__init(reply);
	s->req = q;
	s->reply = reply;
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_PUT_CATALOG;
	r->resp->put_catalog = reply;
	r->job.apply = catalog_apply;
	r->job.arg = s;
	return true;
}
