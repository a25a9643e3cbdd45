/*
 * Experiments: DefineExperiment and Assign through the writer,
 * ExperimentResults as a read of the per-variant counters that
 * profile_save keeps (agg EXP: exposed, converted).
 */
#include <stdio.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "core/agg.h"
#include "core/stats.h"
#include "store/profile.h"
#include "write/journey.h"
#include "write/segment.h"

#define EXP_MIN_VARIANTS 2
#define EXP_MAX_VARIANTS 16
#define EXP_NAME_MAX     64
#define EXP_WEIGHT_MAX   1000000u

struct exp_state {
	const Clm__V1__Request *req;
	void *reply;
};

static bool
exp_same(const Clm__V1__ExperimentRecord *rec,
        const Clm__V1__DefineExperimentRequest *q)
{
	if (rec->goal != q->goal || rec->n_variants != q->n_variants) {
		return false;
	}
	for (size_t i = 0; i < q->n_variants; i++) {
		if (strcmp(rec->variants[i]->name, q->variants[i]->name) != 0
		        || rec->variants[i]->weight
		                != q->variants[i]->weight) {
			return false;
		}
	}
	return true;
}

static clm_err
exp_define_apply(struct writer_batch *b, writer_job *job)
{
	struct exp_state *s = job->arg;
	const Clm__V1__DefineExperimentRequest *q = s->req->define_experiment;
	Clm__V1__Response *resp = job->resp;
	resp->status = NULL;
	resp->result_case = CLM__V1__RESPONSE__RESULT_DEFINE_EXPERIMENT;
	resp->define_experiment = s->reply;
	Clm__V1__ExperimentRecord *old;
	clm_err e = store_experiment_get(
	        b->txn, q->experiment_id, job->arena, &old);
	if (e == CLM_OK) {
		if (!exp_same(old, q)) {
			resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
			reply_error(resp, job->arena, CLM_ALREADY_EXISTS,
			        "experiment '%s' exists with another definition; use a new id",
			        q->experiment_id);
		}
		return CLM_OK;
	}
	if (e != CLM_NOT_FOUND) {
		return e;
	}
	Clm__V1__ExperimentRecord rec = CLM__V1__EXPERIMENT_RECORD__INIT;
	rec.experiment_id = q->experiment_id;
	rec.variants = q->variants;
	rec.n_variants = q->n_variants;
	rec.goal = q->goal;
	rec.defined_ms = b->now_ms;
	return store_experiment_put(b->txn, &rec);
}

bool
exp_define_prepare(struct call_req *r)
{
	const Clm__V1__DefineExperimentRequest *q = r->req->define_experiment;
	arena *a = r->a;
	struct violations v;
	violations_init(&v, a);
	const char *why
	        = validate_id(q->experiment_id, r->srv->limits.max_id_bytes);
	if (why != NULL) {
		violations_add(
		        &v, "define_experiment.experiment_id", "%s", why);
	}
	if (q->n_variants < EXP_MIN_VARIANTS
	        || q->n_variants > EXP_MAX_VARIANTS) {
		violations_add(&v, "define_experiment.variants",
		        "must hold %d to %d variants, not %zu",
		        EXP_MIN_VARIANTS, EXP_MAX_VARIANTS, q->n_variants);
	}
	uint64_t total = 0;
	for (size_t i = 0; i < q->n_variants && i < EXP_MAX_VARIANTS; i++) {
		const Clm__V1__Variant *x = q->variants[i];
		char f[64];
		snprintf(f, sizeof(f), "define_experiment.variants[%zu].name",
		        i);
		why = validate_id(x->name, EXP_NAME_MAX);
		if (why != NULL) {
			violations_add(&v, f, "%s", why);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(q->variants[k]->name, x->name) == 0) {
				violations_add(&v, f,
				        "repeats the name of variants[%zu]",
				        k);
			}
		}
		total += x->weight;
	}
	if (total == 0 || total > EXP_WEIGHT_MAX) {
		violations_add(&v, "define_experiment.variants",
		        "weights must add up to 1 .. 1,000,000, not %llu",
		        (unsigned long long) total);
	}
	if ((int) q->goal <= 0 || (int) q->goal >= MODEL_N_TYPES) {
		violations_add(&v, "define_experiment.goal",
		        "must be a TouchpointType other than TOUCHPOINT_TYPE_UNSPECIFIED");
	}
	if (v.n > 0) {
		reply_violations(r->resp, a, &v);
		return false;
	}
	/* defined_ms is the batch's instant (exp_define_apply). */
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT;
	j.define_experiment = (Clm__V1__DefineExperimentRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || exp_define_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
exp_define_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct exp_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__DefineExperimentReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__define_experiment_reply__init(reply);
	reply->experiment_id = q->define_experiment->experiment_id;
	s->req = q;
	s->reply = reply;
	job->apply = exp_define_apply;
	job->arg = s;
	return CLM_OK;
}

/* The earliest goal touchpoint at or after the exposure, if any. */
struct exp_goal_scan {
	int goal;
	int64_t at_ms;
};

static int
exp_goal_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) seq;
	struct exp_goal_scan *g = arg;
	if ((int) tp->type == g->goal) {
		g->at_ms = at_ms;
		return 1; /* in time order: the first is it */
	}
	return 0;
}

static clm_err
exp_assign_apply(struct writer_batch *b, writer_job *job)
{
	struct exp_state *s = job->arg;
	const Clm__V1__AssignRequest *q = s->req->assign;
	Clm__V1__AssignReply *reply = s->reply;
	Clm__V1__Response *resp = job->resp;
	arena *a = job->arena;
	resp->status = NULL;
	resp->result_case = CLM__V1__RESPONSE__RESULT_ASSIGN;
	resp->assign = reply;

	Clm__V1__ExperimentRecord *x;
	clm_err e = store_experiment_get(b->txn, q->experiment_id, a, &x);
	if (e == CLM_NOT_FOUND) {
		resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
		reply_error(resp, a, CLM_NOT_FOUND,
		        "no experiment '%s': define it first",
		        q->experiment_id);
		return CLM_OK;
	}
	/* An anonymous id linked by Identify stands for its customer. */
	const char *id = q->customer_id;
	char *owner;
	clm_err ae = store_alias_get(b->txn, id, a, &owner);
	if (ae == CLM_OK) {
		id = owner;
	} else if (ae != CLM_NOT_FOUND) {
		return ae;
	}
	struct profile *pr;
	if (e == CLM_OK) {
		e = profile_load(b->txn, id, false, true, a, &pr);
	}
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__CustomerRecord *rec = pr->rec;
	for (size_t i = 0; i < rec->n_experiments; i++) {
		const Clm__V1__ExperimentEntry *en = rec->experiments[i];
		if (strcmp(en->experiment_id, q->experiment_id) == 0) {
			reply->first_exposure = false;
			reply->variant = en->variant < x->n_variants
			        ? x->variants[en->variant]->name
			        : "";
			return CLM_OK;
		}
	}
	uint32_t weights[EXP_MAX_VARIANTS];
	size_t nv = x->n_variants < EXP_MAX_VARIANTS ? x->n_variants
	                                             : EXP_MAX_VARIANTS;
	for (size_t i = 0; i < nv; i++) {
		weights[i] = x->variants[i]->weight;
	}
	size_t pick = stats_assign(q->experiment_id, id, weights, nv);

	Clm__V1__ExperimentEntry *en = arena_alloc(a, sizeof(*en));
	Clm__V1__ExperimentEntry **list
	        = arena_alloc(a, (rec->n_experiments + 1) * sizeof(*list));
	if (en == NULL || list == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__experiment_entry__init(en);
	en->experiment_id = x->experiment_id;
	en->variant = (uint32_t) pick;
	en->exposed_ms = b->now_ms;
	en->goal = x->goal;
	/* A goal touchpoint already stored at or after now converts. */
	struct exp_goal_scan g = { (int) x->goal, 0 };
	if (!pr->is_new) {
		e = store_touchpoints_scan(b->txn, rec->cid, b->now_ms - 1,
		        INT64_MAX, exp_goal_fn, &g);
		if (e != CLM_OK) {
			return e;
		}
	}
	en->converted_ms = g.at_ms;
	if (rec->n_experiments > 0) {
		memcpy(list, rec->experiments,
		        rec->n_experiments * sizeof(*list));
	}
	list[rec->n_experiments++] = en;
	rec->experiments = list;
	/*
	 * Saved like a write's customer, so evaluated like one: Assign may
	 * have created it (docs/segments.md).
	 */
	bool dirty;
	e = segw_customer(b->segs, b, job, rec, &pr->p, a, &dirty);
	if (e == CLM_OK) {
		e = jw_customer(b->jny, b, job, pr, 0, a, &dirty);
	}
	if (e == CLM_OK) {
		e = profile_save(b->txn, pr, a);
	}
	if (e == CLM_OK) {
		reply->first_exposure = true;
		reply->variant = x->variants[pick]->name;
	}
	return e;
}

bool
exp_assign_prepare(struct call_req *r)
{
	const Clm__V1__AssignRequest *q = r->req->assign;
	arena *a = r->a;
	struct violations v;
	violations_init(&v, a);
	size_t max = r->srv->limits.max_id_bytes;
	const char *why = validate_id(q->experiment_id, max);
	if (why != NULL) {
		violations_add(&v, "assign.experiment_id", "%s", why);
	}
	why = validate_id(q->customer_id, max);
	if (why != NULL) {
		violations_add(&v, "assign.customer_id", "%s", why);
	}
	if (v.n > 0) {
		reply_violations(r->resp, a, &v);
		return false;
	}
	/* exposed_ms is the batch's instant (exp_assign_apply). */
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_ASSIGN;
	j.assign = (Clm__V1__AssignRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || exp_assign_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
exp_assign_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct exp_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__AssignReply *reply = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__assign_reply__init(reply);
	s->req = q;
	s->reply = reply;
	job->apply = exp_assign_apply;
	job->arg = s;
	return CLM_OK;
}

void
exp_results_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__ExperimentResultsRequest *q
	        = r->req->experiment_results;
	arena *a = r->a;
	const char *why
	        = validate_id(q->experiment_id, r->srv->limits.max_id_bytes);
	if (why != NULL) {
		reply_invalid(r->resp, a, "experiment_results.experiment_id",
		        "%s", why);
		return;
	}
	Clm__V1__ExperimentRecord *x;
	clm_err e = store_experiment_get(txn, q->experiment_id, a, &x);
	if (e != CLM_OK) {
		reply_error(r->resp, a, e,
		        e == CLM_NOT_FOUND ? "no experiment '%s'"
		                           : "cannot read experiment '%s'",
		        q->experiment_id);
		return;
	}
	Clm__V1__ExperimentResultsReply *reply
	        = arena_alloc(a, sizeof(*reply));
	Clm__V1__VariantResult **vs
	        = arena_alloc(a, (x->n_variants + 1) * sizeof(*vs));
	if (reply == NULL || vs == NULL) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	clm__v1__experiment_results_reply__init(reply);
	reply->experiment_id = x->experiment_id;
	reply->variants = vs;
	uint64_t na = 0, xa = 0;
	for (size_t i = 0; i < x->n_variants; i++) {
		unsigned char key[AGG_KEY_MAX];
		size_t kn = agg_exp_key(key, x->experiment_id, (uint32_t) i);
		int64_t c[2];
		e = store_agg_get(txn, key, kn, c, 2);
		if (e != CLM_OK) {
			reply_error(r->resp, a, e, "cannot read the results");
			return;
		}
		Clm__V1__VariantResult *vr = arena_alloc(a, sizeof(*vr));
		if (vr == NULL) {
			reply_error(r->resp, a, CLM_RESOURCE_EXHAUSTED,
			        "out of memory");
			return;
		}
		clm__v1__variant_result__init(vr);
		vr->name = x->variants[i]->name;
		vr->exposed = (uint64_t) c[0];
		vr->converted = (uint64_t) c[1];
		if (i == 0) {
			na = vr->exposed;
			xa = vr->converted;
		}
		struct stats_vs st;
		stats_compare(vr->exposed, vr->converted, na, xa, &st);
		vr->rate = st.rate;
		if (i > 0) {
			vr->lift = st.lift;
			vr->p_value = st.p_value;
			vr->ci_low = st.ci_low;
			vr->ci_high = st.ci_high;
		} else {
			vr->p_value = 1;
		}
		vs[reply->n_variants++] = vr;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_EXPERIMENT_RESULTS;
	r->resp->experiment_results = reply;
}
