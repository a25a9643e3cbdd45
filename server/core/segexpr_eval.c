/*
 * segexpr_eval: evaluation of a compiled segment expression over one
 * customer at an instant, and the next instant its answer may change.
 *
 * Each node gives its value and the earliest instant after now at which
 * that value may change with no new write (INT64_MAX: never). 'and' and
 * 'or' short-circuit: when the left operand decides, the whole keeps its
 * value at least until the left operand changes, so its instant alone
 * bounds the whole. Otherwise the bound is the earlier of the two.
 */
#include "core/segexpr_impl.h"

#include <string.h>

/* What one evaluation computes at most once, on first use. */
struct segx_ctx {
	const struct segx_subject *s;
	int64_t now;
	int stage, funnel, health; /* -1: not yet */
	bool scored;
	double churn_risk;
	unsigned reasons; /* bit r: reason r holds */
};

/* a + b, saturating at INT64_MAX (b >= 0). */
static int64_t
segx_add(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/*
 * The count term to ask the callback for: c itself, or for since_entry a
 * copy in *tmp whose window is (entry_ms, now] (empty when the entry is
 * not before now). The answer may then change only when a touchpoint
 * after now enters the window, which the callback's change instant never
 * comes after: it stays early, never late.
 */
static const struct segx_count *
segx_window(const struct segx_ctx *c, const struct segx_count *t,
        struct segx_count *tmp)
{
	if (!t->since_entry) {
		return t;
	}
	*tmp = *t;
	if (c->s->entry_ms >= c->now) {
		tmp->window_ms = 0;
	} else if (__builtin_sub_overflow(
	                   c->now, c->s->entry_ms, &tmp->window_ms)) {
		tmp->window_ms = INT64_MAX;
	}
	return tmp;
}

/* The earlier of *next and at, counting at only when it is after now. */
static void
segx_bound(int64_t *next, int64_t at, int64_t now)
{
	if (at > now && at < *next) {
		*next = at;
	}
}

static bool
segx_cmp_i64(int64_t a, int op, int64_t b)
{
	switch (op) {
	case SEGX_EQ:
		return a == b;
	case SEGX_NE:
		return a != b;
	case SEGX_LT:
		return a < b;
	case SEGX_LE:
		return a <= b;
	case SEGX_GT:
		return a > b;
	default:
		return a >= b;
	}
}

static bool
segx_cmp_f64(double a, int op, double b)
{
	switch (op) {
	case SEGX_EQ:
		return a == b;
	case SEGX_NE:
		return a != b;
	case SEGX_LT:
		return a < b;
	case SEGX_LE:
		return a <= b;
	case SEGX_GT:
		return a > b;
	default:
		return a >= b;
	}
}

/* Byte by byte; a shorter string before the longer it begins. */
static bool
segx_cmp_bytes(const char *a, size_t an, int op, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c == 0) {
		c = an < bn ? -1 : (an > bn ? 1 : 0);
	}
	return segx_cmp_i64(c, op, 0);
}

/* The instant reason r may start or stop holding (INT64_MAX: never). */
static int64_t
segx_reason_next(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now, int r)
{
	int64_t took, at = INT64_MAX;
	/*
	 * Each time-dependent reason is "now - t <= window" (or its negation)
	 * for a t of the profile: it flips once, at t + window + 1, also when
	 * t lies in the future.
	 */
	switch (r) {
	case MODEL_INACTIVE:
		if (p->first_seen_ms != 0) {
			at = segx_add(
			        p->last_seen_ms, segx_add(mp->at_risk_ms, 1));
		}
		break;
	case MODEL_RECENT_BILLING_ISSUE:
		if (p->last_billing_issue_ms != 0) {
			at = segx_add(p->last_billing_issue_ms,
			        segx_add(mp->billing_issue_ms, 1));
		}
		break;
	case MODEL_SUPPORT_TICKETS:
		if (mp->support_tickets > 0
		        && p->n_tickets >= mp->support_tickets) {
			at = segx_add(p->ticket_ms[mp->support_tickets - 1],
			        segx_add(mp->support_ticket_ms, 1));
		}
		break;
	case MODEL_RECENT_REFUND:
		if (p->last_refund_ms != 0) {
			at = segx_add(
			        p->last_refund_ms, segx_add(mp->refund_ms, 1));
		}
		break;
	case MODEL_SLOW_ONBOARDING:
		if (onb != NULL && onb->known && p->first_signup_ms != 0
		        && !risk_onboarding_ms(p, &took)) {
			at = segx_add(p->first_signup_ms,
			        segx_add(onb->twice_median_ms, 1));
		}
		break;
	default:
		break; /* NEGATIVE_SENTIMENT, SUBSCRIPTION_CANCELLED */
	}
	return at > now ? at : INT64_MAX;
}

/* The instant risk_health may change (INT64_MAX: never). */
static int64_t
segx_health_next(const struct model_profile *p, const struct model_params *mp,
        int64_t now)
{
	int64_t next = INT64_MAX;
	if (p->first_seen_ms == 0 || model_cancelled(p)) {
		return next;
	}
	segx_bound(&next,
	        segx_add(p->last_seen_ms, segx_add(mp->at_risk_ms, 1)), now);
	segx_bound(&next, segx_add(p->last_seen_ms, segx_add(mp->churn_ms, 1)),
	        now);
	return next;
}

int64_t
segx_model_next_change(const struct model_profile *p,
        const struct model_params *mp, const struct risk_onboarding *onb,
        int64_t now_ms)
{
	int64_t next = segx_health_next(p, mp, now_ms);
	for (int r = 1; r < MODEL_N_REASONS; r++) {
		segx_bound(&next, segx_reason_next(p, mp, onb, now_ms, r),
		        now_ms);
	}
	return next;
}

static void
segx_score(struct segx_ctx *c)
{
	int reasons[MODEL_N_REASONS];
	size_t n;
	c->churn_risk = risk_score(
	        c->s->p, c->s->mp, c->s->onb, c->now, reasons, &n);
	c->reasons = 0;
	for (size_t i = 0; i < n; i++) {
		c->reasons |= 1u << reasons[i];
	}
	c->scored = true;
}

static int
segx_enum_value(struct segx_ctx *c, int field)
{
	const struct model_profile *p = c->s->p;
	switch (field) {
	case SEGX_F_STAGE:
		if (c->stage < 0) {
			c->stage = model_stage(p);
		}
		return c->stage;
	case SEGX_F_HEALTH:
		if (c->health < 0) {
			c->health = risk_health(p, c->s->mp, c->now);
		}
		return c->health;
	case SEGX_F_FUNNEL:
		if (c->funnel < 0) {
			c->funnel = model_funnel(p);
		}
		return c->funnel;
	case SEGX_F_ACQUISITION:
		return p->acquisition_channel;
	default:
		return p->conversion_channel;
	}
}

static double
segx_number_value(struct segx_ctx *c, int field)
{
	const struct model_profile *p = c->s->p;
	switch (field) {
	case SEGX_F_PURCHASES:
		return p->purchases;
	case SEGX_F_REFUNDS:
		return p->refunds;
	case SEGX_F_REFERRALS:
		return p->referrals;
	case SEGX_F_REVENUE:
		return model_money(p->purchase_micros - p->refund_micros);
	default:
		if (!c->scored) {
			segx_score(c);
		}
		return c->churn_risk;
	}
}

/* Whether v (n bytes) is a whole decimal number, -?[0-9]+, in *out. */
static bool
segx_trait_int(const char *v, size_t n, int64_t *out)
{
	size_t i = 0;
	bool neg = n > 0 && v[0] == '-';
	i += neg;
	if (i == n) {
		return false;
	}
	int64_t r = 0;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			return false;
		}
		/* Accumulate negatively so INT64_MIN fits. */
		if (__builtin_mul_overflow(r, 10, &r)
		        || __builtin_sub_overflow(r, v[i] - '0', &r)) {
			return false;
		}
	}
	if (!neg && r == INT64_MIN) {
		return false;
	}
	*out = neg ? r : -r;
	return true;
}

static bool
segx_trait(struct segx_ctx *c, const struct segx_node *nd)
{
	const char *v;
	size_t vn;
	int64_t iv;
	if (c->s->trait == NULL
	        || !c->s->trait(c->s->arg, nd->s, nd->s_len, &v, &vn)) {
		return nd->op == SEGX_NE;
	}
	if (nd->is_str) {
		return segx_cmp_bytes(v, vn, nd->op, nd->v, nd->v_len);
	}
	if (!segx_trait_int(v, vn, &iv)) {
		return nd->op == SEGX_NE;
	}
	return nd->is_int ? segx_cmp_i64(iv, nd->op, nd->i)
	                  : segx_cmp_f64((double) iv, nd->op, nd->d);
}

static bool
segx_cart(const struct model_profile *p, const struct segx_node *nd)
{
	size_t idx[MODEL_CART_MAX];
	size_t n = model_cart(p, idx);
	for (size_t i = 0; i < n; i++) {
		const char *id = p->cart[idx[i]].item_id;
		if (strlen(id) == nd->s_len
		        && memcmp(id, nd->s, nd->s_len) == 0) {
			return true;
		}
	}
	return false;
}

/* since(x) OP d: now - x against d. */
static bool
segx_since(struct segx_ctx *c, const struct segx_node *nd, int64_t *next)
{
	const struct model_profile *p = c->s->p;
	int64_t x = nd->field == SEGX_F_FIRST_SEEN ? p->first_seen_ms
	                                           : p->last_seen_ms;
	if (x == 0) {
		return false;
	}
	/* > and <= flip at x + d + 1, >= and < at x + d, = and != at both. */
	int64_t at = segx_add(x, nd->i);
	if (nd->op != SEGX_GT && nd->op != SEGX_LE) {
		segx_bound(next, at, c->now);
	}
	if (nd->op != SEGX_GE && nd->op != SEGX_LT) {
		segx_bound(next, segx_add(at, 1), c->now);
	}
	int64_t since;
	if (__builtin_sub_overflow(c->now, x, &since)) {
		since = c->now > x ? INT64_MAX : INT64_MIN;
	}
	return segx_cmp_i64(since, nd->op, nd->i);
}

static clm_err
segx_node_eval(
        struct segx_ctx *c, const segx *x, uint32_t i, bool *v, int64_t *next)
{
	const struct segx_node *nd = &x->nodes[i];
	const struct segx_subject *s = c->s;
	int64_t na = INT64_MAX, nb = INT64_MAX, change;
	uint64_t n;
	struct segx_count since;
	clm_err e;
	*next = INT64_MAX;
	switch (nd->kind) {
	case SEGX_AND:
	case SEGX_OR:
		if ((e = segx_node_eval(c, x, nd->a, v, &na)) != CLM_OK) {
			return e;
		}
		*next = na;
		if (*v == (nd->kind == SEGX_OR)) {
			return CLM_OK; /* decided until the left side changes
			                */
		}
		if ((e = segx_node_eval(c, x, nd->b, v, &nb)) != CLM_OK) {
			return e;
		}
		*next = na < nb ? na : nb;
		return CLM_OK;
	case SEGX_NOT:
		if ((e = segx_node_eval(c, x, nd->a, v, next)) != CLM_OK) {
			return e;
		}
		*v = !*v;
		return CLM_OK;
	case SEGX_ENUM:
		*v = segx_cmp_i64(
		        segx_enum_value(c, nd->field), nd->op, nd->i);
		if (nd->field == SEGX_F_HEALTH) {
			*next = segx_health_next(s->p, s->mp, c->now);
		}
		return CLM_OK;
	case SEGX_NUMBER:
		*v = segx_cmp_f64(
		        segx_number_value(c, nd->field), nd->op, nd->d);
		if (nd->field == SEGX_F_CHURN_RISK) {
			for (int r = 1; r < MODEL_N_REASONS; r++) {
				segx_bound(next,
				        segx_reason_next(s->p, s->mp, s->onb,
				                c->now, r),
				        c->now);
			}
		}
		return CLM_OK;
	case SEGX_INSTANT:
		*v = segx_cmp_i64(nd->field == SEGX_F_FIRST_SEEN
		                ? s->p->first_seen_ms
		                : s->p->last_seen_ms,
		        nd->op, nd->i);
		return CLM_OK;
	case SEGX_TRAIT:
		*v = segx_trait(c, nd);
		return CLM_OK;
	case SEGX_RISK:
		if (!c->scored) {
			segx_score(c);
		}
		*v = (c->reasons >> nd->i) & 1u;
		*next = segx_reason_next(
		        s->p, s->mp, s->onb, c->now, (int) nd->i);
		return CLM_OK;
	case SEGX_CART:
		*v = segx_cart(s->p, nd);
		return CLM_OK;
	case SEGX_BOUGHT:
		*v = s->bought != NULL && s->bought(s->arg, nd->s, nd->s_len);
		return CLM_OK;
	case SEGX_COUNT:
		if (s->count == NULL) {
			return CLM_INTERNAL;
		}
		e = s->count(s->arg, segx_window(c, &nd->count, &since),
		        c->now, &n, &change);
		if (e != CLM_OK) {
			return e;
		}
		*v = segx_cmp_i64(n > INT64_MAX ? INT64_MAX : (int64_t) n,
		        nd->op, nd->i);
		segx_bound(next, change, c->now);
		return CLM_OK;
	default:
		*v = segx_since(c, nd, next);
		return CLM_OK;
	}
}

clm_err
segx_eval(const segx *x, const struct segx_subject *s, int64_t now_ms,
        bool *member, int64_t *next_ms)
{
	struct segx_ctx c = {
		.s = s,
		.now = now_ms,
		.stage = -1,
		.funnel = -1,
		.health = -1,
	};
	bool v;
	int64_t next;
	clm_err e = segx_node_eval(&c, x, x->root, &v, &next);
	if (e != CLM_OK) {
		return e;
	}
	*member = v;
	*next_ms = next;
	return CLM_OK;
}
