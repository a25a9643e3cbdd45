/*
 * http_write: the deferred writes of the HTTP API (POST /api/track, a
 * claim, PUT and DELETE /api/segments/NAME). They do not block an nng
 * thread: each request gets a state of its own (malloc'd; their number is
 * bounded by http_max_connections), the handler defers it (httpd.h), the
 * writer's done callback hands the answer back to an nng thread with
 * httpd_resume, and the answer is sent with httpd_reply. The job carries
 * a deadline of http_request_timeout, so the wait is bounded. A route
 * gives what differs: its state around the defer, the message its reply
 * prints and what it frees.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/auth.h"
#include "calls/dispatch.h"
#include "net/http_internal.h"
#include "pbjson.h"
#include "util/clock.h"

void
http_write_result(
        struct http_reply *rep, const ProtobufCMessage *m, uint64_t position)
{
	char *text;
	if (m == NULL || pbjson_print(m, 0, &text) != 0) {
		http_error(
		        rep, 500, CLM_INTERNAL, "", "cannot print the reply");
		return;
	}
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (f != NULL) {
		/* text is one object: "{}" or "{MEMBERS}". */
		fprintf(f, "{\"position\":\"%llu\"%s%s",
		        (unsigned long long) position,
		        strcmp(text, "{}") == 0 ? "" : ",", text + 1);
	}
	free(text);
	rep->status = 200;
	rep->type = http_json;
	http_reply_stream(rep, f, &out, &len);
}

void
http_defer_send(struct http_defer *d, struct http_reply *rep)
{
	struct httpd_res res = { .status = 500 };
	httpd_conn *c = d->c;
	telemetry_http(d->tm, d->kind, rep->status);
	http_respond(rep, &res);
	if (d->fini != NULL) {
		d->fini(d);
	}
	arena_fini(&d->arena);
	free(d);
	httpd_reply(c, &res);
}

/* The answer of d's call, done (d->resp is final). */
static void
http_defer_answer(struct http_defer *d)
{
	struct http_reply rep = { .status = 500, .type = http_json };
	const Clm__V1__Response *resp = &d->resp;
	if (http_ok(resp, &rep)) {
		http_write_result(&rep, d->result(d, resp), resp->position);
	}
	http_defer_send(d, &rep);
}

/* The write is done: answer, on an nng thread. */
static void
http_defer_resumed(void *arg, httpd_conn *c)
{
	(void) c;
	struct http_defer *d = arg;
	dispatch_finish(&d->dr);
	http_defer_answer(d);
}

/*
 * The writer's done callback, on its thread: the answer is handed back
 * to an nng thread (httpd_resume), so the writer only wakes it.
 */
static void
http_defer_done(writer_job *job)
{
	struct http_defer *d = job->done_arg;
	httpd_resume(d->c, http_defer_resumed, d);
}

struct http_defer *
http_defer_new(size_t size, struct server *srv, struct telemetry *tm,
        httpd_conn *c, enum telemetry_http_handler kind,
        http_defer_result result, http_defer_fini fini)
{
	struct http_defer *d = calloc(1, size);
	if (d == NULL) {
		struct http_reply rep = { .status = 500, .type = http_json };
		struct httpd_res res = { .status = 500 };
		http_oom(&rep);
		telemetry_http(tm, kind, rep.status);
		http_respond(&rep, &res);
		httpd_reply(c, &res);
		return NULL;
	}
	d->tm = tm;
	d->kind = kind;
	d->c = c;
	arena_init(&d->arena);
	d->dr.srv = srv;
	d->dr.resp = &d->resp;
	d->dr.a = &d->arena;
	d->dr.done = http_defer_done;
	d->dr.done_arg = d;
	d->dr.wire = PBWIRE_OK;
	d->result = result;
	d->fini = fini;
	return d;
}

Clm__V1__Request *
http_defer_request(struct http_defer *d, const struct server *srv,
        const struct httpd_req *req, struct http_reply *rep)
{
	const char *token = http_bearer(req, &d->arena);
	if (srv->auth != NULL
	        && (token == NULL
	                || !auth_check(srv->auth, token, strlen(token)))) {
		http_error(rep, 401, CLM_UNAUTHENTICATED, "",
		        "missing or invalid token: send 'Authorization: Bearer TOKEN'");
		rep->challenge = true;
		return NULL;
	}
	Clm__V1__Request *q = arena_alloc(&d->arena, sizeof(*q));
	if (q == NULL) {
		http_oom(rep);
		return NULL;
	}
	clm__v1__request__init(q);
	q->auth_token = (char *) (token != NULL ? token : "");
	q->request_id = "http";
	return q;
}

void
http_defer_dispatch(struct http_defer *d, Clm__V1__Request *q)
{
	const struct server *srv = d->dr.srv;
	int64_t timeout
	        = srv->cfg != NULL ? srv->cfg->http_request_timeout : 10;
	q->deadline_ms = (uint32_t) (timeout * 1000);
	d->dr.req = q;
	d->dr.now_ms = clock_now_ms();
	d->dr.arrived_ns = clock_mono_ns();
	if (dispatch_request(&d->dr) == DISPATCH_PENDING) {
		return; /* d is the writer's until http_defer_done */
	}
	http_defer_answer(d);
}
