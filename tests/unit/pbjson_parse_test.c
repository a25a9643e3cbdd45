/*
 * Tests for common/pbjson_parse.c and pbjson_scalar.c: parsing what other
 * writers produce, every error class and hostile input. The descriptors
 * and helpers are pbjson_fixture's.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "pbjson.h"
#include "pbjson_fixture.h"

TestSuite(pbjson, .fini = pbjson_test_fini);

/*
 * Parsing what other writers produce.
 */

Test(pbjson, parse_snake_case_and_alternatives)
{
	Clm__V1__Touchpoint *tp = pbjson_test_parse(
	        " \t\r\n{ \"event_id\" : \"e1\" , \"customerId\":\"c1\",\"occurred_at_ms\":17,\"duration_s\":\"7\",\"type\":13,\"channel\":\"5\",\"value\":\"2.5\",\"sentiment\":-1e0,\"location\":{\"lat\":\"Infinity\",\"lon\":\"-Infinity\"},\"item_id\":null,\"campaign\":\"\\u00e9\\ud83d\\ude00\\/\",\"properties\":{}}\n\n  ",
	        &clm__v1__touchpoint__descriptor);

	cr_assert_str_eq(tp->event_id, "e1");
	cr_assert_str_eq(tp->customer_id, "c1");
	cr_assert_eq(tp->occurred_at_ms, 17);
	cr_assert_eq(tp->duration_s, 7);
	cr_assert_eq(tp->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_eq(tp->channel, CLM__V1__CHANNEL__EMAIL);
	cr_assert_eq(tp->value, 2.5);
	cr_assert_eq(tp->sentiment, -1.0f);
	cr_assert(isinf(tp->location->lat) && tp->location->lat > 0);
	cr_assert(isinf(tp->location->lon) && tp->location->lon < 0);
	cr_assert_eq(tp->item_id, protobuf_c_empty_string);
	cr_assert_str_eq(tp->campaign, "\xc3\xa9\xf0\x9f\x98\x80/");
	cr_assert_eq(tp->n_properties, 0);
	cr_assert_null(tp->properties);
	cr_assert_eq(tp->currency, protobuf_c_empty_string);
	clm__v1__touchpoint__free_unpacked(tp, NULL);
}

Test(pbjson, parse_integers_exactly)
{
	Clm__V1__Customer *c;
	Clm__V1__StatusReply *st;
	Clm__V1__Touchpoint *tp;

	/* Above 2^53, where a double would round. */
	c = pbjson_test_parse(
	        "{\"firstSeenMs\":9007199254740993,\"lastSeenMs\":\"-9223372036854775808\",\"purchases\":1e3,\"refunds\":\"1.0\",\"referrals\":0.5e1,\"asOfMs\":-0}",
	        &clm__v1__customer__descriptor);
	cr_assert_eq(c->first_seen_ms, 9007199254740993LL);
	cr_assert_eq(c->last_seen_ms, INT64_MIN);
	cr_assert_eq(c->purchases, 1000);
	cr_assert_eq(c->refunds, 1);
	cr_assert_eq(c->referrals, 5);
	cr_assert_eq(c->as_of_ms, 0);
	clm__v1__customer__free_unpacked(c, NULL);

	st = pbjson_test_parse(
	        "{\"dbBytes\":18446744073709551615,\"mapBytes\":\"184467440737095516.15e2\",\"customers\":\"0.000e99999999999999999999\"}",
	        &clm__v1__status_reply__descriptor);
	cr_assert_eq(st->db_bytes, UINT64_MAX);
	cr_assert_eq(st->map_bytes, UINT64_MAX);
	cr_assert_eq(st->customers, 0);
	clm__v1__status_reply__free_unpacked(st, NULL);

	tp = pbjson_test_parse(
	        "{\"durationS\":4294967295,\"type\":-2147483648}",
	        &clm__v1__touchpoint__descriptor);
	cr_assert_eq(tp->duration_s, UINT32_MAX);
	cr_assert_eq((int) tp->type, INT32_MIN);
	clm__v1__touchpoint__free_unpacked(tp, NULL);
}

Test(pbjson, parse_oneof_sets_case)
{
	Clm__V1__Request *r = pbjson_test_parse(
	        "{\"requestId\":\"r1\",\"track\":null,\"get_customer\":{\"customerId\":\"c9\"}}",
	        &clm__v1__request__descriptor);

	cr_assert_eq(r->call_case, CLM__V1__REQUEST__CALL_GET_CUSTOMER);
	cr_assert_str_eq(r->get_customer->customer_id, "c9");
	clm__v1__request__free_unpacked(r, NULL);

	/* null leaves the oneof unset, so another member may follow. */
	r = pbjson_test_parse("{\"track\":null,\"serverStatus\":{}}",
	        &clm__v1__request__descriptor);
	cr_assert_eq(r->call_case, CLM__V1__REQUEST__CALL_SERVER_STATUS);
	cr_assert_not_null(r->server_status);
	clm__v1__request__free_unpacked(r, NULL);

	r = pbjson_test_parse(
	        "{\"track\":null}", &clm__v1__request__descriptor);
	cr_assert_eq(r->call_case, CLM__V1__REQUEST__CALL__NOT_SET);
	clm__v1__request__free_unpacked(r, NULL);
}

Test(pbjson, parse_bytes_variants)
{
	static const char *const in[] = { "\"AAEC//4=\"", "\"AAEC//4\"",
		"\"AAEC__4=\"", "\"AAEC__4\"" };
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		char json[64];
		pbjson_test_node *n;

		snprintf(json, sizeof(json), "{\"b\":%s}", in[i]);
		n = pbjson_test_parse(json, &pbjson_test_node_desc);
		cr_assert_eq(n->b.len, 5);
		cr_assert(memcmp(n->b.data, "\x00\x01\x02\xff\xfe", 5) == 0);
		protobuf_c_message_free_unpacked(&n->base, NULL);
	}
}

Test(pbjson, parse_nesting_up_to_the_limit)
{
	size_t depth = PBJSON_MAX_DEPTH, i, len = 0;
	char *json = malloc(depth * 12 + 8);
	pbjson_test_node *n, *p;

	cr_assert_not_null(json);
	for (i = 1; i < depth; i++) {
		len += (size_t) sprintf(json + len, "{\"child\":");
	}
	len += (size_t) sprintf(json + len, "{");
	for (i = 0; i < depth; i++) {
		json[len++] = '}';
	}
	json[len] = '\0';
	n = pbjson_test_parse(json, &pbjson_test_node_desc);
	for (i = 1, p = n; p->child != NULL; p = p->child) {
		i++;
	}
	cr_assert_eq(i, depth);
	protobuf_c_message_free_unpacked(&n->base, NULL);
	free(json);
}

/*
 * Errors: one test per class, each checking the whole message.
 */

Test(pbjson, error_syntax)
{
	const ProtobufCMessageDescriptor *d = &clm__v1__touchpoint__descriptor;

	pbjson_test_fail(
	        "", d, "invalid JSON at offset 0: unexpected end of input");
	pbjson_test_fail(
	        "  ", d, "invalid JSON at offset 2: unexpected end of input");
	pbjson_test_fail("[]", d, "invalid JSON at offset 0: expected '{'");
	pbjson_test_fail("null", d, "invalid JSON at offset 0: expected '{'");
	pbjson_test_fail("{\"eventId\" \"x\"}", d,
	        "invalid JSON at offset 11: expected ':'");
	pbjson_test_fail("{\"eventId\":\"x\",}", d,
	        "invalid JSON at offset 15: expected a member name");
	pbjson_test_fail("{\"eventId\":\"x\" \"y\"}", d,
	        "invalid JSON at offset 15: expected ',' or '}'");
	pbjson_test_fail("{eventId:1}", d,
	        "invalid JSON at offset 1: expected a member name");
	pbjson_test_fail("{} {}", d,
	        "invalid JSON at offset 3: unexpected data after the object");
	pbjson_test_fail("{}x", d,
	        "invalid JSON at offset 2: unexpected data after the object");
	pbjson_test_fail("{\"eventId\":\"x", d,
	        "invalid JSON at offset 13: unexpected end of input");
	pbjson_test_fail("{\"eventId\":\"a\\qb\"}", d,
	        "invalid JSON at offset 13: invalid escape in string");
	pbjson_test_fail("{\"eventId\":\"a\tb\"}", d,
	        "invalid JSON at offset 13: control character in string");
	pbjson_test_fail("{\"eventId\":\"\\u12G4\"}", d,
	        "invalid JSON at offset 12: invalid \\u escape");
	pbjson_test_fail("{\"durationS\":01}", d,
	        "invalid JSON at offset 14: expected ',' or '}'");
	pbjson_test_fail("{\"durationS\":+1}", d,
	        "field 'durationS': expected an integer");
	pbjson_test_fail("{\"durationS\":1.}", d,
	        "invalid JSON at offset 13: invalid number");
	pbjson_test_fail("{\"durationS\":-}", d,
	        "invalid JSON at offset 13: invalid number");
	pbjson_test_fail(
	        "{\"value\":.5}", d, "field 'value': expected a number");
	pbjson_test_fail(
	        "{\"value\":NaN}", d, "field 'value': expected a number");
	pbjson_test_fail("{\"location\":{\"lat\":tru}}", d,
	        "field 'location.lat': expected a number");
}

Test(pbjson, error_unknown_and_duplicate_fields)
{
	const ProtobufCMessageDescriptor *d = &clm__v1__touchpoint__descriptor;

	pbjson_test_fail("{\"foo\":1}", d, "unknown field 'foo'");
	pbjson_test_fail("{\"location\":{\"lat\":1,\"alt\":2}}", d,
	        "unknown field 'location.alt'");
	pbjson_test_fail("{\"EventId\":\"x\"}", d, "unknown field 'EventId'");
	pbjson_test_fail(
	        "{\"event\\u0000id\":\"x\"}", d, "unknown field 'event?id'");
	pbjson_test_fail("{\"eventId\":\"a\",\"event_id\":\"b\"}", d,
	        "field 'event_id': given more than once");
	pbjson_test_fail("{\"location\":{},\"location\":null}", d,
	        "field 'location': given more than once");
	pbjson_test_fail("{\"track\":{},\"getCustomer\":{}}",
	        &clm__v1__request__descriptor,
	        "field 'getCustomer': another member of its oneof, 'track', is already set");
	pbjson_test_fail(
	        "{\"properties\":{\"a\":\"1\",\"b\":\"\",\"a\":\"2\"}}", d,
	        "field 'properties': duplicate map key 'a'");
	pbjson_test_fail("{\"children\":{\"1\":{},\"01e0\":{}}}",
	        &pbjson_test_node_desc,
	        "field 'children[01e0]': invalid int32 '01e0'");
}

Test(pbjson, error_wrong_types)
{
	const ProtobufCMessageDescriptor *d = &clm__v1__touchpoint__descriptor;

	pbjson_test_fail("{\"location\":{\"lat\":true}}", d,
	        "field 'location.lat': expected a number");
	pbjson_test_fail("{\"location\":{\"lat\":\"north\"}}", d,
	        "field 'location.lat': expected a number, got 'north'");
	pbjson_test_fail("{\"location\":{\"lat\":\"nan\"}}", d,
	        "field 'location.lat': expected a number, got 'nan'");
	pbjson_test_fail("{\"location\":[]}", d,
	        "field 'location': expected an object");
	pbjson_test_fail(
	        "{\"eventId\":1}", d, "field 'eventId': expected a string");
	pbjson_test_fail("{\"eventId\":[\"x\"]}", d,
	        "field 'eventId': expected a string");
	pbjson_test_fail("{\"durationS\":\"seven\"}", d,
	        "field 'durationS': invalid uint32 'seven'");
	pbjson_test_fail("{\"durationS\":\" 7\"}", d,
	        "field 'durationS': invalid uint32 ' 7'");
	pbjson_test_fail("{\"durationS\":true}", d,
	        "field 'durationS': expected an integer");
	pbjson_test_fail("{\"type\":\"PURCHASEX\"}", d,
	        "field 'type': unknown enum value 'PURCHASEX'");
	pbjson_test_fail("{\"type\":\"purchase\"}", d,
	        "field 'type': unknown enum value 'purchase'");
	pbjson_test_fail("{\"type\":\"PURCHASE\\u0000\"}", d,
	        "field 'type': unknown enum value 'PURCHASE?'");
	pbjson_test_fail("{\"type\":{}}", d,
	        "field 'type': expected an enum value name or number");
	pbjson_test_fail("{\"type\":1.5}", d,
	        "field 'type': expected an integer, got '1.5'");
	pbjson_test_fail("{\"track\":{\"touchpoints\":[{\"type\":\"X\"}]}}",
	        &clm__v1__request__descriptor,
	        "field 'track.touchpoints[0].type': unknown enum value 'X'");
	pbjson_test_fail("{\"track\":{\"touchpoints\":[{},{\"eventId\":2}]}}",
	        &clm__v1__request__descriptor,
	        "field 'track.touchpoints[1].eventId': expected a string");
	pbjson_test_fail("{\"track\":{\"touchpoints\":[null]}}",
	        &clm__v1__request__descriptor,
	        "field 'track.touchpoints[0]': null is not allowed in an array");
	pbjson_test_fail("{\"track\":{\"touchpoints\":{}}}",
	        &clm__v1__request__descriptor,
	        "field 'track.touchpoints': expected an array");
	pbjson_test_fail("{\"track\":{\"touchpoints\":[{}],}}",
	        &clm__v1__request__descriptor,
	        "invalid JSON at offset 29: expected a member name");
	pbjson_test_fail("{\"track\":{\"touchpoints\":[{}}}",
	        &clm__v1__request__descriptor,
	        "invalid JSON at offset 27: expected ',' or ']'");
	pbjson_test_fail("{\"properties\":[]}", d,
	        "field 'properties': expected an object");
	pbjson_test_fail("{\"properties\":{\"k\":1}}", d,
	        "field 'properties[k]': expected a string");
	pbjson_test_fail("{\"properties\":{\"k\":null}}", d,
	        "field 'properties[k]': null is not allowed as a map value");
	pbjson_test_fail("{\"properties\":{\"k\":\"v\" \"x\"}}", d,
	        "invalid JSON at offset 23: expected ',' or '}'");
	pbjson_test_fail("{\"properties\":{\"\\u0000\":\"v\"}}", d,
	        "field 'properties[?]': map key contains U+0000, which cannot be stored");
	pbjson_test_fail("{\"eventId\":\"a\\u0000b\"}", d,
	        "field 'eventId': string contains U+0000, which cannot be stored");
}

Test(pbjson, error_node_types)
{
	const ProtobufCMessageDescriptor *d = &pbjson_test_node_desc;

	pbjson_test_fail("{\"b\":\"AAECA\"}", d, "field 'b': invalid base64");
	pbjson_test_fail("{\"b\":\"A\"}", d, "field 'b': invalid base64");
	pbjson_test_fail("{\"b\":\"AA=\"}", d, "field 'b': invalid base64");
	pbjson_test_fail("{\"b\":\"A===\"}", d, "field 'b': invalid base64");
	pbjson_test_fail("{\"b\":\"AA AA\"}", d, "field 'b': invalid base64");
	pbjson_test_fail(
	        "{\"b\":5}", d, "field 'b': expected a base64 string");
	pbjson_test_fail("{\"blobs\":[\"AA==\",\"*\"]}", d,
	        "field 'blobs[1]': invalid base64");
	pbjson_test_fail("{\"flag\":\"yes\"}", d,
	        "field 'flag': expected true or false");
	pbjson_test_fail(
	        "{\"flag\":1}", d, "field 'flag': expected true or false");
	pbjson_test_fail("{\"i32\":2147483648}", d,
	        "field 'i32': value '2147483648' out of range for sint32");
	pbjson_test_fail("{\"i32\":-2147483649}", d,
	        "field 'i32': value '-2147483649' out of range for sint32");
	pbjson_test_fail("{\"u64\":\"18446744073709551616\"}", d,
	        "field 'u64': value '18446744073709551616' out of range for fixed64");
	pbjson_test_fail("{\"u64\":-1}", d,
	        "field 'u64': value '-1' out of range for fixed64");
	pbjson_test_fail("{\"s64\":9223372036854775808}", d,
	        "field 's64': value '9223372036854775808' out of range for sfixed64");
	pbjson_test_fail("{\"f\":1e39}", d,
	        "field 'f': value '1e39' out of range for float");
	pbjson_test_fail("{\"nums\":[1,\"x\"]}", d,
	        "field 'nums[1]': invalid int32 'x'");
	pbjson_test_fail("{\"nums\":[1,[2]]}", d,
	        "field 'nums[1]': expected an integer");
	pbjson_test_fail(
	        "{\"tags\":\"x\"}", d, "field 'tags': expected an array");
	pbjson_test_fail("{\"choiceS\":\"x\",\"choice_n\":1}", d,
	        "field 'choice_n': another member of its oneof, 'choiceS', is already set");
	pbjson_test_fail("{\"children\":{\"x\":{}}}", d,
	        "field 'children[x]': invalid int32 'x'");
	pbjson_test_fail("{\"children\":{\"1\":{},\"1\":{}}}", d,
	        "field 'children': duplicate map key '1'");
	pbjson_test_fail("{\"children\":{\"5\":{},\"5e0\":{}}}", d,
	        "field 'children': duplicate map key '5'");
	pbjson_test_fail("{\"children\":{\"1\":{\"child\":{\"nope\":1}}}}", d,
	        "unknown field 'children[1].child.nope'");
	pbjson_test_fail("{\"children\":{\"1\":\"x\"}}", d,
	        "field 'children[1]': expected an object");
	pbjson_test_fail("{\"boolMap\":{\"yes\":\"x\"}}", d,
	        "field 'boolMap[yes]': invalid bool map key 'yes': expected \"true\" or \"false\"");
	pbjson_test_fail("{\"boolMap\":{\"true\":\"x\",\"true\":\"y\"}}", d,
	        "field 'boolMap': duplicate map key 'true'");
	pbjson_test_fail("{\"extra\":{\"1\":{}}}", d,
	        "field 'extra': expected an array");
}

Test(pbjson, error_message_buffer)
{
	ProtobufCMessage *msg = NULL;
	char err[16];
	const char *json = "{\"type\":\"PURCHASEX\"}";
	char *longkey;
	size_t i;

	/* Truncated, still terminated. */
	cr_assert_eq(pbjson_parse(json, strlen(json),
	                     &clm__v1__touchpoint__descriptor, &msg, err,
	                     sizeof(err)),
	        -1);
	cr_assert_str_eq(err, "field 'type': u");
	/* No buffer at all. */
	cr_assert_eq(pbjson_parse(json, strlen(json),
	                     &clm__v1__touchpoint__descriptor, &msg, NULL, 0),
	        -1);
	cr_assert_null(msg);
	/* NULL text is empty input. */
	cr_assert_eq(pbjson_parse(NULL, 0, &clm__v1__touchpoint__descriptor,
	                     &msg, err, sizeof(err)),
	        -1);

	/* A long path or value is cut with "...". */
	longkey = malloc(2000);
	cr_assert_not_null(longkey);
	strcpy(longkey, "{\"properties\":{\"");
	for (i = strlen(longkey); i < 1000; i++) {
		longkey[i] = 'k';
	}
	strcpy(longkey + i, "\":1}}");
	{
		const char *e = pbjson_test_fail_n(longkey, strlen(longkey),
		        &clm__v1__touchpoint__descriptor);

		cr_assert(strncmp(e, "field 'properties[kkkk", 22) == 0, "%s",
		        e);
		cr_assert(strstr(e, "kkk...': expected a string") != NULL,
		        "%s", e);
		cr_assert(strlen(e) < 200);
	}
	free(longkey);
}

/*
 * Hostile input.
 */

Test(pbjson, hostile_invalid_utf8_and_surrogates)
{
	const ProtobufCMessageDescriptor *d = &clm__v1__touchpoint__descriptor;

	pbjson_test_fail("{\"eventId\":\"\xff\"}", d,
	        "invalid JSON at offset 12: invalid UTF-8 in string");
	pbjson_test_fail("{\"eventId\":\"ab\xc3\"}", d,
	        "invalid JSON at offset 14: invalid UTF-8 in string");
	pbjson_test_fail("{\"eventId\":\"\xc0\xaf\"}", d,
	        "invalid JSON at offset 12: invalid UTF-8 in string");
	pbjson_test_fail("{\"eventId\":\"\xe0\x80\xaf\"}", d,
	        "invalid JSON at offset 12: invalid UTF-8 in string");
	pbjson_test_fail("{\"eventId\":\"\xed\xa0\x80\"}", d,
	        "invalid JSON at offset 12: invalid UTF-8 in string");
	pbjson_test_fail("{\"eventId\":\"\xf4\x90\x80\x80\"}", d,
	        "invalid JSON at offset 12: invalid UTF-8 in string");
	pbjson_test_fail("{\"\xfe\":1}", d,
	        "invalid JSON at offset 2: invalid UTF-8 in string");
	pbjson_test_fail("{\"eventId\":\"\\ud800\"}", d,
	        "invalid JSON at offset 12: unpaired surrogate in string");
	pbjson_test_fail("{\"eventId\":\"\\ud800x\"}", d,
	        "invalid JSON at offset 12: unpaired surrogate in string");
	pbjson_test_fail("{\"eventId\":\"\\ud800\\u0041\"}", d,
	        "invalid JSON at offset 12: unpaired surrogate in string");
	pbjson_test_fail("{\"eventId\":\"\\ud800\\ud800\"}", d,
	        "invalid JSON at offset 12: unpaired surrogate in string");
	pbjson_test_fail("{\"eventId\":\"\\udc00\\ud800\"}", d,
	        "invalid JSON at offset 12: unpaired surrogate in string");
	pbjson_test_fail("{\"eventId\":\"\\ud800\\", d,
	        "invalid JSON at offset 19: unexpected end of input");
}

Test(pbjson, hostile_numbers)
{
	const ProtobufCMessageDescriptor *d = &clm__v1__touchpoint__descriptor;
	size_t n = 100000, i;
	char *big = malloc(n + 2000);
	Clm__V1__Touchpoint *tp;

	pbjson_test_fail("{\"durationS\":1e999}", d,
	        "field 'durationS': value '1e999' out of range for uint32");
	pbjson_test_fail("{\"durationS\":\"-1\"}", d,
	        "field 'durationS': value '-1' out of range for uint32");
	pbjson_test_fail("{\"durationS\":-1}", d,
	        "field 'durationS': value '-1' out of range for uint32");
	pbjson_test_fail("{\"durationS\":4294967296}", d,
	        "field 'durationS': value '4294967296' out of range for uint32");
	pbjson_test_fail("{\"durationS\":1.5}", d,
	        "field 'durationS': expected an integer, got '1.5'");
	pbjson_test_fail("{\"durationS\":1e-1}", d,
	        "field 'durationS': expected an integer, got '1e-1'");
	pbjson_test_fail("{\"occurredAtMs\":\"9223372036854775808\"}", d,
	        "field 'occurredAtMs': value '9223372036854775808' out of range for int64");
	pbjson_test_fail("{\"occurredAtMs\":1e99999999999999999999999999}", d,
	        "field 'occurredAtMs': value '1e99999999999999999999999999' out of range for int64");
	pbjson_test_fail("{\"value\":1e999}", d,
	        "field 'value': value '1e999' out of range for double");
	pbjson_test_fail("{\"value\":-1e999}", d,
	        "field 'value': value '-1e999' out of range for double");
	pbjson_test_fail("{\"sentiment\":\"3.5e38\"}", d,
	        "field 'sentiment': value '3.5e38' out of range for float");

	/* 100,000 digits: exact for integers, fine for doubles. */
	cr_assert_not_null(big);
	strcpy(big, "{\"occurredAtMs\":");
	for (i = strlen(big); i < n; i++) {
		big[i] = '7';
	}
	strcpy(big + i, "}");
	{
		const char *e = pbjson_test_fail_n(big, strlen(big), d);

		cr_assert(strncmp(e, "field 'occurredAtMs': value '777", 32)
		        == 0);
		cr_assert(strstr(e, "...' out of range for int64") != NULL);
	}
	strcpy(big, "{\"occurredAtMs\":0.");
	for (i = strlen(big); i < n; i++) {
		big[i] = '0';
	}
	i += (size_t) sprintf(big + i, "5e%zu,", n - 18 + 1);
	strcpy(big + i, "\"value\":0.");
	for (i = strlen(big); i < 2 * n && i < n + 1000; i++) {
		big[i] = '0';
	}
	strcpy(big + i, "1}");
	tp = pbjson_test_parse(big, d);
	cr_assert_eq(tp->occurred_at_ms, 5);
	cr_assert_eq(tp->value, 0.0); /* underflows to zero, as in protoc */
	clm__v1__touchpoint__free_unpacked(tp, NULL);
	free(big);
}

Test(pbjson, hostile_deep_nesting)
{
	size_t n = 10000, i, len;
	char *json = malloc(n * 20 + 64);
	const char *e;

	cr_assert_not_null(json);

	/* 10,000 '[' where an array of objects is expected. */
	len = (size_t) sprintf(json, "{\"track\":{\"touchpoints\":");
	memset(json + len, '[', n);
	len += n;
	e = pbjson_test_fail_n(json, len, &clm__v1__request__descriptor);
	cr_assert_str_eq(
	        e, "field 'track.touchpoints[0]': expected an object");

	/* 10,000 '{' and '[' at the top and in an unknown field. */
	memset(json, '{', n);
	e = pbjson_test_fail_n(json, n, &clm__v1__request__descriptor);
	cr_assert_str_eq(
	        e, "invalid JSON at offset 1: expected a member name");
	len = (size_t) sprintf(json, "{\"x\":");
	memset(json + len, '[', n);
	e = pbjson_test_fail_n(json, len + n, &clm__v1__request__descriptor);
	cr_assert_str_eq(e, "unknown field 'x'");

	/* A recursive type nests until the limit. */
	for (len = 0, i = 0; i < n; i++) {
		len += (size_t) sprintf(json + len, "{\"child\":");
	}
	e = pbjson_test_fail_n(json, len, &pbjson_test_node_desc);
	cr_assert_str_eq(e,
	        "invalid JSON at offset 576: nesting deeper than 64 levels");
	for (len = 0, i = 0; i < n; i++) {
		len += (size_t) sprintf(json + len, "{\"children\":{\"1\":");
	}
	e = pbjson_test_fail_n(json, len, &pbjson_test_node_desc);
	cr_assert(strstr(e, "nesting deeper than 64 levels") != NULL, "%s", e);
	free(json);
}

Test(pbjson, hostile_every_truncation)
{
	struct pbjson_test_tp t;
	char *json;
	size_t len, i;

	pbjson_test_tp_init(&t);
	t.tp.event_id = "\xf0\x9f\x98\x80\\\"\x01";
	json = pbjson_test_print(&t.tp, PBJSON_PRETTY);
	len = strlen(json);
	for (i = 0; i < len; i++) {
		pbjson_test_fail_n(json, i, &clm__v1__touchpoint__descriptor);
	}
	free(json);
}

/*
 * pbjson_test_rand is a small deterministic generator (xorshift) so that
 * failures reproduce.
 */
static uint32_t
pbjson_test_rand(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/*
 * pbjson_test_mutate parses `rounds` random edits (replace, delete or insert
 * a byte, one to four times) of seed as desc. Whatever parses must print.
 * Returns how many edits parsed.
 */
static unsigned
pbjson_test_mutate(const char *seed, const ProtobufCMessageDescriptor *desc,
        unsigned rounds)
{
	static const char alphabet[] = "{}[]\",:\\unl0-1e.9tfaE+= \x80\xff";
	uint32_t state = 0x9e3779b9u;
	size_t len = strlen(seed);
	char *buf = malloc(len + 8);
	unsigned i, ok = 0;

	cr_assert_not_null(buf);
	for (i = 0; i < rounds; i++) {
		ProtobufCMessage *msg = NULL;
		char err[128];
		size_t n = len, k, edits = 1 + pbjson_test_rand(&state) % 4;

		memcpy(buf, seed, len);
		for (k = 0; k < edits; k++) {
			size_t at = pbjson_test_rand(&state) % n;
			char c = alphabet[pbjson_test_rand(&state)
			        % (sizeof(alphabet) - 1)];

			switch (pbjson_test_rand(&state) % 3) {
			case 0:
				buf[at] = c;
				break;
			case 1:
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default:
				if (n < len + 4) {
					memmove(buf + at + 1, buf + at,
					        n - at);
					buf[at] = c;
					n++;
				}
				break;
			}
		}
		if (pbjson_parse(buf, n, desc, &msg, err, sizeof(err)) == 0) {
			free(pbjson_test_print(msg, 0));
			protobuf_c_message_free_unpacked(msg, NULL);
			ok++;
		} else {
			cr_assert_null(msg);
			cr_assert_neq(err[0], '\0');
		}
	}
	free(buf);
	return ok;
}

Test(pbjson, hostile_mutations)
{
	struct pbjson_test_tp t;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__TrackRequest track = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Touchpoint *tps[2];
	char *seed;

	pbjson_test_tp_init(&t);
	tps[0] = &t.tp;
	tps[1] = &t.tp;
	track.n_touchpoints = 2;
	track.touchpoints = tps;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &track;
	seed = pbjson_test_print(&req, 0);
	/* Some edits (inside strings, say) keep the input valid. */
	cr_assert_gt(
	        pbjson_test_mutate(seed, &clm__v1__request__descriptor, 20000),
	        0);
	free(seed);

	cr_assert_gt(
	        pbjson_test_mutate(
	                "{\"child\":{\"b\":\"AAEC\"},\"b\":\"/+8=\",\"i32\":-2,\"u64\":\"18\",\"flag\":true,\"nums\":[0,1],\"tags\":[\"t\"],\"f\":1.5,\"blobs\":[\"AA==\"],\"children\":{\"1\":{},\"-2\":{\"name\":\"n\"}},\"s64\":\"-1\",\"choiceN\":-5,\"optI\":0,\"boolMap\":{\"false\":\"f\",\"true\":\"\"}}",
	                &pbjson_test_node_desc, 20000),
	        0);
}
