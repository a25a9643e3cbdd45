/*
 * ForgetCustomer: the data subject's right of erasure (export.c has the
 * right of access).
 *
 * Forget removes, in one write transaction, everything keyed by or naming
 * the customer: the profile, every touchpoint and its idempotency key, and
 * the aliases of the customer's anonymous ids, and its recorded claims.
 * The customer leaves the customer-level aggregates behind Metrics (stage
 * counts, conversions, cohorts, assignments: they describe customers that
 * exist); aggregates that hold no identifier stay: touchpoint counts and
 * sums, co-purchase counts, the onboarding median's duration (keyed by an
 * internal cid that nothing maps back to a person any more).
 */
#include <string.h>

#include "calls/calls.h"
#include "calls/customer.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "store/profile.h"
#include "write/journey.h"
#include "write/segment.h"

struct forget_state {
	const char *customer_id;
	Clm__V1__ForgetCustomerReply *reply;
};

struct forget_doomed {
	int64_t at_ms;
	uint64_t seq;
	const char *event_id;
};

struct forget_list {
	arena *a;
	struct forget_doomed *items;
	size_t n, cap;
	bool oom;
};

static int
forget_collect_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	struct forget_list *l = arg;
	struct forget_doomed *items
	        = arena_grow(l->a, l->items, l->n, &l->cap, sizeof(*items));
	if (items == NULL) {
		l->oom = true;
		return 1;
	}
	l->items = items;
	const char *eid = NULL;
	if (tp->event_id[0] != '\0') {
		eid = arena_strdup(l->a, tp->event_id);
		if (eid == NULL) {
			l->oom = true;
			return 1;
		}
	}
	l->items[l->n++] = (struct forget_doomed) { at_ms, seq, eid };
	return 0;
}

static clm_err
forget_forget_apply(struct writer_batch *b, writer_job *job)
{
	struct forget_state *s = job->arg;
	store_txn *txn = b->txn;
	arena *a = job->arena;
	s->reply->existed = false;
	s->reply->touchpoints_deleted = 0;

	struct profile *pr;
	clm_err e = profile_load(txn, s->customer_id, false, false, a, &pr);
	if (e == CLM_NOT_FOUND) {
		return CLM_OK; /* nothing to forget: idempotent */
	}
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__CustomerRecord *rec = pr->rec;
	e = segw_forget(b->segs, b, job, rec);
	if (e == CLM_OK) {
		e = jw_forget(b->jny, b, rec);
	}
	if (e == CLM_OK) {
		e = profile_unaggregate(txn, pr, a);
	}
	struct forget_list l = { .a = a };
	if (e == CLM_OK) {
		e = store_touchpoints_scan(
		        txn, rec->cid, -1, INT64_MAX, forget_collect_fn, &l);
	}
	if (e == CLM_OK && l.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; e == CLM_OK && i < l.n; i++) {
		e = store_touchpoint_del(
		        txn, rec->cid, l.items[i].at_ms, l.items[i].seq);
		if (e == CLM_OK && l.items[i].event_id != NULL) {
			e = store_event_del(txn, l.items[i].event_id);
			if (e == CLM_NOT_FOUND) {
				e = CLM_OK;
			}
		}
	}
	for (size_t i = 0; e == CLM_OK && i < rec->n_anonymous_ids; i++) {
		e = store_alias_del(txn, rec->anonymous_ids[i]);
		if (e == CLM_NOT_FOUND) {
			e = CLM_OK;
		}
	}
	if (e == CLM_OK) {
		e = store_claims_del(txn, s->customer_id);
	}
	if (e == CLM_OK) {
		e = store_customer_del(txn, s->customer_id, false);
	}
	if (e != CLM_OK) {
		return e;
	}
	s->reply->existed = true;
	s->reply->touchpoints_deleted = l.n;
	return CLM_OK;
}

bool
forget_prepare(struct call_req *r)
{
	const Clm__V1__ForgetCustomerRequest *q = r->req->forget_customer;
	const char *why
	        = validate_id(q->customer_id, r->srv->limits.max_id_bytes);
	if (why != NULL) {
		reply_invalid(r->resp, r->a, "forget_customer.customer_id",
		        "%s", why);
		return false;
	}
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	j.forget_customer = (Clm__V1__ForgetCustomerRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || forget_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return false;
	}
	return true;
}

clm_err
forget_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct forget_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__ForgetCustomerReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__forget_customer_reply__init(reply);
	s->customer_id = q->forget_customer->customer_id;
	s->reply = reply;
	job->resp->result_case = CLM__V1__RESPONSE__RESULT_FORGET_CUSTOMER;
	job->resp->forget_customer = reply;
	job->apply = forget_forget_apply;
	job->arg = s;
	return CLM_OK;
}

const char *
forget_job_customer(const writer_job *job)
{
	if (job->apply != forget_forget_apply) {
		return NULL;
	}
	const struct forget_state *s = job->arg;
	return s->customer_id;
}
