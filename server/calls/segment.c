/*
 * Segments (docs/segments.md): DefineSegment and DeleteSegment through the
 * writer, GetSegment and ListSegments as reads, and the segments of one
 * customer for the Customer message.
 *
 * Reads at now are exact although the writer applies time-driven changes
 * only once a second: a read also evaluates the customers whose entry in
 * the time index is due (at or before now) and corrects the maintained
 * membership with them (docs/architecture.md "Segments").
 */
#include "calls/segment.h"

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

#define SEG_MAX          256   /* segments a server holds */
#define SEG_PAGE_DEFAULT 1000  /* GetSegment.page_size 0 */
#define SEG_PAGE_MAX     10000 /* GetSegment.page_size at most */
/* Due customers a read corrects with; past it the count may lag. */
#define SEG_DUE_MAX 10000
/* The longest key the store holds, so the longest customer id. */
#define SEG_ID_MAX 511

struct seg_state {
	const Clm__V1__Request *req;
	void *reply;
};

/* ---------------------------------------------------------------------- */
/* Evaluation of one stored customer                                      */

/* A compiled definition, for one read (segx_free its x). */
struct seg_prog {
	Clm__V1__SegmentRecord *rec;
	segx *x;
	struct segx_needs needs;
};

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
static clm_err
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
static clm_err
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
static clm_err
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

struct seg_due {
	arena *a;
	Clm__V1__CustomerRecord **recs;
	size_t n, cap;
	store_txn *txn;
	clm_err err;
};

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
static clm_err
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

/* One due customer whose membership of a segment differs now. */
struct seg_fix {
	const char *id;
	bool member; /* now */
};

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
static clm_err
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
static clm_err
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

static bool
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

/* ---------------------------------------------------------------------- */
/* GetSegment, ListSegments                                               */

/* A page token: the last customer id a page covered, in hex. */
static char *
seg_token(arena *a, const char *id)
{
	size_t n = strlen(id);
	char *t = arena_alloc(a, 2 * n + 1);
	if (t == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(t + 2 * i, 3, "%02x", (unsigned char) id[i]);
	}
	t[2 * n] = '\0';
	return t;
}

static int
seg_hex(char c)
{
	return c >= '0' && c <= '9'    ? c - '0'
	        : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                               : -1;
}

/* The id of token t (arena memory), or NULL when t is not one of ours. */
static char *
seg_untoken(arena *a, const char *t, size_t max_id)
{
	size_t n = strlen(t);
	if (n == 0 || n % 2 != 0 || n / 2 > max_id) {
		return NULL;
	}
	char *id = arena_alloc(a, n / 2 + 1);
	if (id == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n / 2; i++) {
		int hi = seg_hex(t[2 * i]), lo = seg_hex(t[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			return NULL;
		}
		id[i] = (char) (hi << 4 | lo);
	}
	id[n / 2] = '\0';
	return id;
}

/* Members of a page, in arena memory. */
struct seg_page {
	arena *a;
	char **ids;
	size_t n, cap, max;
	bool oom;
};

static int
seg_page_add(struct seg_page *pg, const char *id)
{
	char **v = arena_grow(pg->a, pg->ids, pg->n, &pg->cap, sizeof(*v));
	char *copy = arena_strdup(pg->a, id);
	if (v == NULL || copy == NULL) {
		pg->oom = true;
		return 1;
	}
	pg->ids = v;
	pg->ids[pg->n++] = copy;
	return pg->n == pg->max;
}

static int
seg_page_fn(void *arg, const char *id)
{
	return seg_page_add(arg, id);
}

/*
 * The page of members at now after `after`: the maintained members merged
 * with the due customers' corrections (fix, by id). *more: a next page
 * may hold members.
 */
static clm_err
seg_page_now(store_txn *txn, const struct seg_prog *p, const char *after,
        size_t size, const struct seg_fix *fix, size_t nfix,
        struct seg_page *out, bool *more)
{
	struct seg_page raw = { .a = out->a, .max = size + nfix + 1 };
	clm_err e = store_members_after(
	        txn, p->rec->id, after, raw.max, seg_page_fn, &raw);
	if (e == CLM_OK && raw.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e != CLM_OK) {
		return e;
	}
	bool raw_full = raw.n == raw.max;
	size_t i = 0, k = 0;
	while (k < nfix && after != NULL && strcmp(fix[k].id, after) <= 0) {
		k++;
	}
	out->max = 0; /* no limit: counted here */
	while (out->n < size && (i < raw.n || k < nfix)) {
		int c = i == raw.n  ? 1
		        : k == nfix ? -1
		                    : strcmp(raw.ids[i], fix[k].id);
		const char *id = NULL;
		if (c < 0) {
			id = raw.ids[i++];
		} else if (c > 0) {
			id = fix[k].member ? fix[k].id : NULL;
			k++;
		} else {
			id = fix[k].member ? raw.ids[i] : NULL;
			i++;
			k++;
		}
		if (id != NULL && seg_page_add(out, id) != 0 && out->oom) {
			return CLM_RESOURCE_EXHAUSTED;
		}
	}
	*more = out->n == size && (i < raw.n || k < nfix || raw_full);
	return CLM_OK;
}

struct seg_scan {
	store_txn *txn;
	const struct seg_prog *p;
	int64_t at_ms;
	const struct model_params *mp;
	arena *a;
	char **ids; /* a chunk of customer ids */
	size_t n;
	clm_err err;
};

static int
seg_scan_fn(void *arg, const char *id, bool anonymous)
{
	struct seg_scan *s = arg;
	if (!anonymous) {
		s->ids[s->n] = arena_strdup(s->a, id);
		if (s->ids[s->n] == NULL) {
			s->err = CLM_RESOURCE_EXHAUSTED;
			return 1;
		}
		s->n++;
	}
	return 0;
}

#define SEG_SCAN_CHUNK 1024

/*
 * At another instant than now: every customer evaluated at at_ms, for
 * the count; the members after `after` go to the page.
 */
static clm_err
seg_scan(struct seg_scan *s, const char *after, size_t size,
        struct seg_page *pg, uint64_t *count, bool *more)
{
	arena tmp;
	arena_init(&tmp);
	char *ids[SEG_SCAN_CHUNK];
	char last[SEG_ID_MAX + 1] = "\x02"; /* before every known id */
	*count = 0;
	*more = false;
	clm_err e = CLM_OK;
	for (;;) {
		arena_reset(&tmp);
		s->a = &tmp;
		s->ids = ids;
		s->n = 0;
		e = store_customers_after(
		        s->txn, last, false, SEG_SCAN_CHUNK, seg_scan_fn, s);
		if (e == CLM_OK) {
			e = s->err;
		}
		for (size_t i = 0; i < s->n && e == CLM_OK; i++) {
			Clm__V1__CustomerRecord *rec;
			bool member = false;
			e = store_customer_get(
			        s->txn, ids[i], false, &tmp, &rec);
			if (e == CLM_OK) {
				e = seg_member_at(s->txn, s->p, rec, s->at_ms,
				        s->mp, &tmp, &member);
			}
			if (e != CLM_OK || !member) {
				continue;
			}
			(*count)++;
			if (pg == NULL
			        || (after != NULL
			                && strcmp(ids[i], after) <= 0)) {
				continue;
			}
			if (pg->n == size) {
				*more = true;
			} else if (seg_page_add(pg, ids[i]) != 0 && pg->oom) {
				e = CLM_RESOURCE_EXHAUSTED;
			}
		}
		if (e != CLM_OK || s->n == 0) {
			break;
		}
		snprintf(last, sizeof(last), "%s", ids[s->n - 1]);
	}
	arena_fini(&tmp);
	return e;
}

/* Each member's Customer at at_ms, for include_customers. */
static clm_err
seg_customers(store_txn *txn, const struct seg_page *pg, int64_t at_ms,
        const struct model_params *mp, arena *a,
        Clm__V1__GetSegmentReply *reply)
{
	reply->customers = arena_alloc(a, (pg->n + 1) * sizeof(void *));
	if (reply->customers == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < pg->n; i++) {
		Clm__V1__CustomerRecord *rec;
		clm_err e
		        = store_customer_get(txn, pg->ids[i], false, a, &rec);
		if (e == CLM_OK) {
			e = customer_view(
			        txn, rec, at_ms, mp, a, &reply->customers[i]);
		}
		if (e != CLM_OK) {
			return e;
		}
		reply->n_customers++;
	}
	return CLM_OK;
}

static clm_err
seg_get_in(struct call_req *r, store_txn *txn, const struct seg_prog *p,
        const char *after, size_t size, int64_t at_ms, bool now,
        Clm__V1__GetSegmentReply *reply)
{
	const Clm__V1__GetSegmentRequest *q = r->req->get_segment;
	const struct model_params *mp = &r->srv->params;
	arena *a = r->a;
	struct seg_page pg = { .a = a };
	bool more = false;
	clm_err e;
	if (now) {
		struct seg_due d;
		struct seg_fix *fix = NULL;
		size_t nfix = 0;
		e = seg_due_load(txn, at_ms, a, &d);
		if (e == CLM_OK) {
			e = seg_fixes(txn, p, &d, at_ms, mp, a, &fix, &nfix);
		}
		if (e == CLM_OK) {
			e = seg_message(txn, p, fix, nfix, a, &reply->segment);
		}
		if (e == CLM_OK && q->members) {
			e = seg_page_now(
			        txn, p, after, size, fix, nfix, &pg, &more);
		}
	} else {
		struct seg_scan sc
		        = { .txn = txn, .p = p, .at_ms = at_ms, .mp = mp };
		uint64_t count;
		e = seg_message(txn, p, NULL, 0, a, &reply->segment);
		if (e == CLM_OK) {
			e = seg_scan(&sc, after, size, q->members ? &pg : NULL,
			        &count, &more);
		}
		if (e == CLM_OK) {
			reply->segment->count = count;
		}
	}
	if (e == CLM_OK && q->members) {
		reply->members = pg.ids;
		reply->n_members = pg.n;
		if (more && pg.n > 0) {
			reply->next_page_token
			        = seg_token(a, pg.ids[pg.n - 1]);
			e = reply->next_page_token ? CLM_OK
			                           : CLM_RESOURCE_EXHAUSTED;
		}
	}
	if (e == CLM_OK && q->members && q->include_customers) {
		e = seg_customers(txn, &pg, at_ms, mp, a, reply);
	}
	return e;
}

void
seg_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__GetSegmentRequest *q = r->req->get_segment;
	arena *a = r->a;
	if (!seg_name_check(r, "get_segment.name", q->name)) {
		return;
	}
	if (q->page_size > SEG_PAGE_MAX) {
		reply_invalid(r->resp, a, "get_segment.page_size",
		        "must be at most %d (0 means %d)", SEG_PAGE_MAX,
		        SEG_PAGE_DEFAULT);
		return;
	}
	if (q->as_of_ms < 0) {
		reply_invalid(r->resp, a, "get_segment.as_of_ms",
		        "must not be negative (0 means now)");
		return;
	}
	const char *after = NULL;
	if (q->page_token[0] != '\0') {
		after = seg_untoken(a, q->page_token, SEG_ID_MAX);
		if (after == NULL) {
			reply_invalid(r->resp, a, "get_segment.page_token",
			        "is not a token this call returned");
			return;
		}
	}
	size_t size = q->page_size == 0 ? SEG_PAGE_DEFAULT : q->page_size;
	bool now = q->as_of_ms == 0 || q->as_of_ms == r->now_ms;
	int64_t at_ms = q->as_of_ms == 0 ? r->now_ms : q->as_of_ms;
	struct seg_prog p = { 0 };
	Clm__V1__SegmentRecord *rec;
	clm_err e = store_segment_get(txn, q->name, a, &rec);
	if (e == CLM_NOT_FOUND) {
		reply_error(r->resp, a, CLM_NOT_FOUND,
		        "segment '%s' not found", q->name);
		return;
	}
	if (e == CLM_OK) {
		e = seg_compile(rec, &p);
	}
	Clm__V1__GetSegmentReply *reply = arena_alloc(a, sizeof(*reply));
	if (e == CLM_OK && reply == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		clm__v1__get_segment_reply__init(reply);
		reply->as_of_ms = at_ms;
		e = seg_get_in(r, txn, &p, after, size, at_ms, now, reply);
	}
	segx_free(p.x);
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot read segment '%s': %s",
		        q->name, clm_strerror(e));
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_GET_SEGMENT;
	r->resp->get_segment = reply;
}

void
seg_list(struct call_req *r, store_txn *txn)
{
	arena *a = r->a;
	Clm__V1__SegmentRecord **defs = NULL;
	size_t nd = 0;
	struct seg_due d;
	clm_err e = seg_all(txn, a, &defs, &nd);
	if (e == CLM_OK && nd > 0) {
		e = seg_due_load(txn, r->now_ms, a, &d);
	}
	Clm__V1__ListSegmentsReply *reply = arena_alloc(a, sizeof(*reply));
	void **v = arena_alloc(a, (nd + 1) * sizeof(*v));
	if (e == CLM_OK && (reply == NULL || v == NULL)) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		clm__v1__list_segments_reply__init(reply);
		reply->segments = (Clm__V1__Segment **) v;
	}
	for (size_t i = 0; i < nd && e == CLM_OK; i++) {
		struct seg_prog p;
		struct seg_fix *fix = NULL;
		size_t nfix = 0;
		e = seg_compile(defs[i], &p);
		if (e == CLM_OK) {
			e = seg_fixes(txn, &p, &d, r->now_ms, &r->srv->params,
			        a, &fix, &nfix);
		}
		if (e == CLM_OK) {
			e = seg_message(txn, &p, fix, nfix, a,
			        &reply->segments[reply->n_segments]);
		}
		segx_free(p.x);
		reply->n_segments += e == CLM_OK;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot list segments: %s",
		        clm_strerror(e));
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_LIST_SEGMENTS;
	r->resp->list_segments = reply;
}
