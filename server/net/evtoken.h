/*
 * evtoken: the short-lived tokens of the HTTP event stream (`GET
 * /api/events?token=`, docs/api.md "HTTP event stream"), for browsers,
 * whose EventSource cannot send an Authorization header.
 *
 * A token is EVTOKEN_BYTES random bytes (getrandom), written as twice as
 * many lowercase hex digits, kept in a table of EVTOKEN_MAX with its
 * expiry. It is valid until then for any number of uses (EventSource
 * reconnects with the same URL), and means nothing to anything but the
 * event stream: the caller checks it there only. When the table is full
 * of live tokens, a new one replaces the one that expires first. Times
 * are the caller's monotonic milliseconds, so tests can move the clock.
 * Thread-safe.
 */
#ifndef CLM_EVTOKEN_H
#define CLM_EVTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

/* A token's random bytes. */
#define EVTOKEN_BYTES 16
/* Its length as text (hex), without the NUL. */
#define EVTOKEN_LEN (EVTOKEN_BYTES * 2)
/* Live tokens at once. */
#define EVTOKEN_MAX 64

typedef struct evtoken evtoken;

/*
 * evtoken_open makes an empty table whose tokens live ttl_ms (> 0).
 * Returns CLM_OK and it in *out, or CLM_RESOURCE_EXHAUSTED.
 */
clm_err evtoken_open(int64_t ttl_ms, evtoken **out);

/* evtoken_close frees t (wiping its tokens); NULL is a no-op. */
void evtoken_close(evtoken *t);

/*
 * evtoken_issue makes a new token, valid from now_ms for the table's
 * ttl, and writes it into out (EVTOKEN_LEN digits and a NUL). Returns
 * CLM_OK, or CLM_UNAVAILABLE when no randomness could be had (out is
 * then untouched).
 */
clm_err evtoken_issue(evtoken *t, int64_t now_ms, char out[EVTOKEN_LEN + 1]);

/*
 * evtoken_check tells whether tok (len bytes, not necessarily
 * NUL-terminated) is a token of t that has not expired at now_ms. It
 * compares in time that does not depend on how much of a token matched.
 */
bool evtoken_check(evtoken *t, const char *tok, size_t len, int64_t now_ms);

#endif /* CLM_EVTOKEN_H */
