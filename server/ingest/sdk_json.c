#include "ingest/sdk_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlex.h"

struct sdk_json_parser {
	struct jsonlex lx;
	arena *a;
	const char *what; /* a syntax error of our own, or NULL: lx.what */
};

static clm_err sdk_json_value(
        struct sdk_json_parser *p, struct sdk_json *v, int depth);

/* Copies the string at the lexer into arena memory (jsonlex mallocs it). */
static clm_err
sdk_json_string(struct sdk_json_parser *p, const char **s, uint32_t *n)
{
	char *tmp;
	size_t tn;
	clm_err e = jsonlex_string(&p->lx, &tmp, &tn);
	if (e != CLM_OK) {
		return e;
	}
	char *copy = arena_alloc(p->a, tn + 1);
	if (copy == NULL) {
		free(tmp);
		return CLM_RESOURCE_EXHAUSTED;
	}
	memcpy(copy, tmp, tn + 1);
	free(tmp);
	*s = copy;
	*n = (uint32_t) tn;
	return CLM_OK;
}

/*
 * Makes room for child n of a container. Children start at 4 and double,
 * rather than arena_grow's 16, because SDK bodies hold many small
 * objects and the arena's budget is counted per byte of body.
 */
static struct sdk_json *
sdk_json_grow(arena *a, struct sdk_json *kids, uint32_t n, uint32_t *cap)
{
	if (n < *cap) {
		return kids;
	}
	uint32_t ncap = *cap == 0 ? 4 : *cap * 2;
	struct sdk_json *k = arena_alloc(a, (size_t) ncap * sizeof(*k));
	if (k == NULL) {
		return NULL;
	}
	if (n > 0) {
		memcpy(k, kids, (size_t) n * sizeof(*k));
	}
	*cap = ncap;
	return k;
}

/* Reads the elements (or members) of the container whose opener is next. */
static clm_err
sdk_json_container(struct sdk_json_parser *p, struct sdk_json *v, int depth)
{
	bool object = jsonlex_peek(&p->lx) == '{';
	char close = object ? '}' : ']';
	uint32_t n = 0, cap = 0;
	struct sdk_json *kids = NULL;

	if (depth >= SDK_JSON_MAX_DEPTH) {
		p->what = "nested deeper than 64 levels";
		return CLM_INVALID_ARGUMENT;
	}
	p->lx.pos++;
	jsonlex_ws(&p->lx);
	if (!jsonlex_eat(&p->lx, close)) {
		for (;;) {
			kids = sdk_json_grow(p->a, kids, n, &cap);
			if (kids == NULL) {
				return CLM_RESOURCE_EXHAUSTED;
			}
			struct sdk_json *k = &kids[n];
			memset(k, 0, sizeof(*k));
			if (object) {
				if (jsonlex_peek(&p->lx) != '"') {
					p->what = "expected a string key";
					return CLM_INVALID_ARGUMENT;
				}
				clm_err e = sdk_json_string(
				        p, &k->key, &k->keylen);
				if (e != CLM_OK) {
					return e;
				}
				jsonlex_ws(&p->lx);
				if (!jsonlex_eat(&p->lx, ':')) {
					p->what = "expected ':'";
					return CLM_INVALID_ARGUMENT;
				}
				jsonlex_ws(&p->lx);
			}
			clm_err e = sdk_json_value(p, k, depth + 1);
			if (e != CLM_OK) {
				return e;
			}
			n++;
			jsonlex_ws(&p->lx);
			if (jsonlex_eat(&p->lx, close)) {
				break;
			}
			if (!jsonlex_eat(&p->lx, ',')) {
				p->what = object ? "expected ',' or '}'"
				                 : "expected ',' or ']'";
				return CLM_INVALID_ARGUMENT;
			}
			jsonlex_ws(&p->lx);
		}
	}
	v->type = object ? SDK_JSON_OBJECT : SDK_JSON_ARRAY;
	v->u.kids = kids;
	v->n = n;
	return CLM_OK;
}

/* Reads the value that starts at the lexer (whitespace skipped) into v. */
static clm_err
sdk_json_value(struct sdk_json_parser *p, struct sdk_json *v, int depth)
{
	size_t start = p->lx.pos;
	clm_err e = CLM_OK;
	int c = jsonlex_peek(&p->lx);

	if (c == '{' || c == '[') {
		e = sdk_json_container(p, v, depth);
	} else if (c == '"') {
		v->type = SDK_JSON_STRING;
		e = sdk_json_string(p, &v->u.s, &v->n);
	} else if (jsonlex_literal(&p->lx, "null")) {
		v->type = SDK_JSON_NULL;
	} else if (jsonlex_literal(&p->lx, "true")) {
		v->type = SDK_JSON_TRUE;
	} else if (jsonlex_literal(&p->lx, "false")) {
		v->type = SDK_JSON_FALSE;
	} else {
		size_t n = jsonlex_number_len(
		        p->lx.text + start, p->lx.len - start);
		if (n == 0) {
			p->what = c < 0 ? "unexpected end"
			                : "expected a value";
			return CLM_INVALID_ARGUMENT;
		}
		v->type = SDK_JSON_NUMBER;
		v->u.s = p->lx.text + start;
		v->n = (uint32_t) n;
		p->lx.pos += n;
	}
	if (e == CLM_OK) {
		v->span = (uint32_t) (p->lx.pos - start);
	}
	return e;
}

clm_err
sdk_json_parse(const char *text, size_t len, arena *a, struct sdk_json **out,
        char *err, size_t errlen)
{
	struct sdk_json_parser p = { .a = a };
	struct sdk_json *root;
	clm_err e;

	if (len >= UINT32_MAX) {
		snprintf(err, errlen, "invalid JSON: body of %zu bytes", len);
		return CLM_INVALID_ARGUMENT;
	}
	root = arena_zalloc(a, sizeof(*root));
	if (root == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	jsonlex_init(&p.lx, text, len);
	jsonlex_ws(&p.lx);
	e = sdk_json_value(&p, root, 0);
	if (e == CLM_OK) {
		jsonlex_ws(&p.lx);
		if (p.lx.pos != len) {
			p.what = "text after the value";
			e = CLM_INVALID_ARGUMENT;
		}
	}
	if (e == CLM_INVALID_ARGUMENT) {
		snprintf(err, errlen, "invalid JSON at offset %zu: %s",
		        p.lx.pos, p.what != NULL ? p.what : p.lx.what);
		return e;
	}
	if (e != CLM_OK) {
		return e;
	}
	*out = root;
	return CLM_OK;
}

const struct sdk_json *
sdk_json_get(const struct sdk_json *o, const char *key)
{
	if (o == NULL || o->type != SDK_JSON_OBJECT) {
		return NULL;
	}
	size_t kn = strlen(key);
	for (uint32_t i = o->n; i-- > 0;) {
		const struct sdk_json *k = &o->u.kids[i];
		if (k->keylen == kn && memcmp(k->key, key, kn) == 0) {
			return k;
		}
	}
	return NULL;
}

const char *
sdk_json_str(const struct sdk_json *v)
{
	if (v == NULL || v->type != SDK_JSON_STRING
	        || strlen(v->u.s) != v->n) {
		return NULL;
	}
	return v->u.s;
}

bool
sdk_json_double(const struct sdk_json *v, double *out)
{
	char buf[64];
	const char *s;
	size_t n;

	if (v == NULL
	        || (v->type != SDK_JSON_NUMBER
	                && v->type != SDK_JSON_STRING)) {
		return false;
	}
	s = v->u.s;
	n = v->n;
	/* A string must hold a JSON number whole; longer texts are no money.
	 */
	if (n == 0 || n >= sizeof(buf) || jsonlex_number_len(s, n) != n) {
		return false;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	double d = strtod(buf, NULL);
	if (!isfinite(d)) {
		return false;
	}
	*out = d;
	return true;
}
