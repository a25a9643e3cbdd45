/*
 * segexpr_lex: the tokens of a segment expression and the values the
 * parser reads from them (enum names, numbers, durations, dates, strings),
 * each failing with the byte and what was expected there. The grammar is
 * segexpr.c.
 */
#include "core/segexpr_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"

/* segx_fail records the first error: at byte pos, msg. Returns false. */
bool
segx_fail(struct segx_parser *ps, size_t pos, const char *fmt, ...)
{
	if (ps->failed) {
		return false;
	}
	ps->failed = true;
	ps->err->pos = pos;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return false;
}

static bool
segx_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
segx_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
segx_is_trait_char(char c)
{
	return segx_is_alpha(c) || segx_is_digit(c) || c == '.' || c == '-';
}

/* segx_lex reads the next token into ps. Returns false on a lexical error. */
bool
segx_lex(struct segx_parser *ps)
{
	const char *s = ps->src;
	size_t n = ps->len, i = ps->at;
	while (i < n
	        && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'
	                || s[i] == '\f' || s[i] == '\v')) {
		i++;
	}
	ps->pos = i;
	ps->str = s + i;
	ps->tlen = 0;
	if (i == n) {
		ps->tok = SEGX_T_END;
		ps->at = i;
		return true;
	}
	char c = s[i];
	size_t start = i;
	if (segx_is_alpha(c)) {
		while (i < n && (segx_is_alpha(s[i]) || segx_is_digit(s[i]))) {
			i++;
		}
		ps->tok = SEGX_T_WORD;
		if (i - start == 5 && memcmp(s + start, "trait", 5) == 0
		        && i < n && s[i] == '.') {
			size_t name = ++i;
			while (i < n && segx_is_trait_char(s[i])) {
				i++;
			}
			if (i == name) {
				return segx_fail(ps, name,
				        "expected a trait name after 'trait.'");
			}
			ps->tok = SEGX_T_TRAIT;
			ps->str = s + name;
			ps->tlen = i - name;
			ps->at = i;
			return true;
		}
	} else if (segx_is_digit(c)
	        || (c == '-' && i + 1 < n && segx_is_digit(s[i + 1]))) {
		i++;
		while (i < n
		        && (segx_is_alpha(s[i]) || segx_is_digit(s[i])
		                || s[i] == '.')) {
			i++;
		}
		ps->tok = SEGX_T_NUMBER;
	} else if (c == '"') {
		i++;
		while (i < n && s[i] != '"') {
			if (s[i] == '\\') {
				if (i + 1 < n
				        && (s[i + 1] == '"'
				                || s[i + 1] == '\\')) {
					i += 2;
					continue;
				}
				return segx_fail(ps, i,
				        "expected \\\" or \\\\ after a backslash");
			}
			i++;
		}
		if (i == n) {
			return segx_fail(ps, start, "unterminated string");
		}
		i++;
		ps->tok = SEGX_T_STRING;
	} else if (c == '=' || c == '<' || c == '>'
	        || (c == '!' && i + 1 < n && s[i + 1] == '=')) {
		bool eq = i + 1 < n && s[i + 1] == '=';
		ps->tok = SEGX_T_OP;
		if (c == '=') {
			ps->op = SEGX_EQ;
			i++;
		} else if (c == '!') {
			ps->op = SEGX_NE;
			i += 2;
		} else if (c == '<') {
			ps->op = eq ? SEGX_LE : SEGX_LT;
			i += eq ? 2 : 1;
		} else {
			ps->op = eq ? SEGX_GE : SEGX_GT;
			i += eq ? 2 : 1;
		}
	} else if (c == '(' || c == ')' || c == ',') {
		ps->tok = c == '(' ? SEGX_T_LPAREN
		                   : (c == ')' ? SEGX_T_RPAREN : SEGX_T_COMMA);
		i++;
	} else if (c >= 0x21 && c <= 0x7e) {
		return segx_fail(ps, i, "unexpected character '%c'", c);
	} else {
		return segx_fail(ps, i, "unexpected byte 0x%02x",
		        (unsigned) (unsigned char) c);
	}
	ps->tlen = i - start;
	ps->at = i;
	return true;
}

/* Whether the current token is the word w. */
bool
segx_word(const struct segx_parser *ps, const char *w)
{
	size_t wl = strlen(w);
	return ps->tok == SEGX_T_WORD && ps->tlen == wl
	        && memcmp(ps->str, w, wl) == 0;
}

/* segx_expect consumes the token kind tok, or fails with "expected what". */
bool
segx_expect(struct segx_parser *ps, int tok, const char *what)
{
	if (ps->tok != tok) {
		return segx_fail(ps, ps->pos, "expected %s", what);
	}
	return segx_lex(ps);
}

bool
segx_expect_word(struct segx_parser *ps, const char *w, const char *what)
{
	if (!segx_word(ps, w)) {
		return segx_fail(ps, ps->pos, "expected %s", what);
	}
	return segx_lex(ps);
}

/*
 * segx_string decodes the current STRING token into ps->strs, its offset
 * in *off (as a pointer value, fixed up in segx_parse) and length in *len.
 */
bool
segx_string(struct segx_parser *ps, const char *what, size_t *off, size_t *len)
{
	if (ps->tok != SEGX_T_STRING) {
		return segx_fail(ps, ps->pos, "expected %s", what);
	}
	*off = ps->n_str;
	for (size_t i = 1; i + 1 < ps->tlen; i++) {
		char c = ps->str[i];
		if (c == '\\') {
			c = ps->str[++i];
		}
		ps->strs[ps->n_str++] = c;
	}
	*len = ps->n_str - *off;
	return segx_lex(ps);
}

bool
segx_op(struct segx_parser *ps, struct segx_node *nd)
{
	if (ps->tok != SEGX_T_OP) {
		return segx_fail(ps, ps->pos,
		        "expected a comparison (=, !=, <, <=, >, >=)");
	}
	nd->op = (uint8_t) ps->op;
	return segx_lex(ps);
}

/*
 * segx_enum reads the name of enum d (an uppercase word) into *v; example
 * is one of its names, for the message.
 */
bool
segx_enum(struct segx_parser *ps, const ProtobufCEnumDescriptor *d,
        const char *example, bool allow_zero, int64_t *v)
{
	char name[64];
	const ProtobufCEnumValue *ev = NULL;
	if (ps->tok == SEGX_T_WORD && ps->tlen < sizeof(name)) {
		memcpy(name, ps->str, ps->tlen);
		name[ps->tlen] = '\0';
		ev = protobuf_c_enum_descriptor_get_value_by_name(d, name);
	}
	if (ev == NULL || (!allow_zero && ev->value == 0)) {
		return segx_fail(ps, ps->pos, "expected a %s name such as %s",
		        d->short_name, example);
	}
	*v = ev->value;
	return segx_lex(ps);
}

/* Whether t (n bytes) is -?[0-9]+ (neg allowed) with an optional .[0-9]+. */
static bool
segx_numeric(const char *t, size_t n, bool neg, bool frac)
{
	size_t i = 0;
	if (neg && i < n && t[i] == '-') {
		i++;
	}
	size_t d = i;
	while (i < n && segx_is_digit(t[i])) {
		i++;
	}
	if (i == d) {
		return false;
	}
	if (frac && i < n && t[i] == '.') {
		size_t f = ++i;
		while (i < n && segx_is_digit(t[i])) {
			i++;
		}
		if (i == f) {
			return false;
		}
	}
	return i == n;
}

/* segx_number reads a number: its value in *d, *is_int and *i if whole. */
bool
segx_number(struct segx_parser *ps, double *d, bool *is_int, int64_t *i)
{
	char buf[64];
	if (ps->tok != SEGX_T_NUMBER || ps->tlen >= sizeof(buf)
	        || !segx_numeric(ps->str, ps->tlen, true, true)) {
		return segx_fail(ps, ps->pos, "expected a number such as 42");
	}
	memcpy(buf, ps->str, ps->tlen);
	buf[ps->tlen] = '\0';
	*d = strtod(buf, NULL);
	/* Whole and within int64 (18 digits always are). */
	*is_int = memchr(buf, '.', ps->tlen) == NULL
	        && ps->tlen <= (size_t) (buf[0] == '-' ? 19 : 18);
	*i = *is_int ? strtoll(buf, NULL, 10) : 0;
	return segx_lex(ps);
}

/* segx_whole parses up to 18 digits of t (n bytes) into *v. */
bool
segx_whole(const char *t, size_t n, int64_t *v)
{
	if (n == 0 || n > 18) {
		return false;
	}
	int64_t r = 0;
	for (size_t i = 0; i < n; i++) {
		if (!segx_is_digit(t[i])) {
			return false;
		}
		r = r * 10 + (t[i] - '0');
	}
	*v = r;
	return true;
}

clm_err
segx_duration_parse(const char *s, size_t n, int64_t *ms)
{
	int64_t v, unit = 0;
	if (n >= 2) {
		switch (s[n - 1]) {
		case 's':
			unit = 1000;
			break;
		case 'm':
			unit = 60 * 1000;
			break;
		case 'h':
			unit = 3600 * 1000;
			break;
		case 'd':
			unit = MODEL_DAY_MS;
			break;
		}
	}
	if (unit == 0 || !segx_numeric(s, n - 1, false, false)) {
		return CLM_INVALID_ARGUMENT;
	}
	if (!segx_whole(s, n - 1, &v) || v > SEGX_DURATION_MAX_MS / unit) {
		return CLM_OUT_OF_RANGE;
	}
	*ms = v * unit;
	return CLM_OK;
}

/* segx_duration reads a duration ([0-9]+[smhd], at most 3650 d) in ms. */
bool
segx_duration(struct segx_parser *ps, int64_t *ms)
{
	clm_err e = ps->tok == SEGX_T_NUMBER
	        ? segx_duration_parse(ps->str, ps->tlen, ms)
	        : CLM_INVALID_ARGUMENT;
	if (e == CLM_INVALID_ARGUMENT) {
		return segx_fail(
		        ps, ps->pos, "expected a duration such as 30d");
	}
	if (e != CLM_OK) {
		return segx_fail(
		        ps, ps->pos, "expected a duration of at most 3650d");
	}
	return segx_lex(ps);
}

/* segx_date parses "YYYY-MM-DD" (t, n bytes, no quotes) into unix ms. */
static bool
segx_date(const char *t, size_t n, int64_t *ms)
{
	int64_t y, mo, d, y2;
	int m2, d2;
	if (n != 10 || t[4] != '-' || t[7] != '-' || !segx_whole(t, 4, &y)
	        || !segx_whole(t + 5, 2, &mo) || !segx_whole(t + 8, 2, &d)
	        || mo < 1 || mo > 12 || d < 1) {
		return false;
	}
	int64_t days = civil_to_days(y, (int) mo, (int) d);
	civil_from_days(days, &y2, &m2, &d2);
	if (y2 != y || m2 != mo || d2 != d) {
		return false; /* 2026-02-30 */
	}
	*ms = days * MODEL_DAY_MS;
	return true;
}

/* segx_instant reads a date in quotes or unix milliseconds. */
bool
segx_instant(struct segx_parser *ps, int64_t *ms)
{
	const char *what
	        = "expected a date such as \"2026-01-31\" or unix milliseconds";
	if (ps->tok == SEGX_T_STRING) {
		if (!segx_date(ps->str + 1, ps->tlen - 2, ms)) {
			return segx_fail(ps, ps->pos, "%s", what);
		}
		return segx_lex(ps);
	}
	bool neg = ps->tok == SEGX_T_NUMBER && ps->str[0] == '-';
	if (ps->tok != SEGX_T_NUMBER
	        || !segx_numeric(ps->str, ps->tlen, true, false)
	        || !segx_whole(ps->str + neg, ps->tlen - neg, ms)) {
		return segx_fail(ps, ps->pos, "%s", what);
	}
	if (neg) {
		*ms = -*ms;
	}
	return segx_lex(ps);
}
