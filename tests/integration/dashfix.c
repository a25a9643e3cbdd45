/*
 * dashfix: what the tests of clmd's HTTP dashboard share (dashfix.h).
 *
 * Its HTTP client reads each response to the end of the stream into a
 * buffer that grows, not into rawhttp.h's fixed one: the page alone
 * (server/net/dashboard.html) is larger than rawhttp's body, and a test
 * here checks the whole of it.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli_run.h"
#include "dashfix.h"
#include "harness.h"
#include "pbjson.h"

void
dashfix_init(struct dashfix *fx)
{
	memset(fx, 0, sizeof(*fx));
	harness_cli_url(NULL);
}

void
dashfix_fini(struct dashfix *fx)
{
	clmd_cleanup(&fx->srv);
	harness_fini();
}

void
dashfix_res_free(struct dashfix_res *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

struct dashfix_res
dashfix_send(int port, const char *req)
{
	struct dashfix_res r = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct timeval tv = { 20, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = { 0 };
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	        "cannot connect to the dashboard port %d: %s", port,
	        strerror(errno));
	size_t n = strlen(req);
	cr_assert_eq(write(fd, req, n), (ssize_t) n);
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	cr_assert_not_null(buf);
	for (;;) {
		if (len + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		ssize_t got = read(fd, buf + len, cap - len - 1);
		cr_assert_geq(got, 0, "read: %s", strerror(errno));
		if (got == 0) {
			break;
		}
		len += (size_t) got;
	}
	close(fd);
	buf[len] = '\0';
	cr_assert_eq(sscanf(buf, "HTTP/1.%*1[01] %d", &r.status), 1,
	        "not an HTTP response: '%.80s'", buf);
	char *end = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(end, "no end of headers");
	size_t hlen = (size_t) (end - buf);
	r.headers = strndup(buf, hlen);
	r.len = len - hlen - 4;
	r.body = malloc(r.len + 1);
	cr_assert_not_null(r.body);
	memcpy(r.body, end + 4, r.len);
	r.body[r.len] = '\0';
	free(buf);
	const char *cl = strstr(r.headers, "Content-Length: ");
	cr_assert_not_null(cl, "no Content-Length in\n%s", r.headers);
	/* The answer to HEAD has the length of the GET's body, and none. */
	cr_assert(strncmp(req, "HEAD ", 5) == 0
	                || strtoull(cl + 16, NULL, 10) == r.len,
	        "body length differs from Content-Length");
	return r;
}

struct dashfix_res
dashfix_request(int port, const char *method, const char *path,
        const char *host, const char *headers)
{
	char req[2048], hl[512] = "";
	if (host != NULL) {
		snprintf(hl, sizeof(hl), "Host: %s\r\n", host);
	}
	int n = snprintf(req, sizeof(req),
	        "%s %s HTTP/1.1\r\n%s%sConnection: close\r\n\r\n", method,
	        path, hl, headers ? headers : "");
	cr_assert(n > 0 && (size_t) n < sizeof(req));
	return dashfix_send(port, req);
}

struct dashfix_res
dashfix_get(int port, const char *path, const char *header)
{
	char host[64], extra[512] = "";
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	if (header != NULL) {
		snprintf(extra, sizeof(extra), "%s\r\n", header);
	}
	return dashfix_request(port, "GET", path, host, extra);
}

void
dashfix_put_journey(int port, const char *name)
{
	dashfix_put_journey_json(port, name,
	        "{\"trigger\": {\"stage\": \"RETENTION\"}, \"steps\": "
	        "[{\"wait\": \"1d\", \"send\": {\"kind\": \"WIN_BACK\", "
	        "\"action\": \"hello\", \"channel\": \"EMAIL\"}}]}");
}

void
dashfix_put_journey_json(int port, const char *name, const char *body)
{
	char req[2048];
	int bl = (int) strlen(body);
	int n = snprintf(req, sizeof(req),
	        "PUT /api/journeys/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	        "Content-Type: application/json\r\nContent-Length: %d\r\n"
	        "Connection: close\r\n\r\n%s",
	        name, port, bl, body);
	cr_assert(n > 0 && (size_t) n < sizeof(req));
	struct dashfix_res r = dashfix_send(port, req);
	cr_assert_eq(r.status, 200, "PUT /api/journeys/%s: %d %s", name,
	        r.status, r.body);
	dashfix_res_free(&r);
}

char *
dashfix_header(const struct dashfix_res *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = r->headers; p != NULL;) {
		if (strncmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ') {
				v++;
			}
			return strndup(v, strcspn(v, "\r\n"));
		}
		p = strstr(p, "\r\n");
		p = p ? p + 2 : NULL;
	}
	return NULL;
}

char *
dashfix_get_json(int port, const char *path)
{
	struct dashfix_res r = dashfix_get(port, path, NULL);
	cr_assert_eq(r.status, 200, "GET %s: %d %s", path, r.status, r.body);
	char *type = dashfix_header(&r, "Content-Type");
	cr_assert_not_null(type);
	cr_expect_str_eq(type, "application/json");
	free(type);
	char *body = r.body;
	r.body = NULL;
	dashfix_res_free(&r);
	return body;
}

char *
dashfix_cli_out(const char *const argv[], const char *in)
{
	char *out = NULL, *err = NULL;
	int rc = run_cli(argv, in, &out, &err);
	cr_assert_eq(rc, 0, "clm %s %s: exit %d\n%s%s", argv[0],
	        argv[1] ? argv[1] : "", rc, out ? out : "", err ? err : "");
	free(err);
	return out;
}

char *
dashfix_cli_json(const char *const argv[])
{
	char *out = dashfix_cli_out(argv, NULL);
	size_t n = strlen(out);
	cr_assert(n > 1 && out[n - 1] == '\n', "not a line: '%s'", out);
	out[n - 1] = '\0';
	cli_json_unposition(out);
	return out;
}

ProtobufCMessage *
dashfix_decode(const char *text, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = NULL;
	char err[256];
	cr_assert_eq(pbjson_parse(text, strlen(text), d, &m, err, sizeof(err)),
	        0, "does not decode as %s: %s: '%.200s'", d->name, err, text);
	return m;
}

void
dashfix_start_seeded(struct dashfix *fx)
{
	cr_assert_eq(harness_tmpdir(fx->dir), 0);
	fx->http_port = harness_free_port();
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", fx->http_port);
	const char *extra[] = { "--http", addr, NULL };
	cr_assert_eq(clmd_start(&fx->srv, NULL, extra), 0,
	        "clmd did not start (log %s)", fx->srv.log_path);

	char tp[512], spend[512];
	snprintf(tp, sizeof(tp), "%s/tp.ndjson", fx->dir);
	snprintf(spend, sizeof(spend), "%s/spend.ndjson", fx->dir);
	const char *gen[] = { "clm-gen", "--seed", "7", "--customers", "250",
		"--days", "60", "--out", tp, "--spend", spend, "--quiet",
		NULL };
	char *out = NULL, *err = NULL;
	int rc = run_cmd(CLM_GEN_BIN, gen, NULL, 30000, &out, &err);
	cr_assert_eq(rc, 0, "clm-gen: exit %d: %s", rc, err ? err : "");
	free(out);
	free(err);
	free(dashfix_cli_out((const char *[]) { "import", tp, NULL }, NULL));
	free(dashfix_cli_out((const char *[]) { "spend", spend, NULL }, NULL));
	free(dashfix_cli_out((const char *[]) { "experiment", "define",
	                             DASHFIX_EXPERIMENT, "--goal", "PURCHASE",
	                             "control:1", "new-copy:1", NULL },
	        NULL));
	for (int i = 1; i <= 40; i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%06d", i);
		free(dashfix_cli_out((const char *[]) { "experiment", "assign",
		                             DASHFIX_EXPERIMENT, id, NULL },
		        NULL));
	}
	/* Purchases after the exposure convert (occurredAtMs 0 = now). */
	char *nd = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&nd, &len);
	cr_assert_not_null(f);
	for (int i = 1; i <= 12; i++) {
		fprintf(f,
		        "{\"eventId\":\"dash-buy-%d\",\"customerId\":\"c%06d\",\"type\":\"PURCHASE\",\"channel\":\"DIRECT\",\"value\":25}\n",
		        i, i * 3);
	}
	fclose(f);
	free(dashfix_cli_out(
	        (const char *[]) {
	                "import", test_file(fx->dir, "buy.ndjson", nd), NULL },
	        NULL));
	free(nd);
}

double
dashfix_prom_value(const char *text, const char *series)
{
	double found = NAN;
	size_t sl = strlen(series);
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "the text does not end with a newline");
		size_t n = (size_t) (nl - p);
		if (p[0] == '#') {
			cr_expect(strncmp(p, "# HELP ", 7) == 0
			                || strncmp(p, "# TYPE ", 7) == 0,
			        "bad comment: %.*s", (int) n, p);
		} else {
			const char *sp = memchr(p, ' ', n);
			const char *brace = memchr(p, '{', n);
			if (brace != NULL) {
				const char *close = memchr(p, '}', n);
				cr_assert(close != NULL && close > brace,
				        "bad labels: %.*s", (int) n, p);
				sp = close + 1;
			}
			cr_assert(sp != NULL && *sp == ' ', "bad line: %.*s",
			        (int) n, p);
			char *end;
			double v = strtod(sp + 1, &end);
			cr_assert(end == nl, "bad value: %.*s", (int) n, p);
			if (n > sl && strncmp(p, series, sl) == 0
			        && p[sl] == ' ') {
				found = v;
			}
		}
		p = nl + 1;
	}
	return found;
}

char *
dashfix_get_prometheus(int port)
{
	struct dashfix_res r = dashfix_get(port, "/metrics", NULL);
	cr_assert_eq(r.status, 200, "GET /metrics: %d", r.status);
	char *type = dashfix_header(&r, "Content-Type");
	cr_assert_not_null(type);
	cr_expect_str_eq(type, "text/plain; version=0.0.4; charset=utf-8");
	free(type);
	char *body = r.body;
	r.body = NULL;
	dashfix_res_free(&r);
	return body;
}
