/*
 * ingest: applying one touchpoint in the writer, for every call that
 * records one (Track, and Recommend with claim, which records what it sent).
 */
#include "write/ingest.h"

#include <stdio.h>
#include <string.h>

#include "core/model.h"
#include "core/risk.h"
#include "store/agg_write.h"
#include "store/profile.h"

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
	e = profile_load(txn, id, anonymous, true, a, &pr);
	if (e != CLM_OK) {
		return e;
	}
	struct model_profile *p = &pr->p;
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
	if (e == CLM_OK) {
		e = profile_save(txn, pr, a);
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
	arena *a = b->scratch != NULL ? b->scratch : job->arena;
	clm_err e = ingest_touchpoint_in(b, job, a, mp, tp, res);
	if (a == b->scratch) {
		arena_reset(a);
	}
	return e;
}
