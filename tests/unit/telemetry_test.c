/*
 * Unit tests of server/util/telemetry.c: the Prometheus text format 0.0.4 that
 * /metrics serves. Every output is parsed line by line (# HELP and # TYPE
 * before a family's samples, one TYPE per family, samples of a family
 * together, names and labels well-formed, values numbers), and the figures
 * are checked: counters by call and code, cumulative histogram buckets
 * with le inclusive, _count equal to the +Inf bucket, _sum, the gauges,
 * label escaping, and exact counts under concurrent updates.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/telemetry.h"

/* ---------------------------------------------------------------------- */
/* A small parser of the text format                                      */

#define MAX_SAMPLES  512
#define MAX_FAMILIES 48
#define MAX_LABELS   4

struct sample {
	char name[96];
	char label_key[MAX_LABELS][32];
	char label_val[MAX_LABELS][96];
	int n_labels;
	double value;
};

struct family {
	char name[96];
	char type[16];
	bool help, typed, closed;
};

struct exposition {
	struct sample s[MAX_SAMPLES];
	int n;
	struct family f[MAX_FAMILIES];
	int nf;
};

static bool
name_ok(const char *s, size_t n)
{
	if (n == 0) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		        || c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
			return false;
		}
	}
	return true;
}

static struct family *
family_get(struct exposition *e, const char *name)
{
	for (int i = 0; i < e->nf; i++) {
		if (strcmp(e->f[i].name, name) == 0) {
			return &e->f[i];
		}
	}
	cr_assert_lt(e->nf, MAX_FAMILIES);
	struct family *f = &e->f[e->nf++];
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", name);
	return f;
}

/* The family a sample belongs to (histograms: _bucket, _sum, _count). */
static struct family *
family_of(struct exposition *e, const char *sample)
{
	static const char *const suffix[] = { "_bucket", "_sum", "_count" };
	for (int i = 0; i < e->nf; i++) {
		struct family *f = &e->f[i];
		size_t n = strlen(f->name);
		if (strcmp(sample, f->name) == 0) {
			return f;
		}
		if (strcmp(f->type, "histogram") == 0
		        && strncmp(sample, f->name, n) == 0) {
			for (int k = 0; k < 3; k++) {
				if (strcmp(sample + n, suffix[k]) == 0) {
					return f;
				}
			}
		}
	}
	return NULL;
}

/* Parses text, asserting the format's rules; fills e. */
static void
parse(const char *text, struct exposition *e)
{
	memset(e, 0, sizeof(*e));
	size_t len = strlen(text);
	cr_assert_gt(len, 0);
	cr_assert_eq(text[len - 1], '\n', "the text must end with a newline");
	struct family *current = NULL;
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		char line[512];
		size_t n = (size_t) (nl - p);
		cr_assert_lt(n, sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		cr_assert_gt(n, 0, "empty line");
		if (line[0] == '#') {
			char kind[8], name[96], rest[256];
			int got = sscanf(line, "# %7s %95s %255[^\n]", kind,
			        name, rest);
			cr_assert_eq(got, 3, "bad comment line '%s'", line);
			cr_assert(name_ok(name, strlen(name)), "bad name '%s'",
			        name);
			struct family *f = family_get(e, name);
			cr_assert(!f->closed,
			        "# line for '%s' after its samples", name);
			if (strcmp(kind, "HELP") == 0) {
				cr_assert(!f->help && !f->typed,
				        "HELP of '%s' twice or after TYPE",
				        name);
				f->help = true;
			} else {
				cr_assert_str_eq(kind, "TYPE");
				cr_assert(
				        !f->typed, "TYPE of '%s' twice", name);
				cr_assert(strcmp(rest, "counter") == 0
				                || strcmp(rest, "gauge") == 0
				                || strcmp(rest, "histogram")
				                        == 0,
				        "type '%s'", rest);
				snprintf(f->type, sizeof(f->type), "%.15s",
				        rest);
				f->typed = true;
			}
			if (current != NULL && current != f) {
				current->closed = true;
			}
			current = f;
			continue;
		}
		cr_assert_lt(e->n, MAX_SAMPLES);
		struct sample *s = &e->s[e->n++];
		memset(s, 0, sizeof(*s));
		const char *q = line;
		size_t nn = strcspn(q, "{ ");
		cr_assert(name_ok(q, nn), "bad sample name in '%s'", line);
		cr_assert_lt(nn, sizeof(s->name));
		memcpy(s->name, q, nn);
		q += nn;
		if (*q == '{') {
			q++;
			while (*q != '}') {
				cr_assert_lt(s->n_labels, MAX_LABELS);
				size_t kn = strcspn(q, "=");
				cr_assert(name_ok(q, kn), "bad label in '%s'",
				        line);
				memcpy(s->label_key[s->n_labels], q, kn);
				q += kn;
				cr_assert_eq(q[0], '=');
				cr_assert_eq(
				        q[1], '"', "unquoted label value");
				q += 2;
				size_t vn = 0;
				char *v = s->label_val[s->n_labels];
				while (*q != '"') {
					cr_assert_neq(*q, '\0');
					if (*q == '\\') {
						q++;
						cr_assert(*q == '\\'
						                || *q == '"'
						                || *q == 'n',
						        "bad escape in '%s'",
						        line);
						v[vn++] = *q == 'n' ? '\n'
						                    : *q;
					} else {
						v[vn++] = *q;
					}
					q++;
				}
				q++;
				s->n_labels++;
				if (*q == ',') {
					q++;
				} else {
					cr_assert_eq(*q, '}', "in '%s'", line);
				}
			}
			q++;
		}
		cr_assert_eq(
		        *q, ' ', "no space before the value in '%s'", line);
		q++;
		char *end;
		s->value = strtod(q, &end);
		cr_assert(end != q && *end == '\0', "bad value in '%s'", line);
		struct family *f = family_of(e, s->name);
		cr_assert_not_null(f, "sample '%s' without # TYPE", s->name);
		cr_assert(f->help && f->typed);
		cr_assert(!f->closed, "samples of '%s' are not together",
		        f->name);
		if (current != NULL && current != f) {
			current->closed = true;
		}
		current = f;
	}
}

static const char *
label(const struct sample *s, const char *key)
{
	for (int i = 0; i < s->n_labels; i++) {
		if (strcmp(s->label_key[i], key) == 0) {
			return s->label_val[i];
		}
	}
	return NULL;
}

/*
 * The value of the sample `name` whose labels include k1=v1 and k2=v2
 * (NULL keys match anything); NAN when there is none.
 */
static double
value(const struct exposition *e, const char *name, const char *k1,
        const char *v1, const char *k2, const char *v2)
{
	for (int i = 0; i < e->n; i++) {
		const struct sample *s = &e->s[i];
		if (strcmp(s->name, name) != 0) {
			continue;
		}
		const char *a = k1 ? label(s, k1) : NULL;
		const char *b = k2 ? label(s, k2) : NULL;
		if ((k1 == NULL || (a != NULL && strcmp(a, v1) == 0))
		        && (k2 == NULL || (b != NULL && strcmp(b, v2) == 0))) {
			return s->value;
		}
	}
	return NAN;
}

static int
count_samples(const struct exposition *e, const char *name)
{
	int n = 0;
	for (int i = 0; i < e->n; i++) {
		n += strcmp(e->s[i].name, name) == 0;
	}
	return n;
}

/* Call names: 10 track, 13 metrics, 30 server_status, 0 none. */
static const char *
call_name(int call)
{
	switch (call) {
	case 0:
		return "none";
	case 10:
		return "track";
	case 13:
		return "metrics";
	case 30:
		return "server_status";
	default:
		return NULL;
	}
}

static char *
format(const struct telemetry *t, const struct telemetry_gauges *g,
        struct exposition *e)
{
	char *text = NULL;
	cr_assert_eq(telemetry_format(t, g, call_name, &text), 0);
	cr_assert_not_null(text);
	parse(text, e);
	return text;
}

static struct telemetry tm;
static struct exposition ex;

static const struct telemetry_gauges gauges = {
	.version = "0.1.0",
	.uptime_s = 12.5,
	.have_store = true,
	.db_bytes = 1544192,
	.map_bytes = 268435456,
	.customers = 320,
	.touchpoints = 5020,
};

/* ---------------------------------------------------------------------- */

Test(telemetry, fresh_server_has_gauges_and_empty_families)
{
	telemetry_init(&tm);
	char *text = format(&tm, &gauges, &ex);
	cr_expect_eq(
	        value(&ex, "clm_build_info", "version", "0.1.0", NULL, NULL),
	        1);
	cr_expect_eq(value(&ex, "clm_uptime_seconds", NULL, NULL, NULL, NULL),
	        12.5);
	cr_expect_eq(
	        value(&ex, "clm_db_bytes", NULL, NULL, NULL, NULL), 1544192);
	cr_expect_eq(value(&ex, "clm_map_bytes", NULL, NULL, NULL, NULL),
	        268435456);
	cr_expect_eq(value(&ex, "clm_customers", NULL, NULL, NULL, NULL), 320);
	cr_expect_eq(
	        value(&ex, "clm_touchpoints", NULL, NULL, NULL, NULL), 5020);
	cr_expect_eq(
	        value(&ex, "clm_write_queue_depth", NULL, NULL, NULL, NULL),
	        0);
	cr_expect_eq(value(&ex, "clm_stream_purges_pending", NULL, NULL, NULL,
	                     NULL),
	        0);
	/* No call answered yet: the families exist, with no samples. */
	cr_expect_eq(count_samples(&ex, "clm_requests_total"), 0);
	cr_expect_eq(
	        count_samples(&ex, "clm_request_duration_seconds_bucket"), 0);
	cr_expect_not_null(
	        strstr(text, "# TYPE clm_requests_total counter\n"));
	cr_expect_not_null(strstr(
	        text, "# TYPE clm_request_duration_seconds histogram\n"));
	/* The batch histogram is always there: 11 bounds and +Inf. */
	cr_expect_eq(count_samples(&ex, "clm_write_batch_size_bucket"), 12);
	cr_expect_eq(value(&ex, "clm_write_batch_size_count", NULL, NULL, NULL,
	                     NULL),
	        0);
	free(text);
}

Test(telemetry, requests_by_call_and_code)
{
	telemetry_init(&tm);
	for (int i = 0; i < 5; i++) {
		telemetry_request(&tm, 10, 0, 30000); /* track OK */
	}
	telemetry_request(&tm, 10, 3, 30000);   /* track INVALID_ARGUMENT */
	telemetry_request(&tm, 13, 0, 2000000); /* metrics OK */
	telemetry_request(&tm, 0, 3, 1000);     /* undecodable */
	char *text = format(&tm, &gauges, &ex);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "track", "code",
	                     "OK"),
	        5);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "track", "code",
	                     "INVALID_ARGUMENT"),
	        1);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "metrics",
	                     "code", "OK"),
	        1);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "none", "code",
	                     "INVALID_ARGUMENT"),
	        1);
	/* Codes never seen are left out; so is a call never answered. */
	cr_expect(isnan(value(&ex, "clm_requests_total", "call", "metrics",
	        "code", "INVALID_ARGUMENT")));
	cr_expect(isnan(value(&ex, "clm_requests_total", "call",
	        "server_status", NULL, NULL)));
	cr_expect_eq(count_samples(&ex, "clm_requests_total"), 4);
	free(text);
}

Test(telemetry, duration_histogram_is_cumulative_with_le_inclusive)
{
	telemetry_init(&tm);
	/* 50 us exactly is in le="5e-05"; 50 us + 1 ns is not. */
	telemetry_request(&tm, 10, 0, 50000);
	telemetry_request(&tm, 10, 0, 50001);
	telemetry_request(&tm, 10, 0, 3000000);    /* 3 ms */
	telemetry_request(&tm, 10, 0, 5000000000); /* 5 s exactly */
	telemetry_request(&tm, 10, 0, 5000000001); /* over 5 s: +Inf only */
	telemetry_request(&tm, 10, 0, -7);         /* a clock step: 0 */
	char *text = format(&tm, &gauges, &ex);
	const char *b = "clm_request_duration_seconds_bucket";
	cr_expect_eq(value(&ex, b, "call", "track", "le", "5e-05"), 2);
	cr_expect_eq(value(&ex, b, "call", "track", "le", "0.0001"), 3);
	cr_expect_eq(value(&ex, b, "call", "track", "le", "0.0025"), 3);
	cr_expect_eq(value(&ex, b, "call", "track", "le", "0.005"), 4);
	cr_expect_eq(value(&ex, b, "call", "track", "le", "2.5"), 4);
	cr_expect_eq(value(&ex, b, "call", "track", "le", "5"), 5);
	cr_expect_eq(value(&ex, b, "call", "track", "le", "+Inf"), 6);
	cr_expect_eq(value(&ex, "clm_request_duration_seconds_count", "call",
	                     "track", NULL, NULL),
	        6);
	double sum = value(&ex, "clm_request_duration_seconds_sum", "call",
	        "track", NULL, NULL);
	cr_expect_float_eq(sum, 10.003100002, 1e-9);
	/* 16 bounds from 50 us to 5 s, then +Inf, in increasing order. */
	cr_expect_eq(count_samples(&ex, b), 17);
	double last = -1, le_prev = -1;
	for (int i = 0; i < ex.n; i++) {
		if (strcmp(ex.s[i].name, b) != 0) {
			continue;
		}
		const char *le = label(&ex.s[i], "le");
		double l = strcmp(le, "+Inf") == 0 ? INFINITY
		                                   : strtod(le, NULL);
		cr_expect_gt(l, le_prev, "le out of order at %s", le);
		cr_expect_geq(ex.s[i].value, last, "bucket %s decreases", le);
		le_prev = l;
		last = ex.s[i].value;
	}
	cr_expect(isinf(le_prev), "the last bucket is not +Inf");
	free(text);
}

Test(telemetry, batch_sizes_and_queue_depth)
{
	telemetry_init(&tm);
	telemetry_batch(&tm, 1);
	telemetry_batch(&tm, 3);
	telemetry_batch(&tm, 1024);
	telemetry_batch(&tm, 1025);
	telemetry_queue_depth(&tm, 17);
	char *text = format(&tm, &gauges, &ex);
	const char *b = "clm_write_batch_size_bucket";
	cr_expect_eq(value(&ex, b, "le", "1", NULL, NULL), 1);
	cr_expect_eq(value(&ex, b, "le", "2", NULL, NULL), 1);
	cr_expect_eq(value(&ex, b, "le", "4", NULL, NULL), 2);
	cr_expect_eq(value(&ex, b, "le", "1024", NULL, NULL), 3);
	cr_expect_eq(value(&ex, b, "le", "+Inf", NULL, NULL), 4);
	cr_expect_eq(
	        value(&ex, "clm_write_batch_size_sum", NULL, NULL, NULL, NULL),
	        1 + 3 + 1024 + 1025);
	cr_expect_eq(value(&ex, "clm_write_batch_size_count", NULL, NULL, NULL,
	                     NULL),
	        4);
	cr_expect_eq(
	        value(&ex, "clm_write_queue_depth", NULL, NULL, NULL, NULL),
	        17);
	telemetry_queue_depth(&tm, 0);
	telemetry_checkpoint_bytes(&tm, 192u << 20);
	telemetry_checkpoint_replay(&tm, 2500000000);
	free(text);
	text = format(&tm, &gauges, &ex);
	cr_expect_eq(
	        value(&ex, "clm_write_queue_depth", NULL, NULL, NULL, NULL),
	        0);
	cr_expect_eq(
	        value(&ex, "clm_checkpoint_bytes", NULL, NULL, NULL, NULL),
	        192u << 20);
	cr_expect_eq(value(&ex, "clm_checkpoint_replay_seconds", NULL, NULL,
	                     NULL, NULL),
	        2.5);
	free(text);
}

Test(telemetry, out_of_range_call_and_code)
{
	telemetry_init(&tm);
	telemetry_request(&tm, 99, 0, 1000);  /* no such call: slot 0 */
	telemetry_request(&tm, -1, 0, 1000);  /* idem */
	telemetry_request(&tm, 13, 42, 1000); /* no such code: UNKNOWN */
	telemetry_request(&tm, 12, 0, 1000);  /* a slot without a name */
	telemetry_request(NULL, 10, 0, 1000); /* NULL: no-op */
	char *text = format(&tm, &gauges, &ex);
	cr_expect_eq(
	        value(&ex, "clm_requests_total", "call", "none", "code", "OK"),
	        2);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "metrics",
	                     "code", "UNKNOWN"),
	        1);
	cr_expect_eq(count_samples(&ex, "clm_requests_total"), 2);
	free(text);
}

Test(telemetry, http_counters_and_store_left_out)
{
	telemetry_init(&tm);
	telemetry_http(&tm, TELEMETRY_HTTP_PAGE, 200);
	telemetry_http(&tm, TELEMETRY_HTTP_METRICS, 200);
	telemetry_http(&tm, TELEMETRY_HTTP_METRICS, 400);
	telemetry_http(&tm, TELEMETRY_HTTP_METRICS, 400);
	telemetry_http(&tm, TELEMETRY_HTTP_PROMETHEUS, 418); /* as 500 */
	/* The refusals of hostcheck.h are counted one by one. */
	telemetry_http(&tm, TELEMETRY_HTTP_STATUS, 421);
	telemetry_http(&tm, TELEMETRY_HTTP_STATUS, 403);
	struct telemetry_gauges g = gauges;
	g.have_store = false;
	char *text = format(&tm, &g, &ex);
	const char *h = "clm_http_requests_total";
	cr_expect_eq(value(&ex, h, "handler", "/", "code", "200"), 1);
	cr_expect_eq(
	        value(&ex, h, "handler", "/api/metrics", "code", "200"), 1);
	cr_expect_eq(
	        value(&ex, h, "handler", "/api/metrics", "code", "400"), 2);
	cr_expect_eq(value(&ex, h, "handler", "/metrics", "code", "500"), 1);
	cr_expect_eq(
	        value(&ex, h, "handler", "/api/status", "code", "421"), 1);
	cr_expect_eq(
	        value(&ex, h, "handler", "/api/status", "code", "403"), 1);
	cr_expect_eq(count_samples(&ex, h), 6);
	cr_expect_eq(count_samples(&ex, "clm_db_bytes"), 0);
	cr_expect_null(strstr(text, "clm_customers"));
	free(text);
}

Test(telemetry, label_values_are_escaped)
{
	telemetry_init(&tm);
	struct telemetry_gauges g = gauges;
	g.version = "1.0 \"beta\"\\x\nnext";
	char *text = format(&tm, &g, &ex);
	cr_expect_not_null(strstr(text,
	        "clm_build_info{version=\"1.0 \\\"beta\\\"\\\\x\\nnext\"} 1\n"));
	cr_expect_eq(value(&ex, "clm_build_info", "version",
	                     "1.0 \"beta\"\\x\nnext", NULL, NULL),
	        1);
	free(text);
}

/* Relaxed atomics still count every update exactly. */
#define THREADS 8
#define PER     20000

static void *
hammer(void *arg)
{
	struct telemetry *t = arg;
	for (int i = 0; i < PER; i++) {
		telemetry_request(t, 13, i % 2 ? 0 : 5, 1000 + i);
		telemetry_batch(t, (size_t) (1 + i % 7));
	}
	return NULL;
}

Test(telemetry, concurrent_updates_are_exact)
{
	telemetry_init(&tm);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(pthread_create(&th[i], NULL, hammer, &tm), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	char *text = format(&tm, &gauges, &ex);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "metrics",
	                     "code", "OK"),
	        THREADS * PER / 2);
	cr_expect_eq(value(&ex, "clm_requests_total", "call", "metrics",
	                     "code", "NOT_FOUND"),
	        THREADS * PER / 2);
	cr_expect_eq(value(&ex, "clm_request_duration_seconds_count", "call",
	                     "metrics", NULL, NULL),
	        THREADS * PER);
	cr_expect_eq(value(&ex, "clm_write_batch_size_count", NULL, NULL, NULL,
	                     NULL),
	        THREADS * PER);
	free(text);
}

Test(telemetry, refusals_by_reason_zeros_included)
{
	telemetry_init(&tm);
	telemetry_refused(&tm, TELEMETRY_REFUSED_BUDGET);
	telemetry_refused(&tm, TELEMETRY_REFUSED_AUTH);
	telemetry_refused(&tm, TELEMETRY_REFUSED_AUTH);
	telemetry_refused(&tm, TELEMETRY_REFUSED_REASONS); /* ignored */
	telemetry_refused(NULL, TELEMETRY_REFUSED_AUTH);   /* no-op */
	char *text = format(&tm, &gauges, &ex);
	const char *f = "clm_requests_refused_total";
	cr_expect_eq(
	        value(&ex, f, "reason", "unauthenticated", NULL, NULL), 2);
	cr_expect_eq(value(&ex, f, "reason", "elements", NULL, NULL), 0);
	cr_expect_eq(value(&ex, f, "reason", "budget", NULL, NULL), 1);
	cr_expect_eq(count_samples(&ex, f), 3);
	cr_expect_not_null(
	        strstr(text, "# TYPE clm_requests_refused_total counter\n"));
	free(text);
}

Test(telemetry, connections_gauge_refusals_and_idle_closes)
{
	telemetry_init(&tm);
	char *text = format(&tm, &gauges, &ex);
	cr_expect_eq(
	        value(&ex, "clm_connections", "listener", "rpc", NULL, NULL),
	        0);
	free(text);
	telemetry_conn_open(&tm, TELEMETRY_LISTENER_RPC, 7);
	telemetry_conn_refused(&tm, TELEMETRY_LISTENER_RPC);
	telemetry_conn_refused(&tm, TELEMETRY_LISTENER_RPC);
	telemetry_conn_idle(&tm, TELEMETRY_LISTENER_RPC);
	telemetry_conn_refused(NULL, TELEMETRY_LISTENER_RPC); /* no-op */
	telemetry_conn_open(&tm, TELEMETRY_LISTENER_HTTP, 3);
	telemetry_conn_refused(&tm, TELEMETRY_LISTENER_HTTP);
	telemetry_conn_idle(&tm, TELEMETRY_LISTENER_HTTP);
	telemetry_conn_idle(&tm, TELEMETRY_LISTENER_HTTP);
	telemetry_http_refused(&tm, TELEMETRY_HTTP_TIMEOUT);
	telemetry_http_refused(&tm, TELEMETRY_HTTP_BODY_SIZE);
	telemetry_http_refused(&tm, TELEMETRY_HTTP_BODY_SIZE);
	telemetry_http_refused(NULL, TELEMETRY_HTTP_TIMEOUT); /* no-op */
	telemetry_ipc_relisten(&tm);
	telemetry_ipc_relisten(NULL); /* no-op */
	telemetry_ipc_probe(&tm);
	telemetry_ipc_probe(&tm);
	telemetry_ipc_probe(NULL); /* no-op */
	text = format(&tm, &gauges, &ex);
	cr_expect_eq(
	        value(&ex, "clm_connections", "listener", "rpc", NULL, NULL),
	        7);
	cr_expect_eq(value(&ex, "clm_connections_refused_total", "listener",
	                     "rpc", NULL, NULL),
	        2);
	cr_expect_eq(value(&ex, "clm_connections_closed_idle_total",
	                     "listener", "rpc", NULL, NULL),
	        1);
	cr_expect_eq(
	        value(&ex, "clm_connections", "listener", "http", NULL, NULL),
	        3);
	cr_expect_eq(value(&ex, "clm_connections_refused_total", "listener",
	                     "http", NULL, NULL),
	        1);
	cr_expect_eq(value(&ex, "clm_connections_closed_idle_total",
	                     "listener", "http", NULL, NULL),
	        2);
	const char *hr = "clm_http_requests_refused_total";
	cr_expect_eq(value(&ex, hr, "reason", "timeout", NULL, NULL), 1);
	cr_expect_eq(
	        value(&ex, hr, "reason", "body_too_large", NULL, NULL), 2);
	cr_expect_eq(
	        value(&ex, hr, "reason", "head_too_large", NULL, NULL), 0);
	cr_expect_eq(value(&ex, hr, "reason", "malformed", NULL, NULL), 0);
	cr_expect_eq(
	        value(&ex, "clm_ipc_relistens_total", NULL, NULL, NULL, NULL),
	        1);
	cr_expect_eq(
	        value(&ex, "clm_ipc_probes_total", NULL, NULL, NULL, NULL), 2);
	cr_expect_not_null(strstr(text, "# TYPE clm_connections gauge\n"));
	cr_expect_not_null(strstr(
	        text, "# TYPE clm_connections_refused_total counter\n"));
	free(text);
}

Test(telemetry, event_streams_open_and_dropped_slow)
{
	telemetry_init(&tm);
	telemetry_http_stream(&tm, 3, false);
	telemetry_http_stream(&tm, 2, true);
	telemetry_http_stream(&tm, 1, true);
	telemetry_http_stream(NULL, 9, true); /* no-op */
	char *text = format(&tm, &gauges, &ex);
	cr_expect_eq(
	        value(&ex, "clm_http_streams_open", NULL, NULL, NULL, NULL),
	        1);
	cr_expect_eq(value(&ex, "clm_http_streams_dropped_slow_total", NULL,
	                     NULL, NULL, NULL),
	        2);
	cr_expect_not_null(
	        strstr(text, "# TYPE clm_http_streams_open gauge\n"));
	free(text);
}
