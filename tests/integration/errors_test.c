/*
 * Bad input never stops clmd from serving (docs/api.md "Requests and
 * replies" and "Limits"; docs/operations.md "Securing it" and "Durability
 * and failures"): undecodable bytes, missing or unknown calls, invalid
 * touchpoints, oversized messages, and start-up refusals.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_run.h"
#include "harness.h"

#define DAY_MS (24 * 3600 * 1000LL)
/* 2026-01-10T00:00:00Z */
#define T0 1768003200000LL
/* 2000-01-01T00:00:00Z, the earliest accepted event time */
#define Y2K_MS 946684800000LL

HARNESS_SUITE(errors, 60);

static void
start_server(const char *const *extra)
{
	int rc = clmd_start(&srv, NULL, extra);
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", srv.log_path);
}

static clm_conn *
connect_to(const struct clmd_proc *p)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(p->url, 5000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", p->url, clm_open_error());
	return c;
}

static int64_t
wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Asserts clmd still answers ServerStatus and GetCustomer on a new
 * connection. */
static void
assert_serving(void)
{
	clm_conn *c = connect_to(&srv);
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "status after bad input: %s (%s)",
	        clm_errname(e), clm_last_error(c));
	cr_assert_not_null(resp->server_status);
	clm_response_free(resp);
	e = clm_get_customer(c, "still-there?", 0, &resp);
	cr_assert(e == CLM_OK || e == CLM_NOT_FOUND,
	        "get_customer after bad input: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	clm_response_free(resp);
	clm_close(c);
}

/* A raw REQ socket dialled to clmd, for bytes libclm would never send. */
static nng_socket
raw_open(int timeout_ms)
{
	nng_socket s;
	int rv = nng_req0_open(&s);
	cr_assert_eq(rv, 0, "nng_req0_open: %s", nng_strerror(rv));
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	rv = nng_dial(s, srv.url, NULL, 0);
	cr_assert_eq(rv, 0, "nng_dial %s: %s", srv.url, nng_strerror(rv));
	return s;
}

/*
 * Sends len raw bytes and waits for the reply. Returns 0 and the decoded
 * Response in *out (asserting it decodes), or the nng error.
 */
static int
raw_call(nng_socket s, const void *buf, size_t len, Clm__V1__Response **out)
{
	*out = NULL;
	int rv = nng_send(s, (void *) buf, len, 0);
	if (rv != 0) {
		return rv;
	}
	nng_msg *msg;
	rv = nng_recvmsg(s, &msg, 0);
	if (rv != 0) {
		return rv;
	}
	*out = clm__v1__response__unpack(
	        NULL, nng_msg_len(msg), nng_msg_body(msg));
	size_t n = nng_msg_len(msg);
	nng_msg_free(msg);
	cr_assert_not_null(*out, "the %zu-byte reply is not a Response", n);
	return 0;
}

/* Appends a protobuf varint. */
static size_t
put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t) v;
	return n;
}

/* Appends field `field` as length-delimited bytes. */
static size_t
put_bytes(uint8_t *p, uint32_t field, const void *data, size_t len)
{
	size_t n = put_varint(p, ((uint64_t) field << 3) | 2);
	n += put_varint(p + n, len);
	if (len > 0) {
		memcpy(p + n, data, len);
	}
	return n + len;
}

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The first violation whose field starts with prefix, or NULL. */
static const Clm__V1__FieldViolation *
find_violation(const Clm__V1__Status *st, const char *prefix)
{
	for (size_t i = 0; st != NULL && i < st->n_violations; i++) {
		if (has_prefix(st->violations[i]->field, prefix)) {
			return st->violations[i];
		}
	}
	return NULL;
}

static void
fmt_violations(const Clm__V1__Status *st, char *buf, size_t n)
{
	buf[0] = '\0';
	for (size_t i = 0; st != NULL && i < st->n_violations; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, n - l, "[%s: %s] ", st->violations[i]->field,
		        st->violations[i]->description);
	}
}

static void
tp_init(Clm__V1__Touchpoint *tp, const char *customer)
{
	clm__v1__touchpoint__init(tp);
	tp->customer_id = (char *) customer;
	tp->type = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
	tp->channel = CLM__V1__CHANNEL__DIRECT;
	tp->occurred_at_ms = T0;
}

Test(errors, garbage_bytes_get_invalid_argument)
{
	start_server(NULL);
	nng_socket s = raw_open(5000);
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
	} cases[] = {
		{ "varint that never ends",
		        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
		        12 },
		{ "wire type 7", "\x0f\x01\x02\x03", 4 },
		{ "truncated length-delimited field",
		        "\x0a\x10"
		        "abc",
		        5 },
		{ "field number 0", "\x02\x00", 2 },
		{ "text", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Clm__V1__Response *resp;
		int rv = raw_call(s, cases[i].bytes, cases[i].len, &resp);
		cr_assert_eq(rv, 0, "%s: no reply: %s", cases[i].what,
		        nng_strerror(rv));
		cr_assert_not_null(
		        resp->status, "%s: no status", cases[i].what);
		cr_expect_eq(resp->status->code,
		        CLM__V1__CODE__INVALID_ARGUMENT, "%s: code %d",
		        cases[i].what, resp->status->code);
		cr_expect_str_eq(resp->request_id, "", "%s: request_id '%s'",
		        cases[i].what, resp->request_id);
		cr_expect_eq(
		        resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
		cr_expect_neq(resp->status->message[0], '\0',
		        "%s: empty message", cases[i].what);
		clm__v1__response__free_unpacked(resp, NULL);
	}
	/* The same connection still works for a good request. */
	uint8_t buf[64];
	size_t n = put_bytes(buf, 1, "after-garbage", 13);
	n += put_bytes(buf + n, 30, NULL, 0);
	Clm__V1__Response *resp;
	cr_assert_eq(raw_call(s, buf, n, &resp), 0);
	cr_expect_eq(resp->status->code, CLM__V1__CODE__OK);
	cr_expect_str_eq(resp->request_id, "after-garbage");
	cr_expect_eq(
	        resp->result_case, CLM__V1__RESPONSE__RESULT_SERVER_STATUS);
	clm__v1__response__free_unpacked(resp, NULL);
	nng_close(s);
	assert_serving();
}

Test(errors, no_call_or_unknown_call_is_unimplemented)
{
	start_server(NULL);
	nng_socket s = raw_open(5000);
	Clm__V1__Response *resp;

	/* An empty message is a Request with nothing set. */
	cr_assert_eq(raw_call(s, "", 0, &resp), 0);
	cr_expect_eq(resp->status->code, CLM__V1__CODE__UNIMPLEMENTED,
	        "code %d", resp->status->code);
	clm__v1__response__free_unpacked(resp, NULL);

	/* A request_id and no call: the id is echoed. */
	clm_conn *c = connect_to(&srv);
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "no-call-1";
	cr_assert_eq(clm_call(c, &req, &resp), CLM_OK);
	cr_expect_eq(resp->status->code, CLM__V1__CODE__UNIMPLEMENTED,
	        "code %d", resp->status->code);
	cr_expect_str_eq(resp->request_id, "no-call-1");
	cr_expect_eq(resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	clm_response_free(resp);
	clm_close(c);

	/* A call from a newer API (field 99 of the oneof's range). */
	uint8_t buf[64];
	size_t n = put_bytes(buf, 1, "future-call", 11);
	n += put_bytes(buf + n, 99, NULL, 0);
	cr_assert_eq(raw_call(s, buf, n, &resp), 0);
	cr_expect_eq(resp->status->code, CLM__V1__CODE__UNIMPLEMENTED,
	        "code %d", resp->status->code);
	cr_expect_str_eq(resp->request_id, "future-call");
	clm__v1__response__free_unpacked(resp, NULL);
	nng_close(s);
	assert_serving();
}

Test(errors, call_not_built_yet_is_unimplemented)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	Clm__V1__MetricsRequest mr = CLM__V1__METRICS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "metrics-1";
	req.call_case = CLM__V1__REQUEST__CALL_METRICS;
	req.metrics = &mr;
	Clm__V1__Response *resp;
	cr_assert_eq(
	        clm_call(c, &req, &resp), CLM_OK, "%s", clm_last_error(c));
	cr_assert_not_null(resp->status);
	cr_expect_str_eq(resp->request_id, "metrics-1");
	/* Once metrics is built, it answers with its result instead. */
	if (resp->status->code == CLM__V1__CODE__OK) {
		cr_expect_eq(
		        resp->result_case, CLM__V1__RESPONSE__RESULT_METRICS);
	} else {
		cr_expect_eq(resp->status->code, CLM__V1__CODE__UNIMPLEMENTED,
		        "code %d", resp->status->code);
		cr_expect(strstr(resp->status->message, "metrics") != NULL,
		        "message '%s' does not name the call",
		        resp->status->message);
		cr_expect_eq(
		        resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	}
	clm_response_free(resp);
	clm_close(c);
	assert_serving();
}

/* Every call of the API with an empty request gets a proper reply. */
Test(errors, every_call_with_empty_request_gets_a_reply)
{
	start_server(NULL);
	nng_socket s = raw_open(5000);
	static const uint32_t calls[]
	        = { 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 30 };
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		uint8_t buf[64];
		char id[32];
		snprintf(id, sizeof(id), "empty-%u", calls[i]);
		size_t n = put_bytes(buf, 1, id, strlen(id));
		n += put_bytes(buf + n, calls[i], NULL, 0);
		Clm__V1__Response *resp;
		int rv = raw_call(s, buf, n, &resp);
		cr_assert_eq(rv, 0, "call %u: no reply: %s", calls[i],
		        nng_strerror(rv));
		cr_assert_not_null(
		        resp->status, "call %u: no status", calls[i]);
		cr_expect_str_eq(resp->request_id, id);
		Clm__V1__Code code = resp->status->code;
		if (code == CLM__V1__CODE__OK) {
			/* Response.result uses the Request.call numbers. */
			cr_expect_eq((uint32_t) resp->result_case, calls[i],
			        "call %u: OK with result %d", calls[i],
			        resp->result_case);
		} else {
			cr_expect(code == CLM__V1__CODE__UNIMPLEMENTED
			                || code == CLM__V1__CODE__INVALID_ARGUMENT,
			        "call %u: code %d (%s)", calls[i], code,
			        resp->status->message);
			cr_expect_neq(resp->status->message[0], '\0');
		}
		clm__v1__response__free_unpacked(resp, NULL);
	}
	nng_close(s);
	assert_serving();
}

Test(errors, track_with_no_touchpoints)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	Clm__V1__Response *resp;
	clm_err e = clm_track(c, NULL, 0, &resp);
	cr_expect_eq(e, CLM_INVALID_ARGUMENT, "got %s", clm_errname(e));
	cr_assert_not_null(resp);
	const Clm__V1__FieldViolation *v
	        = find_violation(resp->status, "track.touchpoints");
	cr_expect_not_null(v, "no violation for track.touchpoints");
	if (v != NULL) {
		cr_expect_str_eq(v->field, "track.touchpoints");
	}
	clm_response_free(resp);
	clm_close(c);
	assert_serving();
}

Test(errors, track_over_the_touchpoint_limit)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	size_t n = 10001;
	Clm__V1__Touchpoint *tp = calloc(n, sizeof(*tp));
	Clm__V1__Touchpoint **ptr = calloc(n, sizeof(*ptr));
	cr_assert(tp != NULL && ptr != NULL);
	for (size_t i = 0; i < n; i++) {
		tp_init(&tp[i], "many");
		tp[i].occurred_at_ms = T0 + (int64_t) i;
		ptr[i] = &tp[i];
	}
	Clm__V1__Response *resp;
	clm_err e = clm_track(c, ptr, n, &resp);
	cr_expect_eq(e, CLM_INVALID_ARGUMENT, "got %s", clm_errname(e));
	cr_assert_not_null(resp);
	const Clm__V1__FieldViolation *v
	        = find_violation(resp->status, "track.touchpoints");
	cr_assert_not_null(v, "no violation for track.touchpoints");
	cr_expect(strstr(v->description, "10000") != NULL
	                || strstr(resp->status->message, "10000") != NULL,
	        "the limit is not named: '%s' / '%s'", resp->status->message,
	        v->description);
	clm_response_free(resp);
	e = clm_get_customer(c, "many", 0, &resp);
	cr_expect_eq(
	        e, CLM_NOT_FOUND, "a rejected call wrote: %s", clm_errname(e));
	clm_response_free(resp);

	/* Exactly the limit is fine. */
	e = clm_track(c, ptr, n - 1, &resp);
	cr_expect_eq(e, CLM_OK, "10000 touchpoints: %s (%s)", clm_errname(e),
	        clm_last_error(c));
	cr_assert_not_null(resp);
	cr_assert_not_null(resp->track);
	cr_expect_eq(resp->track->accepted, 10000);
	clm_response_free(resp);
	free(tp);
	free(ptr);
	clm_close(c);
	assert_serving();
}

Test(errors, partially_invalid_batch)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	Clm__V1__Touchpoint tp[3];
	Clm__V1__Touchpoint *ptr[3] = { &tp[0], &tp[1], &tp[2] };
	tp_init(&tp[0], "partial");
	tp[0].event_id = "partial-ok";
	tp_init(&tp[1], "partial");
	tp[1].type = CLM__V1__TOUCHPOINT_TYPE__TOUCHPOINT_TYPE_UNSPECIFIED;
	tp_init(&tp[2], "partial");
	tp[2].occurred_at_ms = Y2K_MS - 1;
	Clm__V1__Response *resp;
	clm_err e = clm_track(c, ptr, 3, &resp);
	cr_assert_eq(
	        e, CLM_OK, "got %s (%s)", clm_errname(e), clm_last_error(c));
	cr_assert_not_null(resp->track);
	const Clm__V1__TrackReply *r = resp->track;
	cr_expect_eq(r->accepted, 1);
	cr_expect_eq(r->duplicates, 0);
	cr_assert_eq(r->n_rejected, 2, "%zu rejected", r->n_rejected);
	static const char *const want[2]
	        = { "touchpoints[1].type", "touchpoints[2].occurred_at_ms" };
	for (size_t i = 0; i < 2; i++) {
		const Clm__V1__ItemError *ie = r->rejected[i];
		cr_expect_eq(ie->index, i + 1, "rejected[%zu].index %u", i,
		        ie->index);
		cr_assert_not_null(ie->status);
		cr_expect_eq(
		        ie->status->code, CLM__V1__CODE__INVALID_ARGUMENT);
		char vs[512];
		fmt_violations(ie->status, vs, sizeof(vs));
		const Clm__V1__FieldViolation *v
		        = find_violation(ie->status, want[i]);
		cr_expect_not_null(
		        v, "rejected[%zu]: no %s in %s", i, want[i], vs);
		for (size_t k = 0; k < ie->status->n_violations; k++) {
			char pre[32];
			snprintf(pre, sizeof(pre), "touchpoints[%zu].", i + 1);
			cr_expect(has_prefix(ie->status->violations[k]->field,
			                  pre),
			        "rejected[%zu]: field %s", i,
			        ie->status->violations[k]->field);
		}
	}
	clm_response_free(resp);

	/* The valid one landed, once. */
	e = clm_get_customer(c, "partial", 0, &resp);
	cr_assert_eq(e, CLM_OK, "%s", clm_errname(e));
	cr_expect_eq(resp->customer->n_touch_counts, 1);
	cr_expect_eq(resp->customer->touch_counts[0]->count, 1);
	cr_expect_eq(resp->customer->stage, CLM__V1__STAGE__REACH);
	clm_response_free(resp);
	clm_close(c);
	assert_serving();
}

Test(errors, all_invalid_batch)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	Clm__V1__Touchpoint tp[2];
	Clm__V1__Touchpoint *ptr[2] = { &tp[0], &tp[1] };
	tp_init(&tp[0], "");
	tp_init(&tp[1], "all-bad");
	tp[1].channel = (Clm__V1__Channel) 99;
	Clm__V1__Response *resp;
	clm_err e = clm_track(c, ptr, 2, &resp);
	cr_expect_eq(e, CLM_INVALID_ARGUMENT, "got %s", clm_errname(e));
	cr_assert_not_null(resp);
	char vs[512];
	fmt_violations(resp->status, vs, sizeof(vs));
	cr_expect_not_null(
	        find_violation(resp->status, "touchpoints[0].customer_id"),
	        "violations: %s", vs);
	cr_expect_not_null(
	        find_violation(resp->status, "touchpoints[1].channel"),
	        "violations: %s", vs);
	clm_response_free(resp);
	e = clm_get_customer(c, "all-bad", 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "%s", clm_errname(e));
	clm_response_free(resp);
	e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK);
	cr_expect_eq(resp->server_status->touchpoints, 0);
	cr_expect_eq(resp->server_status->customers, 0);
	clm_response_free(resp);
	clm_close(c);
	assert_serving();
}

/* One invalid field per touchpoint: rejected, naming the field. */
Test(errors, each_limit_names_its_field)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	char long_id[130], long_key[66], long_value[1026];
	memset(long_id, 'x', 129);
	long_id[129] = '\0';
	memset(long_key, 'k', 65);
	long_key[65] = '\0';
	memset(long_value, 'v', 1025);
	long_value[1025] = '\0';
	Clm__V1__Touchpoint__PropertiesEntry pe[33];
	Clm__V1__Touchpoint__PropertiesEntry *pp[33];
	char keys[33][8];
	for (int i = 0; i < 33; i++) {
		clm__v1__touchpoint__properties_entry__init(&pe[i]);
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		pe[i].key = keys[i];
		pe[i].value = "v";
		pp[i] = &pe[i];
	}
	Clm__V1__GeoPoint bad_geo = CLM__V1__GEO_POINT__INIT;
	bad_geo.lat = 91;
	int64_t now = wall_ms();
	enum {
		NO_ID,
		LONG_CUSTOMER,
		CTRL_CUSTOMER,
		BAD_UTF8_CUSTOMER,
		LONG_EVENT,
		LONG_ANON,
		NO_TYPE,
		UNKNOWN_TYPE,
		UNKNOWN_CHANNEL,
		BEFORE_2000,
		TOO_FAR_AHEAD,
		TOO_MANY_PROPS,
		LONG_KEY,
		LONG_VALUE,
		EMPTY_KEY,
		BAD_SENTIMENT,
		BAD_LAT,
		N_CASES
	};
	static const char *const fields[N_CASES] = {
		[NO_ID] = "touchpoints[0].customer_id",
		[LONG_CUSTOMER] = "touchpoints[0].customer_id",
		[CTRL_CUSTOMER] = "touchpoints[0].customer_id",
		[BAD_UTF8_CUSTOMER] = "touchpoints[0].customer_id",
		[LONG_EVENT] = "touchpoints[0].event_id",
		[LONG_ANON] = "touchpoints[0].anonymous_id",
		[NO_TYPE] = "touchpoints[0].type",
		[UNKNOWN_TYPE] = "touchpoints[0].type",
		[UNKNOWN_CHANNEL] = "touchpoints[0].channel",
		[BEFORE_2000] = "touchpoints[0].occurred_at_ms",
		[TOO_FAR_AHEAD] = "touchpoints[0].occurred_at_ms",
		[TOO_MANY_PROPS] = "touchpoints[0].properties",
		[LONG_KEY] = "touchpoints[0].properties",
		[LONG_VALUE] = "touchpoints[0].properties",
		[EMPTY_KEY] = "touchpoints[0].properties",
		[BAD_SENTIMENT] = "touchpoints[0].sentiment",
		[BAD_LAT] = "touchpoints[0].location",
	};
	for (int k = 0; k < N_CASES; k++) {
		Clm__V1__Touchpoint tp;
		tp_init(&tp, "limits");
		Clm__V1__Touchpoint__PropertiesEntry one
		        = CLM__V1__TOUCHPOINT__PROPERTIES_ENTRY__INIT;
		Clm__V1__Touchpoint__PropertiesEntry *onep = &one;
		switch (k) {
		case NO_ID:
			tp.customer_id = "";
			break;
		case LONG_CUSTOMER:
			tp.customer_id = long_id;
			break;
		case CTRL_CUSTOMER:
			tp.customer_id = "a\nb";
			break;
		case BAD_UTF8_CUSTOMER:
			tp.customer_id = "bad\xff\xfe";
			break;
		case LONG_EVENT:
			tp.event_id = long_id;
			break;
		case LONG_ANON:
			tp.anonymous_id = long_id;
			break;
		case NO_TYPE:
			tp.type = CLM__V1__TOUCHPOINT_TYPE__TOUCHPOINT_TYPE_UNSPECIFIED;
			break;
		case UNKNOWN_TYPE:
			tp.type = (Clm__V1__TouchpointType) 99;
			break;
		case UNKNOWN_CHANNEL:
			tp.channel = (Clm__V1__Channel) 99;
			break;
		case BEFORE_2000:
			tp.occurred_at_ms = Y2K_MS - 1;
			break;
		case TOO_FAR_AHEAD:
			tp.occurred_at_ms = now + DAY_MS + 3600 * 1000LL;
			break;
		case TOO_MANY_PROPS:
			tp.n_properties = 33;
			tp.properties = pp;
			break;
		case LONG_KEY:
			one.key = long_key;
			one.value = "v";
			tp.n_properties = 1;
			tp.properties = &onep;
			break;
		case LONG_VALUE:
			one.key = "k";
			one.value = long_value;
			tp.n_properties = 1;
			tp.properties = &onep;
			break;
		case EMPTY_KEY:
			one.key = "";
			one.value = "v";
			tp.n_properties = 1;
			tp.properties = &onep;
			break;
		case BAD_SENTIMENT:
			tp.type = CLM__V1__TOUCHPOINT_TYPE__REVIEW;
			tp.sentiment = 1.5f;
			break;
		case BAD_LAT:
			tp.location = &bad_geo;
			break;
		}
		Clm__V1__Touchpoint *ptr = &tp;
		Clm__V1__Response *resp;
		clm_err e = clm_track(c, &ptr, 1, &resp);
		cr_expect_eq(e, CLM_INVALID_ARGUMENT, "case %d (%s): got %s",
		        k, fields[k], clm_errname(e));
		cr_assert_not_null(resp, "case %d: no reply", k);
		char vs[512];
		fmt_violations(resp->status, vs, sizeof(vs));
		cr_expect_not_null(find_violation(resp->status, fields[k]),
		        "case %d: no violation for %s in %s", k, fields[k],
		        vs);
		clm_response_free(resp);
	}
	/* Nothing was written, and the server still serves. */
	Clm__V1__Response *resp;
	clm_err e = clm_get_customer(c, "limits", 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "%s", clm_errname(e));
	clm_response_free(resp);
	clm_close(c);
	assert_serving();
}

/* Values right at the limits are accepted. */
Test(errors, values_at_the_limits_are_accepted)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	char id[129], key[65], value[1025];
	memset(id, 'i', 128);
	id[128] = '\0';
	memset(key, 'k', 64);
	key[64] = '\0';
	memset(value, 'v', 1024);
	value[1024] = '\0';
	Clm__V1__Touchpoint__PropertiesEntry pe[32];
	Clm__V1__Touchpoint__PropertiesEntry *pp[32];
	char keys[32][65];
	for (int i = 0; i < 32; i++) {
		clm__v1__touchpoint__properties_entry__init(&pe[i]);
		snprintf(keys[i], sizeof(keys[i]), "%.*s%02d", 62, key, i);
		pe[i].key = keys[i];
		pe[i].value = value;
		pp[i] = &pe[i];
	}
	Clm__V1__Touchpoint tp[4];
	Clm__V1__Touchpoint *ptr[4] = { &tp[0], &tp[1], &tp[2], &tp[3] };
	tp_init(&tp[0], id);
	tp[0].event_id = id;
	tp[0].occurred_at_ms = Y2K_MS;
	tp[0].n_properties = 32;
	tp[0].properties = pp;
	tp_init(&tp[1], id);
	tp[1].type = CLM__V1__TOUCHPOINT_TYPE__REVIEW;
	tp[1].sentiment = -1.0f;
	tp[1].occurred_at_ms = wall_ms() + DAY_MS - 3600 * 1000LL;
	tp_init(&tp[2], id);
	tp[2].type = CLM__V1__TOUCHPOINT_TYPE__FEEDBACK;
	tp[2].sentiment = 1.0f;
	tp_init(&tp[3], "\xc3\xa9l\xc3\xa8ve-\xe2\x82\xac"); /* élève-€ */
	Clm__V1__Response *resp;
	clm_err e = clm_track(c, ptr, 4, &resp);
	cr_assert_eq(e, CLM_OK, "%s (%s)", clm_errname(e), clm_last_error(c));
	char vs[1024] = "";
	for (size_t i = 0; i < resp->track->n_rejected; i++) {
		fmt_violations(
		        resp->track->rejected[i]->status, vs, sizeof(vs));
	}
	cr_expect_eq(resp->track->n_rejected, 0, "rejected: %s", vs);
	cr_expect_eq(resp->track->accepted, 4);
	clm_response_free(resp);
	e = clm_get_customer(c, id, 0, &resp);
	cr_expect_eq(e, CLM_OK, "128-byte id: %s", clm_errname(e));
	clm_response_free(resp);
	e = clm_get_customer(c, "\xc3\xa9l\xc3\xa8ve-\xe2\x82\xac", 0, &resp);
	cr_expect_eq(e, CLM_OK, "UTF-8 id: %s", clm_errname(e));
	clm_response_free(resp);
	clm_close(c);
}

Test(errors, get_customer_with_a_bad_id)
{
	start_server(NULL);
	clm_conn *c = connect_to(&srv);
	char long_id[130];
	memset(long_id, 'x', 129);
	long_id[129] = '\0';
	const char *ids[] = { "", long_id, "tab\there" };
	for (size_t i = 0; i < 3; i++) {
		Clm__V1__Response *resp;
		clm_err e = clm_get_customer(c, ids[i], 0, &resp);
		cr_expect_eq(e, CLM_INVALID_ARGUMENT, "id %zu: %s", i,
		        clm_errname(e));
		cr_assert_not_null(resp);
		cr_expect_not_null(find_violation(resp->status,
		                           "get_customer.customer_id"),
		        "id %zu: no violation for get_customer.customer_id",
		        i);
		clm_response_free(resp);
	}
	clm_close(c);
	assert_serving();
}

/* Builds a valid ServerStatus request carrying pad bytes of an unknown
 * field, so only its size can make clmd refuse it. */
static uint8_t *
padded_status_request(const char *request_id, size_t pad, size_t *len)
{
	uint8_t *buf = malloc(pad + 128);
	cr_assert_not_null(buf);
	uint8_t *filler = calloc(1, pad);
	cr_assert_not_null(filler);
	size_t n = put_bytes(buf, 1, request_id, strlen(request_id));
	n += put_bytes(buf + n, 30, NULL, 0);
	n += put_bytes(buf + n, 99, filler, pad);
	free(filler);
	*len = n;
	return buf;
}

Test(errors, oversized_message_is_dropped)
{
	static const char *const extra[]
	        = { "--max-message-bytes", "64K", NULL };
	start_server(extra);
	nng_socket s = raw_open(1500);
	Clm__V1__Response *resp;
	size_t len;

	/* Under the limit: answered. */
	uint8_t *small = padded_status_request("small", 60 * 1024, &len);
	cr_assert_lt(len, 64 * 1024);
	int rv = raw_call(s, small, len, &resp);
	cr_assert_eq(rv, 0, "60 KiB request: %s", nng_strerror(rv));
	cr_expect_eq(resp->status->code, CLM__V1__CODE__OK);
	cr_expect_str_eq(resp->request_id, "small");
	clm__v1__response__free_unpacked(resp, NULL);
	free(small);

	/* Over it: no reply at all. */
	uint8_t *big = padded_status_request("big", 100 * 1024, &len);
	rv = raw_call(s, big, len, &resp);
	cr_expect_eq(rv, NNG_ETIMEDOUT, "100 KiB request: %s",
	        rv == 0 ? "answered" : nng_strerror(rv));
	if (resp != NULL) {
		clm__v1__response__free_unpacked(resp, NULL);
	}
	free(big);
	nng_close(s);

	/* The next request, on a new connection, is answered. */
	assert_serving();
	s = raw_open(5000);
	uint8_t buf[64];
	size_t n = put_bytes(buf, 1, "next", 4);
	n += put_bytes(buf + n, 30, NULL, 0);
	rv = raw_call(s, buf, n, &resp);
	cr_assert_eq(rv, 0, "after the big one: %s", nng_strerror(rv));
	cr_expect_str_eq(resp->request_id, "next");
	clm__v1__response__free_unpacked(resp, NULL);
	nng_close(s);
	cr_expect_eq(
	        clmd_stop(&srv), 0, "clmd exit status (log %s)", srv.log_path);
}

/* Runs clmd with args (no program name); returns its exit code. */
static int
run_clmd(const char *const *args, int timeout_ms, char **err)
{
	const char *argv[32];
	int n = 0;
	argv[n++] = CLMD_BIN;
	for (int i = 0; args[i] != NULL && n < 31; i++) {
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	return run_cmd(CLMD_BIN, argv, NULL, timeout_ms, NULL, err);
}

Test(errors, second_clmd_on_the_same_data_dir)
{
	start_server(NULL);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", harness_free_port());
	const char *args[] = { "--data", srv.data_dir, "--listen", url,
		"--events", "none", NULL };
	char *err = NULL;
	int rc = run_clmd(args, 5000, &err);
	cr_expect(rc > 0, "second clmd: exit %d (-1: still running)", rc);
	cr_expect(strstr(err, "in use") != NULL, "stderr: '%s'", err);
	free(err);
	assert_serving();

	/* Once the first one stops, the lock is free again. */
	cr_expect_eq(clmd_stop(&srv), 0);
	cr_assert_eq(clmd_start(&srv, srv.data_dir, NULL), 0,
	        "restart after stop (log %s)", srv.log_path);
	assert_serving();
}

/*
 * The lock is on the data directory itself, not on clmd.pid: deleting the
 * pid file must not let a second clmd open the same LMDB (issue 15), and the
 * refusal still names the first one's pid, found in /proc/locks.
 */
Test(errors, deleted_pid_file_keeps_the_data_dir_locked)
{
	start_server(NULL);
	char pidfile[PATH_MAX + 16];
	snprintf(pidfile, sizeof(pidfile), "%s/clmd.pid", srv.data_dir);
	cr_assert_eq(
	        unlink(pidfile), 0, "rm %s: %s", pidfile, strerror(errno));
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", harness_free_port());
	const char *args[] = { "--data", srv.data_dir, "--listen", url,
		"--events", "none", NULL };
	char *err = NULL;
	int rc = run_clmd(args, 10000, &err);
	cr_expect(rc > 0, "second clmd: exit %d (-1: still running)", rc);
	char want[64];
	snprintf(want, sizeof(want), "in use by another clmd (pid %ld)",
	        (long) srv.pid);
	cr_expect(strstr(err, want) != NULL, "stderr '%s', want '%s'", err,
	        want);
	free(err);
	assert_serving();
}

Test(errors, bad_command_lines)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	char url[64];
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", harness_free_port());
	static const char *const bogus[] = { "--bogus", NULL };
	char *err = NULL;
	int rc = run_clmd(bogus, 5000, &err);
	cr_expect_eq(rc, 2, "unknown flag: exit %d", rc);
	cr_expect(strstr(err, "--bogus") != NULL, "stderr: '%s'", err);
	free(err);

	const char *missing[] = { "--data", data, "--listen", NULL };
	rc = run_clmd(missing, 5000, &err);
	cr_expect_eq(rc, 2, "flag without value: exit %d", rc);
	free(err);

	const char *range[] = { "--data", data, "--listen", url, "--events",
		"none", "--workers", "0", NULL };
	rc = run_clmd(range, 5000, &err);
	cr_expect_eq(rc, 2, "--workers 0: exit %d", rc);
	free(err);
}

/*
 * docs/operations.md "Securing it": TCP listeners on a non-loopback address
 * are refused.
 */
Test(errors, non_loopback_listen_is_refused)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	int port = harness_free_port();
	char urls[4][64];
	snprintf(urls[0], sizeof(urls[0]), "tcp://0.0.0.0:%d", port);
	snprintf(urls[1], sizeof(urls[1]), "tcp://:%d", port);
	snprintf(urls[2], sizeof(urls[2]), "tcp6://[::]:%d", port);
	snprintf(urls[3], sizeof(urls[3]), "tcp://*:%d", port);
	for (int i = 0; i < 4; i++) {
		const char *args[] = { "--data", data, "--listen", urls[i],
			"--events", "none", NULL };
		char *err = NULL;
		int rc = run_clmd(args, 5000, &err);
		cr_expect(rc > 0, "%s: exit %d (-1: it kept running)", urls[i],
		        rc);
		cr_expect(strstr(err, "loopback") != NULL, "%s: stderr '%s'",
		        urls[i], err);
		free(err);
	}
}

/*
 * A host name that merely starts with "127." is not loopback: the check
 * (exposure_is_loopback in server/net/exposure.c) takes "localhost", "[::1]"
 * and dotted-quad literals in 127.0.0.0/8 only, never a name that nng would
 * resolve and bind to whatever address it has. ".invalid" never resolves,
 * so clmd must refuse it for not being loopback, not try to listen and fail
 * with "Address invalid".
 */
Test(errors, hostname_that_starts_with_127_is_refused)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char data[64], url[96];
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(url, sizeof(url), "tcp://127.0.0.1.example.invalid:%d",
	        harness_free_port());
	const char *args[] = { "--data", data, "--listen", url, "--events",
		"none", NULL };
	char *err = NULL;
	int rc = run_clmd(args, 5000, &err);
	cr_expect(rc > 0, "exit %d", rc);
	cr_expect(strstr(err, "loopback") != NULL, "stderr '%s'", err);
	free(err);
}

/*
 * The event stream carries customer ids and has no token check, so --events
 * is refused on a non-loopback address even when auth tokens guard the
 * requests (docs/operations.md "Securing it"), and the message says so
 * rather than claiming that no tokens are configured.
 */
Test(errors, non_loopback_events_is_refused)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "t0k3n\n");
	char data[64], url[64], ev[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", harness_free_port());
	snprintf(ev, sizeof(ev), "tcp://0.0.0.0:%d", harness_free_port());
	char want[256];
	snprintf(want, sizeof(want),
	        "refusing to publish events on '%s': the event stream has no authentication, so it listens only on loopback or ipc://",
	        ev);
	for (int with_tokens = 0; with_tokens <= 1; with_tokens++) {
		/* Without tokens the list ends before --auth-token-file. */
		const char *args[] = { "--data", data, "--listen", url,
			"--events", ev, "--log-level", "warn",
			with_tokens ? "--auth-token-file" : NULL, tokens,
			NULL };
		char *err = NULL;
		int rc = run_clmd(args, 10000, &err);
		cr_expect(rc > 0,
		        "--events %s, tokens %d: exit %d (-1: it kept running)",
		        ev, with_tokens, rc);
		cr_expect(strstr(err, want) != NULL, "tokens %d: stderr '%s'",
		        with_tokens, err);
		cr_expect(strstr(err, "no auth tokens") == NULL,
		        "tokens %d: stderr '%s'", with_tokens, err);
		free(err);
	}
}

/* Tracks a batch of n touchpoints of ~1 KiB for customer; returns the code. */
static clm_err
track_fat_batch(clm_conn *c, const char *customer, size_t n, uint32_t *acc)
{
	static char value[1001];
	memset(value, 'v', 1000);
	Clm__V1__Touchpoint *tp = calloc(n, sizeof(*tp));
	Clm__V1__Touchpoint **ptr = calloc(n, sizeof(*ptr));
	Clm__V1__Touchpoint__PropertiesEntry *pe = calloc(n, sizeof(*pe));
	Clm__V1__Touchpoint__PropertiesEntry **pp = calloc(n, sizeof(*pp));
	cr_assert(tp != NULL && ptr != NULL && pe != NULL && pp != NULL);
	for (size_t i = 0; i < n; i++) {
		tp_init(&tp[i], customer);
		tp[i].occurred_at_ms = T0 + (int64_t) i;
		clm__v1__touchpoint__properties_entry__init(&pe[i]);
		pe[i].key = "blob";
		pe[i].value = value;
		pp[i] = &pe[i];
		tp[i].n_properties = 1;
		tp[i].properties = &pp[i];
		ptr[i] = &tp[i];
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, ptr, n, &resp);
	*acc = e == CLM_OK && resp != NULL && resp->track != NULL
	        ? resp->track->accepted
	        : 0;
	if (e != CLM_OK && resp != NULL) {
		/* A failed write answers with its status and no result. */
		cr_expect_eq(
		        resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	}
	clm_response_free(resp);
	free(tp);
	free(ptr);
	free(pe);
	free(pp);
	return e;
}

/*
 * The map grows on MDB_MAP_FULL, up to max_db_bytes (docs/architecture.md
 * "A request's life", docs/operations.md "Durability and failures"). With
 * the smallest checkpoint_bytes every batch is checkpointed, so the
 * checkpoint that fails at max_db_bytes refuses the writes after it; the
 * restart replays what that checkpoint could not move, and its own
 * checkpoints fail too, which must not stop clmd from serving.
 */
Test(errors, map_grows_then_full_is_resource_exhausted)
{
	static const char *const extra[] = { "--map-bytes", "64K",
		"--max-db-bytes", "2M", "--checkpoint-bytes", "4K", NULL };
	start_server(extra);
	clm_conn *c = connect_to(&srv);
	uint64_t stored = 0;
	clm_err e = CLM_OK;
	int batches = 0;
	for (; batches < 40; batches++) {
		char id[32];
		snprintf(id, sizeof(id), "fill-%d", batches);
		uint32_t acc;
		e = track_fat_batch(c, id, 100, &acc);
		if (e != CLM_OK) {
			break;
		}
		cr_expect_eq(acc, 100);
		stored += acc;
	}
	/* 64 KiB holds far less than one batch: the map grew. */
	cr_expect_gt(batches, 2, "only %d batches before %s", batches,
	        clm_errname(e));
	cr_expect_eq(e, CLM_RESOURCE_EXHAUSTED, "after %d batches: %s (%s)",
	        batches, clm_errname(e), clm_last_error(c));
	/* Still full for the next write; reads still work. */
	uint32_t acc;
	e = track_fat_batch(c, "fill-more", 100, &acc);
	cr_expect_eq(e, CLM_RESOURCE_EXHAUSTED, "%s", clm_errname(e));
	Clm__V1__Response *resp = NULL;
	e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK, "%s", clm_errname(e));
	cr_expect_eq(resp->server_status->touchpoints, stored);
	cr_expect_leq(resp->server_status->map_bytes, 2 * 1024 * 1024);
	cr_expect_gt(resp->server_status->map_bytes, 64 * 1024);
	clm_response_free(resp);
	e = clm_get_customer(c, "fill-0", 0, &resp);
	cr_expect_eq(e, CLM_OK, "%s", clm_errname(e));
	clm_response_free(resp);
	e = clm_get_customer(c, "fill-more", 0, &resp);
	cr_expect_eq(e, CLM_NOT_FOUND, "%s", clm_errname(e));
	clm_response_free(resp);
	clm_close(c);
	assert_serving();

	/* Nothing acknowledged was lost. */
	cr_expect_eq(clmd_stop(&srv), 0, "exit status (log %s)", srv.log_path);
	cr_assert_eq(clmd_start(&srv, srv.data_dir, extra), 0,
	        "restart (log %s)", srv.log_path);
	c = connect_to(&srv);
	e = clm_server_status(c, &resp);
	cr_assert_eq(e, CLM_OK);
	cr_expect_eq(resp->server_status->touchpoints, stored);
	clm_response_free(resp);
	clm_close(c);
}

/* Whether clmd answers ServerStatus at url within timeout_ms. */
static bool
answers_at(const char *url, int timeout_ms)
{
	clm_conn *c;
	if (clm_open(url, timeout_ms, &c) != CLM_OK) {
		return false;
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_server_status(c, &resp);
	clm_response_free(resp);
	clm_close(c);
	return e == CLM_OK;
}

/*
 * docs/operations.md "Securing it": nng 1.5.2's IPC listener stops
 * accepting after one bare connect-and-close (nng issue 1518); clmd probes
 * its own IPC listener every 50 ms (server/net/rpc_probe.c) and listens
 * again when it stops accepting (ipc_outage_test measures the outage).
 * The socket is 0600. The test
 * checks for 10 s that it answers again, and that TCP still works.
 */
Test(errors, ipc_listener_survives_a_bare_connect, .timeout = 60)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char data[64], sock[64], url[80];
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(sock, sizeof(sock), "%s/clmd.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", sock);
	const char *const extra[] = { "--listen", url, NULL };
	cr_assert_eq(clmd_start(&srv, data, extra), 0, "start (log %s)",
	        srv.log_path);
	struct stat st;
	cr_assert_eq(stat(sock, &st), 0, "no socket at %s", sock);
	cr_expect_eq(st.st_mode & 0777, 0600, "socket mode %o",
	        (unsigned) (st.st_mode & 0777));
	cr_assert(answers_at(url, 2000), "no answer on %s", url);

	/* Bare connects and closes, as health probes or port scans do. */
	for (int i = 0; i < 3; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		cr_assert_geq(fd, 0);
		struct sockaddr_un sa;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		cr_assert_eq(
		        connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
		close(fd);
		harness_sleep_ms(50);
	}

	bool ok = false;
	for (int i = 0; i < 10 && !ok; i++) {
		ok = answers_at(url, 1000);
	}
	cr_expect(ok, "%s no longer answers after a bare connect", url);
	cr_expect(answers_at(srv.url, 2000), "TCP stopped answering too");
}
