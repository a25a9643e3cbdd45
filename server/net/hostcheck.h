/*
 * hostcheck: which requests the dashboard answers, judged from their Host,
 * Origin and Sec-Fetch-Site headers (docs/operations.md "Securing it").
 *
 * DNS rebinding: a web page on a name its author controls (evil.example)
 * can point that name at 127.0.0.1 once the page has loaded; its scripts
 * then reach clmd's loopback dashboard as "same origin" and read the
 * answers. The browser still sends `Host: evil.example`, so the server
 * answers only Host values that are its own: the name or address of the
 * --http listen address, localhost, any IP address literal (a rebinding
 * needs a name the attacker controls; a page on an IP literal was loaded
 * from that very address), and the names of http_allowed_hosts. The port
 * of the Host is not compared: a rebinding attack always uses the server's
 * own port, and an SSH tunnel or a proxy legitimately changes it.
 *
 * Cross-origin writes: a page may send a request elsewhere without reading
 * the answer, so a method that may change something (anything but GET,
 * HEAD and OPTIONS) is refused when the browser says it comes from
 * another origin: Sec-Fetch-Site other than same-origin or none, or,
 * from browsers that do not send that, an Origin whose host and port
 * differ from the Host. A request with neither header is not from a
 * browser's page and passes. An Origin naming one of http_allowed_hosts
 * passes (behind a proxy that rewrites Host, the page's origin is the
 * proxy's name).
 *
 * Pure string checks: no allocation, no I/O, any thread.
 */
#ifndef CLM_NET_HOSTCHECK_H
#define CLM_NET_HOSTCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* The names a server answers to, both borrowed. */
struct hostcheck_names {
	const char *listen; /* the --http HOST:PORT; NULL: none */
	const char
	        *allowed; /* http_allowed_hosts, comma-separated; NULL: "" */
};

/* What a request carries, each header NULL when absent; all borrowed. */
struct hostcheck_req {
	const char *method;     /* "GET", "POST", ... */
	bool http10;            /* HTTP/1.0, which may omit Host */
	const char *host;       /* Host */
	const char *origin;     /* Origin */
	const char *fetch_site; /* Sec-Fetch-Site */
};

enum hostcheck_verdict {
	HOSTCHECK_OK,
	HOSTCHECK_NO_HOST,      /* HTTP/1.1 without Host: 400 */
	HOSTCHECK_BAD_HOST,     /* a Host that is not host[:port]: 400 */
	HOSTCHECK_WRONG_HOST,   /* a name not this server's: 421 */
	HOSTCHECK_CROSS_ORIGIN, /* a write from another origin: 403 */
};

/*
 * hostcheck_request judges one request: the Host first (an HTTP/1.0
 * request without one passes that step: no browser sends such a request),
 * then, for methods other than GET, HEAD and OPTIONS, where it comes from.
 * Returns HOSTCHECK_OK or the reason to refuse it.
 */
enum hostcheck_verdict hostcheck_request(
        const struct hostcheck_names *n, const struct hostcheck_req *r);

/*
 * hostcheck_host_allowed tells whether the Host value host ("name",
 * "name:port", "1.2.3.4:port", "[::1]:port"; case and one trailing dot of
 * a name ignored) is well-formed and names this server. false for NULL.
 */
bool hostcheck_host_allowed(const struct hostcheck_names *n, const char *host);

/*
 * hostcheck_origin_allowed tells whether a write with the Origin value
 * origin ("http://name:port"; "null" never) may be served to a request
 * whose Host is host (NULL: none): the same host and port, or a host
 * named in n->allowed.
 */
bool hostcheck_origin_allowed(
        const struct hostcheck_names *n, const char *origin, const char *host);

/*
 * hostcheck_check_allowed checks an http_allowed_hosts value: names
 * separated by commas (spaces around them and empty entries ignored),
 * each a host name or address without a port. Returns 0, or -1 with the
 * reason in err.
 */
int hostcheck_check_allowed(const char *allowed, char *err, size_t errlen);

#endif /* CLM_NET_HOSTCHECK_H */
