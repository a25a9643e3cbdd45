/*
 * segexpr: the parser of docs/segments.md "The language", by recursive
 * descent over tokens read on demand (segexpr_lex.c). It fills a parser on
 * the heap (nodes and decoded strings), then copies what it built into one
 * allocation, the compiled program (core/segexpr_impl.h). The evaluator is
 * segexpr_eval.c.
 */
#include "core/segexpr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "core/segexpr_impl.h"

bool
segx_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > SEGX_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		            || c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

/* segx_node_new appends a node of kind; NULL when the program is full. */
static struct segx_node *
segx_node_new(struct segx_parser *ps, int kind, uint32_t *index)
{
	if (ps->n == SEGX_NODES_MAX) {
		segx_fail(ps, ps->pos,
		        "expression has more than %d operands and operators",
		        SEGX_NODES_MAX);
		return NULL;
	}
	struct segx_node *nd = &ps->nodes[ps->n];
	memset(nd, 0, sizeof(*nd));
	nd->kind = (uint8_t) kind;
	*index = ps->n++;
	return nd;
}
static const struct segx_field_def {
	const char *word;
	int field;
	int kind;
	const ProtobufCEnumDescriptor *desc;
	const char *example;
} segx_fields[] = {
	{ "stage", SEGX_F_STAGE, SEGX_ENUM, &clm__v1__stage__descriptor,
	        "RETENTION" },
	{ "health", SEGX_F_HEALTH, SEGX_ENUM, &clm__v1__health__descriptor,
	        "AT_RISK" },
	{ "funnel", SEGX_F_FUNNEL, SEGX_ENUM,
	        &clm__v1__funnel_position__descriptor, "TOP" },
	{ "acquisition_channel", SEGX_F_ACQUISITION, SEGX_ENUM,
	        &clm__v1__channel__descriptor, "PAID_ADS" },
	{ "conversion_channel", SEGX_F_CONVERSION, SEGX_ENUM,
	        &clm__v1__channel__descriptor, "PAID_ADS" },
	{ "purchases", SEGX_F_PURCHASES, SEGX_NUMBER, NULL, NULL },
	{ "refunds", SEGX_F_REFUNDS, SEGX_NUMBER, NULL, NULL },
	{ "referrals", SEGX_F_REFERRALS, SEGX_NUMBER, NULL, NULL },
	{ "revenue", SEGX_F_REVENUE, SEGX_NUMBER, NULL, NULL },
	{ "churn_risk", SEGX_F_CHURN_RISK, SEGX_NUMBER, NULL, NULL },
	{ "first_seen", SEGX_F_FIRST_SEEN, SEGX_INSTANT, NULL, NULL },
	{ "last_seen", SEGX_F_LAST_SEEN, SEGX_INSTANT, NULL, NULL },
};

/* field OP value, the field's word being the current token. */
static bool
segx_field_test(struct segx_parser *ps, const struct segx_field_def *f,
        uint32_t *index)
{
	struct segx_node *nd = segx_node_new(ps, f->kind, index);
	if (nd == NULL || !segx_lex(ps) || !segx_op(ps, nd)) {
		return false;
	}
	nd->field = (uint8_t) f->field;
	switch (f->kind) {
	case SEGX_ENUM:
		if (f->field == SEGX_F_HEALTH) {
			ps->needs.time = true;
		}
		return segx_enum(ps, f->desc, f->example, true, &nd->i);
	case SEGX_NUMBER:
		if (f->field == SEGX_F_CHURN_RISK) {
			ps->needs.time = true;
			ps->needs.onboarding = true;
		}
		return segx_number(ps, &nd->d, &nd->is_int, &nd->i);
	default:
		return segx_instant(ps, &nd->i);
	}
}

static bool
segx_trait_test(struct segx_parser *ps, uint32_t *index)
{
	struct segx_node *nd = segx_node_new(ps, SEGX_TRAIT, index);
	if (nd == NULL) {
		return false;
	}
	ps->needs.traits = true;
	/* The name is copied as is: it has no escapes. */
	nd->s = (const char *) (uintptr_t) ps->n_str;
	nd->s_len = ps->tlen;
	memcpy(ps->strs + ps->n_str, ps->str, ps->tlen);
	ps->n_str += ps->tlen;
	if (!segx_lex(ps) || !segx_op(ps, nd)) {
		return false;
	}
	if (ps->tok == SEGX_T_STRING) {
		size_t off;
		nd->is_str = true;
		if (!segx_string(ps, "a string", &off, &nd->v_len)) {
			return false;
		}
		nd->v = (const char *) (uintptr_t) off;
		return true;
	}
	if (ps->tok != SEGX_T_NUMBER) {
		return segx_fail(ps, ps->pos,
		        "expected a string in double quotes or a number");
	}
	return segx_number(ps, &nd->d, &nd->is_int, &nd->i);
}

/*
 * count ( TYPE [ where ( item | name ) = string ] , duration ) OP N, or
 * since_entry for the duration with SEGX_SINCE_ENTRY.
 */
static bool
segx_count_test(struct segx_parser *ps, uint32_t *index)
{
	struct segx_node *nd = segx_node_new(ps, SEGX_COUNT, index);
	if (nd == NULL || !segx_lex(ps)
	        || !segx_expect(ps, SEGX_T_LPAREN, "'(' after 'count'")) {
		return false;
	}
	int64_t type;
	if (!segx_enum(ps, &clm__v1__touchpoint_type__descriptor, "PAGE_VIEW",
	            false, &type)) {
		return false;
	}
	nd->count.type = (int) type;
	if (segx_word(ps, "where")) {
		if (!segx_lex(ps)) {
			return false;
		}
		size_t wpos = ps->pos, off, len;
		bool item = segx_word(ps, "item");
		if (!item && !segx_word(ps, "name")) {
			return segx_fail(ps, ps->pos,
			        "expected 'item' or 'name' after 'where'");
		}
		if (!item && type != MODEL_T_CUSTOM) {
			return segx_fail(ps, wpos,
			        "'where name' is allowed with CUSTOM only");
		}
		if (!segx_lex(ps)
		        || !(ps->tok == SEGX_T_OP && ps->op == SEGX_EQ
		                        ? segx_lex(ps)
		                        : segx_fail(
		                                ps, ps->pos, "expected '='"))
		        || !segx_string(
		                ps, "a string in double quotes", &off, &len)) {
			return false;
		}
		/* Offset + 1: NULL stays "any" (fixed up in segx_parse). */
		if (item) {
			nd->count.item = (const char *) (uintptr_t) (off + 1);
			nd->count.item_len = len;
		} else {
			nd->count.name = (const char *) (uintptr_t) (off + 1);
			nd->count.name_len = len;
		}
	}
	if (!segx_expect(ps, SEGX_T_COMMA, "','")) {
		return false;
	}
	if (segx_word(ps, "since_entry")) {
		if (!(ps->flags & SEGX_SINCE_ENTRY)) {
			return segx_fail(ps, ps->pos,
			        "since_entry is only allowed in journeys");
		}
		nd->count.since_entry = true;
		ps->needs.since_entry = true;
		if (!segx_lex(ps)) {
			return false;
		}
	} else if (!segx_duration(ps, &nd->count.window_ms)) {
		return false;
	}
	if (!segx_expect(ps, SEGX_T_RPAREN, "')'")) {
		return false;
	}
	if (ps->tok != SEGX_T_OP) {
		return segx_fail(ps, ps->pos,
		        "expected a comparison after 'count(...)'");
	}
	if (!segx_op(ps, nd)) {
		return false;
	}
	if (ps->tok != SEGX_T_NUMBER || !segx_whole(ps->str, ps->tlen, &nd->i)
	        || nd->i > SEGX_COUNT_MAX) {
		return segx_fail(ps, ps->pos,
		        "expected a whole number from 0 to %d",
		        SEGX_COUNT_MAX);
	}
	ps->needs.counts = true;
	ps->needs.time = true;
	if (nd->count.window_ms > ps->needs.max_window_ms) {
		ps->needs.max_window_ms = nd->count.window_ms;
	}
	return segx_lex(ps);
}

/* since ( first_seen | last_seen ) OP duration */
static bool
segx_since_test(struct segx_parser *ps, uint32_t *index)
{
	struct segx_node *nd = segx_node_new(ps, SEGX_SINCE, index);
	if (nd == NULL || !segx_lex(ps)
	        || !segx_expect(ps, SEGX_T_LPAREN, "'(' after 'since'")) {
		return false;
	}
	if (segx_word(ps, "first_seen")) {
		nd->field = SEGX_F_FIRST_SEEN;
	} else if (segx_word(ps, "last_seen")) {
		nd->field = SEGX_F_LAST_SEEN;
	} else {
		return segx_fail(
		        ps, ps->pos, "expected first_seen or last_seen");
	}
	ps->needs.time = true;
	return segx_lex(ps) && segx_expect(ps, SEGX_T_RPAREN, "')'")
	        && segx_op(ps, nd) && segx_duration(ps, &nd->i);
}

static bool
segx_test(struct segx_parser *ps, uint32_t *index)
{
	struct segx_node *nd;
	size_t off;
	if (ps->tok == SEGX_T_TRAIT) {
		return segx_trait_test(ps, index);
	}
	if (ps->tok != SEGX_T_WORD || segx_word(ps, "and")
	        || segx_word(ps, "or")) {
		return segx_fail(ps, ps->pos,
		        "expected a condition such as stage = RETENTION");
	}
	for (size_t i = 0; i < sizeof(segx_fields) / sizeof(segx_fields[0]);
	        i++) {
		if (segx_word(ps, segx_fields[i].word)) {
			return segx_field_test(ps, &segx_fields[i], index);
		}
	}
	if (segx_word(ps, "risk")) {
		if ((nd = segx_node_new(ps, SEGX_RISK, index)) == NULL
		        || !segx_lex(ps)
		        || !segx_expect_word(ps, "has", "'has' after 'risk'")
		        || !segx_enum(ps, &clm__v1__risk_reason__descriptor,
		                "INACTIVE", false, &nd->i)) {
			return false;
		}
		ps->needs.onboarding |= nd->i == MODEL_SLOW_ONBOARDING;
		ps->needs.time |= nd->i != MODEL_NEGATIVE_SENTIMENT
		        && nd->i != MODEL_SUBSCRIPTION_CANCELLED;
		return true;
	}
	if (segx_word(ps, "cart")) {
		if ((nd = segx_node_new(ps, SEGX_CART, index)) == NULL
		        || !segx_lex(ps)
		        || !segx_expect_word(ps, "has", "'has' after 'cart'")
		        || !segx_string(ps, "a string in double quotes", &off,
		                &nd->s_len)) {
			return false;
		}
		nd->s = (const char *) (uintptr_t) off;
		return true;
	}
	if (segx_word(ps, "bought")) {
		if ((nd = segx_node_new(ps, SEGX_BOUGHT, index)) == NULL
		        || !segx_lex(ps)
		        || !segx_string(ps, "a string in double quotes", &off,
		                &nd->s_len)) {
			return false;
		}
		nd->s = (const char *) (uintptr_t) off;
		ps->needs.bought = true;
		return true;
	}
	if (segx_word(ps, "count")) {
		return segx_count_test(ps, index);
	}
	if (segx_word(ps, "since")) {
		return segx_since_test(ps, index);
	}
	return segx_fail(
	        ps, ps->pos, "unknown field '%.*s'", (int) ps->tlen, ps->str);
}

static bool segx_or(struct segx_parser *ps, uint32_t *index);

static bool
segx_unary(struct segx_parser *ps, uint32_t *index)
{
	bool ok;
	bool nest = segx_word(ps, "not") || ps->tok == SEGX_T_LPAREN;
	if (!nest) {
		return segx_test(ps, index);
	}
	if (ps->depth == SEGX_DEPTH_MAX) {
		return segx_fail(ps, ps->pos,
		        "expression nested more than %d deep", SEGX_DEPTH_MAX);
	}
	ps->depth++;
	if (ps->tok == SEGX_T_LPAREN) {
		ok = segx_lex(ps) && segx_or(ps, index)
		        && segx_expect(ps, SEGX_T_RPAREN, "')'");
	} else {
		uint32_t a;
		struct segx_node *nd = segx_node_new(ps, SEGX_NOT, index);
		ok = nd != NULL && segx_lex(ps) && segx_unary(ps, &a);
		if (ok) {
			ps->nodes[*index].a = a;
		}
	}
	ps->depth--;
	return ok;
}

/* One level of binary operators: word, kind, and the next level down. */
static bool
segx_binary(struct segx_parser *ps, const char *word, int kind,
        bool (*down)(struct segx_parser *, uint32_t *), uint32_t *index)
{
	uint32_t a, b, i;
	if (!down(ps, &a)) {
		return false;
	}
	while (segx_word(ps, word)) {
		struct segx_node *nd = segx_node_new(ps, kind, &i);
		if (nd == NULL || !segx_lex(ps) || !down(ps, &b)) {
			return false;
		}
		ps->nodes[i].a = a;
		ps->nodes[i].b = b;
		a = i;
	}
	*index = a;
	return true;
}

static bool
segx_and(struct segx_parser *ps, uint32_t *index)
{
	return segx_binary(ps, "and", SEGX_AND, segx_unary, index);
}

static bool
segx_or(struct segx_parser *ps, uint32_t *index)
{
	return segx_binary(ps, "or", SEGX_OR, segx_and, index);
}

/* A count's string: offset + 1 into base, or NULL (any), as a pointer. */
static const char *
segx_fix(const char *off1, const char *base)
{
	return off1 == NULL ? NULL : base + (uintptr_t) off1 - 1;
}

clm_err
segx_parse(const char *src, size_t len, segx **out, struct segx_error *err)
{
	return segx_parse_flags(src, len, 0, out, err);
}

clm_err
segx_parse_flags(const char *src, size_t len, unsigned flags, segx **out,
        struct segx_error *err)
{
	if (len > SEGX_SOURCE_MAX) {
		err->pos = SEGX_SOURCE_MAX;
		snprintf(err->msg, sizeof(err->msg),
		        "expression longer than %d bytes", SEGX_SOURCE_MAX);
		return CLM_INVALID_ARGUMENT;
	}
	const char *nul = len == 0 ? NULL : memchr(src, '\0', len);
	if (nul != NULL) {
		err->pos = (size_t) (nul - src);
		snprintf(err->msg, sizeof(err->msg), "unexpected NUL byte");
		return CLM_INVALID_ARGUMENT;
	}
	struct segx_parser *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	ps->src = src;
	ps->len = len;
	ps->err = err;
	ps->flags = flags;
	uint32_t root = 0;
	bool ok = segx_lex(ps) && segx_or(ps, &root);
	if (ok && ps->tok != SEGX_T_END) {
		ok = segx_fail(ps, ps->pos, "expected 'and', 'or' or the end");
	}
	if (!ok) {
		free(ps);
		return CLM_INVALID_ARGUMENT;
	}
	size_t nodes = ps->n * sizeof(struct segx_node);
	segx *x = malloc(sizeof(*x) + nodes + ps->n_str + 1);
	if (x == NULL) {
		free(ps);
		return CLM_RESOURCE_EXHAUSTED;
	}
	x->n = ps->n;
	x->root = root;
	x->needs = ps->needs;
	memcpy(x->nodes, ps->nodes, nodes);
	char *strs = (char *) x->nodes + nodes;
	memcpy(strs, ps->strs, ps->n_str);
	strs[ps->n_str] = '\0';
	for (uint32_t i = 0; i < x->n; i++) {
		struct segx_node *nd = &x->nodes[i];
		switch (nd->kind) {
		case SEGX_TRAIT:
			nd->s = strs + (uintptr_t) nd->s;
			nd->v = nd->is_str ? strs + (uintptr_t) nd->v : NULL;
			break;
		case SEGX_CART:
		case SEGX_BOUGHT:
			nd->s = strs + (uintptr_t) nd->s;
			break;
		case SEGX_COUNT:
			nd->count.item = segx_fix(nd->count.item, strs);
			nd->count.name = segx_fix(nd->count.name, strs);
			break;
		default:
			break;
		}
	}
	free(ps);
	*out = x;
	return CLM_OK;
}

void
segx_free(segx *x)
{
	free(x);
}

void
segx_needs(const segx *x, struct segx_needs *n)
{
	*n = x->needs;
}
