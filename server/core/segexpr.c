/*
 * segexpr: the parser of docs/segments.md "The language", by recursive
 * descent over tokens read on demand. It fills a parser on the heap (nodes
 * and decoded strings), then copies what it built into one allocation, the
 * compiled program (core/segexpr_impl.h). The evaluator is segexpr_eval.c.
 */
#include "core/segexpr.h"

#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "clm/v1/clm.pb-c.h"
#include "core/segexpr_impl.h"

#define SEGX_DURATION_MAX (3650 * MODEL_DAY_MS)

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
	bool failed;
	struct segx_error *err;
	struct segx_needs needs;
	uint32_t n;
	struct segx_node nodes[SEGX_NODES_MAX];
	size_t n_str;
	char strs[SEGX_SOURCE_MAX];
};

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

/* segx_fail records the first error: at byte pos, msg. Returns false. */
static bool
segx_fail(struct segx_parser *ps, size_t pos, const char *fmt, ...)
{
	if (ps->failed) {
		return false;
	}
	ps->failed = true;
	ps->err->pos = pos;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return false;
}

static bool
segx_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
segx_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
segx_is_trait_char(char c)
{
	return segx_is_alpha(c) || segx_is_digit(c) || c == '.' || c == '-';
}

/* segx_lex reads the next token into ps. Returns false on a lexical error. */
static bool
segx_lex(struct segx_parser *ps)
{
	const char *s = ps->src;
	size_t n = ps->len, i = ps->at;
	while (i < n
	        && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'
	                || s[i] == '\f' || s[i] == '\v')) {
		i++;
	}
	ps->pos = i;
	ps->str = s + i;
	ps->tlen = 0;
	if (i == n) {
		ps->tok = SEGX_T_END;
		ps->at = i;
		return true;
	}
	char c = s[i];
	size_t start = i;
	if (segx_is_alpha(c)) {
		while (i < n && (segx_is_alpha(s[i]) || segx_is_digit(s[i]))) {
			i++;
		}
		ps->tok = SEGX_T_WORD;
		if (i - start == 5 && memcmp(s + start, "trait", 5) == 0
		        && i < n && s[i] == '.') {
			size_t name = ++i;
			while (i < n && segx_is_trait_char(s[i])) {
				i++;
			}
			if (i == name) {
				return segx_fail(ps, name,
				        "expected a trait name after 'trait.'");
			}
			ps->tok = SEGX_T_TRAIT;
			ps->str = s + name;
			ps->tlen = i - name;
			ps->at = i;
			return true;
		}
	} else if (segx_is_digit(c)
	        || (c == '-' && i + 1 < n && segx_is_digit(s[i + 1]))) {
		i++;
		while (i < n
		        && (segx_is_alpha(s[i]) || segx_is_digit(s[i])
		                || s[i] == '.')) {
			i++;
		}
		ps->tok = SEGX_T_NUMBER;
	} else if (c == '"') {
		i++;
		while (i < n && s[i] != '"') {
			if (s[i] == '\\') {
				if (i + 1 < n
				        && (s[i + 1] == '"'
				                || s[i + 1] == '\\')) {
					i += 2;
					continue;
				}
				return segx_fail(ps, i,
				        "expected \\\" or \\\\ after a backslash");
			}
			i++;
		}
		if (i == n) {
			return segx_fail(ps, start, "unterminated string");
		}
		i++;
		ps->tok = SEGX_T_STRING;
	} else if (c == '=' || c == '<' || c == '>'
	        || (c == '!' && i + 1 < n && s[i + 1] == '=')) {
		bool eq = i + 1 < n && s[i + 1] == '=';
		ps->tok = SEGX_T_OP;
		if (c == '=') {
			ps->op = SEGX_EQ;
			i++;
		} else if (c == '!') {
			ps->op = SEGX_NE;
			i += 2;
		} else if (c == '<') {
			ps->op = eq ? SEGX_LE : SEGX_LT;
			i += eq ? 2 : 1;
		} else {
			ps->op = eq ? SEGX_GE : SEGX_GT;
			i += eq ? 2 : 1;
		}
	} else if (c == '(' || c == ')' || c == ',') {
		ps->tok = c == '(' ? SEGX_T_LPAREN
		                   : (c == ')' ? SEGX_T_RPAREN : SEGX_T_COMMA);
		i++;
	} else if (c >= 0x21 && c <= 0x7e) {
		return segx_fail(ps, i, "unexpected character '%c'", c);
	} else {
		return segx_fail(ps, i, "unexpected byte 0x%02x",
		        (unsigned) (unsigned char) c);
	}
	ps->tlen = i - start;
	ps->at = i;
	return true;
}

/* Whether the current token is the word w. */
static bool
segx_word(const struct segx_parser *ps, const char *w)
{
	size_t wl = strlen(w);
	return ps->tok == SEGX_T_WORD && ps->tlen == wl
	        && memcmp(ps->str, w, wl) == 0;
}

/* segx_expect consumes the token kind tok, or fails with "expected what". */
static bool
segx_expect(struct segx_parser *ps, int tok, const char *what)
{
	if (ps->tok != tok) {
		return segx_fail(ps, ps->pos, "expected %s", what);
	}
	return segx_lex(ps);
}

static bool
segx_expect_word(struct segx_parser *ps, const char *w, const char *what)
{
	if (!segx_word(ps, w)) {
		return segx_fail(ps, ps->pos, "expected %s", what);
	}
	return segx_lex(ps);
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

/*
 * segx_string decodes the current STRING token into ps->strs, its offset
 * in *off (as a pointer value, fixed up in segx_parse) and length in *len.
 */
static bool
segx_string(struct segx_parser *ps, const char *what, size_t *off, size_t *len)
{
	if (ps->tok != SEGX_T_STRING) {
		return segx_fail(ps, ps->pos, "expected %s", what);
	}
	*off = ps->n_str;
	for (size_t i = 1; i + 1 < ps->tlen; i++) {
		char c = ps->str[i];
		if (c == '\\') {
			c = ps->str[++i];
		}
		ps->strs[ps->n_str++] = c;
	}
	*len = ps->n_str - *off;
	return segx_lex(ps);
}

static bool
segx_op(struct segx_parser *ps, struct segx_node *nd)
{
	if (ps->tok != SEGX_T_OP) {
		return segx_fail(ps, ps->pos,
		        "expected a comparison (=, !=, <, <=, >, >=)");
	}
	nd->op = (uint8_t) ps->op;
	return segx_lex(ps);
}

/*
 * segx_enum reads the name of enum d (an uppercase word) into *v; example
 * is one of its names, for the message.
 */
static bool
segx_enum(struct segx_parser *ps, const ProtobufCEnumDescriptor *d,
        const char *example, bool allow_zero, int64_t *v)
{
	char name[64];
	const ProtobufCEnumValue *ev = NULL;
	if (ps->tok == SEGX_T_WORD && ps->tlen < sizeof(name)) {
		memcpy(name, ps->str, ps->tlen);
		name[ps->tlen] = '\0';
		ev = protobuf_c_enum_descriptor_get_value_by_name(d, name);
	}
	if (ev == NULL || (!allow_zero && ev->value == 0)) {
		return segx_fail(ps, ps->pos, "expected a %s name such as %s",
		        d->short_name, example);
	}
	*v = ev->value;
	return segx_lex(ps);
}

/* Whether t (n bytes) is -?[0-9]+ (neg allowed) with an optional .[0-9]+. */
static bool
segx_numeric(const char *t, size_t n, bool neg, bool frac)
{
	size_t i = 0;
	if (neg && i < n && t[i] == '-') {
		i++;
	}
	size_t d = i;
	while (i < n && segx_is_digit(t[i])) {
		i++;
	}
	if (i == d) {
		return false;
	}
	if (frac && i < n && t[i] == '.') {
		size_t f = ++i;
		while (i < n && segx_is_digit(t[i])) {
			i++;
		}
		if (i == f) {
			return false;
		}
	}
	return i == n;
}

/* segx_number reads a number: its value in *d, *is_int and *i if whole. */
static bool
segx_number(struct segx_parser *ps, double *d, bool *is_int, int64_t *i)
{
	char buf[64];
	if (ps->tok != SEGX_T_NUMBER || ps->tlen >= sizeof(buf)
	        || !segx_numeric(ps->str, ps->tlen, true, true)) {
		return segx_fail(ps, ps->pos, "expected a number such as 42");
	}
	memcpy(buf, ps->str, ps->tlen);
	buf[ps->tlen] = '\0';
	*d = strtod(buf, NULL);
	/* Whole and within int64 (18 digits always are). */
	*is_int = memchr(buf, '.', ps->tlen) == NULL
	        && ps->tlen <= (size_t) (buf[0] == '-' ? 19 : 18);
	*i = *is_int ? strtoll(buf, NULL, 10) : 0;
	return segx_lex(ps);
}

/* segx_whole parses up to 18 digits of t (n bytes) into *v. */
static bool
segx_whole(const char *t, size_t n, int64_t *v)
{
	if (n == 0 || n > 18) {
		return false;
	}
	int64_t r = 0;
	for (size_t i = 0; i < n; i++) {
		if (!segx_is_digit(t[i])) {
			return false;
		}
		r = r * 10 + (t[i] - '0');
	}
	*v = r;
	return true;
}

/* segx_duration reads a duration ([0-9]+[smhd], at most 3650 d) in ms. */
static bool
segx_duration(struct segx_parser *ps, int64_t *ms)
{
	int64_t v, unit = 0;
	if (ps->tok == SEGX_T_NUMBER && ps->tlen >= 2) {
		switch (ps->str[ps->tlen - 1]) {
		case 's':
			unit = 1000;
			break;
		case 'm':
			unit = 60 * 1000;
			break;
		case 'h':
			unit = 3600 * 1000;
			break;
		case 'd':
			unit = MODEL_DAY_MS;
			break;
		}
	}
	if (unit == 0 || !segx_numeric(ps->str, ps->tlen - 1, false, false)) {
		return segx_fail(
		        ps, ps->pos, "expected a duration such as 30d");
	}
	if (!segx_whole(ps->str, ps->tlen - 1, &v)
	        || v > SEGX_DURATION_MAX / unit) {
		return segx_fail(
		        ps, ps->pos, "expected a duration of at most 3650d");
	}
	*ms = v * unit;
	return segx_lex(ps);
}

/* segx_date parses "YYYY-MM-DD" (t, n bytes, no quotes) into unix ms. */
static bool
segx_date(const char *t, size_t n, int64_t *ms)
{
	int64_t y, mo, d, y2;
	int m2, d2;
	if (n != 10 || t[4] != '-' || t[7] != '-' || !segx_whole(t, 4, &y)
	        || !segx_whole(t + 5, 2, &mo) || !segx_whole(t + 8, 2, &d)
	        || mo < 1 || mo > 12 || d < 1) {
		return false;
	}
	int64_t days = civil_to_days(y, (int) mo, (int) d);
	civil_from_days(days, &y2, &m2, &d2);
	if (y2 != y || m2 != mo || d2 != d) {
		return false; /* 2026-02-30 */
	}
	*ms = days * MODEL_DAY_MS;
	return true;
}

/* segx_instant reads a date in quotes or unix milliseconds. */
static bool
segx_instant(struct segx_parser *ps, int64_t *ms)
{
	const char *what
	        = "expected a date such as \"2026-01-31\" or unix milliseconds";
	if (ps->tok == SEGX_T_STRING) {
		if (!segx_date(ps->str + 1, ps->tlen - 2, ms)) {
			return segx_fail(ps, ps->pos, "%s", what);
		}
		return segx_lex(ps);
	}
	bool neg = ps->tok == SEGX_T_NUMBER && ps->str[0] == '-';
	if (ps->tok != SEGX_T_NUMBER
	        || !segx_numeric(ps->str, ps->tlen, true, false)
	        || !segx_whole(ps->str + neg, ps->tlen - neg, ms)) {
		return segx_fail(ps, ps->pos, "%s", what);
	}
	if (neg) {
		*ms = -*ms;
	}
	return segx_lex(ps);
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

/* count ( TYPE [ where ( item | name ) = string ] , duration ) OP N */
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
	if (!segx_expect(ps, SEGX_T_COMMA, "','")
	        || !segx_duration(ps, &nd->count.window_ms)
	        || !segx_expect(ps, SEGX_T_RPAREN, "')'")) {
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
	if (ps->depth == SEGX_DEPTH_MAX) {
		return segx_fail(ps, ps->pos,
		        "expression nested more than %d deep", SEGX_DEPTH_MAX);
	}
	bool ok;
	ps->depth++;
	if (segx_word(ps, "not")) {
		uint32_t a;
		struct segx_node *nd = segx_node_new(ps, SEGX_NOT, index);
		ok = nd != NULL && segx_lex(ps) && segx_unary(ps, &a);
		if (ok) {
			ps->nodes[*index].a = a;
		}
	} else if (ps->tok == SEGX_T_LPAREN) {
		ok = segx_lex(ps) && segx_or(ps, index)
		        && segx_expect(ps, SEGX_T_RPAREN, "')'");
	} else {
		ok = segx_test(ps, index);
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
