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
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "log.h"
#include "model.h"
#include "record.h"
#include "reply.h"
#include "validate.h"

struct track_state {
	Clm__V1__TrackRequest *req;
	bool *valid; /* per touchpoint */
	Clm__V1__TrackReply *reply;
};

static int64_t
track_micros(double value)
{
	/* Validation bounds |value| by 1e12, so this cannot overflow. */
	return (int64_t) llround(value * 1e6);
}

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

static clm_err
track_one(struct writer_batch *b, writer_job *job, Clm__V1__Touchpoint *tp,
        struct model_profile *p)
{
	struct track_state *s = job->arg;
	arena *a = job->arena;
	store_txn *txn = b->txn;

	if (tp->event_id[0] != '\0') {
		clm_err e = store_event_exists(txn, tp->event_id);
		if (e == CLM_OK) {
			s->reply->duplicates++;
			return CLM_OK;
		}
		if (e != CLM_NOT_FOUND) {
			return e;
		}
	}

	bool anonymous = tp->customer_id[0] == '\0';
	const char *id = anonymous ? tp->anonymous_id : tp->customer_id;
	Clm__V1__CustomerRecord *rec;
	clm_err e = store_customer_get(txn, id, anonymous, a, &rec);
	if (e == CLM_NOT_FOUND) {
		rec = arena_alloc(a, sizeof(*rec));
		if (rec == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		clm__v1__customer_record__init(rec);
		rec->customer_id = (char *) id;
		rec->anonymous = anonymous;
		rec->cid = store_next_cid(txn);
	} else if (e != CLM_OK) {
		return e;
	}
	record_to_profile(rec, p);

	struct model_touch t = {
		.type = (int) tp->type,
		.channel = (int) tp->channel,
		.at_ms = tp->occurred_at_ms,
		.seq = store_next_seq(txn),
		.item_id = tp->item_id,
		.value_micros = track_micros(tp->value),
	};
	int before = model_stage(p);
	struct model_rescan rescan;
	model_apply(p, &t, &rescan);
	if (rescan.active) {
		e = store_touchpoints_scan(txn, rec->cid, rescan.after_ms,
		        rescan.upto_ms, track_rescan_fn, p);
		if (e != CLM_OK) {
			return e;
		}
	}
	int after = model_stage(p);
	if (after != before) {
		int64_t at[MODEL_N_STAGES];
		model_reached_at(p, at);
		Clm__V1__LifecycleEvent *ev = writer_job_event(job);
		if (ev == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		ev->kind = CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED;
		ev->customer_id = (char *) id;
		ev->from_stage = (Clm__V1__Stage) before;
		ev->to_stage = (Clm__V1__Stage) after;
		ev->at_ms = at[after];
		ev->event_id = tp->event_id;
	}
	if (record_from_profile(p, rec, a) != 0) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = store_touchpoint_put(txn, rec->cid, t.at_ms, t.seq, tp);
	if (e == CLM_OK && tp->event_id[0] != '\0') {
		e = store_event_put(
		        txn, tp->event_id, rec->cid, t.at_ms, t.seq);
	}
	if (e == CLM_OK) {
		e = store_customer_put(txn, rec);
	}
	if (e == CLM_OK) {
		s->reply->accepted++;
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
	struct model_profile *p = arena_alloc(job->arena, sizeof(*p));
	if (p == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < s->req->n_touchpoints; i++) {
		if (!s->valid[i]) {
			continue;
		}
		clm_err e = track_one(b, job, s->req->touchpoints[i], p);
		if (e != CLM_OK) {
			return e;
		}
	}
	s->reply->n_changes = job->n_events;
	s->reply->changes = job->events;
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
	s->req = req;
	s->valid = valid;
	s->reply = reply;

	/* All violations, for the top-level status if nothing is valid. */
	struct violations all;
	violations_init(&all, a);
	size_t n_valid = 0, n_rejected = 0;
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
		        arena_printf(a, "%s: %s", v.items[0]->field,
		                v.items[0]->description),
		        &v);
		/* Grow the rejected list geometrically in the arena. */
		if ((reply->n_rejected & (reply->n_rejected - 1)) == 0) {
			size_t cap = reply->n_rejected ? reply->n_rejected * 2
			                               : 1;
			Clm__V1__ItemError **arr
			        = arena_alloc(a, cap * sizeof(*arr));
			if (arr == NULL) {
				reply_error(resp, a, CLM_RESOURCE_EXHAUSTED,
				        "out of memory");
				return false;
			}
			if (reply->n_rejected > 0) {
				memcpy(arr, reply->rejected,
				        reply->n_rejected * sizeof(*arr));
			}
			reply->rejected = arr;
		}
		reply->rejected[reply->n_rejected++] = ie;
	}
	resp->result_case = CLM__V1__RESPONSE__RESULT_TRACK;
	resp->track = reply;
	if (n_valid == 0) {
		resp->status = reply_status(a, CLM_INVALID_ARGUMENT,
		        arena_printf(a,
		                "every touchpoint was rejected (%zu); first: "
		                "%s: %s",
		                n_rejected, all.items[0]->field,
		                all.items[0]->description),
		        &all);
		return false;
	}
	r->job.apply = track_apply;
	r->job.arg = s;
	return true;
}
