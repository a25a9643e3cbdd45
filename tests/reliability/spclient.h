/*
 * spclient: a REQ client that speaks the SP protocol's TCP mapping itself,
 * over a plain blocking socket, for the crash and power-loss tests.
 *
 * Why not libclm: nng has no way to end a call from another thread, and
 * nng 1.5.2's close can hang for good (issues 1543, 1813); these tests
 * must end a wait when clmd dies, with shutdown(2) from another thread or
 * by the socket's own receive timeout. The mapping: an 8-byte greeting
 * each way, then frames of a 64-bit big-endian length and a body; a REQ
 * body starts with a 32-bit request id with the top bit set, which the
 * reply carries back.
 */
#ifndef CLM_TEST_SPCLIENT_H
#define CLM_TEST_SPCLIENT_H

#include <stdint.h>

#include "clm/v1/clm.pb-c.h"

/*
 * spclient_connect connects to 127.0.0.1:port as a REQ peer and checks
 * the REP greeting. Every later receive gives up after timeout_ms (a
 * safety net: callers end waits themselves). Returns the fd, or -1.
 */
int spclient_connect(int port, int timeout_ms);

/*
 * spclient_call sends req as request id (its top bit is set here) and
 * waits for the reply to it, dropping replies to older requests. Returns
 * the Response (free with clm_response_free or
 * clm__v1__response__free_unpacked), or NULL when the connection ended,
 * the receive timed out or the reply did not decode.
 */
Clm__V1__Response *spclient_call(
        int fd, const Clm__V1__Request *req, uint32_t id);

#endif /* CLM_TEST_SPCLIENT_H */
