/*
 * jsonlex: the JSON tokenizer (see jsonlex.h).
 *
 * Strings are decoded in two passes: the first finds the closing quote
 * (stepping over each backslash and the byte after it), the second checks
 * and decodes. A decoded string is never longer than its JSON form (an
 * escape of 2, 6 or 12 bytes stands for 1 to 4 bytes of UTF-8), so one
 * allocation of the quoted length suffices.
 */
#include "jsonlex.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void
jsonlex_init(struct jsonlex *lx, const char *text, size_t len)
{
	lx->text = text;
	lx->len = len;
	lx->pos = 0;
	lx->what = NULL;
}

void
jsonlex_ws(struct jsonlex *lx)
{
	while (lx->pos < lx->len) {
		char c = lx->text[lx->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			break;
		}
		lx->pos++;
	}
}

int
jsonlex_peek(const struct jsonlex *lx)
{
	return lx->pos < lx->len ? (unsigned char) lx->text[lx->pos] : -1;
}

bool
jsonlex_eat(struct jsonlex *lx, char c)
{
	if (jsonlex_peek(lx) != (unsigned char) c) {
		return false;
	}
	lx->pos++;
	return true;
}

bool
jsonlex_literal(struct jsonlex *lx, const char *lit)
{
	size_t n = strlen(lit);

	if (lx->len - lx->pos >= n
	        && memcmp(lx->text + lx->pos, lit, n) == 0) {
		lx->pos += n;
		return true;
	}
	return false;
}

/* jsonlex_fail records a syntax error at lx->pos. */
static clm_err
jsonlex_fail(struct jsonlex *lx, const char *what)
{
	lx->what = what;
	return CLM_INVALID_ARGUMENT;
}

/* jsonlex_hex4 reads the four hex digits at s into *v. */
static bool
jsonlex_hex4(const char *s, uint32_t *v)
{
	uint32_t x = 0;

	for (int k = 0; k < 4; k++) {
		char h = s[k];

		if (h >= '0' && h <= '9') {
			x = x << 4 | (uint32_t) (h - '0');
		} else if (h >= 'a' && h <= 'f') {
			x = x << 4 | (uint32_t) (h - 'a' + 10);
		} else if (h >= 'A' && h <= 'F') {
			x = x << 4 | (uint32_t) (h - 'A' + 10);
		} else {
			return false;
		}
	}
	*v = x;
	return true;
}

/*
 * jsonlex_escape decodes the escape at t[0..n) (t[0] is its backslash, and
 * n >= 2) into the code point *cp. Returns the escape's length: 2, 6, or
 * 12 for a surrogate pair; or 0 with *what set when it is invalid.
 */
static size_t
jsonlex_escape(const char *t, size_t n, uint32_t *cp, const char **what)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e = memchr(from, t[1], sizeof(from) - 1);
	uint32_t hi, lo;

	if (e != NULL) {
		*cp = (unsigned char) to[e - from];
		return 2;
	}
	if (t[1] != 'u') {
		*what = "invalid escape in string";
		return 0;
	}
	if (n < 6 || !jsonlex_hex4(t + 2, &hi)) {
		*what = "invalid \\u escape";
		return 0;
	}
	if (hi < 0xD800 || hi > 0xDFFF) {
		*cp = hi;
		return 6;
	}
	/* A high surrogate, then the escape of a low one: one code point. */
	if (hi <= 0xDBFF && n >= 12 && t[6] == '\\' && t[7] == 'u'
	        && jsonlex_hex4(t + 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
		*cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
		return 12;
	}
	*what = "unpaired surrogate in string";
	return 0;
}

clm_err
jsonlex_string(struct jsonlex *lx, char **out, size_t *outlen)
{
	const char *t = lx->text, *what = NULL;
	size_t i = lx->pos + 1, end, n = 0;
	char *s;

	for (end = i; end < lx->len && t[end] != '"'; end++) {
		if (t[end] == '\\') {
			end++;
		}
	}
	if (end >= lx->len) {
		lx->pos = lx->len;
		return jsonlex_fail(lx, "unterminated string");
	}
	s = malloc(end - i + 1);
	if (s == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	while (i < end) {
		uint32_t cp;
		size_t k;

		if ((unsigned char) t[i] < 0x20) {
			what = "control character in string";
			break;
		}
		if (t[i] != '\\') {
			k = utf8_seq(t + i, end - i);
			if (k == 0) {
				what = "invalid UTF-8 in string";
				break;
			}
			memcpy(s + n, t + i, k);
			n += k;
		} else {
			k = jsonlex_escape(t + i, end - i, &cp, &what);
			if (k == 0) {
				break;
			}
			n += utf8_encode(cp, s + n);
		}
		i += k;
	}
	if (what != NULL) {
		free(s);
		lx->pos = i;
		return jsonlex_fail(lx, what);
	}
	s[n] = '\0';
	lx->pos = end + 1;
	*out = s;
	*outlen = n;
	return CLM_OK;
}

clm_err
jsonlex_scalar(struct jsonlex *lx, struct jsonlex_text *t)
{
	int c = jsonlex_peek(lx);
	size_t len;
	char *str;
	clm_err e;

	if (c == '"') {
		e = jsonlex_string(lx, &str, &len);
		if (e != CLM_OK) {
			return e;
		}
		*t = (struct jsonlex_text) { str, len, str, true };
		return CLM_OK;
	}
	if (c != '-' && (c < '0' || c > '9')) {
		return CLM_NOT_FOUND;
	}
	len = jsonlex_number_len(lx->text + lx->pos, lx->len - lx->pos);
	if (len == 0) {
		return jsonlex_fail(lx, "invalid number");
	}
	*t = (struct jsonlex_text) { lx->text + lx->pos, len, NULL, false };
	lx->pos += len;
	return CLM_OK;
}

static bool
jsonlex_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* jsonlex_digits returns i moved past the digits at s[i..n). */
static size_t
jsonlex_digits(const char *s, size_t i, size_t n)
{
	while (i < n && jsonlex_is_digit(s[i])) {
		i++;
	}
	return i;
}

size_t
jsonlex_number_len(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-') {
		i++;
	}
	if (i >= n || !jsonlex_is_digit(s[i])) {
		return 0;
	}
	i = s[i] == '0' ? i + 1 : jsonlex_digits(s, i, n);
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !jsonlex_is_digit(s[i])) {
			return 0;
		}
		i = jsonlex_digits(s, i, n);
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			i++;
		}
		if (i >= n || !jsonlex_is_digit(s[i])) {
			return 0;
		}
		i = jsonlex_digits(s, i, n);
	}
	return i;
}

/*
 * jsonlex_int works on the digits of the integer and fraction parts as one
 * string, d[0..nd), with the value d * 10^(exp - fraction digits). Leading
 * and trailing zeros are dropped first; what remains is an integer exactly
 * when the adjusted exponent is not negative, and fits 64 bits only if it
 * has at most 20 digits, which bounds the work whatever the input.
 */
clm_err
jsonlex_int(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0, ib, il, fb = 0, fl = 0, nd, lead, trail, k;
	long long exp = 0, e;
	bool minus = false, eneg = false;
	uint64_t m = 0;

	if (s[0] == '-') {
		minus = true;
		i++;
	}
	ib = i;
	i = jsonlex_digits(s, i, n);
	il = i - ib;
	if (i < n && s[i] == '.') {
		fb = ++i;
		i = jsonlex_digits(s, i, n);
		fl = i - fb;
	}
	if (i < n) {
		i++; /* 'e' or 'E' */
		if (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-';
			i++;
		}
		/* Saturate: anything this large is out of range anyway. */
		for (; i < n; i++) {
			if (exp < 100000000000000000LL) {
				exp = exp * 10 + (s[i] - '0');
			}
		}
	}

	nd = il + fl;
#define JSONLEX_DIGIT(k) ((k) < il ? s[ib + (k)] : s[fb + (k) -il])
	for (lead = 0; lead < nd && JSONLEX_DIGIT(lead) == '0'; lead++) {
	}
	if (lead == nd) {
		*neg = minus;
		*mag = 0;
		return CLM_OK;
	}
	for (trail = 0; JSONLEX_DIGIT(nd - 1 - trail) == '0'; trail++) {
	}
	/* value = digits[lead, nd - trail) * 10^e */
	e = (eneg ? -exp : exp) - (long long) fl + (long long) trail;
	if (e < 0) {
		return CLM_INVALID_ARGUMENT;
	}
	if ((long long) (nd - lead - trail) + e > 20) {
		return CLM_OUT_OF_RANGE;
	}
	for (k = lead; k < nd - trail; k++) {
		unsigned d = (unsigned) (JSONLEX_DIGIT(k) - '0');

		if (m > (UINT64_MAX - d) / 10) {
			return CLM_OUT_OF_RANGE;
		}
		m = m * 10 + d;
	}
#undef JSONLEX_DIGIT
	for (; e > 0; e--) {
		if (m > UINT64_MAX / 10) {
			return CLM_OUT_OF_RANGE;
		}
		m *= 10;
	}
	*neg = minus;
	*mag = m;
	return CLM_OK;
}
