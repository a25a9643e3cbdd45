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
 * job carries the deadline http_request_timeout. What the journey routes
 * do alike is http_named.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/dispatch.h"
#include "net/http_internal.h"
#include "pbjson.h"

static bool http_segw_define(struct http_named_write *w,
        const struct httpd_req *req, const char *name, Clm__V1__Request *q,
        struct http_reply *rep);

/* The segment routes, for http_named.c. */
static const struct http_named http_segments_route = {
	.base = "/api/segments",
	.noun = "segment",
	.kind = TELEMETRY_HTTP_SEGMENTS,
	.delete_call = CLM__V1__REQUEST__CALL_DELETE_SEGMENT,
	.delete_req = &clm__v1__delete_segment_request__descriptor,
	.define = http_segw_define,
};

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
	http_call_reply(s, req, token, rep);
}

void
http_segments_get(struct http_slot *s, const struct httpd_req *hr,
        const char *token, struct http_reply *rep)
{
	const char *name = http_named_name(
	        &s->arena, &http_segments_route, hr->path, hr->path_len, rep);
	if (name == NULL) {
		return;
	}
	if (name[0] != '\0') {
		http_segments_one(s, hr->target, name, token, rep);
		return;
	}
	http_named_read(s, hr->target, token,
	        CLM__V1__REQUEST__CALL_LIST_SEGMENTS,
	        &clm__v1__list_segments_request__descriptor, NULL, rep);
}

/* ---- the writes ---- */

/*
 * PUT's body, {"expression": "..."} (a DefineSegmentRequest in proto3
 * JSON; a "name" in it must be the path's), into q. False with the 400
 * in rep.
 */
static bool
http_segw_define(struct http_named_write *w, const struct httpd_req *req,
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

void
http_segments_write(struct server *srv, struct telemetry *tm, httpd_conn *c,
        const struct httpd_req *req)
{
	http_named_write(srv, tm, c, req, &http_segments_route);
}
