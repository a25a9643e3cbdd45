/*
 * Tests for common/pbjson.c and pbjson_print.c: printing, and round trips
 * through pbjson_parse. The descriptors and helpers are pbjson_fixture's.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "clm/v1/clm.pb-c.h"
#include "pbjson.h"
#include "pbjson_fixture.h"

TestSuite(pbjson, .fini = pbjson_test_fini);

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
