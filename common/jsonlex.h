/*
 * jsonlex: the JSON tokenizer (RFC 8259) under pbjson's parser. A struct
 * jsonlex is a position in a buffer; the functions below skip whitespace,
 * look at and consume the next byte or keyword, read numbers and decode
 * strings. It knows nothing of protobuf and builds no tree: the parser
 * above it decides what it expects next.
 *
 * Errors: a function that can meet malformed input returns clm_err,
 * CLM_INVALID_ARGUMENT for a syntax error, and then leaves lx->pos at the
 * offending byte (at lx->len when the input ended too soon) and lx->what
 * saying what is wrong there ("invalid escape in string"), so that the
 * caller words the message ("invalid JSON at offset 17: ..."). Out of
 * memory is CLM_RESOURCE_EXHAUSTED. Out-parameters are written only on
 * success.
 *
 * A struct jsonlex borrows its text, which must outlive it. One thread at a
 * time per struct; nothing is global.
 */
#ifndef CLM_JSONLEX_H
#define CLM_JSONLEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

struct jsonlex {
	const char
	        *text; /* the input: len bytes, not necessarily terminated */
	size_t len;
	size_t pos;       /* the next byte to read, at most len */
	const char *what; /* the last syntax error (a static string) */
};

/* jsonlex_init starts lx at the beginning of text[0..len). */
void jsonlex_init(struct jsonlex *lx, const char *text, size_t len);

/* jsonlex_ws skips whitespace (space, tab, line feed, carriage return). */
void jsonlex_ws(struct jsonlex *lx);

/* jsonlex_peek returns the next byte (0..255), or -1 at the end. */
int jsonlex_peek(const struct jsonlex *lx);

/* jsonlex_eat consumes the byte c and returns true when it comes next. */
bool jsonlex_eat(struct jsonlex *lx, char c);

/*
 * jsonlex_literal consumes the keyword lit ("null", "true", "false") and
 * returns true when it comes next. Only the bytes of lit are compared, so
 * "nullx" matches "null"; what follows is the caller's to judge.
 */
bool jsonlex_literal(struct jsonlex *lx, const char *lit);

/*
 * jsonlex_string decodes the string whose opening quote is the next byte
 * into a new NUL-terminated buffer, *out (the caller frees it), of *outlen
 * bytes: it may hold NUL bytes (from \u0000), which *outlen counts. The
 * raw bytes must be well-formed UTF-8 without control characters, and a
 * \u escape of a surrogate must pair a high one with a low one. On success
 * lx->pos is past the closing quote.
 */
clm_err jsonlex_string(struct jsonlex *lx, char **out, size_t *outlen);

/* The text of a string or a number, as jsonlex_scalar reads it. */
struct jsonlex_text {
	const char *s; /* the text, n bytes */
	size_t n;
	char *owned;    /* a string's s, to free; NULL for a number */
	bool is_string; /* s is a string's decoded contents, NUL-terminated */
};

/*
 * jsonlex_scalar reads the next value when it is a string or a number into
 * *t: for a string, its decoded contents in a new buffer, t->owned, which
 * the caller frees; for a number, its bytes in the input (valid as long as
 * the input). Returns CLM_NOT_FOUND, consuming nothing, when the next
 * value is neither (a keyword, an object, an array, or the end), besides
 * the errors above ("invalid number" is one).
 */
clm_err jsonlex_scalar(struct jsonlex *lx, struct jsonlex_text *t);

/*
 * jsonlex_number_len returns the length of the JSON number at the start of
 * s[0..n) (RFC 8259 grammar: no '+', no leading zeros, digits on both
 * sides of '.'), or 0 when none starts there. The number may be followed
 * by anything; jsonlex_number_len(s, n) == n tests a whole string.
 */
size_t jsonlex_number_len(const char *s, size_t n);

/*
 * jsonlex_int converts the JSON number s[0..n), one that
 * jsonlex_number_len accepts whole, to a sign (*neg) and a magnitude
 * (*mag), exactly: "1e3" and "1.50e2" are integers and "1.5" is not, and a
 * number of any length or exponent is judged without rounding through a
 * double (which would misread integers above 2^53). "-0" is 0 with *neg
 * set. Returns CLM_OK, CLM_INVALID_ARGUMENT when the number is not an
 * integer, or CLM_OUT_OF_RANGE when its magnitude needs more than 64 bits.
 * Sets no lexer state.
 */
clm_err jsonlex_int(const char *s, size_t n, bool *neg, uint64_t *mag);

#endif /* CLM_JSONLEX_H */
