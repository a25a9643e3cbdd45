/*
 * inflate: bodies inflated with zlib within a cap on the plain bytes
 * (inflate.h).
 *
 * The output buffer starts small and doubles, never past max + 1 bytes:
 * the extra byte is how a stream that would go past the cap is told from
 * one that ends exactly at it. zlib is handed only the room left, so it
 * never writes more than that whatever the stream claims.
 */
#include "net/inflate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* The first output buffer, unless the input is larger. */
#define INFLATE_START (16 * 1024)

enum inflate_kind
inflate_kind(const char *content_encoding, const uint8_t *body, size_t len)
{
	bool magic = len >= 2 && body[0] == 0x1f && body[1] == 0x8b;
	if (content_encoding == NULL || content_encoding[0] == '\0'
	        || strcasecmp(content_encoding, "identity") == 0) {
		return magic ? INFLATE_ZLIB : INFLATE_PLAIN;
	}
	if (strcasecmp(content_encoding, "gzip") == 0
	        || strcasecmp(content_encoding, "x-gzip") == 0
	        || strcasecmp(content_encoding, "deflate") == 0) {
		return INFLATE_ZLIB;
	}
	return magic ? INFLATE_ZLIB : INFLATE_UNKNOWN;
}

/* Grows *buf (of *cap bytes) toward limit; false when it cannot. */
static bool
inflate_grow(char **buf, size_t *cap, size_t limit)
{
	size_t want = *cap * 2 < limit ? *cap * 2 : limit;
	char *b = realloc(*buf, want);
	if (b == NULL) {
		return false;
	}
	*buf = b;
	*cap = want;
	return true;
}

clm_err
inflate_capped(const uint8_t *in, size_t len, size_t max, char **out,
        size_t *out_len, bool *too_big, char *err, size_t errlen)
{
	*too_big = false;
	/* max + 1 bytes of output, and a NUL after them. */
	size_t limit = max + 2;
	size_t cap = len > INFLATE_START ? len : INFLATE_START;
	cap = cap < limit ? cap : limit;
	char *buf = malloc(cap);
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (buf == NULL || inflateInit2(&z, 15 + 32) != Z_OK) {
		free(buf);
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm_err e = CLM_OK;
	size_t n = 0;
	z.next_in = (Bytef *) in;
	z.avail_in = 0;
	size_t in_left = len;
	bool ended = false; /* the last member has ended */
	for (;;) {
		if (z.avail_in == 0 && in_left > 0) {
			uInt k = in_left > (size_t) UINT32_MAX
			        ? UINT32_MAX
			        : (uInt) in_left;
			z.avail_in = k;
			in_left -= k;
		}
		if (n + 1 >= cap) {
			if (cap >= limit) {
				*too_big = true;
				snprintf(err, errlen,
				        "body inflates to more than %zu bytes",
				        max);
				e = CLM_RESOURCE_EXHAUSTED;
				break;
			}
			if (!inflate_grow(&buf, &cap, limit)) {
				snprintf(err, errlen, "out of memory");
				e = CLM_RESOURCE_EXHAUSTED;
				break;
			}
		}
		/* Room for one byte past max, never the NUL's. */
		z.next_out = (Bytef *) buf + n;
		z.avail_out = (uInt) (cap - 1 - n);
		int rv = inflate(&z, Z_NO_FLUSH);
		n = (size_t) ((char *) z.next_out - buf);
		if (n > max) {
			*too_big = true;
			snprintf(err, errlen,
			        "body inflates to more than %zu bytes", max);
			e = CLM_RESOURCE_EXHAUSTED;
			break;
		}
		if (rv == Z_STREAM_END) {
			size_t rest = z.avail_in + in_left;
			if (rest == 0) {
				ended = true;
				break;
			}
			/* Another gzip member follows, or garbage does. */
			if (rest < 2 || z.next_in[0] != 0x1f
			        || z.next_in[1] != 0x8b) {
				snprintf(err, errlen,
				        "malformed gzip body: %zu bytes after its end",
				        rest);
				e = CLM_INVALID_ARGUMENT;
				break;
			}
			inflateReset(&z);
			continue;
		}
		if (rv == Z_MEM_ERROR) {
			snprintf(err, errlen, "out of memory");
			e = CLM_RESOURCE_EXHAUSTED;
			break;
		}
		if (rv != Z_OK && rv != Z_BUF_ERROR) {
			snprintf(err, errlen, "malformed gzip body: %s",
			        z.msg != NULL ? z.msg : "corrupt data");
			e = CLM_INVALID_ARGUMENT;
			break;
		}
		if (rv == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0
		        && z.avail_out > 0) {
			/* No progress possible: the input stopped short. */
			break;
		}
	}
	inflateEnd(&z);
	if (e == CLM_OK && !ended) {
		snprintf(err, errlen,
		        "malformed gzip body: truncated (it ends before the stream does)");
		e = CLM_INVALID_ARGUMENT;
	}
	if (e != CLM_OK) {
		free(buf);
		return e;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return CLM_OK;
}
