/*
 * Tests for common/pbjson.c: printing, parsing, round trips, every error
 * class and hostile input.
 *
 * Most tests use the real clm.v1 messages. One hand-written descriptor,
 * pbjson.test.Node, covers what clm.proto lacks: bytes, bool, sint32,
 * fixed64, sfixed64, repeated scalars, a oneof of scalars, a proto2-style
 * optional with has_, a map with message values, a map with bool keys, a
 * repeated entry-shaped message that is not a map, and recursion (for the
 * depth limit).
 *
 * Built with AddressSanitizer, each test ends with a leak check that
 * aborts the test's process when memory leaked, so leaks fail the run.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "pbjson.h"

#if defined(__SANITIZE_ADDRESS__)
#define PBJSON_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PBJSON_TEST_LSAN 1
#endif
#endif

#ifdef PBJSON_TEST_LSAN
#include <sanitizer/lsan_interface.h>

static void
pbjson_test_fini(void)
{
	if (__lsan_do_recoverable_leak_check() != 0) {
		fputs("pbjson_test: memory leaked\n", stderr);
		abort();
	}
}
#else
static void
pbjson_test_fini(void)
{
}
#endif

TestSuite(pbjson, .fini = pbjson_test_fini);

/*
 * pbjson.test.Node, written out as protoc-c would generate it from:
 *
 *   message Node {
 *     Node child = 1; bytes b = 2; sint32 i32 = 3; fixed64 u64 = 4;
 *     bool flag = 5; repeated int32 nums = 6; repeated string tags = 7;
 *     float f = 8; repeated bytes blobs = 9; map<int32, Node> children = 10;
 *     sfixed64 s64 = 11; oneof choice { string choice_s = 12;
 *     int32 choice_n = 13; } optional int32 opt_i = 14; string name = 15;
 *     map<bool, string> bool_map = 16;
 *     repeated ChildrenEntry extra = 17;  // entry-shaped, not a map
 *   }
 */
typedef struct pbjson_test_node pbjson_test_node;

typedef struct {
	ProtobufCMessage base;
	int32_t key;
	pbjson_test_node *value;
} pbjson_test_children_entry;

typedef struct {
	ProtobufCMessage base;
	protobuf_c_boolean key;
	char *value;
} pbjson_test_bool_map_entry;

#define PBJSON_TEST_CHOICE_S 12
#define PBJSON_TEST_CHOICE_N 13

struct pbjson_test_node {
	ProtobufCMessage base;
	pbjson_test_node *child;
	ProtobufCBinaryData b;
	int32_t i32;
	uint64_t u64;
	protobuf_c_boolean flag;
	size_t n_nums;
	int32_t *nums;
	size_t n_tags;
	char **tags;
	float f;
	size_t n_blobs;
	ProtobufCBinaryData *blobs;
	size_t n_children;
	pbjson_test_children_entry **children;
	int64_t s64;
	uint32_t choice_case;
	union {
		char *s;
		int32_t n;
	} choice;
	protobuf_c_boolean has_opt_i;
	int32_t opt_i;
	char *name;
	size_t n_bool_map;
	pbjson_test_bool_map_entry **bool_map;
	size_t n_extra;
	pbjson_test_children_entry **extra;
};

static const ProtobufCMessageDescriptor pbjson_test_node_desc;
static const ProtobufCMessageDescriptor pbjson_test_children_desc;
static const ProtobufCMessageDescriptor pbjson_test_bool_map_desc;

static void
pbjson_test_node_init(ProtobufCMessage *m)
{
	pbjson_test_node *n = (pbjson_test_node *) m;

	memset(n, 0, sizeof(*n));
	n->base.descriptor = &pbjson_test_node_desc;
	n->name = (char *) protobuf_c_empty_string;
}

static void
pbjson_test_children_init(ProtobufCMessage *m)
{
	memset(m, 0, sizeof(pbjson_test_children_entry));
	m->descriptor = &pbjson_test_children_desc;
}

static void
pbjson_test_bool_map_init(ProtobufCMessage *m)
{
	pbjson_test_bool_map_entry *e = (pbjson_test_bool_map_entry *) m;

	memset(e, 0, sizeof(*e));
	e->base.descriptor = &pbjson_test_bool_map_desc;
	e->value = (char *) protobuf_c_empty_string;
}

#define PBJSON_TEST_FIELD(name, id, label, type, q, member, desc, def, flags) \
	{                                                                     \
		name, id, PROTOBUF_C_LABEL_##label, PROTOBUF_C_TYPE_##type,   \
		        q, offsetof(pbjson_test_node, member), desc, def,     \
		        flags, 0, NULL, NULL                                  \
	}
#define PBJSON_TEST_N(member) offsetof(pbjson_test_node, member)

static const ProtobufCFieldDescriptor pbjson_test_node_fields[17] = {
	PBJSON_TEST_FIELD("child", 1, NONE, MESSAGE, 0, child,
	        &pbjson_test_node_desc, NULL, 0),
	PBJSON_TEST_FIELD("b", 2, NONE, BYTES, 0, b, NULL, NULL, 0),
	PBJSON_TEST_FIELD("i32", 3, NONE, SINT32, 0, i32, NULL, NULL, 0),
	PBJSON_TEST_FIELD("u64", 4, NONE, FIXED64, 0, u64, NULL, NULL, 0),
	PBJSON_TEST_FIELD("flag", 5, NONE, BOOL, 0, flag, NULL, NULL, 0),
	PBJSON_TEST_FIELD("nums", 6, REPEATED, INT32, PBJSON_TEST_N(n_nums),
	        nums, NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED),
	PBJSON_TEST_FIELD("tags", 7, REPEATED, STRING, PBJSON_TEST_N(n_tags),
	        tags, NULL, NULL, 0),
	PBJSON_TEST_FIELD("f", 8, NONE, FLOAT, 0, f, NULL, NULL, 0),
	PBJSON_TEST_FIELD("blobs", 9, REPEATED, BYTES, PBJSON_TEST_N(n_blobs),
	        blobs, NULL, NULL, 0),
	PBJSON_TEST_FIELD("children", 10, REPEATED, MESSAGE,
	        PBJSON_TEST_N(n_children), children,
	        &pbjson_test_children_desc, NULL, 0),
	PBJSON_TEST_FIELD("s64", 11, NONE, SFIXED64, 0, s64, NULL, NULL, 0),
	PBJSON_TEST_FIELD("choice_s", 12, NONE, STRING,
	        PBJSON_TEST_N(choice_case), choice.s, NULL, NULL,
	        PROTOBUF_C_FIELD_FLAG_ONEOF),
	PBJSON_TEST_FIELD("choice_n", 13, NONE, INT32,
	        PBJSON_TEST_N(choice_case), choice.n, NULL, NULL,
	        PROTOBUF_C_FIELD_FLAG_ONEOF),
	PBJSON_TEST_FIELD("opt_i", 14, OPTIONAL, INT32,
	        PBJSON_TEST_N(has_opt_i), opt_i, NULL, NULL, 0),
	PBJSON_TEST_FIELD("name", 15, NONE, STRING, 0, name, NULL,
	        &protobuf_c_empty_string, 0),
	PBJSON_TEST_FIELD("bool_map", 16, REPEATED, MESSAGE,
	        PBJSON_TEST_N(n_bool_map), bool_map,
	        &pbjson_test_bool_map_desc, NULL, 0),
	PBJSON_TEST_FIELD("extra", 17, REPEATED, MESSAGE,
	        PBJSON_TEST_N(n_extra), extra, &pbjson_test_children_desc,
	        NULL, 0),
};

/* Field indices in name order, as protoc-c sorts them. */
static const unsigned pbjson_test_node_by_name[17] = {
	1,  /* b */
	8,  /* blobs */
	15, /* bool_map */
	0,  /* child */
	9,  /* children */
	12, /* choice_n */
	11, /* choice_s */
	16, /* extra */
	7,  /* f */
	4,  /* flag */
	2,  /* i32 */
	14, /* name */
	5,  /* nums */
	13, /* opt_i */
	10, /* s64 */
	6,  /* tags */
	3,  /* u64 */
};

static const ProtobufCIntRange pbjson_test_node_ranges[2]
        = { { 1, 0 }, { 0, 17 } };

static const ProtobufCMessageDescriptor pbjson_test_node_desc
        = { PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "pbjson.test.Node", "Node",
	          "Pbjson__Test__Node", "pbjson.test",
	          sizeof(pbjson_test_node), 17, pbjson_test_node_fields,
	          pbjson_test_node_by_name, 1, pbjson_test_node_ranges,
	          pbjson_test_node_init, NULL, NULL, NULL };

static const ProtobufCFieldDescriptor pbjson_test_children_fields[2] = {
	{ "key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0,
	        offsetof(pbjson_test_children_entry, key), NULL, NULL, 0, 0,
	        NULL, NULL },
	{ "value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0,
	        offsetof(pbjson_test_children_entry, value),
	        &pbjson_test_node_desc, NULL, 0, 0, NULL, NULL },
};

static const ProtobufCFieldDescriptor pbjson_test_bool_map_fields[2] = {
	{ "key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BOOL, 0,
	        offsetof(pbjson_test_bool_map_entry, key), NULL, NULL, 0, 0,
	        NULL, NULL },
	{ "value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
	        offsetof(pbjson_test_bool_map_entry, value), NULL,
	        &protobuf_c_empty_string, 0, 0, NULL, NULL },
};

static const unsigned pbjson_test_entry_by_name[2] = { 0, 1 };
static const ProtobufCIntRange pbjson_test_entry_ranges[2]
        = { { 1, 0 }, { 0, 2 } };

static const ProtobufCMessageDescriptor pbjson_test_children_desc = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "pbjson.test.Node.ChildrenEntry",
	"ChildrenEntry", "Pbjson__Test__Node__ChildrenEntry", "pbjson.test",
	sizeof(pbjson_test_children_entry), 2, pbjson_test_children_fields,
	pbjson_test_entry_by_name, 1, pbjson_test_entry_ranges,
	pbjson_test_children_init, NULL, NULL, NULL
};

static const ProtobufCMessageDescriptor pbjson_test_bool_map_desc = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "pbjson.test.Node.BoolMapEntry",
	"BoolMapEntry", "Pbjson__Test__Node__BoolMapEntry", "pbjson.test",
	sizeof(pbjson_test_bool_map_entry), 2, pbjson_test_bool_map_fields,
	pbjson_test_entry_by_name, 1, pbjson_test_entry_ranges,
	pbjson_test_bool_map_init, NULL, NULL, NULL
};

/*
 * Helpers.
 */

static char *
pbjson_test_print(const void *msg, unsigned flags)
{
	char *out = NULL;

	cr_assert_eq(pbjson_print(msg, flags, &out), 0);
	cr_assert_not_null(out);
	return out;
}

/* pbjson_test_expect_print checks msg's compact JSON text. */
static void
pbjson_test_expect_print(const void *msg, const char *want)
{
	char *got = pbjson_test_print(msg, 0);

	cr_assert_str_eq(got, want);
	free(got);
}

/* pbjson_test_parse parses a NUL-terminated text that must be valid. */
static void *
pbjson_test_parse(const char *json, const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *msg = NULL;
	char err[256] = "";

	cr_assert_eq(
	        pbjson_parse(json, strlen(json), desc, &msg, err, sizeof(err)),
	        0, "parse of %s failed: %s", json, err);
	cr_assert_not_null(msg);
	cr_assert_eq(msg->descriptor, desc);
	return msg;
}

/*
 * pbjson_test_fail parses text[0..len) from a buffer of exactly len bytes
 * (so AddressSanitizer catches any read past the end), expects failure and
 * returns the error message (static storage). *out must stay untouched.
 */
static const char *
pbjson_test_fail_n(
        const char *text, size_t len, const ProtobufCMessageDescriptor *desc)
{
	static char err[256];
	ProtobufCMessage *sentinel = (ProtobufCMessage *) &err;
	ProtobufCMessage *msg = sentinel;
	char *copy = malloc(len > 0 ? len : 1);

	cr_assert_not_null(copy);
	memcpy(copy, text, len);
	memset(err, 'x', sizeof(err));
	cr_assert_eq(pbjson_parse(copy, len, desc, &msg, err, sizeof(err)), -1,
	        "parse of %.*s unexpectedly succeeded", (int) len, text);
	cr_assert_eq(msg, sentinel, "*out written on failure");
	cr_assert_neq(err[0], '\0');
	cr_assert_not_null(memchr(err, '\0', sizeof(err)));
	cr_assert_null(strchr(err, '\n'));
	free(copy);
	return err;
}

static void
pbjson_test_fail(const char *json, const ProtobufCMessageDescriptor *desc,
        const char *want)
{
	const char *err = pbjson_test_fail_n(json, strlen(json), desc);

	cr_assert_str_eq(err, want, "input %s", json);
}

/* pbjson_test_same checks that a and b serialize to the same bytes. */
static void
pbjson_test_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	size_t na = protobuf_c_message_get_packed_size(a);
	size_t nb = protobuf_c_message_get_packed_size(b);
	uint8_t *ba = malloc(na + 1), *bb = malloc(nb + 1);

	cr_assert(ba != NULL && bb != NULL);
	cr_assert_eq(protobuf_c_message_pack(a, ba), na);
	cr_assert_eq(protobuf_c_message_pack(b, bb), nb);
	cr_assert_eq(na, nb, "packed sizes differ: %zu, %zu", na, nb);
	cr_assert(memcmp(ba, bb, na) == 0, "packed bytes differ");
	free(ba);
	free(bb);
}

/*
 * pbjson_test_round_trip checks parse(print(msg)) == msg, compactly and
 * pretty, and that printing the copy gives the same text. Map entries keep
 * their order through print and parse, so the packed bytes compare equal.
 */
static void
pbjson_test_round_trip(const void *msg)
{
	unsigned flags[2] = { 0, PBJSON_PRETTY };
	size_t i;

	for (i = 0; i < 2; i++) {
		const ProtobufCMessage *m = msg;
		char *j1 = pbjson_test_print(m, flags[i]), *j2;
		ProtobufCMessage *copy = pbjson_test_parse(j1, m->descriptor);

		pbjson_test_same(m, copy);
		j2 = pbjson_test_print(copy, flags[i]);
		cr_assert_str_eq(j1, j2);
		free(j1);
		free(j2);
		protobuf_c_message_free_unpacked(copy, NULL);
	}
}

/*
 * A Touchpoint with every field set, and its JSON. Fields point at static
 * or caller storage; nothing is allocated.
 */
struct pbjson_test_tp {
	Clm__V1__Touchpoint tp;
	Clm__V1__GeoPoint geo;
	Clm__V1__Touchpoint__PropertiesEntry e1, e2;
	Clm__V1__Touchpoint__PropertiesEntry *props[2];
};

static void
pbjson_test_tp_init(struct pbjson_test_tp *t)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__GeoPoint geo = CLM__V1__GEO_POINT__INIT;
	Clm__V1__Touchpoint__PropertiesEntry e
	        = CLM__V1__TOUCHPOINT__PROPERTIES_ENTRY__INIT;

	t->tp = tp;
	t->geo = geo;
	t->e1 = e;
	t->e2 = e;
	t->geo.lat = 52.52;
	t->geo.lon = 13.405;
	t->e1.key = "kind";
	t->e1.value = "UPSELL";
	t->e2.key = "note";
	t->e2.value = "say \"hi\"";
	t->props[0] = &t->e1;
	t->props[1] = &t->e2;
	t->tp.event_id = "e1";
	t->tp.customer_id = "c1";
	t->tp.anonymous_id = "a1";
	t->tp.type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	t->tp.channel = CLM__V1__CHANNEL__EMAIL;
	t->tp.occurred_at_ms = 1700000000123;
	t->tp.item_id = "sku-1";
	t->tp.value = 19.99;
	t->tp.currency = "EUR";
	t->tp.duration_s = 42;
	t->tp.sentiment = 0.5f;
	t->tp.location = &t->geo;
	t->tp.campaign = "spring";
	t->tp.n_properties = 2;
	t->tp.properties = t->props;
}

#define PBJSON_TEST_TP_JSON                                                 \
	"{\"eventId\":\"e1\",\"customerId\":\"c1\",\"anonymousId\":\"a1\"," \
	"\"type\":\"PURCHASE\",\"channel\":\"EMAIL\","                      \
	"\"occurredAtMs\":\"1700000000123\",\"itemId\":\"sku-1\","          \
	"\"value\":19.99,\"currency\":\"EUR\",\"durationS\":42,"            \
	"\"sentiment\":0.5,\"location\":{\"lat\":52.52,\"lon\":13.405},"    \
	"\"campaign\":\"spring\","                                          \
	"\"properties\":{\"kind\":\"UPSELL\",\"note\":\"say \\\"hi\\\"\"}}"

/*
 * Printing.
 */

Test(pbjson, print_touchpoint_every_kind)
{
	struct pbjson_test_tp t;

	pbjson_test_tp_init(&t);
	pbjson_test_expect_print(&t.tp, PBJSON_TEST_TP_JSON);
}

Test(pbjson, print_pretty)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__TrackRequest track = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__Touchpoint__PropertiesEntry e
	        = CLM__V1__TOUCHPOINT__PROPERTIES_ENTRY__INIT;
	Clm__V1__Touchpoint__PropertiesEntry *props[1] = { &e };
	Clm__V1__Touchpoint *tps[2] = { &tp, &tp };
	char *got;

	e.key = "k";
	e.value = "v";
	tp.event_id = "e1";
	tp.n_properties = 1;
	tp.properties = props;
	track.n_touchpoints = 2;
	track.touchpoints = tps;
	req.request_id = "r1";
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &track;
	got = pbjson_test_print(&req, PBJSON_PRETTY);
	cr_assert_str_eq(got,
	        "{\n"
	        "  \"requestId\": \"r1\",\n"
	        "  \"track\": {\n"
	        "    \"touchpoints\": [\n"
	        "      {\n"
	        "        \"eventId\": \"e1\",\n"
	        "        \"properties\": {\n"
	        "          \"k\": \"v\"\n"
	        "        }\n"
	        "      },\n"
	        "      {\n"
	        "        \"eventId\": \"e1\",\n"
	        "        \"properties\": {\n"
	        "          \"k\": \"v\"\n"
	        "        }\n"
	        "      }\n"
	        "    ]\n"
	        "  }\n"
	        "}");
	free(got);

	got = pbjson_test_print(&e, PBJSON_PRETTY);
	cr_assert_str_eq(got, "{\n  \"key\": \"k\",\n  \"value\": \"v\"\n}");
	free(got);
}

Test(pbjson, print_omits_defaults)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__Customer c = CLM__V1__CUSTOMER__INIT;
	Clm__V1__GeoPoint geo = CLM__V1__GEO_POINT__INIT;
	char *got;

	pbjson_test_expect_print(&tp, "{}");
	got = pbjson_test_print(&tp, PBJSON_PRETTY);
	cr_assert_str_eq(got, "{}");
	free(got);
	pbjson_test_expect_print(&c, "{}");

	/* Explicit zeros and empty strings are defaults too. */
	tp.event_id = "";
	tp.value = 0.0;
	tp.sentiment = 0.0f;
	tp.n_properties = 0;
	pbjson_test_expect_print(&tp, "{}");

	/* A set sub-message prints even when empty; its zeros do not. */
	tp.location = &geo;
	pbjson_test_expect_print(&tp, "{\"location\":{}}");

	/* Negative zero differs from the default in its bits. */
	geo.lat = -0.0;
	pbjson_test_expect_print(&tp, "{\"location\":{\"lat\":-0}}");
}

Test(pbjson, print_oneof)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__TrackRequest track = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__Touchpoint *tps[1] = { &tp };
	Clm__V1__StatusRequest st = CLM__V1__STATUS_REQUEST__INIT;
	Clm__V1__Response resp = CLM__V1__RESPONSE__INIT;
	Clm__V1__Status status = CLM__V1__STATUS__INIT;
	Clm__V1__AssignReply assign = CLM__V1__ASSIGN_REPLY__INIT;

	tp.event_id = "e1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SIGNUP;
	track.n_touchpoints = 1;
	track.touchpoints = tps;
	req.request_id = "r1";
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &track;
	pbjson_test_expect_print(&req,
	        "{\"requestId\":\"r1\",\"track\":{\"touchpoints\":[{\"eventId\":\"e1\",\"type\":\"SIGNUP\"}]}}");

	/* The selected member prints even when it is empty. */
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &st;
	pbjson_test_expect_print(
	        &req, "{\"requestId\":\"r1\",\"serverStatus\":{}}");

	/* Without a case, nothing of the oneof prints. */
	req.call_case = CLM__V1__REQUEST__CALL__NOT_SET;
	pbjson_test_expect_print(&req, "{\"requestId\":\"r1\"}");

	status.code = CLM__V1__CODE__NOT_FOUND;
	status.message = "no such experiment 'x'";
	assign.variant = "b";
	assign.first_exposure = 1;
	resp.request_id = "r2";
	resp.status = &status;
	resp.result_case = CLM__V1__RESPONSE__RESULT_ASSIGN;
	resp.assign = &assign;
	pbjson_test_expect_print(&resp,
	        "{\"requestId\":\"r2\",\"status\":{\"code\":\"NOT_FOUND\",\"message\":\"no such experiment 'x'\"},\"assign\":{\"variant\":\"b\",\"firstExposure\":true}}");
}

Test(pbjson, print_enums_and_integers)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	Clm__V1__Customer c = CLM__V1__CUSTOMER__INIT;
	Clm__V1__StatusReply st = CLM__V1__STATUS_REPLY__INIT;
	Clm__V1__RiskReason reasons[3] = { CLM__V1__RISK_REASON__INACTIVE,
		CLM__V1__RISK_REASON__RECENT_REFUND,
		(Clm__V1__RiskReason) 77 };

	/* A number with no name prints as the number. */
	tp.type = (Clm__V1__TouchpointType) 99;
	tp.duration_s = UINT32_MAX;
	pbjson_test_expect_print(
	        &tp, "{\"type\":99,\"durationS\":4294967295}");

	c.first_seen_ms = INT64_MIN;
	c.last_seen_ms = INT64_MAX;
	c.n_risk_reasons = 3;
	c.risk_reasons = reasons;
	pbjson_test_expect_print(&c,
	        "{\"riskReasons\":[\"INACTIVE\",\"RECENT_REFUND\",77],\"firstSeenMs\":\"-9223372036854775808\",\"lastSeenMs\":\"9223372036854775807\"}");

	st.db_bytes = UINT64_MAX;
	st.uptime_s = -5;
	pbjson_test_expect_print(&st,
	        "{\"uptimeS\":\"-5\",\"dbBytes\":\"18446744073709551615\"}");
}

Test(pbjson, print_floating_point)
{
	Clm__V1__GeoPoint geo = CLM__V1__GEO_POINT__INIT;
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;

	geo.lat = 0.1;
	geo.lon = 0.1 + 0.2;
	pbjson_test_expect_print(
	        &geo, "{\"lat\":0.1,\"lon\":0.30000000000000004}");
	geo.lat = 1e300;
	geo.lon = -2.5e-300;
	pbjson_test_expect_print(&geo, "{\"lat\":1e+300,\"lon\":-2.5e-300}");
	geo.lat = NAN;
	geo.lon = -INFINITY;
	pbjson_test_expect_print(
	        &geo, "{\"lat\":\"NaN\",\"lon\":\"-Infinity\"}");
	geo.lat = INFINITY;
	geo.lon = DBL_MAX;
	pbjson_test_expect_print(&geo,
	        "{\"lat\":\"Infinity\",\"lon\":1.7976931348623157e+308}");

	/* A float prints with float precision, not as the double it widens to.
	 */
	tp.sentiment = 0.1f;
	pbjson_test_expect_print(&tp, "{\"sentiment\":0.1}");
	tp.sentiment = -0.33333334f;
	pbjson_test_expect_print(&tp, "{\"sentiment\":-0.333333343}");
	tp.sentiment = FLT_MAX;
	pbjson_test_expect_print(&tp, "{\"sentiment\":3.40282347e+38}");
}

Test(pbjson, print_string_escapes)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;

	tp.event_id = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f end";
	pbjson_test_expect_print(&tp,
	        "{\"eventId\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f end\"}");

	/* Valid UTF-8 passes through unchanged. */
	tp.event_id = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	pbjson_test_expect_print(&tp,
	        "{\"eventId\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}");

	/* Invalid UTF-8 becomes U+FFFD, one per bad byte. */
	tp.event_id = "a\xff"
	              "b\xc3"
	              "c\xed\xa0\x80";
	pbjson_test_expect_print(&tp,
	        "{\"eventId\":\"a\xef\xbf\xbd"
	        "b\xef\xbf\xbd"
	        "c\xef\xbf\xbd"
	        "\xef\xbf\xbd\xef\xbf\xbd\"}");
}

Test(pbjson, print_node_kinds)
{
	pbjson_test_node n, child, grandchild;
	pbjson_test_children_entry ce, ce2;
	pbjson_test_children_entry *ces[1] = { &ce }, *extra[1] = { &ce2 };
	pbjson_test_bool_map_entry be1, be2;
	pbjson_test_bool_map_entry *bes[2] = { &be1, &be2 };
	int32_t nums[3] = { 1, -2, INT32_MIN };
	char *tags[2] = { "x", "" };
	uint8_t bytes[5] = { 0, 1, 2, 0xff, 0xfe };
	ProtobufCBinaryData blobs[3]
	        = { { 0, NULL }, { 1, bytes }, { 2, bytes } };

	protobuf_c_message_init(&pbjson_test_node_desc, &n);
	protobuf_c_message_init(&pbjson_test_node_desc, &child);
	protobuf_c_message_init(&pbjson_test_node_desc, &grandchild);
	protobuf_c_message_init(&pbjson_test_children_desc, &ce);
	protobuf_c_message_init(&pbjson_test_children_desc, &ce2);
	protobuf_c_message_init(&pbjson_test_bool_map_desc, &be1);
	protobuf_c_message_init(&pbjson_test_bool_map_desc, &be2);

	grandchild.flag = 1;
	child.child = &grandchild;
	ce.key = -7;
	ce.value = &child;
	ce2.key = 3;
	be1.key = 1;
	be1.value = "yes";
	be2.key = 0;

	n.b.len = 5;
	n.b.data = bytes;
	n.i32 = -1;
	n.u64 = UINT64_MAX;
	n.flag = 1;
	n.n_nums = 3;
	n.nums = nums;
	n.n_tags = 2;
	n.tags = tags;
	n.f = 1.5f;
	n.n_blobs = 3;
	n.blobs = blobs;
	n.n_children = 1;
	n.children = ces;
	n.s64 = INT64_MIN;
	n.choice_case = PBJSON_TEST_CHOICE_S;
	n.choice.s = "";
	n.has_opt_i = 1;
	n.opt_i = 0;
	n.n_bool_map = 2;
	n.bool_map = bes;
	n.n_extra = 1;
	n.extra = extra;

	/*
	 * The selected oneof member and the has_ field print at their
	 * defaults; map values print at theirs; an entry-shaped type that
	 * is not named after its field is an ordinary repeated message.
	 */
	pbjson_test_expect_print(&n,
	        "{\"b\":\"AAEC//4=\",\"i32\":-1,\"u64\":\"18446744073709551615\",\"flag\":true,\"nums\":[1,-2,-2147483648],\"tags\":[\"x\",\"\"],\"f\":1.5,\"blobs\":[\"\",\"AA==\",\"AAE=\"],\"children\":{\"-7\":{\"child\":{\"flag\":true}}},\"s64\":\"-9223372036854775808\",\"choiceS\":\"\",\"optI\":0,\"boolMap\":{\"true\":\"yes\",\"false\":\"\"},\"extra\":[{\"key\":3}]}");

	n.choice_case = PBJSON_TEST_CHOICE_N;
	n.choice.n = 0;
	n.has_opt_i = 0;
	ce.value = NULL;
	n.n_bool_map = 0;
	n.n_extra = 0;
	n.n_blobs = 0;
	n.n_tags = 0;
	n.n_nums = 0;
	n.b.len = 0;
	n.i32 = 0;
	n.u64 = 0;
	n.s64 = 0;
	n.f = 0;
	n.flag = 0;
	pbjson_test_expect_print(
	        &n, "{\"children\":{\"-7\":{}},\"choiceN\":0}");

	/*
	 * An unset map value prints as {}, which reads back as an empty
	 * message: equal in meaning, not in bytes, so round-trip a set one.
	 */
	ce.value = &child;
	pbjson_test_round_trip(&n);
}

/*
 * Round trips.
 */

Test(pbjson, round_trip_touchpoint)
{
	struct pbjson_test_tp t;
	Clm__V1__Touchpoint *p;

	pbjson_test_tp_init(&t);
	pbjson_test_round_trip(&t.tp);

	/* Extreme values survive too. */
	t.tp.occurred_at_ms = INT64_MIN;
	t.tp.value = 0.1 + 0.2;
	t.tp.sentiment = -FLT_MAX;
	t.tp.duration_s = UINT32_MAX;
	t.geo.lat = DBL_MIN / 4; /* subnormal */
	t.geo.lon = -DBL_MAX;
	t.tp.event_id = "\xf0\x9f\x98\x80 \"\\\x01";
	pbjson_test_round_trip(&t.tp);

	/* The parsed message has protobuf-c's layout. */
	p = pbjson_test_parse(
	        PBJSON_TEST_TP_JSON, &clm__v1__touchpoint__descriptor);
	cr_assert_str_eq(p->event_id, "e1");
	cr_assert_eq(p->type, CLM__V1__TOUCHPOINT_TYPE__PURCHASE);
	cr_assert_eq(p->occurred_at_ms, 1700000000123);
	cr_assert_eq(p->value, 19.99);
	cr_assert_eq(p->sentiment, 0.5f);
	cr_assert_eq(p->duration_s, 42);
	cr_assert_eq(p->location->lat, 52.52);
	cr_assert_eq(p->n_properties, 2);
	cr_assert_str_eq(p->properties[1]->key, "note");
	cr_assert_str_eq(p->properties[1]->value, "say \"hi\"");
	cr_assert_eq(p->properties[0]->base.descriptor,
	        &clm__v1__touchpoint__properties_entry__descriptor);
	clm__v1__touchpoint__free_unpacked(p, NULL);
}

Test(pbjson, round_trip_request_response)
{
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	Clm__V1__IdentifyRequest id = CLM__V1__IDENTIFY_REQUEST__INIT;
	Clm__V1__IdentifyRequest__TraitsEntry t1
	        = CLM__V1__IDENTIFY_REQUEST__TRAITS_ENTRY__INIT;
	Clm__V1__IdentifyRequest__TraitsEntry t2
	        = CLM__V1__IDENTIFY_REQUEST__TRAITS_ENTRY__INIT;
	Clm__V1__IdentifyRequest__TraitsEntry *traits[2] = { &t2, &t1 };
	Clm__V1__Response resp = CLM__V1__RESPONSE__INIT;
	Clm__V1__Status status = CLM__V1__STATUS__INIT;
	Clm__V1__FieldViolation fv = CLM__V1__FIELD_VIOLATION__INIT;
	Clm__V1__FieldViolation *fvs[2] = { &fv, &fv };
	Clm__V1__Customer c = CLM__V1__CUSTOMER__INIT;
	Clm__V1__StageEntry se = CLM__V1__STAGE_ENTRY__INIT;
	Clm__V1__StageEntry *ses[2] = { &se, &se };
	Clm__V1__TypeCount tc = CLM__V1__TYPE_COUNT__INIT;
	Clm__V1__TypeCount *tcs[1] = { &tc };
	Clm__V1__RiskReason reasons[2] = { CLM__V1__RISK_REASON__INACTIVE,
		CLM__V1__RISK_REASON__SLOW_ONBOARDING };
	char *cart[3] = { "a", "b", "" };
	Clm__V1__MetricsReply m = CLM__V1__METRICS_REPLY__INIT;
	Clm__V1__CohortReply cr = CLM__V1__COHORT_REPLY__INIT;
	Clm__V1__CohortRow row = CLM__V1__COHORT_ROW__INIT;
	Clm__V1__CohortRow *rows[1] = { &row };
	double retained[4] = { 1, 0.5, 0.25, 0 };
	Clm__V1__SentimentMetric sm = CLM__V1__SENTIMENT_METRIC__INIT;

	t1.key = "plan";
	t1.value = "pro";
	t2.key = "zz";
	id.anonymous_id = "anon";
	id.customer_id = "c1";
	id.n_traits = 2;
	id.traits = traits;
	req.request_id = "r1";
	req.auth_token = "tok";
	req.deadline_ms = 250;
	req.call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
	req.identify = &id;
	pbjson_test_round_trip(&req);

	fv.field = "touchpoints[0].type";
	fv.description = "must be set";
	status.code = CLM__V1__CODE__INVALID_ARGUMENT;
	status.n_violations = 2;
	status.violations = fvs;
	se.stage = CLM__V1__STAGE__RETENTION;
	se.entered_at_ms = 1;
	tc.type = CLM__V1__TOUCHPOINT_TYPE__APP_OPEN;
	tc.count = UINT64_MAX;
	c.customer_id = "c1";
	c.stage = CLM__V1__STAGE__ADVOCACY;
	c.health = CLM__V1__HEALTH__AT_RISK;
	c.churn_risk = 0.73;
	c.n_risk_reasons = 2;
	c.risk_reasons = reasons;
	c.n_stage_history = 2;
	c.stage_history = ses;
	c.n_cart_items = 3;
	c.cart_items = cart;
	c.n_touch_counts = 1;
	c.touch_counts = tcs;
	c.n_anonymous_ids = 1;
	c.anonymous_ids = cart;
	c.revenue = 1234.5;
	resp.request_id = "r1";
	resp.status = &status;
	resp.result_case = CLM__V1__RESPONSE__RESULT_CUSTOMER;
	resp.customer = &c;
	pbjson_test_round_trip(&resp);

	m.retention_rate = 0.9;
	m.orders = 12345678901234ULL;
	m.sentiment = &sm;
	sm.negative_share = 1.0 / 3.0;
	pbjson_test_round_trip(&m);

	row.cohort_start_ms = -1;
	row.size = 3;
	row.n_retained = 4;
	row.retained = retained;
	cr.n_rows = 1;
	cr.rows = rows;
	cr.granularity = CLM__V1__GRANULARITY__WEEK;
	pbjson_test_round_trip(&cr);
}

Test(pbjson, round_trip_node)
{
	static const char json[]
	        = "{\"child\":{\"child\":{\"name\":\"deep\"}},\"b\":\"/+8=\",\"i32\":-2147483648,\"u64\":\"18446744073709551615\",\"flag\":true,\"nums\":[0,1,2147483647],\"tags\":[\"\",\"t\"],\"f\":\"NaN\",\"blobs\":[\"\",\"AA==\"],\"children\":{\"1\":{},\"-2\":{\"name\":\"n\"}},\"s64\":\"-1\",\"choiceN\":-5,\"optI\":0,\"name\":\"x\",\"boolMap\":{\"false\":\"f\",\"true\":\"\"},\"extra\":[{\"key\":1,\"value\":{}}]}";
	pbjson_test_node *n = pbjson_test_parse(json, &pbjson_test_node_desc);
	char *got;

	cr_assert_eq(n->choice_case, PBJSON_TEST_CHOICE_N);
	cr_assert_eq(n->choice.n, -5);
	cr_assert(n->has_opt_i);
	cr_assert(isnan(n->f));
	cr_assert_eq(n->b.len, 2);
	cr_assert_eq(n->b.data[0], 0xff);
	cr_assert_eq(n->n_children, 2);
	cr_assert_eq(n->children[1]->key, -2);
	cr_assert_str_eq(n->children[1]->value->name, "n");
	cr_assert_eq(n->n_bool_map, 2);
	cr_assert_eq(n->bool_map[0]->key, 0);
	cr_assert_eq(n->blobs[0].len, 0);
	got = pbjson_test_print(n, 0);
	cr_assert_str_eq(got, json);
	free(got);
	pbjson_test_round_trip(n);
	protobuf_c_message_free_unpacked(&n->base, NULL);
}

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
