/*
 * http_named: what the routes of named definitions share, the segments'
 * (http_segments.c) and the journeys' (http_journeys.c):
 *
 *   GET    BASE          the List call, no parameters
 *   GET    BASE/NAME     the Get call (each route its own)
 *   PUT    BASE/NAME     the Define call, from the body (each route its own)
 *   DELETE BASE/NAME     the Delete call, no body, no parameters
 *
 * The calls differ only in their messages' types, so what is shared here
 * takes them as the oneof member's number (a Request's call and its
 * Response's result have the same one) and the request's descriptor, and
 * reaches the member through the descriptor, as clm's cli_reply does.
 */
#include <assert.h>
#include <string.h>

#include "net/http_internal.h"

/*
 * Where the Request's or the Response's (desc) oneof member numbered id
 * is stored in m: what m->NAME reads and writes for that member. Every
 * member of a oneof is stored in the same place, whichever is set.
 */
static void *
http_named_member(
        const ProtobufCMessageDescriptor *desc, const void *m, unsigned id)
{
	const ProtobufCFieldDescriptor *f
	        = protobuf_c_message_descriptor_get_field(desc, id);
	assert(f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE);
	return (char *) m + f->offset;
}

/* Makes msg q's call number call. */
static void
http_named_set_call(Clm__V1__Request *q, unsigned call, void *msg)
{
	void *p = http_named_member(&clm__v1__request__descriptor, q, call);
	memcpy(p, &msg, sizeof(msg));
	q->call_case = (Clm__V1__Request__CallCase) call;
}

/* The message of resp's result member numbered result. */
static const ProtobufCMessage *
http_named_result(const Clm__V1__Response *resp, unsigned result)
{
	const ProtobufCMessage *m;
	memcpy(&m,
	        http_named_member(
	                &clm__v1__response__descriptor, resp, result),
	        sizeof(m));
	return m;
}

/*
 * A new request message of desc in a, its "name" field (when name is
 * not NULL) borrowing name; NULL when out of memory.
 */
static ProtobufCMessage *
http_named_message(
        arena *a, const ProtobufCMessageDescriptor *desc, const char *name)
{
	ProtobufCMessage *m = arena_alloc(a, desc->sizeof_message);
	if (m == NULL) {
		return NULL;
	}
	protobuf_c_message_init(desc, m);
	if (name != NULL) {
		const ProtobufCFieldDescriptor *f
		        = protobuf_c_message_descriptor_get_field_by_name(
		                desc, "name");
		assert(f != NULL && f->type == PROTOBUF_C_TYPE_STRING);
		memcpy((char *) m + f->offset, &name, sizeof(name));
	}
	return m;
}

const char *
http_named_name(arena *a, const struct http_named *route, const char *path,
        size_t path_len, struct http_reply *rep)
{
	size_t base = strlen(route->base);
	if (path_len <= base + 1) {
		return "";
	}
	const char *rest = path + base + 1;
	size_t n = path_len - base - 1;
	if (memchr(rest, '\0', n) != NULL) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "name",
		        "the %s name must not contain NUL (%%00)",
		        route->noun);
		return NULL;
	}
	if (memchr(rest, '/', n) != NULL) {
		http_error(rep, 404, CLM_NOT_FOUND, "",
		        "not found: a %s is %s/NAME", route->noun,
		        route->base);
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

void
http_call_reply(struct http_slot *s, Clm__V1__Request *req, const char *token,
        struct http_reply *rep)
{
	const Clm__V1__Response *resp = http_call(s, req, token);
	if (http_ok(resp, rep)) {
		http_reply_message(rep,
		        http_named_result(resp, (unsigned) req->call_case));
	}
}

void
http_named_read(struct http_slot *s, const char *uri, const char *token,
        unsigned call, const ProtobufCMessageDescriptor *desc,
        const char *name, struct http_reply *rep)
{
	static const char *const none[] = { NULL };
	struct http_query q;
	Clm__V1__Request *req = http_request(s);
	ProtobufCMessage *m = http_named_message(&s->arena, desc, name);
	if (req == NULL || m == NULL) {
		http_oom(rep);
		return;
	}
	if (!http_query_parse(&s->arena, uri, none, &q, rep)) {
		return;
	}
	http_named_set_call(req, call, m);
	http_call_reply(s, req, token, rep);
}

/* ---- the writes ---- */

/* Frees w's body (http_defer_send's fini). */
static void
http_named_fini(struct http_defer *d)
{
	struct http_named_write *w = (struct http_named_write *) d;
	if (w->body != NULL) {
		protobuf_c_message_free_unpacked(w->body, NULL);
	}
}

/*
 * The message w's reply prints, after the position: the Define's or the
 * Delete's reply, members of one oneof, so stored in the same place.
 */
static const ProtobufCMessage *
http_named_written(const struct http_defer *d, const Clm__V1__Response *resp)
{
	const struct http_named_write *w = (const struct http_named_write *) d;
	return http_named_result(resp, w->route->delete_call);
}

/* DELETE: no body, no parameters. */
static bool
http_named_delete(struct http_named_write *w, const char *name,
        Clm__V1__Request *q, struct http_reply *rep)
{
	ProtobufCMessage *m
	        = http_named_message(&w->d.arena, w->route->delete_req, name);
	if (m == NULL) {
		http_oom(rep);
		return false;
	}
	http_named_set_call(q, w->route->delete_call, m);
	return true;
}

void
http_named_write(struct server *srv, struct telemetry *tm, httpd_conn *c,
        const struct httpd_req *req, const struct http_named *route)
{
	struct http_named_write *w
	        = (struct http_named_write *) http_defer_new(sizeof(*w), srv,
	                tm, c, route->kind, http_named_written,
	                http_named_fini);
	if (w == NULL) {
		return;
	}
	w->route = route;
	struct http_reply rep = { .status = 500, .type = http_json };
	Clm__V1__Request *q = http_defer_request(&w->d, srv, req, &rep);
	if (q == NULL) {
		http_defer_send(&w->d, &rep);
		return;
	}
	static const char *const none[] = { NULL };
	struct http_query pq;
	const char *name = http_named_name(
	        &w->d.arena, route, req->path, req->path_len, &rep);
	bool ok = name != NULL
	        && http_query_parse(&w->d.arena, req->target, none, &pq, &rep);
	if (ok && name[0] == '\0') {
		http_error(&rep, 405, CLM_UNIMPLEMENTED, "",
		        "method '%s' not allowed on %s: use %s/NAME",
		        req->method, route->base, route->base);
		rep.allow = "GET, HEAD";
		ok = false;
	}
	if (ok) {
		ok = strcmp(req->method, "PUT") == 0
		        ? route->define(w, req, name, q, &rep)
		        : http_named_delete(w, name, q, &rep);
	}
	if (!ok) {
		http_defer_send(&w->d, &rep);
		return;
	}
	http_defer_dispatch(&w->d, q);
}
