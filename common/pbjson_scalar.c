/*
 * pbjson: reading scalar values (integers, floating point, bools, enums,
 * strings, bytes) into fields, for the parser in pbjson_parse.c (see
 * pbjson.c for the design). Each reads one JSON value at the parser's
 * position and stores it at dst, or reports an error against the field
 * path and leaves dst as it was.
 */
#include "pbjson_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"

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

int
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

int
pbjson_parse_scalar(struct pbjson_parser *ps, ProtobufCType type,
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
	default:
		break;
	}
	return pbjson_field_error(ps, "unsupported field type");
}
