/*
 * jnyflow: the journey calls, the feed, the statistics, the stream and
 * the test clock the journey integration tests share (jnyflow.h).
 */
#include "jnyflow.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "segflow.h"

/* The extra flags and the clock's: at most 16 + 3. */
static void
jnyflow_args(const struct jnyflow_clock *clk, const char *const *extra,
        const char **args)
{
	size_t n = 0;
	args[n++] = "--test-clock-file";
	args[n++] = clk->path;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		cr_assert_lt(i, 16, "more than 16 extra flags");
		args[n++] = extra[i];
	}
	args[n] = NULL;
}

void
jnyflow_start(struct clmd_proc *p, struct jnyflow_clock *clk,
        const char *const *extra)
{
	memset(clk, 0, sizeof(*clk));
	cr_assert_eq(harness_tmpdir(clk->dir), 0);
	snprintf(clk->path, sizeof(clk->path), "%s/clock", clk->dir);
	segflow_clock_set(clk->path, 0);
	const char *args[20];
	jnyflow_args(clk, extra, args);
	flow_start(p, NULL, args);
}

void
jnyflow_restart(struct clmd_proc *p, struct jnyflow_clock *clk,
        const char *const *extra)
{
	const char *args[20];
	jnyflow_args(clk, extra, args);
	flow_start(p, p->data_dir, args);
}

void
jnyflow_clock_to(struct jnyflow_clock *clk, int64_t ms)
{
	segflow_clock_set(clk->path, ms);
	clk->offset = ms;
}

int64_t
jnyflow_now(const struct jnyflow_clock *clk)
{
	return segflow_now_ms() + clk->offset;
}

Clm__V1__Response *
jnyflow_define_call(clm_conn *c, const char *json)
{
	Clm__V1__DefineJourneyRequest d
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	d.definition = (char *) json;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	req.define_journey = &d;
	return flow_call(c, &req);
}

bool
jnyflow_define(clm_conn *c, const char *name, const char *json)
{
	Clm__V1__Response *r = jnyflow_define_call(c, json);
	cr_assert_eq(flow_status_of(r), CLM_OK, "define %s: %s (%s)", name,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert(r->define_journey != NULL
	                && r->define_journey->journey != NULL,
	        "define %s: no journey in the reply", name);
	cr_expect_str_eq(r->define_journey->journey->name, name);
	bool replaced = r->define_journey->replaced;
	clm_response_free(r);
	return replaced;
}

Clm__V1__Response *
jnyflow_get_call(clm_conn *c, const char *name)
{
	Clm__V1__GetJourneyRequest g = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	g.name = (char *) name;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_GET_JOURNEY;
	req.get_journey = &g;
	return flow_call(c, &req);
}

bool
jnyflow_delete(clm_conn *c, const char *name)
{
	Clm__V1__DeleteJourneyRequest d
	        = CLM__V1__DELETE_JOURNEY_REQUEST__INIT;
	d.name = (char *) name;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_DELETE_JOURNEY;
	req.delete_journey = &d;
	Clm__V1__Response *r = flow_call(c, &req);
	cr_assert_eq(flow_status_of(r), CLM_OK, "delete %s: %s (%s)", name,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert_not_null(r->delete_journey);
	bool existed = r->delete_journey->existed;
	clm_response_free(r);
	return existed;
}

Clm__V1__Response *
jnyflow_list(clm_conn *c)
{
	Clm__V1__ListJourneysRequest l = CLM__V1__LIST_JOURNEYS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_LIST_JOURNEYS;
	req.list_journeys = &l;
	Clm__V1__Response *r = flow_call(c, &req);
	cr_assert_eq(flow_status_of(r), CLM_OK, "list: %s (%s)",
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert_not_null(r->list_journeys);
	return r;
}

void
jnyflow_stats_of(const Clm__V1__JourneyStats *s, struct jnyflow_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL) {
		return;
	}
	out->entered = s->entered;
	out->active = s->active;
	out->exited = s->exited;
	out->completed = s->completed;
	out->removed = s->removed;
	out->delivered = s->webhook_delivered;
	out->pending = s->webhook_pending;
	out->retries = s->webhook_retries;
	out->dead = s->webhook_dead;
	for (size_t i = 0; i < s->n_steps; i++) {
		const Clm__V1__JourneyStepStats *st = s->steps[i];
		cr_assert_lt(st->step, JNYFLOW_STEPS_MAX, "stats of step %u",
		        st->step);
		out->step[st->step].sent = st->sent;
		out->step[st->step].skipped_condition = st->skipped_condition;
		out->step[st->step].skipped_capped = st->skipped_capped;
		out->step[st->step].skipped_late = st->skipped_late;
		out->step[st->step].waiting = st->waiting;
		if (st->step + 1 > out->n_steps) {
			out->n_steps = st->step + 1;
		}
	}
}

void
jnyflow_stats(clm_conn *c, const char *name, struct jnyflow_stats *out)
{
	Clm__V1__Response *r = jnyflow_get_call(c, name);
	cr_assert_eq(flow_status_of(r), CLM_OK, "get %s: %s (%s)", name,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert(r->get_journey != NULL && r->get_journey->journey != NULL,
	        "get %s: no journey in the reply", name);
	cr_expect_str_eq(r->get_journey->journey->name, name);
	jnyflow_stats_of(r->get_journey->journey->stats, out);
	clm_response_free(r);
}

uint64_t
jnyflow_counter(
        const struct jnyflow_stats *s, enum jnyflow_ctr which, uint32_t step)
{
	cr_assert_lt(step, JNYFLOW_STEPS_MAX);
	switch (which) {
	case JC_ENTERED:
		return s->entered;
	case JC_ACTIVE:
		return s->active;
	case JC_EXITED:
		return s->exited;
	case JC_COMPLETED:
		return s->completed;
	case JC_REMOVED:
		return s->removed;
	case JC_SENT:
		return s->step[step].sent;
	case JC_SKIP_COND:
		return s->step[step].skipped_condition;
	case JC_SKIP_CAP:
		return s->step[step].skipped_capped;
	case JC_SKIP_LATE:
		return s->step[step].skipped_late;
	case JC_WAITING:
		return s->step[step].waiting;
	}
	return 0;
}

uint64_t
jnyflow_wait_counter(clm_conn *c, const char *name, enum jnyflow_ctr which,
        uint32_t step, uint64_t want, int ms)
{
	int64_t deadline = segflow_now_ms() + ms;
	for (;;) {
		struct jnyflow_stats s;
		jnyflow_stats(c, name, &s);
		uint64_t v = jnyflow_counter(&s, which, step);
		if (v == want || segflow_now_ms() >= deadline) {
			return v;
		}
		harness_sleep_ms(50);
	}
}

void
jnyflow_expect_counter(clm_conn *c, const char *name, enum jnyflow_ctr which,
        uint32_t step, uint64_t want, int ms, const char *what)
{
	static const char *const names[] = { "entered", "active", "exited",
		"completed", "removed", "sent", "skipped_condition",
		"skipped_capped", "skipped_late", "waiting" };
	uint64_t got = jnyflow_wait_counter(c, name, which, step, want, ms);
	cr_expect_eq(got, want, "%s: %s %s (step %u) = %llu, want %llu", what,
	        name, names[which], step, (unsigned long long) got,
	        (unsigned long long) want);
}

Clm__V1__Response *
jnyflow_messages_call(
        clm_conn *c, uint64_t after, uint32_t limit, const char *journey)
{
	Clm__V1__JourneyMessagesRequest m
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	m.after = after;
	m.limit = limit;
	m.journey = (char *) (journey != NULL ? journey : "");
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	req.journey_messages = &m;
	return flow_call(c, &req);
}

/* Copies src (may be NULL) into dst of n bytes. */
static void
jnyflow_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

void
jnyflow_msg_of(const Clm__V1__LifecycleEvent *ev, struct jnyflow_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = (int) ev->kind;
	jnyflow_copy(m->customer, sizeof(m->customer), ev->customer_id);
	jnyflow_copy(m->journey, sizeof(m->journey), ev->journey);
	m->step = ev->step;
	m->rkind = (int) ev->recommendation_kind;
	jnyflow_copy(m->action, sizeof(m->action), ev->action);
	m->channel = (int) ev->channel;
	jnyflow_copy(m->item, sizeof(m->item), ev->item);
	jnyflow_copy(m->message_id, sizeof(m->message_id), ev->message_id);
	jnyflow_copy(m->event_id, sizeof(m->event_id), ev->event_id);
	m->at_ms = ev->at_ms;
	m->position = ev->position;
	m->seq = ev->seq;
}

struct jnyflow_msg *
jnyflow_feed(clm_conn *c, const char *journey, size_t *n)
{
	size_t cap = 64, len = 0;
	struct jnyflow_msg *out = malloc(cap * sizeof(*out));
	cr_assert_not_null(out);
	uint64_t after = 0;
	for (int pages = 0;; pages++) {
		cr_assert_lt(pages, 100000, "the feed's paging does not end");
		Clm__V1__Response *r
		        = jnyflow_messages_call(c, after, 1000, journey);
		cr_assert_eq(flow_status_of(r), CLM_OK,
		        "journey messages after %llu: %s (%s)",
		        (unsigned long long) after,
		        clm_errname(flow_status_of(r)), flow_message_of(r));
		cr_assert_not_null(r->journey_messages);
		const Clm__V1__JourneyMessagesReply *p = r->journey_messages;
		cr_expect_leq(
		        p->n_messages, 1000, "a page of %zu", p->n_messages);
		uint64_t prev = after;
		for (size_t i = 0; i < p->n_messages; i++) {
			const Clm__V1__LifecycleEvent *ev = p->messages[i];
			cr_expect_gt(ev->position, prev,
			        "feed: position %llu after %llu",
			        (unsigned long long) ev->position,
			        (unsigned long long) prev);
			prev = ev->position;
			if (len == cap) {
				cap *= 2;
				out = realloc(out, cap * sizeof(*out));
				cr_assert_not_null(out);
			}
			jnyflow_msg_of(ev, &out[len]);
			cr_expect_eq(out[len].kind, 5, "feed: kind %d",
			        out[len].kind);
			len++;
		}
		/*
		 * Unfiltered, next_after is the last position returned (after
		 * when none). One journey's messages are sparse: next_after
		 * may move on past positions the server examined and found
		 * of other journeys, never past the feed's last.
		 */
		bool all = journey == NULL || journey[0] == '\0';
		bool ok = all ? p->next_after == prev
		              : p->next_after >= prev
		                && p->next_after
		                        <= (p->last > after ? p->last : after);
		cr_expect(ok,
		        "feed%s: next_after %llu, last returned %llu (after "
		        "%llu, last %llu)",
		        all ? "" : " of one journey",
		        (unsigned long long) p->next_after,
		        (unsigned long long) prev, (unsigned long long) after,
		        (unsigned long long) p->last);
		bool done = p->n_messages == 0 && p->next_after <= after;
		after = p->next_after > prev ? p->next_after : prev;
		clm_response_free(r);
		if (done) {
			break;
		}
	}
	*n = len;
	return out;
}

struct jnyflow_msg *
jnyflow_wait_feed(
        clm_conn *c, const char *journey, size_t want, int ms, size_t *n)
{
	int64_t deadline = segflow_now_ms() + ms;
	for (;;) {
		struct jnyflow_msg *m = jnyflow_feed(c, journey, n);
		if (*n >= want || segflow_now_ms() >= deadline) {
			return m;
		}
		free(m);
		harness_sleep_ms(50);
	}
}

size_t
jnyflow_count(const struct jnyflow_msg *m, size_t n, const char *journey,
        const char *customer, int step)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		k += (journey == NULL || strcmp(m[i].journey, journey) == 0)
		        && (customer == NULL
		                || strcmp(m[i].customer, customer) == 0)
		        && (step < 0 || m[i].step == (uint32_t) step);
	}
	return k;
}

const struct jnyflow_msg *
jnyflow_find(const struct jnyflow_msg *m, size_t n, const char *journey,
        const char *customer, int step)
{
	for (size_t i = 0; i < n; i++) {
		if ((journey == NULL || strcmp(m[i].journey, journey) == 0)
		        && strcmp(m[i].customer, customer) == 0
		        && m[i].step == (uint32_t) step) {
			return &m[i];
		}
	}
	return NULL;
}

void
jnyflow_expect_send(const struct jnyflow_msg *m, int rkind, const char *action,
        int channel, const char *item)
{
	cr_expect_eq(m->rkind, rkind, "%s step %u of %s: kind %d, want %d",
	        m->customer, m->step, m->journey, m->rkind, rkind);
	cr_expect_str_eq(m->action, action, "%s step %u of %s: action",
	        m->customer, m->step, m->journey);
	cr_expect_eq(m->channel, channel,
	        "%s step %u of %s: channel %d, want %d", m->customer, m->step,
	        m->journey, m->channel, channel);
	cr_expect_str_eq(m->item, item, "%s step %u of %s: item '%s'",
	        m->customer, m->step, m->journey, m->item);
	char want[64];
	snprintf(want, sizeof(want), "jny:%s", m->message_id);
	cr_expect_str_eq(m->event_id, want, "%s step %u of %s: event id",
	        m->customer, m->step, m->journey);
}

void
jnyflow_track1(clm_conn *c, const char *customer, const char *eid,
        Clm__V1__TouchpointType type, int64_t at, const char *item,
        const char *name)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) customer;
	tp.event_id = (char *) eid;
	tp.type = type;
	tp.channel = CLM__V1__CHANNEL__DIRECT;
	tp.occurred_at_ms = at;
	if (item != NULL) {
		tp.item_id = (char *) item;
	}
	if (name != NULL) {
		tp.event_name = (char *) name;
	}
	if (type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE
	        || type == CLM__V1__TOUCHPOINT_TYPE__REFUND) {
		tp.value = 10.0;
		tp.currency = "EUR";
	}
	Clm__V1__Touchpoint *ptr = &tp;
	Clm__V1__Response *r = NULL;
	clm_err e = clm_track(c, &ptr, 1, &r);
	cr_assert_eq(e, CLM_OK, "track %s: %s (%s)", eid, clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(r->track);
	cr_assert_eq(r->track->accepted, 1, "track %s: not accepted (%s)", eid,
	        r->track->n_rejected > 0 && r->track->rejected[0]->status
	                ? r->track->rejected[0]->status->message
	                : "a duplicate");
	clm_response_free(r);
}

size_t
jnyflow_claim(clm_conn *c, const char *customer, int channel)
{
	Clm__V1__RecommendRequest q = CLM__V1__RECOMMEND_REQUEST__INIT;
	q.customer_id = (char *) customer;
	q.channel = (Clm__V1__Channel) channel;
	q.limit = 1;
	q.claim = true;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
	req.recommend = &q;
	Clm__V1__Response *r = flow_call(c, &req);
	cr_assert_eq(flow_status_of(r), CLM_OK, "claim for %s: %s (%s)",
	        customer, clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert_not_null(r->recommend);
	size_t n = r->recommend->n_recommendations;
	clm_response_free(r);
	return n;
}

void
jnyflow_message_id(uint32_t journey, const char *customer, int64_t entered_ms,
        uint32_t step, char *out)
{
	unsigned char head[16], hash[16];
	uint64_t at = (uint64_t) entered_ms;
	for (int i = 0; i < 4; i++) {
		head[i] = (unsigned char) (journey >> (24 - 8 * i));
		head[12 + i] = (unsigned char) (step >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++) {
		head[4 + i] = (unsigned char) (at >> (56 - 8 * i));
	}
	crypto_generichash_state st;
	cr_assert_eq(crypto_generichash_init(&st, NULL, 0, sizeof(hash)), 0);
	crypto_generichash_update(&st, head, sizeof(head));
	crypto_generichash_update(
	        &st, (const unsigned char *) customer, strlen(customer));
	crypto_generichash_final(&st, hash, sizeof(hash));
	memcpy(out, "jm_", 3);
	for (size_t i = 0; i < sizeof(hash); i++) {
		snprintf(out + 3 + 2 * i, 3, "%02x", hash[i]);
	}
}

clm_watch *
jnyflow_watch(const struct clmd_proc *p)
{
	clm_watch *w = NULL;
	clm_err e = clm_watch_open(p->events_url, "journey/", &w);
	cr_assert_eq(
	        e, CLM_OK, "watch %s: %s", p->events_url, clm_open_error());
	cr_assert_eq(clm_watch_ready(w, 10000), CLM_OK,
	        "the stream %s did not connect in 10 s", p->events_url);
	return w;
}

bool
jnyflow_next(clm_watch *w, int ms, struct jnyflow_msg *m)
{
	Clm__V1__LifecycleEvent *le = NULL;
	char topic[96];
	int64_t deadline = segflow_now_ms() + ms;
	for (;;) {
		int left = (int) (deadline - segflow_now_ms());
		clm_err e = clm_watch_next(
		        w, left > 0 ? left : 0, topic, sizeof(topic), &le);
		if (e == CLM_DEADLINE_EXCEEDED) {
			return false;
		}
		if (e == CLM_INVALID_ARGUMENT) {
			continue;
		}
		cr_assert_eq(e, CLM_OK, "watch: %s", clm_errname(e));
		break;
	}
	jnyflow_msg_of(le, m);
	jnyflow_copy(m->topic, sizeof(m->topic), topic);
	clm_event_free(le);
	cr_assert_eq(m->kind, 5, "an event of kind %d under topic '%s'",
	        m->kind, topic);
	char want[96];
	snprintf(want, sizeof(want), "journey/%s", m->journey);
	cr_expect_str_eq(
	        m->topic, want, "topic '%s', want '%s'", m->topic, want);
	return true;
}
