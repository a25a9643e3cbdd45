/*
 * jsonstr: JSON string literals (see jsonstr.h).
 *
 * The string is scanned once: bytes that need no escape accumulate as a
 * run starting at `start`, and each escape first flushes the run, so the
 * sink sees few, long writes.
 */
#include "jsonstr.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

/*
 * jsonstr_escape returns the escape of the byte c under flags (built in
 * buf, 8 bytes, when it is a \u escape), or NULL when c needs none.
 */
static const char *
jsonstr_escape(unsigned char c, unsigned flags, char *buf)
{
	static const char *const shorts[0x20] = {
		['\b'] = "\\b",
		['\f'] = "\\f",
		['\n'] = "\\n",
		['\r'] = "\\r",
		['\t'] = "\\t",
	};

	if (c == '"') {
		return "\\\"";
	}
	if (c == '\\') {
		return "\\\\";
	}
	if (c < 0x20 && (flags & JSONSTR_SHORT_ESCAPES) && shorts[c] != NULL) {
		return shorts[c];
	}
	if (c < 0x20 || (c == 0x7F && (flags & JSONSTR_ESCAPE_DEL))) {
		snprintf(buf, 8, "\\u%04x", c);
		return buf;
	}
	return NULL;
}

void
jsonstr_write(const char *s, size_t n, unsigned flags, jsonstr_put_fn *put,
        void *arg)
{
	const char *fffd
	        = flags & JSONSTR_ESCAPE_FFFD ? "\\ufffd" : "\xEF\xBF\xBD";
	size_t i = 0, start = 0;

	put(arg, "\"", 1);
	while (i < n) {
		char buf[8];
		const char *esc
		        = jsonstr_escape((unsigned char) s[i], flags, buf);

		if (esc == NULL) {
			size_t k = utf8_seq(s + i, n - i);

			if (k > 0) {
				i += k;
				continue;
			}
			esc = fffd;
		}
		put(arg, s + start, i - start);
		put(arg, esc, strlen(esc));
		start = ++i;
	}
	put(arg, s + start, i - start);
	put(arg, "\"", 1);
}
