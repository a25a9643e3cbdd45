/*
 * clm-bench's HTTP side: the http-batch workload's client, one keep-alive
 * HTTP/1.1 connection on a plain TCP socket to clmd's --http port on
 * loopback, and the Segment-style /v1/batch bodies it posts (what
 * @segment/analytics-node sends: tests/data/sdk/).
 *
 * The client is just enough HTTP for clmd and a test server: a request
 * with Content-Length, an answer framed by Content-Length or chunked (or,
 * with neither, by the end of the connection), keep-alive unless the
 * answer says Connection: close. Anything else is an error, and the
 * connection is closed; the next request opens a new one.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* No answer within this many seconds is an error (a loaded machine). */
#define BENCH_HTTP_TIMEOUT_S 30
/* The largest answer head and body taken. */
#define BENCH_HTTP_MAX_HEAD (16u * 1024u)
#define BENCH_HTTP_MAX_BODY (1024u * 1024u)

void
bench_http_init(struct bench_http *h, int port)
{
	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->port = port;
}

void
bench_http_close(struct bench_http *h)
{
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
}

void
bench_http_fini(struct bench_http *h)
{
	bench_http_close(h);
	free(h->in);
	free(h->out);
	h->in = h->out = NULL;
	h->in_cap = h->in_len = h->in_off = h->out_cap = 0;
}

/* Connects h to 127.0.0.1:port. Returns 0 or -1. */
static int
bench_http_connect(struct bench_http *h)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return -1;
	}
	struct timeval tv = { BENCH_HTTP_TIMEOUT_S, 0 };
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Head and body go in one write, but the answer must not wait on
	 * Nagle either. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t) h->port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	h->fd = fd;
	h->in_len = h->in_off = 0;
	return 0;
}

/* Writes all of buf. Returns 0 or -1. */
static int
bench_http_write(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		buf += n;
		len -= (size_t) n;
	}
	return 0;
}

/*
 * Reads more of the connection into h->in (kept from in_off on, which is
 * moved to the front first). Returns the bytes read, 0 at the end of the
 * connection, or -1.
 */
static ssize_t
bench_http_fill(struct bench_http *h)
{
	if (h->in_off > 0) {
		memmove(h->in, h->in + h->in_off, h->in_len - h->in_off);
		h->in_len -= h->in_off;
		h->in_off = 0;
	}
	if (h->in_cap - h->in_len < 4096) {
		size_t cap = h->in_cap ? h->in_cap * 2 : 64 * 1024;
		if (cap > BENCH_HTTP_MAX_HEAD + BENCH_HTTP_MAX_BODY + 4096) {
			return -1;
		}
		char *in = realloc(h->in, cap);
		if (in == NULL) {
			return -1;
		}
		h->in = in;
		h->in_cap = cap;
	}
	for (;;) {
		/* One byte kept for a NUL after what was read (sscanf). */
		ssize_t n = recv(h->fd, h->in + h->in_len,
		        h->in_cap - h->in_len - 1, 0);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n > 0) {
			h->in_len += (size_t) n;
		}
		h->in[h->in_len] = '\0';
		return n;
	}
}

/* The value of header name in head[0..len) (lines "Name: value"), or NULL;
 * *vlen its length. */
static const char *
bench_http_header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	const char *end = head + len;
	const char *p = memchr(head, '\n', len);
	while (p != NULL && p + 1 < end) {
		p++;
		const char *eol = memchr(p, '\n', (size_t) (end - p));
		if (eol == NULL) {
			eol = end;
		}
		if ((size_t) (eol - p) > n && p[n] == ':'
		        && strncasecmp(p, name, n) == 0) {
			const char *v = p + n + 1;
			while (v < eol && (*v == ' ' || *v == '\t')) {
				v++;
			}
			const char *ve = eol;
			while (ve > v && isspace((unsigned char) ve[-1])) {
				ve--;
			}
			*vlen = (size_t) (ve - v);
			return v;
		}
		p = eol < end ? eol : NULL;
	}
	return NULL;
}

/* Whether value[0..vlen) holds token (comma-separated, any case). */
static bool
bench_http_has_token(const char *value, size_t vlen, const char *token)
{
	size_t n = strlen(token);
	for (size_t i = 0; i + n <= vlen; i++) {
		if (strncasecmp(value + i, token, n) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * Reads a chunked body that starts at h->in + at into h->in itself
 * (decoded in place, from at on). Returns its length, or -1.
 */
static ssize_t
bench_http_chunked(struct bench_http *h, size_t at)
{
	size_t out = at, pos = at;
	for (;;) {
		char *line = NULL;
		while ((line = memchr(h->in + pos, '\n', h->in_len - pos))
		        == NULL) {
			/* fill() moves data: keep offsets relative. */
			if (bench_http_fill(h) <= 0) {
				return -1;
			}
		}
		char *endp;
		unsigned long size = strtoul(h->in + pos, &endp, 16);
		if (endp == h->in + pos || size > BENCH_HTTP_MAX_BODY
		        || out - at + size > BENCH_HTTP_MAX_BODY) {
			return -1;
		}
		pos = (size_t) (line - h->in) + 1;
		/* The chunk and its CRLF (after the last one: the CRLF of
		 * an empty trailer). */
		while (h->in_len - pos < size + 2) {
			if (bench_http_fill(h) <= 0) {
				return -1;
			}
		}
		if (size == 0) {
			h->in_off = pos + 2;
			return (ssize_t) (out - at);
		}
		memmove(h->in + out, h->in + pos, size);
		out += size;
		pos += size + 2;
	}
}

int
bench_http_post(struct bench_http *h, const char *path, const char *headers,
        const char *body, size_t len, struct bench_http_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (h->fd < 0 && bench_http_connect(h) != 0) {
		return -1;
	}
	/*
	 * Head and body in one buffer, one write, as the SDKs' clients
	 * mostly do (undici writes them together for a string body).
	 */
	char head[1024];
	int hn = snprintf(head, sizeof(head),
	        "POST %s HTTP/1.1\r\n"
	        "Host: 127.0.0.1:%d\r\n"
	        "Connection: keep-alive\r\n"
	        "%s"
	        "Content-Length: %zu\r\n\r\n",
	        path, h->port, headers ? headers : "", len);
	if (hn < 0 || (size_t) hn >= sizeof(head)) {
		return -1;
	}
	if (h->out_cap < (size_t) hn + len) {
		char *out = realloc(h->out, (size_t) hn + len);
		if (out == NULL) {
			return -1;
		}
		h->out = out;
		h->out_cap = (size_t) hn + len;
	}
	memcpy(h->out, head, (size_t) hn);
	memcpy(h->out + hn, body, len);
	if (bench_http_write(h->fd, h->out, (size_t) hn + len) != 0) {
		goto fail;
	}

	/* The head: up to the blank line. */
	char *eoh;
	h->in_off = 0;
	h->in_len = 0;
	while ((eoh = h->in_len >= 4 ? memmem(h->in, h->in_len, "\r\n\r\n", 4)
	                             : NULL)
	        == NULL) {
		if (h->in_len > BENCH_HTTP_MAX_HEAD
		        || bench_http_fill(h) <= 0) {
			goto fail;
		}
	}
	size_t head_len = (size_t) (eoh - h->in) + 4;
	int minor = 0, status = 0;
	if (sscanf(h->in, "HTTP/1.%d %d", &minor, &status) != 2 || status < 100
	        || status > 599) {
		goto fail;
	}
	size_t vlen;
	const char *v
	        = bench_http_header(h->in, head_len, "Connection", &vlen);
	bool close_after = minor == 0
	        ? !(v != NULL && bench_http_has_token(v, vlen, "keep-alive"))
	        : (v != NULL && bench_http_has_token(v, vlen, "close"));
	const char *te = bench_http_header(
	        h->in, head_len, "Transfer-Encoding", &vlen);
	bool chunked = te != NULL && bench_http_has_token(te, vlen, "chunked");
	const char *cl
	        = bench_http_header(h->in, head_len, "Content-Length", &vlen);
	ssize_t body_len;
	if (chunked) {
		body_len = bench_http_chunked(h, head_len);
		if (body_len < 0) {
			goto fail;
		}
	} else if (cl != NULL) {
		char *endp;
		unsigned long n = strtoul(cl, &endp, 10);
		if (endp == cl || n > BENCH_HTTP_MAX_BODY) {
			goto fail;
		}
		while (h->in_len - head_len < n) {
			if (bench_http_fill(h) <= 0) {
				goto fail;
			}
		}
		body_len = (ssize_t) n;
		h->in_off = head_len + n;
	} else {
		/* Framed by the end of the connection. */
		ssize_t n;
		while ((n = bench_http_fill(h)) > 0) {
		}
		if (n < 0) {
			goto fail;
		}
		body_len = (ssize_t) (h->in_len - head_len);
		close_after = true;
	}
	if (h->in_off != h->in_len && !close_after) {
		/* A server that answers more than it was asked. */
		close_after = true;
	}
	ans->status = status;
	ans->body = h->in + head_len;
	ans->len = (size_t) body_len;
	if (close_after) {
		bench_http_close(h);
	}
	return 0;
fail:
	bench_http_close(h);
	return -1;
}

/* Segment's "timestamp": ISO-8601 in UTC with milliseconds. */
static void
bench_http_iso(double wall, char *out, size_t cap)
{
	time_t s = (time_t) wall;
	struct tm tm;
	gmtime_r(&s, &tm);
	int ms = (int) ((wall - floor(wall)) * 1000);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	        tm.tm_min, tm.tm_sec, ms);
}

static uint32_t
bench_http_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * The utm_medium values the bench spreads its items over (each maps to a
 * channel in docs/ingest.md's table), and the empty one: no campaign.
 */
static const char *const bench_http_media[]
        = { "", "cpc", "email", "social", "organic", "referral", "sms" };

size_t
bench_http_batch(char *buf, size_t cap, const char *id_prefix, uint64_t seq,
        int n, int customers, uint32_t *seed)
{
	char ts[64];
	bench_http_iso(bench_wall(), ts, sizeof(ts));
	size_t len = 0;
#define BENCH_PUT(...)                                                      \
	do {                                                                \
		int k_ = snprintf(                                          \
		        buf + len, cap > len ? cap - len : 0, __VA_ARGS__); \
		if (k_ < 0 || (size_t) k_ >= (cap > len ? cap - len : 0)) { \
			return 0;                                           \
		}                                                           \
		len += (size_t) k_;                                         \
	} while (0)
	BENCH_PUT("{\"batch\":[");
	for (int i = 0; i < n; i++) {
		uint32_t cust = bench_http_rand(seed) % (uint32_t) customers;
		uint32_t r = bench_http_rand(seed) % 100;
		uint32_t sku = bench_http_rand(seed) % 200;
		const char *medium = bench_http_media[bench_http_rand(seed)
		        % (sizeof(bench_http_media)
		                / sizeof(bench_http_media[0]))];
		BENCH_PUT("%s{\"messageId\":\"%s-%llu-%d\","
		          "\"userId\":\"bench-%u\",\"timestamp\":\"%s\",",
		        i ? "," : "", id_prefix, (unsigned long long) seq, i,
		        cust, ts);
		/* The mix of track-batch: 60 % page views, 25 % visits
		 * (Segment has none: a product view), 10 % carts, 5 %
		 * orders. */
		if (r < 60) {
			BENCH_PUT("\"type\":\"page\",\"name\":\"Catalog\","
			          "\"properties\":{\"path\":\"/c/%u\","
			          "\"url\":\"https://shop.example.com/c/%u\"}",
			        sku, sku);
		} else if (r < 85) {
			BENCH_PUT("\"type\":\"track\","
			          "\"event\":\"Product Viewed\","
			          "\"properties\":{\"product_id\":\"sku-%u\"}",
			        sku);
		} else if (r < 95) {
			BENCH_PUT("\"type\":\"track\","
			          "\"event\":\"Product Added\","
			          "\"properties\":{\"product_id\":\"sku-%u\","
			          "\"price\":25,\"quantity\":1}",
			        sku);
		} else {
			BENCH_PUT(
			        "\"type\":\"track\","
			        "\"event\":\"Order Completed\","
			        "\"properties\":{\"order_id\":\"%s-%llu-%d\","
			        "\"revenue\":25,\"currency\":\"EUR\","
			        "\"products\":[{\"product_id\":\"sku-%u\","
			        "\"price\":25,\"quantity\":1}]}",
			        id_prefix, (unsigned long long) seq, i, sku);
		}
		BENCH_PUT(
		        ",\"context\":{\"library\":{\"name\":\"clm-bench\"}");
		if (medium[0] != '\0') {
			BENCH_PUT(",\"campaign\":{\"source\":\"bench\","
			          "\"medium\":\"%s\",\"name\":\"spring\"}",
			        medium);
		}
		BENCH_PUT("}}");
	}
	BENCH_PUT("],\"sentAt\":\"%s\"}", ts);
#undef BENCH_PUT
	return len;
}
