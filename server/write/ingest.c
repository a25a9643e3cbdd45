/*
 * ingest: applying one touchpoint in the writer, for every call that
 * records one (Track, and Recommend with claim, which records what it sent).
 */
#include "write/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "core/risk.h"
#include "store/agg_write.h"
#include "store/profile.h"
#include "write/journey.h"
#include "write/segment.h"

/* Finds the first engagement in a rescan window (see model_rescan). */
static int
ingest_rescan_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) seq;
	struct model_profile *p = arg;
	if (model_is_engagement((int) tp->type)) {
		model_note_engagement(p, at_ms);
		return 1; /* the scan is in time order: the first one is it */
	}
	return 0;
}

/* An event lives in the job's arena: id may be in the writer's scratch. */
static Clm__V1__LifecycleEvent *
ingest_event(writer_job *job, const char *id, const Clm__V1__Touchpoint *tp,
        Clm__V1__LifecycleEventKind kind, int64_t at_ms)
{
	Clm__V1__LifecycleEvent *ev = writer_job_event(job);
	char *copy = arena_strdup(job->arena, id);
	if (ev == NULL || copy == NULL) {
		return NULL;
	}
	ev->kind = kind;
	ev->customer_id = copy;
	ev->at_ms = at_ms;
	ev->event_id = tp->event_id;
	return ev;
}

/*
 * Past these the cache saves what it holds and starts over. Few
 * profiles: each is a 13.5 KB struct model_profile, and a cache of a
 * hundred streams them through the CPU's caches, where the next one
 * would have reused the last one's memory; at a million customers, whose
 * touchpoints seldom meet again in a batch, that cost track-batch 15-25 %
 * of its throughput. A few catch what a cache is for: a customer's
 * consecutive touchpoints (clm import, a session's batch); it holds three
 * between touchpoints, the fourth one loaded saves them all. The bytes
 * (arena_used, what the profiles and their touchpoints' work took; not
 * a.total, the chunks, which stay at the 2 MiB arena_reset keeps) are a
 * bound that keeps the arena within that chunk whatever a touchpoint's
 * work allocates; runs of one customer do not reach it (20,000 purchases
 * of distinct items stayed under it, the record's lists being capped).
 */
#define INGEST_CACHE_MAX   4
#define INGEST_CACHE_SLOTS 8 /* a power of two, twice the above */
#define INGEST_CACHE_BYTES (3u << 19)

struct ingest_cache {
	arena a; /* the cached profiles and their touchpoints' work */
	struct profile *slot[INGEST_CACHE_SLOTS];
	struct profile *order[INGEST_CACHE_MAX]; /* in order of loading */
	uint16_t used[INGEST_CACHE_MAX];         /* their slots */
	size_t n;
	/* Changed by pending_job, segments not evaluated yet. */
	struct profile *pending[INGEST_CACHE_MAX];
	size_t n_pending;
	writer_job *pending_job;
	uint64_t loads; /* ingest_cache_loads */
};

struct ingest_cache *
ingest_cache_new(void)
{
	struct ingest_cache *c = calloc(1, sizeof(*c));
	if (c != NULL) {
		arena_init(&c->a);
	}
	return c;
}

void
ingest_cache_free(struct ingest_cache *c)
{
	if (c != NULL) {
		arena_fini(&c->a);
		free(c);
	}
}

void
ingest_cache_drop(struct ingest_cache *c)
{
	if (c == NULL) {
		return;
	}
	for (size_t i = 0; i < c->n; i++) {
		c->slot[c->used[i]] = NULL;
	}
	c->n = 0;
	c->n_pending = 0;
	c->pending_job = NULL;
	arena_reset(&c->a);
}

uint64_t
ingest_cache_loads(const struct ingest_cache *c)
{
	return c->loads;
}

clm_err
ingest_settle(struct writer_batch *b)
{
	struct ingest_cache *c = b->cache;
	if (c == NULL) {
		return CLM_OK;
	}
	clm_err e = CLM_OK;
	for (size_t i = 0; i < c->n_pending && e == CLM_OK; i++) {
		struct profile *pr = c->pending[i];
		bool dirty;
		pr->seg_pending = false;
		e = segw_customer(b->segs, b, c->pending_job, pr->rec, &pr->p,
		        &c->a, &dirty);
		if (e == CLM_OK) {
			e = jw_customer(b->jny, b, c->pending_job, pr,
			        pr->jny_ev_from, &c->a, &dirty);
		}
	}
	c->n_pending = 0;
	c->pending_job = NULL;
	return e;
}

clm_err
ingest_cache_flush(struct writer_batch *b)
{
	struct ingest_cache *c = b->cache;
	if (c == NULL) {
		return CLM_OK;
	}
	clm_err e = ingest_settle(b);
	for (size_t i = 0; i < c->n && e == CLM_OK; i++) {
		e = profile_save(b->txn, c->order[i], &c->a);
	}
	ingest_cache_drop(c);
	return e;
}

static uint32_t
ingest_cache_hash(const char *id, bool anonymous)
{
	uint32_t h = anonymous ? 0x811c9dc5u ^ 1u : 0x811c9dc5u;
	for (const unsigned char *p = (const unsigned char *) id; *p; p++) {
		h = (h ^ *p) * 16777619u;
	}
	return h;
}

/*
 * Loads the profile of id (created when missing), from b's cache when it
 * has it; a profile loaded from the store joins the cache. Profiles then
 * live in the cache's arena, a.
 */
static clm_err
ingest_profile(struct writer_batch *b, const char *id, bool anonymous,
        arena *a, struct profile **out)
{
	struct ingest_cache *c = b->cache;
	if (c == NULL) {
		return profile_load(b->txn, id, anonymous, true, a, out);
	}
	uint32_t at
	        = ingest_cache_hash(id, anonymous) & (INGEST_CACHE_SLOTS - 1);
	for (; c->slot[at] != NULL; at = (at + 1) & (INGEST_CACHE_SLOTS - 1)) {
		const Clm__V1__CustomerRecord *r = c->slot[at]->rec;
		if (r->anonymous == anonymous
		        && strcmp(r->customer_id, id) == 0) {
			*out = c->slot[at];
			return CLM_OK;
		}
	}
	clm_err e = profile_load(b->txn, id, anonymous, true, a, out);
	if (e != CLM_OK) {
		return e;
	}
	c->loads++;
	/* The caller flushes before the cache can be full. */
	c->slot[at] = *out;
	c->used[c->n] = (uint16_t) at;
	c->order[c->n++] = *out;
	return CLM_OK;
}

static clm_err
ingest_touchpoint_in(struct writer_batch *b, writer_job *job, arena *a,
        const struct model_params *mp, Clm__V1__Touchpoint *tp,
        struct ingest_result *res)
{
	res->duplicate = false;
	res->linked_to = NULL;
	store_txn *txn = b->txn;

	if (tp->event_id[0] != '\0') {
		clm_err e = store_event_exists(txn, tp->event_id);
		if (e == CLM_OK) {
			res->duplicate = true;
			return CLM_OK;
		}
		if (e != CLM_NOT_FOUND) {
			return e;
		}
	}

	/*
	 * An anonymous id linked by Identify belongs to its customer; and a
	 * customer id that is such an anonymous id of another customer is
	 * refused rather than made a second person (calls/identify.c).
	 */
	bool anonymous = tp->customer_id[0] == '\0';
	const char *id = anonymous ? tp->anonymous_id : tp->customer_id;
	char *owner;
	clm_err e = store_alias_get(txn, id, a, &owner);
	if (e == CLM_OK && anonymous) {
		id = owner;
		anonymous = false;
	} else if (e == CLM_OK && strcmp(owner, id) != 0) {
		res->linked_to = arena_strdup(job->arena, owner);
		return res->linked_to != NULL ? CLM_OK
		                              : CLM_RESOURCE_EXHAUSTED;
	} else if (e != CLM_OK && e != CLM_NOT_FOUND) {
		return e;
	}
	struct profile *pr;
	e = ingest_profile(b, id, anonymous, a, &pr);
	if (e != CLM_OK) {
		return e;
	}
	struct model_profile *p = &pr->p;
	if (!pr->seg_pending) {
		/* The first touchpoint of this job for the customer. */
		pr->jny_ev_from = job->n_events;
	}
	/* What the events compare with, taken before the touchpoint. */
	int from = model_stage(p);
	bool neg_before = risk_sentiment_negative(p, mp);

	struct model_touch t;
	profile_touch(tp, tp->occurred_at_ms, store_next_seq(txn), &t);
	struct model_rescan rescan;
	model_apply(p, &t, &rescan);
	if (rescan.active) {
		e = store_touchpoints_scan(txn, pr->rec->cid, rescan.after_ms,
		        rescan.upto_ms, ingest_rescan_fn, p);
		if (e != CLM_OK) {
			return e;
		}
	}

	/*
	 * Events are about customers: an anonymous profile's changes show
	 * up when Identify merges it.
	 */
	if (!anonymous) {
		int to = model_stage(p);
		if (from != to) {
			int64_t at[MODEL_N_STAGES];
			model_reached_at(p, at);
			Clm__V1__LifecycleEvent *ev = ingest_event(job, id, tp,
			        CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED,
			        at[to]);
			if (ev == NULL) {
				return CLM_RESOURCE_EXHAUSTED;
			}
			ev->from_stage = (Clm__V1__Stage) from;
			ev->to_stage = (Clm__V1__Stage) to;
		}
		int reason = risk_signal(mp, &t, neg_before, p, b->now_ms);
		if (reason != MODEL_RISK_NONE) {
			Clm__V1__LifecycleEvent *ev = ingest_event(job, id, tp,
			        CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL,
			        t.at_ms);
			if (ev == NULL) {
				return CLM_RESOURCE_EXHAUSTED;
			}
			ev->reason = (Clm__V1__RiskReason) reason;
		}
	}
	e = profile_note(pr, tp, t.at_ms, a);
	if (e == CLM_OK && !anonymous) {
		e = jw_note(b->jny, b, pr, tp, t.at_ms, a);
	}
	if (e == CLM_OK) {
		e = store_touchpoint_add(
		        txn, pr->rec->cid, t.at_ms, t.seq, tp);
	}
	if (e == CLM_OK) {
		e = agg_write_touch(txn, b->visits, tp, t.at_ms,
		        pr->rec->customer_id, pr->rec->anonymous);
	}
	if (e == CLM_OK && tp->event_id[0] != '\0') {
		e = store_event_put(
		        txn, tp->event_id, pr->rec->cid, t.at_ms, t.seq);
	}
	if (e == CLM_OK && b->cache == NULL) {
		bool dirty;
		e = segw_customer(b->segs, b, job, pr->rec, p, a, &dirty);
		if (e == CLM_OK) {
			e = jw_customer(b->jny, b, job, pr, pr->jny_ev_from, a,
			        &dirty);
		}
		if (e == CLM_OK) {
			e = profile_save(txn, pr, a);
		}
	} else if (e == CLM_OK && !pr->seg_pending && b->segs != NULL
	        && !anonymous) {
		/* Evaluated once per job, when it ends (ingest_settle). */
		struct ingest_cache *c = b->cache;
		if (c->n_pending > 0 && c->pending_job != job) {
			e = ingest_settle(b);
		}
		pr->seg_pending = true;
		c->pending[c->n_pending++] = pr;
		c->pending_job = job;
	}
	return e;
}

clm_err
ingest_touchpoint(struct writer_batch *b, writer_job *job,
        const struct model_params *mp, Clm__V1__Touchpoint *tp,
        struct ingest_result *res)
{
	/*
	 * The loaded profile, its record and contribution lists die with
	 * the touchpoint: they go in the scratch arena, reset right after.
	 */
	if (b->cache != NULL) {
		struct ingest_cache *c = b->cache;
		clm_err e = ingest_touchpoint_in(b, job, &c->a, mp, tp, res);
		if (e == CLM_OK
		        && (c->n == INGEST_CACHE_MAX
		                || arena_used(&c->a) > INGEST_CACHE_BYTES)) {
			e = ingest_cache_flush(b);
		}
		return e;
	}
	arena *a = b->scratch != NULL ? b->scratch : job->arena;
	clm_err e = ingest_touchpoint_in(b, job, a, mp, tp, res);
	if (a == b->scratch) {
		arena_reset(a);
	}
	return e;
}
