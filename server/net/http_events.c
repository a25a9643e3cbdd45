/*
 * http_events: the HTTP event stream (docs/api.md "HTTP event stream"):
 * GET /api/events, Server-Sent Events carrying the LifecycleEvents of
 * the retained buffer (evring.h) and then the live ones, and POST
 * /api/events/token, the short-lived tokens a browser's EventSource
 * puts in the URL since it cannot send an Authorization header.
 *
 * Each event is formatted once, by the writer's publish callback
 * (http_publish), as the very bytes a stream sends; a stream copies
 * them into its own bounded queue (httpd_stream_write), so the writer
 * never waits for a client. A stream's queue holds the retained bytes
 * plus HTTP_EVENTS_SLACK, so a full replay always fits; a client that
 * falls further behind is dropped (it can resume with Last-Event-ID).
 *
 * The tokens are evtoken.h's: random, time-limited, and checked here
 * only, so no other route accepts one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls/auth.h"
#include "net/evring.h"
#include "net/evtoken.h"
#include "net/http_internal.h"
#include "net/pubsub.h"
#include "pbjson.h"
#include "server.h"
#include "util/clock.h"
#include "util/log.h"

/* Bytes a stream may queue beyond the retained events' own. */
#define HTTP_EVENTS_SLACK (64 * 1024)
/* The longest topic prefix a stream may ask for: any whole topic. */
#define HTTP_EVENTS_MAX_PREFIX PUBSUB_TOPIC_MAX

static const char http_events_type[] = "text/event-stream";
static const char http_events_ping[] = ": ping\n\n";

struct http_events {
	struct server *srv;
	struct telemetry *tm;
	struct evring *ring; /* NULL: no events retained (no streams) */
	size_t max_unsent, max_streams;
	int64_t heartbeat_ms, token_ttl_ms;
	pthread_mutex_t mu;
	size_t n_streams; /* guarded by mu */
	evtoken *tokens;
};

/* One stream: what its listener and its end need. */
struct http_events_stream {
	struct http_events *g;
	httpd_conn *c;
	struct evring_listener l;
	char prefix[HTTP_EVENTS_MAX_PREFIX + 1];
};

void
http_publish(struct evring *ring, const Clm__V1__LifecycleEvent *ev)
{
	char topic[PUBSUB_TOPIC_MAX];
	char *json;
	if (ring == NULL) {
		return; /* no --http: nothing to retain */
	}
	if (pubsub_topic(ev, topic, sizeof(topic)) == 0
	        || pbjson_print((const ProtobufCMessage *) ev, 0, &json)
	                != 0) {
		log_warn("cannot retain event %llu for /api/events",
		        (unsigned long long) ev->seq);
		return;
	}
	size_t cap = strlen(json) + 64;
	char *text = malloc(cap);
	int n = text != NULL ? snprintf(text, cap,
	                "id: %llu\nevent: lifecycle\ndata: %s\n\n",
	                (unsigned long long) ev->seq, json)
	                     : -1;
	free(json);
	if (n < 0 || (size_t) n >= cap) {
		free(text);
		log_warn("cannot retain event %llu for /api/events",
		        (unsigned long long) ev->seq);
		return;
	}
	evring_append(ring, ev->seq, topic, text, (size_t) n);
	free(text);
}

clm_err
http_events_open(struct server *srv, struct telemetry *tm,
        struct http_events **out, char *err, size_t errlen)
{
	struct http_events *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	const struct config *cfg = srv->cfg;
	g->srv = srv;
	g->tm = tm;
	g->ring = srv->events;
	g->max_unsent = (cfg != NULL ? (size_t) cfg->http_events_retained_bytes
	                             : 4 * 1024 * 1024)
	        + HTTP_EVENTS_SLACK;
	g->max_streams = cfg != NULL ? (size_t) cfg->http_max_streams : 16;
	g->heartbeat_ms
	        = (cfg != NULL ? cfg->http_stream_heartbeat : 15) * 1000;
	g->token_ttl_ms
	        = (cfg != NULL ? cfg->http_events_token_ttl : 60) * 1000;
	if (evtoken_open(g->token_ttl_ms, &g->tokens) != CLM_OK) {
		snprintf(err, errlen, "out of memory");
		free(g);
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_init(&g->mu, NULL);
	*out = g;
	return CLM_OK;
}

void
http_events_close(struct http_events *g)
{
	if (g == NULL) {
		return;
	}
	evtoken_close(g->tokens);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* ---- tokens ---- */

void
http_events_token(struct http_events *g, struct http_reply *rep)
{
	char tok[EVTOKEN_LEN + 1];
	if (evtoken_issue(g->tokens, clock_mono_ns() / 1000000, tok)
	        != CLM_OK) {
		http_error(rep, 503, CLM_UNAVAILABLE, "",
		        "cannot make a token: no randomness");
		return;
	}
	char *body = malloc(128);
	if (body == NULL) {
		http_oom(rep);
		return;
	}
	int n = snprintf(body, 128, "{\"token\":\"%s\",\"expires_in\":%lld}\n",
	        tok, (long long) (g->token_ttl_ms / 1000));
	rep->status = 200;
	rep->type = http_json;
	rep->body = body;
	rep->len = (size_t) n;
}

/* Whether req has "Authorization: Bearer T" with T a configured token. */
static bool
http_events_bearer_ok(struct http_events *g, const struct httpd_req *req)
{
	const char *v = httpd_req_header(req, "Authorization");
	if (v == NULL) {
		return false;
	}
	v += strspn(v, " \t");
	if (strncasecmp(v, "Bearer", 6) != 0
	        || (v[6] != ' ' && v[6] != '\t')) {
		return false;
	}
	v += 6;
	v += strspn(v, " \t");
	size_t n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
		n--;
	}
	return n > 0 && auth_check(g->srv->auth, v, n);
}

/* ---- the stream ---- */

/* A digit's value, or -1. */
static int
http_events_hex(char c)
{
	return c >= '0' && c <= '9'    ? c - '0'
	        : c >= 'a' && c <= 'f' ? c - 'a' + 10
	        : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                               : -1;
}

/*
 * Decodes the query value v (n bytes: %XX and '+') into out (cap bytes,
 * NUL-terminated); false when it does not fit or holds a NUL.
 */
static bool
http_events_unescape(const char *v, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char) v[i];
		if (c == '%' && i + 2 < n && http_events_hex(v[i + 1]) >= 0
		        && http_events_hex(v[i + 2]) >= 0) {
			c = http_events_hex(v[i + 1]) * 16
			        + http_events_hex(v[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0 || o + 1 >= cap) {
			return false;
		}
		out[o++] = (char) c;
	}
	out[o] = '\0';
	return true;
}

/* Parses a seq: decimal digits only; false otherwise. */
static bool
http_events_seq(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s == '\0' || strlen(s) > 19) {
		return false;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		v = v * 10 + (uint64_t) (*s - '0');
	}
	*out = v;
	return true;
}

/* The query of /api/events. */
struct http_events_query {
	char prefix[HTTP_EVENTS_MAX_PREFIX + 1];
	char last[24];
	char token[EVTOKEN_LEN + 1];
	bool has_last, has_token;
};

/*
 * Parses target's query into q; false with a 400 in rep for an unknown
 * or repeated parameter, or a value too long.
 */
static bool
http_events_parse(const char *target, struct http_events_query *q,
        struct http_reply *rep)
{
	memset(q, 0, sizeof(*q));
	const char *p = strchr(target, '?');
	bool seen[3] = { false, false, false };
	while (p != NULL && *++p != '\0') {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t kn = eq != NULL ? (size_t) (eq - p) : n;
		const char *v = eq != NULL ? eq + 1 : p + n;
		size_t vn = (size_t) (p + n - v);
		int k = kn == 6 && memcmp(p, "prefix", 6) == 0            ? 0
		        : kn == 13 && memcmp(p, "last_event_id", 13) == 0 ? 1
		        : kn == 5 && memcmp(p, "token", 5) == 0           ? 2
		                                                          : -1;
		char *out = k == 0 ? q->prefix : k == 1 ? q->last : q->token;
		size_t cap = k == 0 ? sizeof(q->prefix)
		        : k == 1    ? sizeof(q->last)
		                    : sizeof(q->token);
		if (k < 0 || seen[k]) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
			        "unknown or repeated parameter '%.*s': use prefix, last_event_id and token",
			        (int) (kn < 64 ? kn : 64), p);
			return false;
		}
		seen[k] = true;
		if (!http_events_unescape(v, vn, out, cap)) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT,
			        k == 0           ? "prefix"
			                : k == 1 ? "last_event_id"
			                         : "token",
			        "parameter '%s' is too long or holds a NUL",
			        k == 0           ? "prefix"
			                : k == 1 ? "last_event_id"
			                         : "token");
			return false;
		}
		p = strchr(p, '&');
	}
	q->has_last = seen[1];
	q->has_token = seen[2];
	return true;
}

/* evring's listener: one event (or a gap) into the stream. Ring's mu. */
static void
http_events_send(void *arg, const struct evring_entry *e)
{
	struct http_events_stream *es = arg;
	if (e->text != NULL) {
		httpd_stream_write(es->c, e->text, e->len);
		return;
	}
	char gap[160];
	int n = snprintf(gap, sizeof(gap),
	        "id: %llu\nevent: gap\ndata: {\"from\":\"%llu\",\"to\":\"%llu\"}\n\n",
	        (unsigned long long) e->lost_to,
	        (unsigned long long) e->lost_from,
	        (unsigned long long) e->lost_to);
	httpd_stream_write(es->c, gap, (size_t) n);
}

/* httpd's end of a stream: no event goes to it once this returns. */
static void
http_events_end(void *arg, bool slow)
{
	struct http_events_stream *es = arg;
	struct http_events *g = es->g;
	evring_unlisten(g->ring, &es->l);
	pthread_mutex_lock(&g->mu);
	g->n_streams--;
	telemetry_http_stream(g->tm, g->n_streams, slow);
	pthread_mutex_unlock(&g->mu);
	free(es);
}

bool
http_events_serve(struct http_events *g, httpd_conn *c,
        const struct httpd_req *req, struct http_reply *rep)
{
	struct http_events_query q;
	if (!http_events_parse(req->target, &q, rep)) {
		return false;
	}
	if (g->srv->auth != NULL && !http_events_bearer_ok(g, req)
	        && !(q.has_token
	                && evtoken_check(g->tokens, q.token, strlen(q.token),
	                        clock_mono_ns() / 1000000))) {
		http_error(rep, 401, CLM_UNAUTHENTICATED, "",
		        "missing, invalid or expired token: send 'Authorization: Bearer TOKEN', or ?token= from POST /api/events/token");
		rep->challenge = true;
		return false;
	}
	uint64_t after = UINT64_MAX;
	const char *last = httpd_req_header(req, "Last-Event-ID");
	if (last == NULL && q.has_last) {
		last = q.last;
	}
	if (last != NULL && !http_events_seq(last, &after)) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "last_event_id",
		        "the last event id must be a seq: decimal digits");
		return false;
	}
	if (strcmp(req->method, "HEAD") == 0 || g->ring == NULL) {
		rep->status = g->ring != NULL ? 200 : 503;
		rep->type = http_events_type;
		rep->body = (char *) "";
		rep->is_static = true;
		return false;
	}
	struct http_events_stream *es = calloc(1, sizeof(*es));
	pthread_mutex_lock(&g->mu);
	bool full = g->n_streams >= g->max_streams;
	if (!full && es != NULL) {
		g->n_streams++;
		telemetry_http_stream(g->tm, g->n_streams, false);
	}
	pthread_mutex_unlock(&g->mu);
	if (full || es == NULL) {
		free(es);
		http_error(rep, 503, CLM_UNAVAILABLE, "",
		        full ? "too many event streams (http_max_streams): try again later"
		             : "out of memory");
		return false;
	}
	es->g = g;
	es->c = c;
	memcpy(es->prefix, q.prefix, sizeof(es->prefix));
	struct httpd_res res = {
		.status = 200,
		.n_headers = 4,
		.headers = {
			{ "Content-Type", http_events_type },
			{ "Cache-Control", "no-store" },
			{ "X-Content-Type-Options", "nosniff" },
			/* nginx: pass each event on at once. */
			{ "X-Accel-Buffering", "no" },
		},
	};
	struct httpd_stream_conf sc = {
		.max_unsent = g->max_unsent,
		.heartbeat_ms = g->heartbeat_ms,
		.heartbeat = http_events_ping,
		.end = http_events_end,
		.arg = es,
	};
	if (httpd_stream_begin(c, &res, &sc) != CLM_OK) {
		http_events_end(es, false);
		http_oom(rep);
		return false;
	}
	evring_listen(
	        g->ring, &es->l, after, es->prefix, http_events_send, es);
	httpd_stream_start(c);
	return true;
}
