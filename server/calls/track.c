/*
 * Track: record touchpoints.
 *
 * The rpc thread validates every touchpoint (track_prepare) and fixes the
 * event time of those without one, so that a batch retried by the writer
 * sees the same times. The writer then applies the valid ones in order
 * (track_apply): dedupe on event_id, update the customer's profile through
 * the model, store the touchpoint and its idempotency key, and note every
 * change of the customer's current stage. A touchpoint whose customer_id
 * is another customer's anonymous id is refused there, in the writer (it
 * depends on what is stored), and joins the rejected ones.
 */
#include <stdio.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "util/log.h"
#include "write/ingest.h"

struct track_state {
	/*
	 * The thresholds the touchpoints' risk signals are decided with:
	 * the server's, or those a cluster part carries (calls/replay.h
	 * CALL_ENTRY_POLICY), so every node decides alike.
	 */
	struct model_params params;
	Clm__V1__TrackRequest *req;
	bool *valid; /* per touchpoint */
	Clm__V1__TrackReply *reply;
	/* The invalid ones, in index order (track_prepare). */
	Clm__V1__ItemError **invalid;
	size_t n_invalid;
	/* The refused ones, in index order (track_apply). */
	Clm__V1__ItemError **refused;
	size_t n_refused, refused_cap;
};

/* Notes touchpoint i as refused: its customer_id is linked_to's. */
static clm_err
track_refuse(struct track_state *s, arena *a, size_t i, const char *linked_to)
{
	const char *cid = s->req->touchpoints[i]->customer_id;
	char field[64];
	snprintf(field, sizeof(field), "touchpoints[%zu].customer_id", i);
	Clm__V1__ItemError *ie = arena_alloc(a, sizeof(*ie));
	Clm__V1__ItemError **arr = arena_grow(
	        a, s->refused, s->n_refused, &s->refused_cap, sizeof(*arr));
	if (ie == NULL || arr == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__item_error__init(ie);
	ie->index = (uint32_t) i;
	ie->status = reply_field_status(a, CLM_FAILED_PRECONDITION, field,
	        "'%s' is already an anonymous id linked to customer '%s', so it cannot also be a customer id; use customer_id '%s'",
	        cid, linked_to, linked_to);
	s->refused = arr;
	s->refused[s->n_refused++] = ie;
	return CLM_OK;
}

/*
 * The reply's rejected list: the invalid and the refused touchpoints, in
 * index order. If nothing was stored or found stored, the call's status
 * is that of a Track that rejected every touchpoint.
 */
static clm_err
track_rejected(struct track_state *s, Clm__V1__Response *resp, arena *a)
{
	Clm__V1__TrackReply *reply = s->reply;
	if (s->n_refused == 0) {
		reply->rejected = s->invalid;
		reply->n_rejected = s->n_invalid;
		return CLM_OK;
	}
	size_t n = s->n_invalid + s->n_refused;
	Clm__V1__ItemError **all = arena_alloc(a, n * sizeof(*all));
	if (all == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0, r = 0, k = 0; k < n; k++) {
		bool take_invalid = r == s->n_refused
		        || (i < s->n_invalid
		                && s->invalid[i]->index
		                        < s->refused[r]->index);
		all[k] = take_invalid ? s->invalid[i++] : s->refused[r++];
	}
	reply->rejected = all;
	reply->n_rejected = n;
	if (reply->accepted > 0 || reply->duplicates > 0) {
		return CLM_OK;
	}
	/*
	 * Every touchpoint was rejected: INVALID_ARGUMENT if one was
	 * invalid (as when track_prepare rejects them all), else
	 * FAILED_PRECONDITION.
	 */
	track_rejected_status(resp, a,
	        s->n_invalid > 0 ? CLM_INVALID_ARGUMENT
	                         : CLM_FAILED_PRECONDITION);
	return CLM_OK;
}

void
track_rejected_status(Clm__V1__Response *resp, arena *a, clm_err code)
{
	const Clm__V1__TrackReply *reply = resp->track;
	size_t n = reply->n_rejected;
	/* Every violation, the first one quoted. */
	struct violations v;
	violations_init(&v, a);
	for (size_t k = 0; k < n; k++) {
		const Clm__V1__Status *st = reply->rejected[k]->status;
		for (size_t j = 0; j < st->n_violations; j++) {
			violations_add(&v, st->violations[j]->field, "%s",
			        st->violations[j]->description);
		}
	}
	resp->status = reply_status(a, code,
	        v.n == 0
	                ? "every touchpoint was rejected"
	                : arena_printf(a,
	                        "every touchpoint was rejected (%zu); first: %s: %s",
	                        n, v.items[0]->field, v.items[0]->description),
	        &v);
}

/* Whether TrackReply.changes lists an event of this kind. */
static bool
track_listed(Clm__V1__LifecycleEventKind kind)
{
	return kind == CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED
	        || kind == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED
	        || kind == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED;
}

static clm_err
track_apply(struct writer_batch *b, writer_job *job)
{
	struct track_state *s = job->arg;
	/* A retried batch starts over: reset what the last attempt counted. */
	s->reply->accepted = 0;
	s->reply->duplicates = 0;
	s->n_refused = 0;
	job->resp->status = NULL;
	for (size_t i = 0; i < s->req->n_touchpoints; i++) {
		if (!s->valid[i]) {
			continue;
		}
		struct ingest_result res;
		clm_err e = ingest_touchpoint(
		        b, job, &s->params, s->req->touchpoints[i], &res);
		if (e == CLM_OK && res.linked_to != NULL) {
			e = track_refuse(s, job->arena, i, res.linked_to);
		} else if (e == CLM_OK && res.duplicate) {
			s->reply->duplicates++;
		} else if (e == CLM_OK) {
			s->reply->accepted++;
		}
		if (e != CLM_OK) {
			return e;
		}
	}
	clm_err e = ingest_settle(b);
	if (e == CLM_OK) {
		e = track_rejected(s, job->resp, job->arena);
	}
	if (e != CLM_OK) {
		return e;
	}
	/*
	 * The reply lists stage changes and segment entries and exits; risk
	 * signals are only published.
	 */
	size_t n = 0;
	for (size_t i = 0; i < job->n_events; i++) {
		n += track_listed(job->events[i]->kind);
	}
	s->reply->n_changes = 0;
	s->reply->changes = arena_alloc(job->arena, (n + 1) * sizeof(void *));
	if (s->reply->changes == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < job->n_events; i++) {
		if (track_listed(job->events[i]->kind)) {
			s->reply->changes[s->reply->n_changes++]
			        = job->events[i];
		}
	}
	return CLM_OK;
}

/*
 * Readies job to apply the touchpoints of req marked in valid (n_valid of
 * them), with reply as its result, whose rejected list holds the invalid
 * ones already, deciding with the thresholds mp (copied): the part of
 * track_prepare that track_build shares.
 */
static clm_err
track_job(const struct model_params *mp, writer_job *job,
        Clm__V1__TrackRequest *req, bool *valid, size_t n_valid,
        Clm__V1__TrackReply *reply)
{
	struct track_state *s = arena_zalloc(job->arena, sizeof(*s));
	if (s == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	s->params = *mp;
	s->req = req;
	s->valid = valid;
	s->reply = reply;
	s->invalid = reply->rejected;
	s->n_invalid = reply->n_rejected;
	job->resp->result_case = CLM__V1__RESPONSE__RESULT_TRACK;
	job->resp->track = reply;
	job->apply = track_apply;
	job->arg = s;
	job->items = n_valid;
	return CLM_OK;
}

/*
 * The journal entry: the valid touchpoints, stamped. Most Tracks have no
 * invalid one, and then the request's own list is packed as it is.
 */
static clm_err
track_journal(writer_job *job, Clm__V1__TrackRequest *req, const bool *valid,
        size_t n_valid)
{
	Clm__V1__TrackRequest only = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_TRACK;
	j.track = req;
	if (n_valid < req->n_touchpoints) {
		only.touchpoints = arena_alloc(
		        job->arena, n_valid * sizeof(*only.touchpoints));
		if (only.touchpoints == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		for (size_t i = 0; i < req->n_touchpoints; i++) {
			if (valid[i]) {
				only.touchpoints[only.n_touchpoints++]
				        = req->touchpoints[i];
			}
		}
		j.track = &only;
	}
	return call_journal(job, &j, NULL);
}

clm_err
track_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	Clm__V1__TrackRequest *req = q->track;
	if (req->n_touchpoints == 0) {
		return CLM_DATA_LOSS; /* track_prepare refuses an empty one */
	}
	Clm__V1__TrackReply *reply = arena_alloc(job->arena, sizeof(*reply));
	bool *valid
	        = arena_alloc(job->arena, req->n_touchpoints * sizeof(bool));
	if (reply == NULL || valid == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__track_reply__init(reply);
	for (size_t i = 0; i < req->n_touchpoints; i++) {
		valid[i] = true;
	}
	/* A cluster part carries its thresholds (calls/replay.h). */
	return track_job(pol != NULL ? &pol->params : &srv->params, job, req,
	        valid, req->n_touchpoints, reply);
}

bool
track_prepare(struct call_req *r)
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
	Clm__V1__TrackReply *reply = arena_alloc(a, sizeof(*reply));
	bool *valid = arena_alloc(a, req->n_touchpoints * sizeof(bool));
	if (reply == NULL || valid == NULL) {
		reply_error(resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	clm__v1__track_reply__init(reply);

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
	if (track_journal(&r->job, req, valid, n_valid) != CLM_OK
	        || track_job(&r->srv->params, &r->job, req, valid, n_valid,
	                   reply)
	                != CLM_OK) {
		resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
		reply_error(resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}
