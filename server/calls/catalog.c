/*
 * PutCatalog upserts items (category, price, upgrade path) and stores
 * (location, radius, discount), which Recommend reads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"

#define CATALOG_MAX_ENTRIES 10000 /* items + stores per call */
#define CATALOG_NAME_MAX    256

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
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_PUT_CATALOG;
	j.put_catalog = (Clm__V1__PutCatalogRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || catalog_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
catalog_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct catalog_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__PutCatalogReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__put_catalog_reply__init(reply);
	s->req = q->put_catalog;
	s->reply = reply;
	job->resp->result_case = CLM__V1__RESPONSE__RESULT_PUT_CATALOG;
	job->resp->put_catalog = reply;
	job->apply = catalog_apply;
	job->arg = s;
	return CLM_OK;
}
