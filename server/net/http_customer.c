/*
 * http_customer: the HTTP API's customer routes and /api/track
 * (docs/api.md, "HTTP API"):
 *
 *   GET  /api/customers/ID                    the Customer (as_of)
 *   GET  /api/customers/ID/recommendations    the RecommendReply
 *   POST /api/customers/ID/recommendations?claim=1   a claim (a write)
 *   POST /api/track                           Touchpoints, as JSON
 *
 * The id is taken from the raw request target, never from httpd's
 * decoded path: nng decodes %2F and %00 before routing, and an id may
 * hold a '/'. So a literal '/' after the id can only start
 * "/recommendations", and "%2F" is a '/' of the id; an escape must be
 * "%" and two hex digits (else 400), and %00 is refused (400): a C string
 * would end there.
 *
 * The reads go through dispatch_read on the caller's slot, as the other
 * /api endpoints do. The writes are deferred (http_write.c): they do not
 * block an nng thread, and the job carries a deadline of
 * http_request_timeout, so the wait is bounded.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls/dispatch.h"
#include "calls/validate.h"
#include "net/http_internal.h"
#include "net/inflate.h"
#include "pbjson.h"

#define HTTP_CUSTOMER_BASE "/api/customers/"
#define HTTP_CUSTOMER_RECS "/recommendations"

/* One write request in flight, from its parameters to its answer. */
struct http_write {
	struct http_defer d;   /* first: http_write.c's part */
	char *plain;           /* the inflated body (malloc'd), or NULL */
	ProtobufCMessage **tp; /* the parsed touchpoints (pbjson's) */
	size_t n_tp;
	struct server *srv; /* its track_slots slot is taken, or NULL */
};

/* POST /api/track bodies read or in the writer at once (503 past it). */
#define HTTP_TRACK_SLOTS 2

/* ---- the id ---- */

static int
http_customer_hex(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/*
 * The customer id of the raw target uri, decoded into a, and whether the
 * path asks for the recommendations. NULL with the 400 or 404 in rep.
 */
static const char *
http_customer_id(arena *a, const char *uri, bool *recs, struct http_reply *rep)
{
	const char *path = uri;
	if (path[0] != '/') {
		const char *p = strstr(uri, "://");
		p = p != NULL ? strchr(p + 3, '/') : NULL;
		path = p != NULL ? p : "/";
	}
	size_t plen = strcspn(path, "?#");
	size_t base = strlen(HTTP_CUSTOMER_BASE);
	if (plen <= base || strncmp(path, HTTP_CUSTOMER_BASE, base) != 0) {
		http_error(rep, 404, CLM_NOT_FOUND, "id",
		        "no customer id: use /api/customers/ID, with ID percent-encoded");
		return NULL;
	}
	const char *raw = path + base;
	size_t n = plen - base;
	const char *slash = memchr(raw, '/', n);
	*recs = false;
	if (slash != NULL) {
		size_t rest = n - (size_t) (slash - raw);
		if (rest != strlen(HTTP_CUSTOMER_RECS)
		        || strncmp(slash, HTTP_CUSTOMER_RECS, rest) != 0
		        || slash == raw) {
			http_error(rep, 404, CLM_NOT_FOUND, "",
			        "not found: use /api/customers/ID or /api/customers/ID/recommendations (a '/' in ID is sent as %%2F)");
			return NULL;
		}
		*recs = true;
		n = (size_t) (slash - raw);
	}
	char *id = arena_alloc(a, n + 1);
	if (id == NULL) {
		http_oom(rep);
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (raw[i] != '%') {
			id[k++] = raw[i];
			continue;
		}
		int hi = i + 2 < n ? http_customer_hex(raw[i + 1]) : -1;
		int lo = i + 2 < n ? http_customer_hex(raw[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "id",
			        "id: invalid percent escape at byte %zu: use %%XX with two hex digits",
			        i);
			return NULL;
		}
		if (hi == 0 && lo == 0) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "id",
			        "id: must not contain NUL (%%00)");
			return NULL;
		}
		id[k++] = (char) (hi * 16 + lo);
		i += 2;
	}
	id[k] = '\0';
	return id;
}

/* ---- parameters ---- */

/* A time parameter: unix ms (digits) or YYYY-MM-DD; absent: 0. */
static bool
http_customer_time(const struct http_query *q, const char *key, int64_t *out,
        struct http_reply *rep)
{
	const char *v = http_query_get(q, key);
	*out = 0;
	if (v == NULL) {
		return true;
	}
	size_t n = strspn(v, "0123456789");
	if (n > 0 && v[n] == '\0' && n <= 15) {
		*out = strtoll(v, NULL, 10);
		return true;
	}
	if (http_parse_date(v, out)) {
		return true;
	}
	http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
	        "%s: '%s' is not a time: use unix ms or YYYY-MM-DD", key, v);
	return false;
}

/* A coordinate parameter in [-lim, lim]. */
static bool
http_customer_coord(const struct http_query *q, const char *key, double lim,
        double *out, struct http_reply *rep)
{
	const char *v = http_query_get(q, key);
	char *end;
	*out = v != NULL ? strtod(v, &end) : 0;
	if (v == NULL || *end != '\0' || end == v || !isfinite(*out)
	        || *out < -lim || *out > lim) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
		        "%s: '%s' is not a number from %g to %g", key,
		        v != NULL ? v : "", -lim, lim);
		return false;
	}
	return true;
}

/*
 * The Recommend of q for id in a: limit, lat and lon (together), cart
 * (item ids separated by commas), channel, now, include_suppressed.
 * NULL with the 400 in rep.
 */
static Clm__V1__RecommendRequest *
http_customer_recommend(arena *a, const struct http_query *q, const char *id,
        struct http_reply *rep)
{
	Clm__V1__RecommendRequest *r = arena_alloc(a, sizeof(*r));
	if (r == NULL) {
		http_oom(rep);
		return NULL;
	}
	clm__v1__recommend_request__init(r);
	r->customer_id = (char *) id;
	bool suppressed;
	if (!http_u32_param(q, "limit", &r->limit, rep)
	        || !http_channel(q, a, &r->channel, rep)
	        || !http_customer_time(q, "now", &r->now_ms, rep)
	        || !http_bool_param(
	                q, "include_suppressed", &suppressed, rep)) {
		return NULL;
	}
	r->include_suppressed = suppressed;
	bool lat = http_query_get(q, "lat") != NULL;
	bool lon = http_query_get(q, "lon") != NULL;
	if (lat != lon) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, lat ? "lon" : "lat",
		        "lat and lon go together");
		return NULL;
	}
	if (lat) {
		Clm__V1__GeoPoint *g = arena_alloc(a, sizeof(*g));
		if (g == NULL) {
			http_oom(rep);
			return NULL;
		}
		clm__v1__geo_point__init(g);
		if (!http_customer_coord(q, "lat", 90, &g->lat, rep)
		        || !http_customer_coord(q, "lon", 180, &g->lon, rep)) {
			return NULL;
		}
		r->location = g;
	}
	const char *cart = http_query_get(q, "cart");
	if (cart != NULL) {
		size_t n = 1;
		for (const char *p = cart; *p != '\0'; p++) {
			n += *p == ',';
		}
		char **items = arena_alloc(a, n * sizeof(*items));
		char *copy = arena_strdup(a, cart);
		if (items == NULL || copy == NULL) {
			http_oom(rep);
			return NULL;
		}
		size_t k = 0;
		for (char *p = copy; p != NULL;) {
			char *comma = strchr(p, ',');
			if (comma != NULL) {
				*comma = '\0';
			}
			if (*p != '\0') {
				items[k++] = p;
			}
			p = comma != NULL ? comma + 1 : NULL;
		}
		r->cart_items = items;
		r->n_cart_items = k;
	}
	return r;
}

/* ---- the reads ---- */

void
http_customer_get(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep)
{
	static const char *const customer[] = { "as_of", NULL };
	static const char *const recs[] = { "limit", "lat", "lon", "cart",
		"channel", "now", "include_suppressed", "claim", NULL };
	bool want_recs;
	const char *id = http_customer_id(&s->arena, uri, &want_recs, rep);
	struct http_query q;
	if (id == NULL
	        || !http_query_parse(&s->arena, uri,
	                want_recs ? recs : customer, &q, rep)) {
		return;
	}
	Clm__V1__Request *req = http_request(s);
	if (req == NULL) {
		http_oom(rep);
		return;
	}
	if (want_recs) {
		if (http_query_get(&q, "claim") != NULL) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "claim",
			        "claim: a claim is a write: send it as POST");
			return;
		}
		req->recommend
		        = http_customer_recommend(&s->arena, &q, id, rep);
		if (req->recommend == NULL) {
			return;
		}
		req->call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
		const Clm__V1__Response *resp = http_call(s, req, token);
		if (http_ok(resp, rep)) {
			http_reply_message(rep,
			        (const ProtobufCMessage *) resp->recommend);
		}
		return;
	}
	Clm__V1__GetCustomerRequest *g = arena_alloc(&s->arena, sizeof(*g));
	if (g == NULL) {
		http_oom(rep);
		return;
	}
	clm__v1__get_customer_request__init(g);
	g->customer_id = (char *) id;
	if (!http_customer_time(&q, "as_of", &g->as_of_ms, rep)) {
		return;
	}
	req->call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	req->get_customer = g;
	const Clm__V1__Response *resp = http_call(s, req, token);
	if (http_ok(resp, rep)) {
		http_reply_message(
		        rep, (const ProtobufCMessage *) resp->customer);
	}
}

/* ---- the writes ---- */

size_t
http_track_max_body(const struct server *srv)
{
	return srv->cfg != NULL ? (size_t) srv->cfg->max_message_bytes
	                        : 4u * 1024 * 1024;
}

/* Frees what w holds beyond its defer (http_defer_send's fini). */
static void
http_write_fini(struct http_defer *d)
{
	struct http_write *w = (struct http_write *) d;
	for (size_t i = 0; i < w->n_tp; i++) {
		protobuf_c_message_free_unpacked(w->tp[i], NULL);
	}
	free(w->tp);
	free(w->plain);
	if (w->srv != NULL) {
		atomic_fetch_sub(&w->srv->http_tracks, 1);
	}
}

/* The message w's reply prints: the TrackReply or the RecommendReply. */
static const ProtobufCMessage *
http_write_message(const struct http_defer *d, const Clm__V1__Response *resp)
{
	return d->kind == TELEMETRY_HTTP_TRACK
	        ? (const ProtobufCMessage *) resp->track
	        : (const ProtobufCMessage *) resp->recommend;
}

/*
 * The claim's Recommend, from uri's parameters and the idempotency key
 * (the Idempotency-Key header or the request_id parameter, exactly one
 * of them) into q. False with the 400 or 404 in rep.
 */
static bool
http_write_claim(struct http_write *w, const struct server *srv,
        const struct httpd_req *req, Clm__V1__Request *q,
        struct http_reply *rep)
{
	static const char *const allowed[]
	        = { "claim", "request_id", "limit", "lat", "lon", "cart",
		          "channel", "now", "include_suppressed", NULL };
	bool recs;
	struct http_query pq;
	const char *id
	        = http_customer_id(&w->d.arena, req->target, &recs, rep);
	if (id == NULL
	        || !http_query_parse(
	                &w->d.arena, req->target, allowed, &pq, rep)) {
		return false;
	}
	if (!recs) {
		http_error(rep, 404, CLM_NOT_FOUND, "",
		        "not found: a claim is POST /api/customers/ID/recommendations?claim=1");
		return false;
	}
	bool claim;
	if (!http_bool_param(&pq, "claim", &claim, rep)) {
		return false;
	}
	if (!claim) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "claim",
		        "claim: POST claims the recommendations: add claim=1");
		return false;
	}
	const char *hkey = httpd_req_header(req, "Idempotency-Key");
	const char *pkey = http_query_get(&pq, "request_id");
	if (httpd_req_header_count(req, "Idempotency-Key") > 1
	        || (hkey != NULL && pkey != NULL)) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "request_id",
		        "give the claim's key once: the Idempotency-Key header or request_id");
		return false;
	}
	const char *key = hkey != NULL ? hkey : pkey;
	if (key == NULL || key[0] == '\0') {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "request_id",
		        "a claim needs a key that makes its retry safe: send an Idempotency-Key header (or request_id=KEY)");
		return false;
	}
	/*
	 * The key becomes part of an LMDB key and of the claim's event ids,
	 * so it is an id like the customer's: 1..max_id_bytes of printable
	 * UTF-8.
	 */
	const char *why = validate_id(key, srv->limits.max_id_bytes);
	if (why != NULL) {
		const char *name
		        = hkey != NULL ? "Idempotency-Key" : "request_id";
		if (strcmp(why, "is too long") == 0) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, name,
			        "%s is %zu bytes, the limit is %zu (max_id_bytes)",
			        name, strlen(key), srv->limits.max_id_bytes);
		} else {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, name,
			        "%s %s", name, why);
		}
		return false;
	}
	q->recommend = http_customer_recommend(&w->d.arena, &pq, id, rep);
	if (q->recommend == NULL) {
		return false;
	}
	q->recommend->claim = true;
	q->request_id = arena_strdup(&w->d.arena, key);
	if (q->request_id == NULL) {
		http_oom(rep);
		return false;
	}
	q->call_case = CLM__V1__REQUEST__CALL_RECOMMEND;
	return true;
}

/* Notes m (pbjson's) for http_write_fini to free. */
static bool
http_write_keep(struct http_write *w, ProtobufCMessage *m)
{
	ProtobufCMessage **v = realloc(w->tp, (w->n_tp + 1) * sizeof(*v));
	if (v == NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
		return false;
	}
	w->tp = v;
	w->tp[w->n_tp++] = m;
	return true;
}

/*
 * What pbjson may allocate for one JSON value, at most (http_track_scan):
 * an object becomes a message (a Touchpoint is about 250 bytes) or a map;
 * a string is a malloc'd copy and a pointer, or a map entry with its key;
 * any other array element a slot in a realloc'd array. The string's own
 * bytes are counted once more through the body's length.
 */
#define HTTP_TRACK_COST_OBJECT  512u
#define HTTP_TRACK_COST_STRING  96u
#define HTTP_TRACK_COST_ELEMENT 16u

/*
 * Scans body[0..len) without building anything: *n the touchpoints it
 * holds (the top-level array's elements when array, else the objects at
 * the top level: one, or one per NDJSON line) and *cost what parsing it
 * may allocate, by the costs above plus len. Malformed JSON is counted as
 * well as it goes; the parse refuses it afterwards.
 */
static void
http_track_scan(
        const char *body, size_t len, bool array, size_t *n, size_t *cost)
{
	size_t depth = 0, count = 0, c = len;
	bool str = false, esc = false, empty = true;
	for (size_t i = 0; i < len; i++) {
		char ch = body[i];
		if (str) {
			if (esc) {
				esc = false;
			} else if (ch == '\\') {
				esc = true;
			} else if (ch == '"') {
				str = false;
			}
			continue;
		}
		switch (ch) {
		case '"':
			str = true;
			c += HTTP_TRACK_COST_STRING;
			empty &= depth != 1;
			break;
		case '{':
		case '[':
			if (ch == '{') {
				c += HTTP_TRACK_COST_OBJECT;
				count += !array && depth == 0;
			}
			empty &= depth != 1;
			depth++;
			break;
		case '}':
		case ']':
			depth -= depth > 0;
			break;
		case ',':
			c += HTTP_TRACK_COST_ELEMENT;
			count += array && depth == 1;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		default:
			empty &= depth != 1;
			break;
		}
	}
	*n = array ? count + !empty : count;
	*cost = c;
}

/*
 * The TrackRequest of body[0..len), into q. The first byte that is not
 * blank decides the form: '[' an array of Touchpoints; '{' one
 * Touchpoint object (it may span lines), or else NDJSON, one per
 * non-blank line. A body pbjson cannot read is refused whole (400 naming
 * the item or line and the field); nothing is recorded then.
 */
static bool
http_write_track_body(struct http_write *w, const char *body, size_t len,
        size_t max, Clm__V1__Request *q, struct http_reply *rep)
{
	char why[256];
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", body[i]) != NULL) {
		i++;
	}
	/*
	 * Before anything is built: pbjson makes a message of some 250
	 * bytes from `{}` and an array grows one element at a time, so a
	 * body's touchpoints are counted and what they may take is bounded
	 * first, by the budget a Track of the same size has over NNG
	 * (dispatch_decode_budget).
	 */
	size_t count, cost;
	http_track_scan(
	        body + i, len - i, i < len && body[i] == '[', &count, &cost);
	if (count > max) {
		http_error(rep, 413, CLM_RESOURCE_EXHAUSTED, "",
		        "%zu touchpoints: one request may carry at most %zu (max_touchpoints)",
		        count, max);
		return false;
	}
	if (cost > dispatch_decode_budget(len)) {
		http_error(rep, 413, CLM_RESOURCE_EXHAUSTED, "",
		        "the body would take more than %zu bytes to read: send fewer touchpoints or properties per request",
		        dispatch_decode_budget(len));
		return false;
	}
	Clm__V1__TrackRequest *tr = NULL;
	ProtobufCMessage *m;
	if (i < len && body[i] == '[') {
		/* {"touchpoints": BODY}: pbjson reads the array. */
		char *wrap = malloc(len - i + 32);
		if (wrap == NULL) {
			http_oom(rep);
			return false;
		}
		int n = sprintf(wrap, "{\"touchpoints\":");
		memcpy(wrap + n, body + i, len - i);
		wrap[n + (int) (len - i)] = '}';
		int rc = pbjson_parse(wrap, (size_t) n + (len - i) + 1,
		        &clm__v1__track_request__descriptor, &m, why,
		        sizeof(why));
		free(wrap);
		if (rc != 0) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
			        "cannot read the array of touchpoints: %s",
			        why);
			return false;
		}
		if (!http_write_keep(w, m)) {
			http_oom(rep);
			return false;
		}
		tr = (Clm__V1__TrackRequest *) m;
	} else if (i < len && body[i] == '{') {
		tr = arena_alloc(&w->d.arena, sizeof(*tr));
		if (tr == NULL) {
			http_oom(rep);
			return false;
		}
		clm__v1__track_request__init(tr);
		size_t lines = 0;
		for (size_t k = i; k < len; k++) {
			lines += body[k] == '\n';
		}
		Clm__V1__Touchpoint **tps
		        = arena_alloc(&w->d.arena, (lines + 1) * sizeof(*tps));
		if (tps == NULL) {
			http_oom(rep);
			return false;
		}
		tr->touchpoints = tps;
		if (pbjson_parse(body + i, len - i,
		            &clm__v1__touchpoint__descriptor, &m, why,
		            sizeof(why))
		        == 0) {
			if (!http_write_keep(w, m)) {
				http_oom(rep);
				return false;
			}
			tps[tr->n_touchpoints++] = (Clm__V1__Touchpoint *) m;
		} else {
			size_t line = 0;
			for (size_t k = 0; k < len;) {
				const char *nl
				        = memchr(body + k, '\n', len - k);
				size_t e = nl != NULL ? (size_t) (nl - body)
				                      : len;
				size_t b = k;
				line++;
				k = e + 1;
				while (b < e
				        && strchr(" \t\r", body[b]) != NULL) {
					b++;
				}
				if (b == e) {
					continue;
				}
				if (pbjson_parse(body + b, e - b,
				            &clm__v1__touchpoint__descriptor,
				            &m, why, sizeof(why))
				        != 0) {
					http_error(rep, 400,
					        CLM_INVALID_ARGUMENT, "",
					        "line %zu: %s", line, why);
					return false;
				}
				if (!http_write_keep(w, m)) {
					http_oom(rep);
					return false;
				}
				tps[tr->n_touchpoints++]
				        = (Clm__V1__Touchpoint *) m;
			}
		}
	} else {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
		        "send touchpoints as JSON: one clm.v1.Touchpoint object, an array of them, or NDJSON (one per line)");
		return false;
	}
	if (tr->n_touchpoints == 0) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
		        "no touchpoint in the body");
		return false;
	}
	if (tr->n_touchpoints > max) {
		http_error(rep, 413, CLM_RESOURCE_EXHAUSTED, "",
		        "%zu touchpoints: one request may carry at most %zu (max_touchpoints)",
		        tr->n_touchpoints, max);
		return false;
	}
	q->call_case = CLM__V1__REQUEST__CALL_TRACK;
	q->track = tr;
	return true;
}

/* POST /api/track's Track, from req's body (gzip allowed), into q. */
static bool
http_write_track(struct http_write *w, struct server *srv,
        const struct httpd_req *req, Clm__V1__Request *q,
        struct http_reply *rep)
{
	static const char *const none[] = { NULL };
	struct http_query pq;
	if (!http_query_parse(&w->d.arena, req->target, none, &pq, rep)) {
		return false;
	}
	/*
	 * A parsed body takes up to dispatch_decode_budget of memory until
	 * its answer is sent: only HTTP_TRACK_SLOTS at once, the others get
	 * a 503 to retry rather than a queue that would hold their bodies.
	 */
	if (atomic_fetch_add(&srv->http_tracks, 1) >= HTTP_TRACK_SLOTS) {
		atomic_fetch_sub(&srv->http_tracks, 1);
		http_error(rep, 503, CLM_RESOURCE_EXHAUSTED, "",
		        "too many /api/track requests at once: retry");
		return false;
	}
	w->srv = srv;
	const char *body = (const char *) req->body;
	size_t len = req->body_len;
	const char *enc = httpd_req_header(req, "Content-Encoding");
	enum inflate_kind ik = inflate_kind(enc, req->body, len);
	char why[256];
	if (len == 0) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
		        "empty body: send touchpoints as JSON");
		return false;
	}
	if (ik == INFLATE_UNKNOWN) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
		        "unsupported Content-Encoding '%.64s': send gzip, deflate or none",
		        enc);
		return false;
	}
	if (ik == INFLATE_ZLIB) {
		bool too_big;
		clm_err e = inflate_capped(req->body, len,
		        http_track_max_body(srv), &w->plain, &len, &too_big,
		        why, sizeof(why));
		if (e != CLM_OK) {
			int status = too_big                ? 413
			        : e == CLM_INVALID_ARGUMENT ? 400
			                                    : 503;
			http_error(rep, status,
			        too_big ? CLM_RESOURCE_EXHAUSTED : e, "", "%s",
			        why);
			return false;
		}
		body = w->plain;
	}
	size_t max
	        = srv->cfg != NULL ? (size_t) srv->cfg->max_touchpoints : 1000;
	return http_write_track_body(w, body, len, max, q, rep);
}

void
http_customer_write(struct server *srv, struct telemetry *tm, httpd_conn *c,
        const struct httpd_req *req, enum telemetry_http_handler kind)
{
	struct http_write *w = (struct http_write *) http_defer_new(sizeof(*w),
	        srv, tm, c, kind, http_write_message, http_write_fini);
	if (w == NULL) {
		return;
	}
	struct http_reply rep = { .status = 500, .type = http_json };
	Clm__V1__Request *q = http_defer_request(&w->d, srv, req, &rep);
	bool ok = q != NULL
	        && (kind == TELEMETRY_HTTP_TRACK
	                        ? http_write_track(w, srv, req, q, &rep)
	                        : http_write_claim(w, srv, req, q, &rep));
	if (!ok) {
		http_defer_send(&w->d, &rep);
		return;
	}
	http_defer_dispatch(&w->d, q);
}
