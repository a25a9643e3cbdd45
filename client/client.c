#include "clm/client.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct clm_conn {
	nng_socket sock;
	char *url;
	char *token;
	uint64_t next_id;
	char err[512];
};

/* The reason of the last failed clm_open, per thread (no conn exists). */
static _Thread_local char clm_open_err[512];

static void
clm_seterr(clm_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

const char *
clm_open_error(void)
{
	return clm_open_err;
}

clm_err
clm_open(const char *url, int timeout_ms, clm_conn **out)
{
	if (url == NULL || url[0] == '\0') {
		url = CLM_DEFAULT_URL;
	}
	if (timeout_ms <= 0) {
		timeout_ms = CLM_DEFAULT_TIMEOUT_MS;
	}
	clm_conn *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->url = strdup(url)) == NULL) {
		free(c);
		snprintf(clm_open_err, sizeof(clm_open_err), "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	int rv = nng_req0_open(&c->sock);
	if (rv != 0) {
		snprintf(clm_open_err, sizeof(clm_open_err),
		        "cannot open socket: %s", nng_strerror(rv));
		free(c->url);
		free(c);
		return CLM_UNAVAILABLE;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	/* A blocking dial fails at once when nothing listens. */
	rv = nng_dial(c->sock, url, NULL, 0);
	if (rv != 0) {
		snprintf(clm_open_err, sizeof(clm_open_err),
		        "cannot connect to '%s': %s", url, nng_strerror(rv));
		nng_close(c->sock);
		free(c->url);
		free(c);
		return rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP
		        ? CLM_INVALID_ARGUMENT
		        : CLM_UNAVAILABLE;
	}
	c->next_id = 1;
	clm_open_err[0] = '\0';
	*out = c;
	return CLM_OK;
}

void
clm_close(clm_conn *c)
{
	if (c == NULL) {
		return;
	}
	nng_close(c->sock);
	free(c->token);
	free(c->url);
	free(c);
}

clm_err
clm_set_token(clm_conn *c, const char *token)
{
	char *copy = token ? strdup(token) : NULL;
	if (token != NULL && copy == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	free(c->token);
	c->token = copy;
	return CLM_OK;
}

const char *
clm_last_error(const clm_conn *c)
{
	return c->err;
}

void
clm_response_free(Clm__V1__Response *resp)
{
	if (resp != NULL) {
		clm__v1__response__free_unpacked(resp, NULL);
	}
}

clm_err
clm_call(clm_conn *c, const Clm__V1__Request *req, Clm__V1__Response **out)
{
	Clm__V1__Request copy = *req;
	char id[48];
	if (copy.request_id == NULL || copy.request_id[0] == '\0') {
		snprintf(id, sizeof(id), "%ld-%llu", (long) getpid(),
		        (unsigned long long) c->next_id++);
		copy.request_id = id;
	}
	if (c->token != NULL
	        && (copy.auth_token == NULL || copy.auth_token[0] == '\0')) {
		copy.auth_token = c->token;
	}
	size_t size = clm__v1__request__get_packed_size(&copy);
	nng_msg *msg;
	int rv = nng_msg_alloc(&msg, size);
	if (rv != 0) {
		clm_seterr(c, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__request__pack(&copy, nng_msg_body(msg));
	rv = nng_sendmsg(c->sock, msg, 0);
	if (rv != 0) {
		nng_msg_free(msg);
		clm_seterr(c, "cannot send to '%s': %s", c->url,
		        nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? CLM_DEADLINE_EXCEEDED
		                           : CLM_UNAVAILABLE;
	}
	rv = nng_recvmsg(c->sock, &msg, 0);
	if (rv != 0) {
		clm_seterr(
		        c, "no reply from '%s': %s", c->url, nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? CLM_DEADLINE_EXCEEDED
		                           : CLM_UNAVAILABLE;
	}
	Clm__V1__Response *resp = clm__v1__response__unpack(
	        NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	if (resp == NULL) {
		clm_seterr(
		        c, "reply from '%s' is not a clm.v1.Response", c->url);
		return CLM_INTERNAL;
	}
	c->err[0] = '\0';
	*out = resp;
	return CLM_OK;
}

/* Makes the call and turns the reply's status into the return value. */
static clm_err
clm_call_status(
        clm_conn *c, const Clm__V1__Request *req, Clm__V1__Response **out)
{
	*out = NULL;
	Clm__V1__Response *resp;
	clm_err e = clm_call(c, req, &resp);
	if (e != CLM_OK) {
		return e;
	}
	*out = resp;
	if (resp->status == NULL) {
		return CLM_OK;
	}
	e = clm_err_from_code((int) resp->status->code);
	if (e != CLM_OK) {
		clm_seterr(c, "%s", resp->status->message);
	}
	return e;
}

clm_err
clm_track(clm_conn *c, Clm__V1__Touchpoint *const *tps, size_t n,
        Clm__V1__Response **out)
{
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	tr.n_touchpoints = n;
	tr.touchpoints = (Clm__V1__Touchpoint **) tps;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &tr;
	return clm_call_status(c, &req, out);
}

clm_err
clm_get_customer(clm_conn *c, const char *customer_id, int64_t as_of_ms,
        Clm__V1__Response **out)
{
	Clm__V1__GetCustomerRequest gc = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	gc.customer_id = (char *) customer_id;
	gc.as_of_ms = as_of_ms;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	req.get_customer = &gc;
	return clm_call_status(c, &req, out);
}

clm_err
clm_server_status(clm_conn *c, Clm__V1__Response **out)
{
	Clm__V1__StatusRequest sr = CLM__V1__STATUS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &sr;
	return clm_call_status(c, &req, out);
}
