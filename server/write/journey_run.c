/*
 * jw_fire (write/journey.h): a fire entry's due steps, run at the batch's
 * instant (docs/journeys.md "How steps run"): late, exit, if, caps, send.
 *
 * An item runs only when the customer's state still has its entry at its
 * step (whichever timer brought it), so the same entry applied twice (a
 * replay, or two nodes of a cluster firing the same timer) runs each step
 * once. An item whose customer has no state of that entry at step 0 re-creates
 * it: the entry was derived by a background step (no journal entry) that a
 * crash lost, and the fire entry, journaled, is what was acknowledged.
 */
#include "write/journey_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/recommend.h"
#include "util/log.h"
#include "write/ingest.h"

/* What running one item's step decided. */
enum jw_outcome {
	JW_WAIT,      /* not due yet (an exit timer): a new timer */
	JW_EXIT,      /* exit holds */
	JW_LATE,      /* skipped: late */
	JW_CONDITION, /* skipped: if is false */
	JW_CAPPED,    /* skipped: capped */
	JW_HELD,      /* capped, waits: a new timer */
	JW_SEND,      /* the message is claimed */
	JW_COMPLETE   /* no such step (redefined): completed */
};

/* The statistic of a skip. */
static enum store_jstat
jw_skip_stat(enum jw_outcome o)
{
	switch (o) {
	case JW_LATE:
		return STORE_JSTAT_SKIPPED_LATE;
	case JW_CONDITION:
		return STORE_JSTAT_SKIPPED_CONDITION;
	default:
		return STORE_JSTAT_SKIPPED_CAPPED;
	}
}

/* Decides what st's step does at now_ms; *next: when the exit may change. */
static clm_err
jw_decide(struct jw *w, struct writer_batch *b, const struct jw_def *jd,
        struct profile *pr, Clm__V1__JourneyState *st,
        const struct jw_policy *pol, enum jw_outcome *out, int64_t *next,
        int64_t *free_ms)
{
	const struct jny_def *d = jd->d;
	int64_t now = b->now_ms;
	if (st->step >= d->n_steps) {
		*out = JW_COMPLETE;
		return CLM_OK;
	}
	const struct jny_step *s = &d->steps[st->step];
	int64_t step_due = st->step_due_ms != 0 ? st->step_due_ms : st->due_ms;
	if (now >= step_due && now - step_due > d->max_lateness_ms) {
		*out = JW_LATE;
		return CLM_OK;
	}
	bool holds;
	clm_err e = jw_cond(w, b->txn, jd, d->exit, pr->rec, &pr->p,
	        &pol->params, st->entered_ms, now, &holds, next);
	if (e != CLM_OK || holds) {
		*out = JW_EXIT;
		return e;
	}
	if (now < step_due) {
		*out = JW_WAIT;
		return CLM_OK;
	}
	if (s->cond != NULL) {
		int64_t ignore;
		e = jw_cond(w, b->txn, jd, s->cond, pr->rec, &pr->p,
		        &pol->params, st->entered_ms, now, &holds, &ignore);
		if (e != CLM_OK) {
			return e;
		}
		if (!holds) {
			*out = JW_CONDITION;
			return CLM_OK;
		}
	}
	struct recommend_params rp;
	recommend_params_default(&rp);
	rp.cap_messages = pol->cap_messages;
	rp.cap_ms = pol->cap_ms;
	rp.quiet_ms = pol->quiet_ms;
	char why[128];
	if (recommend_cap_check(
	            &pr->p, &rp, s->channel, now, free_ms, why, sizeof(why))) {
		*out = s->when_capped == JNY_CAPPED_SKIP ? JW_CAPPED : JW_HELD;
		return CLM_OK;
	}
	*out = JW_SEND;
	return CLM_OK;
}

/*
 * Claims step k's message of st for customer_id: the MESSAGE_SENT
 * touchpoint, the feed, the event in job, the webhook's delivery.
 */
static clm_err
jw_send(struct writer_batch *b, writer_job *job, const struct jw_def *jd,
        const char *customer_id, const Clm__V1__JourneyState *st, uint32_t k,
        const struct jw_policy *pol)
{
	const struct jny_def *d = jd->d;
	const struct jny_step *s = &d->steps[k];
	arena *a = job->arena;
	char mid[JNY_MESSAGE_ID_LEN + 1];
	jny_message_id(jd->id, customer_id, st->entered_ms, k, mid);
	const char *kind = protobuf_c_enum_descriptor_get_value(
	        &clm__v1__recommendation_kind__descriptor, s->kind)
	                           ->name;
	Clm__V1__Touchpoint *tp = arena_alloc(a, sizeof(*tp));
	Clm__V1__Touchpoint__PropertiesEntry *pe
	        = arena_alloc(a, 4 * sizeof(*pe));
	Clm__V1__Touchpoint__PropertiesEntry **pp
	        = arena_alloc(a, 4 * sizeof(*pp));
	char *cust = arena_strdup(a, customer_id);
	char *item = arena_strdup(a, s->item != NULL ? s->item : st->item);
	char *name = arena_strdup(a, d->name);
	char *action = arena_strdup(a, s->action);
	char *eid = arena_printf(a, "jny:%s", mid);
	char *mcopy = arena_strdup(a, mid);
	char *step = arena_printf(a, "%u", k);
	if (tp == NULL || pe == NULL || pp == NULL || cust == NULL
	        || item == NULL || name == NULL || action == NULL
	        || eid == NULL || mcopy == NULL || step == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__touchpoint__init(tp);
	tp->event_id = eid;
	tp->customer_id = cust;
	tp->type = CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT;
	tp->channel = (Clm__V1__Channel) s->channel;
	tp->occurred_at_ms = b->now_ms;
	tp->item_id = item;
	const char *keys[4] = { "kind", "action", "journey", "step" };
	const char *vals[4] = { kind, action, name, step };
	for (int i = 0; i < 4; i++) {
		clm__v1__touchpoint__properties_entry__init(&pe[i]);
		pe[i].key = (char *) keys[i];
		pe[i].value = (char *) vals[i];
		pp[i] = &pe[i];
	}
	tp->n_properties = 4;
	tp->properties = pp;
	struct ingest_result res;
	clm_err e = ingest_touchpoint(b, job, &pol->params, tp, &res);
	if (e != CLM_OK || res.duplicate || res.linked_to != NULL) {
		return e; /* claimed before: not again */
	}
	Clm__V1__LifecycleEvent *ev = writer_job_event(job);
	if (ev == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	ev->kind = CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE;
	ev->customer_id = cust;
	ev->at_ms = b->now_ms;
	ev->event_id = eid;
	ev->journey = name;
	ev->step = k;
	ev->recommendation_kind = (Clm__V1__RecommendationKind) s->kind;
	ev->action = action;
	ev->channel = (Clm__V1__Channel) s->channel;
	ev->item = item;
	ev->message_id = mcopy;
	e = store_jmsg_append(b->txn, ev);
	if (e == CLM_OK) {
		e = store_jstat_add(b->txn, jd->id, STORE_JSTAT_SENT, k, 1);
	}
	if (e == CLM_OK && d->webhook_url != NULL) {
		Clm__V1__JourneyHook h = CLM__V1__JOURNEY_HOOK__INIT;
		h.journey = jd->id;
		h.next_ms = b->now_ms;
		e = store_jhook_put(b->txn, ev->position, &h);
		if (e == CLM_OK) {
			e = store_jstat_add(b->txn, jd->id,
			        STORE_JSTAT_HOOK_PENDING, 0, 1);
		}
	}
	return e;
}

/*
 * Moves st past its step at now_ms (the next one due its wait after now,
 * or completed), with its timer at the earlier of that and next.
 */
static clm_err
jw_advance(struct jw *w, store_txn *txn, const struct jw_def *jd,
        const char *customer_id, Clm__V1__JourneyState *st, int64_t now_ms,
        int64_t next)
{
	const struct jny_def *d = jd->d;
	uint32_t k = st->step;
	clm_err e = store_jstat_add(txn, jd->id, STORE_JSTAT_WAITING, k, -1);
	if (e != CLM_OK) {
		return e;
	}
	st->step = k + 1;
	if (st->step >= d->n_steps) {
		st->active = false;
		e = jw_timer(w, txn, customer_id, st, 0);
		if (e == CLM_OK) {
			e = store_jstat_add(
			        txn, jd->id, STORE_JSTAT_ACTIVE, 0, -1);
		}
		if (e == CLM_OK) {
			e = store_jstat_add(
			        txn, jd->id, STORE_JSTAT_COMPLETED, 0, 1);
		}
		return e;
	}
	st->step_due_ms = now_ms + d->steps[st->step].wait_ms;
	e = jw_timer(w, txn, customer_id, st, jw_min(st->step_due_ms, next));
	if (e == CLM_OK) {
		e = store_jstat_add(
		        txn, jd->id, STORE_JSTAT_WAITING, st->step, 1);
	}
	return e;
}

/*
 * The state item is about, re-created when its entry was lost; NULL when
 * the item is stale (its timer, if still there, is then deleted).
 */
static clm_err
jw_item_state(struct jw *w, store_txn *txn, const struct jw_def *jd,
        struct profile *pr, const Clm__V1__JourneyFireItem *it,
        Clm__V1__JourneyState **out)
{
	*out = NULL;
	Clm__V1__CustomerRecord *rec = pr->rec;
	Clm__V1__JourneyState *st = jw_state(rec, it->journey);
	/*
	 * An item is its entry's step, whatever timer brought it: a timer
	 * is also the exit's next change, which a node computes from its
	 * own view (its background entries, its thresholds), so the nodes
	 * of a cluster may have taken it at different instants.
	 */
	if (st != NULL && st->active && st->entered_ms == it->entered_ms
	        && st->step == it->step) {
		*out = st;
		if (st->due_ms == it->due_ms) {
			return CLM_OK;
		}
		/* Another timer's item: this one's key, if any, is stale. */
		return store_jdue_del(
		        txn, it->due_ms, it->journey, it->customer_id);
	}
	bool lost = it->step == 0
	        && (st == NULL
	                || (!st->active && st->entered_ms < it->entered_ms));
	if (!lost) {
		if (st != NULL && st->active && st->due_ms == it->due_ms) {
			return CLM_OK; /* the timer is st's: keep it */
		}
		return store_jdue_del(
		        txn, it->due_ms, it->journey, it->customer_id);
	}
	if (st == NULL) {
		Clm__V1__JourneyState **v = arena_alloc(
		        &w->fa, (rec->n_journeys + 1) * sizeof(*v));
		st = arena_alloc(&w->fa, sizeof(*st));
		if (v == NULL || st == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		clm__v1__journey_state__init(st);
		st->journey = it->journey;
		if (rec->n_journeys > 0) {
			memcpy(v, rec->journeys, rec->n_journeys * sizeof(*v));
		}
		v[rec->n_journeys++] = st;
		rec->journeys = v;
	}
	st->active = true;
	st->entered_ms = it->entered_ms;
	st->step = 0;
	st->entries++;
	st->item = it->item;
	st->step_due_ms = it->entered_ms + jd->d->steps[0].wait_ms;
	/* Its timer is the item's, if the entry's was not lost with it. */
	st->due_ms = it->due_ms;
	clm_err e = store_jdue_put(
	        txn, it->due_ms, it->journey, rec->customer_id);
	if (e == CLM_OK) {
		e = store_jstat_add(txn, jd->id, STORE_JSTAT_ENTERED, 0, 1);
	}
	if (e == CLM_OK) {
		e = store_jstat_add(txn, jd->id, STORE_JSTAT_ACTIVE, 0, 1);
	}
	if (e == CLM_OK) {
		e = store_jstat_add(txn, jd->id, STORE_JSTAT_WAITING, 0, 1);
	}
	*out = st;
	return e;
}

/* Runs one item (docs/journeys.md "How steps run"). */
static clm_err
jw_fire_item(struct jw *w, struct writer_batch *b, writer_job *job,
        const Clm__V1__JourneyFireItem *it, const struct jw_policy *pol)
{
	store_txn *txn = b->txn;
	const struct jw_def *jd = jw_def(w, it->journey);
	if (jd == NULL || it->step == JW_DROP) {
		return store_jdue_del(
		        txn, it->due_ms, it->journey, it->customer_id);
	}
	arena_reset(&w->fa);
	struct profile *pr;
	clm_err e = profile_load(
	        txn, it->customer_id, false, false, &w->fa, &pr);
	if (e == CLM_DATA_LOSS) {
		/*
		 * A record that does not decode decodes never: its timer
		 * would come due again and again and fail every fire with it.
		 */
		log_warn(
		        "journeys: customer %s of journey %s does not decode; "
		        "its step is dropped",
		        it->customer_id, jd->d->name);
	}
	if (e == CLM_NOT_FOUND || e == CLM_DATA_LOSS) {
		return store_jdue_del(
		        txn, it->due_ms, it->journey, it->customer_id);
	}
	Clm__V1__JourneyState *st = NULL;
	if (e == CLM_OK) {
		e = jw_item_state(w, txn, jd, pr, it, &st);
	}
	if (e != CLM_OK || st == NULL) {
		return e;
	}
	const char *cid = pr->rec->customer_id;
	enum jw_outcome o;
	int64_t next = INT64_MAX, free_ms = INT64_MAX;
	e = jw_decide(w, b, jd, pr, st, pol, &o, &next, &free_ms);
	if (e != CLM_OK) {
		return e;
	}
	uint32_t k = st->step;
	switch (o) {
	case JW_WAIT:
		e = jw_timer(w, txn, cid, st, jw_min(st->step_due_ms, next));
		break;
	case JW_EXIT:
		e = jw_exit_state(w, txn, cid, jd, st);
		break;
	case JW_HELD:
		st->step_due_ms = free_ms;
		e = jw_timer(w, txn, cid, st, jw_min(free_ms, next));
		break;
	case JW_COMPLETE:
		e = store_jstat_add(txn, jd->id, STORE_JSTAT_WAITING, k, -1);
		st->active = false;
		if (e == CLM_OK) {
			e = jw_timer(w, txn, cid, st, 0);
		}
		if (e == CLM_OK) {
			e = store_jstat_add(
			        txn, jd->id, STORE_JSTAT_ACTIVE, 0, -1);
		}
		if (e == CLM_OK) {
			e = store_jstat_add(
			        txn, jd->id, STORE_JSTAT_COMPLETED, 0, 1);
		}
		break;
	case JW_SEND:
		e = jw_advance(w, txn, jd, cid, st, b->now_ms, next);
		break;
	default:
		e = store_jstat_add(txn, jd->id, jw_skip_stat(o), k, 1);
		if (e == CLM_OK) {
			e = jw_advance(w, txn, jd, cid, st, b->now_ms, next);
		}
		break;
	}
	if (e == CLM_OK) {
		e = store_customer_put(txn, pr->rec, true);
	}
	/*
	 * The state is saved before the claim: the touchpoint's write loads
	 * the customer again and checks its exits with the state moved on.
	 */
	if (e == CLM_OK && o == JW_SEND) {
		e = jw_send(b, job, jd, cid, st, k, pol);
	}
	return e;
}

clm_err
jw_fire(struct jw *w, struct writer_batch *b, writer_job *job,
        const Clm__V1__JourneyFire *fire, const struct jw_policy *pol)
{
	if (w == NULL) {
		return CLM_OK;
	}
	clm_err e = jw_load(w, b->txn);
	for (size_t i = 0; i < fire->n_items && e == CLM_OK; i++) {
		e = jw_fire_item(w, b, job, fire->items[i], pol);
	}
	return e;
}
