/*
 * Unit tests of common/utf8.c: utf8_seq against RFC 3629's well-formed
 * sequences (boundaries of each range, overlong forms, surrogates, code
 * points past U+10FFFF, truncated sequences) and utf8_encode, checked
 * byte by byte and by decoding every code point back.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* utf8_seq over a whole string literal (no terminating NUL). */
#define SEQ(lit) utf8_seq(lit, sizeof(lit) - 1)

Test(utf8_seq, ascii)
{
	cr_assert_eq(SEQ("a"), 1);
	cr_assert_eq(SEQ("ab"), 1);
	cr_assert_eq(SEQ("\x7f"), 1);
	cr_assert_eq(utf8_seq("\0", 1), 1);
}

Test(utf8_seq, empty_input_has_no_sequence)
{
	cr_assert_eq(utf8_seq("a", 0), 0);
	cr_assert_eq(utf8_seq("", 0), 0);
}

Test(utf8_seq, boundaries_of_each_length)
{
	cr_assert_eq(SEQ("\xc2\x80"), 2);         /* U+0080 */
	cr_assert_eq(SEQ("\xc3\xa9"), 2);         /* U+00E9 */
	cr_assert_eq(SEQ("\xdf\xbf"), 2);         /* U+07FF */
	cr_assert_eq(SEQ("\xe0\xa0\x80"), 3);     /* U+0800 */
	cr_assert_eq(SEQ("\xe2\x82\xac"), 3);     /* U+20AC */
	cr_assert_eq(SEQ("\xed\x9f\xbf"), 3);     /* U+D7FF */
	cr_assert_eq(SEQ("\xee\x80\x80"), 3);     /* U+E000 */
	cr_assert_eq(SEQ("\xef\xbf\xbd"), 3);     /* U+FFFD */
	cr_assert_eq(SEQ("\xef\xbf\xbf"), 3);     /* U+FFFF */
	cr_assert_eq(SEQ("\xf0\x90\x80\x80"), 4); /* U+10000 */
	cr_assert_eq(SEQ("\xf0\x9f\x98\x80"), 4); /* U+1F600 */
	cr_assert_eq(SEQ("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
}

Test(utf8_seq, only_the_first_sequence_counts)
{
	cr_assert_eq(SEQ("\xc3\xa9xyz"), 2);
	cr_assert_eq(SEQ("\xe2\x82\xac\xff"), 3);
	cr_assert_eq(SEQ("a\xff"), 1);
}

Test(utf8_seq, overlong_forms)
{
	cr_assert_eq(SEQ("\xc0\x80"), 0); /* U+0000 in two bytes */
	cr_assert_eq(SEQ("\xc0\xaf"), 0); /* '/' in two bytes */
	cr_assert_eq(SEQ("\xc1\xbf"), 0);
	cr_assert_eq(SEQ("\xe0\x80\x80"), 0);
	cr_assert_eq(SEQ("\xe0\x9f\xbf"), 0); /* U+07FF in three bytes */
	cr_assert_eq(SEQ("\xf0\x80\x80\x80"), 0);
	cr_assert_eq(SEQ("\xf0\x8f\xbf\xbf"), 0); /* U+FFFF in four bytes */
}

Test(utf8_seq, surrogates)
{
	cr_assert_eq(SEQ("\xed\xa0\x80"), 0); /* U+D800 */
	cr_assert_eq(SEQ("\xed\xaf\xbf"), 0); /* U+DBFF */
	cr_assert_eq(SEQ("\xed\xb0\x80"), 0); /* U+DC00 */
	cr_assert_eq(SEQ("\xed\xbf\xbf"), 0); /* U+DFFF */
	/* A CESU-8 pair (U+1F600 as two surrogates) is two errors. */
	cr_assert_eq(SEQ("\xed\xa0\xbd\xed\xb8\x80"), 0);
}

Test(utf8_seq, past_u_10ffff)
{
	cr_assert_eq(SEQ("\xf4\x90\x80\x80"), 0); /* U+110000 */
	cr_assert_eq(SEQ("\xf5\x80\x80\x80"), 0);
	cr_assert_eq(SEQ("\xf7\xbf\xbf\xbf"), 0);
	cr_assert_eq(SEQ("\xf8\x88\x80\x80\x80"), 0); /* old 5-byte form */
	cr_assert_eq(SEQ("\xfc\x84\x80\x80\x80\x80"), 0);
	cr_assert_eq(SEQ("\xfe"), 0);
	cr_assert_eq(SEQ("\xff"), 0);
}

Test(utf8_seq, lone_continuation_bytes)
{
	cr_assert_eq(SEQ("\x80"), 0);
	cr_assert_eq(SEQ("\xbf"), 0);
	cr_assert_eq(SEQ("\x80\x80"), 0);
}

Test(utf8_seq, truncated_sequences)
{
	/* Cut short by the end of the input... */
	cr_assert_eq(utf8_seq("\xc3\xa9", 1), 0);
	cr_assert_eq(utf8_seq("\xe2\x82\xac", 2), 0);
	cr_assert_eq(utf8_seq("\xe2\x82\xac", 1), 0);
	cr_assert_eq(utf8_seq("\xf0\x9f\x98\x80", 3), 0);
	cr_assert_eq(utf8_seq("\xf0\x9f\x98\x80", 2), 0);
	/* ...or by a byte that does not continue it. */
	cr_assert_eq(SEQ("\xc3"
	                 "a"),
	        0);
	cr_assert_eq(SEQ("\xe2\x82"
	                 "a"),
	        0);
	cr_assert_eq(SEQ("\xf0\x9f\x98"
	                 "a"),
	        0);
	cr_assert_eq(SEQ("\xe2\xc3\xa9"), 0);
	cr_assert_eq(utf8_seq("\xc3\0", 2), 0);
}

/* utf8_encode writes the shortest form, byte for byte. */
Test(utf8_encode, known_code_points)
{
	static const struct {
		uint32_t cp;
		const char *bytes;
	} cases[] = {
		{ 0x0, "\0" },
		{ 0x41, "A" },
		{ 0x7f, "\x7f" },
		{ 0x80, "\xc2\x80" },
		{ 0xe9, "\xc3\xa9" },
		{ 0x7ff, "\xdf\xbf" },
		{ 0x800, "\xe0\xa0\x80" },
		{ 0x20ac, "\xe2\x82\xac" },
		{ 0xfffd, "\xef\xbf\xbd" },
		{ 0xffff, "\xef\xbf\xbf" },
		{ 0x10000, "\xf0\x90\x80\x80" },
		{ 0x1f600, "\xf0\x9f\x98\x80" },
		{ 0x10ffff, "\xf4\x8f\xbf\xbf" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[UTF8_MAX];
		size_t want = cases[i].cp == 0 ? 1 : strlen(cases[i].bytes);
		size_t n = utf8_encode(cases[i].cp, buf);
		cr_assert_eq(n, want, "U+%04X: %zu bytes", cases[i].cp, n);
		cr_assert(memcmp(buf, cases[i].bytes, n) == 0, "U+%04X",
		        cases[i].cp);
	}
}

/* Decodes the sequence utf8_seq accepted (test oracle). */
static uint32_t
utf8_test_decode(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *) s;
	static const unsigned char lead_mask[5]
	        = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = u[0] & lead_mask[n];
	for (size_t i = 1; i < n; i++) {
		cp = cp << 6 | (u[i] & 0x3f);
	}
	return cp;
}

/*
 * Every scalar value encodes to a sequence utf8_seq accepts whole and that
 * decodes back to it; every surrogate's encoding is refused.
 */
Test(utf8_encode, round_trips_every_code_point)
{
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		char buf[UTF8_MAX + 1];
		size_t n = utf8_encode(cp, buf);
		size_t want = cp < 0x80 ? 1
		        : cp < 0x800    ? 2
		        : cp < 0x10000  ? 3
		                        : 4;
		cr_assert_eq(n, want, "U+%04X", cp);
		buf[n] = 'x';
		if (cp >= 0xd800 && cp <= 0xdfff) {
			cr_assert_eq(utf8_seq(buf, n + 1), 0, "U+%04X", cp);
			continue;
		}
		cr_assert_eq(utf8_seq(buf, n + 1), n, "U+%04X", cp);
		cr_assert_eq(utf8_test_decode(buf, n), cp, "U+%04X", cp);
	}
}
