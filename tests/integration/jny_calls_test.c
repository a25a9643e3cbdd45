/*
 * The journey calls (docs/journeys.md "Calls") against a real clmd:
 * DefineJourney (its reply: the normalised definition with the webhook's
 * secret hidden, zero statistics per step), a redefinition (replaced, the
 * same created_at, a new defined_at), ListJourneys in name order,
 * GetJourney, DeleteJourney, JourneyMessages over an empty feed, every
 * error code with its violation's field, the limit of 64 journeys, and
 * the definitions after a restart (replayed from the journal).
 *
 * The clock is clmd's test clock (test_clock_file), moved a day between
 * the writes whose instants the test compares, so nothing sleeps.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/client.h"
#include "harness.h"

#define DAY_MS (86400000LL)

HARNESS_SUITE(jny_calls, 180);

static char clock_dir[32];
static char clock_path[64];

/* Writes ms into the test clock's file (a new file renamed over it). */
static void
clock_set(int64_t ms)
{
	char tmp[80], text[32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", clock_path);
	snprintf(text, sizeof(text), "%lld\n", (long long) ms);
	cr_assert_eq(harness_write_file(tmp, text), 0);
	cr_assert_eq(rename(tmp, clock_path), 0);
}

static void
start(void)
{
	if (clock_dir[0] == '\0') {
		cr_assert_eq(harness_tmpdir(clock_dir), 0);
		snprintf(
		        clock_path, sizeof(clock_path), "%s/clock", clock_dir);
		clock_set(0);
	}
	const char *args[] = { "--test-clock-file", clock_path, NULL };
	cr_assert_eq(
	        clmd_start(&srv,
	                srv.pid == 0 && srv.data_dir[0] != '\0' ? srv.data_dir
	                                                        : NULL,
	                args),
	        0, "clmd did not start; log %s", srv.log_path);
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

/* Asserts r is the error code with one violation on field. */
static void
expect_violation(const Clm__V1__Response *r, int code, const char *field)
{
	cr_assert_eq(code_of(r), code, "code %d, want %d: %s", code_of(r),
	        code, r->status ? r->status->message : "");
	cr_assert_geq(r->status->n_violations, 1, "%s", r->status->message);
	cr_assert_str_eq(r->status->violations[0]->field, field);
}

static Clm__V1__Response *
define(clm_conn *c, const char *json)
{
	Clm__V1__DefineJourneyRequest d
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	d.definition = (char *) json;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	q.define_journey = &d;
	return call(c, &q);
}

static Clm__V1__Response *
get_journey(clm_conn *c, const char *name)
{
	Clm__V1__GetJourneyRequest g = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	g.name = (char *) name;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_GET_JOURNEY;
	q.get_journey = &g;
	return call(c, &q);
}

static Clm__V1__Response *
list(clm_conn *c)
{
	Clm__V1__ListJourneysRequest l = CLM__V1__LIST_JOURNEYS_REQUEST__INIT;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_LIST_JOURNEYS;
	q.list_journeys = &l;
	return call(c, &q);
}

static Clm__V1__Response *
del(clm_conn *c, const char *name)
{
	Clm__V1__DeleteJourneyRequest d
	        = CLM__V1__DELETE_JOURNEY_REQUEST__INIT;
	d.name = (char *) name;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_DELETE_JOURNEY;
	q.delete_journey = &d;
	return call(c, &q);
}

static Clm__V1__Response *
messages(clm_conn *c, uint64_t after, uint32_t limit, const char *journey)
{
	Clm__V1__JourneyMessagesRequest m
	        = CLM__V1__JOURNEY_MESSAGES_REQUEST__INIT;
	m.after = after;
	m.limit = limit;
	m.journey = (char *) journey;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	q.journey_messages = &m;
	return call(c, &q);
}

static const char cart[]
        = "{\"name\": \"cart\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
          " \"exit\": \"count(PURCHASE, since_entry) >= 1\","
          " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": "
          "\"CART_REMINDER\", \"action\": \"cart_reminder\", \"channel\": "
          "\"EMAIL\"}}, {\"wait\": \"24h\", \"send\": {\"kind\": "
          "\"CART_REMINDER\", \"action\": \"cart_followup\", \"channel\": "
          "\"SMS\"}, \"when_capped\": \"skip\"}],"
          " \"webhook\": {\"url\": \"http://127.0.0.1:9/hook\", \"secret\": "
          "\"s3cret-value\"}}";

/* A one-step journey called name. */
static void
simple(char *buf, size_t n, const char *name, const char *action)
{
	snprintf(buf, n,
	        "{\"name\": \"%s\", \"trigger\": {\"stage\": \"RETENTION\"},"
	        " \"steps\": [{\"send\": {\"kind\": \"WIN_BACK\", \"action\": "
	        "\"%s\", \"channel\": \"EMAIL\"}}]}",
	        name, action);
}

Test(jny_calls, define_redefine_list_get_delete)
{
	start();
	clm_conn *c = connect_srv();
	int64_t t0;

	Clm__V1__Response *r = define(c, cart);
	cr_assert_eq(code_of(r), 0, "%s", r->status ? r->status->message : "");
	cr_assert_eq(r->result_case, CLM__V1__RESPONSE__RESULT_DEFINE_JOURNEY);
	Clm__V1__Journey *j = r->define_journey->journey;
	cr_assert_not(r->define_journey->replaced);
	cr_assert_str_eq(j->name, "cart");
	cr_assert_gt(j->defined_at_ms, 0);
	cr_assert_eq(j->created_at_ms, j->defined_at_ms);
	t0 = j->created_at_ms;
	/* Normalised (defaults written out), the secret hidden. */
	cr_assert_null(strstr(j->definition, "s3cret"), "%s", j->definition);
	cr_assert_not_null(
	        strstr(j->definition, "\"***\""), "%s", j->definition);
	cr_assert_not_null(
	        strstr(j->definition, "\"reentry\""), "%s", j->definition);
	cr_assert_not_null(j->stats);
	cr_assert_eq(j->stats->n_steps, 2);
	cr_assert_eq(j->stats->steps[1]->step, 1);
	cr_assert_eq(j->stats->entered + j->stats->active, 0);
	clm_response_free(r);

	/* A day later, redefined: replaced, created_at kept. */
	clock_set(DAY_MS);
	char def[1024];
	simple(def, sizeof(def), "cart", "other");
	r = define(c, def);
	cr_assert_eq(code_of(r), 0, "%s", r->status ? r->status->message : "");
	cr_assert(r->define_journey->replaced);
	j = r->define_journey->journey;
	cr_assert_eq(j->created_at_ms, t0);
	cr_assert_geq(j->defined_at_ms, t0 + DAY_MS);
	cr_assert_eq(j->stats->n_steps, 1);
	cr_assert_not_null(strstr(j->definition, "\"other\""));
	clm_response_free(r);

	simple(def, sizeof(def), "b-journey", "b");
	r = define(c, def);
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);
	simple(def, sizeof(def), "a_journey", "a");
	r = define(c, def);
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);

	/* By name. */
	r = list(c);
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->list_journeys->n_journeys, 3);
	cr_assert_str_eq(r->list_journeys->journeys[0]->name, "a_journey");
	cr_assert_str_eq(r->list_journeys->journeys[1]->name, "b-journey");
	cr_assert_str_eq(r->list_journeys->journeys[2]->name, "cart");
	cr_assert_eq(r->list_journeys->journeys[2]->created_at_ms, t0);
	cr_assert_not_null(r->list_journeys->journeys[0]->stats);
	clm_response_free(r);

	r = get_journey(c, "cart");
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->result_case, CLM__V1__RESPONSE__RESULT_GET_JOURNEY);
	cr_assert_str_eq(r->get_journey->journey->name, "cart");
	cr_assert_eq(r->get_journey->journey->created_at_ms, t0);
	clm_response_free(r);
	r = get_journey(c, "nope");
	cr_assert_eq(code_of(r), CLM_NOT_FOUND);
	cr_assert_not_null(strstr(r->status->message, "'nope'"), "%s",
	        r->status->message);
	clm_response_free(r);

	/* Deleted: gone; again: existed false. Defined again: a new one. */
	r = del(c, "cart");
	cr_assert_eq(code_of(r), 0);
	cr_assert(r->delete_journey->existed);
	clm_response_free(r);
	r = del(c, "cart");
	cr_assert_eq(code_of(r), 0);
	cr_assert_not(r->delete_journey->existed);
	clm_response_free(r);
	r = get_journey(c, "cart");
	cr_assert_eq(code_of(r), CLM_NOT_FOUND);
	clm_response_free(r);
	clock_set(2 * DAY_MS);
	r = define(c, cart);
	cr_assert_eq(code_of(r), 0);
	cr_assert_not(r->define_journey->replaced);
	cr_assert_geq(
	        r->define_journey->journey->created_at_ms, t0 + 2 * DAY_MS);
	int64_t t2 = r->define_journey->journey->created_at_ms;
	clm_response_free(r);

	/* After a restart, replayed from the journal: the same. */
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
	start();
	c = connect_srv();
	r = list(c);
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->list_journeys->n_journeys, 3);
	cr_assert_str_eq(r->list_journeys->journeys[2]->name, "cart");
	cr_assert_eq(r->list_journeys->journeys[2]->created_at_ms, t2);
	cr_assert_eq(r->list_journeys->journeys[2]->stats->n_steps, 2);
	clm_response_free(r);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(jny_calls, errors_name_their_field)
{
	start();
	clm_conn *c = connect_srv();
	Clm__V1__Response *r = define(c, "{\"name\": ");
	expect_violation(r, CLM_INVALID_ARGUMENT, "define_journey.definition");
	clm_response_free(r);
	r = define(c, "");
	expect_violation(r, CLM_INVALID_ARGUMENT, "define_journey.definition");
	clm_response_free(r);
	/* The description starts with the JSON path of the fault. */
	r = define(c,
	        "{\"name\": \"x\", \"trigger\": {\"event\": \"PURCHASE\"}, "
	        "\"steps\": [{\"send\": {\"kind\": \"WIN_BACK\", \"action\": "
	        "\"a\", \"channel\": \"FAX\"}}]}");
	expect_violation(r, CLM_INVALID_ARGUMENT, "define_journey.definition");
	cr_assert_eq(strncmp(r->status->violations[0]->description,
	                     "steps[0].send.channel", 21),
	        0, "%s", r->status->violations[0]->description);
	clm_response_free(r);
	char *big = malloc(70000);
	cr_assert_not_null(big);
	memset(big, ' ', 69999);
	big[0] = '{';
	big[69998] = '}';
	big[69999] = '\0';
	r = define(c, big);
	free(big);
	expect_violation(r, CLM_INVALID_ARGUMENT, "define_journey.definition");
	clm_response_free(r);

	r = get_journey(c, "Bad Name");
	expect_violation(r, CLM_INVALID_ARGUMENT, "get_journey.name");
	clm_response_free(r);
	r = get_journey(c, "");
	expect_violation(r, CLM_INVALID_ARGUMENT, "get_journey.name");
	clm_response_free(r);
	r = del(c, "x/y");
	expect_violation(r, CLM_INVALID_ARGUMENT, "delete_journey.name");
	clm_response_free(r);

	r = messages(c, 0, 1001, "");
	expect_violation(r, CLM_INVALID_ARGUMENT, "journey_messages.limit");
	clm_response_free(r);
	r = messages(c, 0, 0, "NOT A NAME");
	expect_violation(r, CLM_INVALID_ARGUMENT, "journey_messages.journey");
	clm_response_free(r);

	/* Nothing was defined by any of them. */
	r = list(c);
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->list_journeys->n_journeys, 0);
	clm_response_free(r);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(jny_calls, messages_over_an_empty_feed)
{
	start();
	clm_conn *c = connect_srv();
	uint32_t limits[] = { 0, 1, 1000 };
	for (size_t i = 0; i < 3; i++) {
		Clm__V1__Response *r = messages(c, 0, limits[i], "");
		cr_assert_eq(code_of(r), 0, "%s",
		        r->status ? r->status->message : "");
		cr_assert_eq(r->result_case,
		        CLM__V1__RESPONSE__RESULT_JOURNEY_MESSAGES);
		cr_assert_eq(r->journey_messages->n_messages, 0);
		cr_assert_eq(r->journey_messages->next_after, 0);
		cr_assert_eq(r->journey_messages->oldest, 0);
		cr_assert_eq(r->journey_messages->last, 0);
		clm_response_free(r);
	}
	/* After a position: next_after stays there; any journey's filter. */
	Clm__V1__Response *r = messages(c, 42, 10, "no-such-journey");
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->journey_messages->n_messages, 0);
	cr_assert_eq(r->journey_messages->next_after, 42);
	clm_response_free(r);
	r = messages(c, UINT64_MAX, 10, "");
	cr_assert_eq(code_of(r), 0);
	cr_assert_eq(r->journey_messages->next_after, UINT64_MAX);
	clm_response_free(r);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}

Test(jny_calls, at_most_64_journeys)
{
	start();
	clm_conn *c = connect_srv();
	char def[1024], name[32];
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "j%02d", i);
		simple(def, sizeof(def), name, "a");
		Clm__V1__Response *r = define(c, def);
		cr_assert_eq(code_of(r), 0, "%d: %s", i,
		        r->status ? r->status->message : "");
		clm_response_free(r);
	}
	simple(def, sizeof(def), "one-more", "a");
	Clm__V1__Response *r = define(c, def);
	cr_assert_eq(code_of(r), CLM_RESOURCE_EXHAUSTED, "%s",
	        r->status ? r->status->message : "");
	cr_assert_not_null(strstr(r->status->message, "64"));
	clm_response_free(r);
	/* Redefining one of the 64 is fine; after a delete, one more is. */
	simple(def, sizeof(def), "j07", "b");
	r = define(c, def);
	cr_assert_eq(code_of(r), 0);
	cr_assert(r->define_journey->replaced);
	clm_response_free(r);
	r = del(c, "j07");
	cr_assert(r->delete_journey->existed);
	clm_response_free(r);
	simple(def, sizeof(def), "one-more", "a");
	r = define(c, def);
	cr_assert_eq(code_of(r), 0);
	clm_response_free(r);
	r = list(c);
	cr_assert_eq(r->list_journeys->n_journeys, 64);
	clm_response_free(r);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
}
