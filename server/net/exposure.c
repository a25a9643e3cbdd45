/*
 * exposure: which addresses clmd may listen on (docs/operations.md "Securing
 * it"), for the RPC listeners, the event stream and the dashboard alike.
 */
#include "net/exposure.h"

#include <stdio.h>
#include <string.h>

bool
exposure_is_ipv4(const char *s, size_t n)
{
	int parts = 1, digits = 0;
	unsigned value = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0) {
				return false;
			}
			parts++;
			digits = 0;
			value = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			value = value * 10 + (unsigned) (s[i] - '0');
			if (++digits > 3 || value > 255) {
				return false;
			}
		} else {
			return false;
		}
	}
	return parts == 4 && digits > 0;
}

bool
exposure_is_loopback(const char *host, size_t n)
{
	if ((n == 9 && strncmp(host, "localhost", 9) == 0)
	        || (n == 5 && strncmp(host, "[::1]", 5) == 0)) {
		return true;
	}
	return n >= 4 && strncmp(host, "127.", 4) == 0
	        && exposure_is_ipv4(host, n);
}

/*
 * Sets *host to what follows the scheme of a tcp:// or tls+tcp:// URL and
 * *tls to whether it is tls+tcp://. Returns false for any other scheme.
 */
static bool
exposure_tcp_host(const char *url, const char **host, bool *tls)
{
	static const char *const tcp[]
	        = { "tcp://", "tcp4://", "tcp6://", "tls+tcp://" };
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(tcp[i]);
		if (strncmp(url, tcp[i], n) == 0) {
			*host = url + n;
			*tls = i == 3;
			return true;
		}
	}
	return false;
}

/*
 * Checks the scheme of a URL that is not tcp:// or tls+tcp://: ipc:// with a
 * path is fine (0); anything else is refused (-1, the reason in err).
 */
static int
exposure_check_other(const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "ipc://", 6) == 0 && url[6] != '\0') {
		return 0;
	}
	snprintf(err, errlen,
	        "cannot listen on '%s': use tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc://PATH",
	        url);
	return -1;
}

/* Tells whether the host:port after a tcp scheme names loopback. */
static bool
exposure_host_is_loopback(const char *host)
{
	const char *colon = strrchr(host, ':');
	return exposure_is_loopback(
	        host, colon ? (size_t) (colon - host) : strlen(host));
}

int
exposure_check_url(const char *url, bool tokens, bool client_certs, char *err,
        size_t errlen)
{
	const char *host;
	bool tls;
	if (!exposure_tcp_host(url, &host, &tls)) {
		return exposure_check_other(url, err, errlen);
	}
	bool guarded = tokens || (tls && client_certs);
	if (!guarded && !exposure_host_is_loopback(host)) {
		snprintf(err, errlen,
		        "refusing to listen on '%s': not a loopback address, and no auth tokens or TLS client certificates are configured",
		        url);
		return -1;
	}
	return 0;
}

/*
 * Neither tokens nor client certificates guard the event stream (a SUB
 * socket has no request to carry a token, and pubsub has no TLS config), so
 * its refusal must not suggest configuring them. With tokens configured the
 * operator expects only token holders to see customer ids; a tcp://
 * stream, even on loopback, shows them to every local user, so it takes an
 * explicit opt-in (an owner-only ipc:// socket is the default then).
 */
int
exposure_check_events_url(const char *url, bool tokens, bool unauthenticated,
        char *err, size_t errlen)
{
	const char *host;
	bool tls;
	if (!exposure_tcp_host(url, &host, &tls)) {
		return exposure_check_other(url, err, errlen);
	}
	if (!exposure_host_is_loopback(host)) {
		snprintf(err, errlen,
		        "refusing to publish events on '%s': the event stream has no authentication, so it listens only on loopback or ipc://",
		        url);
		return -1;
	}
	if (tokens && !unauthenticated) {
		snprintf(err, errlen,
		        "refusing to publish events on '%s': auth tokens are configured but the event stream has no authentication, so any local user could read it; leave events unset for an owner-only ipc:// socket in the data dir, or set events_unauthenticated = true (--events-unauthenticated true) to publish on it anyway",
		        url);
		return -1;
	}
	return 0;
}
