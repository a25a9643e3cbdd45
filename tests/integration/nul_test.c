/*
 * Strings with a NUL byte inside (docs/api.md "Limits"): protobuf-c unpacks
 * a string into a C string, so without the wire scan "victim\0x" would be
 * the customer "victim". libclm builds requests from char * and cannot
 * send such a string: these requests are packed with protobuf-c, a marker
 * byte 'Z' is patched to 0, and they go over a raw NNG REQ socket.
 */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"
#include "harness.h"

HARNESS_SUITE(nul, 60);

/*
 * Packs req, replaces the 'Z' inside the first occurrence of marker (NULL:
 * none) with a 0, sends it on a raw REQ socket to url and returns the
 * decoded Response (free with clm__v1__response__free_unpacked).
 */
static Clm__V1__Response *
raw_call(const char *url, const Clm__V1__Request *req, const char *marker)
{
	size_t n = clm__v1__request__get_packed_size(req);
	uint8_t *buf = malloc(n);
	cr_assert_not_null(buf);
	clm__v1__request__pack(req, buf);
	if (marker != NULL) {
		size_t ml = strlen(marker);
		uint8_t *at = NULL;
		for (size_t i = 0; i + ml <= n && at == NULL; i++) {
			if (memcmp(buf + i, marker, ml) == 0) {
				at = buf + i;
			}
		}
		cr_assert_not_null(at, "'%s' not in the request", marker);
		uint8_t *z = memchr(at, 'Z', ml);
		cr_assert_not_null(z);
		*z = 0;
	}
	nng_socket s;
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 20000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 20000);
	int rv = nng_dial(s, url, NULL, 0);
	cr_assert_eq(rv, 0, "dial %s: %s", url, nng_strerror(rv));
	rv = nng_send(s, buf, n, 0);
	cr_assert_eq(rv, 0, "send: %s", nng_strerror(rv));
	free(buf);
	nng_msg *msg;
	rv = nng_recvmsg(s, &msg, 0);
	cr_assert_eq(rv, 0, "no reply: %s", nng_strerror(rv));
	Clm__V1__Response *resp = clm__v1__response__unpack(
	        NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	nng_close(s);
	cr_assert_not_null(resp, "the reply is not a Response");
	cr_assert_not_null(resp->status);
	return resp;
}

/* Checks resp is INVALID_ARGUMENT with a violation naming field. */
static void
expect_nul_rejected(Clm__V1__Response *resp, const char *field)
{
	cr_assert_eq(resp->status->code, CLM__V1__CODE__INVALID_ARGUMENT,
	        "want INVALID_ARGUMENT for '%s', got %d: %s", field,
	        resp->status->code, resp->status->message);
	cr_assert_eq(resp->status->n_violations, 1);
	cr_assert_str_eq(resp->status->violations[0]->field, field);
	cr_assert_not_null(strstr(resp->status->message, "NUL"), "%s",
	        resp->status->message);
	cr_assert_eq(resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	clm__v1__response__free_unpacked(resp, NULL);
}

/* A Track request of the one touchpoint tp (fields borrowed). */
static Clm__V1__Request
track_req(Clm__V1__Touchpoint **one, Clm__V1__TrackRequest *tr)
{
	clm__v1__track_request__init(tr);
	tr->n_touchpoints = 1;
	tr->touchpoints = one;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "nul-test";
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = tr;
	return req;
}

/* The status code of GetCustomer(id) through libclm. */
static int
customer_code(clm_conn *c, const char *id)
{
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_customer(c, id, 0, &resp);
	cr_assert_not_null(resp, "no reply: %s", clm_errname(e));
	int code = (int) resp->status->code;
	clm_response_free(resp);
	return code;
}

static void
track_ok(clm_conn *c, const char *cid, const char *eid)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) cid;
	tp.event_id = (char *) eid;
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *one[] = { &tp };
	Clm__V1__TrackRequest tr;
	Clm__V1__Request req = track_req(one, &tr);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_call(c, &req, &resp), CLM_OK);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__OK, "%s",
	        resp->status->message);
	cr_assert_eq(resp->track->accepted, 1);
	clm_response_free(resp);
}

Test(nul, track_customer_id_with_nul_is_rejected)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0);
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "victimZx";
	tp.event_id = "nul-track-1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *one[] = { &tp };
	Clm__V1__TrackRequest tr;
	Clm__V1__Request req = track_req(one, &tr);
	Clm__V1__Response *resp = raw_call(srv.url, &req, "victimZx");
	cr_assert_str_eq(resp->request_id, "nul-test");
	expect_nul_rejected(resp, "track.touchpoints[0].customer_id");

	/* Nothing was written: "victim" does not exist. */
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	cr_assert_eq(customer_code(c, "victim"), CLM__V1__CODE__NOT_FOUND);
	clm_close(c);
}

Test(nul, forget_with_nul_leaves_the_prefix_alone)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0);
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	track_ok(c, "victim", "victim-1");

	Clm__V1__ForgetCustomerRequest f
	        = CLM__V1__FORGET_CUSTOMER_REQUEST__INIT;
	f.customer_id = "victimZx";
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "nul-forget";
	req.call_case = CLM__V1__REQUEST__CALL_FORGET_CUSTOMER;
	req.forget_customer = &f;
	expect_nul_rejected(raw_call(srv.url, &req, "victimZx"),
	        "forget_customer.customer_id");

	cr_assert_eq(customer_code(c, "victim"), CLM__V1__CODE__OK,
	        "victim was forgotten");
	clm_close(c);
}

Test(nul, event_ids_differing_after_nul_are_rejected)
{
	cr_assert_eq(clmd_start(&srv, NULL, NULL), 0);
	const char *eids[] = { "evtZA", "evtZB" };
	for (int i = 0; i < 2; i++) {
		Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
		tp.customer_id = "evt-customer";
		tp.event_id = (char *) eids[i];
		tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
		Clm__V1__Touchpoint *one[] = { &tp };
		Clm__V1__TrackRequest tr;
		Clm__V1__Request req = track_req(one, &tr);
		expect_nul_rejected(raw_call(srv.url, &req, eids[i]),
		        "track.touchpoints[0].event_id");
	}
	/* Neither was stored, not even as "evt": it is still new. */
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	cr_assert_eq(
	        customer_code(c, "evt-customer"), CLM__V1__CODE__NOT_FOUND);
	track_ok(c, "evt-customer", "evt");
	clm_close(c);
}

/*
 * A configured token with "\0junk" after it is not that token: it gets
 * UNAUTHENTICATED (as any wrong token does), not INVALID_ARGUMENT.
 */
Test(nul, token_with_nul_and_junk_is_refused)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "alpha-123\n");
	const char *args[] = { "--auth-token-file", tokens, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0);

	Clm__V1__StatusRequest st = CLM__V1__STATUS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.request_id = "nul-token";
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &st;

	/* The raw path works with the token itself. */
	req.auth_token = "alpha-123";
	Clm__V1__Response *resp = raw_call(srv.url, &req, NULL);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__OK, "%s",
	        resp->status->message);
	clm__v1__response__free_unpacked(resp, NULL);

	req.auth_token = "alpha-123Zjunk";
	resp = raw_call(srv.url, &req, "alpha-123Zjunk");
	cr_assert_eq(resp->status->code, CLM__V1__CODE__UNAUTHENTICATED,
	        "got %d: %s", resp->status->code, resp->status->message);
	cr_assert_eq(resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	clm__v1__response__free_unpacked(resp, NULL);

	/* A NUL elsewhere, with a good token: INVALID_ARGUMENT. */
	req.auth_token = "alpha-123";
	req.request_id = "nulZid";
	expect_nul_rejected(raw_call(srv.url, &req, "nulZid"), "request_id");
}
