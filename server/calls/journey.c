/*
 * Journeys' calls (docs/journeys.md "Calls"): DefineJourney and
 * DeleteJourney through the writer, ListJourneys, GetJourney and
 * JourneyMessages as reads.
 *
 * DefineJourney journals the definition as core/journey.c normalised it,
 * so a replay (or another node) parses the very text the live call
 * accepted; the apply parses it again for the name and the steps, which
 * is cheap next to a write. How many journeys a server holds is checked
 * in the apply, where the count is the store's at that entry, the same on
 * every replay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "core/journey.h"
#include "store/journey.h"
#include "util/log.h"
#include "write/journey.h"

#define JNY_MSGS_DEFAULT 100
#define JNY_MSGS_MAX     1000
/* Feed entries one JourneyMessages of one journey examines at most. */
#define JNY_MSGS_SCAN 10000
/* A journey's counters: 9 of its own and 5 per step, well under this. */
#define JNY_STATS_MAX 4096

struct jny_state {
	const Clm__V1__Request *req;
	void *reply;
};

/*
 * The Journey message of rec (arena a): its definition redacted, its
 * counters with one entry per step. DATA_LOSS when the stored definition
 * no longer parses (logged).
 */
static clm_err
jny_message(store_txn *txn, const Clm__V1__JourneyRecord *rec, arena *a,
        Clm__V1__Journey **out)
{
	struct jny_def *d = NULL;
	struct jny_error err;
	clm_err e = jny_parse(
	        rec->definition, strlen(rec->definition), &d, &err);
	if (e == CLM_INVALID_ARGUMENT) {
		log_error(
		        "journey '%s': its stored definition does not parse: %s",
		        rec->name, err.msg);
		return CLM_DATA_LOSS;
	}
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__Journey *j = arena_alloc(a, sizeof(*j));
	char *red = jny_redacted(d);
	char *def = red != NULL ? arena_strdup(a, red) : NULL;
	free(red);
	if (j == NULL || def == NULL) {
		jny_free(d);
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__journey__init(j);
	j->name = rec->name;
	j->definition = def;
	j->defined_at_ms = rec->defined_at_ms;
	j->created_at_ms = rec->created_at_ms;
	e = store_jstats_get(txn, rec->id, d->n_steps, a, &j->stats);
	jny_free(d);
	if (e == CLM_OK) {
		*out = j;
	}
	return e;
}

static bool
jny_name_check(struct call_req *r, const char *field, const char *name)
{
	if (jny_name_valid(name, strlen(name))) {
		return true;
	}
	reply_invalid(r->resp, r->a, field,
	        "must be 1 to %d bytes of a-z, 0-9, '_' and '-'",
	        JNY_NAME_MAX);
	return false;
}

/* ---------------------------------------------------------------------- */
/* DefineJourney, DeleteJourney                                           */

static int
jny_count_fn(void *arg, Clm__V1__JourneyRecord *rec)
{
	(void) rec;
	(*(size_t *) arg)++;
	return 0;
}

static clm_err
jny_define_apply(struct writer_batch *b, writer_job *job)
{
	struct jny_state *s = job->arg;
	const Clm__V1__DefineJourneyRequest *q = s->req->define_journey;
	Clm__V1__DefineJourneyReply *reply = s->reply;
	Clm__V1__Response *resp = job->resp;
	arena *a = job->arena;
	resp->status = NULL;
	resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
	reply->replaced = false;

	struct jny_def *d = NULL;
	struct jny_error err;
	clm_err e = jny_parse(q->definition, strlen(q->definition), &d, &err);
	if (e == CLM_INVALID_ARGUMENT) {
		/* An entry this server's parser refuses: nothing changes. */
		log_warn("a journaled definition does not parse: %s", err.msg);
		reply_invalid(
		        resp, a, "define_journey.definition", "%s", err.msg);
		return CLM_OK;
	}
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__JourneyRecord *old = NULL;
	Clm__V1__JourneyRecord rec = CLM__V1__JOURNEY_RECORD__INIT;
	rec.name = arena_strdup(a, d->name);
	rec.definition = q->definition;
	rec.defined_at_ms = b->now_ms;
	jny_free(d);
	if (rec.name == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	e = store_journey_get(b->txn, rec.name, a, &old);
	if (e == CLM_OK) {
		reply->replaced = true;
		rec.id = old->id;
		rec.created_at_ms = old->created_at_ms;
	} else if (e == CLM_NOT_FOUND) {
		size_t n = 0;
		e = store_journeys_each(b->txn, a, jny_count_fn, &n);
		if (e == CLM_OK && n >= JNY_JOURNEYS_MAX) {
			reply_error(resp, a, CLM_RESOURCE_EXHAUSTED,
			        "%d journeys are defined, the most a server holds; delete one first",
			        JNY_JOURNEYS_MAX);
			return CLM_OK;
		}
		if (e == CLM_OK) {
			e = store_journey_new_id(b->txn, &rec.id);
		}
		rec.created_at_ms = b->now_ms;
	}
	if (e == CLM_OK) {
		e = store_journey_put(b->txn, &rec);
	}
	if (e != CLM_OK) {
		return e;
	}
	jw_invalidate(b->jny);
	e = jny_message(b->txn, &rec, a, &reply->journey);
	if (e != CLM_OK) {
		return e;
	}
	resp->result_case = CLM__V1__RESPONSE__RESULT_DEFINE_JOURNEY;
	resp->define_journey = reply;
	return CLM_OK;
}

static clm_err
jny_delete_apply(struct writer_batch *b, writer_job *job)
{
	struct jny_state *s = job->arg;
	const Clm__V1__DeleteJourneyRequest *q = s->req->delete_journey;
	Clm__V1__DeleteJourneyReply *reply = s->reply;
	Clm__V1__Response *resp = job->resp;
	resp->status = NULL;
	resp->result_case = CLM__V1__RESPONSE__RESULT_DELETE_JOURNEY;
	resp->delete_journey = reply;
	reply->existed = false;
	Clm__V1__JourneyRecord *rec;
	clm_err e = store_journey_get(b->txn, q->name, job->arena, &rec);
	if (e == CLM_NOT_FOUND) {
		return CLM_OK;
	}
	if (e == CLM_OK) {
		e = store_journey_del(b->txn, q->name);
	}
	bool left = false;
	if (e == CLM_OK) {
		e = store_jstats_drop(b->txn, rec->id, JNY_STATS_MAX, &left);
	}
	if (e != CLM_OK) {
		return e;
	}
	if (left) {
		log_warn("journey '%s': counters left after its deletion",
		        q->name);
	}
	/* Customers' states and timers of the id go lazily (write/journey.c).
	 */
	reply->existed = true;
	jw_invalidate(b->jny);
	return CLM_OK;
}

bool
jny_define_prepare(struct call_req *r)
{
	const Clm__V1__DefineJourneyRequest *q = r->req->define_journey;
	arena *a = r->a;
	struct jny_def *d = NULL;
	struct jny_error err;
	clm_err e = jny_parse(q->definition, strlen(q->definition), &d, &err);
	if (e == CLM_INVALID_ARGUMENT) {
		reply_invalid(r->resp, a, "define_journey.definition", "%s",
		        err.msg);
		return false;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot parse the definition: %s",
		        clm_strerror(e));
		return false;
	}
	/*
	 * The entry holds the normalised text; the live job is built from
	 * the same (job's arena), as a replay builds it from the entry.
	 */
	arena *ja = r->job.arena;
	Clm__V1__Request *j = arena_alloc(ja, sizeof(*j));
	Clm__V1__DefineJourneyRequest *dq = arena_alloc(ja, sizeof(*dq));
	char *json = arena_strndup(ja, d->json, d->json_len);
	jny_free(d);
	if (j == NULL || dq == NULL || json == NULL) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	clm__v1__request__init(j);
	clm__v1__define_journey_request__init(dq);
	dq->definition = json;
	j->call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	j->define_journey = dq;
	if (call_journal(&r->job, j, NULL) != CLM_OK
	        || jny_define_build(r->srv, &r->job, j, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
jny_define_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct jny_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__DefineJourneyReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (q->define_journey == NULL) {
		return CLM_DATA_LOSS;
	}
	clm__v1__define_journey_reply__init(reply);
	s->req = q;
	s->reply = reply;
	job->apply = jny_define_apply;
	job->arg = s;
	return CLM_OK;
}

bool
jny_delete_prepare(struct call_req *r)
{
	const Clm__V1__DeleteJourneyRequest *q = r->req->delete_journey;
	if (!jny_name_check(r, "delete_journey.name", q->name)) {
		return false;
	}
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_DELETE_JOURNEY;
	j.delete_journey = (Clm__V1__DeleteJourneyRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || jny_delete_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(r->resp, r->a, CLM_RESOURCE_EXHAUSTED,
		        "out of memory");
		return false;
	}
	return true;
}

clm_err
jny_delete_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct jny_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__DeleteJourneyReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (q->delete_journey == NULL) {
		return CLM_DATA_LOSS;
	}
	clm__v1__delete_journey_reply__init(reply);
	s->req = q;
	s->reply = reply;
	job->apply = jny_delete_apply;
	job->arg = s;
	return CLM_OK;
}

/* ---------------------------------------------------------------------- */
/* ListJourneys, GetJourney                                               */

struct jny_list {
	store_txn *txn;
	arena *a;
	Clm__V1__Journey **v;
	size_t n, cap;
	clm_err e;
};

static int
jny_list_fn(void *arg, Clm__V1__JourneyRecord *rec)
{
	struct jny_list *l = arg;
	Clm__V1__Journey **v
	        = arena_grow(l->a, l->v, l->n, &l->cap, sizeof(*v));
	if (v == NULL) {
		l->e = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	l->v = v;
	l->e = jny_message(l->txn, rec, l->a, &l->v[l->n]);
	l->n += l->e == CLM_OK;
	return l->e != CLM_OK;
}

void
jny_list(struct call_req *r, store_txn *txn)
{
	arena *a = r->a;
	struct jny_list l = { .txn = txn, .a = a };
	clm_err e = store_journeys_each(txn, a, jny_list_fn, &l);
	if (e == CLM_OK) {
		e = l.e;
	}
	Clm__V1__ListJourneysReply *reply = arena_alloc(a, sizeof(*reply));
	if (e == CLM_OK && reply == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot list journeys: %s",
		        clm_strerror(e));
		return;
	}
	clm__v1__list_journeys_reply__init(reply);
	reply->journeys = l.v;
	reply->n_journeys = l.n;
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_LIST_JOURNEYS;
	r->resp->list_journeys = reply;
}

void
jny_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__GetJourneyRequest *q = r->req->get_journey;
	arena *a = r->a;
	if (!jny_name_check(r, "get_journey.name", q->name)) {
		return;
	}
	Clm__V1__JourneyRecord *rec;
	clm_err e = store_journey_get(txn, q->name, a, &rec);
	if (e == CLM_NOT_FOUND) {
		reply_error(r->resp, a, CLM_NOT_FOUND,
		        "journey '%s' not found", q->name);
		return;
	}
	Clm__V1__GetJourneyReply *reply = arena_alloc(a, sizeof(*reply));
	if (e == CLM_OK && reply == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		clm__v1__get_journey_reply__init(reply);
		e = jny_message(txn, rec, a, &reply->journey);
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot read journey '%s': %s",
		        q->name, clm_strerror(e));
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_GET_JOURNEY;
	r->resp->get_journey = reply;
}

/* ---------------------------------------------------------------------- */
/* JourneyMessages                                                        */

struct jny_page {
	Clm__V1__LifecycleEvent **v;
	size_t n;
};

static int
jny_page_fn(void *arg, Clm__V1__LifecycleEvent *ev)
{
	struct jny_page *p = arg;
	p->v[p->n++] = ev;
	return 0;
}

void
jny_messages(struct call_req *r, store_txn *txn)
{
	const Clm__V1__JourneyMessagesRequest *q = r->req->journey_messages;
	arena *a = r->a;
	if (q->limit > JNY_MSGS_MAX) {
		reply_invalid(r->resp, a, "journey_messages.limit",
		        "must be at most %d (0 means %d)", JNY_MSGS_MAX,
		        JNY_MSGS_DEFAULT);
		return;
	}
	const char *journey = NULL;
	if (q->journey[0] != '\0') {
		if (!jny_name_check(
		            r, "journey_messages.journey", q->journey)) {
			return;
		}
		journey = q->journey;
	}
	size_t limit = q->limit == 0 ? JNY_MSGS_DEFAULT : q->limit;
	/*
	 * One journey's messages may be sparse in the feed: the scan stops
	 * after JNY_MSGS_SCAN entries, and next_after moves past what it
	 * examined, so the next page goes on from there.
	 */
	size_t scan = journey == NULL ? limit : JNY_MSGS_SCAN;
	Clm__V1__JourneyMessagesReply *reply = arena_alloc(a, sizeof(*reply));
	struct jny_page pg = { arena_alloc(a, limit * sizeof(*pg.v)), 0 };
	clm_err e = reply == NULL || pg.v == NULL ? CLM_RESOURCE_EXHAUSTED
	                                          : CLM_OK;
	uint64_t oldest = 0, last = 0, to = 0;
	if (e == CLM_OK) {
		e = store_jmsg_bounds(txn, &oldest, &last);
	}
	if (e == CLM_OK) {
		e = store_jmsgs_after(txn, q->after, limit, scan, journey, a,
		        jny_page_fn, &pg, &to);
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot read the journey feed: %s",
		        clm_strerror(e));
		return;
	}
	clm__v1__journey_messages_reply__init(reply);
	reply->messages = pg.v;
	reply->n_messages = pg.n;
	reply->next_after = to > q->after ? to : q->after;
	reply->oldest = oldest;
	reply->last = last;
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_JOURNEY_MESSAGES;
	r->resp->journey_messages = reply;
}
