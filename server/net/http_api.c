/*
 * http_api: the dashboard's JSON API (http.h lists the endpoints). Query
 * strings are parsed strictly: each endpoint names the parameters it
 * takes, and an unknown, repeated or malformed one is a 400 saying which.
 * The replies are the RPC calls' own reply messages, printed by pbjson,
 * and an error is {"code", "message", "field"} with the field renamed to
 * the query parameter the user wrote.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calls/dispatch.h"
#include "civil.h"
#include "jsonstr.h"
#include "net/http_internal.h"
#include "pbjson.h"
#include "util/clock.h"

/* Experiments /api/experiments lists (then "truncated": true). */
#define HTTP_MAX_EXPERIMENTS 1000
#define HTTP_DAY_MS          86400000LL

const char http_json[] = "application/json";

/* ---- replies ---- */

/* http_put_file is fwrite as a jsonstr_put_fn. */
static void
http_put_file(void *f, const char *s, size_t n)
{
	fwrite(s, 1, n, f);
}

/* Messages may quote what a client sent, so invalid UTF-8 is replaced. */
void
http_json_string(FILE *f, const char *s)
{
	jsonstr_write(s, strlen(s), JSONSTR_ESCAPE_FFFD, http_put_file, f);
}

void
http_reply_stream(struct http_reply *rep, FILE *f, char **text, size_t *len)
{
	/* open_memstream sets *text and *len at fclose. */
	bool failed = f == NULL || ferror(f) != 0;
	if (f == NULL || fclose(f) != 0 || failed || *text == NULL) {
		free(*text);
		rep->status = 500;
		rep->type = http_json;
		rep->body
		        = (char *) "{\"code\":\"RESOURCE_EXHAUSTED\",\"message\":\"out of memory\",\"field\":\"\"}";
		rep->len = strlen(rep->body);
		rep->is_static = true;
		return;
	}
	rep->body = *text;
	rep->len = *len;
}

/* An error reply: {"code": NAME, "message": ..., "field": ...}. */
void
http_error(struct http_reply *rep, int status, clm_err code, const char *field,
        const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	rep->status = status;
	rep->type = http_json;
	if (f == NULL) {
		http_reply_stream(rep, NULL, &text, &len);
		return;
	}
	fprintf(f, "{\"code\":\"%s\",\"message\":", clm_errname(code));
	http_json_string(f, msg);
	fputs(",\"field\":", f);
	http_json_string(f, field != NULL ? field : "");
	fputc('}', f);
	http_reply_stream(rep, f, &text, &len);
}

/* The HTTP status of a reply's code. */
static int
http_status_of(clm_err code)
{
	switch (code) {
	case CLM_OK:
		return 200;
	case CLM_INVALID_ARGUMENT:
	case CLM_OUT_OF_RANGE:
	case CLM_FAILED_PRECONDITION:
		return 400;
	case CLM_UNAUTHENTICATED:
		return 401;
	case CLM_PERMISSION_DENIED:
		return 403;
	case CLM_NOT_FOUND:
		return 404;
	case CLM_RESOURCE_EXHAUSTED:
	case CLM_UNAVAILABLE:
		return 503;
	default:
		return 500;
	}
}

/* Request fields, as the handlers name them, and the parameter of each. */
static const struct {
	const char *field, *param;
} http_fields[] = {
	{ "metrics.from_ms", "from" },
	{ "metrics.to_ms", "to" },
	{ "metrics.conversion_window_days", "window_days" },
	{ "metrics.channel", "channel" },
	{ "cohorts.from_ms", "from" },
	{ "cohorts.to_ms", "to" },
	{ "cohorts.granularity", "by" },
	{ "cohorts.periods", "periods" },
	{ "experiment_results.experiment_id", "id" },
	{ "get_customer.customer_id", "id" },
	{ "get_customer.as_of_ms", "as_of" },
	{ "recommend.customer_id", "id" },
	{ "recommend.limit", "limit" },
	{ "recommend.location", "lat" },
	{ "recommend.cart_items", "cart" },
	{ "recommend.channel", "channel" },
	{ "recommend.now_ms", "now" },
	{ "define_segment.name", "name" },
	{ "define_segment.expression", "expression" },
	{ "get_segment.name", "name" },
	{ "get_segment.page_size", "page_size" },
	{ "get_segment.page_token", "page_token" },
	{ "get_segment.as_of_ms", "as_of" },
	{ "delete_segment.name", "name" },
	{ "define_journey.definition", "definition" },
	{ "get_journey.name", "name" },
	{ "delete_journey.name", "name" },
	{ "journey_messages.after", "after" },
	{ "journey_messages.limit", "limit" },
	{ "journey_messages.journey", "journey" },
};

/* An error Status from dispatch as an HTTP error, fields renamed. */
void
http_status_error(struct http_reply *rep, const Clm__V1__Status *st)
{
	clm_err code = clm_err_from_code((int) st->code);
	const char *field = "";
	const char *msg = st->message != NULL ? st->message : "";
	if (st->n_violations > 0) {
		const Clm__V1__FieldViolation *v = st->violations[0];
		field = v->field;
		for (size_t i = 0;
		        i < sizeof(http_fields) / sizeof(http_fields[0]);
		        i++) {
			if (strcmp(v->field, http_fields[i].field) == 0) {
				field = http_fields[i].param;
			}
		}
		http_error(rep, http_status_of(code), code, field, "%s: %s",
		        field, v->description);
		return;
	}
	http_error(rep, http_status_of(code), code, field, "%s", msg);
}

/* A reply's result message as proto3 JSON into rep. */
void
http_reply_message(struct http_reply *rep, const ProtobufCMessage *m)
{
	char *text;
	if (m == NULL || pbjson_print(m, 0, &text) != 0) {
		http_error(
		        rep, 500, CLM_INTERNAL, "", "cannot print the reply");
		return;
	}
	rep->status = 200;
	rep->type = http_json;
	rep->body = text;
	rep->len = strlen(text);
}

/* ---- parameters ---- */

static int
http_hex(char c)
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
 * Decodes s[0..n) ("%XX" escapes, '+' for a space) into arena memory.
 * NULL for a malformed escape, an encoded NUL (then *nul is set: a C
 * string would end there, and "victim%00x" would name "victim"), or out
 * of memory.
 */
char *
http_unescape(arena *a, const char *s, size_t n, bool plus, bool *nul)
{
	*nul = false;
	char *out = arena_alloc(a, n + 1);
	if (out == NULL) {
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? http_hex(s[i + 1]) : -1;
			int lo = i + 2 < n ? http_hex(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				return NULL;
			}
			if (hi == 0 && lo == 0) {
				*nul = true;
				return NULL;
			}
			out[k++] = (char) (hi * 16 + lo);
			i += 2;
		} else {
			out[k++] = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	out[k] = '\0';
	return out;
}

/*
 * Splits the query string of uri into q. Each name of `allowed` (NULL-
 * terminated) may appear once; anything else is a 400 in rep.
 */
bool
http_query_parse(arena *a, const char *uri, const char *const *allowed,
        struct http_query *q, struct http_reply *rep)
{
	q->n = 0;
	const char *s = strchr(uri, '?');
	if (s == NULL) {
		return true;
	}
	s++;
	while (*s != '\0') {
		size_t n = strcspn(s, "&");
		const char *eq = memchr(s, '=', n);
		size_t kn = eq != NULL ? (size_t) (eq - s) : n;
		if (n == 0) {
			s++;
			continue;
		}
		bool nul;
		char *key = http_unescape(a, s, kn, true, &nul);
		if (key == NULL && nul) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
			        "a parameter name must not contain NUL (%%00)");
			return false;
		}
		char *val = eq != NULL && key != NULL
		        ? http_unescape(a, eq + 1, n - kn - 1, true, &nul)
		        : arena_strdup(a, "");
		if (key != NULL && val == NULL && nul) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
			        "parameter '%s' must not contain NUL (%%00)",
			        key);
			return false;
		}
		if (key == NULL || val == NULL) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "",
			        "malformed query string");
			return false;
		}
		bool known = false;
		for (size_t i = 0; allowed[i] != NULL; i++) {
			known = known || strcmp(key, allowed[i]) == 0;
		}
		if (!known) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
			        "unknown parameter '%s'", key);
			return false;
		}
		for (int i = 0; i < q->n; i++) {
			if (strcmp(q->p[i].key, key) == 0) {
				http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
				        "parameter '%s' given twice", key);
				return false;
			}
		}
		if (q->n == HTTP_MAX_PARAMS) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
			        "too many parameters");
			return false;
		}
		q->p[q->n].key = key;
		q->p[q->n].val = val;
		q->n++;
		s += n;
		if (*s == '&') {
			s++;
		}
	}
	return true;
}

/* The value of parameter key, or NULL when absent or empty. */
const char *
http_query_get(const struct http_query *q, const char *key)
{
	for (int i = 0; i < q->n; i++) {
		if (strcmp(q->p[i].key, key) == 0) {
			return q->p[i].val[0] != '\0' ? q->p[i].val : NULL;
		}
	}
	return NULL;
}

/* Parses YYYY-MM-DD (1970 .. 9999) into unix ms at 00:00 UTC. */
bool
http_parse_date(const char *s, int64_t *ms)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
		return false;
	}
	int v[3] = { 0, 0, 0 };
	const int at[3] = { 0, 5, 8 }, len[3] = { 4, 2, 2 };
	for (int f = 0; f < 3; f++) {
		for (int i = at[f]; i < at[f] + len[f]; i++) {
			if (s[i] < '0' || s[i] > '9') {
				return false;
			}
			v[f] = v[f] * 10 + (s[i] - '0');
		}
	}
	static const int mdays[12]
	        = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1
	        || v[2] > mdays[v[1] - 1]
	        || (v[1] == 2 && v[2] == 29 && !leap)) {
		return false;
	}
	*ms = civil_to_days(v[0], v[1], v[2]) * HTTP_DAY_MS;
	return true;
}

/* Parses a decimal uint32. */
bool
http_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 10) {
			return false;
		}
		v = v * 10 + (uint64_t) (s[n] - '0');
	}
	if (n == 0 || v > UINT32_MAX) {
		return false;
	}
	*out = (uint32_t) v;
	return true;
}

/* from= and to= of q (absent: 0, the handlers' default). */
static bool
http_window(const struct http_query *q, int64_t *from, int64_t *to,
        struct http_reply *rep)
{
	static const char *const names[2] = { "from", "to" };
	int64_t *dst[2] = { from, to };
	for (int i = 0; i < 2; i++) {
		const char *v = http_query_get(q, names[i]);
		*dst[i] = 0;
		if (v != NULL && !http_parse_date(v, dst[i])) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, names[i],
			        "%s: '%s' is not a date: use YYYY-MM-DD",
			        names[i], v);
			return false;
		}
	}
	return true;
}

bool
http_bool_param(const struct http_query *q, const char *key, bool *out,
        struct http_reply *rep)
{
	const char *v = http_query_get(q, key);
	*out = false;
	if (v == NULL || strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
		return true;
	}
	if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
		*out = true;
		return true;
	}
	http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
	        "%s: '%s' is not 1, true, 0 or false", key, v);
	return false;
}

/* A uint32 parameter (absent: 0). */
bool
http_u32_param(const struct http_query *q, const char *key, uint32_t *out,
        struct http_reply *rep)
{
	const char *v = http_query_get(q, key);
	*out = 0;
	if (v != NULL && !http_parse_u32(v, out)) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, key,
		        "%s: '%s' is not a whole number", key, v);
		return false;
	}
	return true;
}

/* ---- the calls ---- */

/*
 * Runs req (arena memory, the call already set) through dispatch's read
 * path, with the bearer token as its auth token. Returns the response.
 */
const Clm__V1__Response *
http_call(struct http_slot *s, Clm__V1__Request *req, const char *token)
{
	req->request_id = "http";
	req->auth_token = (char *) (token != NULL ? token : "");
	s->dr.req = req;
	s->dr.now_ms = clock_now_ms();
	s->dr.arrived_ns = clock_mono_ns();
	dispatch_read(&s->dr);
	return s->dr.resp;
}

/* A new Request in s's arena; NULL when memory is exhausted. */
Clm__V1__Request *
http_request(struct http_slot *s)
{
	Clm__V1__Request *req = arena_alloc(&s->arena, sizeof(*req));
	if (req != NULL) {
		clm__v1__request__init(req);
	}
	return req;
}

/* Whether resp is OK; otherwise its error is put in rep. */
bool
http_ok(const Clm__V1__Response *resp, struct http_reply *rep)
{
	if (resp->status != NULL && resp->status->code != CLM__V1__CODE__OK) {
		http_status_error(rep, resp->status);
		return false;
	}
	return true;
}

void
http_oom(struct http_reply *rep)
{
	http_error(rep, 503, CLM_RESOURCE_EXHAUSTED, "", "out of memory");
}

const Clm__V1__Response *
http_call_status(struct http_slot *s, const char *token)
{
	Clm__V1__Request *req = http_request(s);
	Clm__V1__StatusRequest *q = arena_alloc(&s->arena, sizeof(*q));
	if (req == NULL || q == NULL) {
		return NULL;
	}
	clm__v1__status_request__init(q);
	req->call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req->server_status = q;
	return http_call(s, req, token);
}

void
http_status(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep)
{
	static const char *const none[] = { NULL };
	struct http_query query;
	if (!http_query_parse(&s->arena, uri, none, &query, rep)) {
		return;
	}
	const Clm__V1__Response *resp = http_call_status(s, token);
	if (resp == NULL) {
		http_oom(rep);
		return;
	}
	if (http_ok(resp, rep)) {
		http_reply_message(
		        rep, (const ProtobufCMessage *) resp->server_status);
	}
}

/* Channel names as the API spells them, any case; "" or "all" is all. */
bool
http_channel(const struct http_query *q, arena *a, Clm__V1__Channel *out,
        struct http_reply *rep)
{
	const char *v = http_query_get(q, "channel");
	*out = CLM__V1__CHANNEL__CHANNEL_UNSPECIFIED;
	if (v == NULL || strcasecmp(v, "all") == 0) {
		return true;
	}
	char *up = arena_strdup(a, v);
	if (up == NULL) {
		http_oom(rep);
		return false;
	}
	for (char *p = up; *p; p++) {
		if (*p >= 'a' && *p <= 'z') {
			*p = (char) (*p - 'a' + 'A');
		}
	}
	const ProtobufCEnumValue *ev
	        = protobuf_c_enum_descriptor_get_value_by_name(
	                &clm__v1__channel__descriptor, up);
	if (ev == NULL) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "channel",
		        "channel: '%s' is not a Channel (DIRECT, PAID_ADS, ORGANIC_SEARCH, EMAIL, ...)",
		        v);
		return false;
	}
	*out = (Clm__V1__Channel) ev->value;
	return true;
}

void
http_metrics(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep)
{
	static const char *const allowed[]
	        = { "from", "to", "channel", "window_days", NULL };
	struct http_query q;
	Clm__V1__Request *req = http_request(s);
	Clm__V1__MetricsRequest *m = arena_alloc(&s->arena, sizeof(*m));
	if (req == NULL || m == NULL) {
		http_oom(rep);
		return;
	}
	clm__v1__metrics_request__init(m);
	if (!http_query_parse(&s->arena, uri, allowed, &q, rep)
	        || !http_window(&q, &m->from_ms, &m->to_ms, rep)
	        || !http_channel(&q, &s->arena, &m->channel, rep)
	        || !http_u32_param(
	                &q, "window_days", &m->conversion_window_days, rep)) {
		return;
	}
	req->call_case = CLM__V1__REQUEST__CALL_METRICS;
	req->metrics = m;
	const Clm__V1__Response *resp = http_call(s, req, token);
	if (http_ok(resp, rep)) {
		http_reply_message(
		        rep, (const ProtobufCMessage *) resp->metrics);
	}
}

void
http_cohorts(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep)
{
	static const char *const allowed[]
	        = { "from", "to", "by", "periods", NULL };
	struct http_query q;
	Clm__V1__Request *req = http_request(s);
	Clm__V1__CohortRequest *c = arena_alloc(&s->arena, sizeof(*c));
	if (req == NULL || c == NULL) {
		http_oom(rep);
		return;
	}
	clm__v1__cohort_request__init(c);
	if (!http_query_parse(&s->arena, uri, allowed, &q, rep)
	        || !http_window(&q, &c->from_ms, &c->to_ms, rep)
	        || !http_u32_param(&q, "periods", &c->periods, rep)) {
		return;
	}
	const char *by = http_query_get(&q, "by");
	if (by == NULL || strcasecmp(by, "week") == 0) {
		c->granularity = CLM__V1__GRANULARITY__WEEK;
	} else if (strcasecmp(by, "day") == 0) {
		c->granularity = CLM__V1__GRANULARITY__DAY;
	} else if (strcasecmp(by, "month") == 0) {
		c->granularity = CLM__V1__GRANULARITY__MONTH;
	} else {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "by",
		        "by: '%s' is not day, week or month", by);
		return;
	}
	req->call_case = CLM__V1__REQUEST__CALL_COHORTS;
	req->cohorts = c;
	const Clm__V1__Response *resp = http_call(s, req, token);
	if (http_ok(resp, rep)) {
		http_reply_message(
		        rep, (const ProtobufCMessage *) resp->cohorts);
	}
}

/* ExperimentResults of id; the response, or NULL when out of memory. */
static const Clm__V1__Response *
http_exp_results(struct http_slot *s, const char *id, const char *token)
{
	Clm__V1__Request *req = http_request(s);
	Clm__V1__ExperimentResultsRequest *x
	        = arena_alloc(&s->arena, sizeof(*x));
	if (req == NULL || x == NULL) {
		return NULL;
	}
	clm__v1__experiment_results_request__init(x);
	x->experiment_id = (char *) id;
	req->call_case = CLM__V1__REQUEST__CALL_EXPERIMENT_RESULTS;
	req->experiment_results = x;
	return http_call(s, req, token);
}

struct http_exp_list {
	arena *a;
	Clm__V1__ExperimentRecord **v;
	size_t n, cap;
	bool truncated, oom;
};

static int
http_exp_collect(void *arg, Clm__V1__ExperimentRecord *rec)
{
	struct http_exp_list *l = arg;
	if (l->n == HTTP_MAX_EXPERIMENTS) {
		l->truncated = true;
		return 1;
	}
	Clm__V1__ExperimentRecord **v
	        = arena_grow(l->a, l->v, l->n, &l->cap, sizeof(*v));
	if (v == NULL) {
		l->oom = true;
		return 1;
	}
	l->v = v;
	l->v[l->n++] = rec;
	return 0;
}

/*
 * Every experiment, as {"experiments": [{"definition": ExperimentRecord,
 * "results": ExperimentResultsReply}, ...]}: the definitions are listed in
 * one read transaction, then each one's results go through dispatch like
 * /api/experiments/ID. (The listing bypasses dispatch, so it relies on
 * http_serve's token check.)
 */
static void
http_experiment_list(
        struct http_slot *s, const char *token, struct http_reply *rep)
{
	struct http_exp_list l = { .a = &s->arena };
	store_txn *txn;
	clm_err e = store_read_begin(s->reader, &txn);
	if (e == CLM_OK) {
		e = store_experiments_each(
		        txn, &s->arena, http_exp_collect, &l);
		store_read_end(txn);
	}
	if (e == CLM_OK && l.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e != CLM_OK) {
		http_error(rep, http_status_of(e), e, "",
		        "cannot list the experiments: %s", clm_strerror(e));
		return;
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		http_oom(rep);
		return;
	}
	fputs("{\"experiments\":[", f);
	size_t listed = 0;
	for (size_t i = 0; i < l.n; i++) {
		const Clm__V1__Response *resp
		        = http_exp_results(s, l.v[i]->experiment_id, token);
		if (resp != NULL && !http_ok(resp, rep)) {
			fclose(f);
			free(text);
			return; /* rep holds the error */
		}
		char *def = NULL, *res = NULL;
		if (resp == NULL
		        || pbjson_print(
		                   (const ProtobufCMessage *) l.v[i], 0, &def)
		                != 0
		        || pbjson_print((const ProtobufCMessage *)
		                                resp->experiment_results,
		                   0, &res)
		                != 0) {
			free(def);
			fclose(f);
			free(text);
			http_oom(rep);
			return;
		}
		fprintf(f, "%s{\"definition\":%s,\"results\":%s}",
		        listed++ ? "," : "", def, res);
		free(def);
		free(res);
	}
	fputs("]", f);
	if (l.truncated) {
		fputs(",\"truncated\":true", f);
	}
	fputs("}", f);
	rep->status = 200;
	rep->type = http_json;
	http_reply_stream(rep, f, &text, &len);
}

/* The path of uri (a request target may be absolute: http://host/...). */
static const char *
http_path(const char *uri)
{
	if (uri[0] != '/') {
		const char *p = strstr(uri, "://");
		p = p != NULL ? strchr(p + 3, '/') : NULL;
		return p != NULL ? p : "/";
	}
	return uri;
}

void
http_experiments(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep)
{
	static const char *const none[] = { NULL };
	struct http_query q;
	if (!http_query_parse(&s->arena, uri, none, &q, rep)) {
		return;
	}
	const char *path = http_path(uri);
	size_t plen = strcspn(path, "?");
	size_t base = strlen("/api/experiments");
	const char *rest = path + base;
	size_t rlen = plen > base ? plen - base : 0;
	if (rlen <= 1) {
		http_experiment_list(s, token, rep);
		return;
	}
	bool nul;
	char *id = http_unescape(&s->arena, rest + 1, rlen - 1, false, &nul);
	if (id == NULL && nul) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "id",
		        "experiment id must not contain NUL (%%00)");
		return;
	}
	if (id == NULL || strchr(id, '/') != NULL) {
		http_error(rep, 404, CLM_NOT_FOUND, "id",
		        "no such experiment path");
		return;
	}
	const Clm__V1__Response *resp = http_exp_results(s, id, token);
	if (resp == NULL) {
		http_oom(rep);
		return;
	}
	if (http_ok(resp, rep)) {
		http_reply_message(rep,
		        (const ProtobufCMessage *) resp->experiment_results);
	}
}
