/*
 * Segments inside clmd (docs/segments.md) against a real clmd: the four
 * calls and their errors, TrackReply.changes with SEGMENT_ENTERED,
 * Customer.segments, a backfill over customers that existed before the
 * definition, and an exit caused by time alone (the test clock), exact at
 * reads before the writer applied it and published by the writer after.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clm/client.h"
#include "harness.h"

#define DAY_MS (86400000LL)

HARNESS_SUITE(segment_server, 120);

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static clm_conn *
connect_srv(void)
{
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 10000, &c), CLM_OK);
	return c;
}

static Clm__V1__Response *
call(clm_conn *c, Clm__V1__Request *q)
{
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_call(c, q, &r), CLM_OK, "%s", clm_last_error(c));
	cr_assert_not_null(r);
	return r;
}

static int
code_of(const Clm__V1__Response *r)
{
	return r->status != NULL ? (int) r->status->code : 0;
}

static Clm__V1__Response *
define(clm_conn *c, const char *name, const char *expr)
{
	Clm__V1__DefineSegmentRequest d
	        = CLM__V1__DEFINE_SEGMENT_REQUEST__INIT;
	d.name = (char *) name;
	d.expression = (char *) expr;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_DEFINE_SEGMENT;
	q.define_segment = &d;
	return call(c, &q);
}

static Clm__V1__Response *
get_segment(clm_conn *c, const char *name, bool members, uint32_t size,
        const char *token)
{
	Clm__V1__GetSegmentRequest g = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	g.name = (char *) name;
	g.members = members;
	g.page_size = size;
	g.page_token = (char *) (token ? token : "");
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_GET_SEGMENT;
	q.get_segment = &g;
	return call(c, &q);
}

/* Tracks one touchpoint of customer at at_ms; the reply. */
static Clm__V1__Response *
track(clm_conn *c, const char *customer, Clm__V1__TouchpointType type,
        int64_t at_ms)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) customer;
	tp.type = type;
	tp.channel = CLM__V1__CHANNEL__EMAIL;
	tp.occurred_at_ms = at_ms;
	if (type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE) {
		tp.value = 10;
		tp.item_id = "sku-1";
	}
	Clm__V1__Touchpoint *v[1] = { &tp };
	Clm__V1__Response *r = NULL;
	cr_assert_eq(clm_track(c, v, 1, &r), CLM_OK, "%s", clm_last_error(c));
	return r;
}

/* Waits (bounded) until the segment's backfill is over; its count. */
static uint64_t
wait_backfilled(clm_conn *c, const char *name)
{
	for (int i = 0; i < 400; i++) {
		Clm__V1__Response *r = get_segment(c, name, false, 0, NULL);
		cr_assert_eq(code_of(r), 0);
		bool busy = r->get_segment->segment->backfilling;
		uint64_t n = r->get_segment->segment->count;
		if (!busy) {
			cr_assert_float_eq(
			        r->get_segment->segment->backfill_progress,
			        1.0, 1e-9);
		}
		clm_response_free(r);
		if (!busy) {
			return n;
		}
		harness_sleep_ms(50);
	}
	cr_assert_fail("backfill of '%s' did not end in 20 s", name);
	return 0;
}

static bool
has_segment(const Clm__V1__Customer *cu, const char *name)
{
	for (size_t i = 0; i < cu->n_segments; i++) {
		if (strcmp(cu->segments[i], name) == 0) {
			return true;
		}
	}
	return false;
}

Test(segment_server, calls_and_errors)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
	clm_conn *c = connect_srv();

	Clm__V1__Response *r = define(c, "Bad Name", "purchases >= 1");
	cr_assert_eq(code_of(r), CLM_INVALID_ARGUMENT);
	cr_assert_eq(r->status->n_violations, 1);
	cr_assert_str_eq(
	        r->status->violations[0]->field, "define_segment.name");
	clm_response_free(r);

	r = define(c, "buyers", "purchases >=");
	cr_assert_eq(code_of(r), CLM_INVALID_ARGUMENT);
	cr_assert_eq(r->status->n_violations, 1);
	cr_assert_str_eq(
	        r->status->violations[0]->field, "define_segment.expression");
	cr_assert(strncmp(r->status->violations[0]->description, "at byte ", 8)
	                == 0,
	        "%s", r->status->violations[0]->description);
	clm_response_free(r);

	r = get_segment(c, "nobody-defined-this", false, 0, NULL);
	cr_assert_eq(code_of(r), CLM_NOT_FOUND);
	clm_response_free(r);

	r = define(c, "buyers", "purchases >= 1");
	cr_assert_eq(code_of(r), 0, "%s", r->status ? r->status->message : "");
	cr_assert_not_null(r->define_segment->segment);
	cr_assert_str_eq(r->define_segment->segment->name, "buyers");
	cr_assert_not(r->define_segment->replaced);
	clm_response_free(r);

	r = get_segment(c, "buyers", true, 10001, NULL);
	cr_assert_eq(code_of(r), CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(
	        r->status->violations[0]->field, "get_segment.page_size");
	clm_response_free(r);
	r = get_segment(c, "buyers", true, 10, "not-a-token");
	cr_assert_eq(code_of(r), CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(
	        r->status->violations[0]->field, "get_segment.page_token");
	clm_response_free(r);

	r = define(c, "buyers", "purchases >= 2");
	cr_assert_eq(code_of(r), 0);
	cr_assert(r->define_segment->replaced);
	clm_response_free(r);

	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	Clm__V1__ListSegmentsRequest l = CLM__V1__LIST_SEGMENTS_REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_LIST_SEGMENTS;
	q.list_segments = &l;
	r = call(c, &q);
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->list_segments->n_segments, 1);
	cr_assert_str_eq(
	        r->list_segments->segments[0]->expression, "purchases >= 2");
	clm_response_free(r);

	Clm__V1__DeleteSegmentRequest d
	        = CLM__V1__DELETE_SEGMENT_REQUEST__INIT;
	d.name = "buyers";
	q.call_case = CLM__V1__REQUEST__CALL_DELETE_SEGMENT;
	q.delete_segment = &d;
	r = call(c, &q);
	cr_assert_eq(code_of(r), 0);
	cr_assert(r->delete_segment->existed);
	clm_response_free(r);
	r = call(c, &q);
	cr_assert_eq(code_of(r), 0);
	cr_assert_not(r->delete_segment->existed);
	clm_response_free(r);
	r = get_segment(c, "buyers", false, 0, NULL);
	cr_assert_eq(code_of(r), CLM_NOT_FOUND);
	clm_response_free(r);
	clm_close(c);
}

Test(segment_server, writes_backfill_and_pages)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
	clm_conn *c = connect_srv();
	int64_t t = now_ms() - DAY_MS;
	/* 30 buyers and 5 browsers before the definition. */
	char id[32];
	for (int i = 0; i < 35; i++) {
		snprintf(id, sizeof(id), "pre-%02d", i);
		Clm__V1__Response *r = track(c, id,
		        i < 30 ? CLM__V1__TOUCHPOINT_TYPE__PURCHASE
		               : CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		        t + i);
		cr_assert_eq(code_of(r), 0);
		clm_response_free(r);
	}
	Clm__V1__Response *r = define(c, "buyers", "purchases >= 1");
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);
	cr_assert_eq(wait_backfilled(c, "buyers"), 30);

	/* A write after the backfill enters with an event in its reply. */
	r = track(c, "late-buyer", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, t);
	cr_assert_eq(code_of(r), 0);
	bool entered = false;
	for (size_t i = 0; i < r->track->n_changes; i++) {
		const Clm__V1__LifecycleEvent *ev = r->track->changes[i];
		if (ev->kind
		        == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED) {
			cr_assert_str_eq(ev->segment, "buyers");
			cr_assert_str_eq(ev->customer_id, "late-buyer");
			entered = true;
		}
	}
	cr_assert(entered, "TrackReply.changes has no SEGMENT_ENTERED");
	clm_response_free(r);

	r = NULL;
	cr_assert_eq(clm_get_customer(c, "late-buyer", 0, &r), CLM_OK);
	cr_assert(has_segment(r->customer, "buyers"));
	clm_response_free(r);
	cr_assert_eq(clm_get_customer(c, "pre-31", 0, &r), CLM_OK);
	cr_assert_not(has_segment(r->customer, "buyers"));
	clm_response_free(r);

	/* Pages of 7 list the 31 members once each, ascending. */
	char *token = NULL;
	char last[32] = "";
	size_t seen = 0;
	for (int page = 0; page < 10; page++) {
		r = get_segment(c, "buyers", true, 7, token);
		cr_assert_eq(code_of(r), 0);
		cr_assert_eq(r->get_segment->segment->count, 31);
		for (size_t i = 0; i < r->get_segment->n_members; i++) {
			cr_assert_gt(
			        strcmp(r->get_segment->members[i], last), 0);
			snprintf(last, sizeof(last), "%s",
			        r->get_segment->members[i]);
			seen++;
		}
		free(token);
		token = r->get_segment->next_page_token[0] != '\0'
		        ? strdup(r->get_segment->next_page_token)
		        : NULL;
		clm_response_free(r);
		if (token == NULL) {
			break;
		}
	}
	cr_assert_null(token);
	cr_assert_eq(seen, 31);

	/* ForgetCustomer leaves the segment. */
	r = NULL;
	cr_assert_eq(clm_forget(c, "pre-00", &r), CLM_OK);
	clm_response_free(r);
	r = get_segment(c, "buyers", false, 0, NULL);
	cr_assert_eq(r->get_segment->segment->count, 30);
	clm_response_free(r);
	clm_close(c);
}

Test(segment_server, as_of_and_restart)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0, "log %s", srv.log_path);
	clm_conn *c = connect_srv();
	Clm__V1__Response *r = define(c, "buyers", "purchases >= 1");
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);
	wait_backfilled(c, "buyers");
	/* Profile fields are over every stored touchpoint whatever the
	 * instant (as GetCustomer's); a count's window follows it. */
	r = define(c, "bought-lately", "count(PURCHASE, 100d) >= 1");
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);
	wait_backfilled(c, "bought-lately");
	int64_t t = now_ms() - 3 * DAY_MS;
	char id[32];
	for (int i = 0; i < 12; i++) {
		snprintf(id, sizeof(id), "b-%02d", i);
		r = track(c, id, CLM__V1__TOUCHPOINT_TYPE__PURCHASE,
		        t + i * (DAY_MS / 8));
		cr_assert_eq(code_of(r), 0);
		clm_response_free(r);
	}
	/* At an earlier instant: a scan, counting who had bought by then. */
	Clm__V1__GetSegmentRequest g = CLM__V1__GET_SEGMENT_REQUEST__INIT;
	g.name = "bought-lately";
	g.members = true;
	g.page_size = 3;
	g.page_token = "";
	g.as_of_ms = t + DAY_MS / 2; /* b-00 .. b-04 */
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_GET_SEGMENT;
	q.get_segment = &g;
	r = call(c, &q);
	cr_assert_eq(code_of(r), 0, "%s", r->status ? r->status->message : "");
	cr_assert_eq(r->get_segment->segment->count, 5);
	cr_assert_eq(r->get_segment->as_of_ms, t + DAY_MS / 2);
	cr_assert_eq(r->get_segment->n_members, 3);
	cr_assert_str_eq(r->get_segment->members[0], "b-00");
	cr_assert_str_eq(r->get_segment->members[2], "b-02");
	char *token = strdup(r->get_segment->next_page_token);
	clm_response_free(r);
	g.page_token = token;
	r = call(c, &q);
	cr_assert_eq(r->get_segment->n_members, 2);
	cr_assert_str_eq(r->get_segment->members[1], "b-04");
	cr_assert_str_eq(r->get_segment->next_page_token, "");
	clm_response_free(r);
	free(token);
	r = NULL;
	cr_assert_eq(clm_get_customer(c, "b-11", t + DAY_MS / 2, &r), CLM_OK);
	cr_assert_not(has_segment(r->customer, "bought-lately"));
	cr_assert(has_segment(r->customer, "buyers"));
	clm_response_free(r);

	/* kill -9: the journal's replay gives the same membership. */
	clm_close(c);
	clmd_kill9(&srv);
	cr_assert_eq(clmd_start(&srv, srv.data_dir, NULL), 0, "log %s",
	        srv.log_path);
	c = connect_srv();
	/*
	 * Defined after the last checkpoint, so replayed: its backfill ran
	 * again, to its end before clmd served.
	 */
	r = get_segment(c, "buyers", true, 0, NULL);
	cr_assert_eq(code_of(r), 0);
	cr_assert_not(r->get_segment->segment->backfilling);
	cr_assert_eq(r->get_segment->segment->count, 12);
	cr_assert_eq(r->get_segment->n_members, 12);
	clm_response_free(r);
	r = track(c, "b-new", CLM__V1__TOUCHPOINT_TYPE__PURCHASE, t);
	bool entered = false;
	for (size_t i = 0; i < r->track->n_changes; i++) {
		entered = entered
		        || (r->track->changes[i]->kind
		                        == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED
		                && strcmp(r->track->changes[i]->segment,
		                           "buyers")
		                        == 0);
	}
	cr_assert(entered, "no SEGMENT_ENTERED after the restart");
	clm_response_free(r);
	r = NULL;
	cr_assert_eq(clm_get_customer(c, "b-11", 0, &r), CLM_OK);
	cr_assert(has_segment(r->customer, "buyers"));
	cr_assert(has_segment(r->customer, "bought-lately"));
	clm_response_free(r);
	clm_close(c);
}

/* Writes ms into the test clock file, atomically. */
static void
set_clock(const char *path, int64_t ms)
{
	char tmp[PATH_MAX + 8], text[32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(text, sizeof(text), "%lld\n", (long long) ms);
	cr_assert_eq(harness_write_file(tmp, text), 0);
	cr_assert_eq(rename(tmp, path), 0);
}

Test(segment_server, time_driven_exit)
{
	char dir[PATH_MAX], clock_path[PATH_MAX + 16];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	set_clock(clock_path, 0);
	const char *args[] = { "--test-clock-file", clock_path, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0, "log %s", srv.log_path);
	clm_conn *c = connect_srv();
	clm_watch *w;
	cr_assert_eq(clm_watch_open(srv.events_url, "segment/", &w), CLM_OK);
	cr_assert_eq(clm_watch_ready(w, 10000), CLM_OK);
	int64_t t = now_ms() - DAY_MS;
	Clm__V1__Response *r = define(c, "recent", "since(last_seen) < 10d");
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);
	wait_backfilled(c, "recent");
	r = track(c, "visitor", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW, t);
	cr_assert(r->track->n_changes >= 1);
	cr_assert_eq(r->track->changes[r->track->n_changes - 1]->kind,
	        CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED);
	clm_response_free(r);
	char topic[128];
	Clm__V1__LifecycleEvent *ev = NULL;
	cr_assert_eq(
	        clm_watch_next(w, 10000, topic, sizeof(topic), &ev), CLM_OK);
	cr_assert_str_eq(topic, "segment/enter/recent");
	cr_assert_str_eq(ev->customer_id, "visitor");
	clm_event_free(ev);
	r = get_segment(c, "recent", true, 0, NULL);
	cr_assert_eq(r->get_segment->segment->count, 1);
	clm_response_free(r);

	/* 10 days on: out at once for reads, and for the writer soon. */
	set_clock(clock_path, 10 * DAY_MS);
	r = get_segment(c, "recent", true, 0, NULL);
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->get_segment->segment->count, 0);
	cr_assert_eq(r->get_segment->n_members, 0);
	clm_response_free(r);
	cr_assert_eq(clm_get_customer(c, "visitor", 0, &r), CLM_OK);
	cr_assert_not(has_segment(r->customer, "recent"));
	clm_response_free(r);

	/* The writer publishes the exit, at the instant it happened. */
	ev = NULL;
	cr_assert_eq(
	        clm_watch_next(w, 10000, topic, sizeof(topic), &ev), CLM_OK);
	cr_assert_str_eq(topic, "segment/exit/recent");
	cr_assert_eq(ev->kind, CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED);
	cr_assert_str_eq(ev->segment, "recent");
	cr_assert_eq(ev->at_ms, t + 10 * DAY_MS);
	clm_event_free(ev);
	/* Applied: the maintained count agrees without corrections. */
	r = get_segment(c, "recent", false, 0, NULL);
	cr_assert_eq(r->get_segment->segment->count, 0);
	clm_response_free(r);
	clm_watch_close(w);
	clm_close(c);
	harness_rm_rf(dir);
}
