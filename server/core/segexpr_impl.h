/*
 * segexpr_impl: the compiled form of a segment expression, shared by the
 * parser (segexpr.c) and the evaluator (segexpr_eval.c) only.
 *
 * A program is one allocation: struct segx, its nodes, then the bytes of
 * its strings (decoded, not NUL-terminated), which nodes point into.
 * Nodes form a tree by index; x->root is the whole expression.
 */
#ifndef CLM_CORE_SEGEXPR_IMPL_H
#define CLM_CORE_SEGEXPR_IMPL_H

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

#endif /* CLM_CORE_SEGEXPR_IMPL_H */
