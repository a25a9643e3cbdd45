/*
 * inflate: a request body made plain, whatever its labels say, within a
 * cap on the plain bytes (the SDK ingest routes, docs/ingest.md
 * "Endpoints"). zlib does the work (inflateInit2 with 15 + 32: gzip or
 * zlib, told apart by their headers), as a stream into a buffer that
 * grows only as far as the cap allows: a gzip bomb (a few KiB that would
 * inflate to gigabytes) costs the cap, one byte more to see it is past
 * it, and zlib's state (about 40 KiB), before anything inside it is
 * read. Pure: no I/O, no nng.
 */
#ifndef CLM_INFLATE_H
#define CLM_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

/* How a body is encoded (inflate_kind). */
enum inflate_kind {
	INFLATE_PLAIN,   /* as it is */
	INFLATE_ZLIB,    /* gzip or zlib: inflate it */
	INFLATE_UNKNOWN, /* a Content-Encoding we do not read */
};

/*
 * inflate_kind tells how the body (len bytes at body) is encoded from its
 * Content-Encoding header (NULL: none) and its first bytes: "gzip",
 * "x-gzip" and "deflate" (any case) are inflated; so is a body that
 * starts with gzip's magic bytes (1f 8b) whatever the header says or
 * when there is none (RudderStack labels its gzipped JSON
 * application/x-www-form-urlencoded, and a JSON text cannot start with
 * those bytes); "identity" or none is plain; anything else is UNKNOWN.
 */
enum inflate_kind inflate_kind(
        const char *content_encoding, const uint8_t *body, size_t len);

/*
 * inflate_capped inflates in[0..len), one gzip or zlib stream or several
 * gzip members one after another (RFC 1952 2.2), into a malloc'd buffer
 * of at most max bytes. Returns CLM_OK with the buffer in *out (NUL-
 * terminated after its *out_len bytes; the caller frees it), or, leaving
 * *out alone, with a lowercase reason in err:
 *
 *   RESOURCE_EXHAUSTED  the plain bytes would pass max (the stream is not
 *                       inflated further), or memory ran out (*too_big
 *                       tells which: true for the cap)
 *   INVALID_ARGUMENT    not gzip or zlib, corrupt, truncated, or bytes
 *                       after the last member that start no new one
 *
 * Memory: at most max + 1 bytes of output (the buffer doubles from 16 KiB
 * or len, whichever is larger, up to that) and zlib's state. Any thread.
 */
clm_err inflate_capped(const uint8_t *in, size_t len, size_t max, char **out,
        size_t *out_len, bool *too_big, char *err, size_t errlen);

#endif /* CLM_INFLATE_H */
