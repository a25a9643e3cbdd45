/*
 * Track: record touchpoints.
 *
 * The rpc thread validates every touchpoint (track_prepare) and fixes the
 * event time of those without one, so that a batch retried by the writer
 * sees the same times. The writer then applies the valid ones in order
 * (track_apply): dedupe on event_id, update the customer's profile through
 * the model, store the touchpoint and its idempotency key, and note every
 * change of the customer's current stage.
 */
#include <stdio.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "core/agg.h"
#include "core/model.h"
#include "store/profile.h"
#include "util/log.h"

struct track_state {
	const struct server *srv;
	Clm__V1__TrackRequest *req;
	bool *valid; /* per touchpoint */
	Clm__V1__TrackReply *reply;
};

/* Finds the first engagement in a rescan window (see model_rescan). */
static int
track_rescan_fn(
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
track_event(writer_job *job, const char *id, const Clm__V1__Touchpoint *tp,
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
 * The risk signal a touchpoint is, if any, published as risk/<REASON>: a
 * recent billing issue or refund (within its risk window of now), a
 * cancellation (within churn_days of now) that is now the customer's latest
 * word, and the moment the mean sentiment turns negative. Old history being
 * imported raises none.
 */
static int
track_risk_signal(const struct model_params *mp, const struct model_touch *t,
        bool neg_before, const struct model_profile *p, int64_t now_ms)
{
	bool neg_after;
	switch (t->type) {
	case MODEL_T_BILLING_ISSUE:
		return now_ms - t->at_ms <= mp->billing_issue_ms
		        ? MODEL_RECENT_BILLING_ISSUE
		        : MODEL_RISK_NONE;
	case MODEL_T_REFUND:
		return now_ms - t->at_ms <= mp->refund_ms ? MODEL_RECENT_REFUND
		                                          : MODEL_RISK_NONE;
	case MODEL_T_CANCELLATION:
		return now_ms - t->at_ms <= mp->churn_ms
		                && p->last_cancellation_ms == t->at_ms

		                && p->last_cancellation_ms
		                        > p->last_purchase_ms
		        ? MODEL_SUBSCRIPTION_CANCELLED
		        : MODEL_RISK_NONE;
	case MODEL_T_SOCIAL_MENTION:
	case MODEL_T_REVIEW:
	case MODEL_T_FEEDBACK:
		neg_after = model_sentiment_negative(p, mp);

		return !neg_before && neg_after ? MODEL_NEGATIVE_SENTIMENT
		                                : MODEL_RISK_NONE;
	default:
		return MODEL_RISK_NONE;
	}
}

static clm_err
track_touchpoint_in(struct writer_batch *b, writer_job *job, arena *a,
        const struct server *srv, Clm__V1__Touchpoint *tp, bool *duplicate)
{
	*duplicate = false;
	store_txn *txn = b->txn;

	if (tp->event_id[0] != '\0') {
		clm_err e = store_event_exists(txn, tp->event_id);
		if (e == CLM_OK) {
			*duplicate = true;
			return CLM_OK;
		}
		if (e != CLM_NOT_FOUND) {
			return e;
		}
	}

	/* An anonymous id linked by Identify belongs to its customer. */
	bool anonymous = tp->customer_id[0] == '\0';
	const char *id = anonymous ? tp->anonymous_id : tp->customer_id;
	if (anonymous) {
		char *owner;
		clm_err e = store_alias_get(txn, tp->anonymous_id, a, &owner);
		if (e == CLM_OK) {
			id = owner;
			anonymous = false;
		} else if (e != CLM_NOT_FOUND) {
			return e;
		}
	}
	struct profile *pr;
	clm_err e = profile_load(txn, id, anonymous, true, a, &pr);
	if (e != CLM_OK) {
		return e;
	}
	struct model_profile *p = &pr->p;
	/* What the events compare with, taken before the touchpoint. */
	int from = model_stage(p);
	bool neg_before = model_sentiment_negative(p, &srv->params);

	struct model_touch t;
	profile_touch(tp, tp->occurred_at_ms, store_next_seq(txn), &t);
	struct model_rescan rescan;
	model_apply(p, &t, &rescan);
	if (rescan.active) {
		e = store_touchpoints_scan(txn, pr->rec->cid, rescan.after_ms,
		        rescan.upto_ms, track_rescan_fn, p);
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
			Clm__V1__LifecycleEvent *ev = track_event(job, id, tp,
			        CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED,
			        at[to]);
			if (ev == NULL) {
				return CLM_RESOURCE_EXHAUSTED;
			}
			ev->from_stage = (Clm__V1__Stage) from;
			ev->to_stage = (Clm__V1__Stage) to;
		}
		int reason = track_risk_signal(
		        &srv->params, &t, neg_before, p, b->now_ms);
		if (reason != MODEL_RISK_NONE) {
			Clm__V1__LifecycleEvent *ev = track_event(job, id, tp,
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
		e = store_touchpoint_put(
		        txn, pr->rec->cid, t.at_ms, t.seq, tp);
	}
	if (e == CLM_OK) {
		e = agg_touch(txn, tp, t.at_ms, pr->rec->customer_id,
		        pr->rec->anonymous);
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
track_touchpoint(struct writer_batch *b, writer_job *job,
        const struct server *srv, Clm__V1__Touchpoint *tp, bool *duplicate)
{
	/*
	 * The loaded profile, its record and contribution lists die with
	 * the touchpoint: they go in the scratch arena, reset right after.
	 */
	arena *a = b->scratch != NULL ? b->scratch : job->arena;
	clm_err e = track_touchpoint_in(b, job, a, srv, tp, duplicate);
	if (a == b->scratch) {
		arena_reset(a);
	}
	return e;
}

static clm_err
track_apply(struct writer_batch *b, writer_job *job)
{
	struct track_state *s = job->arg;
	/* A retried batch starts over: reset what the last attempt counted. */
	s->reply->accepted = 0;
	s->reply->duplicates = 0;
	for (size_t i = 0; i < s->req->n_touchpoints; i++) {
		if (!s->valid[i]) {
			continue;
		}
		bool dup;
		clm_err e = track_touchpoint(
		        b, job, s->srv, s->req->touchpoints[i], &dup);
		if (e != CLM_OK) {
			return e;
		}
		if (dup) {
			s->reply->duplicates++;
		} else {
			s->reply->accepted++;
		}
	}
	/* The reply lists stage changes; risk signals are only published. */
	size_t n = 0;
	for (size_t i = 0; i < job->n_events; i++) {
		n += job->events[i]->kind
		        == CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED;
	}
	s->reply->n_changes = 0;
	s->reply->changes = arena_alloc(job->arena, (n + 1) * sizeof(void *));
	if (s->reply->changes == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < job->n_events; i++) {
		if (job->events[i]->kind
		        == CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED) {
			s->reply->changes[s->reply->n_changes++]
			        = job->events[i];
		}
	}
	return CLM_OK;
}

bool
track_prepare(struct dispatch_req *r)
{
	arena *a = r->a;
	Clm__V1__TrackRequest *req = r->req->track;
	Clm__V1__Response *resp = r->resp;
	const struct config *cfg = r->srv->cfg;

	if (req == NULL || req->n_touchpoints == 0) {
		reply_invalid(resp, a, "track.touchpoints",
		        "must hold at least one touchpoint");
		return false;
	}
	if (req->n_touchpoints > (size_t) cfg->max_touchpoints) {
		reply_invalid(resp, a, "track.touchpoints",
		        "holds %zu touchpoints, the limit is %lld per call",
		        req->n_touchpoints, (long long) cfg->max_touchpoints);
		return false;
	}
	struct track_state *s = arena_zalloc(a, sizeof(*s));
	Clm__V1__TrackReply *reply = arena_alloc(a, sizeof(*reply));
	bool *valid = arena_alloc(a, req->n_touchpoints * sizeof(bool));
	if (s == NULL || reply == NULL || valid == NULL) {
		reply_error(resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	clm__v1__track_reply__init(reply);
	s->srv = r->srv;
	s->req = req;
	s->valid = valid;
	s->reply = reply;

	/* All violations, for the top-level status if nothing is valid. */
	struct violations all;
	violations_init(&all, a);
	size_t n_valid = 0, n_rejected = 0, rejected_cap = 0;
	for (size_t i = 0; i < req->n_touchpoints; i++) {
		Clm__V1__Touchpoint *tp = req->touchpoints[i];
		char prefix[48];
		snprintf(prefix, sizeof(prefix), "touchpoints[%zu]", i);
		struct violations v;
		violations_init(&v, a);
		valid[i] = validate_touchpoint(
		        tp, &r->srv->limits, r->now_ms, prefix, &v);
		if (valid[i]) {
			if (tp->occurred_at_ms == 0) {
				tp->occurred_at_ms = r->now_ms;
			}
			n_valid++;
			continue;
		}
		n_rejected++;
		for (size_t k = 0; k < v.n; k++) {
			violations_add(&all, v.items[k]->field, "%s",
			        v.items[k]->description);
		}
		Clm__V1__ItemError *ie = arena_alloc(a, sizeof(*ie));
		if (ie == NULL) {
			reply_error(resp, a, CLM_RESOURCE_EXHAUSTED,
			        "out of memory");
			return false;
		}
		clm__v1__item_error__init(ie);
		ie->index = (uint32_t) i;
		ie->status = reply_status(a, CLM_INVALID_ARGUMENT,
		        v.n == 0 ? "invalid touchpoint"
		                 : arena_printf(a, "%s: %s", v.items[0]->field,
		                         v.items[0]->description),
		        &v);
		Clm__V1__ItemError **arr = arena_grow(a, reply->rejected,
		        reply->n_rejected, &rejected_cap, sizeof(*arr));
		if (arr == NULL) {
			reply_error(resp, a, CLM_RESOURCE_EXHAUSTED,
			        "out of memory");
			return false;
		}
		reply->rejected = arr;
		reply->rejected[reply->n_rejected++] = ie;
	}
	resp->result_case = CLM__V1__RESPONSE__RESULT_TRACK;
	resp->track = reply;
	if (n_valid == 0) {
		/* all.n is 0 only if memory ran out while listing them. */
		resp->status = reply_status(a, CLM_INVALID_ARGUMENT,
		        all.n == 0
		                ? "every touchpoint was rejected"
		                : arena_printf(a,
		                        "every touchpoint was rejected (%zu); first: %s: %s",
		                        n_rejected, all.items[0]->field,
		                        all.items[0]->description),
		        &all);
		return false;
	}
	r->job.apply = track_apply;
	r->job.arg = s;
	r->job.items = n_valid;
	return true;
}
