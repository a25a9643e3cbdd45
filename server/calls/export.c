/*
 * ExportCustomer: the data subject's right of access (docs/api.md): the
 * profile and every stored touchpoint in event-time order.
 */
#include <stdint.h>

#include "calls/calls.h"
#include "calls/customer.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "store/store.h"

struct export_scan {
	arena *a;
	const char *customer_id;
	Clm__V1__Touchpoint **items;
	size_t n, cap;
	bool oom;
};

static int
export_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) at_ms;
	(void) seq;
	struct export_scan *x = arg;
	Clm__V1__Touchpoint **items
	        = arena_grow(x->a, x->items, x->n, &x->cap, sizeof(*items));
	if (items == NULL) {
		x->oom = true;
		return 1;
	}
	x->items = items;
	/* Collected into the arena: ours to complete with the customer. */
	Clm__V1__Touchpoint *t = (Clm__V1__Touchpoint *) tp;
	t->customer_id = (char *) x->customer_id;
	x->items[x->n++] = t;
	return 0;
}

void
export_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__ExportCustomerRequest *q = r->req->export_customer;
	const char *id = q->customer_id;
	const char *why = validate_id(id, r->srv->limits.max_id_bytes);
	if (why != NULL) {
		reply_invalid(r->resp, r->a, "export_customer.customer_id",
		        "%s", why);
		return;
	}
	Clm__V1__CustomerRecord *rec;
	clm_err e = store_customer_get(txn, id, false, r->a, &rec);
	if (e == CLM_NOT_FOUND) {
		reply_error(r->resp, r->a, CLM_NOT_FOUND,
		        "customer '%s' not found", id);
		return;
	}
	Clm__V1__ExportCustomerReply *reply
	        = arena_alloc(r->a, sizeof(*reply));
	if (e == CLM_OK && reply == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		clm__v1__export_customer_reply__init(reply);
		e = customer_view(txn, rec, r->now_ms, r->now_ms,
		        &r->srv->params, r->a, &reply->customer);
	}
	struct export_scan x = { .a = r->a, .customer_id = id };
	if (e == CLM_OK) {
		e = store_touchpoints_collect(
		        txn, rec->cid, -1, INT64_MAX, r->a, export_fn, &x);
	}
	if (e == CLM_OK && x.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, r->a, e,
		        "cannot export customer '%s': %s", id,
		        clm_strerror(e));
		return;
	}
	reply->touchpoints = x.items;
	reply->n_touchpoints = x.n;
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_EXPORT_CUSTOMER;
	r->resp->export_customer = reply;
}
