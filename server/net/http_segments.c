/*
 * http_segments: the HTTP API's segment routes (docs/api.md, "HTTP API";
 * docs/segments.md):
 *
 *   GET    /api/segments         ListSegmentsReply
 *   GET    /api/segments/NAME    GetSegmentReply ?members=&page_size=
 *                                &page_token=&as_of=
 *   PUT    /api/segments/NAME    DefineSegment, body {"expression": "..."}
 *   DELETE /api/segments/NAME    DeleteSegment
 *
 * A segment's name is [a-z0-9_-]{1,64}: it is taken from httpd's path,
 * and a name with anything else gets the server's INVALID_ARGUMENT. The
 * reads go through dispatch_read on the caller's slot, as the other /api
 * endpoints do. The writes are deferred, as POST /api/track is
 * (http_write.c): each gets a state of its own, the writer's done
 * callback hands the answer to an nng thread with httpd_resume, and the
 * job carries the deadline http_request_timeout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/dispatch.h"
#include "net/http_internal.h"
#include "pbjson.h"

#define HTTP_SEGMENTS_BASE "/api/segments"

/* One write in flight, from its request to its answer. */
struct http_segw {
	struct http_defer d;    /* first: http_write.c's part */
	ProtobufCMessage *body; /* the parsed body (pbjson's), or NULL */
};

/*
 * The NAME of path (path_len bytes, httpd's decoded path) into a: "" for
 * /api/segments itself, NULL (a 404 or 400 in rep) for a deeper path or
 * a NUL.
 */
static const char *
http_segments_name(
        arena *a, const char *path, size_t path_len, struct http_reply *rep)
{
	size_t base = strlen(HTTP_SEGMENTS_BASE);
	if (path_len <= base + 1) {
		return "";
	}
	const char *rest = path + base + 1;
	size_t n = path_len - base - 1;
	if (memchr(rest, '\0', n) != NULL) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "name",
		        "the segment name must not contain NUL (%%00)");
		return NULL;
	}
	if (memchr(rest, '/', n) != NULL) {
		http_error(rep, 404, CLM_NOT_FOUND, "",
		        "not found: a segment is /api/segments/NAME");
		return NULL;
	}
	char *name = arena_alloc(a, n + 1);
	if (name == NULL) {
		http_oom(rep);
		return NULL;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	return name;
}

/* as_of: unix ms or YYYY-MM-DD (absent: 0, now). */
static bool
http_segments_as_of(
        const struct http_query *q, int64_t *out, struct http_reply *rep)
{
	const char *v = http_query_get(q, "as_of");
	*out = 0;
	if (v == NULL || http_parse_date(v, out)) {
		return true;
	}
	char *end;
	errno = 0;
	long long ms = strtoll(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || ms <= 0
	        || errno == ERANGE) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "as_of",
		        "as_of: '%s' is not unix ms or a date YYYY-MM-DD", v);
		return false;
	}
	*out = ms;
	return true;
}

/* GET /api/segments/NAME: one segment, and a page of members. */
static void
http_segments_one(struct http_slot *s, const char *uri, const char *name,
        const char *token, struct http_reply *rep)
{
	static const char *const allowed[] = { "members", "page_size",
		"page_token", "as_of", "include_customers", NULL };
	struct http_query q;
	Clm__V1__Request *req = http_request(s);
	Clm__V1__GetSegmentRequest *g = arena_alloc(&s->arena, sizeof(*g));
	if (req == NULL || g == NULL) {
		http_oom(rep);
		return;
	}
	clm__v1__get_segment_request__init(g);
	g->name = (char *) name;
	bool members, customers;
	if (!http_query_parse(&s->arena, uri, allowed, &q, rep)
	        || !http_bool_param(&q, "members", &members, rep)
	        || !http_bool_param(&q, "include_customers", &customers, rep)
	        || !http_u32_param(&q, "page_size", &g->page_size, rep)
	        || !http_segments_as_of(&q, &g->as_of_ms, rep)) {
		return;
	}
	g->members = members;
	g->include_customers = customers;
	const char *tok = http_query_get(&q, "page_token");
	g->page_token = (char *) (tok != NULL ? tok : "");
	req->call_case = CLM__V1__REQUEST__CALL_GET_SEGMENT;
	req->get_segment = g;
	const Clm__V1__Response *resp = http_call(s, req, token);
	if (http_ok(resp, rep)) {
		http_reply_message(
		        rep, (const ProtobufCMessage *) resp->get_segment);
	}
}

void
http_segments_get(struct http_slot *s, const struct httpd_req *hr,
        const char *token, struct http_reply *rep)
{
	const char *name
	        = http_segments_name(&s->arena, hr->path, hr->path_len, rep);
	if (name == NULL) {
		return;
	}
	if (name[0] != '\0') {
		http_segments_one(s, hr->target, name, token, rep);
		return;
	}
	static const char *const none[] = { NULL };
	struct http_query q;
	Clm__V1__Request *req = http_request(s);
	Clm__V1__ListSegmentsRequest *l = arena_alloc(&s->arena, sizeof(*l));
	if (req == NULL || l == NULL) {
		http_oom(rep);
		return;
	}
	clm__v1__list_segments_request__init(l);
	if (!http_query_parse(&s->arena, hr->target, none, &q, rep)) {
		return;
	}
	req->call_case = CLM__V1__REQUEST__CALL_LIST_SEGMENTS;
	req->list_segments = l;
	const Clm__V1__Response *resp = http_call(s, req, token);
	if (http_ok(resp, rep)) {
		http_reply_message(
		        rep, (const ProtobufCMessage *) resp->list_segments);
	}
}

/* ---- the writes ---- */

/* Frees w's body (http_defer_send's fini). */
static void
http_segw_fini(struct http_defer *d)
{
	struct http_segw *w = (struct http_segw *) d;
	if (w->body != NULL) {
		protobuf_c_message_free_unpacked(w->body, NULL);
	}
}

/* The message w's reply prints, after the position. */
static const ProtobufCMessage *
http_segw_message(const struct http_defer *d, const Clm__V1__Response *resp)
{
	(void) d;
	return resp->result_case == CLM__V1__RESPONSE__RESULT_DEFINE_SEGMENT
	        ? (const ProtobufCMessage *) resp->define_segment
	        : (const ProtobufCMessage *) resp->delete_segment;
}

/*
 * PUT's body, {"expression": "..."} (a DefineSegmentRequest in proto3
 * JSON; a "name" in it must be the path's), into q. False with the 400
 * in rep.
 */
static bool
http_segw_define(struct http_segw *w, const struct httpd_req *req,
        const char *name, Clm__V1__Request *q, struct http_reply *rep)
{
	char why[256];
	if (req->body_len == 0) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "expression",
		        "empty body: send {\"expression\": \"...\"}");
		return false;
	}
	if (pbjson_parse((const char *) req->body, req->body_len,
	            &clm__v1__define_segment_request__descriptor, &w->body,
	            why, sizeof(why))
	        != 0) {
		http_error(
		        rep, 400, CLM_INVALID_ARGUMENT, "", "body: %s", why);
		return false;
	}
	Clm__V1__DefineSegmentRequest *d
	        = (Clm__V1__DefineSegmentRequest *) w->body;
	if (d->name[0] != '\0' && strcmp(d->name, name) != 0) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "name",
		        "name: the body names '%s', the path '%s'", d->name,
		        name);
		return false;
	}
	/* The request borrows the body's expression (freed after it). */
	Clm__V1__DefineSegmentRequest *r
	        = arena_alloc(&w->d.arena, sizeof(*r));
	if (r == NULL) {
		http_oom(rep);
		return false;
	}
	clm__v1__define_segment_request__init(r);
	r->name = (char *) name;
	r->expression = d->expression;
	q->call_case = CLM__V1__REQUEST__CALL_DEFINE_SEGMENT;
	q->define_segment = r;
	return true;
}

/* DELETE: no body, no parameters. */
static bool
http_segw_delete(struct http_segw *w, const char *name, Clm__V1__Request *q,
        struct http_reply *rep)
{
	Clm__V1__DeleteSegmentRequest *d
	        = arena_alloc(&w->d.arena, sizeof(*d));
	if (d == NULL) {
		http_oom(rep);
		return false;
	}
	clm__v1__delete_segment_request__init(d);
	d->name = (char *) name;
	q->call_case = CLM__V1__REQUEST__CALL_DELETE_SEGMENT;
	q->delete_segment = d;
	return true;
}

void
http_segments_write(struct server *srv, struct telemetry *tm, httpd_conn *c,
        const struct httpd_req *req)
{
	struct http_segw *w = (struct http_segw *) http_defer_new(sizeof(*w),
	        srv, tm, c, TELEMETRY_HTTP_SEGMENTS, http_segw_message,
	        http_segw_fini);
	if (w == NULL) {
		return;
	}
	struct http_reply rep = { .status = 500, .type = http_json };
	Clm__V1__Request *q = http_defer_request(&w->d, srv, req, &rep);
	if (q == NULL) {
		http_defer_send(&w->d, &rep);
		return;
	}
	static const char *const none[] = { NULL };
	struct http_query pq;
	const char *name = http_segments_name(
	        &w->d.arena, req->path, req->path_len, &rep);
	bool ok = name != NULL
	        && http_query_parse(&w->d.arena, req->target, none, &pq, &rep);
	if (ok && name[0] == '\0') {
		http_error(&rep, 405, CLM_UNIMPLEMENTED, "",
		        "method '%s' not allowed on /api/segments: use /api/segments/NAME",
		        req->method);
		rep.allow = "GET, HEAD";
		ok = false;
	}
	if (ok) {
		ok = strcmp(req->method, "PUT") == 0
		        ? http_segw_define(w, req, name, q, &rep)
		        : http_segw_delete(w, name, q, &rep);
	}
	if (!ok) {
		http_defer_send(&w->d, &rep);
		return;
	}
	http_defer_dispatch(&w->d, q);
}
