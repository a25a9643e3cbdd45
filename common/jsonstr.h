/*
 * jsonstr: JSON string literals (RFC 8259, section 7), written for every
 * place in clm that prints one by hand: pbjson's proto3 JSON, the HTTP
 * API's error replies and `clm help --json`. They quote the same characters
 * but spell some escapes differently, and their output is part of what clients
 * see, so the differences are flags rather than a choice made here.
 */
#ifndef CLM_JSONSTR_H
#define CLM_JSONSTR_H

#include <stddef.h>

/*
 * jsonstr_put_fn appends s[0..n) to the output arg stands for (n may be 0).
 * It cannot fail: a sink that can remembers the failure itself.
 */
typedef void jsonstr_put_fn(void *arg, const char *s, size_t n);

/* Flags of jsonstr_write; 0 is the plainest output. */
enum jsonstr_flags {
	/*
	 * \b \f \n \r \t as those two-character escapes; without the flag,
	 * like every other control character, as \u0008 and so on.
	 */
	JSONSTR_SHORT_ESCAPES = 1 << 0,
	/* DEL (0x7F) as \u007f; without the flag, as itself. */
	JSONSTR_ESCAPE_DEL = 1 << 1,
	/*
	 * A byte that starts no well-formed UTF-8 sequence as the six
	 * characters \ufffd; without the flag, as the three bytes of
	 * U+FFFD.
	 */
	JSONSTR_ESCAPE_FFFD = 1 << 2,
};

/*
 * jsonstr_write writes s[0..n) as a JSON string, quotes included, through
 * put(arg, ...). '"' and '\\' are escaped with a backslash and control
 * characters below 0x20 (NUL too) with \u and four lowercase hex digits,
 * as flags (a set of enum jsonstr_flags) refine. Well-formed UTF-8
 * (utf8_seq) passes through unchanged; each byte that starts no
 * well-formed sequence becomes U+FFFD, so the output is valid JSON and
 * valid UTF-8 whatever s holds. Writes in runs: put is called about
 * once per escape, not once per byte.
 */
void jsonstr_write(const char *s, size_t n, unsigned flags,
        jsonstr_put_fn *put, void *arg);

#endif /* CLM_JSONSTR_H */
