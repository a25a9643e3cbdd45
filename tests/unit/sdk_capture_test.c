/*
 * Unit tests of the SDK payload mapper on the requests recorded from the
 * real SDKs (tests/data/sdk/README.md): the journey of
 * tests/interop/sdk/journey.js as Segment analytics-node, RudderStack
 * rudder-sdk-node and posthog-node send it, each item checked against
 * docs/ingest.md.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "ingest/sdk_internal.h"
#include "sdk_fixture.h"

TestSuite(
        sdk_capture, .init = sdk_fixture_setup, .fini = sdk_fixture_teardown);

/* 2026-01-10T00:00:00Z: the journey's first event time. */
#define T0 1768003200000LL

/* Parses the recorded body name; *skew gets now - its sentAt. */
static void
parse_file(enum sdk_route route, const char *name, const char *sent_key,
        int64_t *skew)
{
	size_t len;
	char *body = sdk_read_file(name, &len);
	clm_err e = sdk_parse(sdk_map, &sdk_limits, route, body, len, SDK_NOW,
	        &sdk_arena, &sdk_out, sdk_err, sizeof(sdk_err));
	cr_assert_eq(e, CLM_OK, "%s: %s", name, sdk_err);
	for (size_t i = 0; i < sdk_out.n_errors; i++) {
		cr_log_error("%s: %s: %s", name, sdk_out.errors[i].field,
		        sdk_out.errors[i].message);
	}
	cr_assert_eq(sdk_out.n_errors, 0, "%s", name);
	sdk_check_valid();
	/* The sentAt the clock correction uses (checked in sdk_parse_test). */
	const char *p = strstr(body, sent_key);
	cr_assert_not_null(p);
	p += strlen(sent_key) + 3; /* past `":"` */
	int64_t sent;
	cr_assert(sdk_time_parse(p, 24, &sent));
	*skew = SDK_NOW - sent;
	cr_assert(*skew > 0 && *skew < 1000, "%s: skew %lld", name,
	        (long long) *skew);
}

static const Clm__V1__Touchpoint *
track_op(size_t i)
{
	cr_assert(i < sdk_out.n_ops);
	cr_assert_eq(sdk_out.ops[i].kind, SDK_OP_TRACK, "op %zu", i);
	return sdk_out.ops[i].tp;
}

static const Clm__V1__IdentifyRequest *
identify_op(size_t i)
{
	cr_assert(i < sdk_out.n_ops);
	cr_assert_eq(sdk_out.ops[i].kind, SDK_OP_IDENTIFY, "op %zu", i);
	return sdk_out.ops[i].identify;
}

/* The anonymous page view: step 0 of the journey. */
static void
check_page(const Clm__V1__Touchpoint *tp, const char *anon,
        const char *event_id, int64_t skew)
{
	cr_assert_str_eq(tp->anonymous_id, anon);
	cr_assert_str_eq(tp->customer_id, "");
	cr_assert_str_eq(tp->event_id, event_id);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW);
	cr_assert_eq(tp->occurred_at_ms, T0 + skew);
	cr_assert_str_eq(
	        sdk_prop(tp, "url"), "https://shop.example.com/teas?ref=home");
	cr_assert_str_eq(sdk_prop(tp, "path"), "/teas");
	cr_assert_str_eq(sdk_prop(tp, "referrer"), "https://www.example.org/");
	cr_assert_str_eq(sdk_prop(tp, "title"), "Teas");
}

/* The identify of the customer with nested traits. */
static void
check_identify(const Clm__V1__IdentifyRequest *r, const char *user)
{
	cr_assert_str_eq(r->customer_id, user);
	cr_assert_str_eq(r->anonymous_id, user); /* a userId alone */
	cr_assert_eq(r->n_traits, 7);
	cr_assert_str_eq(sdk_trait(r, "email"), "kim@example.com");
	cr_assert_str_eq(sdk_trait(r, "name"), "Kim Lee");
	cr_assert_str_eq(sdk_trait(r, "plan"), "pro");
	cr_assert_str_eq(sdk_trait(r, "address.city"), "Lyon");
	cr_assert_str_eq(sdk_trait(r, "address.country"), "FR");
	cr_assert_str_eq(sdk_trait(r, "preferences.newsletter"), "true");
	cr_assert_str_eq(sdk_trait(r, "preferences.language"), "fr");
}

/* "Order Completed" with two products: one purchase of both. */
static void
check_order(const Clm__V1__Touchpoint *tp, const char *user,
        const char *event_id, int64_t skew)
{
	cr_assert_str_eq(tp->customer_id, user);
	cr_assert_str_eq(tp->anonymous_id, "");
	cr_assert_str_eq(tp->event_id, event_id);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_eq(tp->occurred_at_ms, T0 + 2 * 60000 + skew);
	cr_assert_float_eq(tp->value, 49.9, 1e-9); /* revenue, not total */
	cr_assert_str_eq(tp->currency, "EUR");
	cr_assert_str_eq(tp->item_id, "sku-42");
	cr_assert_eq(tp->n_order_items, 1);
	cr_assert_str_eq(tp->order_items[0], "sku-7");
	cr_assert_str_eq(sdk_prop(tp, "order_id"), "ord-1001");
	cr_assert_str_eq(sdk_prop(tp, "revenue"), "49.9");
	cr_assert_str_eq(sdk_prop(tp, "shipping"), "5");
	cr_assert_str_eq(sdk_prop(tp, "products.1.name"), "Kettle");
	cr_assert_str_eq(sdk_prop(tp, "products.0.quantity"), "2");
	cr_assert_null(sdk_prop(tp, "$lib"));
}

static void
check_alias(
        const Clm__V1__IdentifyRequest *r, const char *user, const char *anon)
{
	cr_assert_str_eq(r->customer_id, user);
	cr_assert_str_eq(r->anonymous_id, anon);
	cr_assert_eq(r->n_traits, 0);
}

/* "Pricing Viewed": no table names it. */
static void
check_custom(const Clm__V1__Touchpoint *tp, const char *user,
        const char *event_id, int64_t skew)
{
	cr_assert_str_eq(tp->customer_id, user);
	cr_assert_str_eq(tp->event_id, event_id);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__CUSTOM);
	cr_assert_str_eq(tp->event_name, "Pricing Viewed");
	cr_assert_eq(tp->occurred_at_ms, T0 + 5 * 60000 + skew);
	cr_assert_str_eq(sdk_prop(tp, "plan"), "team");
	cr_assert_str_eq(sdk_prop(tp, "seats"), "5");
}

/* "Signed Up" from an email campaign. */
static void
check_signup(const Clm__V1__Touchpoint *tp, const char *user,
        const char *event_id, int64_t skew)
{
	cr_assert_str_eq(tp->customer_id, user);
	cr_assert_str_eq(tp->event_id, event_id);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__SIGNUP);
	cr_assert_str_eq(tp->event_name, "");
	cr_assert_eq(tp->occurred_at_ms, T0 + 6 * 60000 + skew);
	cr_assert_eq(tp->channel, CLM__V1__CHANNEL__EMAIL);
	cr_assert_str_eq(tp->campaign, "spring-sale");
	cr_assert_str_eq(sdk_prop(tp, "method"), "email");
}

/* The group "acme": traits prefixed group. on the customer. */
static void
check_group(const Clm__V1__IdentifyRequest *r, const char *user)
{
	cr_assert_str_eq(r->customer_id, user);
	cr_assert_str_eq(r->anonymous_id, user);
	cr_assert_eq(r->n_traits, 4);
	cr_assert_str_eq(sdk_trait(r, "group.id"), "acme");
	cr_assert_str_eq(sdk_trait(r, "group.name"), "Acme");
	cr_assert_str_eq(sdk_trait(r, "group.industry"), "retail");
	cr_assert_str_eq(sdk_trait(r, "group.employees"), "42");
}

Test(sdk_capture, segment)
{
	int64_t skew;
	parse_file(SDK_ROUTE_BATCH, "segment-1.body", "\"sentAt", &skew);
	cr_assert_null(sdk_out.api_key); /* Segment's is in the header */
	cr_assert_eq(sdk_out.n_items, 7);
	cr_assert_eq(sdk_out.n_ops, 7);
	for (size_t i = 0; i < 7; i++) {
		cr_assert_eq(sdk_out.ops[i].item, i);
	}
	check_page(track_op(0), "seg-anon-7f3a", "seg-page", skew);
	check_identify(identify_op(1), "seg-kim");
	check_order(track_op(2), "seg-kim", "seg-order", skew);
	check_alias(identify_op(3), "seg-kim", "seg-anon-7f3a");
	check_group(identify_op(4), "seg-kim");
	check_custom(track_op(5), "seg-kim", "seg-custom", skew);
	check_signup(track_op(6), "seg-kim", "seg-campaign", skew);
	/* The page's name, and no context.library. */
	cr_assert_str_eq(sdk_prop(track_op(0), "name"), "Teas");
	cr_assert_null(sdk_prop(track_op(0), "context.library.name"));
}

/* RudderStack: the first event alone, then the rest; each item has its
 * own sentAt, and an originalTimestamp that its timestamp overrides. */
static void
check_rudder(const char *first, const char *second)
{
	int64_t skew;
	parse_file(SDK_ROUTE_BATCH, first, "\"sentAt", &skew);
	cr_assert_eq(sdk_out.n_items, 1);
	cr_assert_eq(sdk_out.n_ops, 1);
	check_page(track_op(0), "rs-anon-7f3a", "rs-page", skew);
	cr_assert_str_eq(sdk_prop(track_op(0), "name"), "Teas");

	memset(&sdk_out, 0, sizeof(sdk_out));
	parse_file(SDK_ROUTE_BATCH, second, "\"sentAt", &skew);
	cr_assert_eq(sdk_out.n_items, 6);
	cr_assert_eq(sdk_out.n_ops, 6);
	check_identify(identify_op(0), "rs-kim");
	check_order(track_op(1), "rs-kim", "rs-order", skew);
	check_alias(identify_op(2), "rs-kim", "rs-anon-7f3a");
	check_group(identify_op(3), "rs-kim");
	check_custom(track_op(4), "rs-kim", "rs-custom", skew);
	check_signup(track_op(5), "rs-kim", "rs-campaign", skew);
	/* context.traits (a copy of traits) is not a property of anything. */
	cr_assert_null(sdk_prop(track_op(1), "context.traits.email"));
}

Test(sdk_capture, rudder_gzip)
{
	check_rudder("rudder-1.inflated.json", "rudder-2.inflated.json");
}

Test(sdk_capture, rudder_plain)
{
	check_rudder("rudder-plain-1.body", "rudder-plain-2.body");
}

/* PostHog: the anonymous page view alone (captureImmediate), then
 * $identify, $create_alias and $groupidentify before the captures. */
static void
check_posthog(const char *first, const char *second)
{
	int64_t skew;
	parse_file(SDK_ROUTE_POSTHOG, first, "\"sent_at", &skew);
	cr_assert_str_eq(sdk_out.api_key, "phc_test_8e1b77");
	cr_assert_eq(sdk_out.n_items, 1);
	cr_assert_eq(sdk_out.n_ops, 1);
	const Clm__V1__Touchpoint *page = track_op(0);
	check_page(page, "ph-anon-7f3a",
	        "01941a2b-3c4d-7e5f-8300-000000000001", skew);
	/* $ properties: the page's kept under plain names, the rest out. */
	cr_assert_eq(page->n_properties, 4);
	cr_assert_null(sdk_prop(page, "$lib"));
	cr_assert_null(sdk_prop(page, "$process_person_profile"));

	memset(&sdk_out, 0, sizeof(sdk_out));
	parse_file(SDK_ROUTE_POSTHOG, second, "\"sent_at", &skew);
	cr_assert_str_eq(sdk_out.api_key, "phc_test_8e1b77");
	cr_assert_eq(sdk_out.n_items, 6);
	cr_assert_eq(sdk_out.n_ops, 5); /* $groupidentify is ignored */
	check_identify(identify_op(0), "ph-kim");
	cr_assert_eq(sdk_out.ops[0].item, 0);
	check_alias(identify_op(1), "ph-kim", "ph-anon-7f3a");
	cr_assert_eq(sdk_out.ops[1].item, 1);
	check_order(track_op(2), "ph-kim",
	        "01941a2b-3c4d-7e5f-8300-000000000003", skew);
	cr_assert_eq(sdk_out.ops[2].item, 3);
	check_custom(track_op(3), "ph-kim",
	        "01941a2b-3c4d-7e5f-8300-000000000006", skew);
	check_signup(track_op(4), "ph-kim",
	        "01941a2b-3c4d-7e5f-8300-000000000007", skew);
	cr_assert_str_eq(sdk_prop(track_op(4), "utm_term"), "green tea");
	cr_assert_eq(sdk_out.ops[4].item, 5);
}

Test(sdk_capture, posthog_gzip)
{
	check_posthog("posthog-1.inflated.json", "posthog-2.inflated.json");
}

Test(sdk_capture, posthog_plain)
{
	check_posthog("posthog-plain-1.body", "posthog-plain-2.body");
}
