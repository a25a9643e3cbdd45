/*
 * exposure: which addresses clmd may listen on (docs/operations.md "Securing
 * it"), for the RPC listeners, the event stream and the dashboard alike.
 */
#include "net/exposure.h"

#include <stdio.h>
#include <string.h>

bool
exposure_is_loopback(const char *host, size_t n)
{
	if ((n == 9 && strncmp(host, "localhost", 9) == 0)
	        || (n == 5 && strncmp(host, "[::1]", 5) == 0)) {
		return true;
	}
	if (n < 4 || strncmp(host, "127.", 4) != 0) {
		return false;
	}
	int parts = 2, digits = 0; /* "127." is the first */
	unsigned value = 0;
	for (size_t i = 4; i < n; i++) {
		if (host[i] == '.') {
			if (digits == 0) {
				return false;
			}
			parts++;
			digits = 0;
			value = 0;
		} else if (host[i] >= '0' && host[i] <= '9') {
			value = value * 10 + (unsigned) (host[i] - '0');
			if (++digits > 3 || value > 255) {
				return false;
			}
		} else {
			return false;
		}
	}
	return parts == 4 && digits > 0;
}

int
exposure_check_url(const char *url, bool tokens, bool client_certs, char *err,
        size_t errlen)
{
	const char *rest = NULL;
	bool guarded = tokens;
	static const char *const tcp[]
	        = { "tcp://", "tcp4://", "tcp6://", "tls+tcp://" };
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(tcp[i]);
		if (strncmp(url, tcp[i], n) == 0) {
			rest = url + n;
			guarded = tokens || (i == 3 && client_certs);
		}
	}
	if (rest == NULL) {
		if (strncmp(url, "ipc://", 6) == 0 && url[6] != '\0') {
			return 0;
		}
		snprintf(err, errlen,
		        "cannot listen on '%s': use tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc://PATH",
		        url);
		return -1;
	}
	const char *colon = strrchr(rest, ':');
	size_t hn = colon ? (size_t) (colon - rest) : strlen(rest);
	if (!guarded && !exposure_is_loopback(rest, hn)) {
		snprintf(err, errlen,
		        "refusing to listen on '%s': not a loopback address, and no auth tokens or TLS client certificates are configured",
		        url);
		return -1;
	}
	return 0;
}
