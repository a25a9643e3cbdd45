/*
 * http_ingest: the SDK ingest routes of `--http` (docs/ingest.md,
 * "Endpoints"): Segment's and RudderStack's /v1/batch, /v1/track, ...,
 * PostHog's /batch/, /capture/, /e/ and /i/v0/e/.
 *
 * A request goes: write key (HTTP Basic user or Bearer token; PostHog's
 * api_key in the body) → body made plain within the batch limit
 * (inflate.h) → sdk_parse (ingest/sdk.h) → its operations, in the body's
 * order, through dispatch and the writer, one job at a time (a run of
 * consecutive touchpoints is one Track, each Identify a job of its own)
 * → one answer: 200 with the SDK's success body and the items refused,
 * 400 when nothing could be read, 503 when a write could not be made
 * (the SDKs retry; event ids make the retry harmless).
 *
 * Nothing here blocks an nng thread on the writer. Each request in flight
 * holds one of HTTP_INGEST_SLOTS states (arena, call, reply); with none
 * free, the request waits in a queue, deferred, and the state is handed
 * to it when one is given back. The handler defers its request
 * (httpd.h); a job's done callback, on the writer thread, hands the next
 * step back to an nng thread with httpd_resume; the last step answers
 * with httpd_reply. A state's memory therefore lives until the writer is
 * done with it, and httpd_close waits for every reply, so http_close may
 * free the states once it returned. Each job carries a deadline of
 * http_request_timeout from the request's arrival: a job still queued
 * past it is not applied, and the request is answered 503.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls/auth.h"
#include "calls/dispatch.h"
#include "net/http_internal.h"
#include "net/inflate.h"
#include "util/clock.h"
#include "util/log.h"

/* Ingest requests handled at once; more wait in a queue. */
#define HTTP_INGEST_SLOTS 8

/* An item the answer reports as refused. */
struct http_ingest_error {
	uint32_t item;
	clm_err code;
	const char *field;
	const char *message;
};

/* A request waiting for a state. */
struct http_ingest_wait {
	httpd_conn *c;
	const struct httpd_req *req;
	enum telemetry_http_handler kind;
	struct http_ingest_wait *next;
};

/* One ingest request in flight, from its body to its answer. */
struct http_ingest_req {
	struct http_ingest *g;
	bool busy; /* guarded by g->mu */
	arena arena;
	Clm__V1__Response resp;
	struct call_req dr;
	/* The request: valid until httpd_reply. */
	httpd_conn *c;
	const struct httpd_req *req;
	enum telemetry_http_handler kind;
	int64_t deadline_ns; /* its writes' deadline (monotonic) */
	const char *token;   /* the write key checked, or "" */
	char *plain;         /* the inflated body (malloc'd), or NULL */
	struct sdk_batch batch;
	size_t next;  /* the next operation to run */
	size_t first; /* the operations of the job in flight: first.. */
	size_t n;     /* ..first + n */
	bool track;   /* the job is a Track (else an Identify) */
	struct http_ingest_error *errors;
	size_t n_errors, cap_errors;
	clm_err outage;         /* a write that could not be made, or OK */
	const char *outage_msg; /* its reason (arena) */
};

struct http_ingest {
	struct server *srv;
	struct telemetry *tm;
	int64_t request_ms;
	const struct sdk_map *map; /* the server's, or own_map */
	struct sdk_map *own_map;   /* the built-in names, when it has none */
	pthread_mutex_t mu;
	struct http_ingest_wait *waiting, *waiting_last; /* mu */
	struct http_ingest_req reqs[HTTP_INGEST_SLOTS];
};

static void http_ingest_run(struct http_ingest_req *s);
static void http_ingest_waited(void *arg, httpd_conn *c);

/* The body shape of the route of kind. */
static enum sdk_route
http_ingest_route(enum telemetry_http_handler kind)
{
	switch (kind) {
	case TELEMETRY_HTTP_V1_TRACK:
		return SDK_ROUTE_TRACK;
	case TELEMETRY_HTTP_V1_IDENTIFY:
		return SDK_ROUTE_IDENTIFY;
	case TELEMETRY_HTTP_V1_PAGE:
		return SDK_ROUTE_PAGE;
	case TELEMETRY_HTTP_V1_SCREEN:
		return SDK_ROUTE_SCREEN;
	case TELEMETRY_HTTP_V1_ALIAS:
		return SDK_ROUTE_ALIAS;
	case TELEMETRY_HTTP_V1_GROUP:
		return SDK_ROUTE_GROUP;
	case TELEMETRY_HTTP_PH_BATCH:
	case TELEMETRY_HTTP_PH_CAPTURE:
	case TELEMETRY_HTTP_PH_E:
	case TELEMETRY_HTTP_PH_I_V0_E:
		return SDK_ROUTE_POSTHOG;
	default:
		return SDK_ROUTE_BATCH;
	}
}

/* ---- the write key ---- */

static int
http_ingest_b64(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+' || c == '-') {
		return 62;
	}
	if (c == '/' || c == '_') {
		return 63;
	}
	return -1;
}

/*
 * The user of "Basic BASE64(USER:PASSWORD)" (b64 the base64 text),
 * decoded into a; NULL when it is no valid base64 or the user is empty.
 */
static const char *
http_ingest_basic_user(const char *b64, arena *a)
{
	size_t n = strlen(b64);
	while (n > 0 && b64[n - 1] == '=') {
		n--;
	}
	char *out = arena_alloc(a, n * 3 / 4 + 1);
	if (out == NULL) {
		return NULL;
	}
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = http_ingest_b64(b64[i]);
		if (v < 0) {
			return NULL;
		}
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[k++] = (char) ((acc >> bits) & 0xff);
		}
	}
	/* The user ends at the first ':' (a write key has no password). */
	size_t user = 0;
	while (user < k && out[user] != ':') {
		user++;
	}
	if (user == 0 || memchr(out, '\0', user) != NULL) {
		return NULL;
	}
	out[user] = '\0';
	return out;
}

/*
 * The write key of req's Authorization header: the user of Basic, or a
 * Bearer token (scheme in any case), in a. NULL when there is none;
 * *present tells whether there was an Authorization header at all.
 */
static const char *
http_ingest_header_key(const struct httpd_req *req, arena *a, bool *present)
{
	const char *v = httpd_req_header(req, "Authorization");
	*present = v != NULL;
	if (v == NULL) {
		return NULL;
	}
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	bool basic = strncasecmp(v, "Basic", 5) == 0
	        && (v[5] == ' ' || v[5] == '\t');
	bool bearer = strncasecmp(v, "Bearer", 6) == 0
	        && (v[6] == ' ' || v[6] == '\t');
	if (!basic && !bearer) {
		return NULL;
	}
	v += basic ? 5 : 6;
	while (*v == ' ' || *v == '\t') {
		v++;
	}
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
		n--;
	}
	if (n == 0) {
		return NULL;
	}
	const char *t = arena_strndup(a, v, n);
	if (t == NULL || bearer) {
		return t;
	}
	return http_ingest_basic_user(t, a);
}

/* Whether key is one of the tokens (always, without tokens). */
static bool
http_ingest_key_ok(const struct http_ingest *g, const char *key)
{
	return g->srv->auth == NULL
	        || (key != NULL && auth_check(g->srv->auth, key, strlen(key)));
}

/* ---- answers ---- */

/*
 * The 200 answer: the success body the SDK expects ({"success":true} for
 * Segment and RudderStack, {"status":1} for PostHog) with, when some
 * items were refused, "errors": [{"index", "code", "field",
 * "message"}, ...] in item order.
 */
static void
http_ingest_success(struct http_ingest_req *s, struct http_reply *rep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	rep->status = 200;
	rep->type = http_json;
	if (f == NULL) {
		http_reply_stream(rep, NULL, &text, &len);
		return;
	}
	bool posthog = http_ingest_route(s->kind) == SDK_ROUTE_POSTHOG;
	fputs(posthog ? "{\"status\":1" : "{\"success\":true", f);
	if (s->n_errors > 0) {
		/*
		 * In item order (an insertion sort: stable, and the parse's
		 * errors and the calls' come each in order already).
		 */
		struct http_ingest_error *e = s->errors;
		size_t n = s->n_errors;
		for (size_t i = 1; i < n; i++) {
			for (size_t k = i; k > 0 && e[k - 1].item > e[k].item;
			        k--) {
				struct http_ingest_error t = e[k];
				e[k] = e[k - 1];
				e[k - 1] = t;
			}
		}
		fputs(",\"errors\":[", f);
		for (size_t i = 0; i < n; i++) {
			fprintf(f,
			        "%s{\"index\":%u,\"code\":\"%s\",\"field\":",
			        i > 0 ? "," : "", (unsigned) e[i].item,
			        clm_errname(e[i].code));
			http_json_string(
			        f, e[i].field != NULL ? e[i].field : "");
			fputs(",\"message\":", f);
			http_json_string(
			        f, e[i].message != NULL ? e[i].message : "");
			fputc('}', f);
		}
		fputc(']', f);
	}
	fputc('}', f);
	http_reply_stream(rep, f, &text, &len);
}

/*
 * Gives s back: to the first request waiting, whose step then begins on
 * an nng thread, or to the pool.
 */
static void
http_ingest_give(struct http_ingest_req *s)
{
	struct http_ingest *g = s->g;
	free(s->plain);
	s->plain = NULL;
	arena_reset(&s->arena);
	pthread_mutex_lock(&g->mu);
	struct http_ingest_wait *w = g->waiting;
	if (w != NULL) {
		g->waiting = w->next;
		if (g->waiting == NULL) {
			g->waiting_last = NULL;
		}
	} else {
		s->busy = false;
	}
	pthread_mutex_unlock(&g->mu);
	if (w == NULL) {
		return;
	}
	s->c = w->c;
	s->req = w->req;
	s->kind = w->kind;
	free(w);
	httpd_resume(s->c, http_ingest_waited, s);
}

/*
 * Answers s's request with rep, counts it, and gives s back. The reply
 * goes last: once it is out, httpd_close may return (it waits for the
 * last deferred reply) and http_close free s, so nothing of s may be
 * touched after it. res holds nothing of s's arena (rep's body is
 * malloc'd, its headers static).
 */
static void
http_ingest_answer(struct http_ingest_req *s, struct http_reply *rep)
{
	struct httpd_res res = { .status = 500 };
	httpd_conn *c = s->c;
	telemetry_http(s->g->tm, s->kind, rep->status);
	http_respond(rep, &res);
	http_ingest_give(s);
	httpd_reply(c, &res);
}

/* ---- the writes ---- */

/* Whether a write's code is an outage (the SDK must retry), not the item. */
static bool
http_ingest_is_outage(clm_err code)
{
	switch (code) {
	case CLM_UNAVAILABLE:
	case CLM_RESOURCE_EXHAUSTED:
	case CLM_DEADLINE_EXCEEDED:
	case CLM_ABORTED:
	case CLM_INTERNAL:
	case CLM_DATA_LOSS:
	case CLM_UNKNOWN:
	case CLM_CANCELLED:
		return true;
	default:
		return false;
	}
}

/* Notes item as refused with code, field and message (arena memory). */
static void
http_ingest_refuse(struct http_ingest_req *s, uint32_t item, clm_err code,
        const char *field, const char *message)
{
	struct http_ingest_error *e = arena_grow(
	        &s->arena, s->errors, s->n_errors, &s->cap_errors, sizeof(*e));
	if (e == NULL) {
		/*
		 * A 200 without the item among its errors would say it was
		 * recorded: answer 503 instead, and the SDK sends the batch
		 * again.
		 */
		if (s->outage == CLM_OK) {
			s->outage = CLM_RESOURCE_EXHAUSTED;
			s->outage_msg = "out of memory";
		}
		return;
	}
	s->errors = e;
	e[s->n_errors++] = (struct http_ingest_error) {
		.item = item,
		.code = code,
		.field = field,
		.message = message,
	};
}

/*
 * Notes item as refused with the Status of clm's call: its code, and its
 * first violation's field (without the "touchpoints[K]." of the Track
 * the item was part of) and description, or its message when it has no
 * violation.
 */
static void
http_ingest_refuse_status(
        struct http_ingest_req *s, uint32_t item, const Clm__V1__Status *st)
{
	const char *field = "";
	const char *msg = st->message;
	if (st->n_violations > 0 && st->violations[0]->field != NULL) {
		field = st->violations[0]->field;
		const char *dot = strstr(field, "].");
		if (strncmp(field, "touchpoints[", 12) == 0 && dot != NULL) {
			field = dot + 2;
		}
		msg = st->violations[0]->description;
	}
	http_ingest_refuse(s, item, (clm_err) st->code, field, msg);
}

/* Takes in the outcome of the job just done (s->resp). */
static void
http_ingest_collect(struct http_ingest_req *s)
{
	const Clm__V1__Response *resp = &s->resp;
	const Clm__V1__Status *st = resp->status;
	clm_err code = st != NULL ? (clm_err) st->code : CLM_OK;
	if (http_ingest_is_outage(code)) {
		s->outage = code;
		s->outage_msg = st->message;
		return;
	}
	const struct sdk_op *ops = s->batch.ops + s->first;
	const Clm__V1__TrackReply *tr = s->track
	                && resp->result_case == CLM__V1__RESPONSE__RESULT_TRACK
	        ? resp->track
	        : NULL;
	if (tr != NULL) {
		for (size_t i = 0; i < tr->n_rejected; i++) {
			const Clm__V1__ItemError *ie = tr->rejected[i];
			if (ie->index < s->n && ie->status != NULL) {
				http_ingest_refuse_status(
				        s, ops[ie->index].item, ie->status);
			}
		}
		return;
	}
	if (code == CLM_OK) {
		return;
	}
	/* A job refused whole: each of its items is. */
	for (size_t i = 0; i < s->n; i++) {
		http_ingest_refuse_status(s, ops[i].item, st);
	}
}

/* A job is done: take its outcome in and go on, on an nng thread. */
static void
http_ingest_resumed(void *arg, httpd_conn *c)
{
	(void) c;
	struct http_ingest_req *s = arg;
	dispatch_finish(&s->dr);
	http_ingest_collect(s);
	http_ingest_run(s);
}

/*
 * The writer's done callback, on its thread: the rest is handed back to
 * an nng thread (httpd_resume), so the writer only wakes it.
 */
static void
http_ingest_done(writer_job *job)
{
	struct http_ingest_req *s = job->done_arg;
	httpd_resume(s->c, http_ingest_resumed, s);
}

/*
 * Makes the next job of s, from s->next on, into a Request: one Identify,
 * or the run of touchpoints that follows (at most max_touchpoints).
 * NULL when memory ran out.
 */
static Clm__V1__Request *
http_ingest_job(struct http_ingest_req *s, uint32_t deadline_ms)
{
	arena *a = &s->arena;
	Clm__V1__Request *q = arena_alloc(a, sizeof(*q));
	if (q == NULL) {
		return NULL;
	}
	clm__v1__request__init(q);
	q->auth_token = (char *) s->token;
	q->deadline_ms = deadline_ms;
	const struct sdk_op *ops = s->batch.ops;
	s->first = s->next;
	if (ops[s->next].kind == SDK_OP_IDENTIFY) {
		q->call_case = CLM__V1__REQUEST__CALL_IDENTIFY;
		q->identify = ops[s->next].identify;
		s->track = false;
		s->n = 1;
		return q;
	}
	size_t max = s->g->srv->cfg != NULL
	        ? (size_t) s->g->srv->cfg->max_touchpoints
	        : 1000;
	size_t n = 0;
	while (s->next + n < s->batch.n_ops && n < max
	        && ops[s->next + n].kind == SDK_OP_TRACK) {
		n++;
	}
	Clm__V1__TrackRequest *tr = arena_alloc(a, sizeof(*tr));
	Clm__V1__Touchpoint **tps = arena_alloc(a, n * sizeof(*tps));
	if (tr == NULL || tps == NULL) {
		return NULL;
	}
	clm__v1__track_request__init(tr);
	for (size_t i = 0; i < n; i++) {
		tps[i] = ops[s->next + i].tp;
	}
	tr->touchpoints = tps;
	tr->n_touchpoints = n;
	q->call_case = CLM__V1__REQUEST__CALL_TRACK;
	q->track = tr;
	s->track = true;
	s->n = n;
	return q;
}

/*
 * Runs s's operations from s->next, one job after the other: returns
 * when one is with the writer (its done callback goes on), or answers
 * once none is left or a write could not be made.
 */
static void
http_ingest_run(struct http_ingest_req *s)
{
	while (s->outage == CLM_OK && s->next < s->batch.n_ops) {
		int64_t now = clock_mono_ns();
		int64_t left_ms = (s->deadline_ns - now) / 1000000;
		if (left_ms <= 0) {
			s->outage = CLM_DEADLINE_EXCEEDED;
			s->outage_msg
			        = "http_request_timeout passed before every write was applied";
			break;
		}
		Clm__V1__Request *q = http_ingest_job(s,
		        left_ms > UINT32_MAX ? UINT32_MAX
		                             : (uint32_t) left_ms);
		if (q == NULL) {
			s->outage = CLM_RESOURCE_EXHAUSTED;
			s->outage_msg = "out of memory";
			break;
		}
		s->next += s->n;
		struct call_req *dr = &s->dr;
		dr->req = q;
		dr->now_ms = clock_now_ms();
		dr->arrived_ns = now;
		dr->wire = PBWIRE_OK;
		dr->over_budget = false;
		if (dispatch_request(dr) == DISPATCH_PENDING) {
			return; /* s is the writer's until http_ingest_done */
		}
		http_ingest_collect(s);
	}
	struct http_reply rep = { .status = 500, .type = http_json };
	if (s->outage != CLM_OK) {
		http_error(&rep, 503, s->outage, "",
		        "cannot record the events now (%s): retry later; events already recorded with their messageId or uuid are not recorded twice",
		        s->outage_msg != NULL ? s->outage_msg
		                              : clm_strerror(s->outage));
	} else {
		http_ingest_success(s, &rep);
	}
	http_ingest_answer(s, &rep);
}

/* ---- a request ---- */

/*
 * Begins s's request (s->c, s->req, s->kind): the key, the body, the
 * parse, then the writes. Answers a request refused whole at once.
 */
static void
http_ingest_start(struct http_ingest_req *s)
{
	struct http_ingest *g = s->g;
	const struct httpd_req *req = s->req;
	arena *a = &s->arena;
	struct http_reply rep = { .status = 500, .type = http_json };
	s->deadline_ns = clock_mono_ns() + g->request_ms * 1000000;
	s->token = "";
	s->next = s->first = s->n = 0;
	s->errors = NULL;
	s->n_errors = s->cap_errors = 0;
	s->outage = CLM_OK;
	s->outage_msg = NULL;
	memset(&s->batch, 0, sizeof(s->batch));
	enum sdk_route route = http_ingest_route(s->kind);

	/* The key of the header: a wrong one is refused before the body. */
	bool present;
	const char *key = http_ingest_header_key(req, a, &present);
	if (g->srv->auth != NULL
	        && ((key == NULL && (present || route != SDK_ROUTE_POSTHOG))
	                || (key != NULL && !http_ingest_key_ok(g, key)))) {
		http_error(&rep, 401, CLM_UNAUTHENTICATED, "",
		        "missing or invalid write key: send it as the HTTP Basic user ('Authorization: Basic base64(KEY:)') or 'Authorization: Bearer KEY'");
		rep.challenge = true;
		rep.challenge_basic = true;
		http_ingest_answer(s, &rep);
		return;
	}

	/* The body, made plain within the batch limit. */
	const char *body = (const char *) req->body;
	size_t len = req->body_len;
	char why[256];
	enum inflate_kind ik = inflate_kind(
	        httpd_req_header(req, "Content-Encoding"), req->body, len);
	if (len == 0) {
		http_error(&rep, 400, CLM_INVALID_ARGUMENT, "",
		        "empty body: send the events as JSON");
	} else if (ik == INFLATE_UNKNOWN) {
		http_error(&rep, 400, CLM_INVALID_ARGUMENT, "",
		        "unsupported Content-Encoding '%.64s': send gzip, deflate or none",
		        httpd_req_header(req, "Content-Encoding"));
	} else if (ik == INFLATE_ZLIB) {
		bool too_big;
		clm_err e = inflate_capped(req->body, len, SDK_MAX_BATCH_BYTES,
		        &s->plain, &len, &too_big, why, sizeof(why));
		if (e == CLM_OK) {
			body = s->plain;
		} else if (too_big) {
			http_error(&rep, 413, CLM_RESOURCE_EXHAUSTED, "",
			        "%s: a body may hold at most %u bytes of JSON (send smaller batches)",
			        why, SDK_MAX_BATCH_BYTES);
		} else if (e == CLM_INVALID_ARGUMENT) {
			http_error(&rep, 400, CLM_INVALID_ARGUMENT, "", "%s",
			        why);
		} else {
			http_error(&rep, 503, e, "", "%s", why);
		}
	} else if (len > SDK_MAX_BATCH_BYTES) {
		http_error(&rep, 413, CLM_RESOURCE_EXHAUSTED, "",
		        "a body may hold at most %u bytes of JSON (send smaller batches)",
		        SDK_MAX_BATCH_BYTES);
	}
	if (rep.status != 500) {
		http_ingest_answer(s, &rep);
		return;
	}

	/* sdk_parse bounds its arena by the body's size (ingest/sdk.h). */
	clm_err e = sdk_parse(g->map, &g->srv->limits, route, body, len,
	        clock_now_ms(), a, &s->batch, why, sizeof(why));
	if (e == CLM_INVALID_ARGUMENT) {
		http_error(&rep, 400, CLM_INVALID_ARGUMENT, "", "%s", why);
	} else if (e != CLM_OK) {
		http_error(&rep, 413, CLM_RESOURCE_EXHAUSTED, "",
		        "%s: the body needs more memory than its size allows (send smaller batches)",
		        why);
	} else if (g->srv->auth != NULL && key == NULL
	        && !http_ingest_key_ok(g, s->batch.api_key)) {
		http_error(&rep, 401, CLM_UNAUTHENTICATED, "api_key",
		        "missing or invalid api_key");
		rep.challenge = true;
		rep.challenge_basic = true;
	}
	if (rep.status != 500) {
		http_ingest_answer(s, &rep);
		return;
	}
	if (g->srv->auth != NULL) {
		s->token = key != NULL ? key : s->batch.api_key;
	}
	for (size_t i = 0; i < s->batch.n_errors; i++) {
		const struct sdk_item_error *ie = &s->batch.errors[i];
		http_ingest_refuse(
		        s, ie->item, ie->code, ie->field, ie->message);
	}
	http_ingest_run(s);
}

/* httpd_resume's step for a request that waited for a state. */
static void
http_ingest_waited(void *arg, httpd_conn *c)
{
	(void) c;
	http_ingest_start(arg);
}

void
http_ingest_serve(struct http_ingest *g, httpd_conn *c,
        const struct httpd_req *req, enum telemetry_http_handler kind)
{
	struct http_ingest_req *s = NULL;
	struct http_ingest_wait *w = NULL;
	pthread_mutex_lock(&g->mu);
	for (int i = 0; i < HTTP_INGEST_SLOTS && s == NULL; i++) {
		if (!g->reqs[i].busy) {
			s = &g->reqs[i];
			s->busy = true;
		}
	}
	if (s == NULL && (w = calloc(1, sizeof(*w))) != NULL) {
		w->c = c;
		w->req = req;
		w->kind = kind;
		if (g->waiting_last != NULL) {
			g->waiting_last->next = w;
		} else {
			g->waiting = w;
		}
		g->waiting_last = w;
	}
	pthread_mutex_unlock(&g->mu);
	if (s != NULL) {
		s->c = c;
		s->req = req;
		s->kind = kind;
		http_ingest_start(s);
	} else if (w == NULL) {
		struct http_reply rep = { .status = 500, .type = http_json };
		struct httpd_res res = { .status = 500 };
		http_oom(&rep);
		telemetry_http(g->tm, kind, rep.status);
		http_respond(&rep, &res);
		httpd_reply(c, &res);
	}
	/* Else a state given back starts it (http_ingest_give). */
}

/* ---- open and close ---- */

clm_err
http_ingest_open(struct server *srv, struct telemetry *tm, int64_t request_ms,
        struct http_ingest **out, char *err, size_t errlen)
{
	struct http_ingest *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	g->srv = srv;
	g->tm = tm;
	g->request_ms = request_ms;
	pthread_mutex_init(&g->mu, NULL);
	for (int i = 0; i < HTTP_INGEST_SLOTS; i++) {
		struct http_ingest_req *s = &g->reqs[i];
		s->g = g;
		arena_init(&s->arena);
		s->dr.srv = srv;
		s->dr.resp = &s->resp;
		s->dr.a = &s->arena;
		s->dr.done = http_ingest_done;
		s->dr.done_arg = s;
	}
	g->map = srv->sdk_map;
	if (g->map == NULL) {
		char why[256];
		clm_err e = sdk_map_load(NULL, &g->own_map, why, sizeof(why));
		if (e != CLM_OK) {
			snprintf(err, errlen,
			        "cannot serve the ingest routes: %s", why);
			http_ingest_close(g);
			return e;
		}
		g->map = g->own_map;
	}
	*out = g;
	return CLM_OK;
}

void
http_ingest_close(struct http_ingest *g)
{
	if (g == NULL) {
		return;
	}
	for (int i = 0; i < HTTP_INGEST_SLOTS; i++) {
		free(g->reqs[i].plain);
		arena_fini(&g->reqs[i].arena);
	}
	sdk_map_free(g->own_map);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
