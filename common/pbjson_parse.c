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
#include "jsonlex.h"

/*
 * Parsing.
 */

struct pbjson_parser {
	struct jsonlex lx; /* the input and the position in it */
	unsigned depth;    /* objects and arrays open */
	char *err;         /* caller's buffer, errlen bytes */
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
	if (ps->lx.pos >= ps->lx.len) {
		what = "unexpected end of input";
	}
	return pbjson_error(
	        ps, "invalid JSON at offset %zu: %s", ps->lx.pos, what);
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

/* pbjson_path_member appends the member name s[0..n): "a" or "x.a". */
static void
pbjson_path_member(struct pbjson_parser *ps, const char *s, size_t n)
{
	if (ps->pathlen > 0) {
		pbjson_path_put(ps, ".", 1);
	}
	pbjson_path_put(ps, s, n);
}

static int
pbjson_enter(struct pbjson_parser *ps)
{
	if (ps->depth >= PBJSON_MAX_DEPTH) {
		return pbjson_error(ps,
		        "invalid JSON at offset %zu: nesting deeper than %d levels",
		        ps->lx.pos, PBJSON_MAX_DEPTH);
	}
	ps->depth++;
	return 0;
}

/*
 * pbjson_open enters the object or array whose opening bracket is next.
 * Returns 1 when it is empty (its closing bracket, close, read too), 0 when
 * members follow, or -1 when it nests too deep. Unless it failed, the
 * caller leaves it with ps->depth--.
 */
static int
pbjson_open(struct pbjson_parser *ps, char close)
{
	if (pbjson_enter(ps) != 0) {
		return -1;
	}
	ps->lx.pos++;
	jsonlex_ws(&ps->lx);
	return jsonlex_eat(&ps->lx, close) ? 1 : 0;
}

/*
 * pbjson_next reads what follows a member or an element: returns 0 after
 * a ',' (another one comes), 1 after close (the end), or -1.
 */
static int
pbjson_next(struct pbjson_parser *ps, char close)
{
	jsonlex_ws(&ps->lx);
	if (jsonlex_eat(&ps->lx, ',')) {
		return 0;
	}
	if (jsonlex_eat(&ps->lx, close)) {
		return 1;
	}
	return pbjson_syntax(ps,
	        close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
}

/*
 * pbjson_lexed turns a jsonlex result into the parser's: 0, or -1 with the
 * error reported (a syntax error where the lexer stopped, or out of memory).
 */
static int
pbjson_lexed(struct pbjson_parser *ps, clm_err e)
{
	if (e == CLM_OK) {
		return 0;
	}
	if (e == CLM_RESOURCE_EXHAUSTED) {
		return pbjson_oom(ps);
	}
	return pbjson_syntax(ps, ps->lx.what);
}

/* pbjson_parse_string is jsonlex_string, reporting its errors. */
static int
pbjson_parse_string(struct pbjson_parser *ps, char **out, size_t *outlen)
{
	return pbjson_lexed(ps, jsonlex_string(&ps->lx, out, outlen));
}

/*
 * pbjson_scalar_text is jsonlex_scalar, reporting its errors; when the
 * next value is neither a string nor a number, the error is the field's
 * `expected`. Returns 0 or -1.
 */
static int
pbjson_scalar_text(
        struct pbjson_parser *ps, const char *expected, struct jsonlex_text *t)
{
	clm_err e = jsonlex_scalar(&ps->lx, t);

	if (e == CLM_NOT_FOUND) {
		return pbjson_field_error(ps, "%s", expected);
	}
	return pbjson_lexed(ps, e);
}

/*
 * pbjson_member_name reads a member's name, a string, and the ':' after it
 * into a new buffer *key of *keylen bytes (the caller frees it); what is
 * the syntax error when no string comes.
 */
static int
pbjson_member_name(
        struct pbjson_parser *ps, const char *what, char **key, size_t *keylen)
{
	char *k;
	size_t n;

	jsonlex_ws(&ps->lx);
	if (jsonlex_peek(&ps->lx) != '"') {
		return pbjson_syntax(ps, what);
	}
	if (pbjson_parse_string(ps, &k, &n) != 0) {
		return -1;
	}
	jsonlex_ws(&ps->lx);
	if (!jsonlex_eat(&ps->lx, ':')) {
		free(k);
		return pbjson_syntax(ps, "expected ':'");
	}
	*key = k;
	*keylen = n;
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
	if (pbjson_int_bits(type) == 64) {
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
	clm_err e;

	pbjson_snip(snip, s, n);
	if (n == 0 || jsonlex_number_len(s, n) != n) {
		return pbjson_field_error(
		        ps, "invalid %s '%s'", pbjson_type_name(type), snip);
	}
	e = jsonlex_int(s, n, &neg, &mag);
	if (e == CLM_INVALID_ARGUMENT) {
		return pbjson_field_error(
		        ps, "expected an integer, got '%s'", snip);
	}
	if (e != CLM_OK || !pbjson_store_int(type, neg, mag, dst)) {
		return pbjson_field_error(ps, "value '%s' out of range for %s",
		        snip, pbjson_type_name(type));
	}
	return 0;
}

static int
pbjson_parse_int(struct pbjson_parser *ps, ProtobufCType type, void *dst)
{
	struct jsonlex_text t;
	int r;

	if (pbjson_scalar_text(ps, "expected an integer", &t) != 0) {
		return -1;
	}
	r = pbjson_text_to_int(ps, type, t.s, t.n, dst);
	free(t.owned);
	return r;
}

static int
pbjson_parse_real(struct pbjson_parser *ps, ProtobufCType type, void *dst)
{
	bool is_float = type == PROTOBUF_C_TYPE_FLOAT;
	char local[64], snip[PBJSON_SNIP_MAX], *z = NULL;
	struct jsonlex_text t;
	double d;
	int r;

	if (pbjson_scalar_text(ps, "expected a number", &t) != 0) {
		return -1;
	}
	if (t.is_string && strcmp(t.s, "NaN") == 0 && t.n == 3) {
		d = NAN;
	} else if (t.is_string && strcmp(t.s, "Infinity") == 0 && t.n == 8) {
		d = INFINITY;
	} else if (t.is_string && strcmp(t.s, "-Infinity") == 0 && t.n == 9) {
		d = -INFINITY;
	} else {
		pbjson_snip(snip, t.s, t.n);
		if (t.n == 0 || jsonlex_number_len(t.s, t.n) != t.n) {
			free(t.owned);
			return pbjson_field_error(
			        ps, "expected a number, got '%s'", snip);
		}
		/* strtod needs a terminated copy of a number in the input. */
		if (t.is_string) {
			z = t.owned;
		} else if (t.n < sizeof(local)) {
			z = local;
		} else if ((z = malloc(t.n + 1)) == NULL) {
			return pbjson_oom(ps);
		}
		if (z != t.owned) {
			memcpy(z, t.s, t.n);
			z[t.n] = '\0';
		}
		errno = 0;
		d = is_float ? strtof(z, NULL) : strtod(z, NULL);
		r = errno == ERANGE && isinf(d);
		if (z != local && z != t.owned) {
			free(z);
		}
		if (r) {
			free(t.owned);
			return pbjson_field_error(ps,
			        "value '%s' out of range for %s", snip,
			        pbjson_type_name(type));
		}
	}
	free(t.owned);
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
	if (jsonlex_literal(&ps->lx, "true")) {
		*dst = 1;
		return 0;
	}
	if (jsonlex_literal(&ps->lx, "false")) {
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
	char snip[PBJSON_SNIP_MAX];
	struct jsonlex_text t;
	int r;

	if (pbjson_scalar_text(ps, "expected an enum value name or number", &t)
	        != 0) {
		return -1;
	}
	if (t.is_string && memchr(t.s, '\0', t.n) == NULL) {
		ev = protobuf_c_enum_descriptor_get_value_by_name(ed, t.s);
	}
	if (ev != NULL) {
		*dst = ev->value;
		r = 0;
	} else if (t.n > 0 && jsonlex_number_len(t.s, t.n) == t.n) {
		/* A number, or a string holding one, as protoc accepts. */
		r = pbjson_text_to_int(
		        ps, PROTOBUF_C_TYPE_ENUM, t.s, t.n, dst);
	} else {
		pbjson_snip(snip, t.s, t.n);
		r = pbjson_field_error(ps, "unknown enum value '%s'", snip);
	}
	free(t.owned);
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

	if (jsonlex_peek(&ps->lx) != '"') {
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

	if (jsonlex_peek(&ps->lx) != '"') {
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
	if (pbjson_int_bits(type) != 0) {
		return pbjson_parse_int(ps, type, dst);
	}
	switch (type) {
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

		if (jsonlex_peek(&ps->lx) != '{') {
			return pbjson_field_error(ps, "expected an object");
		}
		if (*pm == NULL && (*pm = pbjson_new_message(tdesc)) == NULL) {
			return pbjson_oom(ps);
		}
		return pbjson_parse_object(ps, tdesc, *pm);
	}
	default:
		break;
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
	int r;

	if (jsonlex_peek(&ps->lx) != '[') {
		return pbjson_field_error(ps, "expected an array");
	}
	for (r = pbjson_open(ps, ']'); r == 0; r = pbjson_next(ps, ']')) {
		pbjson_path_index(ps, *n);
		jsonlex_ws(&ps->lx);
		if (jsonlex_literal(&ps->lx, "null")) {
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
	}
	if (r < 0) {
		return -1;
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
	int r, rc = -1;

	if (jsonlex_peek(&ps->lx) != '{') {
		return pbjson_field_error(ps, "expected an object");
	}
	for (r = pbjson_open(ps, '}'); r == 0; r = pbjson_next(ps, '}')) {
		ProtobufCMessage *e;
		char *key;
		size_t keylen;
		void *na;

		if (pbjson_member_name(
		            ps, "expected a string key", &key, &keylen)
		        != 0) {
			goto out;
		}
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
		jsonlex_ws(&ps->lx);
		if (jsonlex_literal(&ps->lx, "null")) {
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
	}
	if (r < 0 || pbjson_check_map_keys(ps, keys, *n) != 0) {
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

	jsonlex_ws(&ps->lx);
	if (jsonlex_literal(&ps->lx, "null")) {
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
	int r, rc = -1;

	r = pbjson_open(ps, '}');
	if (r < 0) {
		return -1;
	}
	seen = calloc(desc->n_fields / 8 + 1, 1);
	if (seen == NULL) {
		return pbjson_oom(ps);
	}
	for (; r == 0; r = pbjson_next(ps, '}')) {
		const ProtobufCFieldDescriptor *f;
		char *key;
		size_t keylen, idx;

		if (pbjson_member_name(
		            ps, "expected a member name", &key, &keylen)
		        != 0) {
			goto out;
		}
		f = pbjson_find_field(desc, key, keylen);
		pbjson_path_member(ps, key, keylen);
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
	}
	if (r < 0) {
		goto out;
	}
	for (i = 0; i < desc->n_fields; i++) {
		if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED
		        && !(seen[i / 8] & (1u << i % 8))) {
			pbjson_path_member(ps, desc->fields[i].name,
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
	jsonlex_init(&ps.lx, text != NULL ? text : "", text != NULL ? len : 0);
	ps.err = err;
	ps.errlen = errlen;
	if (err != NULL && errlen > 0) {
		err[0] = '\0';
	}

	jsonlex_ws(&ps.lx);
	if (jsonlex_peek(&ps.lx) != '{') {
		return pbjson_syntax(&ps, "expected '{'");
	}
	msg = pbjson_new_message(desc);
	if (msg == NULL) {
		return pbjson_oom(&ps);
	}
	if (pbjson_parse_object(&ps, desc, msg) != 0) {
		goto fail;
	}
	jsonlex_ws(&ps.lx);
	if (ps.lx.pos < ps.lx.len) {
		pbjson_syntax(&ps, "unexpected data after the object");
		goto fail;
	}
	*out = msg;
	return 0;
fail:
	protobuf_c_message_free_unpacked(msg, NULL);
	return -1;
}
