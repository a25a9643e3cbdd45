/*
 * Identify: link an anonymous id (a device or cookie) to a known customer.
 *
 * In one write transaction: if the anonymous id has a profile of its own,
 * its touchpoints move under the customer (same event times and arrival
 * seqs, event ids re-pointed), the anonymous profile is dropped, and the
 * customer's profile is replayed from all its touchpoints, so the merge is
 * exactly as if every touchpoint had been tracked under the customer. The
 * alias then routes later touchpoints that carry only the anonymous id.
 * An anonymous id already linked to another customer is refused: two known
 * customers are never fused. Repeating the same Identify changes nothing.
 *
 * One id names one person. Anonymous ids and customer ids live in separate
 * key spaces, so nothing in the store stops "ck1" from being both an
 * anonymous id linked to kim and the id of a customer of its own; then a
 * touchpoint's owner would depend on which field carried "ck1". Identify
 * therefore refuses both ways into that state (identify_check), and Track
 * refuses a customer_id that is another customer's anonymous id
 * (write/ingest.c). An id linked to itself (Identify("x", "x")) names one
 * person and is allowed.
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

struct identify_state {
	const struct server *srv;
	const Clm__V1__IdentifyRequest *req;
	Clm__V1__IdentifyReply *reply;
};

struct identify_moved {
	int64_t at_ms;
	uint64_t seq;
	const Clm__V1__Touchpoint *tp;
};

struct identify_move {
	arena *a;
	struct identify_moved *items;
	size_t n, cap;
	bool oom;
};

static int
identify_collect_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	struct identify_move *m = arg;
	struct identify_moved *items
	        = arena_grow(m->a, m->items, m->n, &m->cap, sizeof(*items));
	if (items == NULL) {
		m->oom = true;
		return 1;
	}
	m->items = items;
	m->items[m->n++] = (struct identify_moved) { at_ms, seq, tp };
	return 0;
}

/* Moves every touchpoint of from_cid under to_cid. */
static clm_err
identify_move(store_txn *txn, uint64_t from_cid, uint64_t to_cid, arena *a)
{
	struct identify_move m = { .a = a };
	clm_err e = store_touchpoints_collect(
	        txn, from_cid, -1, INT64_MAX, a, identify_collect_fn, &m);
	if (e == CLM_OK && m.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; e == CLM_OK && i < m.n; i++) {
		const struct identify_moved *t = &m.items[i];
		e = store_touchpoint_put(txn, to_cid, t->at_ms, t->seq, t->tp);
		if (e == CLM_OK) {
			e = store_touchpoint_del(
			        txn, from_cid, t->at_ms, t->seq);
		}
		if (e == CLM_OK && t->tp->event_id[0] != '\0') {
			e = store_event_put(txn, t->tp->event_id, to_cid,
			        t->at_ms, t->seq);
		}
	}
	return e;
}

/* Adds the request's traits to rec, replacing values of known keys. */
static clm_err
identify_traits(Clm__V1__CustomerRecord *rec,
        const Clm__V1__IdentifyRequest *req, arena *a)
{
	if (req->n_traits == 0) {
		return CLM_OK;
	}
	size_t cap = rec->n_traits + req->n_traits;
	Clm__V1__CustomerRecord__TraitsEntry **t
	        = arena_alloc(a, cap * sizeof(*t));
	if (t == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t n = rec->n_traits;
	if (n > 0) {
		memcpy(t, rec->traits, n * sizeof(*t));
	}
	for (size_t i = 0; i < req->n_traits; i++) {
		const Clm__V1__IdentifyRequest__TraitsEntry *in
		        = req->traits[i];
		size_t k = 0;
		while (k < n && strcmp(t[k]->key, in->key) != 0) {
			k++;
		}
		Clm__V1__CustomerRecord__TraitsEntry *e
		        = arena_alloc(a, sizeof(*e));
		if (e == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		clm__v1__customer_record__traits_entry__init(e);
		e->key = in->key;
		e->value = in->value;
		t[k] = e;
		if (k == n) {
			n++;
		}
	}
	rec->traits = t;
	rec->n_traits = n;
	return CLM_OK;
}

static clm_err
identify_add_alias(Clm__V1__CustomerRecord *rec, const char *anon, arena *a)
{
	for (size_t i = 0; i < rec->n_anonymous_ids; i++) {
		if (strcmp(rec->anonymous_ids[i], anon) == 0) {
			return CLM_OK;
		}
	}
	char **ids = arena_alloc(a, (rec->n_anonymous_ids + 1) * sizeof(*ids));
	if (ids == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (rec->n_anonymous_ids > 0) {
		memcpy(ids, rec->anonymous_ids,
		        rec->n_anonymous_ids * sizeof(*ids));
	}
	ids[rec->n_anonymous_ids++] = (char *) anon;
	rec->anonymous_ids = ids;
	return CLM_OK;
}

/*
 * identify_check refuses an Identify that would let one id name two
 * people: in *refusal (arena memory), a FAILED_PRECONDITION Status naming
 * the field, or NULL to go on; *owner is the anonymous id's customer, or
 * NULL if it is not linked yet. Returns a storage error, or CLM_OK.
 */
static clm_err
identify_check(store_txn *txn, const Clm__V1__IdentifyRequest *req, arena *a,
        char **owner, Clm__V1__Status **refusal)
{
	*owner = NULL;
	*refusal = NULL;
	clm_err e = store_alias_get(txn, req->anonymous_id, a, owner);
	if (e == CLM_OK && strcmp(*owner, req->customer_id) != 0) {
		*refusal = reply_field_status(a, CLM_FAILED_PRECONDITION,
		        "identify.anonymous_id",
		        "'%s' is already linked to customer '%s'; two known customers are never merged",
		        req->anonymous_id, *owner);
		return CLM_OK;
	}
	if (e != CLM_OK && e != CLM_NOT_FOUND) {
		return e;
	}
	/* The customer id must not be someone else's anonymous id... */
	char *other;
	e = store_alias_get(txn, req->customer_id, a, &other);
	if (e == CLM_OK && strcmp(other, req->customer_id) != 0) {
		*refusal = reply_field_status(a, CLM_FAILED_PRECONDITION,
		        "identify.customer_id",
		        "'%s' is already an anonymous id linked to customer '%s', so it cannot also be a customer id; use customer_id '%s'",
		        req->customer_id, other, other);
		return CLM_OK;
	}
	if (e != CLM_OK && e != CLM_NOT_FOUND) {
		return e;
	}
	/* ...nor the anonymous id another customer's id. */
	if (*owner == NULL
	        && strcmp(req->anonymous_id, req->customer_id) != 0) {
		Clm__V1__CustomerRecord *rec;
		e = store_customer_get(txn, req->anonymous_id, false, a, &rec);
		if (e == CLM_OK) {
			*refusal = reply_field_status(a,
			        CLM_FAILED_PRECONDITION,
			        "identify.anonymous_id",
			        "'%s' is already a customer id, so it cannot also be an anonymous id of customer '%s'",
			        req->anonymous_id, req->customer_id);
			return CLM_OK;
		}
		if (e != CLM_NOT_FOUND) {
			return e;
		}
	}
	return CLM_OK;
}

static clm_err
identify_apply(struct writer_batch *b, writer_job *job)
{
	struct identify_state *s = job->arg;
	const Clm__V1__IdentifyRequest *req = s->req;
	arena *a = job->arena;
	store_txn *txn = b->txn;
	Clm__V1__Response *resp = job->resp;

	s->reply->merged = false;
	s->reply->customer = NULL;
	resp->status = NULL;

	char *owner;
	Clm__V1__Status *refusal;
	clm_err e = identify_check(txn, req, a, &owner, &refusal);
	if (e != CLM_OK) {
		return e;
	}
	if (refusal != NULL) {
		/* Refused before anything is written. */
		resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
		resp->status = refusal;
		return CLM_OK;
	}
	bool linked = owner != NULL;

	struct profile *cust;
	e = profile_load(txn, req->customer_id, false, true, a, &cust);
	if (e != CLM_OK) {
		return e;
	}
	int before = model_stage(&cust->p);
	if (!linked) {
		struct profile *anon;
		e = profile_load(
		        txn, req->anonymous_id, true, false, a, &anon);
		if (e == CLM_OK) {
			e = identify_move(
			        txn, anon->rec->cid, cust->rec->cid, a);
			if (e == CLM_OK) {
				e = profile_adopt_experiments(cust, anon, a);
			}
			if (e == CLM_OK) {
				e = profile_drop(txn, anon, a);
			}
			if (e == CLM_OK) {
				e = profile_replay(txn, cust, a);
			}
			if (e != CLM_OK) {
				return e;
			}
			s->reply->merged = true;
		} else if (e != CLM_NOT_FOUND) {
			return e;
		}
		e = store_alias_put(txn, req->anonymous_id, req->customer_id);
		if (e == CLM_OK) {
			e = identify_add_alias(
			        cust->rec, req->anonymous_id, a);
		}
		if (e != CLM_OK) {
			return e;
		}
	}
	e = identify_traits(cust->rec, req, a);
	if (e == CLM_OK) {
		e = profile_save(txn, cust, a);
	}
	if (e != CLM_OK) {
		return e;
	}
	int after = model_stage(&cust->p);
	if (after != before) {
		int64_t at[MODEL_N_STAGES];
		model_reached_at(&cust->p, at);
		Clm__V1__LifecycleEvent *ev = writer_job_event(job);
		if (ev == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		ev->kind = CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED;
		ev->customer_id = cust->rec->customer_id;
		ev->from_stage = (Clm__V1__Stage) before;
		ev->to_stage = (Clm__V1__Stage) after;
		ev->at_ms = at[after];
	}
	/* The merged customer is evaluated again (docs/segments.md). */
	bool dirty, jdirty = false;
	e = segw_customer(b->segs, b, job, cust->rec, &cust->p, a, &dirty);
	if (e == CLM_OK) {
		/* Its journeys too: the job's events are this customer's. */
		e = jw_customer(b->jny, b, job, cust, 0, a, &jdirty);
	}
	if (e == CLM_OK && (dirty || jdirty)) {
		e = store_customer_put(txn, cust->rec, true);
	}
	if (e != CLM_OK) {
		return e;
	}
	e = customer_view(txn, cust->rec, b->now_ms, b->now_ms,
	        &s->srv->params, a, &s->reply->customer);
	if (e != CLM_OK) {
		return e;
	}
	resp->result_case = CLM__V1__RESPONSE__RESULT_IDENTIFY;
	resp->identify = s->reply;
	return CLM_OK;
}

bool
identify_prepare(struct call_req *r)
{
	const Clm__V1__IdentifyRequest *req = r->req->identify;
	arena *a = r->a;
	const struct validate_limits *l = &r->srv->limits;
	struct violations v;
	violations_init(&v, a);
	const char *why = validate_id(req->anonymous_id, l->max_id_bytes);
	if (why != NULL) {
		violations_add(&v, "identify.anonymous_id", "%s", why);
	}
	why = validate_id(req->customer_id, l->max_id_bytes);
	if (why != NULL) {
		violations_add(&v, "identify.customer_id", "%s", why);
	}
	if (req->n_traits > l->max_properties) {
		violations_add(&v, "identify.traits",
		        "has %zu entries, the limit is %zu", req->n_traits,
		        l->max_properties);
	}
	for (size_t i = 0; i < req->n_traits; i++) {
		validate_entry(req->traits[i]->key, req->traits[i]->value, l,
		        "identify.traits", i, &v);
	}
	if (v.n > 0) {
		reply_violations(r->resp, a, &v);
		return false;
	}
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
	j.identify = (Clm__V1__IdentifyRequest *) req;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || identify_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
identify_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) pol;
	struct identify_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__IdentifyReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__identify_reply__init(reply);
	s->srv = srv;
	s->req = q->identify;
	s->reply = reply;
	job->apply = identify_apply;
	job->arg = s;
	return CLM_OK;
}
