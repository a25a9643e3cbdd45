/*
 * Unit tests of server/ingest/sdk_map.c: the built-in event table, the
 * user's sdk_event_map file (good lines in every form, each bad line
 * refused with FILE:LINE), and its effect on sdk_parse.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ingest/sdk_internal.h"
#include "sdk_fixture.h"
#include "testdir.h"

static char dir[256];

static void
setup(void)
{
	sdk_fixture_setup();
	testdir_make(dir, sizeof(dir), "sdkmap");
}

static void
teardown(void)
{
	testdir_remove(dir);
	sdk_fixture_teardown();
}

TestSuite(sdk_map, .init = setup, .fini = teardown);

/* Writes text to DIR/events.map; returns its path. */
static const char *
map_file(const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/events.map", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	fclose(f);
	return path;
}

static clm_err
load(const char *text, struct sdk_map **m, char *err)
{
	*m = NULL;
	return sdk_map_load(map_file(text), m, err, 256);
}

Test(sdk_map, good_file)
{
	struct sdk_map *m;
	char err[256] = "";
	cr_assert_eq(load("# clm: our own events\n"
	                  "\n"
	                  "Trial Started = SIGNUP\n"
	                  "  Plan Upgraded   =   purchase  \n"
	                  "Ticket Opened\tSUPPORT_TICKET\n"
	                  "Order Completed = CUSTOM\r\n"
	                  "Heartbeat = IGNORE\n"
	                  "a = b = FEEDBACK\n"
	                  "   # an indented comment\n"
	                  "Last Line Without Newline = REVIEW",
	                     &m, err),
	        CLM_OK, "%s", err);
	cr_assert_eq(sdk_event_type(m, "trial started"),
	        CLM__V1__TOUCHPOINT_TYPE__SIGNUP);
	cr_assert_eq(sdk_event_type(m, "PLAN_UPGRADED"),
	        CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_eq(sdk_event_type(m, "Ticket Opened"),
	        CLM__V1__TOUCHPOINT_TYPE__SUPPORT_TICKET);
	/* A line overrides a built-in name. */
	cr_assert_eq(sdk_event_type(m, "Order Completed"),
	        CLM__V1__TOUCHPOINT_TYPE__CUSTOM);
	cr_assert_eq(sdk_event_type(m, "heartbeat"), SDK_MAP_IGNORE);
	/* Split at the last '=': the name may hold one. */
	cr_assert_eq(sdk_event_type(m, "a = b"),
	        CLM__V1__TOUCHPOINT_TYPE__FEEDBACK);
	cr_assert_eq(sdk_event_type(m, "Last Line Without Newline"),
	        CLM__V1__TOUCHPOINT_TYPE__REVIEW);
	/* The other built-in names are still there. */
	cr_assert_eq(sdk_event_type(m, "Order Refunded"),
	        CLM__V1__TOUCHPOINT_TYPE__REFUND);
	cr_assert_eq(
	        sdk_event_type(m, "Nope"), CLM__V1__TOUCHPOINT_TYPE__CUSTOM);
	sdk_map_free(m);
	sdk_map_free(NULL);
}

Test(sdk_map, bad_lines)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "A = SIGNUP\nno separator here\n",
		        ":2: expected 'Event Name = TYPE' (or a tab between them)" },
		{ "A = BUY\n",
		        ":1: unknown type 'BUY': a TouchpointType name" },
		{ "A = TOUCHPOINT_TYPE_UNSPECIFIED\n", ":1: unknown type" },
		{ "A =\n", ":1: unknown type ''" },
		{ " = SIGNUP\n", ":1: no event name before 'SIGNUP'" },
		{ "# x\nA = SIGNUP\na = REFUND\n",
		        ":3: 'a' is already mapped on line 2" },
		{ "A\x01 = SIGNUP\n",
		        ":1: the event name is not printable UTF-8" },
		{ "\xc3\x28 = SIGNUP\n",
		        ":1: the event name is not printable UTF-8" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sdk_map *m;
		char err[256] = "";
		cr_assert_eq(load(cases[i].text, &m, err),
		        CLM_INVALID_ARGUMENT, "case %zu", i);
		cr_assert_null(m);
		/* FILE:LINE: why */
		cr_assert_not_null(strstr(err, "events.map:"), "%s", err);
		cr_assert_not_null(
		        strstr(err, cases[i].why), "case %zu: %s", i, err);
	}
}

Test(sdk_map, long_lines)
{
	char text[2200];
	struct sdk_map *m;
	char err[256];
	/* A 256-byte name; a line over 1024 bytes. */
	memset(text, 'n', 256);
	strcpy(text + 256, " = SIGNUP\n");
	cr_assert_eq(load(text, &m, err), CLM_INVALID_ARGUMENT);
	cr_assert_not_null(strstr(err, ":1: event name longer than 255 bytes"),
	        "%s", err);
	memset(text, 'n', 2000);
	strcpy(text + 2000, " = SIGNUP\n");
	cr_assert_eq(load(text, &m, err), CLM_INVALID_ARGUMENT);
	cr_assert_not_null(
	        strstr(err, ":1: line longer than 1024 bytes"), "%s", err);
	/* A line of 1024 bytes is fine, 1025 are not. */
	memset(text, '#', 1024);
	strcpy(text + 1024, "\nA = SIGNUP\n");
	cr_assert_eq(load(text, &m, err), CLM_OK, "%s", err);
	sdk_map_free(m);
	memset(text, '#', 1025);
	strcpy(text + 1025, "\n");
	cr_assert_eq(load(text, &m, err), CLM_INVALID_ARGUMENT);
	cr_assert_not_null(
	        strstr(err, ":1: line longer than 1024 bytes"), "%s", err);
	/* 255 bytes is fine. */
	memset(text, 'n', 255);
	strcpy(text + 255, " = SIGNUP\n");
	cr_assert_eq(load(text, &m, err), CLM_OK, "%s", err);
	text[255] = '\0';
	cr_assert_eq(
	        sdk_event_type(m, text), CLM__V1__TOUCHPOINT_TYPE__SIGNUP);
	sdk_map_free(m);
}

Test(sdk_map, missing_file)
{
	struct sdk_map *m = NULL;
	char err[256];
	cr_assert_eq(sdk_map_load("/nonexistent/clm/events.map", &m, err,
	                     sizeof(err)),
	        CLM_INVALID_ARGUMENT);
	cr_assert_null(m);
	cr_assert_str_eq(err,
	        "cannot open sdk_event_map '/nonexistent/clm/events.map': No such file or directory");
	/* No path, or an empty one: the built-in names alone. */
	cr_assert_eq(sdk_map_load("", &m, err, sizeof(err)), CLM_OK);
	cr_assert_eq(sdk_event_type(m, "Signed Up"),
	        CLM__V1__TOUCHPOINT_TYPE__SIGNUP);
	sdk_map_free(m);
}

Test(sdk_map, in_parse)
{
	struct sdk_map *m;
	char err[256];
	cr_assert_eq(load("Heartbeat = IGNORE\n"
	                  "Plan Upgraded = PURCHASE\n"
	                  "$pageview = IGNORE\n",
	                     &m, err),
	        CLM_OK, "%s", err);
	sdk_map_free(sdk_map);
	sdk_map = m;
	const char *body
	        = "{\"batch\":[{\"type\":\"track\",\"event\":\"heartbeat\","
	          "\"userId\":\"u\"},{\"type\":\"track\",\"event\":\"Plan "
	          "Upgraded\",\"userId\":\"u\",\"properties\":{\"revenue\":"
	          "\"99\",\"sku\":\"pro\"}},{\"type\":\"page\",\"userId\":"
	          "\"u\"}]}";
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_BATCH, body), CLM_OK);
	/* Ignored: no operation and no error. */
	cr_assert_eq(sdk_out.n_items, 3);
	cr_assert_eq(sdk_out.n_errors, 0);
	cr_assert_eq(sdk_out.n_ops, 1);
	cr_assert_eq(sdk_out.ops[0].item, 1);
	/* A user's PURCHASE gets an order's fields too. */
	const Clm__V1__Touchpoint *tp = sdk_out.ops[0].tp;
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_float_eq(tp->value, 99, 1e-9);
	cr_assert_str_eq(tp->item_id, "pro");
}
