/*
 * pbjson_internal: what pbjson.c, pbjson_print.c, pbjson_parse.c and
 * pbjson_scalar.c share. Not part of the pbjson API.
 */
#ifndef CLM_PBJSON_INTERNAL_H
#define CLM_PBJSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonlex.h"
#include "pbjson.h"

#define PBJSON_MEMBER(msg, off) ((void *) ((char *) (msg) + (off)))
#define PBJSON_CMEMBER(msg, off) \
	((const void *) ((const char *) (msg) + (off)))

/*
 * Longest field path kept for error messages; longer ones end in "...".
 * Small enough that a whole message fits a 256-byte buffer.
 */
#define PBJSON_PATH_MAX 128

/* Longest user-supplied value quoted in an error message. */
#define PBJSON_SNIP_MAX 48

bool pbjson_is_map(const ProtobufCMessageDescriptor *parent,
        const ProtobufCFieldDescriptor *f);
int pbjson_int_bits(ProtobufCType type);
size_t pbjson_type_size(ProtobufCType type);
const char *pbjson_type_name(ProtobufCType type);
const char *pbjson_int_text(
        ProtobufCType type, const void *m, char *buf, size_t size);

/*
 * Parsing: the parser's state, and what pbjson_parse.c (messages, fields,
 * arrays, maps) and pbjson_scalar.c (scalar values) call in each other.
 * Functions that return int return 0, or -1 after reporting the error:
 * only the first error of a parse is kept, so that the message describes
 * the cause rather than its consequences.
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
 * pbjson_field_error reports the printf-formatted message about the value
 * being read, prefixed with its field path: "field 'location.lat': ...".
 */
int pbjson_field_error(struct pbjson_parser *ps, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* pbjson_oom reports that memory ran out. */
int pbjson_oom(struct pbjson_parser *ps);

/*
 * pbjson_lexed turns a jsonlex result into the parser's: 0, or -1 with the
 * error reported (a syntax error where the lexer stopped, or out of memory).
 */
int pbjson_lexed(struct pbjson_parser *ps, clm_err e);

/*
 * pbjson_parse_string is jsonlex_string, reporting its errors: the string
 * that comes next, decoded into a new buffer *out (*outlen bytes, NULs
 * included) that the caller frees.
 */
int pbjson_parse_string(struct pbjson_parser *ps, char **out, size_t *outlen);

/*
 * pbjson_snip copies s[0..n) into dst (PBJSON_SNIP_MAX bytes) for quoting in
 * an error message: control characters become '?' so that the message stays
 * on one line, and a long value is cut at a character boundary with "...".
 */
void pbjson_snip(char *dst, const char *s, size_t n);

/*
 * pbjson_parse_scalar reads one non-null value of type `type`, anything but
 * a message, into dst: tdesc is the enum descriptor for an enum.
 */
int pbjson_parse_scalar(struct pbjson_parser *ps, ProtobufCType type,
        const void *tdesc, void *dst);

/*
 * pbjson_text_to_int converts s[0..n) (a JSON number, or the contents of a
 * string that must be one) to integer type `type` at dst, reporting
 * failures against the current path. Map keys are read this way.
 */
int pbjson_text_to_int(struct pbjson_parser *ps, ProtobufCType type,
        const char *s, size_t n, void *dst);

#endif /* CLM_PBJSON_INTERNAL_H */
