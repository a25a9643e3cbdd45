/*
 * Journey fires (calls/calls.h, write/journey.h): the job the writer runs
 * for its due timers. Its journal entry (calls/replay.h's
 * CALL_ENTRY_JOURNEY_FIRE) is the policy the steps decide with (the caps
 * and thresholds of the node that fired them), then the packed
 * JourneyFire, so a replay and every node of a cluster run the same steps
 * alike.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Orders items by customer, then as they were (their address). */
static int
journey_fire_by_customer(const void *x, const void *y)
{
	Clm__V1__JourneyFireItem *const *a
	        = *(Clm__V1__JourneyFireItem * *const *) x;
	Clm__V1__JourneyFireItem *const *b
	        = *(Clm__V1__JourneyFireItem * *const *) y;
	int c = strcmp((*a)->customer_id, (*b)->customer_id);
	return c != 0 ? c : a < b ? -1 : a > b;
}

/* One part: the items of one customer, after the entry's policy. */
static clm_err
journey_fire_part(writer_job *job, Clm__V1__JourneyFireItem ***v, size_t n,
        size_t max_bytes, struct writer_part *p)
{
	Clm__V1__JourneyFireItem **items
	        = arena_alloc(job->arena, n * sizeof(*items));
	if (items == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < n; i++) {
		items[i] = *v[i];
	}
	Clm__V1__JourneyFire g = CLM__V1__JOURNEY_FIRE__INIT;
	g.items = items;
	g.n_items = n;
	size_t len = clm__v1__journey_fire__get_packed_size(&g);
	if (CALL_POLICY_BYTES + len > max_bytes) {
		return CLM_INVALID_ARGUMENT;
	}
	uint8_t *buf = arena_alloc(job->arena, CALL_POLICY_BYTES + len);
	if (buf == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	memcpy(buf, job->jdata, CALL_POLICY_BYTES);
	clm__v1__journey_fire__pack(&g, buf + CALL_POLICY_BYTES);
	unsigned char h[16];
	crypto_generichash(
	        h, sizeof(h), buf + CALL_POLICY_BYTES, len, NULL, 0);
	memcpy(p->msg_id, "jf-", 3);
	for (size_t i = 0; i < sizeof(h); i++) {
		snprintf(p->msg_id + 3 + 2 * i, 3, "%02x", h[i]);
	}
	p->type = CALL_ENTRY_JOURNEY_FIRE;
	p->data = buf;
	p->len = CALL_POLICY_BYTES + len;
	p->subject = WRITER_SUBJECT_CUSTOMER;
	p->id = items[0]->customer_id;
	p->id_len = strlen(items[0]->customer_id);
	return CLM_OK;
}

clm_err
journey_fire_split(writer_job *job, size_t max_bytes,
        struct writer_part **parts, size_t *n)
{
	if (job->jlen < CALL_POLICY_BYTES) {
		return CLM_DATA_LOSS;
	}
	Clm__V1__JourneyFire *f = clm__v1__journey_fire__unpack(
	        arena_pb(job->arena), job->jlen - CALL_POLICY_BYTES,
	        (const uint8_t *) job->jdata + CALL_POLICY_BYTES);
	if (f == NULL) {
		return CLM_DATA_LOSS;
	}
	if (f->n_items == 0) {
		return CLM_INTERNAL; /* the writer fires none */
	}
	Clm__V1__JourneyFireItem ***v
	        = arena_alloc(job->arena, f->n_items * sizeof(*v));
	struct writer_part *p
	        = arena_zalloc(job->arena, f->n_items * sizeof(*p));
	if (v == NULL || p == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < f->n_items; i++) {
		v[i] = &f->items[i];
	}
	qsort(v, f->n_items, sizeof(*v), journey_fire_by_customer);
	size_t np = 0;
	for (size_t i = 0; i < f->n_items;) {
		size_t k = i + 1;
		while (k < f->n_items
		        && strcmp((*v[k])->customer_id, (*v[i])->customer_id)
		                == 0) {
			k++;
		}
		clm_err e = journey_fire_part(
		        job, &v[i], k - i, max_bytes, &p[np++]);
		if (e != CLM_OK) {
			return e;
		}
		i = k;
	}
	*parts = p;
	*n = np;
	return CLM_OK;
}
