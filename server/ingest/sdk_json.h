/*
 * sdk_json: a JSON document as a tree in arena memory, for the SDK
 * payload mapper (docs/ingest.md, "Why a tree of our own").
 *
 * The bytes are read by common/jsonlex.h, the strict lexer under pbjson
 * (UTF-8 checked, surrogates paired, numbers kept as their text), so all
 * of clm's JSON goes through one fuzzed lexer. Every node, string and
 * child array comes from the arena the caller gives, so a budget on that
 * arena (arena_budget) bounds what a body can cost, and arena_reset frees
 * the whole tree at once.
 */
#ifndef CLM_INGEST_SDK_JSON_H
#define CLM_INGEST_SDK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "util/arena.h"

/* Deeper nesting is refused (the parser recurses once per level). */
#define SDK_JSON_MAX_DEPTH 64

enum sdk_json_type {
	SDK_JSON_NULL,
	SDK_JSON_FALSE,
	SDK_JSON_TRUE,
	SDK_JSON_NUMBER, /* s: its text in the body, n bytes, unterminated */
	SDK_JSON_STRING, /* s: decoded, n bytes, NUL-terminated (may hold NUL)
	                  */
	SDK_JSON_ARRAY,  /* kids: n elements */
	SDK_JSON_OBJECT, /* kids: n members, each with its key */
};

struct sdk_json {
	const char
	        *key; /* a member's decoded key, NUL-terminated; else NULL */
	union {
		const char *s;
		struct sdk_json *kids;
	} u;
	uint32_t n;      /* bytes of s, or children */
	uint32_t keylen; /* bytes of key */
	uint32_t span;   /* bytes of the value's text in the body */
	uint8_t type;    /* enum sdk_json_type */
};

/*
 * sdk_json_parse reads the one JSON value that text[0..len) holds (with
 * whitespace around it) into *out, in a's memory. Returns CLM_OK;
 * CLM_INVALID_ARGUMENT with "invalid JSON at offset N: why" in err (also
 * for nesting deeper than SDK_JSON_MAX_DEPTH and a body of 4 GiB or
 * more); or CLM_RESOURCE_EXHAUSTED when a ran out of memory or budget.
 * The tree borrows number texts from text, which must outlive it.
 */
clm_err sdk_json_parse(const char *text, size_t len, arena *a,
        struct sdk_json **out, char *err, size_t errlen);

/*
 * sdk_json_get returns the member key of object o (the last one when the
 * key repeats, as JavaScript reads JSON), or NULL when o is NULL, not an
 * object, or has no such member.
 */
const struct sdk_json *sdk_json_get(const struct sdk_json *o, const char *key);

/*
 * sdk_json_str returns v's text when v is a string, else NULL; NULL too
 * for a string holding a NUL character (from \u0000), which no C string
 * can carry whole.
 */
const char *sdk_json_str(const struct sdk_json *v);

/*
 * sdk_json_double reads v as a number: a JSON number, or a string holding
 * one in JSON's grammar ("19.99"), as SDK users send both. Returns true and
 * *out when v is one and finite, else false.
 */
bool sdk_json_double(const struct sdk_json *v, double *out);

#endif /* CLM_INGEST_SDK_JSON_H */
