/*
 * Unit tests of server/calls/validate.c: UTF-8 and id checks, and every limit
 * of docs/api.md "Limits" on a touchpoint, one step inside (passes) and one
 * step past (fails with a violation naming exactly that field).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "calls/reply.h"
#include "calls/validate.h"
#include "util/arena.h"

#define NOW_MS 1700000000000LL /* the clock of every touchpoint test */
#define PREFIX "touchpoints[0]"

static const struct validate_limits limits = {
	.max_id_bytes = 128,
	.max_properties = 32,
	.max_property_key_bytes = 64,
	.max_property_value_bytes = 1024,
};

static bool
utf8(const char *s, bool printable)
{
	return validate_utf8(s, strlen(s), printable);
}

/* ---------------------------------------------------------------------- */
/* validate_utf8                                                          */

Test(validate_utf8, valid)
{
	static const char *const ok[] = {
		"", "plain ascii", "h\xc3\xa9llo", /* é */
		"\xe6\x97\xa5\xe6\x9c\xac",        /* 日本 */
		"\xf0\x9f\x98\x80",                /* U+1F600 */
		"\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
		"\xed\x9f\xbf",     /* U+D7FF, just before the surrogates */
		"\xee\x80\x80",     /* U+E000, just after */
		"\xef\xbf\xbf",     /* U+FFFF */
		"\xc2\xa0",         /* U+00A0, the first after C1 */
		"\xe0\xa0\x80",     /* U+0800, smallest 3-byte */
		"\xf0\x90\x80\x80", /* U+10000, smallest 4-byte */
		"\xc2\x80",         /* U+0080, smallest 2-byte */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert(utf8(ok[i], false), "case %zu should be valid", i);
	}
	/* Printable too, except U+0080 (a C1 control). */
	for (size_t i = 0; i + 1 < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert(
		        utf8(ok[i], true), "case %zu should be printable", i);
	}
	/* NUL is valid UTF-8, but not printable. */
	cr_assert(validate_utf8("a\0b", 3, false));
	cr_assert(!validate_utf8("a\0b", 3, true));
	/* Only n bytes are looked at. */
	cr_assert(validate_utf8("ab\xff", 2, true));
}

Test(validate_utf8, invalid)
{
	static const char *const bad[] = {
		"\xc0\x80",             /* overlong NUL */
		"\xc1\xbf",             /* overlong 2-byte */
		"\xe0\x80\x80",         /* overlong 3-byte */
		"\xe0\x9f\xbf",         /* overlong U+07FF */
		"\xf0\x80\x80\x80",     /* overlong 4-byte */
		"\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
		"\xed\xa0\x80",         /* U+D800, surrogate */
		"\xed\xbf\xbf",         /* U+DFFF, surrogate */
		"\xf4\x90\x80\x80",     /* U+110000 */
		"\xf5\x80\x80\x80",     /* lead byte past U+10FFFF */
		"\xf8\x88\x80\x80\x80", /* 5-byte form */
		"\xff", "\xfe", "\x80", /* lone continuation */
		"a\xbf",                /* lone continuation after ASCII */
		"\xc3",                 /* truncated 2-byte */
		"\xe6\x97",             /* truncated 3-byte */
		"\xf0\x9f\x98",         /* truncated 4-byte */
		"\xc3(",                /* bad continuation */
		"\xe6\x97(",            /* bad continuation, third byte */
		"\xf0\x9f\x98(",        /* bad continuation, fourth byte */
		"ok\xe6\x97", /* truncated at the end of a longer string */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(
		        !utf8(bad[i], false), "case %zu should be invalid", i);
		cr_assert(
		        !utf8(bad[i], true), "case %zu should be invalid", i);
	}
	/* A multibyte sequence cut by n. */
	cr_assert(!validate_utf8("\xc3\xa9", 1, false));
}

Test(validate_utf8, control_characters)
{
	static const char *const controls[] = {
		"\x01", "a\tb", "line\n", "\r", "\x1f", "\x7f", /* DEL */
		"\xc2\x80",                                     /* U+0080 */
		"\xc2\x85", /* U+0085 NEL */
		"\xc2\x9f", /* U+009F */
		"\x1b[31m", /* an escape sequence */
	};
	for (size_t i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		cr_assert(utf8(controls[i], false), "case %zu is valid UTF-8",
		        i);
		cr_assert(!utf8(controls[i], true),
		        "case %zu is not printable", i);
	}
	cr_assert(utf8(" ~", true), "space and tilde are printable");
}

/* ---------------------------------------------------------------------- */
/* validate_id                                                            */

static void
fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

Test(validate_id, lengths_and_content)
{
	char buf[300];
	cr_assert_not_null(validate_id("", 128), "empty");
	cr_assert_null(validate_id("a", 128));
	fill(buf, 'a', 128);
	cr_assert_null(validate_id(buf, 128), "128 bytes is the limit");
	fill(buf, 'a', 129);
	cr_assert_not_null(validate_id(buf, 128), "129 bytes is too long");
	cr_assert_str_eq(validate_id(buf, 128), "is too long");
	cr_assert_str_eq(validate_id("", 128), "must not be empty");
	/* Bytes, not characters: 64 x 'é' = 128 bytes, 65 = 130. */
	buf[0] = '\0';
	for (int i = 0; i < 64; i++) {
		strcat(buf, "\xc3\xa9");
	}
	cr_assert_null(validate_id(buf, 128));
	strcat(buf, "\xc3\xa9");
	cr_assert_not_null(validate_id(buf, 128));
	/* Non-printable or invalid. */
	cr_assert_not_null(validate_id("a\tb", 128));
	cr_assert_not_null(validate_id("a\x7f", 128));
	cr_assert_not_null(validate_id("\xc2\x85", 128));
	cr_assert_not_null(validate_id("bad\xff", 128));
	cr_assert_not_null(validate_id("\xed\xa0\x80", 128));
	cr_assert_null(validate_id("user 42 \xe6\x97\xa5", 128));
}

/* ---------------------------------------------------------------------- */
/* validate_touchpoint                                                    */

/* A touchpoint that passes every check, with room for properties. */
struct tp_fixture {
	Clm__V1__Touchpoint tp;
	Clm__V1__GeoPoint loc;
	Clm__V1__Touchpoint__PropertiesEntry entries[40];
	Clm__V1__Touchpoint__PropertiesEntry *props[40];
	char keys[40][8];
	char big_a[2048], big_b[2048];
};

static void
fixture_init(struct tp_fixture *f)
{
	memset(f, 0, sizeof(*f));
	clm__v1__touchpoint__init(&f->tp);
	clm__v1__geo_point__init(&f->loc);
	f->tp.customer_id = "cust-1";
	f->tp.event_id = "ev-1";
	f->tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	f->tp.channel = CLM__V1__CHANNEL__EMAIL;
	f->tp.occurred_at_ms = NOW_MS - 1000;
	f->tp.value = 12.5;
	f->tp.currency = "EUR";
	f->tp.item_id = "sku-1";
	for (size_t i = 0; i < 40; i++) {
		clm__v1__touchpoint__properties_entry__init(&f->entries[i]);
		snprintf(f->keys[i], sizeof(f->keys[i]), "k%zu", i);
		f->entries[i].key = f->keys[i];
		f->entries[i].value = "v";
		f->props[i] = &f->entries[i];
	}
	f->tp.properties = f->props;
	f->tp.n_properties = 3;
}

/* Runs validate_touchpoint with a fresh arena; returns the violations. */
static bool
check(const struct tp_fixture *f, arena *a, struct violations *v)
{
	violations_init(v, a);
	return validate_touchpoint(&f->tp, &limits, NOW_MS, PREFIX, v);
}

static void
expect_ok(const struct tp_fixture *f, const char *what)
{
	arena a;
	arena_init(&a);
	struct violations v;
	bool ok = check(f, &a, &v);
	cr_assert(ok, "%s: should pass, got %zu violations (first: %s: %s)",
	        what, v.n, v.n ? v.items[0]->field : "",
	        v.n ? v.items[0]->description : "");
	cr_assert_eq(v.n, 0, "%s", what);
	arena_fini(&a);
}

static void
expect_violation(
        const struct tp_fixture *f, const char *field, const char *what)
{
	arena a;
	arena_init(&a);
	struct violations v;
	bool ok = check(f, &a, &v);
	cr_assert(!ok, "%s: should fail", what);
	cr_assert_eq(v.n, 1, "%s: %zu violations, want 1 (first: %s)", what,
	        v.n, v.n ? v.items[0]->field : "");
	cr_assert_str_eq(v.items[0]->field, field, "%s: field", what);
	cr_assert_str_neq(
	        v.items[0]->description, "", "%s: description", what);
	arena_fini(&a);
}

Test(validate_touchpoint, fixture_is_valid)
{
	struct tp_fixture f;
	fixture_init(&f);
	expect_ok(&f, "fixture");
	f.tp.occurred_at_ms = 0;
	expect_ok(&f, "occurred_at 0 means now");
	f.tp.customer_id = "";
	f.tp.anonymous_id = "anon-1";
	expect_ok(&f, "anonymous only");
	f.tp.anonymous_id = "";
	expect_violation(&f, PREFIX ".customer_id", "no customer at all");
}

/* The id-like fields: limit 128 bytes of printable UTF-8. */
Test(validate_touchpoint, id_lengths)
{
	static const char *const fields[] = { "event_id", "customer_id",
		"anonymous_id", "item_id", "campaign" };
	char ok[129], past[130];
	fill(ok, 'i', 128);
	fill(past, 'i', 129);
	for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		struct tp_fixture f;
		fixture_init(&f);
		char **slot = k == 0 ? &f.tp.event_id
		        : k == 1     ? &f.tp.customer_id
		        : k == 2     ? &f.tp.anonymous_id
		        : k == 3     ? &f.tp.item_id
		                     : &f.tp.campaign;
		char want[64];
		snprintf(want, sizeof(want), PREFIX ".%s", fields[k]);
		*slot = ok;
		expect_ok(&f, fields[k]);
		*slot = past;
		expect_violation(&f, want, fields[k]);
		*slot = "tab\there";
		expect_violation(&f, want, fields[k]);
		*slot = "bad\xc3";
		expect_violation(&f, want, fields[k]);
	}
}

Test(validate_touchpoint, currency_length)
{
	struct tp_fixture f;
	fixture_init(&f);
	char buf[32];
	fill(buf, 'C', 16);
	f.tp.currency = buf;
	expect_ok(&f, "16-byte currency");
	fill(buf, 'C', 17);
	expect_violation(&f, PREFIX ".currency", "17-byte currency");
}

Test(validate_touchpoint, occurred_at_bounds)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.occurred_at_ms = 946684800000LL;
	expect_ok(&f, "2000-01-01");
	f.tp.occurred_at_ms = 946684800000LL - 1;
	expect_violation(&f, PREFIX ".occurred_at_ms", "just before 2000");
	f.tp.occurred_at_ms = NOW_MS + 24LL * 3600 * 1000;
	expect_ok(&f, "now + 24 h");
	f.tp.occurred_at_ms = NOW_MS + 24LL * 3600 * 1000 + 1;
	expect_violation(&f, PREFIX ".occurred_at_ms", "past now + 24 h");
	f.tp.occurred_at_ms = -1;
	expect_violation(&f, PREFIX ".occurred_at_ms", "negative");
	f.tp.occurred_at_ms = INT64_MAX;
	expect_violation(&f, PREFIX ".occurred_at_ms", "INT64_MAX");
	f.tp.occurred_at_ms = INT64_MIN;
	expect_violation(&f, PREFIX ".occurred_at_ms", "INT64_MIN");
}

Test(validate_touchpoint, property_count)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.n_properties = 0;
	expect_ok(&f, "no properties");
	f.tp.n_properties = 32;
	expect_ok(&f, "32 properties");
	f.tp.n_properties = 33;
	expect_violation(&f, PREFIX ".properties", "33 properties");
}

Test(validate_touchpoint, property_key_and_value)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.n_properties = 4;

	fill(f.big_a, 'k', 64);
	f.entries[2].key = f.big_a;
	expect_ok(&f, "64-byte key");
	fill(f.big_a, 'k', 65);
	expect_violation(&f, PREFIX ".properties[2]", "65-byte key");
	f.entries[2].key = "";
	expect_violation(&f, PREFIX ".properties[2]", "empty key");
	f.entries[2].key = "a\nb";
	expect_violation(&f, PREFIX ".properties[2]", "control in key");
	f.entries[2].key = "\xe2\x82";
	expect_violation(&f, PREFIX ".properties[2]", "bad UTF-8 key");
	f.entries[2].key = "k2";

	fill(f.big_b, 'v', 1024);
	f.entries[2].value = f.big_b;
	expect_ok(&f, "1024-byte value");
	fill(f.big_b, 'v', 1025);
	expect_violation(&f, PREFIX ".properties[2]", "1025-byte value");
	f.entries[2].value = "";
	expect_ok(&f, "empty value");
	f.entries[2].value = "multi\nline\tvalue";
	expect_ok(&f, "controls are allowed in values");
	f.entries[2].value = "\xed\xa0\x80";
	expect_violation(&f, PREFIX ".properties[2]", "surrogate in value");
}

Test(validate_touchpoint, location_bounds)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.location = &f.loc;
	const double lats[] = { -90, 90, 0 }, lons[] = { -180, 180, 0 };
	for (int i = 0; i < 3; i++) {
		f.loc.lat = lats[i];
		f.loc.lon = lons[i];
		expect_ok(&f, "location on the bounds");
	}
	f.loc.lon = 0;
	f.loc.lat = nextafter(90, 91);
	expect_violation(&f, PREFIX ".location.lat", "lat past 90");
	f.loc.lat = nextafter(-90, -91);
	expect_violation(&f, PREFIX ".location.lat", "lat past -90");
	f.loc.lat = NAN;
	expect_violation(&f, PREFIX ".location.lat", "lat NaN");
	f.loc.lat = 0;
	f.loc.lon = nextafter(180, 181);
	expect_violation(&f, PREFIX ".location.lon", "lon past 180");
	f.loc.lon = nextafter(-180, -181);
	expect_violation(&f, PREFIX ".location.lon", "lon past -180");
	f.loc.lon = INFINITY;
	expect_violation(&f, PREFIX ".location.lon", "lon infinite");
}

Test(validate_touchpoint, type_and_channel)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__AD_IMPRESSION;
	expect_ok(&f, "type 1");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__FEEDBACK;
	expect_ok(&f, "type 27");
	f.tp.type = (Clm__V1__TouchpointType) 0;
	expect_violation(&f, PREFIX ".type", "type 0");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__CUSTOM;
	f.tp.item_id = "";
	f.tp.event_name = "Video Played";
	expect_ok(&f, "type 28 with its name");
	f.tp.event_name = "";
	f.tp.item_id = "sku-1";
	f.tp.type = (Clm__V1__TouchpointType) 29;
	expect_violation(&f, PREFIX ".type", "type 29");
	f.tp.type = (Clm__V1__TouchpointType) -1;
	expect_violation(&f, PREFIX ".type", "type -1");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	f.tp.channel = CLM__V1__CHANNEL__SMS;
	expect_ok(&f, "channel 12");
	f.tp.channel = (Clm__V1__Channel) 0;
	expect_ok(&f, "channel unspecified is allowed");
	f.tp.channel = (Clm__V1__Channel) 13;
	expect_violation(&f, PREFIX ".channel", "channel 13");
	f.tp.channel = (Clm__V1__Channel) -1;
	expect_violation(&f, PREFIX ".channel", "channel -1");
}

Test(validate_touchpoint, sentiment)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__REVIEW;
	f.tp.sentiment = 1.0f;
	expect_ok(&f, "sentiment 1");
	f.tp.sentiment = -1.0f;
	expect_ok(&f, "sentiment -1");
	f.tp.sentiment = nextafterf(1.0f, 2.0f);
	expect_violation(&f, PREFIX ".sentiment", "just past 1");
	f.tp.sentiment = nextafterf(-1.0f, -2.0f);
	expect_violation(&f, PREFIX ".sentiment", "just past -1");
	f.tp.sentiment = NAN;
	expect_violation(&f, PREFIX ".sentiment", "NaN");
}

Test(validate_touchpoint, value)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.value = 1e12;
	expect_ok(&f, "1e12");
	f.tp.value = nextafter(1e12, INFINITY);
	expect_violation(&f, PREFIX ".value", "just past 1e12");
	f.tp.value = INFINITY;
	expect_violation(&f, PREFIX ".value", "infinite");
	f.tp.value = NAN;
	expect_violation(&f, PREFIX ".value", "NaN");
	f.tp.value = 0;
	expect_ok(&f, "zero purchase");
	f.tp.value = -0.01;
	expect_violation(&f, PREFIX ".value", "negative purchase");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__REFUND;
	expect_violation(&f, PREFIX ".value", "negative refund");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	f.tp.value = -1e12;
	expect_ok(&f, "negative value of a visit");
	f.tp.value = nextafter(-1e12, -INFINITY);
	expect_violation(&f, PREFIX ".value", "just past -1e12");
}

Test(validate_touchpoint, several_violations_and_prefix)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.type = (Clm__V1__TouchpointType) 0;
	f.tp.occurred_at_ms = 1;
	f.tp.sentiment = 2;
	arena a;
	arena_init(&a);
	struct violations v;
	violations_init(&v, &a);
	cr_assert(!validate_touchpoint(
	        &f.tp, &limits, NOW_MS, "touchpoints[9999]", &v));
	cr_assert_eq(v.n, 3);
	cr_assert_str_eq(v.items[0]->field, "touchpoints[9999].type");
	cr_assert_str_eq(
	        v.items[1]->field, "touchpoints[9999].occurred_at_ms");
	cr_assert_str_eq(v.items[2]->field, "touchpoints[9999].sentiment");
	/* Violations accumulate; the return value is about this call. */
	fixture_init(&f);
	cr_assert(validate_touchpoint(
	        &f.tp, &limits, NOW_MS, "touchpoints[1]", &v));
	cr_assert_eq(v.n, 3);
	arena_fini(&a);
}

/* event_name: required for CUSTOM, 1..200 bytes of printable UTF-8. */
Test(validate_touchpoint, event_name)
{
	struct tp_fixture f;
	fixture_init(&f);
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__CUSTOM;
	expect_violation(&f, PREFIX ".event_name", "CUSTOM without a name");
	char name[VALIDATE_EVENT_NAME_MAX + 2];
	memset(name, 'e', sizeof(name));
	name[VALIDATE_EVENT_NAME_MAX] = '\0';
	f.tp.event_name = name;
	expect_ok(&f, "a name at the limit");
	name[VALIDATE_EVENT_NAME_MAX] = 'e';
	name[VALIDATE_EVENT_NAME_MAX + 1] = '\0';
	expect_violation(&f, PREFIX ".event_name", "a name past the limit");
	f.tp.event_name = "Order \xc3\xa9t\xc3\xa9 Rated"; /* spaces, UTF-8 */
	expect_ok(&f, "a name with spaces");
	f.tp.event_name = "tab\there";
	expect_violation(&f, PREFIX ".event_name", "a control character");
	f.tp.event_name = "bad \xff";
	expect_violation(&f, PREFIX ".event_name", "not UTF-8");
	/* Any other type with a name is refused. */
	f.tp.event_name = "Video Played";
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
	expect_violation(&f, PREFIX ".event_name", "PAGE_VIEW with a name");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	expect_violation(&f, PREFIX ".event_name", "PURCHASE with a name");
}

/* order_items: PURCHASE and REFUND only, <= 16 item ids, with item_id. */
Test(validate_touchpoint, order_items)
{
	struct tp_fixture f;
	fixture_init(&f);
	char *items[VALIDATE_ORDER_ITEMS_MAX + 1];
	char ids[VALIDATE_ORDER_ITEMS_MAX + 1][16];
	for (size_t i = 0; i <= VALIDATE_ORDER_ITEMS_MAX; i++) {
		snprintf(ids[i], sizeof(ids[i]), "sku-%zu", i + 2);
		items[i] = ids[i];
	}
	f.tp.order_items = items;
	f.tp.n_order_items = 2;
	expect_ok(&f, "a purchase of three items");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__REFUND;
	expect_ok(&f, "a refund of three items");
	f.tp.n_order_items = VALIDATE_ORDER_ITEMS_MAX;
	expect_ok(&f, "order_items at the limit");
	f.tp.n_order_items = VALIDATE_ORDER_ITEMS_MAX + 1;
	expect_violation(&f, PREFIX ".order_items", "past the limit");
	f.tp.n_order_items = 2;
	f.tp.item_id = "";
	expect_violation(&f, PREFIX ".item_id", "order_items without item_id");
	f.tp.item_id = "sku-1";
	ids[1][0] = '\0';
	expect_violation(&f, PREFIX ".order_items[1]", "an empty item");
	char long_id[130];
	memset(long_id, 'i', sizeof(long_id));
	long_id[128] = '\0';
	items[1] = long_id;
	expect_ok(&f, "an item id at the id limit");
	long_id[128] = 'i';
	long_id[129] = '\0';
	expect_violation(&f, PREFIX ".order_items[1]", "an item id too long");
	items[1] = "ctl\x01";
	expect_violation(&f, PREFIX ".order_items[1]", "a control character");
	items[1] = ids[1];
	ids[1][0] = 's';
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART;
	expect_violation(&f, PREFIX ".order_items", "ADD_TO_CART with items");
	f.tp.type = CLM__V1__TOUCHPOINT_TYPE__CUSTOM;
	f.tp.event_name = "Bundle Viewed";
	expect_violation(&f, PREFIX ".order_items", "CUSTOM with items");
}
