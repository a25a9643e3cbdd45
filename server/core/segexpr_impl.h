/*
 * segexpr_impl: the compiled form of a segment expression, shared by the
 * parser (segexpr.c, segexpr_lex.c) and the evaluator (segexpr_eval.c)
 * only, and the parser's state and token reader.
 *
 * A program is one allocation: struct segx, its nodes, then the bytes of
 * its strings (decoded, not NUL-terminated), which nodes point into.
 * Nodes form a tree by index; x->root is the whole expression.
 */
#ifndef CLM_CORE_SEGEXPR_IMPL_H
#define CLM_CORE_SEGEXPR_IMPL_H

#include <protobuf-c/protobuf-c.h>

#include "core/segexpr.h"

/* Nesting of 'not' and parentheses; deeper is a parse error. */
#define SEGX_DEPTH_MAX 64

enum segx_kind {
	SEGX_AND,
	SEGX_OR,
	SEGX_NOT,
	SEGX_ENUM,    /* field OP enum name */
	SEGX_NUMBER,  /* field OP number */
	SEGX_INSTANT, /* first_seen / last_seen OP instant */
	SEGX_TRAIT,   /* trait.NAME OP string or number */
	SEGX_RISK,    /* risk has REASON */
	SEGX_CART,    /* cart has "ITEM" */
	SEGX_BOUGHT,  /* bought "ITEM" */
	SEGX_COUNT,   /* count(...) OP N */
	SEGX_SINCE,   /* since(first_seen / last_seen) OP duration */
};

enum segx_op { SEGX_EQ, SEGX_NE, SEGX_LT, SEGX_LE, SEGX_GT, SEGX_GE };

enum segx_field {
	SEGX_F_STAGE,
	SEGX_F_HEALTH,
	SEGX_F_FUNNEL,
	SEGX_F_ACQUISITION,
	SEGX_F_CONVERSION,
	SEGX_F_PURCHASES,
	SEGX_F_REFUNDS,
	SEGX_F_REFERRALS,
	SEGX_F_REVENUE,
	SEGX_F_CHURN_RISK,
	SEGX_F_FIRST_SEEN,
	SEGX_F_LAST_SEEN,
};

struct segx_node {
	uint8_t kind;  /* enum segx_kind */
	uint8_t op;    /* enum segx_op */
	uint8_t field; /* enum segx_field (ENUM, NUMBER, INSTANT, SINCE) */
	bool is_int;   /* TRAIT: the constant is a whole number in i */
	bool is_str;   /* TRAIT: the constant is the string s */
	uint32_t a, b; /* AND, OR: operands; NOT: a */
	int64_t i; /* enum value, instant, duration, count N, RISK reason */
	double d;  /* NUMBER, numeric TRAIT */
	const char *s; /* TRAIT name, CART / BOUGHT item */
	size_t s_len;
	const char *v; /* TRAIT string constant */
	size_t v_len;
	struct segx_count count; /* COUNT */
};

struct segx {
	uint32_t n;
	uint32_t root;
	struct segx_needs needs;
	struct segx_node nodes[];
};

enum segx_tok {
	SEGX_T_END,
	SEGX_T_WORD,   /* [A-Za-z_][A-Za-z0-9_]* */
	SEGX_T_TRAIT,  /* trait.NAME: the NAME in str / len */
	SEGX_T_NUMBER, /* -?[0-9][0-9A-Za-z.]*: a number, duration or date */
	SEGX_T_STRING, /* "...", the quotes included */
	SEGX_T_OP,     /* a comparison, in op */
	SEGX_T_LPAREN,
	SEGX_T_RPAREN,
	SEGX_T_COMMA,
};

/* The parser: where it is in the source, and what it has built. */
struct segx_parser {
	const char *src;
	size_t len;
	size_t at; /* next byte to read */
	/* The current token. */
	int tok;
	size_t pos; /* its first byte */
	const char *str;
	size_t tlen;
	int op;
	int depth;
	unsigned flags; /* segx_parse_flags' */
	bool failed;
	struct segx_error *err;
	struct segx_needs needs;
	uint32_t n;
	struct segx_node nodes[SEGX_NODES_MAX];
	size_t n_str;
	char strs[SEGX_SOURCE_MAX];
};

/*
 * The lexer and value readers (segexpr_lex.c). Each returns false after
 * recording the first error in ps (segx_fail); on success each that reads
 * a token moves to the next one.
 */

/* segx_fail records the first error: at byte pos, msg. Returns false. */
bool segx_fail(struct segx_parser *ps, size_t pos, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* segx_lex reads the next token into ps. */
bool segx_lex(struct segx_parser *ps);
/* segx_word tells whether the current token is the word w. */
bool segx_word(const struct segx_parser *ps, const char *w);
/* segx_expect consumes a token of kind tok, or fails "expected what". */
bool segx_expect(struct segx_parser *ps, int tok, const char *what);
/* segx_expect_word consumes the word w, or fails "expected what". */
bool segx_expect_word(struct segx_parser *ps, const char *w, const char *what);
/*
 * segx_string decodes a string token into ps->strs: its offset there in
 * *off, its length in *len; else fails "expected what".
 */
bool segx_string(
        struct segx_parser *ps, const char *what, size_t *off, size_t *len);
/* segx_op reads a comparison into nd->op. */
bool segx_op(struct segx_parser *ps, struct segx_node *nd);
/*
 * segx_enum reads a name of enum d into *v (0, the UNSPECIFIED name, only
 * when allow_zero); example is one of its names, for the message.
 */
bool segx_enum(struct segx_parser *ps, const ProtobufCEnumDescriptor *d,
        const char *example, bool allow_zero, int64_t *v);
/* segx_number reads a number: *d, and *is_int and *i when it is whole. */
bool segx_number(struct segx_parser *ps, double *d, bool *is_int, int64_t *i);
/* segx_whole parses t (n bytes, 1 to 18 digits) into *v; no token read. */
bool segx_whole(const char *t, size_t n, int64_t *v);
/* segx_duration reads a duration ([0-9]+[smhd], at most 3650 d) in ms. */
bool segx_duration(struct segx_parser *ps, int64_t *ms);
/* segx_instant reads a date in quotes or unix milliseconds. */
bool segx_instant(struct segx_parser *ps, int64_t *ms);

#endif /* CLM_CORE_SEGEXPR_IMPL_H */
