/*
 * replay: journal entries of write calls, and the jobs rebuilt from them.
 *
 * Each write call's prepare step is "check, then build": the checks stay
 * in prepare, and the build (calls.h, one per call) is what both the live
 * path and call_replay run, so a replayed job applies through the same
 * state and the same apply function as the acknowledged one did.
 */
#include "calls/replay.h"

#include <string.h>

#include "calls/calls.h"
#include "util/log.h"

#define CALL_POLICY_VERSION 1

/* The write calls, with what rebuilds each from its entry. */
static const struct call_replay_entry {
	Clm__V1__Request__CallCase call;
	const char *name;
	call_build_fn build;
	bool policy; /* the entry starts with a call_policy */
} call_replay_table[] = {
	{ .call = CLM__V1__REQUEST__CALL_TRACK,
	        .name = "track",
	        .build = track_build },
	{ .call = CLM__V1__REQUEST__CALL_RECOMMEND,
	        .name = "recommend",
	        .build = recommend_claim_build,
	        .policy = true },
	{ .call = CLM__V1__REQUEST__CALL_PUT_CATALOG,
	        .name = "put_catalog",
	        .build = catalog_build },
	{ .call = CLM__V1__REQUEST__CALL_RECORD_SPEND,
	        .name = "record_spend",
	        .build = spend_build },
	{ .call = CLM__V1__REQUEST__CALL_IDENTIFY,
	        .name = "identify",
	        .build = identify_build },
	{ .call = CLM__V1__REQUEST__CALL_DEFINE_EXPERIMENT,
	        .name = "define_experiment",
	        .build = exp_define_build },
	{ .call = CLM__V1__REQUEST__CALL_ASSIGN,
	        .name = "assign",
	        .build = exp_assign_build },
	{ .call = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER,
	        .name = "forget_customer",
	        .build = forget_build },
	{ .call = CLM__V1__REQUEST__CALL_DEFINE_SEGMENT,
	        .name = "define_segment",
	        .build = seg_define_build },
	{ .call = CLM__V1__REQUEST__CALL_DELETE_SEGMENT,
	        .name = "delete_segment",
	        .build = seg_delete_build },
	{ .call = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY,
	        .name = "define_journey",
	        .build = jny_define_build },
	{ .call = CLM__V1__REQUEST__CALL_DELETE_JOURNEY,
	        .name = "delete_journey",
	        .build = jny_delete_build },
};

#define CALL_REPLAY_N \
	(sizeof(call_replay_table) / sizeof(call_replay_table[0]))

void
call_policy_init(struct call_policy *p, const struct server *srv)
{
	p->params = srv->params;
	p->cap_messages = (unsigned) srv->cfg->cap_messages;
	p->cap_ms = srv->cfg->cap_days * MODEL_DAY_MS;
	p->quiet_ms = srv->cfg->quiet_hours * 3600000LL;
}

/* Little-endian integers of a policy, one at a time from or into *p. */
static void
call_put(uint8_t **p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++) {
		(*p)[i] = (uint8_t) (v >> (8 * i));
	}
	*p += bytes;
}

static uint64_t
call_get(const uint8_t **p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v |= (uint64_t) (*p)[i] << (8 * i);
	}
	*p += bytes;
	return v;
}

static void
call_put_double(uint8_t **p, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof(v));
	call_put(p, v, 8);
}

static double
call_get_double(const uint8_t **p)
{
	uint64_t v = call_get(p, 8);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

/* Writes pol into p[0..CALL_POLICY_BYTES). */
static void
call_policy_put(uint8_t *p, const struct call_policy *pol)
{
	const struct model_params *mp = &pol->params;
	call_put(&p, CALL_POLICY_VERSION, 1);
	call_put(&p, pol->cap_messages, 4);
	call_put(&p, (uint64_t) pol->cap_ms, 8);
	call_put(&p, (uint64_t) pol->quiet_ms, 8);
	call_put(&p, (uint64_t) mp->at_risk_ms, 8);
	call_put(&p, (uint64_t) mp->churn_ms, 8);
	call_put(&p, (uint64_t) mp->billing_issue_ms, 8);
	call_put(&p, (uint64_t) mp->support_ticket_ms, 8);
	call_put(&p, mp->support_tickets, 4);
	call_put(&p, mp->sentiment_window, 4);
	call_put_double(&p, mp->negative_sentiment);
	call_put(&p, (uint64_t) mp->refund_ms, 8);
	for (int i = 0; i < MODEL_N_REASONS; i++) {
		call_put_double(&p, mp->weight[i]);
	}
}

void
call_policy_pack(const struct call_policy *p, uint8_t *out)
{
	call_policy_put(out, p);
}

/* Reads a policy from p[0..CALL_POLICY_BYTES); false: another version. */
static bool
call_policy_get(const uint8_t *p, struct call_policy *pol)
{
	struct model_params *mp = &pol->params;
	if (call_get(&p, 1) != CALL_POLICY_VERSION) {
		return false;
	}
	pol->cap_messages = (unsigned) call_get(&p, 4);
	pol->cap_ms = (int64_t) call_get(&p, 8);
	pol->quiet_ms = (int64_t) call_get(&p, 8);
	mp->at_risk_ms = (int64_t) call_get(&p, 8);
	mp->churn_ms = (int64_t) call_get(&p, 8);
	mp->billing_issue_ms = (int64_t) call_get(&p, 8);
	mp->support_ticket_ms = (int64_t) call_get(&p, 8);
	mp->support_tickets = (unsigned) call_get(&p, 4);
	mp->sentiment_window = (unsigned) call_get(&p, 4);
	mp->negative_sentiment = call_get_double(&p);
	mp->refund_ms = (int64_t) call_get(&p, 8);
	for (int i = 0; i < MODEL_N_REASONS; i++) {
		mp->weight[i] = call_get_double(&p);
	}
	return true;
}

clm_err
call_journal(writer_job *job, const Clm__V1__Request *q,
        const struct call_policy *pol)
{
	size_t head = pol != NULL ? CALL_POLICY_BYTES : 0;
	size_t n = clm__v1__request__get_packed_size(q);
	uint8_t *buf = arena_alloc(job->arena, head + n > 0 ? head + n : 1);
	if (buf == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (pol != NULL) {
		call_policy_put(buf, pol);
	}
	clm__v1__request__pack(q, buf + head);
	job->jtype = (uint32_t) q->call_case;
	job->jdata = buf;
	job->jlen = head + n;
	return CLM_OK;
}

clm_err
call_replay(void *srv, writer_job *job, uint32_t type, const void *data,
        size_t len, int64_t now_ms)
{
	/*
	 * No build reads the clock: what prepare took from it is in the
	 * payload, and what apply takes from its batch comes from the
	 * writer, which applies the job at now_ms.
	 */
	(void) now_ms;
	if (type == CALL_ENTRY_JOURNEY_FIRE) {
		struct call_policy pol;
		if (len < CALL_POLICY_BYTES || !call_policy_get(data, &pol)) {
			log_error(
			        "journal entry of type %u (journey fire): no policy of version %d at its start",
			        type, CALL_POLICY_VERSION);
			return CLM_DATA_LOSS;
		}
		clm_err err = journey_fire_build(srv, job,
		        (const uint8_t *) data + CALL_POLICY_BYTES,
		        len - CALL_POLICY_BYTES, &pol);
		if (err == CLM_DATA_LOSS) {
			log_error(
			        "journal entry of type %u (journey fire): %zu bytes that do not decode as a clm.v1.JourneyFire",
			        type, len - CALL_POLICY_BYTES);
		}
		return err;
	}
	const struct call_replay_entry *e = NULL;
	uint32_t call = type & ~CALL_ENTRY_POLICY;
	for (size_t i = 0; i < CALL_REPLAY_N; i++) {
		if ((uint32_t) call_replay_table[i].call == call) {
			e = &call_replay_table[i];
		}
	}
	if (e == NULL) {
		log_error("journal entry of type %u: not a write call", type);
		return CLM_DATA_LOSS;
	}
	bool policy = e->policy || (type & CALL_ENTRY_POLICY) != 0;
	struct call_policy pol;
	if (policy) {
		if (len < CALL_POLICY_BYTES || !call_policy_get(data, &pol)) {
			log_error(
			        "journal entry of type %u (%s): no policy of version %d at its start",
			        type, e->name, CALL_POLICY_VERSION);
			return CLM_DATA_LOSS;
		}
		data = (const uint8_t *) data + CALL_POLICY_BYTES;
		len -= CALL_POLICY_BYTES;
	}
	Clm__V1__Request *q
	        = clm__v1__request__unpack(arena_pb(job->arena), len, data);
	if (q == NULL) {
		log_error(
		        "journal entry of type %u (%s): %zu bytes that do not decode as a clm.v1.Request",
		        type, e->name, len);
		return CLM_DATA_LOSS;
	}
	if ((uint32_t) q->call_case != call) {
		log_error("journal entry of type %u (%s) holds call %d", type,
		        e->name, (int) q->call_case);
		return CLM_DATA_LOSS;
	}
	clm_err err = e->build(srv, job, q, policy ? &pol : NULL);
	if (err == CLM_DATA_LOSS) {
		log_error(
		        "journal entry of type %u (%s): not a payload its call writes",
		        type, e->name);
	}
	return err;
}
