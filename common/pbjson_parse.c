/* pbjson: parsing (see pbjson.c for the design). */
#include "pbjson_internal.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camel.h"
#include "utf8.h"

/*
 * Parsing.
 */

struct pbjson_parser {
	const char *text;
	size_t len;
	size_t pos;     /* next byte to read */
	unsigned depth; /* objects and arrays open */
	char *err;      /* caller's buffer, errlen bytes */
	size_t errlen;
	bool failed;    /* err holds the first error; keep it */
	bool path_full; /* path was truncated */
	size_t pathlen;
	char path[PBJSON_PATH_MAX]; /* field path of the value being read */
};

/*
 * pbjson_verror writes prefix and the formatted message into the caller's
 * buffer, but only for the first error: later ones would only describe its
 * consequences. It and its wrappers return -1, so that callers can write
 * `return pbjson_error(...)`.
 */
static int
pbjson_verror(struct pbjson_parser *ps, const char *prefix, const char *fmt,
        va_list ap)
{
	int n;

	if (ps->failed || ps->err == NULL || ps->errlen == 0) {
		ps->failed = true;
		return -1;
	}
	ps->failed = true;
	n = snprintf(ps->err, ps->errlen, "%s", prefix);
	if (n >= 0 && (size_t) n < ps->errlen) {
		vsnprintf(ps->err + n, ps->errlen - (size_t) n, fmt, ap);
	}
	return -1;
}

static int
pbjson_error(struct pbjson_parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pbjson_verror(ps, "", fmt, ap);
	va_end(ap);
	return -1;
}

/* pbjson_field_error prefixes the message with the current field path. */
static int
pbjson_field_error(struct pbjson_parser *ps, const char *fmt, ...)
{
	char prefix[PBJSON_PATH_MAX + 16];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "field '%s': ", ps->path);
	va_start(ap, fmt);
	pbjson_verror(ps, prefix, fmt, ap);
	va_end(ap);
	return -1;
}

/* pbjson_syntax reports malformed JSON at the current offset. */
static int
pbjson_syntax(struct pbjson_parser *ps, const char *what)
{
	if (ps->pos >= ps->len) {
		what = "unexpected end of input";
	}
	return pbjson_error(
	        ps, "invalid JSON at offset %zu: %s", ps->pos, what);
}

static int
pbjson_oom(struct pbjson_parser *ps)
{
	return pbjson_error(ps, "out of memory");
}

/*
 * pbjson_snip copies s[0..n) into dst (PBJSON_SNIP_MAX bytes) for quoting in
 * an error message: control characters become '?' so that the message stays
 * on one line, and a long value is cut at a character boundary with "...".
 */
static void
pbjson_snip(char *dst, const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < PBJSON_SNIP_MAX - 4; i++) {
		unsigned char c = (unsigned char) s[i];

		dst[k++] = c < 0x20 || c == 0x7F ? '?' : (char) c;
	}
	if (i < n) {
		while (k > 0 && ((unsigned char) dst[k - 1] & 0xC0) == 0x80) {
			k--;
		}
		if (k > 0 && (unsigned char) dst[k - 1] >= 0xC0) {
			k--;
		}
		memcpy(dst + k, "...", 3);
		k += 3;
	}
	dst[k] = '\0';
}

/*
 * pbjson_path_put appends s[0..n) to the field path, with control
 * characters replaced by '?'. A path that does not fit ends in "...";
 * callers restore the length they saw before appending.
 */
static void
pbjson_path_put(struct pbjson_parser *ps, const char *s, size_t n)
{
	size_t i;

	if (ps->path_full) {
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];

		if (ps->pathlen >= sizeof(ps->path) - 4) {
			size_t k = ps->pathlen;

			while (k > 0
			        && ((unsigned char) ps->path[k - 1] & 0xC0)
			                == 0x80) {
				k--;
			}
			if (k > 0 && (unsigned char) ps->path[k - 1] >= 0xC0) {
				k--;
			}
			memcpy(ps->path + k, "...", 4);
			ps->pathlen = k + 3;
			ps->path_full = true;
			return;
		}
		ps->path[ps->pathlen++]
		        = c < 0x20 || c == 0x7F ? '?' : (char) c;
	}
	ps->path[ps->pathlen] = '\0';
}

static void
pbjson_path_restore(struct pbjson_parser *ps, size_t mark)
{
	ps->pathlen = mark;
	ps->path[mark] = '\0';
	ps->path_full = false;
}

static void
pbjson_path_index(struct pbjson_parser *ps, size_t i)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "[%zu]", i);
	pbjson_path_put(ps, buf, strlen(buf));
}

static void
pbjson_ws(struct pbjson_parser *ps)
{
	while (ps->pos < ps->len) {
		char c = ps->text[ps->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			break;
		}
		ps->pos++;
	}
}

/* pbjson_peek returns the next byte, or -1 at the end of the input. */
static int
pbjson_peek(const struct pbjson_parser *ps)
{
	return ps->pos < ps->len ? (unsigned char) ps->text[ps->pos] : -1;
}

/* pbjson_literal consumes the keyword lit if it comes next. */
static bool
pbjson_literal(struct pbjson_parser *ps, const char *lit)
{
	size_t n = strlen(lit);

	if (ps->len - ps->pos >= n
	        && memcmp(ps->text + ps->pos, lit, n) == 0) {
		ps->pos += n;
		return true;
	}
	return false;
}

static int
pbjson_enter(struct pbjson_parser *ps)
{
	if (ps->depth >= PBJSON_MAX_DEPTH) {
		return pbjson_error(ps,
		        "invalid JSON at offset %zu: nesting deeper than %d levels",
		        ps->pos, PBJSON_MAX_DEPTH);
	}
	ps->depth++;
	return 0;
}

static bool
pbjson_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * pbjson_number_len returns the length of the JSON number (RFC 8259
 * grammar: no '+', no leading zeros, digits on both sides of '.') at the
 * start of s[0..n), or 0 when none starts there.
 */
static size_t
pbjson_number_len(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-') {
		i++;
	}
	if (i >= n || !pbjson_is_digit(s[i])) {
		return 0;
	}
	if (s[i] == '0') {
		i++;
	} else {
		while (i < n && pbjson_is_digit(s[i])) {
			i++;
		}
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || !pbjson_is_digit(s[i])) {
			return 0;
		}
		while (i < n && pbjson_is_digit(s[i])) {
			i++;
		}
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			i++;
		}
		if (i >= n || !pbjson_is_digit(s[i])) {
			return 0;
		}
		while (i < n && pbjson_is_digit(s[i])) {
			i++;
		}
	}
	return i;
}

/*
 * pbjson_exact_int converts the JSON number s[0..n) (one that
 * pbjson_number_len accepts whole) to a sign and a 64-bit magnitude,
 * exactly: "1e3" and "1.50e2" are integers, "1.5" is not, and a number of
 * any length or exponent is judged without rounding through a double (which
 * would misread integers above 2^53). Returns 0, PBJSON_NOT_INTEGER or
 * PBJSON_TOO_BIG.
 */
static int
pbjson_exact_int(const char *s, size_t n, bool *neg, uint64_t *mag)
{
	size_t i = 0, ib, il, fb = 0, fl = 0, nd, lead, trail, k;
	long long exp = 0, e;
	bool eneg = false;

	*neg = false;
	*mag = 0;
	if (s[0] == '-') {
		*neg = true;
		i++;
	}
	ib = i;
	while (i < n && pbjson_is_digit(s[i])) {
		i++;
	}
	il = i - ib;
	if (i < n && s[i] == '.') {
		fb = ++i;
		while (i < n && pbjson_is_digit(s[i])) {
			i++;
		}
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

	/* The digits of the integer and fraction parts, as one string. */
	nd = il + fl;
#define PBJSON_DIGIT(k) ((k) < il ? s[ib + (k)] : s[fb + (k) -il])
	for (lead = 0; lead < nd && PBJSON_DIGIT(lead) == '0'; lead++) {
	}
	if (lead == nd) {
		return 0;
	}
	for (trail = 0; PBJSON_DIGIT(nd - 1 - trail) == '0'; trail++) {
	}
	/* value = digits[lead, nd - trail) * 10^e */
	e = (eneg ? -exp : exp) - (long long) fl + (long long) trail;
	if (e < 0) {
		return PBJSON_NOT_INTEGER;
	}
	if ((long long) (nd - lead - trail) + e > 20) {
		return PBJSON_TOO_BIG;
	}
	for (k = lead; k < nd - trail; k++) {
		unsigned d = (unsigned) (PBJSON_DIGIT(k) - '0');

		if (*mag > (UINT64_MAX - d) / 10) {
			return PBJSON_TOO_BIG;
		}
		*mag = *mag * 10 + d;
	}
#undef PBJSON_DIGIT
	for (; e > 0; e--) {
		if (*mag > UINT64_MAX / 10) {
			return PBJSON_TOO_BIG;
		}
		*mag *= 10;
	}
	return 0;
}

/*
 * pbjson_store_int range-checks sign and magnitude for integer type `type`
 * and stores the value at dst. Returns false when out of range.
 */
static bool
pbjson_store_int(ProtobufCType type, bool neg, uint64_t mag, void *dst)
{
	int64_t v;

	if (neg && mag == 0) {
		neg = false;
	}
	switch (type) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (neg || mag > UINT32_MAX) {
			return false;
		}
		*(uint32_t *) dst = (uint32_t) mag;
		return true;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (neg) {
			return false;
		}
		*(uint64_t *) dst = mag;
		return true;
	default:
		break;
	}
	if (mag > (neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX)) {
		return false;
	}
	v = neg ? -(int64_t) (mag - 1) - 1 : (int64_t) mag;
	if (pbjson_is_64bit(type)) {
		*(int64_t *) dst = v;
		return true;
	}
	if (v < INT32_MIN || v > INT32_MAX) {
		return false;
	}
	*(int32_t *) dst = (int32_t) v;
	return true;
}

/*
 * pbjson_parse_string reads the JSON string at the current position (the
 * opening quote) into a new NUL-terminated buffer, checking that the raw
 * bytes are UTF-8 and that \u escapes pair their surrogates. *out may
 * contain NUL bytes (from \u0000); *outlen counts them.
 */
static int
pbjson_parse_string(struct pbjson_parser *ps, char **out, size_t *outlen)
{
	const char *t = ps->text;
	size_t i = ps->pos + 1, end, n = 0;
	char *s;

	/*
	 * Find the closing quote first: the decoded string is never longer
	 * than its JSON form, so one allocation suffices.
	 */
	for (end = i; end < ps->len && t[end] != '"'; end++) {
		if (t[end] == '\\') {
			end++;
		}
	}
	if (end >= ps->len) {
		ps->pos = ps->len;
		return pbjson_syntax(ps, "unterminated string");
	}
	s = malloc(end - i + 1);
	if (s == NULL) {
		return pbjson_oom(ps);
	}
	while (i < end) {
		unsigned char c = (unsigned char) t[i];
		unsigned long cp, lo;
		size_t k;

		if (c < 0x20) {
			ps->pos = i;
			free(s);
			return pbjson_syntax(
			        ps, "control character in string");
		}
		if (c >= 0x80) {
			k = utf8_seq(t + i, end - i);
			if (k == 0) {
				ps->pos = i;
				free(s);
				return pbjson_syntax(
				        ps, "invalid UTF-8 in string");
			}
			memcpy(s + n, t + i, k);
			n += k;
			i += k;
			continue;
		}
		if (c != '\\') {
			s[n++] = (char) c;
			i++;
			continue;
		}
		switch (t[i + 1]) {
		case '"':
		case '\\':
		case '/':
			s[n++] = t[i + 1];
			i += 2;
			continue;
		case 'b':
			s[n++] = '\b';
			i += 2;
			continue;
		case 'f':
			s[n++] = '\f';
			i += 2;
			continue;
		case 'n':
			s[n++] = '\n';
			i += 2;
			continue;
		case 'r':
			s[n++] = '\r';
			i += 2;
			continue;
		case 't':
			s[n++] = '\t';
			i += 2;
			continue;
		case 'u':
			break;
		default:
			ps->pos = i;
			free(s);
			return pbjson_syntax(ps, "invalid escape in string");
		}

		/* \uXXXX, and for a high surrogate its \uXXXX partner. */
		ps->pos = i;
		if (end - i < 6) {
			free(s);
			return pbjson_syntax(ps, "invalid \\u escape");
		}
		cp = 0;
		for (k = 2; k < 6; k++) {
			char h = t[i + k];

			cp <<= 4;
			if (h >= '0' && h <= '9') {
				cp |= (unsigned long) (h - '0');
			} else if (h >= 'a' && h <= 'f') {
				cp |= (unsigned long) (h - 'a' + 10);
			} else if (h >= 'A' && h <= 'F') {
				cp |= (unsigned long) (h - 'A' + 10);
			} else {
				free(s);
				return pbjson_syntax(ps, "invalid \\u escape");
			}
		}
		i += 6;
		if (cp >= 0xDC00 && cp <= 0xDFFF) {
			free(s);
			return pbjson_syntax(
			        ps, "unpaired surrogate in string");
		}
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			lo = 0;
			if (end - i >= 6 && t[i] == '\\' && t[i + 1] == 'u') {
				for (k = 2; k < 6; k++) {
					char h = t[i + k];

					lo <<= 4;
					if (h >= '0' && h <= '9') {
						lo |= (unsigned long) (h
						        - '0');
					} else if (h >= 'a' && h <= 'f') {
						lo |= (unsigned long) (h - 'a'
						        + 10);
					} else if (h >= 'A' && h <= 'F') {
						lo |= (unsigned long) (h - 'A'
						        + 10);
					} else {
						lo = 0;
						break;
					}
				}
			}
			if (lo < 0xDC00 || lo > 0xDFFF) {
				free(s);
				return pbjson_syntax(
				        ps, "unpaired surrogate in string");
			}
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			i += 6;
		}
		n += utf8_encode((uint32_t) cp, s + n);
	}
	s[n] = '\0';
	ps->pos = end + 1;
	*out = s;
	*outlen = n;
	return 0;
}

/*
 * pbjson_scalar_text reads the next value when it is a string or a number
 * and returns its text: for a string, the decoded contents in a new buffer
 * (*owned, which the caller frees); for a number, its bytes in the input
 * (*owned = NULL). *is_string says which. Returns 1 without consuming
 * anything when the value is neither.
 */
static int
pbjson_scalar_text(struct pbjson_parser *ps, const char **s, size_t *n,
        char **owned, bool *is_string)
{
	int c = pbjson_peek(ps);

	*owned = NULL;
	if (c == '"') {
		if (pbjson_parse_string(ps, owned, n) != 0) {
			return -1;
		}
		*s = *owned;
		*is_string = true;
		return 0;
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		*n = pbjson_number_len(ps->text + ps->pos, ps->len - ps->pos);
		if (*n == 0) {
			return pbjson_syntax(ps, "invalid number");
		}
		*s = ps->text + ps->pos;
		ps->pos += *n;
		*is_string = false;
		return 0;
	}
	return 1;
}

/*
 * pbjson_text_to_int converts s[0..n) (a JSON number, or the contents of a
 * string that must be one) to integer type `type` at dst, reporting
 * failures against the current path.
 */
static int
pbjson_text_to_int(struct pbjson_parser *ps, ProtobufCType type, const char *s,
        size_t n, void *dst)
{
	char snip[PBJSON_SNIP_MAX];
	uint64_t mag;
	bool neg;
	int r;

	pbjson_snip(snip, s, n);
	if (n == 0 || pbjson_number_len(s, n) != n) {
		return pbjson_field_error(
		        ps, "invalid %s '%s'", pbjson_type_name(type), snip);
	}
	r = pbjson_exact_int(s, n, &neg, &mag);
	if (r == PBJSON_NOT_INTEGER) {
		return pbjson_field_error(
		        ps, "expected an integer, got '%s'", snip);
	}
	if (r == PBJSON_TOO_BIG || !pbjson_store_int(type, neg, mag, dst)) {
		return pbjson_field_error(ps, "value '%s' out of range for %s",
		        snip, pbjson_type_name(type));
	}
	return 0;
}

static int
pbjson_parse_int(struct pbjson_parser *ps, ProtobufCType type, void *dst)
{
	const char *s;
	char *owned;
	size_t n;
	bool is_string;
	int r;

	r = pbjson_scalar_text(ps, &s, &n, &owned, &is_string);
	if (r < 0) {
		return -1;
	}
	if (r > 0) {
		return pbjson_field_error(ps, "expected an integer");
	}
	r = pbjson_text_to_int(ps, type, s, n, dst);
	free(owned);
	return r;
}

static int
pbjson_parse_real(struct pbjson_parser *ps, ProtobufCType type, void *dst)
{
	bool is_float = type == PROTOBUF_C_TYPE_FLOAT;
	char local[64], snip[PBJSON_SNIP_MAX], *owned, *z = NULL;
	const char *s;
	size_t n;
	bool is_string;
	double d;
	int r;

	r = pbjson_scalar_text(ps, &s, &n, &owned, &is_string);
	if (r < 0) {
		return -1;
	}
	if (r > 0) {
		return pbjson_field_error(ps, "expected a number");
	}
	if (is_string && strcmp(s, "NaN") == 0 && n == 3) {
		d = NAN;
	} else if (is_string && strcmp(s, "Infinity") == 0 && n == 8) {
		d = INFINITY;
	} else if (is_string && strcmp(s, "-Infinity") == 0 && n == 9) {
		d = -INFINITY;
	} else {
		pbjson_snip(snip, s, n);
		if (n == 0 || pbjson_number_len(s, n) != n) {
			free(owned);
			return pbjson_field_error(
			        ps, "expected a number, got '%s'", snip);
		}
		/* strtod needs a terminated copy of a number in the input. */
		if (is_string) {
			z = owned;
		} else if (n < sizeof(local)) {
			z = local;
		} else if ((z = malloc(n + 1)) == NULL) {
			return pbjson_oom(ps);
		}
		if (z != owned) {
			memcpy(z, s, n);
			z[n] = '\0';
		}
		errno = 0;
		d = is_float ? strtof(z, NULL) : strtod(z, NULL);
		r = errno == ERANGE && isinf(d);
		if (z != local && z != owned) {
			free(z);
		}
		if (r) {
			free(owned);
			return pbjson_field_error(ps,
			        "value '%s' out of range for %s", snip,
			        pbjson_type_name(type));
		}
	}
	free(owned);
	if (is_float) {
		*(float *) dst = (float) d;
	} else {
		*(double *) dst = d;
	}
	return 0;
}

static int
pbjson_parse_bool(struct pbjson_parser *ps, protobuf_c_boolean *dst)
{
	if (pbjson_literal(ps, "true")) {
		*dst = 1;
		return 0;
	}
	if (pbjson_literal(ps, "false")) {
		*dst = 0;
		return 0;
	}
	return pbjson_field_error(ps, "expected true or false");
}

static int
pbjson_parse_enum(struct pbjson_parser *ps, const ProtobufCEnumDescriptor *ed,
        int32_t *dst)
{
	const ProtobufCEnumValue *ev = NULL;
	char snip[PBJSON_SNIP_MAX], *owned;
	const char *s;
	size_t n;
	bool is_string;
	int r;

	r = pbjson_scalar_text(ps, &s, &n, &owned, &is_string);
	if (r < 0) {
		return -1;
	}
	if (r > 0) {
		return pbjson_field_error(
		        ps, "expected an enum value name or number");
	}
	if (is_string && memchr(s, '\0', n) == NULL) {
		ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
	}
	if (ev != NULL) {
		*dst = ev->value;
		r = 0;
	} else if (n > 0 && pbjson_number_len(s, n) == n) {
		/* A number, or a string holding one, as protoc accepts. */
		r = pbjson_text_to_int(ps, PROTOBUF_C_TYPE_ENUM, s, n, dst);
	} else {
		pbjson_snip(snip, s, n);
		r = pbjson_field_error(ps, "unknown enum value '%s'", snip);
	}
	free(owned);
	return r;
}

/*
 * pbjson_parse_cstring reads a string into a new C string. protobuf-c
 * strings end at their first NUL, so U+0000 would be silently cut off:
 * it is an error instead.
 */
static int
pbjson_parse_cstring(struct pbjson_parser *ps, char **dst)
{
	char *s;
	size_t n;

	if (pbjson_peek(ps) != '"') {
		return pbjson_field_error(ps, "expected a string");
	}
	if (pbjson_parse_string(ps, &s, &n) != 0) {
		return -1;
	}
	if (memchr(s, '\0', n) != NULL) {
		free(s);
		return pbjson_field_error(
		        ps, "string contains U+0000, which cannot be stored");
	}
	*dst = s;
	return 0;
}

/* pbjson_b64_value maps a standard or URL-safe base64 digit, else -1. */
static int
pbjson_b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+' || c == '-') {
		return 62;
	}
	if (c == '/' || c == '_') {
		return 63;
	}
	return -1;
}

static int
pbjson_parse_bytes(struct pbjson_parser *ps, ProtobufCBinaryData *dst)
{
	char *s;
	size_t n, i, k = 0;
	uint8_t *data = NULL;
	uint32_t acc = 0;

	if (pbjson_peek(ps) != '"') {
		return pbjson_field_error(ps, "expected a base64 string");
	}
	if (pbjson_parse_string(ps, &s, &n) != 0) {
		return -1;
	}
	/* Padding is optional, but when present it completes a quad. */
	if (n > 0 && s[n - 1] == '=') {
		if (n % 4 != 0) {
			goto bad;
		}
		n -= n > 1 && s[n - 2] == '=' ? 2 : 1;
	}
	if (n % 4 == 1) {
		goto bad;
	}
	if (n > 0) {
		data = malloc(n / 4 * 3 + 2);
		if (data == NULL) {
			free(s);
			return pbjson_oom(ps);
		}
	}
	for (i = 0; i < n; i++) {
		int v = pbjson_b64_value(s[i]);

		if (v < 0) {
			goto bad;
		}
		acc = acc << 6 | (uint32_t) v;
		if (i % 4 == 3) {
			data[k++] = (uint8_t) (acc >> 16);
			data[k++] = (uint8_t) (acc >> 8);
			data[k++] = (uint8_t) acc;
			acc = 0;
		}
	}
	if (n % 4 == 2) {
		data[k++] = (uint8_t) (acc >> 4);
	} else if (n % 4 == 3) {
		data[k++] = (uint8_t) (acc >> 10);
		data[k++] = (uint8_t) (acc >> 2);
	}
	free(s);
	dst->data = data;
	dst->len = k;
	return 0;
bad:
	free(s);
	free(data);
	return pbjson_field_error(ps, "invalid base64");
}

static ProtobufCMessage *
pbjson_new_message(const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = malloc(desc->sizeof_message);

	if (m != NULL) {
		protobuf_c_message_init(desc, m);
	}
	return m;
}

static int pbjson_parse_object(struct pbjson_parser *ps,
        const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg);

/*
 * pbjson_parse_value reads one non-null value of type `type` into dst. A
 * message is allocated, initialized and linked into *dst before its
 * members are read, so that a failure inside it leaves nothing unowned.
 */
static int
pbjson_parse_value(struct pbjson_parser *ps, ProtobufCType type,
        const void *tdesc, void *dst)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return pbjson_parse_int(ps, type, dst);
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		return pbjson_parse_real(ps, type, dst);
	case PROTOBUF_C_TYPE_BOOL:
		return pbjson_parse_bool(ps, dst);
	case PROTOBUF_C_TYPE_ENUM:
		return pbjson_parse_enum(ps, tdesc, dst);
	case PROTOBUF_C_TYPE_STRING:
		return pbjson_parse_cstring(ps, dst);
	case PROTOBUF_C_TYPE_BYTES:
		return pbjson_parse_bytes(ps, dst);
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage **pm = dst;

		if (pbjson_peek(ps) != '{') {
			return pbjson_field_error(ps, "expected an object");
		}
		if (*pm == NULL && (*pm = pbjson_new_message(tdesc)) == NULL) {
			return pbjson_oom(ps);
		}
		return pbjson_parse_object(ps, tdesc, *pm);
	}
	}
	return pbjson_field_error(ps, "unsupported field type");
}

/*
 * pbjson_grow makes room for element n of an array of capacity *cap,
 * growing it geometrically, and zeroes that element. Returns the array,
 * moved or not, or NULL (arr itself untouched) when memory is exhausted.
 */
static void *
pbjson_grow(struct pbjson_parser *ps, void *arr, size_t *cap, size_t n,
        size_t size)
{
	if (n == *cap) {
		size_t ncap = *cap == 0 ? 4 : *cap * 2;

		if (ncap > SIZE_MAX / size
		        || (arr = realloc(arr, ncap * size)) == NULL) {
			pbjson_oom(ps);
			return NULL;
		}
		*cap = ncap;
	}
	memset((char *) arr + n * size, 0, size);
	return arr;
}

static int
pbjson_parse_array(struct pbjson_parser *ps, const ProtobufCFieldDescriptor *f,
        ProtobufCMessage *msg)
{
	size_t *n = PBJSON_MEMBER(msg, f->quantifier_offset);
	void **arr = PBJSON_MEMBER(msg, f->offset);
	size_t size = pbjson_type_size(f->type), cap = 0, mark = ps->pathlen;
	void *na;

	if (pbjson_peek(ps) != '[') {
		return pbjson_field_error(ps, "expected an array");
	}
	if (pbjson_enter(ps) != 0) {
		return -1;
	}
	ps->pos++;
	pbjson_ws(ps);
	if (pbjson_peek(ps) == ']') {
		ps->pos++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		pbjson_path_index(ps, *n);
		pbjson_ws(ps);
		if (pbjson_literal(ps, "null")) {
			return pbjson_field_error(
			        ps, "null is not allowed in an array");
		}
		na = pbjson_grow(ps, *arr, &cap, *n, size);
		if (na == NULL) {
			return -1;
		}
		/*
		 * The array stays linked into the message, and the zeroed
		 * element is safe to free, so it is counted before it is read.
		 */
		*arr = na;
		(*n)++;
		if (pbjson_parse_value(ps, f->type, f->descriptor,
		            (char *) *arr + (*n - 1) * size)
		        != 0) {
			return -1;
		}
		pbjson_path_restore(ps, mark);
		pbjson_ws(ps);
		if (pbjson_peek(ps) == ',') {
			ps->pos++;
			continue;
		}
		if (pbjson_peek(ps) == ']') {
			ps->pos++;
			break;
		}
		return pbjson_syntax(ps, "expected ',' or ']'");
	}
	ps->depth--;
	return 0;
}

/* A map key in canonical text, for finding repeated keys by sorting. */
struct pbjson_map_key {
	const char *str; /* the entry's string key, or NULL: see num */
	char num[24];    /* an integer or bool key in canonical form */
};

static int
pbjson_map_key_cmp(const void *a, const void *b)
{
	const struct pbjson_map_key *x = a, *y = b;

	return strcmp(x->str != NULL ? x->str : x->num,
	        y->str != NULL ? y->str : y->num);
}

/*
 * pbjson_check_map_keys reports the first key that occurs twice among the
 * n keys (sorting them, so a hostile map costs n log n, not n^2).
 */
static int
pbjson_check_map_keys(
        struct pbjson_parser *ps, struct pbjson_map_key *keys, size_t n)
{
	char snip[PBJSON_SNIP_MAX];
	size_t i;

	if (n < 2) {
		return 0;
	}
	qsort(keys, n, sizeof(keys[0]), pbjson_map_key_cmp);
	for (i = 1; i < n; i++) {
		if (pbjson_map_key_cmp(&keys[i - 1], &keys[i]) == 0) {
			const char *k = keys[i].str != NULL ? keys[i].str
			                                    : keys[i].num;

			pbjson_snip(snip, k, strlen(k));
			return pbjson_field_error(
			        ps, "duplicate map key '%s'", snip);
		}
	}
	return 0;
}

/*
 * pbjson_parse_map_key converts the JSON object key s[0..n) (owned; this
 * function takes it) to the key field of the map entry e, and records its
 * canonical text in *mk.
 */
static int
pbjson_parse_map_key(struct pbjson_parser *ps,
        const ProtobufCFieldDescriptor *kf, ProtobufCMessage *e, char *s,
        size_t n, struct pbjson_map_key *mk)
{
	void *dst = PBJSON_MEMBER(e, kf->offset);
	char snip[PBJSON_SNIP_MAX];
	int r = 0;

	mk->str = NULL;
	if (kf->type == PROTOBUF_C_TYPE_STRING) {
		if (memchr(s, '\0', n) != NULL) {
			free(s);
			return pbjson_field_error(ps,
			        "map key contains U+0000, which cannot be stored");
		}
		*(char **) dst = s;
		mk->str = s;
		return 0;
	}
	if (kf->type == PROTOBUF_C_TYPE_BOOL) {
		if (strcmp(s, "true") == 0 && n == 4) {
			*(protobuf_c_boolean *) dst = 1;
		} else if (strcmp(s, "false") == 0 && n == 5) {
			*(protobuf_c_boolean *) dst = 0;
		} else {
			pbjson_snip(snip, s, n);
			r = pbjson_field_error(ps,
			        "invalid bool map key '%s': expected \"true\" or \"false\"",
			        snip);
		}
	} else {
		r = pbjson_text_to_int(ps, kf->type, s, n, dst);
	}
	free(s);
	if (r == 0) {
		if (kf->type == PROTOBUF_C_TYPE_BOOL) {
			snprintf(mk->num, sizeof(mk->num), "%s",
			        *(protobuf_c_boolean *) dst ? "true"
			                                    : "false");
		} else {
			pbjson_int_text(
			        kf->type, dst, mk->num, sizeof(mk->num));
		}
	}
	return r;
}

/*
 * pbjson_parse_map reads a JSON object into map field f: one entry message
 * per member, appended (and counted) before its key and value are read.
 */
static int
pbjson_parse_map(struct pbjson_parser *ps, const ProtobufCFieldDescriptor *f,
        ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0];
	const ProtobufCFieldDescriptor *vf = &ed->fields[1];
	size_t *n = PBJSON_MEMBER(msg, f->quantifier_offset);
	ProtobufCMessage ***arr = PBJSON_MEMBER(msg, f->offset);
	struct pbjson_map_key *keys = NULL;
	size_t cap = 0, kcap = 0, mark = ps->pathlen;
	int rc = -1;

	if (pbjson_peek(ps) != '{') {
		return pbjson_field_error(ps, "expected an object");
	}
	if (pbjson_enter(ps) != 0) {
		return -1;
	}
	ps->pos++;
	pbjson_ws(ps);
	if (pbjson_peek(ps) == '}') {
		ps->pos++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		ProtobufCMessage *e;
		char *key;
		size_t keylen;
		void *na;

		pbjson_ws(ps);
		if (pbjson_peek(ps) != '"') {
			pbjson_syntax(ps, "expected a string key");
			goto out;
		}
		if (pbjson_parse_string(ps, &key, &keylen) != 0) {
			goto out;
		}
		pbjson_ws(ps);
		if (pbjson_peek(ps) != ':') {
			free(key);
			pbjson_syntax(ps, "expected ':'");
			goto out;
		}
		ps->pos++;
		pbjson_path_put(ps, "[", 1);
		pbjson_path_put(ps, key, keylen);
		pbjson_path_put(ps, "]", 1);

		na = pbjson_grow(ps, *arr, &cap, *n, sizeof(**arr));
		if (na != NULL) {
			*arr = na;
			na = pbjson_grow(ps, keys, &kcap, *n, sizeof(*keys));
		}
		if (na == NULL) {
			free(key);
			goto out;
		}
		keys = na;
		if ((e = pbjson_new_message(ed)) == NULL) {
			free(key);
			pbjson_oom(ps);
			goto out;
		}
		(*arr)[(*n)++] = e;
		if (pbjson_parse_map_key(ps, kf, e, key, keylen, &keys[*n - 1])
		        != 0) {
			goto out;
		}
		pbjson_ws(ps);
		if (pbjson_literal(ps, "null")) {
			pbjson_field_error(
			        ps, "null is not allowed as a map value");
			goto out;
		}
		if (pbjson_parse_value(ps, vf->type, vf->descriptor,
		            PBJSON_MEMBER(e, vf->offset))
		        != 0) {
			goto out;
		}
		pbjson_path_restore(ps, mark);
		pbjson_ws(ps);
		if (pbjson_peek(ps) == ',') {
			ps->pos++;
			continue;
		}
		if (pbjson_peek(ps) == '}') {
			ps->pos++;
			break;
		}
		pbjson_syntax(ps, "expected ',' or '}'");
		goto out;
	}
	if (pbjson_check_map_keys(ps, keys, *n) != 0) {
		goto out;
	}
	ps->depth--;
	rc = 0;
out:
	free(keys);
	return rc;
}

/*
 * pbjson_find_field looks a member name up as the .proto name (binary
 * search in the descriptor), then as the lowerCamelCase JSON name.
 */
static const ProtobufCFieldDescriptor *
pbjson_find_field(
        const ProtobufCMessageDescriptor *desc, const char *key, size_t n)
{
	const ProtobufCFieldDescriptor *f;
	unsigned i;

	if (memchr(key, '\0', n) != NULL) {
		return NULL;
	}
	f = protobuf_c_message_descriptor_get_field_by_name(desc, key);
	if (f != NULL) {
		return f;
	}
	for (i = 0; i < desc->n_fields; i++) {
		if (camel_prefix(desc->fields[i].name, false, key, n) == n) {
			return &desc->fields[i];
		}
	}
	return NULL;
}

/*
 * pbjson_parse_field reads the value of field f (its name already read) into
 * msg. The oneof case or has_ flag is set before the value is read, so that
 * memory the value receives is always reachable by free_unpacked.
 */
static int
pbjson_parse_field(struct pbjson_parser *ps,
        const ProtobufCMessageDescriptor *desc,
        const ProtobufCFieldDescriptor *f, ProtobufCMessage *msg)
{
	void *q = PBJSON_MEMBER(msg, f->quantifier_offset);

	pbjson_ws(ps);
	if (pbjson_literal(ps, "null")) {
		return 0;
	}
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (pbjson_is_map(desc, f)) {
			return pbjson_parse_map(ps, f, msg);
		}
		return pbjson_parse_array(ps, f, msg);
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t *which = q;

		if (*which != 0 && *which != f->id) {
			const ProtobufCFieldDescriptor *other
			        = protobuf_c_message_descriptor_get_field(
			                desc, *which);
			char name[PBJSON_SNIP_MAX];

			camel_copy(name, sizeof(name),
			        other != NULL ? other->name : "?");
			return pbjson_field_error(ps,
			        "another member of its oneof, '%s', is already set",
			        name);
		}
		*which = f->id;
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL
	        && f->type != PROTOBUF_C_TYPE_STRING
	        && f->type != PROTOBUF_C_TYPE_MESSAGE) {
		*(protobuf_c_boolean *) q = 1;
	}
	return pbjson_parse_value(
	        ps, f->type, f->descriptor, PBJSON_MEMBER(msg, f->offset));
}

/*
 * pbjson_parse_object reads the JSON object at the current position ('{')
 * into msg, an initialized message of type desc.
 */
static int
pbjson_parse_object(struct pbjson_parser *ps,
        const ProtobufCMessageDescriptor *desc, ProtobufCMessage *msg)
{
	size_t mark = ps->pathlen;
	unsigned char *seen;
	unsigned i;
	int rc = -1;

	if (pbjson_enter(ps) != 0) {
		return -1;
	}
	ps->pos++;
	seen = calloc(desc->n_fields / 8 + 1, 1);
	if (seen == NULL) {
		return pbjson_oom(ps);
	}
	pbjson_ws(ps);
	if (pbjson_peek(ps) == '}') {
		ps->pos++;
		goto done;
	}
	for (;;) {
		const ProtobufCFieldDescriptor *f;
		char *key;
		size_t keylen, idx;

		pbjson_ws(ps);
		if (pbjson_peek(ps) != '"') {
			pbjson_syntax(ps, "expected a member name");
			goto out;
		}
		if (pbjson_parse_string(ps, &key, &keylen) != 0) {
			goto out;
		}
		pbjson_ws(ps);
		if (pbjson_peek(ps) != ':') {
			free(key);
			pbjson_syntax(ps, "expected ':'");
			goto out;
		}
		ps->pos++;
		f = pbjson_find_field(desc, key, keylen);
		if (ps->pathlen > 0) {
			pbjson_path_put(ps, ".", 1);
		}
		pbjson_path_put(ps, key, keylen);
		free(key);
		if (f == NULL) {
			pbjson_error(ps, "unknown field '%s'", ps->path);
			goto out;
		}
		idx = (size_t) (f - desc->fields);
		if (seen[idx / 8] & (1u << idx % 8)) {
			pbjson_field_error(ps, "given more than once");
			goto out;
		}
		seen[idx / 8] |= (unsigned char) (1u << idx % 8);
		if (pbjson_parse_field(ps, desc, f, msg) != 0) {
			goto out;
		}
		pbjson_path_restore(ps, mark);
		pbjson_ws(ps);
		if (pbjson_peek(ps) == ',') {
			ps->pos++;
			continue;
		}
		if (pbjson_peek(ps) == '}') {
			ps->pos++;
			break;
		}
		pbjson_syntax(ps, "expected ',' or '}'");
		goto out;
	}
done:
	for (i = 0; i < desc->n_fields; i++) {
		if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED
		        && !(seen[i / 8] & (1u << i % 8))) {
			if (ps->pathlen > 0) {
				pbjson_path_put(ps, ".", 1);
			}
			pbjson_path_put(ps, desc->fields[i].name,
			        strlen(desc->fields[i].name));
			pbjson_field_error(ps, "required field is missing");
			goto out;
		}
	}
	ps->depth--;
	rc = 0;
out:
	free(seen);
	return rc;
}

int
pbjson_parse(const char *text, size_t len,
        const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
        char *err, size_t errlen)
{
	struct pbjson_parser ps;
	ProtobufCMessage *msg;

	memset(&ps, 0, sizeof(ps));
	ps.text = text != NULL ? text : "";
	ps.len = text != NULL ? len : 0;
	ps.err = err;
	ps.errlen = errlen;
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}

	pbjson_ws(&ps);
	if (pbjson_peek(&ps) != '{') {
		return pbjson_syntax(&ps, "expected '{'");
	}
	msg = pbjson_new_message(desc);
	if (msg == NULL) {
		return pbjson_oom(&ps);
	}
	if (pbjson_parse_object(&ps, desc, msg) != 0) {
		goto fail;
	}
	pbjson_ws(&ps);
	if (ps.pos < ps.len) {
		pbjson_syntax(&ps, "unexpected data after the object");
		goto fail;
	}
	*out = msg;
	return 0;
fail:
	protobuf_c_message_free_unpacked(msg, NULL);
	return -1;
}
