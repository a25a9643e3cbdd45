/*
 * Unit tests of sdk_parse (server/ingest/sdk.c, sdk_segment.c,
 * sdk_posthog.c, sdk_field.c): every mapping rule of docs/ingest.md on
 * small bodies, every per-item error with the field named as the SDK
 * wrote it, the whole-body errors, flattening and the property limits,
 * and the arena budget.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ingest/sdk_internal.h"
#include "sdk_fixture.h"

TestSuite(
        sdk_segment, .init = sdk_fixture_setup, .fini = sdk_fixture_teardown);
TestSuite(
        sdk_posthog, .init = sdk_fixture_setup, .fini = sdk_fixture_teardown);
TestSuite(sdk_body, .init = sdk_fixture_setup, .fini = sdk_fixture_teardown);

/* 2026-01-10T00:00:00Z */
#define T0 1768003200000LL

/* Parses a batch of the given items (a JSON text without brackets). */
static void
batch(const char *items)
{
	char *body = arena_printf(&sdk_arena, "{\"batch\":[%s]}", items);
	cr_assert_eq(
	        sdk_parse_str(SDK_ROUTE_BATCH, body), CLM_OK, "%s", sdk_err);
}

static void
posthog(const char *items)
{
	char *body = arena_printf(
	        &sdk_arena, "{\"api_key\":\"k\",\"batch\":[%s]}", items);
	cr_assert_eq(
	        sdk_parse_str(SDK_ROUTE_POSTHOG, body), CLM_OK, "%s", sdk_err);
}

static const Clm__V1__Touchpoint *
tp_at(size_t i)
{
	cr_assert(i < sdk_out.n_ops, "op %zu of %zu", i, sdk_out.n_ops);
	cr_assert_eq(sdk_out.ops[i].kind, SDK_OP_TRACK, "op %zu", i);
	return sdk_out.ops[i].tp;
}

static const Clm__V1__IdentifyRequest *
id_at(size_t i)
{
	cr_assert(i < sdk_out.n_ops, "op %zu of %zu", i, sdk_out.n_ops);
	cr_assert_eq(sdk_out.ops[i].kind, SDK_OP_IDENTIFY, "op %zu", i);
	return sdk_out.ops[i].identify;
}

/* The only error is on field, and its message holds msg. */
static void
only_error(const char *field, const char *msg)
{
	cr_assert_eq(sdk_out.n_errors, 1, "%zu errors (first: %s: %s)",
	        sdk_out.n_errors,
	        sdk_out.n_errors ? sdk_out.errors[0].field : "",
	        sdk_out.n_errors ? sdk_out.errors[0].message : "");
	cr_assert_str_eq(sdk_out.errors[0].field, field);
	cr_assert_eq(sdk_out.errors[0].code, CLM_INVALID_ARGUMENT);
	cr_assert_not_null(strstr(sdk_out.errors[0].message, msg),
	        "message '%s' lacks '%s'", sdk_out.errors[0].message, msg);
	cr_assert_eq(sdk_out.n_ops, 0);
}

static void
no_errors(void)
{
	cr_assert_eq(sdk_out.n_errors, 0, "%s: %s",
	        sdk_out.n_errors ? sdk_out.errors[0].field : "",
	        sdk_out.n_errors ? sdk_out.errors[0].message : "");
}

/* ---------------------------------------------------------------------- */
/* Segment and RudderStack                                                */

Test(sdk_segment, track_ids_and_time)
{
	batch("{\"type\":\"track\",\"event\":\"Signed Up\",\"userId\":\"kim\","
	      "\"anonymousId\":\"ck1\",\"messageId\":\"m1\","
	      "\"timestamp\":\"2026-01-10T01:00:00+01:00\"}");
	no_errors();
	cr_assert_eq(sdk_out.n_items, 1);
	const Clm__V1__Touchpoint *tp = tp_at(0);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__SIGNUP);
	/* Both ids kept: the touchpoint is kim's (api.md, Track). */
	cr_assert_str_eq(tp->customer_id, "kim");
	cr_assert_str_eq(tp->anonymous_id, "ck1");
	cr_assert_str_eq(tp->event_id, "m1");
	cr_assert_eq(tp->occurred_at_ms, T0);
	cr_assert_eq(tp->channel, CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED);
	cr_assert_eq(tp->n_properties, 0);
}

Test(sdk_segment, numeric_ids)
{
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":42,"
	      "\"messageId\":1e3},"
	      "{\"type\":\"track\",\"event\":\"x\",\"anonymousId\":-1.5}");
	no_errors();
	cr_assert_str_eq(tp_at(0)->customer_id, "42");
	cr_assert_str_eq(tp_at(0)->event_id, "1e3");
	cr_assert_str_eq(tp_at(1)->anonymous_id, "-1.5");
	cr_assert_str_eq(tp_at(1)->customer_id, "");
}

Test(sdk_segment, bad_ids)
{
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":true}");
	only_error("batch[0].userId", "must be a string or a number");
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"a\\u0000b\"}");
	only_error("batch[0].userId", "NUL");
	batch("{\"type\":\"track\",\"event\":\"x\",\"anonymousId\":\"a\\tb\"}");
	only_error("batch[0].anonymousId", "must be printable UTF-8");
	char *item = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"%0129d\"}",
	        0);
	batch(item);
	only_error("batch[0].userId", "is 129 bytes, more than 128");
	item = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"x\",\"userId\":1%0128d}", 0);
	batch(item);
	only_error("batch[0].userId", "is 129 bytes, more than 128");
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"messageId\":{}}");
	only_error("batch[0].messageId", "must be a string or a number");
	/* Neither id (empty strings and null are none). */
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"\","
	      "\"anonymousId\":null}");
	only_error("batch[0].userId", "userId or anonymousId is required");
}

Test(sdk_segment, no_message_id)
{
	/* Accepted without an idempotency key (docs/ingest.md). */
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\"}");
	no_errors();
	cr_assert_str_eq(tp_at(0)->event_id, "");
	/* No timestamp at all: the receive time. */
	cr_assert_eq(tp_at(0)->occurred_at_ms, SDK_NOW);
}

Test(sdk_segment, clock_correction)
{
	/* sentAt 1 s behind the server's clock: every time moves 1 s on. */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_BATCH,
	                     "{\"sentAt\":\"2026-12-06T17:19:17.300Z\","
	                     "\"batch\":[{\"type\":\"track\",\"event\":\"x\","
	                     "\"userId\":\"u\",\"timestamp\":"
	                     "\"2026-01-10T00:00:00Z\"},"
	                     "{\"type\":\"track\",\"event\":\"x\","
	                     "\"userId\":\"u\",\"originalTimestamp\":"
	                     "\"2026-01-10T00:00:00Z\"},"
	                     "{\"type\":\"track\",\"event\":\"x\","
	                     "\"userId\":\"u\",\"timestamp\":"
	                     "\"2026-01-10T00:00:00Z\",\"sentAt\":"
	                     "\"2026-12-06T17:19:18.200Z\"},"
	                     "{\"type\":\"track\",\"event\":\"x\","
	                     "\"userId\":\"u\",\"timestamp\":"
	                     "\"2026-01-10T00:00:00Z\",\"originalTimestamp\":"
	                     "\"2026-12-06T17:19:00Z\"}]}"),
	        CLM_OK);
	no_errors();
	cr_assert_eq(tp_at(0)->occurred_at_ms, T0 + 1000);
	cr_assert_eq(tp_at(1)->occurred_at_ms, T0 + 1000);
	/* An item's own sentAt wins over the batch's. */
	cr_assert_eq(tp_at(2)->occurred_at_ms, T0 + 100);
	/* timestamp wins over originalTimestamp (RudderStack sends both). */
	cr_assert_eq(tp_at(3)->occurred_at_ms, T0 + 1000);
	/* A sentAt that is no date-time: no correction. */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_BATCH,
	                     "{\"sentAt\":\"soon\",\"batch\":[{\"type\":"
	                     "\"track\",\"event\":\"x\",\"userId\":\"u\","
	                     "\"timestamp\":\"2026-01-10T00:00:00Z\"}]}"),
	        CLM_OK);
	cr_assert_eq(tp_at(0)->occurred_at_ms, T0);
}

Test(sdk_segment, bad_times)
{
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"timestamp\":\"yesterday\"}");
	only_error("batch[0].timestamp", "must be an ISO-8601 date-time");
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"timestamp\":1768003200000}");
	only_error("batch[0].timestamp", "must be an ISO-8601 date-time");
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"timestamp\":\"1969-07-20T20:17:40Z\"}");
	only_error("batch[0].timestamp", "before 2000-01-01");
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"timestamp\":\"2026-12-07T17:19:19Z\"}");
	only_error("batch[0].timestamp", "more than 24 h ahead");
	batch("{\"type\":\"page\",\"userId\":\"u\","
	      "\"originalTimestamp\":\"2026-02-30T00:00:00Z\"}");
	only_error("batch[0].originalTimestamp", "ISO-8601");
	/* Just inside: 2000-01-01 and now + 24 h. */
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"timestamp\":\"2000-01-01T00:00:00Z\"},"
	      "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"timestamp\":\"2026-12-07T17:19:18.300Z\"}");
	no_errors();
	cr_assert_eq(tp_at(0)->occurred_at_ms, 946684800000LL);
	cr_assert_eq(tp_at(1)->occurred_at_ms, SDK_NOW + 86400000LL);
}

Test(sdk_segment, types)
{
	batch("{\"event\":\"x\",\"userId\":\"u\"},"
	      "{\"type\":\"TRACK\",\"event\":\"x\",\"userId\":\"u\"},"
	      "{\"type\":\"delete\",\"userId\":\"u\"},"
	      "{\"type\":7,\"userId\":\"u\"},"
	      "{\"type\":\"track\",\"userId\":\"u\"},"
	      "{\"type\":\"track\",\"event\":\"\",\"userId\":\"u\"},"
	      "{\"type\":\"track\",\"event\":5,\"userId\":\"u\"},"
	      "[],"
	      "\"x\"");
	cr_assert_eq(sdk_out.n_items, 9);
	cr_assert_eq(sdk_out.n_ops, 1);
	cr_assert_eq(sdk_out.ops[0].item, 1);
	static const char *const fields[] = { "batch[0].type", "batch[2].type",
		"batch[3].type", "batch[4].event", "batch[5].event",
		"batch[6].event", "batch[7]", "batch[8]" };
	cr_assert_eq(sdk_out.n_errors, 8);
	for (size_t i = 0; i < 8; i++) {
		cr_assert_str_eq(sdk_out.errors[i].field, fields[i]);
	}
	cr_assert_str_eq(sdk_out.errors[0].message,
	        "is required: identify, track, page, screen, group or alias");
	cr_assert_str_eq(sdk_out.errors[7].message, "must be an object");
	cr_assert_eq(sdk_out.errors[7].item, 8);
}

Test(sdk_segment, page_and_screen)
{
	batch("{\"type\":\"page\",\"anonymousId\":\"a1\",\"name\":\"Teas\","
	      "\"category\":\"Shop\",\"properties\":{\"url\":\"/t\"}},"
	      "{\"type\":\"screen\",\"userId\":\"u\",\"name\":\"Home\"}");
	no_errors();
	const Clm__V1__Touchpoint *p = tp_at(0);
	cr_assert_eq(p->type, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW);
	cr_assert_str_eq(p->event_name, "");
	cr_assert_eq(p->n_properties, 3);
	cr_assert_str_eq(p->properties[0]->key, "name");
	cr_assert_str_eq(p->properties[0]->value, "Teas");
	cr_assert_str_eq(sdk_prop(p, "category"), "Shop");
	cr_assert_str_eq(sdk_prop(p, "url"), "/t");
	cr_assert_eq(tp_at(1)->type, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW);
	cr_assert_str_eq(sdk_prop(tp_at(1), "name"), "Home");
	/* A name holding NUL is left out, not cut short. */
	batch("{\"type\":\"page\",\"userId\":\"u\",\"name\":\"a\\u0000b\"}");
	no_errors();
	cr_assert_eq(tp_at(0)->n_properties, 0);
	batch("{\"type\":\"page\",\"userId\":\"u\",\"properties\":[1]}");
	only_error("batch[0].properties", "must be an object");
}

Test(sdk_segment, single_routes)
{
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_TRACK,
	                     "{\"event\":\"Order Completed\",\"userId\":"
	                     "\"u\",\"properties\":{\"revenue\":5}}"),
	        CLM_OK);
	no_errors();
	cr_assert_eq(sdk_out.n_items, 1);
	cr_assert_eq(sdk_out.ops[0].item, 0);
	cr_assert_eq(tp_at(0)->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	/* The route decides the type, and fields are not prefixed. */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_PAGE,
	                     "{\"type\":\"track\",\"userId\":\"u\","
	                     "\"timestamp\":\"no\"}"),
	        CLM_OK);
	only_error("timestamp", "ISO-8601");
	cr_assert_eq(
	        sdk_parse_str(SDK_ROUTE_SCREEN, "{\"userId\":\"u\"}"), CLM_OK);
	cr_assert_eq(tp_at(0)->type, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW);
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_IDENTIFY,
	                     "{\"userId\":\"u\",\"traits\":{\"a\":1}}"),
	        CLM_OK);
	cr_assert_str_eq(sdk_trait(id_at(0), "a"), "1");
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_ALIAS,
	                     "{\"userId\":\"u\",\"previousId\":\"p\"}"),
	        CLM_OK);
	cr_assert_str_eq(id_at(0)->anonymous_id, "p");
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_GROUP,
	                     "{\"userId\":\"u\",\"groupId\":\"g\"}"),
	        CLM_OK);
	cr_assert_str_eq(sdk_trait(id_at(0), "group.id"), "g");
	/* A single route's body must be an object. */
	cr_assert_eq(
	        sdk_parse_str(SDK_ROUTE_TRACK, "[]"), CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(sdk_err, "the body is not a JSON object");
}

Test(sdk_segment, identify)
{
	batch("{\"type\":\"identify\",\"userId\":\"kim\",\"anonymousId\":"
	      "\"ck1\",\"traits\":{\"plan\":\"pro\",\"age\":41,\"vip\":false,"
	      "\"gone\":null,\"tags\":[\"a\",\"b\"],\"address\":{\"city\":"
	      "\"Lyon\",\"geo\":{\"lat\":45.7}}}},"
	      "{\"type\":\"identify\",\"userId\":\"kim\"},"
	      "{\"type\":\"identify\",\"anonymousId\":\"ck1\",\"traits\":"
	      "{\"a\":1}},"
	      "{\"type\":\"identify\",\"userId\":\"kim\",\"traits\":\"x\"}");
	cr_assert_eq(sdk_out.n_ops, 2);
	const Clm__V1__IdentifyRequest *r = id_at(0);
	cr_assert_str_eq(r->anonymous_id, "ck1");
	cr_assert_str_eq(r->customer_id, "kim");
	cr_assert_eq(r->n_traits, 7);
	/* Top-level scalars first, then nested ones in document order. */
	cr_assert_str_eq(r->traits[0]->key, "plan");
	cr_assert_str_eq(r->traits[1]->key, "age");
	cr_assert_str_eq(r->traits[1]->value, "41");
	cr_assert_str_eq(r->traits[2]->key, "vip");
	cr_assert_str_eq(r->traits[2]->value, "false");
	cr_assert_str_eq(r->traits[3]->key, "tags.0");
	cr_assert_str_eq(r->traits[3]->value, "a");
	cr_assert_str_eq(r->traits[4]->key, "tags.1");
	cr_assert_str_eq(r->traits[5]->key, "address.city");
	cr_assert_str_eq(r->traits[6]->key, "address.geo.lat");
	cr_assert_str_eq(r->traits[6]->value, "45.7");
	cr_assert_null(sdk_trait(r, "gone"));
	/* A userId alone: linked to itself. */
	cr_assert_str_eq(id_at(1)->anonymous_id, "kim");
	cr_assert_str_eq(id_at(1)->customer_id, "kim");
	cr_assert_eq(id_at(1)->n_traits, 0);
	cr_assert_eq(sdk_out.n_errors, 2);
	cr_assert_str_eq(sdk_out.errors[0].field, "batch[2].userId");
	cr_assert_str_eq(sdk_out.errors[0].message,
	        "is required: clm keeps traits on known customers only");
	cr_assert_str_eq(sdk_out.errors[1].field, "batch[3].traits");
}

Test(sdk_segment, alias_and_group)
{
	batch("{\"type\":\"alias\",\"userId\":\"kim\",\"previousId\":\"ck1\"},"
	      "{\"type\":\"alias\",\"userId\":\"kim\"},"
	      "{\"type\":\"alias\",\"previousId\":\"ck1\"},"
	      "{\"type\":\"group\",\"userId\":\"kim\",\"anonymousId\":\"ck1\","
	      "\"groupId\":7,\"traits\":{\"name\":\"Acme\",\"plan\":"
	      "{\"tier\":2}}},"
	      "{\"type\":\"group\",\"userId\":\"kim\"},"
	      "{\"type\":\"group\",\"anonymousId\":\"ck1\",\"groupId\":\"g\"}");
	cr_assert_eq(sdk_out.n_ops, 2);
	cr_assert_str_eq(id_at(0)->anonymous_id, "ck1");
	cr_assert_str_eq(id_at(0)->customer_id, "kim");
	cr_assert_eq(id_at(0)->n_traits, 0);
	/* A group: traits on the user, no merge of the anonymous id. */
	const Clm__V1__IdentifyRequest *g = id_at(1);
	cr_assert_str_eq(g->anonymous_id, "kim");
	cr_assert_str_eq(g->customer_id, "kim");
	cr_assert_eq(g->n_traits, 3);
	cr_assert_str_eq(sdk_trait(g, "group.id"), "7");
	cr_assert_str_eq(sdk_trait(g, "group.name"), "Acme");
	cr_assert_str_eq(sdk_trait(g, "group.plan.tier"), "2");
	static const char *const fields[] = { "batch[1].previousId",
		"batch[2].userId", "batch[4].groupId", "batch[5].userId" };
	cr_assert_eq(sdk_out.n_errors, 4);
	for (size_t i = 0; i < 4; i++) {
		cr_assert_str_eq(sdk_out.errors[i].field, fields[i]);
	}
}

Test(sdk_segment, custom_and_case)
{
	batch("{\"type\":\"track\",\"event\":\"Pricing Viewed\",\"userId\":"
	      "\"u\"},"
	      "{\"type\":\"track\",\"event\":\"order COMPLETED\",\"userId\":"
	      "\"u\"},"
	      "{\"type\":\"track\",\"event\":\"order_completed\",\"userId\":"
	      "\"u\"},"
	      "{\"type\":\"track\",\"event\":\"Order  Completed\",\"userId\":"
	      "\"u\"}");
	no_errors();
	cr_assert_eq(tp_at(0)->type, CLM__V1__TOUCHPOINT_TYPE__CUSTOM);
	cr_assert_str_eq(tp_at(0)->event_name, "Pricing Viewed");
	cr_assert_eq(tp_at(1)->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_str_eq(tp_at(1)->event_name, "");
	cr_assert_eq(tp_at(2)->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	/* Only case and '_' are forgiven. */
	cr_assert_eq(tp_at(3)->type, CLM__V1__TOUCHPOINT_TYPE__CUSTOM);
	cr_assert_str_eq(tp_at(3)->event_name, "Order  Completed");
	char *item = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"%0129d\",\"userId\":\"u\"}",
	        0);
	batch(item);
	only_error("batch[0].event", "must be 1..128 bytes");
}

Test(sdk_segment, builtin_names)
{
	static const struct {
		const char *name;
		int type;
	} cases[] = {
		{ "Order Completed", CLM__V1__TOUCHPOINT_TYPE__PURCHASE },
		{ "Order Refunded", CLM__V1__TOUCHPOINT_TYPE__REFUND },
		{ "Product Added", CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART },
		{ "Product Removed",
		        CLM__V1__TOUCHPOINT_TYPE__REMOVE_FROM_CART },
		{ "Checkout Started",
		        CLM__V1__TOUCHPOINT_TYPE__CHECKOUT_STARTED },
		{ "Signed Up", CLM__V1__TOUCHPOINT_TYPE__SIGNUP },
		{ "Email Opened", CLM__V1__TOUCHPOINT_TYPE__EMAIL_OPEN },
		{ "Email Link Clicked",
		        CLM__V1__TOUCHPOINT_TYPE__EMAIL_CLICK },
		{ "Application Opened", CLM__V1__TOUCHPOINT_TYPE__APP_OPEN },
		{ "Product Viewed", CLM__V1__TOUCHPOINT_TYPE__CONTENT_VIEW },
		{ "Product Reviewed", CLM__V1__TOUCHPOINT_TYPE__REVIEW },
		{ "Promotion Clicked", CLM__V1__TOUCHPOINT_TYPE__AD_CLICK },
		{ "Subscription Cancelled",
		        CLM__V1__TOUCHPOINT_TYPE__CANCELLATION },
		{ "$pageview", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW },
		{ "$screen", CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW },
		{ "$pageleave", SDK_MAP_IGNORE },
		{ "Order Cancelled", CLM__V1__TOUCHPOINT_TYPE__CUSTOM },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(sdk_event_type(sdk_map, cases[i].name),
		        cases[i].type, "%s", cases[i].name);
	}
}

Test(sdk_segment, purchase_value)
{
	batch("{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"total\":12,\"revenue\":10,"
	      "\"currency\":\"EUR\"}},"
	      "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"total\":\"12.50\"}},"
	      "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"products\":[{\"sku\":\"a\",\"price\":"
	      "2.5,\"quantity\":2},{\"id\":\"b\",\"price\":\"1\"},"
	      "{\"price\":3}]}},"
	      "{\"type\":\"track\",\"event\":\"Order Refunded\",\"userId\":"
	      "\"u\",\"properties\":{\"total\":12,\"revenue\":10}},"
	      "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"revenue\":null,\"total\":null}}");
	no_errors();
	cr_assert_float_eq(tp_at(0)->value, 10, 1e-9);
	cr_assert_str_eq(tp_at(0)->currency, "EUR");
	cr_assert_float_eq(tp_at(1)->value, 12.5, 1e-9);
	/* No revenue or total: the products' price x quantity. */
	cr_assert_float_eq(tp_at(2)->value, 9, 1e-9);
	cr_assert_str_eq(tp_at(2)->item_id, "a");
	cr_assert_eq(tp_at(2)->n_order_items, 1);
	cr_assert_str_eq(tp_at(2)->order_items[0], "b");
	/* A refund is its total. */
	cr_assert_eq(tp_at(3)->type, CLM__V1__TOUCHPOINT_TYPE__REFUND);
	cr_assert_float_eq(tp_at(3)->value, 12, 1e-9);
	cr_assert_float_eq(tp_at(4)->value, 0, 1e-9);
}

Test(sdk_segment, purchase_errors)
{
	batch("{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"revenue\":\"lots\"}}");
	only_error("batch[0].properties.revenue", "must be a number");
	batch("{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"revenue\":-1}}");
	only_error("batch[0].properties.revenue", "must not be negative");
	batch("{\"type\":\"track\",\"event\":\"Order Refunded\",\"userId\":"
	      "\"u\",\"properties\":{\"total\":2e12}}");
	only_error("batch[0].properties.total", "at most 1e12");
	batch("{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"currency\":\"euros and cents!!\"}}");
	only_error("batch[0].properties.currency", "currency code");
	batch("{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"products\":[{\"product_id\":true},"
	      "{\"product_id\":\"a\\u0001\"}]}}");
	only_error("batch[0].properties.products[1].product_id",
	        "printable UTF-8");
}

Test(sdk_segment, order_items)
{
	/* 70 products, one repeated: the first is item_id, then at most 64
	 * distinct others. */
	char *items = arena_strdup(&sdk_arena, "{\"product_id\":\"p0\"}");
	for (int i = 1; i < 70; i++) {
		items = arena_printf(&sdk_arena, "%s,{\"product_id\":\"p%d\"}",
		        items, i == 2 ? 1 : i);
	}
	char *item = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"Order Completed\","
	        "\"userId\":\"u\",\"properties\":{\"revenue\":1,"
	        "\"products\":[%s,{\"product_id\":\"p0\"}]}}",
	        items);
	batch(item);
	no_errors();
	const Clm__V1__Touchpoint *tp = tp_at(0);
	cr_assert_str_eq(tp->item_id, "p0");
	cr_assert_eq(tp->n_order_items, SDK_MAX_ORDER_ITEMS);
	cr_assert_str_eq(tp->order_items[0], "p1");
	cr_assert_str_eq(tp->order_items[1], "p3");
	cr_assert_eq(SDK_MAX_ORDER_ITEMS, 16);
	cr_assert_str_eq(tp->order_items[15], "p17");
	/* The order's own product_id comes first. */
	batch("{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":"
	      "\"u\",\"properties\":{\"product_id\":\"main\",\"products\":"
	      "[{\"product_id\":\"x\"},{\"sku\":\"main\"}]}}");
	cr_assert_str_eq(tp_at(0)->item_id, "main");
	cr_assert_eq(tp_at(0)->n_order_items, 1);
	cr_assert_str_eq(tp_at(0)->order_items[0], "x");
}

Test(sdk_segment, products_and_reviews)
{
	batch("{\"type\":\"track\",\"event\":\"Product Added\",\"userId\":"
	      "\"u\",\"properties\":{\"product_id\":\"p1\",\"sku\":\"S\"}},"
	      "{\"type\":\"track\",\"event\":\"Product Removed\",\"userId\":"
	      "\"u\",\"properties\":{\"sku\":\"S\"}},"
	      "{\"type\":\"track\",\"event\":\"Product Viewed\",\"userId\":"
	      "\"u\",\"properties\":{\"product_id\":17}},"
	      "{\"type\":\"track\",\"event\":\"Product Reviewed\",\"userId\":"
	      "\"u\",\"properties\":{\"product_id\":\"p1\",\"rating\":5}},"
	      "{\"type\":\"track\",\"event\":\"Product Reviewed\",\"userId\":"
	      "\"u\",\"properties\":{\"rating\":\"2\"}},"
	      "{\"type\":\"track\",\"event\":\"Product Reviewed\",\"userId\":"
	      "\"u\",\"properties\":{\"rating\":10}}");
	no_errors();
	cr_assert_eq(tp_at(0)->type, CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART);
	cr_assert_str_eq(tp_at(0)->item_id, "p1");
	cr_assert_eq(
	        tp_at(1)->type, CLM__V1__TOUCHPOINT_TYPE__REMOVE_FROM_CART);
	cr_assert_str_eq(tp_at(1)->item_id, "S");
	cr_assert_str_eq(tp_at(2)->item_id, "17");
	cr_assert_float_eq(tp_at(3)->sentiment, 1, 1e-6);
	cr_assert_float_eq(tp_at(4)->sentiment, -0.5, 1e-6);
	cr_assert_float_eq(tp_at(5)->sentiment, 0, 1e-6);
	cr_assert_str_eq(tp_at(0)->event_name, "");
}

Test(sdk_segment, context)
{
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	      "\"context\":{\"campaign\":{\"medium\":\"CPC\",\"source\":"
	      "\"google\",\"name\":\"spring\"},\"location\":{\"latitude\":"
	      "45.75,\"longitude\":4.85},\"library\":{\"name\":\"l\"}}},"
	      "{\"type\":\"page\",\"userId\":\"u\",\"context\":{\"campaign\":"
	      "{\"source\":\"facebook\",\"name\":\"a\\tb\"},\"location\":"
	      "{\"latitude\":91,\"longitude\":0}}}");
	no_errors();
	const Clm__V1__Touchpoint *tp = tp_at(0);
	cr_assert_eq(tp->channel, CLM__V1__CHANNEL__PAID_ADS);
	cr_assert_str_eq(tp->campaign, "spring");
	cr_assert_not_null(tp->location);
	cr_assert_float_eq(tp->location->lat, 45.75, 1e-9);
	cr_assert_float_eq(tp->location->lon, 4.85, 1e-9);
	cr_assert_eq(tp->n_properties, 0);
	/* A campaign name clm cannot keep, a location off the globe: out. */
	cr_assert_eq(tp_at(1)->channel, CLM__V1__CHANNEL__ORGANIC_SOCIAL);
	cr_assert_str_eq(tp_at(1)->campaign, "");
	cr_assert_null(tp_at(1)->location);
}

Test(sdk_segment, property_limits)
{
	/* 40 properties: the 8 nested ones and the last top-level ones
	 * beyond 32 are dropped, top-level scalars first. */
	char *props = arena_strdup(&sdk_arena, "\"n\":{\"a\":1,\"b\":2}");
	for (int i = 0; i < 38; i++) {
		props = arena_printf(
		        &sdk_arena, "%s,\"k%02d\":%d", props, i, i);
	}
	char *item = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	        "\"properties\":{%s}}",
	        props);
	batch(item);
	no_errors();
	const Clm__V1__Touchpoint *tp = tp_at(0);
	cr_assert_eq(tp->n_properties, 32);
	cr_assert_str_eq(tp->properties[0]->key, "k00");
	cr_assert_str_eq(tp->properties[31]->key, "k31");
	cr_assert_null(sdk_prop(tp, "n.a"));

	/* Keys and values past their limits, NUL in a value, a control
	 * character in a key: each dropped, the rest kept. */
	char *longkey = arena_printf(&sdk_arena, "%065d", 0);
	char *longval = arena_printf(&sdk_arena, "%01025d", 0);
	item = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	        "\"properties\":{\"%s\":1,\"v\":\"%s\",\"z\":\"a\\u0000b\","
	        "\"c\\u0007\":1,\"\":2,\"ok\":\"%.1024s\",\"deep\":{\"%.60s\":"
	        "1,\"x\":{\"y\":2}}}}",
	        longkey, longval, longval, longkey);
	batch(item);
	no_errors();
	tp = tp_at(0);
	cr_assert_eq(tp->n_properties, 2, "%zu", tp->n_properties);
	cr_assert_eq(strlen(sdk_prop(tp, "ok")), 1024);
	cr_assert_str_eq(sdk_prop(tp, "deep.x.y"), "2");
}

Test(sdk_segment, item_size)
{
	/* One item over 32 KiB among good ones. */
	char *big = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\","
	        "\"properties\":{\"p\":\"%040000d\"}}",
	        0);
	char *items = arena_printf(&sdk_arena,
	        "{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\"},"
	        "%s,{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\"}",
	        big);
	batch(items);
	cr_assert_eq(sdk_out.n_items, 3);
	cr_assert_eq(sdk_out.n_ops, 2);
	cr_assert_eq(sdk_out.ops[1].item, 2);
	cr_assert_eq(sdk_out.n_errors, 1);
	cr_assert_str_eq(sdk_out.errors[0].field, "batch[1]");
	cr_assert_eq(sdk_out.errors[0].item, 1);
	char want[64];
	snprintf(want, sizeof(want), "item is %zu bytes, more than 32768",
	        strlen(big));
	cr_assert_str_eq(sdk_out.errors[0].message, want);
}

/* ---------------------------------------------------------------------- */
/* PostHog                                                                */

Test(sdk_posthog, capture_forms)
{
	/* /capture/ with one event and its api_key. */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_POSTHOG,
	                     "{\"api_key\":\"phc\",\"event\":\"Signed Up\","
	                     "\"distinct_id\":\"kim\",\"uuid\":\"u1\","
	                     "\"timestamp\":\"2026-01-10T00:00:00Z\"}"),
	        CLM_OK);
	no_errors();
	cr_assert_str_eq(sdk_out.api_key, "phc");
	cr_assert_eq(sdk_out.n_items, 1);
	cr_assert_eq(tp_at(0)->type, CLM__V1__TOUCHPOINT_TYPE__SIGNUP);
	cr_assert_str_eq(tp_at(0)->customer_id, "kim");
	cr_assert_str_eq(tp_at(0)->event_id, "u1");
	cr_assert_eq(tp_at(0)->occurred_at_ms, T0);
	/* posthog-js's single event: the key is the token property. */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_POSTHOG,
	                     "{\"event\":\"x\",\"properties\":{\"token\":"
	                     "\"phc2\",\"distinct_id\":\"kim\"}}"),
	        CLM_OK);
	no_errors();
	cr_assert_str_eq(sdk_out.api_key, "phc2");
	cr_assert_str_eq(tp_at(0)->customer_id, "kim");
	cr_assert_eq(tp_at(0)->n_properties, 0);
	/* The older bare array; its errors are named "[i]". */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_POSTHOG,
	                     "[{\"event\":\"x\",\"distinct_id\":\"a\"},"
	                     "{\"event\":\"x\"}]"),
	        CLM_OK);
	cr_assert_null(sdk_out.api_key);
	cr_assert_eq(sdk_out.n_items, 2);
	cr_assert_eq(sdk_out.n_ops, 1);
	cr_assert_str_eq(sdk_out.errors[0].field, "[1].distinct_id");
	/* Neither a batch nor an event. */
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_POSTHOG, "{\"api_key\":\"k\"}"),
	        CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(sdk_err, "no \"batch\" array");
}

Test(sdk_posthog, identify)
{
	posthog("{\"event\":\"$identify\",\"distinct_id\":\"kim\","
	        "\"properties\":{\"$anon_distinct_id\":\"ck1\",\"$set\":"
	        "{\"plan\":\"pro\",\"$browser\":\"Firefox\",\"a\":{\"b\":1}},"
	        "\"$set_once\":{\"plan\":\"free\",\"first\":\"2026\","
	        "\"$initial_referrer\":\"$direct\"},\"$lib\":\"web\"}},"
	        "{\"event\":\"$identify\",\"distinct_id\":\"kim\","
	        "\"$set\":{\"x\":true}},"
	        "{\"event\":\"$set\",\"distinct_id\":\"kim\",\"properties\":"
	        "{\"$set\":{\"y\":1}}}");
	no_errors();
	const Clm__V1__IdentifyRequest *r = id_at(0);
	cr_assert_str_eq(r->anonymous_id, "ck1");
	cr_assert_str_eq(r->customer_id, "kim");
	cr_assert_eq(r->n_traits, 3);
	cr_assert_str_eq(sdk_trait(r, "plan"), "pro"); /* $set wins */
	cr_assert_str_eq(sdk_trait(r, "a.b"), "1");
	cr_assert_str_eq(sdk_trait(r, "first"), "2026");
	cr_assert_null(sdk_trait(r, "$browser")); /* $ keys: the device's */
	/* $set beside the properties; no $anon_distinct_id. */
	cr_assert_str_eq(id_at(1)->anonymous_id, "kim");
	cr_assert_str_eq(sdk_trait(id_at(1), "x"), "true");
	cr_assert_str_eq(sdk_trait(id_at(2), "y"), "1");
}

Test(sdk_posthog, alias_and_ignored)
{
	posthog("{\"event\":\"$create_alias\",\"distinct_id\":\"kim\","
	        "\"properties\":{\"alias\":\"ck1\"}},"
	        "{\"event\":\"$create_alias\",\"distinct_id\":\"kim\"},"
	        "{\"event\":\"$groupidentify\",\"distinct_id\":\"kim\"},"
	        "{\"event\":\"$pageleave\",\"distinct_id\":\"kim\"},"
	        "{\"event\":\"$autocapture\",\"distinct_id\":\"kim\"}");
	cr_assert_eq(sdk_out.n_items, 5);
	cr_assert_eq(sdk_out.n_ops, 1);
	cr_assert_str_eq(id_at(0)->anonymous_id, "ck1");
	cr_assert_str_eq(id_at(0)->customer_id, "kim");
	cr_assert_eq(sdk_out.n_errors, 1);
	cr_assert_str_eq(sdk_out.errors[0].field, "batch[1].properties.alias");
}

Test(sdk_posthog, anonymous_and_properties)
{
	posthog("{\"event\":\"$pageview\",\"distinct_id\":\"d1\","
	        "\"properties\":{\"$device_id\":\"d1\",\"$current_url\":"
	        "\"https://x/\",\"$pathname\":\"/\",\"$os\":\"Linux\","
	        "\"token\":\"phc\",\"distinct_id\":\"d1\",\"plan\":\"a\","
	        "\"utm_medium\":\"social\",\"utm_campaign\":\"c1\"}},"
	        "{\"event\":\"$screen\",\"distinct_id\":\"kim\",\"properties\":"
	        "{\"$device_id\":\"d1\",\"$screen_name\":\"Home\"}},"
	        "{\"event\":\"x\",\"distinct_id\":7,\"properties\":"
	        "{\"$is_identified\":false}},"
	        "{\"event\":\"x\",\"distinct_id\":\"kim\",\"properties\":"
	        "{\"$process_person_profile\":false}}");
	no_errors();
	const Clm__V1__Touchpoint *tp = tp_at(0);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW);
	cr_assert_str_eq(tp->anonymous_id, "d1");
	cr_assert_str_eq(tp->customer_id, "");
	cr_assert_eq(tp->channel, CLM__V1__CHANNEL__ORGANIC_SOCIAL);
	cr_assert_str_eq(tp->campaign, "c1");
	cr_assert_eq(tp->n_properties, 5, "%zu", tp->n_properties);
	cr_assert_str_eq(sdk_prop(tp, "url"), "https://x/");
	cr_assert_str_eq(sdk_prop(tp, "path"), "/");
	cr_assert_str_eq(sdk_prop(tp, "plan"), "a");
	cr_assert_str_eq(sdk_prop(tp, "utm_medium"), "social");
	cr_assert_null(sdk_prop(tp, "token"));
	cr_assert_null(sdk_prop(tp, "$os"));
	/* Identified: distinct_id differs from $device_id. */
	cr_assert_eq(tp_at(1)->type, CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW);
	cr_assert_str_eq(tp_at(1)->customer_id, "kim");
	cr_assert_str_eq(sdk_prop(tp_at(1), "name"), "Home");
	cr_assert_str_eq(tp_at(2)->anonymous_id, "7");
	cr_assert_str_eq(tp_at(2)->event_name, "x");
	cr_assert_str_eq(tp_at(3)->anonymous_id, "kim");
}

Test(sdk_posthog, times)
{
	cr_assert_eq(sdk_parse_str(SDK_ROUTE_POSTHOG,
	                     "{\"sent_at\":\"2026-12-06T17:19:18.000Z\","
	                     "\"batch\":[{\"event\":\"x\",\"distinct_id\":"
	                     "\"a\",\"timestamp\":\"2026-01-10T00:00:00Z\"},"
	                     "{\"event\":\"x\",\"distinct_id\":\"a\","
	                     "\"offset\":500},"
	                     "{\"event\":\"x\",\"distinct_id\":\"a\"},"
	                     "{\"event\":\"x\",\"distinct_id\":\"a\","
	                     "\"timestamp\":\"x\"},"
	                     "{\"event\":\"x\",\"distinct_id\":\"a\","
	                     "\"offset\":999999999999}]}"),
	        CLM_OK);
	cr_assert_eq(sdk_out.n_ops, 3);
	cr_assert_eq(tp_at(0)->occurred_at_ms, T0 + 300);
	cr_assert_eq(tp_at(1)->occurred_at_ms, SDK_NOW - 500);
	cr_assert_eq(tp_at(2)->occurred_at_ms, SDK_NOW);
	cr_assert_eq(sdk_out.n_errors, 2);
	cr_assert_str_eq(sdk_out.errors[0].field, "batch[3].timestamp");
	cr_assert_str_eq(sdk_out.errors[1].field, "batch[4].offset");
	cr_assert_str_eq(sdk_out.errors[1].message,
	        "is before 2000-01-01, the earliest event time");
}

Test(sdk_posthog, errors)
{
	posthog("{\"distinct_id\":\"a\"},"
	        "{\"event\":\"x\",\"distinct_id\":\"a\",\"properties\":1},"
	        "{\"event\":\"x\",\"distinct_id\":[]},"
	        "{\"event\":\"x\",\"distinct_id\":\"a\",\"uuid\":false},"
	        "{\"event\":\"Order Completed\",\"distinct_id\":\"a\","
	        "\"properties\":{\"revenue\":-3}},"
	        /* An anonymous $set (posthog-js before identify): refused. */
	        "{\"event\":\"$set\",\"distinct_id\":\"d1\",\"properties\":"
	        "{\"$device_id\":\"d1\",\"$set\":{\"plan\":\"pro\"}}},"
	        "{\"event\":\"$set\",\"distinct_id\":\"d2\",\"properties\":"
	        "{\"$is_identified\":false,\"$set\":{\"plan\":\"pro\"}}}");
	cr_assert_eq(sdk_out.n_ops, 0);
	static const char *const fields[] = { "batch[0].event",
		"batch[1].properties", "batch[2].distinct_id", "batch[3].uuid",
		"batch[4].properties.revenue", "batch[5].distinct_id",
		"batch[6].distinct_id" };
	cr_assert_eq(sdk_out.n_errors, 7);
	for (size_t i = 0; i < 7; i++) {
		cr_assert_str_eq(sdk_out.errors[i].field, fields[i]);
		cr_assert_eq(sdk_out.errors[i].item, i);
	}
	cr_assert_str_eq(sdk_out.errors[5].message,
	        "is anonymous: clm keeps traits on known customers only");
}

/* ---------------------------------------------------------------------- */
/* Whole bodies                                                           */

Test(sdk_body, refused)
{
	static const struct {
		enum sdk_route route;
		const char *body, *err;
	} cases[] = {
		{ SDK_ROUTE_BATCH, "",
		        "invalid JSON at offset 0: unexpected end" },
		{ SDK_ROUTE_BATCH, "{\"batch\":[}",
		        "invalid JSON at offset 10: expected a value" },
		{ SDK_ROUTE_BATCH, "{}", "no \"batch\" array" },
		{ SDK_ROUTE_BATCH, "{\"batch\":{}}", "no \"batch\" array" },
		{ SDK_ROUTE_BATCH, "[]", "the body is not a JSON object" },
		{ SDK_ROUTE_POSTHOG, "\"x\"",
		        "the body is not a JSON object" },
		{ SDK_ROUTE_POSTHOG, "{\"batch\":3}", "no \"batch\" array" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sdk_out.n_items = 99;
		cr_assert_eq(sdk_parse_str(cases[i].route, cases[i].body),
		        CLM_INVALID_ARGUMENT, "case %zu", i);
		cr_assert_str_eq(sdk_err, cases[i].err, "case %zu", i);
	}
	/* Past the body limit (the caller checks it first). */
	char *big = arena_alloc(&sdk_arena, SDK_MAX_BATCH_BYTES + 1);
	memset(big, ' ', SDK_MAX_BATCH_BYTES + 1);
	cr_assert_eq(sdk_parse(sdk_map, &sdk_limits, SDK_ROUTE_BATCH, big,
	                     SDK_MAX_BATCH_BYTES + 1, SDK_NOW, &sdk_arena,
	                     &sdk_out, sdk_err, sizeof(sdk_err)),
	        CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(
	        sdk_err, "the body is 512001 bytes, more than 512000");
}

Test(sdk_body, empty_batch)
{
	batch("");
	cr_assert_eq(sdk_out.n_items, 0);
	cr_assert_eq(sdk_out.n_ops, 0);
	cr_assert_eq(sdk_out.n_errors, 0);
}

Test(sdk_body, budget)
{
	/* sdk_parse sets its own budget and lifts it again... */
	batch("{\"type\":\"track\",\"event\":\"x\",\"userId\":\"u\"}");
	cr_assert_eq(sdk_arena.budget, 0);
	/* ...or keeps the caller's, and says when it ran out. */
	arena_budget(&sdk_arena, 512);
	struct sdk_batch out = { .n_items = 77 };
	const char *body = "{\"batch\":[{\"type\":\"track\",\"event\":\"x\","
	                   "\"userId\":\"u\",\"properties\":{\"a\":1,\"b\":2,"
	                   "\"c\":3}}]}";
	cr_assert_eq(sdk_parse(sdk_map, &sdk_limits, SDK_ROUTE_BATCH, body,
	                     strlen(body), SDK_NOW, &sdk_arena, &out, sdk_err,
	                     sizeof(sdk_err)),
	        CLM_RESOURCE_EXHAUSTED);
	cr_assert_not_null(strstr(sdk_err, "more memory than 512 bytes"));
	cr_assert_eq(out.n_items, 77); /* untouched */
	cr_assert_eq(sdk_arena.budget, 512);
}

Test(sdk_body, full_batch_within_budget)
{
	/* A body of nearly 500 KB of small items maps within the budget
	 * sdk_parse gives itself. */
	const char *one
	        = "{\"type\":\"track\",\"event\":\"Product Added\","
	          "\"userId\":\"u\",\"messageId\":\"m\",\"properties\":"
	          "{\"product_id\":\"p\",\"a\":{\"b\":[1,2,3]}}}";
	size_t n = (SDK_MAX_BATCH_BYTES - 32) / (strlen(one) + 1);
	char *body = arena_alloc(&sdk_arena, SDK_MAX_BATCH_BYTES);
	size_t len = (size_t) sprintf(body, "{\"batch\":[");
	for (size_t i = 0; i < n; i++) {
		len += (size_t) sprintf(body + len, "%s%s", i ? "," : "", one);
	}
	len += (size_t) sprintf(body + len, "]}");
	cr_assert(len <= SDK_MAX_BATCH_BYTES);
	cr_assert_eq(sdk_parse(sdk_map, &sdk_limits, SDK_ROUTE_BATCH, body,
	                     len, SDK_NOW, &sdk_arena, &sdk_out, sdk_err,
	                     sizeof(sdk_err)),
	        CLM_OK, "%s", sdk_err);
	cr_assert_eq(sdk_out.n_ops, n);
	cr_assert_eq(tp_at(n - 1)->n_properties, 4);
	cr_assert_str_eq(sdk_prop(tp_at(n - 1), "a.b.2"), "3");
}
