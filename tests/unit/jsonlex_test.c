/*
 * Unit tests of common/jsonlex.c: whitespace and keywords, the number
 * grammar, exact integers from JSON numbers, string decoding (escapes,
 * surrogate pairs, UTF-8) and where each syntax error is reported.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"

/* A lexer over a string literal (no terminating NUL in the input). */
#define LEX(lx, lit) jsonlex_init(lx, lit, sizeof(lit) - 1)

Test(jsonlex, whitespace_peek_and_eat)
{
	struct jsonlex lx;
	LEX(&lx, " \t\r\n{ x");
	jsonlex_ws(&lx);
	cr_assert_eq(lx.pos, 4);
	cr_assert_eq(jsonlex_peek(&lx), '{');
	cr_assert(!jsonlex_eat(&lx, '['));
	cr_assert_eq(lx.pos, 4);
	cr_assert(jsonlex_eat(&lx, '{'));
	jsonlex_ws(&lx);
	cr_assert(jsonlex_eat(&lx, 'x'));
	cr_assert_eq(jsonlex_peek(&lx), -1);
	cr_assert(!jsonlex_eat(&lx, 'x'));
	/* Not whitespace in JSON: form feed, vertical tab. */
	LEX(&lx, "\f\v");
	jsonlex_ws(&lx);
	cr_assert_eq(lx.pos, 0);
}

Test(jsonlex, peek_is_unsigned)
{
	struct jsonlex lx;
	LEX(&lx, "\xff");
	cr_assert_eq(jsonlex_peek(&lx), 0xff);
}

Test(jsonlex, literals)
{
	struct jsonlex lx;
	LEX(&lx, "nul");
	cr_assert(!jsonlex_literal(&lx, "null"));
	cr_assert_eq(lx.pos, 0);
	LEX(&lx, "truefalse");
	cr_assert(!jsonlex_literal(&lx, "false"));
	cr_assert(jsonlex_literal(&lx, "true"));
	cr_assert(jsonlex_literal(&lx, "false"));
	cr_assert_eq(lx.pos, 9);
}

Test(jsonlex, number_grammar)
{
#define NLEN(lit) jsonlex_number_len(lit, sizeof(lit) - 1)
	cr_assert_eq(NLEN("0"), 1);
	cr_assert_eq(NLEN("-0"), 2);
	cr_assert_eq(NLEN("123"), 3);
	cr_assert_eq(NLEN("-12.5e+3"), 8);
	cr_assert_eq(NLEN("1E-7"), 4);
	cr_assert_eq(NLEN("12,"), 2);
	cr_assert_eq(NLEN("01"), 1); /* "0", then something else */
	cr_assert_eq(NLEN(""), 0);
	cr_assert_eq(NLEN("-"), 0);
	cr_assert_eq(NLEN("+1"), 0);
	cr_assert_eq(NLEN(".5"), 0);
	cr_assert_eq(NLEN("1."), 0);
	cr_assert_eq(NLEN("1.e3"), 0);
	cr_assert_eq(NLEN("1e"), 0);
	cr_assert_eq(NLEN("1e+"), 0);
	cr_assert_eq(NLEN("-x"), 0);
	cr_assert_eq(NLEN("Infinity"), 0);
	/* n bounds the scan. */
	cr_assert_eq(jsonlex_number_len("123", 2), 2);
	cr_assert_eq(jsonlex_number_len("1.5", 2), 0);
#undef NLEN
}

/* jsonlex_int on a literal: the result, and the value when CLM_OK. */
static clm_err
jsonlex_test_int(const char *s, bool *neg, uint64_t *mag)
{
	*neg = true;
	*mag = 12345;
	cr_assert_eq(jsonlex_number_len(s, strlen(s)), strlen(s), "%s", s);
	return jsonlex_int(s, strlen(s), neg, mag);
}

#define INT_OK(lit, want_neg, want_mag)                                     \
	do {                                                                \
		bool n_;                                                    \
		uint64_t m_;                                                \
		cr_assert_eq(jsonlex_test_int(lit, &n_, &m_), CLM_OK, lit); \
		cr_assert_eq(n_, want_neg, lit);                            \
		cr_assert_eq(m_, (uint64_t) (want_mag), lit);               \
	} while (0)

#define INT_ERR(lit, want)                                                \
	do {                                                              \
		bool n_;                                                  \
		uint64_t m_;                                              \
		cr_assert_eq(jsonlex_test_int(lit, &n_, &m_), want, lit); \
		/* Out-parameters untouched on failure. */                \
		cr_assert(n_, lit);                                       \
		cr_assert_eq(m_, 12345, lit);                             \
	} while (0)

Test(jsonlex, exact_integers)
{
	INT_OK("0", false, 0);
	INT_OK("-0", true, 0);
	INT_OK("42", false, 42);
	INT_OK("-42", true, 42);
	INT_OK("1e3", false, 1000);
	INT_OK("1.50e2", false, 150);
	INT_OK("100e-2", false, 1);
	INT_OK("0.000e5", false, 0);
	INT_OK("12.0", false, 12);
	INT_OK("9007199254740993", false, 9007199254740993ULL);
	INT_OK("18446744073709551615", false, UINT64_MAX);
	INT_OK("-9223372036854775808", true, 9223372036854775808ULL);
	INT_OK("1844674407370955161.5e1", false, UINT64_MAX);
	INT_ERR("1.5", CLM_INVALID_ARGUMENT);
	INT_ERR("123e-2", CLM_INVALID_ARGUMENT);
	INT_ERR("1e-99999999999999999999", CLM_INVALID_ARGUMENT);
	INT_ERR("18446744073709551616", CLM_OUT_OF_RANGE);
	INT_ERR("1e20", CLM_OUT_OF_RANGE);
	INT_ERR("1e400", CLM_OUT_OF_RANGE);
	INT_ERR("1e99999999999999999999", CLM_OUT_OF_RANGE);
	INT_ERR("-184467440737095516160", CLM_OUT_OF_RANGE);
}

/* Decodes lit whole; checks the bytes and that pos is past the quote. */
static void
jsonlex_test_string(const char *lit, size_t len, const char *want, size_t n)
{
	struct jsonlex lx;
	char *out = NULL;
	size_t outlen = 0;
	jsonlex_init(&lx, lit, len);
	cr_assert_eq(jsonlex_string(&lx, &out, &outlen), CLM_OK, "%s: %s", lit,
	        lx.what);
	cr_assert_eq(outlen, n, "%s", lit);
	cr_assert(memcmp(out, want, n) == 0, "%s", lit);
	cr_assert_eq(out[n], '\0');
	cr_assert_eq(lx.pos, len);
	free(out);
}

#define STR_OK(lit, want) \
	jsonlex_test_string(lit, sizeof(lit) - 1, want, sizeof(want) - 1)

Test(jsonlex, strings)
{
	STR_OK("\"\"", "");
	STR_OK("\"abc\"", "abc");
	STR_OK("\"caf\xc3\xa9\"", "caf\xc3\xa9");
	STR_OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t");
	STR_OK("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac");
	STR_OK("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80");
	STR_OK("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf");
	STR_OK("\"a\\u0000b\"", "a\0b");
	STR_OK("\"\x7f\"", "\x7f");
}

Test(jsonlex, string_stops_at_its_quote)
{
	struct jsonlex lx;
	char *out;
	size_t n;
	LEX(&lx, "\"ab\\\"c\" : 1");
	cr_assert_eq(jsonlex_string(&lx, &out, &n), CLM_OK);
	cr_assert_str_eq(out, "ab\"c");
	cr_assert_eq(lx.pos, 7);
	free(out);
}

/* Expects a syntax error `what` at offset pos. */
static void
jsonlex_test_bad(const char *lit, size_t len, size_t pos, const char *what)
{
	struct jsonlex lx;
	char *out = (char *) "untouched";
	size_t n = 99;
	jsonlex_init(&lx, lit, len);
	cr_assert_eq(jsonlex_string(&lx, &out, &n), CLM_INVALID_ARGUMENT, "%s",
	        lit);
	cr_assert_str_eq(lx.what, what, "%s", lit);
	cr_assert_eq(lx.pos, pos, "%s: at %zu", lit, lx.pos);
	cr_assert_str_eq(out, "untouched");
	cr_assert_eq(n, 99);
}

#define STR_BAD(lit, pos, what) \
	jsonlex_test_bad(lit, sizeof(lit) - 1, pos, what)

Test(jsonlex, string_errors)
{
	STR_BAD("\"abc", 4, "unterminated string");
	STR_BAD("\"abc\\\"", 6, "unterminated string");
	STR_BAD("\"a\nb\"", 2, "control character in string");
	STR_BAD("\"a\x01\"", 2, "control character in string");
	STR_BAD("\"ab\xff\"", 3, "invalid UTF-8 in string");
	STR_BAD("\"\xc0\xaf\"", 1, "invalid UTF-8 in string");
	STR_BAD("\"\xed\xa0\x80\"", 1, "invalid UTF-8 in string");
	STR_BAD("\"\xe2\x82\"", 1, "invalid UTF-8 in string");
	STR_BAD("\"a\\x\"", 2, "invalid escape in string");
	STR_BAD("\"a\\U0041\"", 2, "invalid escape in string");
	STR_BAD("\"\\u12\"", 1, "invalid \\u escape");
	STR_BAD("\"\\u12g4\"", 1, "invalid \\u escape");
	STR_BAD("\"x\\udc00\"", 2, "unpaired surrogate in string");
	STR_BAD("\"\\ud800\"", 1, "unpaired surrogate in string");
	STR_BAD("\"\\ud800x\"", 1, "unpaired surrogate in string");
	STR_BAD("\"\\ud800\\u0041\"", 1, "unpaired surrogate in string");
	STR_BAD("\"\\ud800\\ud800\"", 1, "unpaired surrogate in string");
	STR_BAD("\"\\ud800\\udc0g\"", 1, "unpaired surrogate in string");
}

Test(jsonlex, scalars)
{
	struct jsonlex lx;
	struct jsonlex_text t;

	LEX(&lx, "-1.5e3,");
	cr_assert_eq(jsonlex_scalar(&lx, &t), CLM_OK);
	cr_assert(!t.is_string);
	cr_assert_null(t.owned);
	cr_assert_eq(t.n, 6);
	cr_assert(t.s == lx.text);
	cr_assert_eq(lx.pos, 6);

	LEX(&lx, "\"\\u0031\"");
	cr_assert_eq(jsonlex_scalar(&lx, &t), CLM_OK);
	cr_assert(t.is_string);
	cr_assert(t.s == t.owned);
	cr_assert_eq(t.n, 1);
	cr_assert_str_eq(t.s, "1");
	free(t.owned);

	LEX(&lx, "true");
	cr_assert_eq(jsonlex_scalar(&lx, &t), CLM_NOT_FOUND);
	cr_assert_eq(lx.pos, 0);
	LEX(&lx, "");
	cr_assert_eq(jsonlex_scalar(&lx, &t), CLM_NOT_FOUND);

	LEX(&lx, "-x");
	cr_assert_eq(jsonlex_scalar(&lx, &t), CLM_INVALID_ARGUMENT);
	cr_assert_str_eq(lx.what, "invalid number");
	cr_assert_eq(lx.pos, 0);
}
