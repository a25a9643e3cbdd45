/*
 * segflow: the segment calls, tracks, the test clock's file and the
 * segment events the segment integration tests share (segflow.h).
 */
#include "segflow.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"

int64_t
segflow_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Clm__V1__Response *
segflow_define_call(clm_conn *c, const char *name, const char *expr)
{
	Clm__V1__DefineSegmentRequest d
	        = CLM__V1__DEFINE_SEGMENT_REQUEST__INIT;
	d.name = (char *) name;
	d.expression = (char *) expr;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_DEFINE_SEGMENT;
	req.define_segment = &d;
	return flow_call(c, &req);
}

Clm__V1__Response *
segflow_define(clm_conn *c, const char *name, const char *expr)
{
	Clm__V1__Response *r = segflow_define_call(c, name, expr);
	cr_assert_eq(flow_status_of(r), CLM_OK, "define %s '%s': %s (%s)",
	        name, expr, clm_errname(flow_status_of(r)),
	        flow_message_of(r));
	cr_assert_not_null(r->define_segment, "define %s: no reply", name);
	cr_assert_not_null(r->define_segment->segment);
	cr_expect_str_eq(r->define_segment->segment->name, name);
	cr_expect_str_eq(r->define_segment->segment->expression, expr);
	return r;
}

Clm__V1__Response *
segflow_get_call(clm_conn *c, const char *name, uint32_t page_size,
        const char *page_token, int64_t as_of_ms)
{
	Clm__V1__GetSegmentRequest g = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	g.name = (char *) name;
	g.members = page_size > 0;
	g.page_size = page_size;
	g.page_token = (char *) (page_token != NULL ? page_token : "");
	g.as_of_ms = as_of_ms;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_GET_SEGMENT;
	req.get_segment = &g;
	return flow_call(c, &req);
}

/* GetSegment of name, asserted OK with a segment. */
static Clm__V1__Response *
segflow_get(clm_conn *c, const char *name)
{
	Clm__V1__Response *r = segflow_get_call(c, name, 0, NULL, 0);
	cr_assert_eq(flow_status_of(r), CLM_OK, "get %s: %s (%s)", name,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert(r->get_segment != NULL && r->get_segment->segment != NULL,
	        "get %s: no segment in the reply", name);
	return r;
}

uint64_t
segflow_count(clm_conn *c, const char *name)
{
	Clm__V1__Response *r = segflow_get(c, name);
	uint64_t n = r->get_segment->segment->count;
	clm_response_free(r);
	return n;
}

int
segflow_wait_backfill(clm_conn *c, const char *name, int ms)
{
	int busy = 0;
	for (int waited = 0;; waited += 20) {
		Clm__V1__Response *r = segflow_get(c, name);
		const Clm__V1__Segment *s = r->get_segment->segment;
		bool backfilling = s->backfilling;
		double progress = s->backfill_progress;
		clm_response_free(r);
		if (!backfilling) {
			cr_expect(progress == 1.0,
			        "%s: backfill done with progress %g, want 1",
			        name, progress);
			return busy;
		}
		cr_expect(progress >= 0.0 && progress < 1.0,
		        "%s: backfilling with progress %g", name, progress);
		busy++;
		cr_assert(waited < ms, "%s: still backfilling after %d ms",
		        name, ms);
		harness_sleep_ms(20);
	}
}

char **
segflow_members(clm_conn *c, const char *name, uint32_t page_size,
        int64_t as_of_ms, size_t *n, int *pages)
{
	size_t cap = 64, len = 0;
	char **ids = malloc(cap * sizeof(*ids));
	cr_assert_not_null(ids);
	char *token = strdup("");
	*pages = 0;
	for (;;) {
		cr_assert(*pages < 100000, "%s: paging does not end", name);
		Clm__V1__Response *r = segflow_get_call(
		        c, name, page_size, token, as_of_ms);
		cr_assert_eq(flow_status_of(r), CLM_OK, "members %s: %s (%s)",
		        name, clm_errname(flow_status_of(r)),
		        flow_message_of(r));
		cr_assert_not_null(r->get_segment);
		const Clm__V1__GetSegmentReply *g = r->get_segment;
		cr_expect_leq(g->n_members, (size_t) page_size,
		        "%s: a page of %zu, page_size %u", name, g->n_members,
		        page_size);
		(*pages)++;
		for (size_t i = 0; i < g->n_members; i++) {
			if (len == cap) {
				cap *= 2;
				ids = realloc(ids, cap * sizeof(*ids));
				cr_assert_not_null(ids);
			}
			ids[len++] = strdup(g->members[i]);
		}
		free(token);
		token = strdup(
		        g->next_page_token != NULL ? g->next_page_token : "");
		clm_response_free(r);
		if (token[0] == '\0') {
			break;
		}
	}
	free(token);
	*n = len;
	return ids;
}

void
segflow_members_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ids[i]);
	}
	free(ids);
}

bool
segflow_delete(clm_conn *c, const char *name)
{
	Clm__V1__DeleteSegmentRequest d
	        = CLM__V1__DELETE_SEGMENT_REQUEST__INIT;
	d.name = (char *) name;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_DELETE_SEGMENT;
	req.delete_segment = &d;
	Clm__V1__Response *r = flow_call(c, &req);
	cr_assert_eq(flow_status_of(r), CLM_OK, "delete %s: %s (%s)", name,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert_not_null(r->delete_segment);
	bool existed = r->delete_segment->existed;
	clm_response_free(r);
	return existed;
}

Clm__V1__Response *
segflow_list(clm_conn *c)
{
	Clm__V1__ListSegmentsRequest l = CLM__V1__LIST_SEGMENTS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_LIST_SEGMENTS;
	req.list_segments = &l;
	Clm__V1__Response *r = flow_call(c, &req);
	cr_assert_eq(flow_status_of(r), CLM_OK, "list: %s (%s)",
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	cr_assert_not_null(r->list_segments);
	return r;
}

bool
segflow_in_customer(
        clm_conn *c, const char *id, const char *name, int64_t as_of_ms)
{
	Clm__V1__Response *r = NULL;
	clm_err e = clm_get_customer(c, id, as_of_ms, &r);
	cr_assert_eq(e, CLM_OK, "get customer %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(r->customer);
	bool in = false;
	const Clm__V1__Customer *cu = r->customer;
	for (size_t i = 0; i < cu->n_segments; i++) {
		in |= strcmp(cu->segments[i], name) == 0;
		if (i > 0) {
			cr_expect(strcmp(cu->segments[i - 1], cu->segments[i])
			                < 0,
			        "%s: segments not by name: '%s' before '%s'",
			        id, cu->segments[i - 1], cu->segments[i]);
		}
	}
	clm_response_free(r);
	return in;
}

Clm__V1__Response *
segflow_track(clm_conn *c, const struct segflow_tp *t, size_t n)
{
	Clm__V1__Response *r = segflow_track_call(c, t, n);
	cr_assert_eq(r->track->accepted, (uint32_t) n,
	        "track: %u of %zu accepted (%s)", r->track->accepted, n,
	        r->track->n_rejected > 0 && r->track->rejected[0]->status
	                ? r->track->rejected[0]->status->message
	                : "");
	return r;
}

Clm__V1__Response *
segflow_track_call(clm_conn *c, const struct segflow_tp *t, size_t n)
{
	Clm__V1__Touchpoint *tps = calloc(n, sizeof(*tps));
	Clm__V1__Touchpoint **ptr = calloc(n, sizeof(*ptr));
	cr_assert(tps != NULL && ptr != NULL);
	for (size_t i = 0; i < n; i++) {
		Clm__V1__Touchpoint *x = &tps[i];
		clm__v1__touchpoint__init(x);
		x->customer_id = (char *) t[i].customer;
		x->event_id = (char *) (t[i].eid != NULL ? t[i].eid : "");
		x->type = t[i].type;
		x->channel = CLM__V1__CHANNEL__DIRECT;
		x->occurred_at_ms = t[i].at;
		if (t[i].item != NULL) {
			x->item_id = (char *) t[i].item;
		}
		if (t[i].type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE
		        || t[i].type == CLM__V1__TOUCHPOINT_TYPE__REFUND) {
			x->value = t[i].value;
			x->currency = "EUR";
		}
		ptr[i] = x;
	}
	Clm__V1__Response *r = NULL;
	clm_err e = clm_track(c, ptr, n, &r);
	free(tps);
	free(ptr);
	cr_assert_eq(e, CLM_OK, "track: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(r->track);
	return r;
}

size_t
segflow_changes(const Clm__V1__Response *r, int kind, const char *customer,
        const char *segment)
{
	size_t n = 0;
	for (size_t i = 0; r->track != NULL && i < r->track->n_changes; i++) {
		const Clm__V1__LifecycleEvent *ev = r->track->changes[i];
		n += (int) ev->kind == kind
		        && strcmp(ev->customer_id, customer) == 0
		        && ev->segment != NULL
		        && strcmp(ev->segment, segment) == 0;
	}
	return n;
}

bool
segflow_names_field(const char *field, const char *want)
{
	size_t n = strlen(field), w = strlen(want);
	return strcmp(field, want) == 0
	        || (n > w && field[n - w - 1] == '.'
	                && strcmp(field + n - w, want) == 0);
}

void
segflow_expect_invalid_field(
        Clm__V1__Response *r, const char *field, const char *what)
{
	cr_expect_eq(flow_status_of(r), CLM_INVALID_ARGUMENT,
	        "%s: %s, want INVALID_ARGUMENT (%s)", what,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	bool named = false;
	for (size_t i = 0; r->status != NULL && i < r->status->n_violations;
	        i++) {
		named |= segflow_names_field(
		        r->status->violations[i]->field, field);
	}
	cr_expect(named, "%s: no violation names '%s' (message: %s)", what,
	        field, flow_message_of(r));
	clm_response_free(r);
}

void
segflow_expect_invalid_at(Clm__V1__Response *r, long n, const char *what)
{
	char want[48];
	snprintf(want, sizeof(want), "at byte %ld:", n);
	cr_expect_eq(flow_status_of(r), CLM_INVALID_ARGUMENT,
	        "%s: %s, want INVALID_ARGUMENT (%s)", what,
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	bool named = false, at = strstr(flow_message_of(r), want) != NULL;
	for (size_t i = 0; r->status != NULL && i < r->status->n_violations;
	        i++) {
		const Clm__V1__FieldViolation *v = r->status->violations[i];
		if (segflow_names_field(v->field, "expression")) {
			named = true;
			at |= v->description != NULL
			        && strstr(v->description, want) != NULL;
		}
	}
	cr_expect(named, "%s: no violation names 'expression' (%s)", what,
	        flow_message_of(r));
	cr_expect(at, "%s: '%s' nowhere in the reply (message: %s; %s)", what,
	        want, flow_message_of(r),
	        r->status != NULL && r->status->n_violations > 0
	                ? r->status->violations[0]->description
	                : "no violation");
	clm_response_free(r);
}

void
segflow_clock_set(const char *path, int64_t ms)
{
	char tmp[4200], text[32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(text, sizeof(text), "%lld\n", (long long) ms);
	cr_assert_eq(harness_write_file(tmp, text), 0, "write %s", tmp);
	cr_assert_eq(rename(tmp, path), 0, "rename %s", tmp);
}

clm_watch *
segflow_watch(const struct clmd_proc *p)
{
	clm_watch *w = NULL;
	clm_err e = clm_watch_open(p->events_url, "segment/", &w);
	cr_assert_eq(
	        e, CLM_OK, "watch %s: %s", p->events_url, clm_open_error());
	cr_assert_eq(clm_watch_ready(w, 10000), CLM_OK,
	        "the stream %s did not connect in 10 s", p->events_url);
	return w;
}

bool
segflow_next(clm_watch *w, int ms, struct segflow_event *ev)
{
	Clm__V1__LifecycleEvent *le = NULL;
	char topic[96];
	for (;;) {
		clm_err e = clm_watch_next(w, ms, topic, sizeof(topic), &le);
		if (e == CLM_DEADLINE_EXCEEDED) {
			return false;
		}
		if (e == CLM_INVALID_ARGUMENT) {
			continue;
		}
		cr_assert_eq(e, CLM_OK, "watch: %s", clm_errname(e));
		break;
	}
	memset(ev, 0, sizeof(*ev));
	ev->kind = (int) le->kind;
	snprintf(ev->customer, sizeof(ev->customer), "%s",
	        le->customer_id != NULL ? le->customer_id : "");
	snprintf(ev->segment, sizeof(ev->segment), "%s",
	        le->segment != NULL ? le->segment : "");
	snprintf(ev->topic, sizeof(ev->topic), "%s", topic);
	ev->at_ms = le->at_ms;
	ev->seq = le->seq;
	clm_event_free(le);
	cr_assert(ev->kind == 3 || ev->kind == 4,
	        "an event of kind %d under topic '%s'", ev->kind, topic);
	char want[96];
	snprintf(want, sizeof(want), "segment/%s/%s",
	        ev->kind == 3 ? "enter" : "exit", ev->segment);
	cr_expect_str_eq(
	        ev->topic, want, "topic '%s', want '%s'", ev->topic, want);
	return true;
}
