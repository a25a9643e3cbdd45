/*
 * Recommend: what to do next for a customer (docs/api.md "Recommend").
 *
 * recommend_compute gathers what the pure rules need — the profile, health
 * and risk, the last purchase's upgrade, the stores, the cross-sell
 * candidates — and runs recommend_build. A plain Recommend does that in a
 * read transaction. With `claim`, it runs in the writer instead, and the
 * returned messages are recorded as MESSAGE_SENT touchpoints in the same
 * transaction that checked the frequency cap, so racing callers cannot
 * both get past it; the reply is kept under the request id, and a retry
 * gets the same reply without recording anything again.
 */
#include <stdio.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/customer.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "core/recommend.h"
#include "core/risk.h"
#include "store/cross_sell.h"
#include "store/record.h"
#include "write/ingest.h"

#define OFFERS_LIMIT_DEFAULT 5
#define OFFERS_LIMIT_MAX     50
#define OFFERS_CART_MAX      64

struct recommend_stores {
	struct recommend_store *v;
	size_t n, cap;
	arena *a;
	bool oom;
};

static int
recommend_store_fn(void *arg, const Clm__V1__Store *st)
{
	struct recommend_stores *s = arg;
	struct recommend_store *v
	        = arena_grow(s->a, s->v, s->n, &s->cap, sizeof(*v));
	if (v == NULL) {
		s->oom = true;
		return 1;
	}
	s->v = v;
	s->v[s->n++] = (struct recommend_store) { st->store_id,
		st->location ? st->location->lat : 0,
		st->location ? st->location->lon : 0, st->radius_m,
		st->discount_pct };
	return 0;
}

/* Converts the rules' results into the reply (arena memory). */
static int
recommend_reply(const struct recommendation *recs, size_t n, int stage,
        int health, arena *a, Clm__V1__RecommendReply *reply)
{
	reply->stage = (Clm__V1__Stage) stage;
	reply->health = (Clm__V1__Health) health;
	reply->recommendations = arena_alloc(a, (n + 1) * sizeof(void *));
	Clm__V1__Recommendation *rv = arena_alloc(a, (n + 1) * sizeof(*rv));
	if (reply->recommendations == NULL || rv == NULL) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct recommendation *r = &recs[i];
		Clm__V1__Recommendation *o = &rv[i];
		clm__v1__recommendation__init(o);
		o->kind = (Clm__V1__RecommendationKind) r->kind;
		o->action = arena_strdup(a, r->action);
		o->channel = (Clm__V1__Channel) r->channel;
		o->item_id = arena_strdup(a, r->item_id);
		o->score = r->score;
		o->reason = arena_strdup(a, r->reason);
		o->suppressed = r->suppressed;
		o->suppressed_reason = arena_strdup(a, r->suppressed_reason);
		o->discount_pct = r->discount_pct;
		o->store_id = arena_strdup(a, r->store_id);
		if (o->action == NULL || o->item_id == NULL
		        || o->reason == NULL || o->suppressed_reason == NULL
		        || o->store_id == NULL) {
			return -1;
		}
		reply->recommendations[i] = o;
	}
	reply->n_recommendations = n;
	return 0;
}

/*
 * Runs the rules for q's customer within txn, under pol. On success *recs
 * (arena memory, *n of them) and reply are filled. NOT_FOUND for an
 * unknown customer.
 */
static clm_err
recommend_compute(store_txn *txn, const struct call_policy *pol,
        const Clm__V1__RecommendRequest *q, int64_t now_ms, arena *a,
        Clm__V1__RecommendReply *reply, struct recommendation **recs,
        size_t *n)
{
	Clm__V1__CustomerRecord *rec;
	clm_err e = store_customer_get(txn, q->customer_id, false, a, &rec);
	if (e != CLM_OK) {
		return e;
	}
	struct model_profile *p = arena_alloc(a, sizeof(*p));
	struct recommendation *out = arena_alloc(a, REC_MAX * sizeof(*out));
	if (p == NULL || out == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	record_to_profile(rec, p);

	struct risk_onboarding onb;
	e = store_onboarding_median(txn, &onb.known, &onb.twice_median_ms);
	if (e != CLM_OK) {
		return e;
	}
	int reasons[MODEL_N_REASONS];
	struct recommend_input in = {
		.p = p,
		.stage = model_stage(p),
		.funnel = model_funnel(p),
		.health = risk_health(p, &pol->params, now_ms),
		.reasons = reasons,
		.now_ms = now_ms,
		.channel = (int) q->channel,
		.has_location = q->location != NULL,
		.lat = q->location ? q->location->lat : 0,
		.lon = q->location ? q->location->lon : 0,
		.upgrade_to = "",
	};
	in.churn_risk = risk_score(
	        p, &pol->params, &onb, now_ms, reasons, &in.n_reasons);

	if (p->last_item[0] != '\0') {
		Clm__V1__Item *item;
		e = store_item_get(txn, p->last_item, a, &item);
		if (e == CLM_OK) {
			in.upgrade_to = item->upgrade_to;
		} else if (e != CLM_NOT_FOUND) {
			return e;
		}
	}
	if (in.has_location) {
		struct recommend_stores st = { .a = a };
		e = store_stores_each(txn, a, recommend_store_fn, &st);
		if (e == CLM_OK && st.oom) {
			e = CLM_RESOURCE_EXHAUSTED;
		}
		if (e != CLM_OK) {
			return e;
		}
		in.stores = st.v;
		in.n_stores = st.n;
	}

	/* Cross-sell basis: what was bought, and what is in the cart. */
	size_t idx[MODEL_CART_MAX];
	size_t ncart = model_cart(p, idx);
	size_t nb = rec->n_purchased_items + ncart + q->n_cart_items;
	char **basis = arena_alloc(a, (nb + 1) * sizeof(*basis));
	if (basis == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	nb = 0;
	for (size_t i = 0; i < rec->n_purchased_items; i++) {
		basis[nb++] = rec->purchased_items[i];
	}
	for (size_t i = 0; i < ncart; i++) {
		basis[nb++] = p->cart[idx[i]].item_id;
	}
	for (size_t i = 0; i < q->n_cart_items; i++) {
		basis[nb++] = q->cart_items[i];
	}
	size_t limit = q->limit == 0 ? OFFERS_LIMIT_DEFAULT : q->limit;
	struct recommend_item *cross;
	e = cross_sell(
	        txn, basis, nb, basis, nb, limit, a, &cross, &in.n_cross);
	if (e != CLM_OK) {
		return e;
	}
	in.cross = cross;

	struct recommend_params rp;
	recommend_params_default(&rp);
	rp.cap_messages = pol->cap_messages;
	rp.cap_ms = pol->cap_ms;
	rp.quiet_ms = pol->quiet_ms;
	*n = recommend_build(
	        &in, &rp, limit, q->include_suppressed, q->claim, out);
	*recs = out;
	if (recommend_reply(out, *n, in.stage, in.health, a, reply) != 0) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	return CLM_OK;
}

/* Checks the request; false after setting an error reply. */
static bool
recommend_valid(struct call_req *r, const Clm__V1__RecommendRequest *q)
{
	struct violations v;
	violations_init(&v, r->a);
	size_t max_id = r->srv->limits.max_id_bytes;
	const char *why = validate_id(q->customer_id, max_id);
	if (why != NULL) {
		violations_add(&v, "recommend.customer_id", "%s", why);
	}
	if (q->limit > OFFERS_LIMIT_MAX) {
		violations_add(&v, "recommend.limit", "must be at most %d",
		        OFFERS_LIMIT_MAX);
	}
	if (q->location != NULL
	        && (!(q->location->lat >= -90 && q->location->lat <= 90)
	                || !(q->location->lon >= -180
	                        && q->location->lon <= 180))) {
		violations_add(&v, "recommend.location",
		        "lat must be -90..90 and lon -180..180");
	}
	if (q->n_cart_items > OFFERS_CART_MAX) {
		violations_add(&v, "recommend.cart_items",
		        "has %zu items, the limit is %d", q->n_cart_items,
		        OFFERS_CART_MAX);
	}
	for (size_t i = 0; i < q->n_cart_items && i < OFFERS_CART_MAX; i++) {
		why = validate_id(q->cart_items[i], max_id);
		if (why != NULL) {
			char f[48];
			snprintf(f, sizeof(f), "recommend.cart_items[%zu]", i);
			violations_add(&v, f, "%s", why);
		}
	}
	if (protobuf_c_enum_descriptor_get_value(
	            &clm__v1__channel__descriptor, (int) q->channel)
	        == NULL) {
		violations_add(&v, "recommend.channel", "unknown channel %d",
		        (int) q->channel);
	}
	if (q->now_ms < 0) {
		violations_add(&v, "recommend.now_ms",
		        "must not be negative (0 means now)");
	} else if (q->claim && q->now_ms != 0
	        && (q->now_ms < VALIDATE_MIN_TIME_MS
	                || q->now_ms > r->now_ms + VALIDATE_MAX_AHEAD_MS)) {
		violations_add(&v, "recommend.now_ms",
		        "a claim records messages at now_ms: it must be between 2000-01-01 and now + 24 h");
	}
	if (v.n > 0) {
		reply_violations(r->resp, r->a, &v);
		return false;
	}
	return true;
}

static void
recommend_fail(Clm__V1__Response *resp, arena *a, clm_err e, const char *id)
{
	resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
	if (e == CLM_NOT_FOUND) {
		reply_error(resp, a, e, "customer '%s' not found", id);
	} else {
		reply_error(resp, a, e, "cannot recommend for '%s': %s", id,
		        clm_strerror(e));
	}
}

void
recommend_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__RecommendRequest *q = r->req->recommend;
	if (!recommend_valid(r, q)) {
		return;
	}
	Clm__V1__RecommendReply *reply = arena_alloc(r->a, sizeof(*reply));
	if (reply == NULL) {
		recommend_fail(
		        r->resp, r->a, CLM_RESOURCE_EXHAUSTED, q->customer_id);
		return;
	}
	clm__v1__recommend_reply__init(reply);
	struct call_policy pol;
	call_policy_init(&pol, r->srv);
	struct recommendation *recs;
	size_t n;
	clm_err e = recommend_compute(txn, &pol, q,
	        q->now_ms ? q->now_ms : r->now_ms, r->a, reply, &recs, &n);
	if (e != CLM_OK) {
		recommend_fail(r->resp, r->a, e, q->customer_id);
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_RECOMMEND;
	r->resp->recommend = reply;
}

struct recommend_claim {
	struct call_policy pol; /* the one it was accepted under */
	const Clm__V1__RecommendRequest *q;
	const char *request_id;
	int64_t now_ms; /* the decision's instant: q's, or the batch's */
};

/* Records one claimed recommendation as a MESSAGE_SENT touchpoint. */
static clm_err
recommend_record(struct writer_batch *b, writer_job *job,
        struct recommend_claim *c, const Clm__V1__Recommendation *o, size_t i)
{
	arena *a = job->arena;
	Clm__V1__Touchpoint *tp = arena_alloc(a, sizeof(*tp));
	Clm__V1__Touchpoint__PropertiesEntry *pe
	        = arena_alloc(a, 2 * sizeof(*pe));
	Clm__V1__Touchpoint__PropertiesEntry **pp
	        = arena_alloc(a, 2 * sizeof(*pp));
	if (tp == NULL || pe == NULL || pp == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__touchpoint__init(tp);
	if (c->request_id[0] != '\0') {
		/* Event ids are global: the customer makes them unique. */
		tp->event_id = arena_printf(a, "claim:%s:%s:%zu",
		        c->q->customer_id, c->request_id, i);
		if (tp->event_id == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
	}
	tp->customer_id = c->q->customer_id;
	tp->type = CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT;
	tp->channel = o->channel;
	tp->occurred_at_ms = c->now_ms;
	tp->item_id = o->item_id;
	for (int k = 0; k < 2; k++) {
		clm__v1__touchpoint__properties_entry__init(&pe[k]);
		pp[k] = &pe[k];
	}
	pe[0].key = "kind";
	pe[0].value = (char *) protobuf_c_enum_descriptor_get_value(
	        &clm__v1__recommendation_kind__descriptor, (int) o->kind)
	                      ->name;
	pe[1].key = "action";
	pe[1].value = o->action;
	tp->n_properties = 2;
	tp->properties = pp;
	/*
	 * Identify and Track never let an existing customer's id become
	 * another customer's anonymous id, so linked_to stays NULL here
	 * (were it set, nothing would be recorded).
	 */
	struct ingest_result res;
	return ingest_touchpoint(b, job, &c->pol.params, tp, &res);
}

static clm_err
recommend_claim_apply(struct writer_batch *b, writer_job *job)
{
	struct recommend_claim *c = job->arg;
	c->now_ms = c->q->now_ms ? c->q->now_ms : b->now_ms;
	Clm__V1__Response *resp = job->resp;
	arena *a = job->arena;
	resp->status = NULL;
	Clm__V1__RecommendReply *reply;
	if (c->request_id[0] != '\0') {
		clm_err e = store_claim_get(
		        b->txn, c->q->customer_id, c->request_id, a, &reply);
		if (e == CLM_OK) {
			/* A retry: the same answer, nothing recorded again. */
			resp->result_case
			        = CLM__V1__RESPONSE__RESULT_RECOMMEND;
			resp->recommend = reply;
			return CLM_OK;
		}
		if (e != CLM_NOT_FOUND) {
			return e;
		}
	}
	reply = arena_alloc(a, sizeof(*reply));
	if (reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__recommend_reply__init(reply);
	struct recommendation *recs;
	size_t n;
	clm_err e = recommend_compute(
	        b->txn, &c->pol, c->q, c->now_ms, a, reply, &recs, &n);
	if (e == CLM_NOT_FOUND) {
		/* Before any write: an answer, not a failed batch. */
		recommend_fail(resp, a, e, c->q->customer_id);
		return CLM_OK;
	}
	if (e != CLM_OK) {
		return e;
	}
	for (size_t i = 0; i < reply->n_recommendations; i++) {
		const Clm__V1__Recommendation *o = reply->recommendations[i];
		if (o->suppressed) {
			continue;
		}
		e = recommend_record(b, job, c, o, i);
		if (e != CLM_OK) {
			return e;
		}
	}
	if (c->request_id[0] != '\0') {
		e = store_claim_put(
		        b->txn, c->q->customer_id, c->request_id, reply);
		if (e != CLM_OK) {
			return e;
		}
	}
	resp->result_case = CLM__V1__RESPONSE__RESULT_RECOMMEND;
	resp->recommend = reply;
	return CLM_OK;
}

bool
recommend_claim_prepare(struct call_req *r)
{
	Clm__V1__RecommendRequest *q = r->req->recommend;
	if (!recommend_valid(r, q)) {
		return false;
	}
	/*
	 * The request id keys the kept reply (and the claim's event ids):
	 * an id like the customer's, 1..max_id_bytes of printable UTF-8, or
	 * empty for a claim without a retry key.
	 */
	const char *rid = r->req->request_id;
	size_t max_id = r->srv->limits.max_id_bytes;
	const char *why = rid[0] != '\0' ? validate_id(rid, max_id) : NULL;
	if (why != NULL) {
		struct violations v;
		violations_init(&v, r->a);
		if (strcmp(why, "is too long") == 0) {
			violations_add(&v, "request_id",
			        "is %zu bytes, the limit for a claim is %zu",
			        strlen(rid), max_id);
		} else {
			violations_add(&v, "request_id", "%s", why);
		}
		reply_violations(r->resp, r->a, &v);
		return false;
	}
	/* The entry says how many, whatever the default is at replay. */
	if (q->limit == 0) {
		q->limit = OFFERS_LIMIT_DEFAULT;
	}
	/* The entry keeps the policy the claim decides with, too. */
	struct call_policy pol;
	call_policy_init(&pol, r->srv);
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.request_id = r->req->request_id;
	j.call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
	j.recommend = q;
	if (call_journal(&r->job, &j, &pol) != CLM_OK
	        || recommend_claim_build(r->srv, &r->job, r->req, &pol)
	                != CLM_OK) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return false;
	}
	return true;
}

clm_err
recommend_claim_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	if (!q->recommend->claim || pol == NULL) {
		return CLM_DATA_LOSS; /* only a claim is a write */
	}
	struct recommend_claim *c = arena_zalloc(job->arena, sizeof(*c));
	if (c == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	c->pol = *pol;
	c->q = q->recommend;
	c->request_id = q->request_id;
	/*
	 * Without now_ms the claim decides at its batch's instant, in the
	 * writer (recommend_claim_apply): claims reach the writer in an order
	 * their arrival times need not follow, and one decided at an earlier
	 * instant than a message already recorded would not see it and could
	 * pass the frequency cap.
	 */
	c->now_ms = q->recommend->now_ms;
	job->apply = recommend_claim_apply;
	job->arg = c;
	return CLM_OK;
}
