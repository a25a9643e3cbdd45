/*
 * segment_flow: the segment calls of docs/segments.md on a real clmd, by
 * RPC and by the CLI: expression errors with their byte offset, names,
 * NOT_FOUND, redefinition (replaced, no events, members computed again),
 * deletion, the 256-segment limit, TrackReply's changes (read your
 * writes), and members page by page. Written from the contract only.
 *
 * Readings of the contract these tests take: DeleteSegment of a name that
 * does not exist is OK with existed = false (the reply's field says so; the
 * "unknown name gets NOT_FOUND" rule is read as GetSegment's); the offset
 * of an error is where the token that cannot stand there starts, or the
 * expression's length when it ends too early.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "flow.h"
#include "harness.h"
#include "segflow.h"

HARNESS_SUITE(segment_flow, 240);

#define PURCHASE  CLM__V1__TOUCHPOINT_TYPE__PURCHASE
#define PAGE_VIEW CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
#define REFUND    CLM__V1__TOUCHPOINT_TYPE__REFUND
#define ENTERED   3
#define EXITED    4

static clm_conn *
segment_flow_start(void)
{
	flow_start(&srv, NULL, NULL);
	return flow_connect_to(&srv);
}

/* One PURCHASE of item by customer now, event id eid; the reply. */
static Clm__V1__Response *
segment_flow_buy(
        clm_conn *c, const char *customer, const char *eid, const char *item)
{
	struct segflow_tp t = { customer, eid, PURCHASE, 0, item, 10.0 };
	return segflow_track(c, &t, 1);
}

Test(segment_flow, expression_errors_give_the_byte_offset)
{
	clm_conn *c = segment_flow_start();
	/* A number where a duration must be: "30" starts at byte 17. */
	segflow_expect_invalid_at(
	        segflow_define_call(c, "e1", "count(PAGE_VIEW, 30) >= 3"), 17,
	        "count without a unit");
	/* A Health name compared with stage: "AT_RISK" starts at byte 8. */
	segflow_expect_invalid_at(
	        segflow_define_call(c, "e2", "stage = AT_RISK"), 8,
	        "an enum name of another enum");
	/* Nothing after "and": the end, byte 18. */
	segflow_expect_invalid_at(
	        segflow_define_call(c, "e3", "purchases >= 2 and"), 18,
	        "a missing operand");
	/* An unclosed parenthesis: the end, byte 33. */
	segflow_expect_invalid_at(segflow_define_call(c, "e4",
	                                  "health = ACTIVE and (funnel = TOP"),
	        33, "a missing ')'");
	/* Nothing of them was defined. */
	Clm__V1__Response *l = segflow_list(c);
	cr_expect_eq(l->list_segments->n_segments, 0,
	        "%zu segments after four bad definitions",
	        l->list_segments->n_segments);
	clm_response_free(l);
	clm_close(c);
}

Test(segment_flow, names_are_lowercase_digits_dash_underscore)
{
	clm_conn *c = segment_flow_start();
	char long_name[66];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	const char *bad[] = { "", "Upper", "has space", "a/b", "a.b",
		"caf\xc3\xa9", long_name };
	for (size_t i = 0; i < N(bad); i++) {
		char what[96];
		snprintf(what, sizeof(what), "name '%.40s'", bad[i]);
		segflow_expect_invalid_field(
		        segflow_define_call(c, bad[i], "purchases >= 1"),
		        "name", what);
	}
	long_name[64] = '\0';
	const char *good[] = { long_name, "a", "0-9_z", "-", "_" };
	for (size_t i = 0; i < N(good); i++) {
		clm_response_free(
		        segflow_define(c, good[i], "purchases >= 1"));
	}
	Clm__V1__Response *l = segflow_list(c);
	const Clm__V1__ListSegmentsReply *ls = l->list_segments;
	cr_expect_eq(ls->n_segments, N(good), "%zu segments listed",
	        ls->n_segments);
	for (size_t i = 1; i < ls->n_segments; i++) {
		cr_expect(strcmp(ls->segments[i - 1]->name,
		                  ls->segments[i]->name)
		                < 0,
		        "not by name: '%s' before '%s'",
		        ls->segments[i - 1]->name, ls->segments[i]->name);
	}
	clm_response_free(l);
	clm_close(c);
}

Test(segment_flow, unknown_names_are_not_found)
{
	clm_conn *c = segment_flow_start();
	Clm__V1__Response *r = segflow_get_call(c, "nope", 0, NULL, 0);
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "get: %s (%s)",
	        clm_errname(flow_status_of(r)), flow_message_of(r));
	clm_response_free(r);
	r = segflow_get_call(c, "nope", 10, NULL, 0);
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "members: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	r = segflow_get_call(c, "nope", 0, NULL, segflow_now_ms() - 1000);
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "as_of: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	cr_expect_not(
	        segflow_delete(c, "nope"), "deleted a segment never made");
	clm_close(c);
}

Test(segment_flow, redefinition_replaces_without_events)
{
	clm_conn *c = segment_flow_start();
	clm_response_free(segment_flow_buy(c, "r-a1", "r-e1", "sku-1"));
	clm_response_free(segment_flow_buy(c, "r-a2", "r-e2", "sku-1"));
	clm_response_free(segment_flow_buy(c, "r-a3", "r-e3", "sku-2"));
	Clm__V1__Response *d = segflow_define(c, "redef", "bought \"sku-1\"");
	cr_expect_not(d->define_segment->replaced, "a new segment replaced");
	clm_response_free(d);
	segflow_wait_backfill(c, "redef", 30000);
	cr_expect_eq(segflow_count(c, "redef"), 2);
	cr_expect(segflow_in_customer(c, "r-a1", "redef", 0));

	clm_watch *w = segflow_watch(&srv);
	d = segflow_define(c, "redef", "bought \"sku-2\"");
	cr_expect(d->define_segment->replaced, "redefinition: replaced false");
	clm_response_free(d);
	segflow_wait_backfill(c, "redef", 30000);
	cr_expect_eq(segflow_count(c, "redef"), 1);
	size_t n;
	int pages;
	char **ids = segflow_members(c, "redef", 100, 0, &n, &pages);
	cr_expect(n == 1 && strcmp(ids[0], "r-a3") == 0, "members: %zu, '%s'",
	        n, n > 0 ? ids[0] : "");
	segflow_members_free(ids, n);
	cr_expect_not(segflow_in_customer(c, "r-a1", "redef", 0),
	        "r-a1 still in the redefined segment");
	cr_expect(segflow_in_customer(c, "r-a3", "redef", 0));
	Clm__V1__Response *l = segflow_list(c);
	cr_expect_eq(l->list_segments->n_segments, 1);
	cr_expect_str_eq(
	        l->list_segments->segments[0]->expression, "bought \"sku-2\"");
	clm_response_free(l);

	/*
	 * A later entry proves the stream delivered everything before it:
	 * the first segment event must be that one (no exit of r-a1, r-a2,
	 * no entry of r-a3 from the redefinition).
	 */
	Clm__V1__Response *t = segment_flow_buy(c, "r-a4", "r-e4", "sku-2");
	cr_expect_eq(segflow_changes(t, ENTERED, "r-a4", "redef"), 1,
	        "TrackReply without r-a4's entry");
	clm_response_free(t);
	struct segflow_event ev;
	cr_assert(segflow_next(w, 30000, &ev), "no event in 30 s");
	cr_expect(ev.kind == ENTERED && strcmp(ev.customer, "r-a4") == 0
	                && strcmp(ev.segment, "redef") == 0,
	        "first event after the redefinition: kind %d %s %s", ev.kind,
	        ev.customer, ev.segment);
	clm_watch_close(w);
	clm_close(c);
}

Test(segment_flow, deletion_removes_the_segment_and_its_membership)
{
	clm_conn *c = segment_flow_start();
	clm_response_free(segment_flow_buy(c, "d-b1", "d-e1", "sku-1"));
	clm_response_free(segflow_define(c, "del-1", "purchases >= 1"));
	clm_response_free(segflow_define(c, "del-2", "purchases >= 1"));
	segflow_wait_backfill(c, "del-1", 30000);
	segflow_wait_backfill(c, "del-2", 30000);
	cr_expect(segflow_in_customer(c, "d-b1", "del-1", 0));
	clm_watch *w = segflow_watch(&srv);

	cr_expect(segflow_delete(c, "del-1"), "existed false for del-1");
	Clm__V1__Response *r = segflow_get_call(c, "del-1", 0, NULL, 0);
	cr_expect_eq(flow_status_of(r), CLM_NOT_FOUND, "get after delete: %s",
	        clm_errname(flow_status_of(r)));
	clm_response_free(r);
	cr_expect_not(segflow_in_customer(c, "d-b1", "del-1", 0),
	        "Customer.segments still lists del-1");
	cr_expect_not(
	        segflow_in_customer(c, "d-b1", "del-1", segflow_now_ms() - 1),
	        "Customer.segments as of a past instant lists del-1");
	cr_expect(segflow_in_customer(c, "d-b1", "del-2", 0));
	Clm__V1__Response *l = segflow_list(c);
	cr_expect(l->list_segments->n_segments == 1
	                && strcmp(l->list_segments->segments[0]->name, "del-2")
	                        == 0,
	        "list after delete: %zu segments",
	        l->list_segments->n_segments);
	clm_response_free(l);
	cr_expect_not(segflow_delete(c, "del-1"), "deleted twice");

	/* No exit event from the deletion: the first event is this entry. */
	clm_response_free(segment_flow_buy(c, "d-b2", "d-e2", "sku-1"));
	struct segflow_event ev;
	cr_assert(segflow_next(w, 30000, &ev), "no event in 30 s");
	cr_expect(ev.kind == ENTERED && strcmp(ev.customer, "d-b2") == 0
	                && strcmp(ev.segment, "del-2") == 0,
	        "first event after the deletion: kind %d %s %s", ev.kind,
	        ev.customer, ev.segment);
	/* A segment defined again under the old name starts afresh. */
	clm_response_free(segflow_define(c, "del-1", "purchases >= 5"));
	segflow_wait_backfill(c, "del-1", 30000);
	cr_expect_eq(segflow_count(c, "del-1"), 0);
	clm_watch_close(w);
	clm_close(c);
}

Test(segment_flow, the_257th_segment_is_refused)
{
	clm_conn *c = segment_flow_start();
	clm_response_free(segment_flow_buy(c, "l-1", "l-e1", "sku-1"));
	char name[32], expr[32];
	for (int i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "lim-%03d", 255 - i);
		snprintf(expr, sizeof(expr), "purchases >= %d", i % 3);
		clm_response_free(segflow_define(c, name, expr));
	}
	Clm__V1__Response *r
	        = segflow_define_call(c, "lim-256", "purchases >= 1");
	cr_expect_eq(flow_status_of(r), CLM_RESOURCE_EXHAUSTED,
	        "the 257th: %s (%s)", clm_errname(flow_status_of(r)),
	        flow_message_of(r));
	clm_response_free(r);
	/* Redefining one of the 256 is no new segment. */
	r = segflow_define(c, "lim-000", "purchases >= 0");
	cr_expect(r->define_segment->replaced);
	clm_response_free(r);
	Clm__V1__Response *l = segflow_list(c);
	const Clm__V1__ListSegmentsReply *ls = l->list_segments;
	cr_expect_eq(ls->n_segments, 256, "%zu listed", ls->n_segments);
	for (size_t i = 0; i < ls->n_segments; i++) {
		snprintf(name, sizeof(name), "lim-%03zu", i);
		cr_expect_str_eq(ls->segments[i]->name, name, "list[%zu]", i);
	}
	clm_response_free(l);
	cr_expect(segflow_delete(c, "lim-100"));
	clm_response_free(segflow_define(c, "lim-256", "purchases >= 1"));
	segflow_wait_backfill(c, "lim-256", 30000);
	cr_expect_eq(segflow_count(c, "lim-256"), 1);
	clm_close(c);
}

Test(segment_flow, track_reply_lists_the_entries_and_exits_it_caused)
{
	clm_conn *c = segment_flow_start();
	clm_response_free(
	        segflow_define(c, "repeat", "purchases >= 2 and refunds = 0"));
	segflow_wait_backfill(c, "repeat", 30000);
	clm_watch *w = segflow_watch(&srv);

	Clm__V1__Response *t = segment_flow_buy(c, "t-c1", "t-e1", "sku-1");
	cr_expect_eq(segflow_changes(t, ENTERED, "t-c1", "repeat"), 0);
	clm_response_free(t);
	cr_expect_eq(segflow_count(c, "repeat"), 0);

	t = segment_flow_buy(c, "t-c1", "t-e2", "sku-2");
	cr_expect_eq(segflow_changes(t, ENTERED, "t-c1", "repeat"), 1,
	        "the second purchase's reply has no SEGMENT_ENTERED");
	clm_response_free(t);
	/* Read your writes: the count right after the reply. */
	cr_expect_eq(segflow_count(c, "repeat"), 1);
	cr_expect(segflow_in_customer(c, "t-c1", "repeat", 0));

	/* The same event again: a duplicate, no change. */
	struct segflow_tp again = { "t-c1", "t-e2", PURCHASE, 0, "sku-2", 10 };
	t = segflow_track_call(c, &again, 1);
	cr_expect_eq(t->track->duplicates, 1);
	cr_expect_eq(t->track->n_changes, 0, "a duplicate made %zu changes",
	        t->track->n_changes);
	clm_response_free(t);

	struct segflow_tp rf = { "t-c1", "t-e3", REFUND, 0, "sku-2", 10.0 };
	t = segflow_track(c, &rf, 1);
	cr_expect_eq(segflow_changes(t, EXITED, "t-c1", "repeat"), 1,
	        "the refund's reply has no SEGMENT_EXITED");
	clm_response_free(t);
	cr_expect_eq(segflow_count(c, "repeat"), 0);

	/* The stream has the same two, in order, and nothing else. */
	struct segflow_event ev[2];
	for (int i = 0; i < 2; i++) {
		cr_assert(
		        segflow_next(w, 30000, &ev[i]), "event %d missing", i);
		cr_expect(strcmp(ev[i].customer, "t-c1") == 0
		                && strcmp(ev[i].segment, "repeat") == 0,
		        "event %d: %s %s", i, ev[i].customer, ev[i].segment);
	}
	cr_expect(ev[0].kind == ENTERED && ev[1].kind == EXITED,
	        "kinds %d, %d", ev[0].kind, ev[1].kind);
	cr_expect(ev[0].seq < ev[1].seq, "seq %llu then %llu",
	        (unsigned long long) ev[0].seq,
	        (unsigned long long) ev[1].seq);
	/* An entry of another customer is the next event. */
	clm_response_free(segment_flow_buy(c, "t-c2", "t-e4", "sku-1"));
	clm_response_free(segment_flow_buy(c, "t-c2", "t-e5", "sku-1"));
	struct segflow_event last;
	cr_assert(segflow_next(w, 30000, &last), "t-c2's entry missing");
	cr_expect(last.kind == ENTERED && strcmp(last.customer, "t-c2") == 0,
	        "next event: kind %d %s", last.kind, last.customer);
	clm_watch_close(w);
	clm_close(c);
}

Test(segment_flow, members_come_page_by_page_in_order)
{
	clm_conn *c = segment_flow_start();
	struct segflow_tp t[55];
	char cid[55][16], eid[55][16];
	for (int i = 0; i < 55; i++) {
		/* Made out of order; m-... buy, n-... only look. */
		int k = (i * 37) % 55;
		snprintf(cid[i], sizeof(cid[i]), "%s-%02d", k < 50 ? "m" : "n",
		        k);
		snprintf(eid[i], sizeof(eid[i]), "p-e%02d", i);
		t[i] = (struct segflow_tp) { cid[i], eid[i],
			k < 50 ? PURCHASE : PAGE_VIEW, 0, "sku-1", 5.0 };
	}
	clm_response_free(segflow_track(c, t, 55));
	clm_response_free(segflow_define(c, "paged", "purchases >= 1"));
	segflow_wait_backfill(c, "paged", 30000);
	cr_expect_eq(segflow_count(c, "paged"), 50);
	size_t n;
	int pages;
	char **ids = segflow_members(c, "paged", 7, 0, &n, &pages);
	cr_expect_eq(n, 50, "%zu members over the pages", n);
	cr_expect_eq(pages, 8, "%d pages of 7 for 50", pages);
	for (size_t i = 0; i < n && i < 50; i++) {
		char want[16];
		snprintf(want, sizeof(want), "m-%02zu", i);
		cr_expect_str_eq(ids[i], want, "member %zu", i);
	}

	/* The CLI lists every page, one id a line. */
	const char *argv[] = { "segment", "members", "paged", NULL };
	struct cli_output o = cli_run(argv, NULL);
	cr_expect_eq(o.rc, 0, "exit %d: %s", o.rc, o.err);
	char *save = NULL;
	size_t k = 0;
	for (char *ln = strtok_r(o.out, "\n", &save); ln != NULL;
	        ln = strtok_r(NULL, "\n", &save), k++) {
		cr_expect(k < n && strcmp(ln, ids[k]) == 0,
		        "clm line %zu '%s'", k, ln);
	}
	cr_expect_eq(k, n, "clm printed %zu ids", k);
	cli_output_free(&o);
	segflow_members_free(ids, n);
	clm_close(c);
}

/* The first decimal number in s, or -1. */
static long long
segment_flow_first_number(const char *s)
{
	const char *p = s;
	while (*p != '\0' && (*p < '0' || *p > '9')) {
		p++;
	}
	return *p == '\0' ? -1 : strtoll(p, NULL, 10);
}

Test(segment_flow, cli_defines_counts_shows_lists_deletes)
{
	clm_conn *c = segment_flow_start();
	clm_response_free(segment_flow_buy(c, "k-1", "k-e1", "sku-1"));
	clm_response_free(segment_flow_buy(c, "k-2", "k-e2", "sku-1"));
	clm_response_free(segment_flow_buy(c, "k-3", "k-e3", "sku-2"));
	harness_cli_url(srv.url);
	const char *def[]
	        = { "segment", "define", "cli-seg", "bought \"sku-1\"", NULL };
	struct cli_output o = cli_run(def, NULL);
	cr_expect_eq(o.rc, 0, "define: exit %d: %s", o.rc, o.err);
	cr_expect(strstr(o.out, "2") != NULL, "define printed '%s'", o.out);
	cli_output_free(&o);

	const char *cnt[] = { "segment", "count", "cli-seg", NULL };
	o = cli_run(cnt, NULL);
	cr_expect_eq(o.rc, 0, "count: exit %d: %s", o.rc, o.err);
	cr_expect_eq(segment_flow_first_number(o.out), 2, "count printed '%s'",
	        o.out);
	cli_output_free(&o);

	const char *show[] = { "segment", "show", "cli-seg", NULL };
	o = cli_run(show, NULL);
	cr_expect_eq(o.rc, 0, "show: exit %d: %s", o.rc, o.err);
	cr_expect(strstr(o.out, "cli-seg") != NULL
	                && strstr(o.out, "bought \"sku-1\"") != NULL,
	        "show printed '%s'", o.out);
	cli_output_free(&o);

	const char *list[] = { "--json", "segment", "list", NULL };
	o = cli_run(list, NULL);
	cr_expect_eq(o.rc, 0, "list: exit %d: %s", o.rc, o.err);
	cr_expect(strstr(o.out, "\"cli-seg\"") != NULL, "list printed '%s'",
	        o.out);
	cli_output_free(&o);

	const char *bad[]
	        = { "segment", "define", "cli-bad", "stage = ", NULL };
	o = cli_run(bad, NULL);
	cr_expect_neq(o.rc, 0, "a bad expression: exit 0");
	cr_expect(strstr(o.err, "at byte 8") != NULL, "stderr '%s'", o.err);
	cli_output_free(&o);

	const char *del[] = { "segment", "delete", "cli-seg", NULL };
	o = cli_run(del, NULL);
	cr_expect_eq(o.rc, 0, "delete: exit %d: %s", o.rc, o.err);
	cli_output_free(&o);
	o = cli_run(cnt, NULL);
	cr_expect_neq(
	        o.rc, 0, "count of a deleted segment: exit 0 '%s'", o.out);
	cli_output_free(&o);
	clm_close(c);
}
