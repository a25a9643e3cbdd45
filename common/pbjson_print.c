/* pbjson: printing (see pbjson.c for the design). */
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
#include "jsonstr.h"

/*
 * Printing.
 */

struct pbjson_printer {
	char *buf;
	size_t len;
	size_t cap;
	bool oom; /* an append failed: buf is incomplete */
	bool pretty;
	unsigned indent;
};

static void
pbjson_put(struct pbjson_printer *pr, const char *s, size_t n)
{
	if (pr->oom) {
		return;
	}
	if (n >= pr->cap - pr->len) {
		size_t cap = pr->cap;
		char *nb;

		while (n >= cap - pr->len) {
			if (cap > SIZE_MAX / 2) {
				pr->oom = true;
				return;
			}
			cap *= 2;
		}
		nb = realloc(pr->buf, cap);
		if (nb == NULL) {
			pr->oom = true;
			return;
		}
		pr->buf = nb;
		pr->cap = cap;
	}
	memcpy(pr->buf + pr->len, s, n);
	pr->len += n;
	pr->buf[pr->len] = '\0';
}

static void
pbjson_puts(struct pbjson_printer *pr, const char *s)
{
	pbjson_put(pr, s, strlen(s));
}

/* pbjson_newline starts a line at the current indent when pretty. */
static void
pbjson_newline(struct pbjson_printer *pr)
{
	unsigned i;

	if (!pr->pretty) {
		return;
	}
	pbjson_put(pr, "\n", 1);
	for (i = 0; i < pr->indent; i++) {
		pbjson_put(pr, "  ", 2);
	}
}

/* pbjson_put_fn is pbjson_put as a jsonstr_put_fn. */
static void
pbjson_put_fn(void *pr, const char *s, size_t n)
{
	pbjson_put(pr, s, n);
}

/*
 * pbjson_print_string writes s[0..n) as a JSON string, escaped as protoc's
 * JsonFormat does. Invalid UTF-8 becomes U+FFFD, so that the output is
 * valid JSON whatever the field holds.
 */
static void
pbjson_print_string(struct pbjson_printer *pr, const char *s, size_t n)
{
	jsonstr_write(s, n, JSONSTR_SHORT_ESCAPES | JSONSTR_ESCAPE_DEL,
	        pbjson_put_fn, pr);
}

static void
pbjson_print_bytes(struct pbjson_printer *pr, const ProtobufCBinaryData *b)
{
	static const char abc[]
	        = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	pbjson_put(pr, "\"", 1);
	for (i = 0; i + 2 < b->len; i += 3) {
		uint32_t v = (uint32_t) b->data[i] << 16
		        | (uint32_t) b->data[i + 1] << 8 | b->data[i + 2];
		char q[4] = { abc[v >> 18], abc[(v >> 12) & 63],
			abc[(v >> 6) & 63], abc[v & 63] };

		pbjson_put(pr, q, 4);
	}
	if (i < b->len) {
		uint32_t v = (uint32_t) b->data[i] << 16;
		char q[4];

		if (i + 1 < b->len) {
			v |= (uint32_t) b->data[i + 1] << 8;
		}
		q[0] = abc[v >> 18];
		q[1] = abc[(v >> 12) & 63];
		q[2] = i + 1 < b->len ? abc[(v >> 6) & 63] : '=';
		q[3] = '=';
		pbjson_put(pr, q, 4);
	}
	pbjson_put(pr, "\"", 1);
}

/*
 * Floating point follows protoc (SimpleDtoa/SimpleFtoa): the short form when
 * it reads back exactly, else the long one, which always does.
 */
static void
pbjson_print_real(struct pbjson_printer *pr, double d, bool is_float)
{
	char buf[40];

	if (isnan(d)) {
		pbjson_puts(pr, "\"NaN\"");
		return;
	}
	if (isinf(d)) {
		pbjson_puts(pr, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	if (is_float) {
		snprintf(buf, sizeof(buf), "%.*g", FLT_DIG, d);
		if (strtof(buf, NULL) != (float) d) {
			snprintf(buf, sizeof(buf), "%.9g", d);
		}
	} else {
		snprintf(buf, sizeof(buf), "%.*g", DBL_DIG, d);
		if (strtod(buf, NULL) != d) {
			snprintf(buf, sizeof(buf), "%.17g", d);
		}
	}
	pbjson_puts(pr, buf);
}

static void pbjson_print_message(
        struct pbjson_printer *pr, const ProtobufCMessage *msg);

/* pbjson_print_value writes one value of a type at m (not a whole field). */
static void
pbjson_print_value(struct pbjson_printer *pr, ProtobufCType type,
        const void *tdesc, const void *m)
{
	char buf[32];
	int bits = pbjson_int_bits(type);

	if (bits != 0) {
		/* 64-bit integers are strings, as proto3 JSON has them. */
		pbjson_puts(pr, bits == 64 ? "\"" : "");
		pbjson_puts(pr, pbjson_int_text(type, m, buf, sizeof(buf)));
		pbjson_puts(pr, bits == 64 ? "\"" : "");
		return;
	}
	switch (type) {
	case PROTOBUF_C_TYPE_FLOAT:
		pbjson_print_real(pr, *(const float *) m, true);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		pbjson_print_real(pr, *(const double *) m, false);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		pbjson_puts(pr,
		        *(const protobuf_c_boolean *) m ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t v = *(const int32_t *) m;
		const ProtobufCEnumValue *ev
		        = protobuf_c_enum_descriptor_get_value(tdesc, v);

		if (ev != NULL) {
			pbjson_print_string(pr, ev->name, strlen(ev->name));
		} else {
			snprintf(buf, sizeof(buf), "%" PRId32, v);
			pbjson_puts(pr, buf);
		}
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) m;

		if (s == NULL) {
			s = "";
		}
		pbjson_print_string(pr, s, strlen(s));
		break;
	}
	case PROTOBUF_C_TYPE_BYTES:
		pbjson_print_bytes(pr, m);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *) m;

		if (sub == NULL) {
			pbjson_puts(pr, "{}");
		} else {
			pbjson_print_message(pr, sub);
		}
		break;
	}
	default:
		break;
	}
}

/*
 * pbjson_print_map writes a map field's n entries as one JSON object in
 * their order. Keys become strings whatever their type.
 */
static void
pbjson_print_map(struct pbjson_printer *pr, const ProtobufCFieldDescriptor *f,
        ProtobufCMessage *const *entries, size_t n)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0];
	const ProtobufCFieldDescriptor *vf = &ed->fields[1];
	bool first = true;
	size_t i;

	pbjson_put(pr, "{", 1);
	pr->indent++;
	for (i = 0; i < n; i++) {
		const ProtobufCMessage *e = entries[i];
		const void *k;
		char buf[32];

		if (e == NULL) {
			continue;
		}
		if (!first) {
			pbjson_put(pr, ",", 1);
		}
		first = false;
		pbjson_newline(pr);
		k = PBJSON_CMEMBER(e, kf->offset);
		if (kf->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(char *const *) k;

			if (s == NULL) {
				s = "";
			}
			pbjson_print_string(pr, s, strlen(s));
		} else if (kf->type == PROTOBUF_C_TYPE_BOOL) {
			pbjson_puts(pr,
			        *(const protobuf_c_boolean *) k ? "\"true\""
			                                        : "\"false\"");
		} else {
			pbjson_put(pr, "\"", 1);
			pbjson_puts(pr,
			        pbjson_int_text(
			                kf->type, k, buf, sizeof(buf)));
			pbjson_put(pr, "\"", 1);
		}
		pbjson_puts(pr, pr->pretty ? ": " : ":");
		pbjson_print_value(pr, vf->type, vf->descriptor,
		        PBJSON_CMEMBER(e, vf->offset));
	}
	pr->indent--;
	if (!first) {
		pbjson_newline(pr);
	}
	pbjson_put(pr, "}", 1);
}

/*
 * pbjson_is_default tells whether a proto3 field without presence holds its
 * default and so is left out. A negative zero is not the default: its bits
 * differ, as protoc sees it.
 */
static bool
pbjson_is_default(ProtobufCType type, const void *m)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *) m == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *) m == 0 && !signbit(*(const float *) m);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *) m == 0
		        && !signbit(*(const double *) m);
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *) m == 0;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) m;

		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *) m)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *) m == NULL;
	default:
		return *(const uint32_t *) m == 0;
	}
}

/*
 * pbjson_is_present tells whether field f of msg is printed. The rules are
 * those protobuf-c's packer uses to decide what goes on the wire.
 */
static bool
pbjson_is_present(
        const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const void *m = PBJSON_CMEMBER(msg, f->offset);
	const void *q = PBJSON_CMEMBER(msg, f->quantifier_offset);

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		return *(const size_t *) q > 0;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		return *(const uint32_t *) q == f->id;
	}
	switch (f->label) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return true;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (f->type == PROTOBUF_C_TYPE_STRING
		        || f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const void *p = *(const void *const *) m;

			return p != NULL && p != f->default_value;
		}
		return *(const protobuf_c_boolean *) q != 0;
	default:
		return !pbjson_is_default(f->type, m);
	}
}

static void
pbjson_print_message(struct pbjson_printer *pr, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	bool first = true;
	unsigned i;

	pbjson_put(pr, "{", 1);
	pr->indent++;
	for (i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const void *m = PBJSON_CMEMBER(msg, f->offset);
		struct camel name;
		char ch;

		if (!pbjson_is_present(msg, f)) {
			continue;
		}
		if (!first) {
			pbjson_put(pr, ",", 1);
		}
		first = false;
		pbjson_newline(pr);

		/* The name in lowerCamelCase (the JSON name). */
		pbjson_put(pr, "\"", 1);
		camel_init(&name, f->name, false);
		while ((ch = camel_next(&name)) != '\0') {
			pbjson_put(pr, &ch, 1);
		}
		pbjson_puts(pr, pr->pretty ? "\": " : "\":");

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *) PBJSON_CMEMBER(
			        msg, f->quantifier_offset);
			const char *arr = *(char *const *) m;
			size_t size = pbjson_type_size(f->type), j;

			if (pbjson_is_map(desc, f)) {
				pbjson_print_map(pr, f,
				        (ProtobufCMessage *const *) arr, n);
				continue;
			}
			pbjson_put(pr, "[", 1);
			pr->indent++;
			for (j = 0; j < n; j++) {
				if (j > 0) {
					pbjson_put(pr, ",", 1);
				}
				pbjson_newline(pr);
				pbjson_print_value(pr, f->type, f->descriptor,
				        arr + j * size);
			}
			pr->indent--;
			pbjson_newline(pr);
			pbjson_put(pr, "]", 1);
		} else {
			pbjson_print_value(pr, f->type, f->descriptor, m);
		}
	}
	pr->indent--;
	if (!first) {
		pbjson_newline(pr);
	}
	pbjson_put(pr, "}", 1);
}

int
pbjson_print(const ProtobufCMessage *msg, unsigned flags, char **out)
{
	struct pbjson_printer pr = { 0 };

	pr.cap = 256;
	pr.buf = malloc(pr.cap);
	if (pr.buf == NULL) {
		return -1;
	}
	pr.buf[0] = '\0';
	pr.pretty = (flags & PBJSON_PRETTY) != 0;
	pbjson_print_message(&pr, msg);
	if (pr.oom) {
		free(pr.buf);
		return -1;
	}
	*out = pr.buf;
	return 0;
}
