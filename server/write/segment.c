/*
 * segment: the writer's side of segments (write/segment.h).
 *
 * Membership is kept in three places that move together, in the
 * transaction of the write that changes them: the customer's record
 * (segment_ids, segment_due_ms), seg_members with each segment's count, and
 * the time index seg_due. The record is what the writer compares with, so
 * evaluating a customer reads nothing of the segment tables but what
 * changes.
 *
 * Ids of definitions that no longer exist (deleted, or replaced by a
 * redefinition) may linger in records and in seg_members: evaluation drops
 * them from a record it rewrites, and segw_step deletes their members in
 * chunks. They are never shown: reads go by the definitions.
 */
#include "write/segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/risk.h"
#include "core/segexpr.h"
#include "store/profile.h"
#include "store/record.h"
#include "store/segment.h"
#include "util/log.h"

/* Customers per background transaction (backfill, time index, drops). */
#define SEGW_CHUNK 2000

/*
 * Evaluations (a segment at an instant) a time index step does at most,
 * past the customer it is at: a walk of many instants over many segments
 * must not hold the writer for seconds.
 */
#define SEGW_STEP_EVALS 25000

struct segw_seg {
	uint32_t id;
	char *name; /* malloc'd */
	segx *x;
	struct segx_needs needs;
	bool backfilling;
	char *after; /* the backfill's cursor (malloc'd) */
};

struct segw {
	struct model_params mp;
	bool stale;
	struct segw_seg *segs; /* by id */
	size_t n;
	int64_t window_ms; /* the widest count window */
	bool onboarding;   /* some program reads the median */
	bool dropping;     /* seg_members may hold dropped ids */
	bool ended;        /* segw_step's chunk ended the backfills */
	arena a;           /* loading, and one background step */
	/*
	 * One evaluation's touchpoints, reset at each: kept apart from the
	 * profile cache's arena, which must stay within its first chunk.
	 */
	arena ev;
	size_t evals; /* segment evaluations since the step began */
};

struct segw *
segw_new(const struct model_params *mp)
{
	struct segw *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return NULL;
	}
	w->mp = *mp;
	w->stale = true;
	arena_init(&w->a);
	arena_init(&w->ev);
	return w;
}

static void
segw_clear(struct segw *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->segs[i].name);
		free(w->segs[i].after);
		segx_free(w->segs[i].x);
	}
	free(w->segs);
	w->segs = NULL;
	w->n = 0;
	w->window_ms = 0;
	w->onboarding = false;
}

void
segw_free(struct segw *w)
{
	if (w == NULL) {
		return;
	}
	segw_clear(w);
	arena_fini(&w->a);
	arena_fini(&w->ev);
	free(w);
}

void
segw_invalidate(struct segw *w)
{
	if (w != NULL) {
		w->stale = true;
	}
}

struct segw_load {
	struct segw *w;
	size_t cap;
	clm_err err;
};

static int
segw_load_fn(void *arg, Clm__V1__SegmentRecord *rec)
{
	struct segw_load *l = arg;
	struct segw *w = l->w;
	if (w->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct segw_seg *v = realloc(w->segs, cap * sizeof(*v));
		if (v == NULL) {
			l->err = CLM_RESOURCE_EXHAUSTED;
			return 1;
		}
		w->segs = v;
		l->cap = cap;
	}
	struct segw_seg *s = &w->segs[w->n];
	memset(s, 0, sizeof(*s));
	struct segx_error perr;
	clm_err e = segx_parse(
	        rec->expression, strlen(rec->expression), &s->x, &perr);
	if (e == CLM_INVALID_ARGUMENT) {
		/* Checked when defined: only a change of language gets here.
		 */
		log_error(
		        "segment '%s': stored expression does not parse at byte %zu: %s; it keeps no members",
		        rec->name, perr.pos, perr.msg);
		return 0;
	}
	s->name = strdup(rec->name);
	s->after = strdup(rec->backfill_after);
	if (e != CLM_OK || s->name == NULL || s->after == NULL) {
		segx_free(s->x);
		free(s->name);
		free(s->after);
		l->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	s->id = rec->id;
	s->backfilling = rec->backfilling;
	segx_needs(s->x, &s->needs);
	if (s->needs.counts && s->needs.max_window_ms > w->window_ms) {
		w->window_ms = s->needs.max_window_ms;
	}
	w->onboarding = w->onboarding || s->needs.onboarding;
	w->n++;
	return 0;
}

static int
segw_by_id(const void *x, const void *y)
{
	const struct segw_seg *a = x, *b = y;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Loads the definitions when they may have changed. */
static clm_err
segw_load(struct segw *w, store_txn *txn)
{
	if (!w->stale) {
		return CLM_OK;
	}
	segw_clear(w);
	struct segw_load l = { w, 0, CLM_OK };
	arena_reset(&w->a);
	clm_err e = store_segments_each(txn, &w->a, segw_load_fn, &l);
	arena_reset(&w->a);
	if (e == CLM_OK) {
		e = l.err;
	}
	if (e != CLM_OK) {
		segw_clear(w);
		return e;
	}
	if (w->n > 0) {
		qsort(w->segs, w->n, sizeof(*w->segs), segw_by_id);
	}
	w->stale = false;
	w->dropping = true; /* checked once per load */
	return CLM_OK;
}

static int
segw_by_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *) x, b = *(const uint32_t *) y;
	return a < b ? -1 : a > b;
}

static bool
segw_has(const Clm__V1__CustomerRecord *rec, uint32_t id)
{
	for (size_t i = 0; i < rec->n_segment_ids; i++) {
		if (rec->segment_ids[i] == id) {
			return true;
		}
	}
	return false;
}

static clm_err
segw_event(writer_job *job, const char *customer_id, const struct segw_seg *s,
        bool entered, int64_t at_ms)
{
	Clm__V1__LifecycleEvent *ev = writer_job_event(job);
	char *id = arena_strdup(job->arena, customer_id);
	char *name = arena_strdup(job->arena, s->name);
	if (ev == NULL || id == NULL || name == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	ev->kind = entered ? CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED
	                   : CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED;
	ev->customer_id = id;
	ev->segment = name;
	ev->at_ms = at_ms;
	return CLM_OK;
}

/* Whether s's backfill has evaluated the customer id already. */
static bool
segw_reached(const struct segw_seg *s, const char *id)
{
	return !s->backfilling
	        || (s->after[0] != '\0' && strcmp(id, s->after) <= 0);
}

/*
 * Sorts a customer's n events by instant, stably (insertion: a walk gives
 * a few): segw_eval walks each segment's instants in turn.
 */
static void
segw_events_sort(Clm__V1__LifecycleEvent **v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		Clm__V1__LifecycleEvent *x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1]->at_ms > x->at_ms; j--) {
			v[j] = v[j - 1];
		}
		v[j] = x;
	}
}

/* Walks past this many instants are cut short at now (see segw_eval). */
#define SEGW_WALK_MAX 64

/*
 * Evaluates the customer of rec (profile p) at now_ms for every segment,
 * or for those of mask alone (a backfill: silently, the other memberships
 * kept and the due instant only brought forward), and writes what changed:
 * members, counts, time index, and rec (arena a; *dirty). Events go to
 * job, dated now_ms.
 *
 * With from_ms < now_ms (the time index's instant, which no change since
 * the last evaluation precedes), time alone moved the answers: each
 * segment is evaluated at from_ms, then at each next instant its answer
 * may change, up to now_ms, so every entry and exit is dated the instant
 * it happened, one that came and went within the interval included.
 */
static clm_err
segw_eval(struct segw *w, store_txn *txn, int64_t from_ms, int64_t now_ms,
        writer_job *job, Clm__V1__CustomerRecord *rec,
        const struct model_profile *p, arena *a, const bool *mask, bool *dirty)
{
	*dirty = false;
	if (rec->anonymous) {
		return CLM_OK;
	}
	struct risk_onboarding onb = { 0 };
	if (w->onboarding) {
		clm_err e = store_onboarding_median(
		        txn, &onb.known, &onb.twice_median_ms);
		if (e != CLM_OK) {
			return e;
		}
	}
	uint32_t *ids = arena_alloc(
	        a, (w->n + rec->n_segment_ids + 1) * sizeof(*ids));
	if (ids == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t n = 0;
	int64_t due = INT64_MAX;
	if (mask != NULL) {
		/* The others stay as they are (live ids only). */
		for (size_t i = 0; i < w->n; i++) {
			if (!mask[i] && segw_has(rec, w->segs[i].id)) {
				ids[n++] = w->segs[i].id;
			}
		}
		if (rec->segment_due_ms > 0) {
			due = rec->segment_due_ms;
		}
	}
	size_t first_event = job != NULL ? job->n_events : 0;
	struct segment_eval ev;
	arena_reset(&w->ev);
	segment_eval_init(&ev, txn, rec, &w->ev, w->window_ms);
	for (size_t i = 0; i < w->n; i++) {
		const struct segw_seg *s = &w->segs[i];
		if (mask != NULL && !mask[i]) {
			continue;
		}
		bool was = segw_has(rec, s->id), member = was;
		bool tell = job != NULL && mask == NULL
		        && segw_reached(s, rec->customer_id);
		int64_t t = from_ms < now_ms ? from_ms : now_ms, next;
		for (int k = 0;; k++) {
			bool m;
			clm_err e = segment_eval(&ev, s->x, p, &w->mp,
			        s->needs.onboarding ? &onb : NULL, t, &m,
			        &next);
			w->evals++;
			if (e == CLM_OK && m != member && tell) {
				e = segw_event(job, rec->customer_id, s, m, t);
			}
			if (e != CLM_OK) {
				return e;
			}
			member = m;
			if (t == now_ms) {
				break;
			}
			/* Past the walk's bound, the rest is dated now. */
			t = next > now_ms || k == SEGW_WALK_MAX ? now_ms
			                                        : next;
		}
		due = next < due ? next : due;
		if (member) {
			ids[n++] = s->id;
		}
		if (member != was) {
			clm_err e = store_member_set(
			        txn, s->id, rec->customer_id, member, NULL);
			if (e != CLM_OK) {
				return e;
			}
		}
	}
	if (job != NULL) {
		segw_events_sort(job->events + first_event,
		        job->n_events - first_event);
	}
	qsort(ids, n, sizeof(*ids), segw_by_u32);
	int64_t due_ms = due == INT64_MAX ? 0 : due;
	/*
	 * An instant still to come and no later than the new one stays: the
	 * index may be early, never late, and most writes move a due
	 * instant later (since(last_seen), health), which would otherwise
	 * cost a delete and a put in seg_due each.
	 */
	int64_t old = rec->segment_due_ms;
	if (old > now_ms && (due_ms == 0 || old <= due_ms)) {
		due_ms = old;
	}
	if (due_ms != rec->segment_due_ms) {
		clm_err e = CLM_OK;
		if (rec->segment_due_ms > 0) {
			e = store_due_del(
			        txn, rec->segment_due_ms, rec->customer_id);
		}
		if (e == CLM_OK && due_ms > 0) {
			e = store_due_put(txn, due_ms, rec->customer_id);
		}
		if (e != CLM_OK) {
			return e;
		}
		rec->segment_due_ms = due_ms;
		*dirty = true;
	}
	if (n != rec->n_segment_ids
	        || (n > 0
	                && memcmp(ids, rec->segment_ids, n * sizeof(*ids))
	                        != 0)) {
		rec->segment_ids = ids;
		rec->n_segment_ids = n;
		*dirty = true;
	}
	return CLM_OK;
}

/*
 * A write came after the customer's due instant, before the background
 * step applied it: what time alone changed since is applied first, with
 * the customer as stored before the write, so those entries and exits
 * are published, dated when they happened (up to just before now, which
 * is the write's). rec takes the memberships and due instant that leaves.
 */
static clm_err
segw_catch_up(struct segw *w, struct writer_batch *b, writer_job *job,
        Clm__V1__CustomerRecord *rec, arena *a, bool *dirty)
{
	Clm__V1__CustomerRecord *old;
	clm_err e
	        = store_customer_get(b->txn, rec->customer_id, false, a, &old);
	if (e == CLM_NOT_FOUND) {
		return CLM_OK;
	}
	struct model_profile *op = arena_alloc(a, sizeof(*op));
	if (e == CLM_OK && op == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e != CLM_OK || old->segment_due_ms != rec->segment_due_ms) {
		return e; /* evaluated in this batch already */
	}
	record_to_profile(old, op);
	bool changed;
	e = segw_eval(w, b->txn, old->segment_due_ms, b->now_ms - 1, job, old,
	        op, a, NULL, &changed);
	if (e == CLM_OK) {
		rec->segment_ids = old->segment_ids;
		rec->n_segment_ids = old->n_segment_ids;
		rec->segment_due_ms = old->segment_due_ms;
		*dirty = *dirty || changed;
	}
	return e;
}

clm_err
segw_customer(struct segw *w, struct writer_batch *b, writer_job *job,
        Clm__V1__CustomerRecord *rec, const struct model_profile *p, arena *a,
        bool *dirty)
{
	*dirty = false;
	if (w == NULL || rec->anonymous) {
		return CLM_OK;
	}
	clm_err e = segw_load(w, b->txn);
	if (e != CLM_OK) {
		return e;
	}
	if (w->n == 0 && rec->n_segment_ids == 0 && rec->segment_due_ms == 0) {
		return CLM_OK; /* the common case without segments: no work */
	}
	if (rec->segment_due_ms > 0 && rec->segment_due_ms < b->now_ms) {
		e = segw_catch_up(w, b, job, rec, a, dirty);
		if (e != CLM_OK) {
			return e;
		}
	}
	bool changed;
	e = segw_eval(w, b->txn, b->now_ms, b->now_ms, job, rec, p, a, NULL,
	        &changed);
	*dirty = *dirty || changed;
	return e;
}

clm_err
segw_forget(struct segw *w, struct writer_batch *b, writer_job *job,
        const Clm__V1__CustomerRecord *rec)
{
	if (w == NULL || rec->anonymous) {
		return CLM_OK;
	}
	clm_err e = segw_load(w, b->txn);
	for (size_t i = 0; i < w->n && e == CLM_OK; i++) {
		const struct segw_seg *s = &w->segs[i];
		if (!segw_has(rec, s->id)) {
			continue;
		}
		bool changed;
		e = store_member_set(
		        b->txn, s->id, rec->customer_id, false, &changed);
		/* Silent where the backfill has not reached it (it entered
		 * silently), as in segw_eval. */
		if (e == CLM_OK && changed && job != NULL
		        && segw_reached(s, rec->customer_id)) {
			e = segw_event(
			        job, rec->customer_id, s, false, b->now_ms);
		}
	}
	if (e == CLM_OK && rec->segment_due_ms > 0) {
		e = store_due_del(
		        b->txn, rec->segment_due_ms, rec->customer_id);
	}
	return e;
}

/* Ids collected by a background step before it writes anything. */
struct segw_ids {
	arena *a;
	char **ids;
	int64_t *at;
	size_t n, cap;
	clm_err err;
};

static int
segw_collect(struct segw_ids *c, const char *id, int64_t at)
{
	if (c->n == c->cap) {
		c->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	c->ids[c->n] = arena_strdup(c->a, id);
	c->at[c->n] = at;
	if (c->ids[c->n] == NULL) {
		c->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	c->n++;
	return 0;
}

static int
segw_due_fn(void *arg, int64_t at_ms, const char *id)
{
	return segw_collect(arg, id, at_ms);
}

static int
segw_customer_fn(void *arg, const char *id, bool anonymous)
{
	struct segw_ids *c = arg;
	return anonymous ? 0 : segw_collect(c, id, 0);
}

static clm_err
segw_ids_init(struct segw_ids *c, arena *a)
{
	memset(c, 0, sizeof(*c));
	c->a = a;
	c->cap = SEGW_CHUNK;
	c->ids = arena_alloc(a, c->cap * sizeof(*c->ids));
	c->at = arena_alloc(a, c->cap * sizeof(*c->at));
	return c->ids != NULL && c->at != NULL ? CLM_OK
	                                       : CLM_RESOURCE_EXHAUSTED;
}

/*
 * Re-evaluates, at b->now_ms, the customers whose entry in the time index
 * is due: the events' at_ms is the entry's instant, when the change
 * happened (the writer runs this at least once a second).
 */
static clm_err
segw_step_due(struct segw *w, struct writer_batch *b, writer_job *job,
        bool *more, bool *did)
{
	struct segw_ids c;
	clm_err e = segw_ids_init(&c, &w->a);
	if (e == CLM_OK) {
		e = store_due_each(
		        b->txn, b->now_ms, SEGW_CHUNK, segw_due_fn, &c);
	}
	if (e == CLM_OK) {
		e = c.err;
	}
	*more = c.n == SEGW_CHUNK;
	*did = c.n > 0;
	w->evals = 0;
	for (size_t i = 0; i < c.n && e == CLM_OK; i++) {
		if (w->evals >= SEGW_STEP_EVALS) {
			*more = true; /* the rest stay due, for the next step
			               */
			break;
		}
		e = store_due_del(b->txn, c.at[i], c.ids[i]);
		struct profile *pr;
		if (e == CLM_OK) {
			e = profile_load(
			        b->txn, c.ids[i], false, false, &w->a, &pr);
		}
		if (e == CLM_NOT_FOUND) {
			e = CLM_OK; /* forgotten since */
			continue;
		}
		if (e != CLM_OK) {
			break;
		}
		if (pr->rec->segment_due_ms == c.at[i]) {
			pr->rec->segment_due_ms = 0; /* deleted just above */
		}
		bool dirty;
		e = segw_eval(w, b->txn, c.at[i], b->now_ms, job, pr->rec,
		        &pr->p, &w->a, NULL, &dirty);
		if (e == CLM_OK && dirty) {
			e = store_customer_put(b->txn, pr->rec, true);
		}
	}
	return e;
}

/*
 * A chunk of the backfills: the customers after the lowest cursor, each
 * evaluated silently for every backfilling segment that has not reached
 * it (segments defined together share one pass).
 */
static clm_err
segw_step_backfill(struct segw *w, struct writer_batch *b, bool *more,
        struct segw_progress *pg)
{
	const char *low = NULL;
	for (size_t i = 0; i < w->n; i++) {
		const struct segw_seg *s = &w->segs[i];
		if (s->backfilling
		        && (low == NULL || strcmp(s->after, low) < 0)) {
			low = s->after;
		}
	}
	struct segw_ids c;
	clm_err e = segw_ids_init(&c, &w->a);
	/* Known ids are printable: "\x02" sorts before all of them and
	 * after every anonymous key (0x01 ...). */
	if (e == CLM_OK) {
		e = store_customers_after(b->txn,
		        low[0] != '\0' ? low : "\x02", false, SEGW_CHUNK,
		        segw_customer_fn, &c);
	}
	if (e == CLM_OK) {
		e = c.err;
	}
	bool *mask = arena_alloc(&w->a, (w->n + 1) * sizeof(*mask));
	uint64_t *done = arena_zalloc(&w->a, (w->n + 1) * sizeof(*done));
	struct model_profile *p = arena_alloc(&w->a, sizeof(*p));
	if (e == CLM_OK && (mask == NULL || done == NULL || p == NULL)) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < c.n && e == CLM_OK; i++) {
		bool any = false;
		for (size_t k = 0; k < w->n; k++) {
			mask[k] = !segw_reached(&w->segs[k], c.ids[i]);
			done[k] += mask[k];
			any = any || mask[k];
		}
		Clm__V1__CustomerRecord *rec;
		if (any) {
			e = store_customer_get(
			        b->txn, c.ids[i], false, &w->a, &rec);
		}
		if (!any || e != CLM_OK) {
			continue;
		}
		/* The record's model facts alone: no aggregates move. */
		record_to_profile(rec, p);
		bool dirty;
		e = segw_eval(w, b->txn, b->now_ms, b->now_ms, NULL, rec, p,
		        &w->a, mask, &dirty);
		if (e == CLM_OK && dirty) {
			e = store_customer_put(b->txn, rec, true);
		}
	}
	/* Each backfilling segment's cursor moves past the chunk. */
	for (size_t k = 0; k < w->n && e == CLM_OK; k++) {
		struct segw_seg *s = &w->segs[k];
		if (!s->backfilling) {
			continue;
		}
		Clm__V1__SegmentRecord *rec;
		e = store_segment_get(b->txn, s->name, &w->a, &rec);
		if (e != CLM_OK) {
			break;
		}
		rec->backfill_done += done[k];
		if (c.n > 0
		        && strcmp(c.ids[c.n - 1], rec->backfill_after) > 0) {
			rec->backfill_after = c.ids[c.n - 1];
		}
		rec->backfilling = c.n == SEGW_CHUNK;
		if (pg != NULL && pg->name[0] == '\0') {
			snprintf(pg->name, sizeof(pg->name), "%s", rec->name);
			pg->done = rec->backfill_done;
			pg->total = rec->backfill_total;
		}
		e = store_segment_put(b->txn, rec);
		char *after = e == CLM_OK ? strdup(rec->backfill_after) : NULL;
		if (e == CLM_OK && after == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
		}
		if (e == CLM_OK) {
			free(s->after);
			s->after = after;
			s->backfilling = rec->backfilling;
		}
	}
	*more = true; /* the caller looks again */
	return e;
}

/* A chunk of the members of definitions that no longer exist. */
static clm_err
segw_step_drop(struct segw *w, struct writer_batch *b, bool *more, bool *did)
{
	uint32_t from = 0;
	for (;;) {
		uint32_t seg;
		bool found;
		clm_err e
		        = store_members_first_seg(b->txn, from, &seg, &found);
		if (e != CLM_OK || !found) {
			w->dropping = false;
			return e;
		}
		struct segw_seg key = { .id = seg };
		if (w->n == 0
		        || bsearch(&key, w->segs, w->n, sizeof(*w->segs),
		                   segw_by_id)
		                == NULL) {
			bool left;
			e = store_members_drop(b->txn, seg, SEGW_CHUNK, &left);
			*more = true;
			*did = true;
			return e;
		}
		if (seg == UINT32_MAX) {
			w->dropping = false;
			return CLM_OK;
		}
		from = seg + 1;
	}
}

clm_err
segw_step(struct segw *w, struct writer_batch *b, writer_job *job, bool *more,
        bool *did)
{
	*more = false;
	*did = false;
	w->ended = false;
	arena_reset(&w->a);
	clm_err e = segw_load(w, b->txn);
	if (e != CLM_OK) {
		return e;
	}
	e = segw_step_due(w, b, job, more, did);
	if (e != CLM_OK || *more) {
		return e;
	}
	for (size_t i = 0; i < w->n; i++) {
		if (w->segs[i].backfilling) {
			*did = true;
			e = segw_step_backfill(w, b, more, NULL);
			w->ended = e == CLM_OK;
			for (size_t k = 0; k < w->n && w->ended; k++) {
				w->ended = !w->segs[k].backfilling;
			}
			return e;
		}
	}
	if (w->dropping) {
		return segw_step_drop(w, b, more, did);
	}
	return CLM_OK;
}

clm_err
segw_backfill(struct segw *w, struct writer_batch *b, bool *more,
        struct segw_progress *pg)
{
	*more = false;
	pg->name[0] = '\0';
	arena_reset(&w->a);
	clm_err e = segw_load(w, b->txn);
	for (size_t i = 0; i < w->n && e == CLM_OK; i++) {
		if (w->segs[i].backfilling) {
			return segw_step_backfill(w, b, more, pg);
		}
	}
	return e;
}

bool
segw_backfill_ended(const struct segw *w)
{
	return w->ended;
}
