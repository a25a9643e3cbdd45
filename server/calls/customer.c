#include "calls/customer.h"

#include "calls/calls.h"
#include "calls/reply.h"
#include "calls/segment.h"
#include "calls/validate.h"
#include "core/model.h"
#include "store/record.h"

Clm__V1__Customer *
customer_build(const Clm__V1__CustomerRecord *rec, int64_t as_of_ms,
        const struct model_params *mp, const struct risk_onboarding *onb,
        arena *a)
{
	struct model_profile *p = arena_alloc(a, sizeof(*p));
	Clm__V1__Customer *c = arena_alloc(a, sizeof(*c));
	if (p == NULL || c == NULL) {
		return NULL;
	}
	record_to_profile(rec, p);
	clm__v1__customer__init(c);
	c->customer_id = rec->customer_id;
	c->stage = (Clm__V1__Stage) model_stage(p);
	c->funnel = (Clm__V1__FunnelPosition) model_funnel(p);
	c->first_seen_ms = p->first_seen_ms;
	c->last_seen_ms = p->last_seen_ms;
	c->purchases = p->purchases;
	c->refunds = p->refunds;
	c->referrals = p->referrals;
	c->revenue = model_money(p->purchase_micros - p->refund_micros);
	c->acquisition_channel = (Clm__V1__Channel) p->acquisition_channel;
	c->conversion_channel = (Clm__V1__Channel) p->conversion_channel;
	c->as_of_ms = as_of_ms;
	c->health = (Clm__V1__Health) risk_health(p, mp, as_of_ms);
	int reasons[MODEL_N_REASONS];
	size_t nr;
	c->churn_risk = risk_score(p, mp, onb, as_of_ms, reasons, &nr);
	c->risk_reasons = arena_alloc(a, (nr + 1) * sizeof(*c->risk_reasons));
	if (c->risk_reasons == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < nr; i++) {
		c->risk_reasons[i] = (Clm__V1__RiskReason) reasons[i];
	}
	c->n_risk_reasons = nr;

	struct model_stage_entry hist[MODEL_N_STAGES];
	size_t nh = model_history(p, hist);
	c->stage_history = arena_alloc(a, (nh + 1) * sizeof(void *));
	Clm__V1__StageEntry *se = arena_alloc(a, (nh + 1) * sizeof(*se));
	if (c->stage_history == NULL || se == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < nh; i++) {
		clm__v1__stage_entry__init(&se[i]);
		se[i].stage = (Clm__V1__Stage) hist[i].stage;
		se[i].entered_at_ms = hist[i].entered_ms;
		c->stage_history[i] = &se[i];
	}
	c->n_stage_history = nh;

	size_t idx[MODEL_CART_MAX];
	size_t nc = model_cart(p, idx);
	c->cart_items = arena_alloc(a, (nc + 1) * sizeof(char *));
	if (c->cart_items == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < nc; i++) {
		c->cart_items[i] = arena_strdup(a, p->cart[idx[i]].item_id);
		if (c->cart_items[i] == NULL) {
			return NULL;
		}
	}
	c->n_cart_items = nc;

	size_t nt = 0;
	for (int t = 1; t < MODEL_N_TYPES; t++) {
		nt += p->touch_counts[t] > 0;
	}
	c->touch_counts = arena_alloc(a, (nt + 1) * sizeof(void *));
	Clm__V1__TypeCount *tc = arena_alloc(a, (nt + 1) * sizeof(*tc));
	if (c->touch_counts == NULL || tc == NULL) {
		return NULL;
	}
	for (int t = 1; t < MODEL_N_TYPES; t++) {
		if (p->touch_counts[t] == 0) {
			continue;
		}
		clm__v1__type_count__init(&tc[c->n_touch_counts]);
		tc[c->n_touch_counts].type = (Clm__V1__TouchpointType) t;
		tc[c->n_touch_counts].count = p->touch_counts[t];
		c->touch_counts[c->n_touch_counts] = &tc[c->n_touch_counts];
		c->n_touch_counts++;
	}
	c->n_anonymous_ids = rec->n_anonymous_ids;
	c->anonymous_ids = rec->anonymous_ids;
	/* Same layout: generated map entries differ only in their type. */
	c->n_traits = rec->n_traits;
	c->traits = (Clm__V1__Customer__TraitsEntry **) rec->traits;
	return c;
}

clm_err
customer_view(store_txn *txn, const Clm__V1__CustomerRecord *rec,
        int64_t as_of_ms, const struct model_params *mp, arena *a,
        Clm__V1__Customer **out)
{
	struct risk_onboarding onb;
	clm_err e = store_onboarding_median(
	        txn, &onb.known, &onb.twice_median_ms);
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__Customer *c = customer_build(rec, as_of_ms, mp, &onb, a);
	if (c == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = segment_names(
	        txn, rec, as_of_ms, mp, a, &c->segments, &c->n_segments);
	if (e != CLM_OK) {
		return e;
	}
	*out = c;
	return CLM_OK;
}

void
customer_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__GetCustomerRequest *q = r->req->get_customer;
	Clm__V1__Response *resp = r->resp;
	const char *id = q ? q->customer_id : "";
	const char *why = validate_id(id, r->srv->limits.max_id_bytes);
	if (why != NULL) {
		reply_invalid(
		        resp, r->a, "get_customer.customer_id", "%s", why);
		return;
	}
	int64_t as_of = q->as_of_ms;
	if (as_of < 0) {
		reply_invalid(resp, r->a, "get_customer.as_of_ms",
		        "must not be negative (0 means now)");
		return;
	}
	if (as_of == 0) {
		as_of = r->now_ms;
	}
	Clm__V1__CustomerRecord *rec;
	clm_err e = store_customer_get(txn, id, false, r->a, &rec);
	if (e == CLM_NOT_FOUND) {
		reply_error(resp, r->a, CLM_NOT_FOUND,
		        "customer '%s' not found", id);
		return;
	}
	if (e != CLM_OK) {
		reply_error(resp, r->a, e, "cannot read customer '%s': %s", id,
		        clm_strerror(e));
		return;
	}
	Clm__V1__Customer *c;
	e = customer_view(txn, rec, as_of, &r->srv->params, r->a, &c);
	if (e != CLM_OK) {
		reply_error(resp, r->a, e, "cannot build customer '%s': %s",
		        id, clm_strerror(e));
		return;
	}
	resp->result_case = CLM__V1__RESPONSE__RESULT_CUSTOMER;
	resp->customer = c;
}
