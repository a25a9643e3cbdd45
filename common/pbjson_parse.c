/*
 * pbjson: parsing (see pbjson.c for the design): the parser's state and
 * errors, and messages, fields, arrays and maps. Scalar values are read in
 * pbjson_scalar.c, tokens in jsonlex.c.
 */
#include "pbjson_internal.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camel.h"
#include "jsonlex.h"

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

int
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

int
pbjson_oom(struct pbjson_parser *ps)
{
	return pbjson_error(ps, "out of memory");
}

void
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

int
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

int
pbjson_parse_string(struct pbjson_parser *ps, char **out, size_t *outlen)
{
	return pbjson_lexed(ps, jsonlex_string(&ps->lx, out, outlen));
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
	ProtobufCMessage **pm = dst;

	if (type != PROTOBUF_C_TYPE_MESSAGE) {
		return pbjson_parse_scalar(ps, type, tdesc, dst);
	}
	if (jsonlex_peek(&ps->lx) != '{') {
		return pbjson_field_error(ps, "expected an object");
	}
	if (*pm == NULL && (*pm = pbjson_new_message(tdesc)) == NULL) {
		return pbjson_oom(ps);
	}
	return pbjson_parse_object(ps, tdesc, *pm);
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
