/*
 * Segments (docs/segments.md): DefineSegment and DeleteSegment through the
 * writer, the segments of one customer for the Customer message, and what
 * GetSegment and ListSegments (segment_get.c) share with them.
 *
 * Reads at now are exact although the writer applies time-driven changes
 * only once a second: a read also evaluates the customers whose entry in
 * the time index is due (at or before now) and corrects the maintained
 * membership with them (docs/architecture.md "Segments").
 */
#include "calls/segment.h"
#include "calls/segment_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/customer.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "core/segexpr.h"
#include "store/record.h"
#include "store/segment.h"
#include "write/segment.h"

struct seg_state {
	const Clm__V1__Request *req;
	void *reply;
};

/* ---------------------------------------------------------------------- */
/* Evaluation of one stored customer                                      */

struct seg_collect {
	arena *a;
	Clm__V1__SegmentRecord **v;
	size_t n, cap;
	bool oom;
};

static int
seg_collect_fn(void *arg, Clm__V1__SegmentRecord *rec)
{
	struct seg_collect *c = arg;
	Clm__V1__SegmentRecord **v
	        = arena_grow(c->a, c->v, c->n, &c->cap, sizeof(*v));
	if (v == NULL) {
		c->oom = true;
		return 1;
	}
	c->v = v;
	c->v[c->n++] = rec;
	return 0;
}

/* Every definition, by name, in arena memory. */
clm_err
seg_all(store_txn *txn, arena *a, Clm__V1__SegmentRecord ***out, size_t *n)
{
	struct seg_collect c = { .a = a };
	clm_err e = store_segments_each(txn, a, seg_collect_fn, &c);
	if (e == CLM_OK && c.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		*out = c.v;
		*n = c.n;
	}
	return e;
}

/* Compiles rec (a stored definition parsed when it was defined). */
clm_err
seg_compile(Clm__V1__SegmentRecord *rec, struct seg_prog *p)
{
	struct segx_error err;
	p->rec = rec;
	p->x = NULL;
	clm_err e = segx_parse(
	        rec->expression, strlen(rec->expression), &p->x, &err);
	if (e == CLM_OK) {
		segx_needs(p->x, &p->needs);
	}
	return e;
}

/* Evaluates p for the stored customer rec at at_ms. */
clm_err
seg_member_at(store_txn *txn, const struct seg_prog *p,
        const Clm__V1__CustomerRecord *rec, int64_t at_ms,
        const struct model_params *mp, arena *a, bool *member)
{
	struct model_profile *mprof = arena_alloc(a, sizeof(*mprof));
	if (mprof == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	record_to_profile(rec, mprof);
	struct risk_onboarding onb = { 0 };
	if (p->needs.onboarding) {
		clm_err e = store_onboarding_median(
		        txn, &onb.known, &onb.twice_median_ms);
		if (e != CLM_OK) {
			return e;
		}
	}
	struct segment_eval ev;
	segment_eval_init(&ev, txn, rec, a, p->needs.max_window_ms);
	int64_t next;
	return segment_eval(&ev, p->x, mprof, mp,
	        p->needs.onboarding ? &onb : NULL, at_ms, member, &next);
}

clm_err
segment_names(store_txn *txn, const Clm__V1__CustomerRecord *rec,
        int64_t as_of_ms, const struct model_params *mp, arena *a,
        char ***names, size_t *n)
{
	Clm__V1__SegmentRecord **defs;
	size_t nd;
	clm_err e = seg_all(txn, a, &defs, &nd);
	if (e != CLM_OK) {
		return e;
	}
	char **v = arena_alloc(a, (nd + 1) * sizeof(*v));
	if (v == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t k = 0;
	for (size_t i = 0; i < nd && !rec->anonymous; i++) {
		struct seg_prog p;
		e = seg_compile(defs[i], &p);
		if (e == CLM_INVALID_ARGUMENT) {
			continue; /* logged by the writer; no members */
		}
		bool member = false;
		if (e == CLM_OK) {
			e = seg_member_at(
			        txn, &p, rec, as_of_ms, mp, a, &member);
		}
		segx_free(p.x);
		if (e != CLM_OK) {
			return e;
		}
		if (member) {
			v[k++] = defs[i]->name;
		}
	}
	*names = v;
	*n = k;
	return CLM_OK;
}

/* ---------------------------------------------------------------------- */
/* Due customers: the corrections a read at now makes                     */

static int
seg_due_fn(void *arg, int64_t at_ms, const char *id)
{
	(void) at_ms;
	struct seg_due *d = arg;
	Clm__V1__CustomerRecord *rec;
	clm_err e = store_customer_get(d->txn, id, false, d->a, &rec);
	if (e == CLM_NOT_FOUND) {
		return 0;
	}
	Clm__V1__CustomerRecord **v = NULL;
	if (e == CLM_OK) {
		v = arena_grow(d->a, d->recs, d->n, &d->cap, sizeof(*v));
	}
	if (v == NULL) {
		d->err = e != CLM_OK ? e : CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	d->recs = v;
	d->recs[d->n++] = rec;
	return 0;
}

/* The customers due at or before now_ms, as stored. */
clm_err
seg_due_load(store_txn *txn, int64_t now_ms, arena *a, struct seg_due *d)
{
	memset(d, 0, sizeof(*d));
	d->a = a;
	d->txn = txn;
	clm_err e = store_due_each(txn, now_ms, SEG_DUE_MAX, seg_due_fn, d);
	return e != CLM_OK ? e : d->err;
}

static bool
seg_rec_has(const Clm__V1__CustomerRecord *rec, uint32_t id)
{
	for (size_t i = 0; i < rec->n_segment_ids; i++) {
		if (rec->segment_ids[i] == id) {
			return true;
		}
	}
	return false;
}

static int
seg_fix_cmp(const void *x, const void *y)
{
	return strcmp(((const struct seg_fix *) x)->id,
	        ((const struct seg_fix *) y)->id);
}

/*
 * The due customers whose membership of p differs at now_ms from the
 * stored one, by id (arena memory).
 */
clm_err
seg_fixes(store_txn *txn, const struct seg_prog *p, const struct seg_due *d,
        int64_t now_ms, const struct model_params *mp, arena *a,
        struct seg_fix **out, size_t *n)
{
	struct seg_fix *v = arena_alloc(a, (d->n + 1) * sizeof(*v));
	if (v == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		bool member;
		clm_err e = seg_member_at(
		        txn, p, d->recs[i], now_ms, mp, a, &member);
		if (e != CLM_OK) {
			return e;
		}
		if (member != seg_rec_has(d->recs[i], p->rec->id)) {
			v[k++] = (struct seg_fix) { d->recs[i]->customer_id,
				member };
		}
	}
	qsort(v, k, sizeof(*v), seg_fix_cmp);
	*out = v;
	*n = k;
	return CLM_OK;
}

/* The Segment message of p with its count at now (corrected). */
clm_err
seg_message(store_txn *txn, const struct seg_prog *p,
        const struct seg_fix *fix, size_t nfix, arena *a,
        Clm__V1__Segment **out)
{
	Clm__V1__Segment *s = arena_alloc(a, sizeof(*s));
	if (s == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__segment__init(s);
	const Clm__V1__SegmentRecord *rec = p->rec;
	s->name = rec->name;
	s->expression = rec->expression;
	s->defined_at_ms = rec->defined_at_ms;
	s->backfilling = rec->backfilling;
	s->backfill_progress = 1.0;
	if (rec->backfilling) {
		double total = (double) rec->backfill_total;
		double done = (double) rec->backfill_done;
		s->backfill_progress
		        = total > 0 && done < total ? done / total : 0.99;
	}
	clm_err e = store_member_count(txn, rec->id, &s->count);
	if (e != CLM_OK) {
		return e;
	}
	for (size_t i = 0; i < nfix; i++) {
		if (fix[i].member) {
			s->count++;
		} else if (s->count > 0) {
			s->count--;
		}
	}
	*out = s;
	return CLM_OK;
}

/* ---------------------------------------------------------------------- */
/* DefineSegment, DeleteSegment                                           */

struct seg_count {
	size_t n;
};

static int
seg_count_fn(void *arg, Clm__V1__SegmentRecord *rec)
{
	(void) rec;
	((struct seg_count *) arg)->n++;
	return 0;
}

static clm_err
seg_define_apply(struct writer_batch *b, writer_job *job)
{
	struct seg_state *s = job->arg;
	const Clm__V1__DefineSegmentRequest *q = s->req->define_segment;
	Clm__V1__DefineSegmentReply *reply = s->reply;
	Clm__V1__Response *resp = job->resp;
	arena *a = job->arena;
	resp->status = NULL;
	resp->result_case = CLM__V1__RESPONSE__RESULT_DEFINE_SEGMENT;
	resp->define_segment = reply;
	reply->replaced = false;

	Clm__V1__SegmentRecord *old;
	clm_err e = store_segment_get(b->txn, q->name, a, &old);
	if (e == CLM_OK) {
		reply->replaced = true;
	} else if (e != CLM_NOT_FOUND) {
		return e;
	} else {
		struct seg_count c = { 0 };
		e = store_segments_each(b->txn, a, seg_count_fn, &c);
		if (e != CLM_OK) {
			return e;
		}
		if (c.n >= SEG_MAX) {
			resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
			reply_error(resp, a, CLM_RESOURCE_EXHAUSTED,
			        "%d segments are defined, the most a server holds; delete one first",
			        SEG_MAX);
			return CLM_OK;
		}
	}
	Clm__V1__SegmentRecord *rec = arena_alloc(a, sizeof(*rec));
	if (rec == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__segment_record__init(rec);
	rec->name = q->name;
	rec->expression = q->expression;
	rec->defined_at_ms = b->now_ms;
	rec->backfilling = true;
	rec->backfill_after = "";
	struct store_stats st;
	e = store_segment_new_id(b->txn, &rec->id);
	if (e == CLM_OK) {
		e = store_stats(b->txn, &st);
	}
	if (e == CLM_OK) {
		rec->backfill_total = st.customers;
		e = store_segment_put(b->txn, rec);
	}
	if (e != CLM_OK) {
		return e;
	}
	/* The old id's members go in the background (segw_step). */
	segw_invalidate(b->segs);
	struct seg_prog p = { .rec = rec };
	e = seg_message(b->txn, &p, NULL, 0, a, &reply->segment);
	if (e == CLM_OK) {
		reply->segment->backfill_progress = 0;
	}
	return e;
}

static clm_err
seg_delete_apply(struct writer_batch *b, writer_job *job)
{
	struct seg_state *s = job->arg;
	const Clm__V1__DeleteSegmentRequest *q = s->req->delete_segment;
	Clm__V1__DeleteSegmentReply *reply = s->reply;
	Clm__V1__Response *resp = job->resp;
	resp->status = NULL;
	resp->result_case = CLM__V1__RESPONSE__RESULT_DELETE_SEGMENT;
	resp->delete_segment = reply;
	reply->existed = false;
	clm_err e = store_segment_del(b->txn, q->name);
	if (e == CLM_NOT_FOUND) {
		return CLM_OK;
	}
	if (e != CLM_OK) {
		return e;
	}
	reply->existed = true;
	segw_invalidate(b->segs);
	return CLM_OK;
}

bool
seg_name_check(struct call_req *r, const char *field, const char *name)
{
	if (segx_name_valid(name, strlen(name))) {
		return true;
	}
	reply_invalid(r->resp, r->a, field,
	        "must be 1 to %d bytes of a-z, 0-9, '_' and '-'",
	        SEGX_NAME_MAX);
	return false;
}

bool
seg_define_prepare(struct call_req *r)
{
	const Clm__V1__DefineSegmentRequest *q = r->req->define_segment;
	arena *a = r->a;
	if (!seg_name_check(r, "define_segment.name", q->name)) {
		return false;
	}
	size_t len = strlen(q->expression);
	if (len > SEGX_SOURCE_MAX) {
		reply_invalid(r->resp, a, "define_segment.expression",
		        "at byte %d: longer than %d bytes", SEGX_SOURCE_MAX,
		        SEGX_SOURCE_MAX);
		return false;
	}
	segx *x = NULL;
	struct segx_error err;
	clm_err e = segx_parse(q->expression, len, &x, &err);
	segx_free(x);
	if (e == CLM_INVALID_ARGUMENT) {
		reply_invalid(r->resp, a, "define_segment.expression",
		        "at byte %zu: %s", err.pos, err.msg);
		return false;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot compile the expression: %s",
		        clm_strerror(e));
		return false;
	}
	/* defined_at_ms is the batch's instant (seg_define_apply). */
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_DEFINE_SEGMENT;
	j.define_segment = (Clm__V1__DefineSegmentRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || seg_define_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
seg_define_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct seg_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__DefineSegmentReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (q->define_segment == NULL) {
		return CLM_DATA_LOSS;
	}
	clm__v1__define_segment_reply__init(reply);
	s->req = q;
	s->reply = reply;
	job->apply = seg_define_apply;
	job->arg = s;
	return CLM_OK;
}

bool
seg_delete_prepare(struct call_req *r)
{
	const Clm__V1__DeleteSegmentRequest *q = r->req->delete_segment;
	if (!seg_name_check(r, "delete_segment.name", q->name)) {
		return false;
	}
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_DELETE_SEGMENT;
	j.delete_segment = (Clm__V1__DeleteSegmentRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || seg_delete_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return false;
	}
	return true;
}

clm_err
seg_delete_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct seg_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__DeleteSegmentReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (q->delete_segment == NULL) {
		return CLM_DATA_LOSS;
	}
	clm__v1__delete_segment_reply__init(reply);
	s->req = q;
	s->reply = reply;
	job->apply = seg_delete_apply;
	job->arg = s;
	return CLM_OK;
}
