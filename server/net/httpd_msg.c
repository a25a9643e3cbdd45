/*
 * httpd_msg: the pure parts of httpd (httpd.h): parsing a request head in
 * place, decoding its path, reading its headers, and the reason phrases.
 * No I/O, no nng; unit-tested alone.
 */
#include "net/httpd_msg.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool
httpd_msg_is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
	        || (c >= 'A' && c <= 'Z')
	        || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
httpd_msg_hex(char c)
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

size_t
httpd_msg_path(const char *target, char *out)
{
	const char *p = target;
	if (strncasecmp(p, "http://", 7) == 0
	        || strncasecmp(p, "https://", 8) == 0) {
		p = strchr(strstr(p, "://") + 3, '/');
		if (p == NULL) {
			p = "/";
		}
	}
	size_t n = strcspn(p, "?");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int hi = p[i] == '%' && i + 2 < n ? httpd_msg_hex(p[i + 1])
		                                  : -1;
		int lo = hi >= 0 ? httpd_msg_hex(p[i + 2]) : -1;
		if (lo >= 0) {
			out[k++] = (char) (hi * 16 + lo);
			i += 2;
		} else {
			out[k++] = p[i];
		}
	}
	out[k] = '\0';
	return k;
}

/* Parses the request line at s (NUL-terminated); 0 or an HTTP status. */
static int
httpd_msg_request_line(char *s, struct httpd_req *req)
{
	char *sp1 = strchr(s, ' ');
	char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == s || sp2 == sp1 + 1
	        || strchr(sp2 + 1, ' ') != NULL) {
		return 400;
	}
	*sp1 = '\0';
	*sp2 = '\0';
	for (const char *m = s; *m != '\0'; m++) {
		if (!httpd_msg_is_tchar((unsigned char) *m)) {
			return 400;
		}
	}
	for (const unsigned char *t = (unsigned char *) sp1 + 1; *t != '\0';
	        t++) {
		if (*t <= ' ' || *t == 0x7f) {
			return 400;
		}
	}
	const char *v = sp2 + 1;
	if (strncmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9'
	        || v[6] != '.' || v[7] < '0' || v[7] > '9' || v[8] != '\0') {
		return 400;
	}
	if (strcmp(v, "HTTP/1.1") != 0 && strcmp(v, "HTTP/1.0") != 0) {
		return 505;
	}
	req->method = s;
	req->target = sp1 + 1;
	req->http10 = v[7] == '0';
	return 0;
}

int
httpd_msg_parse_head(char *buf, size_t n, struct httpd_req *req,
        size_t *body_len, const char **why)
{
	/* Every line ends in CRLF; a NUL or a bare CR is malformed. */
	if (memchr(buf, '\0', n) != NULL) {
		*why = "malformed request: NUL byte in the head";
		return 400;
	}
	char *line = buf;
	char *end = buf + n - 2; /* the blank line's CRLF */
	*end = '\0';
	bool first = true;
	bool have_length = false;
	*body_len = 0;
	req->n_headers = 0;
	while (line < end) {
		char *crlf = strstr(line, "\r\n");
		if (crlf == NULL) {
			crlf = end;
		}
		*crlf = '\0';
		if (strpbrk(line, "\r\n") != NULL) {
			*why = "malformed request: bare CR or LF in the head";
			return 400;
		}
		if (first) {
			int st = httpd_msg_request_line(line, req);
			if (st != 0) {
				*why = st == 505
				        ? "http version not supported: "
				          "use HTTP/1.1 or HTTP/1.0"
				        : "malformed request line";
				return st;
			}
			first = false;
			line = crlf + 2;
			continue;
		}
		char *colon = strchr(line, ':');
		if (colon == NULL || colon == line) {
			*why = "malformed header line";
			return 400;
		}
		for (const char *c = line; c < colon; c++) {
			if (!httpd_msg_is_tchar((unsigned char) *c)) {
				*why = "malformed header name";
				return 400;
			}
		}
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t') {
			v++;
		}
		size_t vn = strlen(v);
		while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) {
			v[--vn] = '\0';
		}
		if (req->n_headers == HTTPD_MAX_HEADERS) {
			*why = "request header fields too large: too many header lines";
			return 431;
		}
		req->headers[req->n_headers].name = line;
		req->headers[req->n_headers].value = v;
		req->n_headers++;
		if (strcasecmp(line, "Transfer-Encoding") == 0) {
			*why = "length required: send the body with Content-Length, not Transfer-Encoding";
			return 411;
		}
		if (strcasecmp(line, "Content-Length") == 0) {
			uint64_t len = 0;
			bool ok = *v != '\0' && !have_length;
			for (const char *c = v; ok && *c != '\0'; c++) {
				ok = *c >= '0' && *c <= '9'
				        && len <= (UINT64_MAX - 9) / 10;
				len = len * 10 + (uint64_t) (*c - '0');
			}
			if (!ok) {
				*why = "malformed or repeated Content-Length";
				return 400;
			}
			have_length = true;
			*body_len = len > SIZE_MAX ? SIZE_MAX : (size_t) len;
		}
		line = crlf + 2;
	}
	if (first) {
		*why = "malformed request line";
		return 400;
	}
	return 0;
}

const char *
httpd_req_header(const struct httpd_req *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcasecmp(req->headers[i].name, name) == 0) {
			return req->headers[i].value;
		}
	}
	return NULL;
}

size_t
httpd_req_header_count(const struct httpd_req *req, const char *name)
{
	size_t n = 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		n += strcasecmp(req->headers[i].name, name) == 0;
	}
	return n;
}

int
httpd_msg_expect(const struct httpd_req *req)
{
	size_t n = httpd_req_header_count(req, "Expect");
	if (n == 0 || req->http10) {
		return 0;
	}
	const char *v = httpd_req_header(req, "Expect");
	return n == 1 && strcasecmp(v, "100-continue") == 0 ? 100 : 417;
}

bool
httpd_msg_has_token(const char *value, const char *token)
{
	size_t tn = strlen(token);
	for (const char *p = value; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		size_t n = strcspn(p, ",");
		size_t k = n;
		while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t')) {
			k--;
		}
		if (k == tn && strncasecmp(p, token, tn) == 0) {
			return true;
		}
		p += n;
	}
	return false;
}

/* The reason phrase of each status httpd or its handler sends. */
static const struct {
	int status;
	const char *reason;
} httpd_msg_reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 417, "Expectation Failed" },
	{ 421, "Misdirected Request" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

const char *
httpd_msg_reason(int status)
{
	for (size_t i = 0;
	        i < sizeof(httpd_msg_reasons) / sizeof(httpd_msg_reasons[0]);
	        i++) {
		if (httpd_msg_reasons[i].status == status) {
			return httpd_msg_reasons[i].reason;
		}
	}
	return "Unknown";
}
