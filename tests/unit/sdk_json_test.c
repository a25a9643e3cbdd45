/*
 * Unit tests of server/ingest/sdk_json.c (the arena JSON tree) and of the
 * mapper's pure helpers: ISO-8601 times (sdk_time_parse) and UTM
 * channels (sdk_channel).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ingest/sdk_internal.h"
#include "ingest/sdk_json.h"

static arena a;

static void
setup(void)
{
	arena_init(&a);
}

static void
teardown(void)
{
	arena_fini(&a);
}

TestSuite(sdk_json, .init = setup, .fini = teardown);
TestSuite(sdk_time, .init = setup, .fini = teardown);

static clm_err
parse(const char *s, struct sdk_json **out, char *err)
{
	return sdk_json_parse(s, strlen(s), &a, out, err, 128);
}

Test(sdk_json, tree)
{
	struct sdk_json *t;
	char err[128];
	const char *doc = " {\"a\": [1, -2.5e3, \"x\\u00e9\", true, false, "
	                  "null, {}], \"b\": {\"c\": \"d\"}, \"a\": 7} ";
	cr_assert_eq(parse(doc, &t, err), CLM_OK, "%s", err);
	cr_assert_eq(t->type, SDK_JSON_OBJECT);
	cr_assert_eq(t->n, 3);
	cr_assert_eq(t->span, strlen(doc) - 2);
	/* A repeated key: the last one, as JavaScript reads it. */
	const struct sdk_json *v = sdk_json_get(t, "a");
	cr_assert_eq(v->type, SDK_JSON_NUMBER);
	cr_assert_eq(v->n, 1);
	cr_assert_eq(v->u.s[0], '7');
	const struct sdk_json *arr = &t->u.kids[0];
	cr_assert_eq(arr->type, SDK_JSON_ARRAY);
	cr_assert_eq(arr->n, 7);
	cr_assert_eq(arr->u.kids[1].n, 6);
	cr_assert_eq(memcmp(arr->u.kids[1].u.s, "-2.5e3", 6), 0);
	cr_assert_str_eq(sdk_json_str(&arr->u.kids[2]), "x\xc3\xa9");
	cr_assert_eq(arr->u.kids[3].type, SDK_JSON_TRUE);
	cr_assert_eq(arr->u.kids[4].type, SDK_JSON_FALSE);
	cr_assert_eq(arr->u.kids[5].type, SDK_JSON_NULL);
	cr_assert_eq(arr->u.kids[6].type, SDK_JSON_OBJECT);
	cr_assert_eq(arr->u.kids[6].n, 0);
	cr_assert_str_eq(
	        sdk_json_str(sdk_json_get(sdk_json_get(t, "b"), "c")), "d");
	cr_assert_null(sdk_json_get(t, "zz"));
	cr_assert_null(sdk_json_get(arr, "a")); /* not an object */
	cr_assert_null(sdk_json_str(v));
}

Test(sdk_json, many_children)
{
	/* Past several doublings of the child arrays. */
	char doc[4096] = "[";
	for (int i = 0; i < 1000; i++) {
		strcat(doc, i == 0 ? "1" : ",1");
	}
	strcat(doc, "]");
	struct sdk_json *t;
	char err[128];
	cr_assert_eq(parse(doc, &t, err), CLM_OK, "%s", err);
	cr_assert_eq(t->n, 1000);
}

Test(sdk_json, errors)
{
	static const struct {
		const char *doc, *err;
	} bad[] = {
		{ "", "invalid JSON at offset 0: unexpected end" },
		{ "{", "invalid JSON at offset 1: expected a string key" },
		{ "{\"a\" 1}", "invalid JSON at offset 5: expected ':'" },
		{ "[1 2]", "invalid JSON at offset 3: expected ',' or ']'" },
		{ "{\"a\":1,}",
		        "invalid JSON at offset 7: expected a string key" },
		{ "[1,]", "invalid JSON at offset 3: expected a value" },
		{ "nul", "invalid JSON at offset 0: expected a value" },
		{ "{} x", "invalid JSON at offset 3: text after the value" },
		{ "01", "invalid JSON at offset 1: text after the value" },
		{ "\"a", "invalid JSON at offset 2: unterminated string" },
		{ "\"\xff\"",
		        "invalid JSON at offset 1: invalid UTF-8 in string" },
		{ "nullx", "invalid JSON at offset 4: text after the value" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sdk_json *t = NULL;
		char err[128] = "";
		cr_assert_eq(parse(bad[i].doc, &t, err), CLM_INVALID_ARGUMENT,
		        "case %zu", i);
		cr_assert_str_eq(err, bad[i].err, "case %zu", i);
		cr_assert_null(t);
	}
}

Test(sdk_json, depth)
{
	char doc[300];
	struct sdk_json *t;
	char err[128];
	/* 64 levels pass, 65 do not. */
	memset(doc, '[', 64);
	memset(doc + 64, ']', 64);
	doc[128] = '\0';
	cr_assert_eq(parse(doc, &t, err), CLM_OK, "%s", err);
	memset(doc, '[', 65);
	memset(doc + 65, ']', 65);
	doc[130] = '\0';
	cr_assert_eq(parse(doc, &t, err), CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(err,
	        "invalid JSON at offset 64: nested deeper than 64 levels");
}

Test(sdk_json, budget)
{
	struct sdk_json *t;
	char err[128];
	arena_budget(&a, 256);
	cr_assert_eq(
	        parse("[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]", &t, err),
	        CLM_RESOURCE_EXHAUSTED);
	cr_assert(arena_over_budget(&a));
}

Test(sdk_json, doubles)
{
	struct sdk_json *t;
	char err[128];
	double d;
	cr_assert_eq(parse("[19.99, \"19.99\", \"1e2\", \"x\", \"\", true, "
	                   "\" 1\", \"1e999\"]",
	                     &t, err),
	        CLM_OK);
	cr_assert(sdk_json_double(&t->u.kids[0], &d));
	cr_assert_float_eq(d, 19.99, 1e-12);
	cr_assert(sdk_json_double(&t->u.kids[1], &d));
	cr_assert_float_eq(d, 19.99, 1e-12);
	cr_assert(sdk_json_double(&t->u.kids[2], &d));
	cr_assert_float_eq(d, 100, 1e-12);
	for (int i = 3; i < 8; i++) {
		cr_assert(!sdk_json_double(&t->u.kids[i], &d), "case %d", i);
	}
	cr_assert(!sdk_json_double(NULL, &d));
}

static int64_t
ms(const char *s)
{
	int64_t v = 0;
	cr_assert(sdk_time_parse(s, strlen(s), &v), "'%s' should parse", s);
	return v;
}

Test(sdk_time, forms)
{
	cr_assert_eq(ms("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(ms("2026-01-10T00:00:00.000Z"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10T00:00:00Z"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10T00:00"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10 00:00:00z"), 1768003200000LL);
	/* No offset: UTC. */
	cr_assert_eq(ms("2026-01-10T00:00:00"), 1768003200000LL);
	/* Fractions: to the millisecond, truncated. */
	cr_assert_eq(ms("2026-01-10T00:00:00.5Z"), 1768003200500LL);
	cr_assert_eq(ms("2026-01-10T00:00:00.12Z"), 1768003200120LL);
	cr_assert_eq(ms("2026-01-10T00:00:00.123456789Z"), 1768003200123LL);
	cr_assert_eq(ms("2026-01-10T00:00:00,25Z"), 1768003200250LL);
	/* Offsets: the local time minus the offset. */
	cr_assert_eq(ms("2026-01-10T02:00:00+02:00"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10T02:00:00+0200"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10T02:00:00+02"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-09T18:30:00.000-05:30"), 1768003200000LL);
	cr_assert_eq(ms("2026-01-10T00:00:00-00:00"), 1768003200000LL);
	/* Before 1970, and leap days. */
	cr_assert_eq(ms("1969-12-31T23:59:59.999Z"), -1);
	cr_assert_eq(ms("1900-01-01T00:00:00Z"), -2208988800000LL);
	cr_assert_eq(ms("2024-02-29T00:00:00Z"), 1709164800000LL);
	cr_assert_eq(ms("2000-02-29T12:00:00Z"), 951825600000LL);
}

Test(sdk_time, garbage)
{
	static const char *const bad[] = {
		"",
		"2026",
		"2026-1-10",
		"2026-01-10T",
		"2026-01-10T0:00:00Z",
		"2026-13-01",
		"2026-00-01",
		"2026-01-00",
		"2026-02-29",
		"1900-02-29",
		"2026-04-31",
		"2026-01-10T24:00:00Z",
		"2026-01-10T23:60:00Z",
		"2026-01-10T23:59:60Z",
		"2026-01-10T00:00:00.Z",
		"2026-01-10T00:00:00ZZ",
		"2026-01-10T00:00:00+2",
		"2026-01-10T00:00:00+24:00",
		"2026-01-10T00:00:00+01:60",
		"2026-01-10T00:00:00 UTC",
		"2026-01-10X00:00:00",
		"10/01/2026",
		"1768003200000",
		"+2026-01-10",
		"2026-01-10T00:00:00+01:00:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 42;
		cr_assert(!sdk_time_parse(bad[i], strlen(bad[i]), &v),
		        "'%s' should not parse", bad[i]);
	}
	/* Only n bytes are read. */
	int64_t v;
	cr_assert(sdk_time_parse("2026-01-10junk", 10, &v));
	cr_assert_eq(v, 1768003200000LL);
}

Test(sdk_time, channels)
{
	static const struct {
		const char *medium, *source;
		Clm__V1__Channel ch;
	} cases[] = {
		{ "cpc", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "CPC", "google", CLM__V1__CHANNEL__PAID_ADS },
		{ "ppc", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "paid", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "paidsearch", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "display", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "banner", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "ads", NULL, CLM__V1__CHANNEL__PAID_ADS },
		{ "Email", NULL, CLM__V1__CHANNEL__EMAIL },
		{ "newsletter", NULL, CLM__V1__CHANNEL__EMAIL },
		{ "social", NULL, CLM__V1__CHANNEL__ORGANIC_SOCIAL },
		{ "social-network", NULL, CLM__V1__CHANNEL__ORGANIC_SOCIAL },
		{ "social-media", NULL, CLM__V1__CHANNEL__ORGANIC_SOCIAL },
		{ "sm", NULL, CLM__V1__CHANNEL__ORGANIC_SOCIAL },
		{ "organic", NULL, CLM__V1__CHANNEL__ORGANIC_SEARCH },
		{ "referral", NULL, CLM__V1__CHANNEL__REFERRAL_LINK },
		{ "affiliate", NULL, CLM__V1__CHANNEL__REFERRAL_LINK },
		{ "sms", NULL, CLM__V1__CHANNEL__SMS },
		{ "push", NULL, CLM__V1__CHANNEL__APP_NOTIFICATION },
		{ "in-app", NULL, CLM__V1__CHANNEL__IN_APP },
		{ "(none)", NULL, CLM__V1__CHANNEL__DIRECT },
		/* An unknown medium: the source decides. */
		{ "weird", "Google", CLM__V1__CHANNEL__ORGANIC_SEARCH },
		{ NULL, "facebook", CLM__V1__CHANNEL__ORGANIC_SOCIAL },
		{ NULL, "newsletter", CLM__V1__CHANNEL__EMAIL },
		{ "weird", "weird", CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED },
		{ NULL, NULL, CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED },
		{ "", "", CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(sdk_channel(cases[i].medium, cases[i].source),
		        cases[i].ch, "case %zu", i);
	}
}
