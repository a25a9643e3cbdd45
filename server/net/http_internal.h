/*
 * http_internal: what the dashboard server's files share (http.c: the
 * server's lifecycle, routing, auth and exposure, the page and /metrics;
 * http_api.c: JSON replies, query parameters and the /api endpoints).
 * Not for other modules: they use http.h. Nothing here includes nng.h.
 *
 * Every function below runs in httpd's handler (an nng thread), holding
 * the slot it is given.
 */
#ifndef CLM_HTTP_INTERNAL_H
#define CLM_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls/dispatch.h"
#include "clm/error.h"
#include "store/store.h"
#include "util/arena.h"

/* The content type of JSON replies. */
extern const char http_json[];

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
	bool is_static; /* body points to static memory */
	bool challenge; /* 401: add WWW-Authenticate */
	bool allow;     /* 405: add Allow */
};

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

#endif /* CLM_HTTP_INTERNAL_H */
