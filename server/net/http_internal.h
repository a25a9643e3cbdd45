/*
 * http_internal: what the dashboard server's files share (http.c: the
 * server's lifecycle, routing, auth and exposure, the page and /metrics;
 * http_api.c: JSON replies, query parameters and the /api endpoints;
 * http_ingest.c: the SDK ingest routes; http_customer.c: the customer
 * routes and /api/track; http_segments.c: the segment routes;
 * http_journeys.c: the journey routes; http_named.c: what those two
 * share; http_write.c: their deferred writes). Not for other modules: they use
 * http.h. Nothing here includes nng.h.
 *
 * Every function below runs in httpd's handler (an nng thread), holding
 * the slot it is given, unless it says otherwise.
 */
#ifndef CLM_HTTP_INTERNAL_H
#define CLM_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>

#include "calls/dispatch.h"
#include "clm/error.h"
#include "ingest/sdk.h"
#include "net/http.h"
#include "net/httpd.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/telemetry.h"

/*
 * The body an ingest route reads: the batch limit itself, for the bytes
 * as sent (a gzip body is inflated within the same limit, inflate.h).
 */
#define HTTP_INGEST_MAX_BODY SDK_MAX_BATCH_BYTES

/*
 * http_track_max_body returns the body POST /api/track may carry, as
 * sent and once inflated: max_message_bytes (4 MiB), what one Track may
 * be over NNG (docs/api.md, "HTTP API"). Any thread.
 */
size_t http_track_max_body(const struct server *srv);

/* The content type of JSON replies. */
extern const char http_json[];

/* Query parameters a request may carry. */
#define HTTP_MAX_PARAMS 10

/* One query parameter, decoded (arena memory). */
struct http_param {
	const char *key, *val;
};

/* A request's query parameters, each named once (http_query_parse). */
struct http_query {
	struct http_param p[HTTP_MAX_PARAMS];
	int n;
};

/* One request's working set: its reader, arena and dispatch state. */
struct http_slot {
	bool busy; /* guarded by http.mu */
	arena arena;
	store_reader *reader;
	Clm__V1__Response resp;
	struct call_req dr;
};

/* A response being built: status, content type and a malloc'd body. */
struct http_reply {
	int status;
	const char *type;
	char *body;
	size_t len;
	bool is_static;       /* body points to static memory */
	bool challenge;       /* 401: add WWW-Authenticate */
	bool challenge_basic; /* its scheme is Basic (else Bearer) */
	const char *allow;    /* 405: the Allow header (static) */
};

/*
 * http_bearer returns the token of req's "Authorization: Bearer TOKEN"
 * (scheme in any case), copied into a, or NULL when there is none. Any
 * thread.
 */
const char *http_bearer(const struct httpd_req *req, arena *a);

/*
 * http_admit runs the Host and origin checks of hostcheck.h on req:
 * false with the refusal (400, 403 or 421) in rep.
 */
bool http_admit(http *h, const struct httpd_req *req, struct http_reply *rep);

/*
 * http_respond turns rep into httpd's res: its status, body (res takes
 * it) and the headers every reply gets (Content-Type, Cache-Control,
 * X-Content-Type-Options), then the page's, a 401's and a 405's. Any
 * thread.
 */
void http_respond(struct http_reply *rep, struct httpd_res *res);

/*
 * http_json_string appends s to f as a JSON string (quoted, escaped;
 * invalid UTF-8 becomes U+FFFD). Any thread.
 */
void http_json_string(FILE *f, const char *s);

/*
 * http_reply_stream makes the text an open_memstream f wrote (text, len:
 * the stream's) rep's body, closing f; a 500 "out of memory" when f is
 * NULL or failed. Any thread.
 */
void http_reply_stream(
        struct http_reply *rep, FILE *f, char **text, size_t *len);

/*
 * http_error makes rep an error reply with the given HTTP status: the JSON
 * {"code": NAME, "message": ..., "field": ...}, NAME being code's
 * clm_errname and the message printf-formatted (and made valid UTF-8).
 * The body is malloc'd, or static when memory ran out (then a 500).
 */
void http_error(struct http_reply *rep, int status, clm_err code,
        const char *field, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* http_oom makes rep the 503 RESOURCE_EXHAUSTED "out of memory" reply. */
void http_oom(struct http_reply *rep);

/*
 * http_parse_u32 parses s, decimal digits only (at most 10, no sign or
 * spaces), as a uint32. Returns false, leaving *out alone, when it is not
 * one.
 */
bool http_parse_u32(const char *s, uint32_t *out);

/*
 * http_unescape decodes s[0..n) ("%XX" escapes; with plus, '+' for a
 * space) into a, NUL-terminated. Returns NULL for a malformed escape, an
 * encoded NUL (then *nul is set: a C string would end there), or when
 * memory ran out.
 */
char *http_unescape(arena *a, const char *s, size_t n, bool plus, bool *nul);

/*
 * http_query_parse splits the query string of uri (a request target) into
 * q, decoded into a. Each name of allowed (NULL-terminated) may appear
 * once; an unknown, repeated or malformed parameter is a 400 in rep that
 * names it, and false.
 */
bool http_query_parse(arena *a, const char *uri, const char *const *allowed,
        struct http_query *q, struct http_reply *rep);

/*
 * http_query_get returns the value of parameter key of q, or NULL when it
 * is absent or empty.
 */
const char *http_query_get(const struct http_query *q, const char *key);

/*
 * http_parse_date parses YYYY-MM-DD (1970 .. 9999) into unix ms at 00:00
 * UTC. Returns false, leaving *ms alone, when s is not such a date.
 */
bool http_parse_date(const char *s, int64_t *ms);

/*
 * http_u32_param reads the uint32 parameter key of q into *out (0 when
 * absent): false with a 400 naming key in rep when it is not one.
 */
bool http_u32_param(const struct http_query *q, const char *key, uint32_t *out,
        struct http_reply *rep);

/*
 * http_bool_param reads the boolean parameter key of q into *out: 1 or
 * true, 0 or false, absent: false; anything else is false with a 400
 * naming key in rep.
 */
bool http_bool_param(const struct http_query *q, const char *key, bool *out,
        struct http_reply *rep);

/*
 * http_channel reads the channel parameter of q (a Channel name, any
 * case; absent, "" or "all": CHANNEL_UNSPECIFIED) into *out: false with
 * a 400 in rep when it names no Channel.
 */
bool http_channel(const struct http_query *q, arena *a, Clm__V1__Channel *out,
        struct http_reply *rep);

/*
 * http_ok returns whether resp is OK; otherwise it puts resp's error in
 * rep (http_status_error).
 */
bool http_ok(const Clm__V1__Response *resp, struct http_reply *rep);

/*
 * http_status_error makes the error Status st of a call an HTTP error in
 * rep: the status of its code (400, 401, 403, 404, 503 or 500) and its
 * first violation's field renamed to the query parameter it came from.
 * Any thread.
 */
void http_status_error(struct http_reply *rep, const Clm__V1__Status *st);

/*
 * http_reply_message makes m, printed as proto3 JSON, rep's 200 body (a
 * 500 when it cannot be printed). Any thread.
 */
void http_reply_message(struct http_reply *rep, const ProtobufCMessage *m);

/*
 * http_request returns a new, initialized Request in s's arena (valid
 * until the slot is given back), or NULL when memory is exhausted.
 */
Clm__V1__Request *http_request(struct http_slot *s);

/*
 * http_call runs req (arena memory, the call already set) through
 * dispatch's read path with token (NULL: none) as its auth token. Returns
 * the response, which lives in s until its next call.
 */
const Clm__V1__Response *http_call(
        struct http_slot *s, Clm__V1__Request *req, const char *token);

/*
 * http_call_status runs ServerStatus as http_call does; NULL when memory
 * is exhausted (the /api/status endpoint and the Prometheus gauges).
 */
const Clm__V1__Response *http_call_status(
        struct http_slot *s, const char *token);

/*
 * The /api endpoints. Each parses the query string of uri (a request
 * target, maybe absolute), refusing unknown or repeated parameters with a
 * 400, makes its call through dispatch with token, and puts the reply, or
 * the error, in rep:
 *
 * http_status        /api/status             StatusReply, no parameters
 * http_metrics       /api/metrics            MetricsReply
 * http_cohorts       /api/cohorts            CohortReply
 * http_experiments   /api/experiments[/ID]   every experiment, or one's
 *                                            ExperimentResultsReply
 *
 * The caller has checked token against the configured tokens already:
 * the experiment listing reads the store without dispatch.
 */
void http_status(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep);
void http_metrics(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep);
void http_cohorts(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep);
void http_experiments(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep);

/* ---- the customer routes and /api/track (http_customer.c) ---- */

/*
 * http_customer_get serves GET /api/customers/ID (the Customer; as_of)
 * and GET /api/customers/ID/recommendations (the RecommendReply; the
 * Recommend parameters) through dispatch's read path, the id taken from
 * the raw target uri, as the other /api endpoints do (token checked by
 * the caller).
 */
void http_customer_get(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep);

/*
 * http_customer_write handles req, which came on c to POST
 * /api/customers/ID/recommendations?claim=1 or POST /api/track (kind),
 * its Host and origin already admitted: the token, the parameters and
 * the body are checked at once, then the write goes to the writer and
 * the request is answered through httpd_reply once it is done (or at
 * once when refused), counted under kind. srv's configuration gives the
 * limits and the deadline. httpd's handler, which returns false
 * (deferred) after it.
 */
void http_customer_write(struct server *srv, struct telemetry *tm,
        httpd_conn *c, const struct httpd_req *req,
        enum telemetry_http_handler kind);

/* ---- the deferred writes (http_write.c) ---- */

struct http_defer;

/*
 * The route's part of a deferred write: result picks the message of a
 * successful Response that the reply prints (http_write_result); fini,
 * or NULL, frees what the route holds beyond the defer itself, just
 * before the defer is freed.
 */
typedef const ProtobufCMessage *(*http_defer_result)(
        const struct http_defer *d, const Clm__V1__Response *resp);
typedef void (*http_defer_fini)(struct http_defer *d);

/*
 * One write in flight, from its request to its answer: the first member
 * of a route's own state (http_customer.c, http_named.c), which casts
 * the defer back to it.
 */
struct http_defer {
	struct telemetry *tm;
	enum telemetry_http_handler kind; /* what the reply is counted as */
	httpd_conn *c;
	arena arena; /* the request's, freed with the defer */
	Clm__V1__Response resp;
	struct call_req dr;
	http_defer_result result;
	http_defer_fini fini;
};

/*
 * http_defer_new allocates size bytes (a route's state, its struct
 * http_defer first) zeroed, for req on c, counted under kind, and fills
 * the defer in: its arena, its dispatch request to srv, result and fini.
 * NULL when out of memory, with the 500 answered and counted.
 */
struct http_defer *http_defer_new(size_t size, struct server *srv,
        struct telemetry *tm, httpd_conn *c, enum telemetry_http_handler kind,
        http_defer_result result, http_defer_fini fini);

/*
 * http_defer_request checks req's bearer token against srv's auth and
 * returns a new Request in d's arena carrying it, with the request id
 * "http", for the route to fill in. NULL with the 401 (or the 500 when
 * out of memory) in rep.
 */
Clm__V1__Request *http_defer_request(struct http_defer *d,
        const struct server *srv, const struct httpd_req *req,
        struct http_reply *rep);

/*
 * http_defer_send answers d's request with rep, counts it and frees d
 * (fini first). The reply goes last: once it is out, httpd_close may
 * return, so nothing of d may be touched after it. Any thread.
 */
void http_defer_send(struct http_defer *d, struct http_reply *rep);

/*
 * http_defer_dispatch sends q, d's Request, to the writer with the
 * deadline http_request_timeout. The answer, {"position": "N", ...the
 * result's members} or the error, goes out through http_defer_send:
 * from an nng thread (httpd_resume) once the writer is done, or at once
 * when dispatch refuses it. d is not the caller's after it.
 */
void http_defer_dispatch(struct http_defer *d, Clm__V1__Request *q);

/*
 * http_write_result makes m, printed as proto3 JSON with the Response's
 * journal position first, rep's 200 body: {"position": "N", ...m's
 * members} (a uint64 as a string, as proto3 JSON writes it); a 500 when
 * it cannot be printed. Any thread.
 */
void http_write_result(
        struct http_reply *rep, const ProtobufCMessage *m, uint64_t position);

/* ---- named definitions: segments and journeys (http_named.c) ---- */

struct http_named_write;

/*
 * One kind of named definition's routes: BASE, BASE/NAME. The calls are
 * given by their number in the Request's oneof, which is their reply's
 * in the Response's.
 */
struct http_named {
	const char *base; /* "/api/segments" */
	const char *noun; /* "segment": what one is called in errors */
	enum telemetry_http_handler kind; /* what the writes count as */
	unsigned delete_call; /* CLM__V1__REQUEST__CALL_DELETE_SEGMENT */
	const ProtobufCMessageDescriptor *delete_req; /* its request */
	/*
	 * PUT's body (req's) into q's Define call, w's arena holding what
	 * it allocates (w->body may hold a parsed body the call borrows
	 * from: freed with w). False with the 400 in rep.
	 */
	bool (*define)(struct http_named_write *w, const struct httpd_req *req,
	        const char *name, Clm__V1__Request *q, struct http_reply *rep);
};

/* One write of a named definition in flight (http_named_write). */
struct http_named_write {
	struct http_defer d; /* first: http_write.c's part */
	const struct http_named *route;
	ProtobufCMessage *body; /* a parsed body (pbjson's), or NULL */
};

/*
 * http_named_name returns the NAME of path (path_len bytes, httpd's
 * decoded path) under route's base, copied into a: "" for the base
 * itself, NULL (a 404 or 400 in rep) for a deeper path or a NUL. Any
 * thread.
 */
const char *http_named_name(arena *a, const struct http_named *route,
        const char *path, size_t path_len, struct http_reply *rep);

/*
 * http_call_reply runs req (arena memory, the call already set) as
 * http_call does and puts in rep the result member of the call's number
 * (proto3 JSON), or the error: a read's whole answer (of any route).
 */
void http_call_reply(struct http_slot *s, Clm__V1__Request *req,
        const char *token, struct http_reply *rep);

/*
 * http_named_read serves a read of uri that takes no query parameters:
 * a new request message of desc (its "name" field set to name unless
 * NULL) as the call numbered call, its reply or the error in rep
 * (http_call_reply). A query parameter is a 400.
 */
void http_named_read(struct http_slot *s, const char *uri, const char *token,
        unsigned call, const ProtobufCMessageDescriptor *desc,
        const char *name, struct http_reply *rep);

/*
 * http_named_write handles req, a PUT (route->define) or DELETE (the
 * call route->delete_call) of route's BASE/NAME that came on c, its Host
 * and origin already admitted, as http_customer_write does: checked at
 * once, then answered through httpd_reply once the writer is done, with
 * the reply's position first, counted under route->kind. A write on BASE
 * itself is a 405. httpd's handler, which returns false (deferred) after
 * it.
 */
void http_named_write(struct server *srv, struct telemetry *tm, httpd_conn *c,
        const struct httpd_req *req, const struct http_named *route);

/* ---- the segment routes (http_segments.c) ---- */

/*
 * http_segments_get serves GET /api/segments (the ListSegmentsReply, no
 * parameters) and GET /api/segments/NAME (the GetSegmentReply: members,
 * page_size, page_token, as_of, include_customers) of hr through
 * dispatch's read path (token checked by the caller).
 */
void http_segments_get(struct http_slot *s, const struct httpd_req *hr,
        const char *token, struct http_reply *rep);

/*
 * http_segments_write handles req, a PUT (DefineSegment, its body
 * {"expression": "..."}) or DELETE (DeleteSegment) of /api/segments/NAME
 * that came on c, its Host and origin already admitted, as
 * http_customer_write does: checked at once, then answered through
 * httpd_reply once the writer is done, with the reply's position first,
 * counted under TELEMETRY_HTTP_SEGMENTS. httpd's handler, which returns
 * false (deferred) after it.
 */
void http_segments_write(struct server *srv, struct telemetry *tm,
        httpd_conn *c, const struct httpd_req *req);

/* ---- the journey routes (http_journeys.c) ---- */

/*
 * http_journeys_get serves GET /api/journeys (the ListJourneysReply, no
 * parameters) and GET /api/journeys/NAME (the GetJourneyReply) of hr
 * through dispatch's read path (token checked by the caller).
 */
void http_journeys_get(struct http_slot *s, const struct httpd_req *hr,
        const char *token, struct http_reply *rep);

/*
 * http_journey_messages serves GET /api/journey-messages (the
 * JourneyMessagesReply; after, limit, journey) of uri the same way.
 */
void http_journey_messages(struct http_slot *s, const char *uri,
        const char *token, struct http_reply *rep);

/*
 * http_journeys_write handles req, a PUT (DefineJourney, its body the
 * definition's JSON, whose name must be the path's or absent) or DELETE
 * (DeleteJourney) of /api/journeys/NAME, as http_segments_write does,
 * counted under TELEMETRY_HTTP_JOURNEYS. httpd's handler, which returns
 * false (deferred) after it.
 */
void http_journeys_write(struct server *srv, struct telemetry *tm,
        httpd_conn *c, const struct httpd_req *req);

/*
 * http_journeys_metrics writes the journeys' series of /metrics
 * (docs/journeys.md "Metrics") to f, read with ListJourneys on s as the
 * caller's token: nothing when there are none or the read fails.
 */
void http_journeys_metrics(struct http_slot *s, const char *token, FILE *f);

/* ---- the SDK ingest routes (http_ingest.c) ---- */

struct http_ingest;

/*
 * http_ingest_open readies the ingest routes of srv: their pool of
 * request states and the event-name table (sdk_map_load). request_ms is
 * http_request_timeout: the writes of a request not applied within it
 * of its arrival are not applied (503). Counts into tm. On failure err
 * says why.
 */
clm_err http_ingest_open(struct server *srv, struct telemetry *tm,
        int64_t request_ms, struct http_ingest **out, char *err,
        size_t errlen);

/*
 * http_ingest_close frees g once no request uses it any more (httpd_close
 * has returned). NULL is a no-op.
 */
void http_ingest_close(struct http_ingest *g);

/*
 * http_ingest_serve handles req, which came on c to the ingest route of
 * kind (its Host and origin already admitted), and answers it through
 * httpd_reply, now or once its writes are done, counting it under kind.
 * httpd's handler, which returns false (deferred) after it.
 */
void http_ingest_serve(struct http_ingest *g, httpd_conn *c,
        const struct httpd_req *req, enum telemetry_http_handler kind);

/* ---- the event stream (http_events.c) ---- */

struct http_events;

/*
 * http_events_open readies GET /api/events and POST /api/events/token
 * of srv (its retained events, srv->events; its settings, srv->cfg,
 * which may be NULL: the defaults). Counts into tm. On failure err says
 * why.
 */
clm_err http_events_open(struct server *srv, struct telemetry *tm,
        struct http_events **out, char *err, size_t errlen);

/*
 * http_events_close frees g once no stream is left (httpd_close has
 * returned). NULL is a no-op.
 */
void http_events_close(struct http_events *g);

/*
 * http_events_serve handles req, a GET or HEAD of /api/events that came
 * on c (its Host and origin admitted): checks its token (Bearer, or
 * ?token= from http_events_token) and its parameters, then turns c into
 * a Server-Sent Events stream and returns true: the stream answers the
 * request itself (httpd's handler returns false, deferred). Or it
 * returns false with the reply (401, 400, 503, or HEAD's 200) in rep.
 */
bool http_events_serve(struct http_events *g, httpd_conn *c,
        const struct httpd_req *req, struct http_reply *rep);

/*
 * http_events_token answers POST /api/events/token (its Bearer token
 * already checked): a new short-lived token for ?token= of /api/events,
 * {"token": "...", "expires_in": SECONDS}.
 */
void http_events_token(struct http_events *g, struct http_reply *rep);

#endif /* CLM_HTTP_INTERNAL_H */
