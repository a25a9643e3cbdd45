/*
 * utf8: UTF-8 as RFC 3629 defines it, for every place in clm that checks
 * or writes it (request validation, JSON printing and parsing, HTTP
 * replies). Pure functions, safe from any thread.
 */
#ifndef CLM_UTF8_H
#define CLM_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Longest encoding of one code point, in bytes. */
#define UTF8_MAX 4

/*
 * utf8_seq returns the length, 1 to 4, of the well-formed UTF-8 sequence
 * that starts s[0..n), or 0 when none does: n is 0, s[0] cannot start a
 * sequence (a continuation byte, 0xC0, 0xC1, 0xF5..0xFF), the sequence is
 * cut short by n or by a byte that is not a continuation byte, or it is an
 * overlong form, a surrogate (U+D800..U+DFFF) or past U+10FFFF. ASCII,
 * NUL included, is a sequence of 1. Reads at most s[0..min(n, 4)).
 */
size_t utf8_seq(const char *s, size_t n);

/*
 * utf8_encode writes code point cp as UTF-8 into dst (UTF8_MAX bytes of
 * room; not terminated) and returns the number of bytes written, 1 to 4.
 * cp must be at most U+10FFFF; surrogates are encoded as they come (the
 * caller rejects them when it must).
 */
size_t utf8_encode(uint32_t cp, char *dst);

#endif /* CLM_UTF8_H */
