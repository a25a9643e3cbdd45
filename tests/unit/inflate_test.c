/*
 * Unit tests of server/net/inflate.c: plain and gzip bodies told apart,
 * gzip and zlib inflated, concatenated members, truncated and corrupt
 * streams refused, and a gzip bomb stopped at the cap.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "net/inflate.h"

/* Compresses in with zlib: gzip (gz) or zlib framing; malloc'd. */
static uint8_t *
deflate_buf(const void *in, size_t len, bool gz, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, gz ? 15 + 16 : 15, 9,
	                     Z_DEFAULT_STRATEGY),
	        Z_OK);
	size_t cap = deflateBound(&z, (uLong) len) + 64;
	uint8_t *out = malloc(cap);
	cr_assert_not_null(out);
	z.next_in = (Bytef *) in;
	z.avail_in = (uInt) len;
	z.next_out = out;
	z.avail_out = (uInt) cap;
	cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static char *out;
static size_t out_len;
static bool too_big;
static char err[256];

static clm_err
run(const uint8_t *in, size_t len, size_t max)
{
	out = NULL;
	out_len = 0;
	err[0] = '\0';
	clm_err e = inflate_capped(
	        in, len, max, &out, &out_len, &too_big, err, sizeof(err));
	cr_assert(e == CLM_OK || err[0] != '\0', "error without a reason");
	return e;
}

Test(inflate, kind_from_header_and_magic)
{
	const uint8_t gz[] = { 0x1f, 0x8b, 8, 0 };
	const uint8_t js[] = "{\"batch\":[]}";
	cr_expect_eq(inflate_kind(NULL, js, sizeof(js) - 1), INFLATE_PLAIN);
	cr_expect_eq(inflate_kind("identity", js, 4), INFLATE_PLAIN);
	cr_expect_eq(inflate_kind(NULL, gz, sizeof(gz)), INFLATE_ZLIB);
	cr_expect_eq(inflate_kind("", gz, sizeof(gz)), INFLATE_ZLIB);
	cr_expect_eq(inflate_kind("GZIP", js, 4), INFLATE_ZLIB);
	cr_expect_eq(inflate_kind("x-gzip", js, 4), INFLATE_ZLIB);
	cr_expect_eq(inflate_kind("deflate", js, 4), INFLATE_ZLIB);
	cr_expect_eq(inflate_kind("br", js, 4), INFLATE_UNKNOWN);
	/* The magic wins over a wrong label. */
	cr_expect_eq(inflate_kind("br", gz, sizeof(gz)), INFLATE_ZLIB);
	cr_expect_eq(inflate_kind(NULL, gz, 1), INFLATE_PLAIN);
}

Test(inflate, gzip_and_zlib)
{
	const char text[] = "{\"batch\":[{\"type\":\"track\"}]}";
	for (int gz = 0; gz < 2; gz++) {
		size_t n;
		uint8_t *z = deflate_buf(text, strlen(text), gz, &n);
		cr_assert_eq(run(z, n, 1000), CLM_OK, "%s", err);
		cr_expect_eq(out_len, strlen(text));
		cr_expect_str_eq(out, text);
		free(out);
		free(z);
	}
}

Test(inflate, exactly_at_the_cap_and_one_past)
{
	char text[5000];
	memset(text, 'a', sizeof(text));
	size_t n;
	uint8_t *z = deflate_buf(text, sizeof(text), true, &n);
	cr_assert_eq(run(z, n, sizeof(text)), CLM_OK, "%s", err);
	cr_expect_eq(out_len, sizeof(text));
	free(out);
	cr_assert_eq(run(z, n, sizeof(text) - 1), CLM_RESOURCE_EXHAUSTED);
	cr_expect(too_big);
	cr_expect_null(out);
	cr_expect_str_eq(err, "body inflates to more than 4999 bytes");
	free(z);
}

Test(inflate, concatenated_members)
{
	size_t n1, n2;
	uint8_t *a = deflate_buf("{\"a\":", 5, true, &n1);
	uint8_t *b = deflate_buf("1}", 2, true, &n2);
	uint8_t *ab = malloc(n1 + n2 + 3);
	memcpy(ab, a, n1);
	memcpy(ab + n1, b, n2);
	cr_assert_eq(run(ab, n1 + n2, 100), CLM_OK, "%s", err);
	cr_expect_str_eq(out, "{\"a\":1}");
	free(out);
	/* Bytes after the last member that begin no other one. */
	memcpy(ab + n1 + n2, "xyz", 3);
	cr_expect_eq(run(ab, n1 + n2 + 3, 100), CLM_INVALID_ARGUMENT);
	cr_expect_not(too_big);
	free(ab);
	free(a);
	free(b);
}

Test(inflate, truncated_and_corrupt)
{
	const char text[] = "{\"batch\":[{\"type\":\"identify\"}]}";
	size_t n;
	uint8_t *z = deflate_buf(text, strlen(text), true, &n);
	for (size_t cut = 0; cut < n; cut++) {
		cr_expect_eq(run(z, cut, 1000), CLM_INVALID_ARGUMENT,
		        "cut at %zu of %zu", cut, n);
		cr_expect_null(out);
	}
	/* A flipped byte in the data: the CRC or the stream says so. */
	z[n / 2] ^= 0x55;
	cr_expect_eq(run(z, n, 1000), CLM_INVALID_ARGUMENT);
	cr_expect_not(too_big);
	/* Plain JSON handed over as if it were gzip. */
	const char *js = "{\"batch\":[]}";
	cr_expect_eq(run((const uint8_t *) js, strlen(js), 1000),
	        CLM_INVALID_ARGUMENT);
	cr_expect_eq(run(NULL, 0, 1000), CLM_INVALID_ARGUMENT);
	free(z);
}

/*
 * A bomb: 64 MiB of zeros in about 64 KiB of gzip, refused once the
 * 500 KiB cap is passed, with nothing returned.
 */
Test(inflate, bomb_is_refused_at_the_cap)
{
	size_t chunk = 1 << 20;
	char *zeros = calloc(1, chunk);
	cr_assert_not_null(zeros);
	z_stream z;
	memset(&z, 0, sizeof(z));
	cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9,
	                     Z_DEFAULT_STRATEGY),
	        Z_OK);
	size_t cap = 2 << 20;
	uint8_t *bomb = malloc(cap);
	z.next_out = bomb;
	z.avail_out = (uInt) cap;
	for (int i = 0; i < 64; i++) {
		z.next_in = (Bytef *) zeros;
		z.avail_in = (uInt) chunk;
		cr_assert_eq(deflate(&z, i == 63 ? Z_FINISH : Z_NO_FLUSH),
		        i == 63 ? Z_STREAM_END : Z_OK);
	}
	size_t n = cap - z.avail_out;
	deflateEnd(&z);
	free(zeros);
	cr_assert_lt(n, 256 << 10, "a bomb of %zu bytes", n);
	cr_assert_eq(run(bomb, n, 500 * 1024), CLM_RESOURCE_EXHAUSTED);
	cr_expect(too_big);
	cr_expect_null(out);
	free(bomb);
}
