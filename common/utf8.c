/*
 * utf8: well-formed sequences and encoding (see utf8.h).
 *
 * utf8_seq follows the table of well-formed byte sequences in RFC 3629,
 * section 4: the second byte of a sequence is narrowed after E0 (no
 * overlong three-byte forms), ED (no surrogates), F0 (no overlong four-byte
 * forms) and F4 (nothing past U+10FFFF); lead bytes C0, C1 and F5..FF never
 * occur.
 */
#include "utf8.h"

static int
utf8_is_cont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

size_t
utf8_seq(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *) str;
	unsigned c;

	if (n == 0) {
		return 0;
	}
	c = s[0];
	if (c < 0x80) {
		return 1;
	}
	if (c < 0xC2 || c > 0xF4) {
		return 0;
	}
	if (c < 0xE0) {
		return n >= 2 && utf8_is_cont(s[1]) ? 2 : 0;
	}
	if (c < 0xF0) {
		if (n < 3 || !utf8_is_cont(s[1]) || !utf8_is_cont(s[2])
		        || (c == 0xE0 && s[1] < 0xA0)
		        || (c == 0xED && s[1] >= 0xA0)) {
			return 0;
		}
		return 3;
	}
	if (n < 4 || !utf8_is_cont(s[1]) || !utf8_is_cont(s[2])
	        || !utf8_is_cont(s[3]) || (c == 0xF0 && s[1] < 0x90)
	        || (c == 0xF4 && s[1] >= 0x90)) {
		return 0;
	}
	return 4;
}

size_t
utf8_encode(uint32_t cp, char *dst)
{
	if (cp < 0x80) {
		dst[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char) (0xC0 | cp >> 6);
		dst[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char) (0xE0 | cp >> 12);
		dst[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		dst[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	dst[0] = (char) (0xF0 | cp >> 18);
	dst[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	dst[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	dst[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}
