/*
 * Unit tests of common/jsonstr.c: the exact bytes jsonstr_write produces
 * under each flag (quotes, backslashes, control characters, DEL, invalid
 * UTF-8), and that the sink sees runs rather than single bytes.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "jsonstr.h"

struct jsonstr_test_sink {
	char buf[256];
	size_t len;
	int calls;
};

static void
jsonstr_test_put(void *arg, const char *s, size_t n)
{
	struct jsonstr_test_sink *k = arg;
	cr_assert_leq(k->len + n, sizeof(k->buf));
	memcpy(k->buf + k->len, s, n);
	k->len += n;
	k->calls++;
}

/* Writes in[0..n) with flags and checks the output is exactly want. */
static void
jsonstr_test_check(const char *in, size_t n, unsigned flags, const char *want)
{
	struct jsonstr_test_sink k = { .len = 0 };
	jsonstr_write(in, n, flags, jsonstr_test_put, &k);
	cr_assert_eq(k.len, strlen(want), "got %zu bytes [%.*s], want [%s]",
	        k.len, (int) k.len, k.buf, want);
	cr_assert(memcmp(k.buf, want, k.len) == 0, "got [%.*s], want [%s]",
	        (int) k.len, k.buf, want);
}

#define CHECK(lit, flags, want) \
	jsonstr_test_check(lit, sizeof(lit) - 1, flags, want)

/* pbjson's flags and the HTTP API's. */
#define PB   (JSONSTR_SHORT_ESCAPES | JSONSTR_ESCAPE_DEL)
#define HTTP JSONSTR_ESCAPE_FFFD

Test(jsonstr, plain_text_is_quoted)
{
	CHECK("", 0, "\"\"");
	CHECK("abc", 0, "\"abc\"");
	CHECK("a b/c", PB, "\"a b/c\"");
	CHECK("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", HTTP,
	        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

Test(jsonstr, quote_and_backslash)
{
	CHECK("say \"hi\"", 0, "\"say \\\"hi\\\"\"");
	CHECK("a\\b", PB, "\"a\\\\b\"");
	CHECK("\"\\", HTTP, "\"\\\"\\\\\"");
}

Test(jsonstr, control_characters)
{
	CHECK("\b\f\n\r\t", PB, "\"\\b\\f\\n\\r\\t\"");
	CHECK("\b\f\n\r\t", HTTP, "\"\\u0008\\u000c\\u000a\\u000d\\u0009\"");
	CHECK("\x01\x1f", PB, "\"\\u0001\\u001f\"");
	CHECK("\x01\x1f", 0, "\"\\u0001\\u001f\"");
	CHECK("a\0b", PB, "\"a\\u0000b\"");
	CHECK("a\0b", HTTP, "\"a\\u0000b\"");
}

Test(jsonstr, del)
{
	CHECK("\x7f", PB, "\"\\u007f\"");
	CHECK("\x7f", JSONSTR_ESCAPE_DEL, "\"\\u007f\"");
	CHECK("\x7f", HTTP, "\"\x7f\"");
	CHECK("\x7f", 0, "\"\x7f\"");
}

/* Each byte that starts no well-formed sequence is one U+FFFD. */
Test(jsonstr, invalid_utf8)
{
	CHECK("a\xff"
	      "b",
	        PB,
	        "\"a\xef\xbf\xbd"
	        "b\"");
	CHECK("a\xff"
	      "b",
	        HTTP, "\"a\\ufffdb\"");
	/* A truncated sequence: its lead byte, then what follows. */
	CHECK("\xe2\x82", PB, "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK("\xe2\x82"
	      "x",
	        HTTP, "\"\\ufffd\\ufffdx\"");
	/* Overlong '/', surrogate U+D800. */
	CHECK("\xc0\xaf", HTTP, "\"\\ufffd\\ufffd\"");
	CHECK("\xed\xa0\x80", HTTP, "\"\\ufffd\\ufffd\\ufffd\"");
	/* The sequence is judged within n: cut by n, it is invalid. */
	jsonstr_test_check("\xc3\xa9", 1, HTTP, "\"\\ufffd\"");
}

Test(jsonstr, runs_are_written_whole)
{
	struct jsonstr_test_sink k = { .len = 0 };
	const char *s = "a long run of plain text \xc3\xa9 and more";
	jsonstr_write(s, strlen(s), PB, jsonstr_test_put, &k);
	/* Opening quote, the run, closing quote. */
	cr_assert_eq(k.calls, 3);
	k.len = 0;
	k.calls = 0;
	jsonstr_write("ab\ncd", 5, PB, jsonstr_test_put, &k);
	/* Quote, "ab", escape, "cd", quote. */
	cr_assert_eq(k.calls, 5);
	cr_assert_eq(k.len, 8);
	cr_assert(memcmp(k.buf, "\"ab\\ncd\"", 8) == 0);
}
