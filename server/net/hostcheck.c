/*
 * hostcheck: the Host and Origin rules of the dashboard (hostcheck.h).
 *
 * Everything works on spans (pointer and length) of the caller's strings,
 * so nothing is copied or allocated. A Host value is RFC 9110's
 * `uri-host [":" port]`, narrowed to what a browser or a scraper sends: a
 * name of letters, digits and "-._~", a dotted-quad IPv4 address, or an
 * IPv6 address in brackets. Anything else (a comma from two Host lines
 * joined, a space, a percent-escape, userinfo) is malformed.
 */
#include "net/hostcheck.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "net/exposure.h"

/* A span of a string. */
struct hostcheck_span {
	const char *p;
	size_t n;
};

static bool
hostcheck_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	        || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
	        || c == '~';
}

static bool
hostcheck_hex_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
	        || (c >= 'A' && c <= 'F');
}

/* Trims spaces and tabs off both ends of s. */
static struct hostcheck_span
hostcheck_trim(struct hostcheck_span s)
{
	while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) {
		s.n--;
	}
	return s;
}

/*
 * Whether s is "[...]" holding hex digits, colons and dots with at least
 * two colons: the shape of an IPv6 literal. Its exact grammar does not
 * matter here: no DNS name has that shape, so no rebinding can produce
 * it, and the connection reached this server.
 */
static bool
hostcheck_is_ipv6(struct hostcheck_span s)
{
	if (s.n < 4 || s.p[0] != '[' || s.p[s.n - 1] != ']') {
		return false;
	}
	int colons = 0;
	for (size_t i = 1; i + 1 < s.n; i++) {
		char c = s.p[i];
		if (c == ':') {
			colons++;
		} else if (!hostcheck_hex_char(c) && c != '.') {
			return false;
		}
	}
	return colons >= 2;
}

/*
 * Splits an authority "host[:port]" (spaces around it ignored) and puts
 * its host into *host. Returns false when it is malformed: an empty
 * host, a character a host name cannot hold, or a port that is not
 * 0 to 5 digits up to 65535. *port tells whether it had a ':'.
 */
static bool
hostcheck_authority(
        struct hostcheck_span a, struct hostcheck_span *host, bool *port)
{
	a = hostcheck_trim(a);
	size_t end = 0;
	if (a.n > 0 && a.p[0] == '[') {
		const char *rb = memchr(a.p, ']', a.n);
		if (rb == NULL) {
			return false;
		}
		end = (size_t) (rb - a.p) + 1;
		struct hostcheck_span v6 = { a.p, end };
		if (!hostcheck_is_ipv6(v6)) {
			return false;
		}
	} else {
		while (end < a.n && a.p[end] != ':') {
			if (!hostcheck_name_char(a.p[end])) {
				return false;
			}
			end++;
		}
		/* "" and "." are no names; "name." is name's FQDN form. */
		if (end == 0 || (end == 1 && a.p[0] == '.')) {
			return false;
		}
	}
	*port = end < a.n;
	if (end < a.n) {
		if (a.p[end] != ':' || a.n - end - 1 > 5) {
			return false;
		}
		unsigned long value = 0;
		for (size_t i = end + 1; i < a.n; i++) {
			if (a.p[i] < '0' || a.p[i] > '9') {
				return false;
			}
			value = value * 10 + (unsigned long) (a.p[i] - '0');
		}
		if (value > 65535) {
			return false;
		}
	}
	host->p = a.p;
	host->n = end;
	return true;
}

/* Whether names a and b are equal, ignoring case and a trailing dot. */
static bool
hostcheck_name_eq(struct hostcheck_span a, struct hostcheck_span b)
{
	if (a.n > 0 && a.p[a.n - 1] == '.') {
		a.n--;
	}
	if (b.n > 0 && b.p[b.n - 1] == '.') {
		b.n--;
	}
	return a.n == b.n && a.n > 0 && strncasecmp(a.p, b.p, a.n) == 0;
}

/* Whether s is the token t, ignoring case. */
static bool
hostcheck_token_eq(struct hostcheck_span s, const char *t)
{
	return s.n == strlen(t) && strncasecmp(s.p, t, s.n) == 0;
}

/* Whether the comma-separated list (NULL: empty) names host. */
static bool
hostcheck_in_list(const char *list, struct hostcheck_span host)
{
	if (list == NULL) {
		return false;
	}
	for (const char *p = list; *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t) (comma - p) : strlen(p);
		struct hostcheck_span e
		        = hostcheck_trim((struct hostcheck_span) { p, n });
		if (hostcheck_name_eq(e, host)) {
			return true;
		}
		p += n;
		if (*p == ',') {
			p++;
		}
	}
	return false;
}

static struct hostcheck_span
hostcheck_span_of(const char *s)
{
	return (struct hostcheck_span) { s, strlen(s) };
}

bool
hostcheck_host_allowed(const struct hostcheck_names *n, const char *host)
{
	struct hostcheck_span h, lh;
	bool port;
	if (host == NULL
	        || !hostcheck_authority(hostcheck_span_of(host), &h, &port)) {
		return false;
	}
	if (exposure_is_ipv4(h.p, h.n) || hostcheck_is_ipv6(h)
	        || hostcheck_name_eq(h, hostcheck_span_of("localhost"))) {
		return true;
	}
	if (n->listen != NULL
	        && hostcheck_authority(
	                hostcheck_span_of(n->listen), &lh, &port)
	        && hostcheck_name_eq(h, lh)) {
		return true;
	}
	return hostcheck_in_list(n->allowed, h);
}

/*
 * Splits an Origin "scheme://host[:port]" into its authority and host.
 * false for "null", other schemes, and anything with a path.
 */
static bool
hostcheck_origin_parse(const char *origin, struct hostcheck_span *authority,
        struct hostcheck_span *host)
{
	const char *rest = NULL;
	if (strncasecmp(origin, "http://", 7) == 0) {
		rest = origin + 7;
	} else if (strncasecmp(origin, "https://", 8) == 0) {
		rest = origin + 8;
	} else {
		return false;
	}
	bool port;
	*authority = hostcheck_trim(hostcheck_span_of(rest));
	return hostcheck_authority(*authority, host, &port);
}

bool
hostcheck_origin_allowed(
        const struct hostcheck_names *n, const char *origin, const char *host)
{
	struct hostcheck_span oa, oh;
	if (origin == NULL || !hostcheck_origin_parse(origin, &oa, &oh)) {
		return false;
	}
	if (host != NULL) {
		struct hostcheck_span ha
		        = hostcheck_trim(hostcheck_span_of(host));
		if (ha.n == oa.n && strncasecmp(ha.p, oa.p, ha.n) == 0) {
			return true;
		}
	}
	return hostcheck_in_list(n->allowed, oh);
}

/* GET, HEAD and OPTIONS read; every other method may write. */
static bool
hostcheck_safe_method(const char *m)
{
	return m != NULL
	        && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0
	                || strcmp(m, "OPTIONS") == 0);
}

enum hostcheck_verdict
hostcheck_request(
        const struct hostcheck_names *n, const struct hostcheck_req *r)
{
	if (r->host == NULL) {
		if (!r->http10) {
			return HOSTCHECK_NO_HOST;
		}
	} else {
		struct hostcheck_span h;
		bool port;
		if (!hostcheck_authority(
		            hostcheck_span_of(r->host), &h, &port)) {
			return HOSTCHECK_BAD_HOST;
		}
		if (!hostcheck_host_allowed(n, r->host)) {
			return HOSTCHECK_WRONG_HOST;
		}
	}
	if (hostcheck_safe_method(r->method)) {
		return HOSTCHECK_OK;
	}
	/*
	 * Browsers since 2020 send Sec-Fetch-Site, and it cannot be set by a
	 * page's script: trust it when present. same-site is refused too:
	 * another port on localhost is the same site but another program.
	 */
	struct hostcheck_span oa, oh;
	bool trusted = r->origin != NULL
	        && hostcheck_origin_parse(r->origin, &oa, &oh)
	        && hostcheck_in_list(n->allowed, oh);
	if (r->fetch_site != NULL) {
		struct hostcheck_span fs
		        = hostcheck_trim(hostcheck_span_of(r->fetch_site));
		if (hostcheck_token_eq(fs, "same-origin")
		        || hostcheck_token_eq(fs, "none") || trusted) {
			return HOSTCHECK_OK;
		}
		return HOSTCHECK_CROSS_ORIGIN;
	}
	if (r->origin == NULL) {
		return HOSTCHECK_OK; /* not sent by a web page */
	}
	return hostcheck_origin_allowed(n, r->origin, r->host)
	        ? HOSTCHECK_OK
	        : HOSTCHECK_CROSS_ORIGIN;
}

int
hostcheck_check_allowed(const char *allowed, char *err, size_t errlen)
{
	for (const char *p = allowed; p != NULL && *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t) (comma - p) : strlen(p);
		struct hostcheck_span e
		        = hostcheck_trim((struct hostcheck_span) { p, n });
		struct hostcheck_span h;
		bool port = false;
		if (e.n > 0 && (!hostcheck_authority(e, &h, &port) || port)) {
			snprintf(err, errlen,
			        "invalid http_allowed_hosts entry '%.*s': expected a host name without a port (names are separated by commas)",
			        (int) e.n, e.p);
			return -1;
		}
		p += n;
		if (*p == ',') {
			p++;
		}
	}
	return 0;
}
