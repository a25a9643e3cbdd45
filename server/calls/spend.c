/*
 * RecordSpend: the marketing spend per (channel, day, campaign), set (not
 * added), so a retry changes nothing. The writer keeps the per channel and
 * day total (agg SPEND) moving with every change.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "calls/reply.h"
#include "calls/validate.h"
#include "core/agg.h"

#define SPEND_MAX_ENTRIES  10000
#define SPEND_CURRENCY_MAX 16

struct spend_state {
	const Clm__V1__RecordSpendRequest *req;
	Clm__V1__RecordSpendReply *reply;
};

static clm_err
spend_apply(struct writer_batch *b, writer_job *job)
{
	struct spend_state *s = job->arg;
	for (size_t i = 0; i < s->req->n_spend; i++) {
		const Clm__V1__Spend *sp = s->req->spend[i];
		uint32_t day = agg_day(sp->day_ms);
		int64_t micros = model_micros(sp->amount), old;
		clm_err e = store_spend_set(b->txn, (int) sp->channel, day,
		        sp->campaign, micros, &old);
		if (e == CLM_OK && micros != old) {
			unsigned char key[6];
			key[0] = AGG_SPEND;
			key[1] = (unsigned char) sp->channel;
			agg_put_u32(key + 2, day);
			int64_t d = micros - old;
			e = store_agg_add(b->txn, key, sizeof(key), &d, 1);
		}
		if (e != CLM_OK) {
			return e;
		}
	}
	s->reply->accepted = (uint32_t) s->req->n_spend;
	return CLM_OK;
}

static void
spend_check(const Clm__V1__Spend *sp, size_t i, int64_t now_ms, size_t max_id,
        struct violations *v)
{
	char f[64];
	if ((int) sp->channel <= 0 || (int) sp->channel >= MODEL_N_CHANNELS) {
		snprintf(f, sizeof(f), "record_spend.spend[%zu].channel", i);
		violations_add(v, f,
		        "must be a known Channel other than CHANNEL_UNSPECIFIED");
	}
	if (sp->day_ms < VALIDATE_MIN_TIME_MS
	        || sp->day_ms > now_ms + VALIDATE_MAX_AHEAD_MS) {
		snprintf(f, sizeof(f), "record_spend.spend[%zu].day_ms", i);
		violations_add(v, f,
		        "must be between 2000-01-01 and now + 24 h (unix ms)");
	}
	if (!isfinite(sp->amount) || sp->amount < 0
	        || sp->amount > VALIDATE_MAX_VALUE) {
		snprintf(f, sizeof(f), "record_spend.spend[%zu].amount", i);
		violations_add(v, f, "must be a finite number from 0 to 1e12");
	}
	size_t n = strlen(sp->currency);
	if (n > SPEND_CURRENCY_MAX || !validate_utf8(sp->currency, n, true)) {
		snprintf(f, sizeof(f), "record_spend.spend[%zu].currency", i);
		violations_add(v, f,
		        "must be at most %d bytes of printable UTF-8",
		        SPEND_CURRENCY_MAX);
	}
	n = strlen(sp->campaign);
	if (n > max_id || !validate_utf8(sp->campaign, n, true)) {
		snprintf(f, sizeof(f), "record_spend.spend[%zu].campaign", i);
		violations_add(v, f,
		        "must be at most %zu bytes of printable UTF-8",
		        max_id);
	}
}

bool
spend_prepare(struct call_req *r)
{
	const Clm__V1__RecordSpendRequest *q = r->req->record_spend;
	arena *a = r->a;
	if (q->n_spend == 0) {
		reply_invalid(r->resp, a, "record_spend.spend",
		        "must hold at least one entry");
		return false;
	}
	if (q->n_spend > SPEND_MAX_ENTRIES) {
		reply_invalid(r->resp, a, "record_spend.spend",
		        "holds %zu entries, the limit is %d per call",
		        q->n_spend, SPEND_MAX_ENTRIES);
		return false;
	}
	struct violations v;
	violations_init(&v, a);
	for (size_t i = 0; i < q->n_spend; i++) {
		spend_check(q->spend[i], i, r->now_ms,
		        r->srv->limits.max_id_bytes, &v);
	}
	if (v.n > 0) {
		reply_violations(r->resp, a, &v);
		return false;
	}
	Clm__V1__Request j = CLM__V1__REQUEST__INIT;
	j.call_case = CLM__V1__REQUEST__CALL_RECORD_SPEND;
	j.record_spend = (Clm__V1__RecordSpendRequest *) q;
	if (call_journal(&r->job, &j, NULL) != CLM_OK
	        || spend_build(r->srv, &r->job, r->req, NULL) != CLM_OK) {
		reply_error(
		        r->resp, a, CLM_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	return true;
}

clm_err
spend_build(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, const struct call_policy *pol)
{
	(void) srv;
	(void) pol;
	struct spend_state *s = arena_zalloc(job->arena, sizeof(*s));
	Clm__V1__RecordSpendReply *reply
	        = arena_alloc(job->arena, sizeof(*reply));
	if (s == NULL || reply == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__record_spend_reply__init(reply);
	s->req = q->record_spend;
	s->reply = reply;
	job->resp->result_case = CLM__V1__RESPONSE__RESULT_RECORD_SPEND;
	job->resp->record_spend = reply;
	job->apply = spend_apply;
	job->arg = s;
	return CLM_OK;
}
