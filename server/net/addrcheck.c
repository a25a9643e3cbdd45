/*
 * addrcheck: listen once on each of clmd's addresses before the store is
 * opened (see addrcheck.h).
 */
#include "net/addrcheck.h"

#include <nng/nng.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/rpc_probe.h"

int
addrcheck_listen(const char *url, const char *what, const char *shown,
        char *err, size_t errlen)
{
	/* The TLS layer is set up by the real listener; the port is tcp's. */
	char tcp[512];
	const char *addr = url;
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		snprintf(tcp, sizeof(tcp), "tcp://%s", url + 10);
		addr = tcp;
	}
	/*
	 * An ipc:// path a running clmd serves: nng's listen would find that
	 * out by connecting and closing at once, which is just what stops
	 * nng 1.5.2's IPC listener (issue 1518) over there. Ask the way the
	 * ipc probe does, with a whole handshake, first.
	 */
	if (strncmp(url, "ipc://", 6) == 0) {
		enum rpc_probe_result res;
		int fd = rpc_probe_connect(url + 6, &res);
		if (fd >= 0) {
			close(fd);
			snprintf(err, errlen,
			        "cannot %s on '%s': address in use", what,
			        shown != NULL ? shown : url);
			return -1;
		}
	}
	nng_stream_listener *l;
	int rv = nng_stream_listener_alloc(&l, addr);
	if (rv == 0) {
		rv = nng_stream_listener_listen(l);
		nng_stream_listener_free(l);
	}
	if (rv == 0 || (rv == NNG_ENOENT && strncmp(url, "ipc://", 6) == 0)) {
		return 0;
	}
	snprintf(err, errlen, "cannot %s on '%s': %s", what,
	        shown != NULL ? shown : url,
	        rv == NNG_EADDRINUSE ? "address in use" : nng_strerror(rv));
	return -1;
}
