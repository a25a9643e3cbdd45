/*
 * Journey fires (calls/calls.h, write/journey.h): the job the writer runs
 * for its due timers. Its journal entry (calls/replay.h's
 * CALL_ENTRY_JOURNEY_FIRE) is the policy the steps decide with (the caps
 * and thresholds of the node that fired them), then the packed
 * JourneyFire, so a replay and every node of a cluster run the same steps
 * alike.
 */
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "write/journey.h"

struct journey_fire {
	Clm__V1__JourneyFire *f;
	struct jw_policy pol;
};

static clm_err
journey_fire_apply(struct writer_batch *b, writer_job *job)
{
	struct journey_fire *s = job->arg;
	return jw_fire(b->jny, b, job, s->f, &s->pol);
}

clm_err
journey_fire_build(const struct server *srv, writer_job *job, const void *data,
        size_t len, const struct call_policy *pol)
{
	(void) srv;
	struct journey_fire *s = arena_alloc(job->arena, sizeof(*s));
	if (s == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	s->f = clm__v1__journey_fire__unpack(arena_pb(job->arena), len, data);
	if (s->f == NULL) {
		return CLM_DATA_LOSS;
	}
	s->pol = (struct jw_policy) { .params = pol->params,
		.cap_messages = pol->cap_messages,
		.cap_ms = pol->cap_ms,
		.quiet_ms = pol->quiet_ms };
	job->apply = journey_fire_apply;
	job->arg = s;
	job->items = s->f->n_items > 0 ? s->f->n_items : 1;
	return CLM_OK;
}

clm_err
journey_fire_job(void *srv, writer_job *job, const Clm__V1__JourneyFire *f)
{
	struct call_policy pol;
	call_policy_init(&pol, srv);
	size_t n = clm__v1__journey_fire__get_packed_size(f);
	uint8_t *buf = arena_alloc(job->arena, CALL_POLICY_BYTES + n);
	if (buf == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	call_policy_pack(&pol, buf);
	clm__v1__journey_fire__pack(f, buf + CALL_POLICY_BYTES);
	job->jtype = CALL_ENTRY_JOURNEY_FIRE;
	job->jdata = buf;
	job->jlen = CALL_POLICY_BYTES + n;
	return journey_fire_build(srv, job, buf + CALL_POLICY_BYTES, n, &pol);
}
