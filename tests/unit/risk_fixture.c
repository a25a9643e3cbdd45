/* The shared helpers of the risk tests (risk_fixture.h). */
#include "risk_fixture.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void
pset_custom(struct pset *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->name = "custom";
	ps->mp = (struct model_params) {
		.at_risk_ms = 7 * D,
		.churn_ms = 21 * D,
		.billing_issue_ms = 14 * D,
		.support_ticket_ms = 10 * D,
		.support_tickets = 2,
		.sentiment_window = 3,
		.negative_sentiment = -0.5,
		.refund_ms = 10 * D,
		.weight = {
			[MODEL_INACTIVE] = 0.25,
			[MODEL_RECENT_BILLING_ISSUE] = 0.125,
			[MODEL_SUPPORT_TICKETS] = 0.5,
			[MODEL_NEGATIVE_SENTIMENT] = 0.5,
			[MODEL_RECENT_REFUND] = 0.75,
			[MODEL_SLOW_ONBOARDING] = 0.5,
			[MODEL_SUBSCRIPTION_CANCELLED] = 0.875,
		},
	};
	ps->onb = (struct risk_onboarding) { .known = true,
		.twice_median_ms = 7 * H };
}

void
pset_default(struct pset *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->name = "default";
	model_params_default(&ps->mp);
	ps->onb = (struct risk_onboarding) { .known = true,
		.twice_median_ms = 4 * D };
}

void
psets(struct pset ps[2])
{
	pset_default(&ps[0]);
	pset_custom(&ps[1]);
}

int64_t
len_of(const struct pset *ps, int win)
{
	switch (win) {
	case W_AT_RISK:
		return ps->mp.at_risk_ms;
	case W_CHURN:
		return ps->mp.churn_ms;
	case W_BILLING:
		return ps->mp.billing_issue_ms;
	case W_TICKET:
		return ps->mp.support_ticket_ms;
	case W_REFUND:
		return ps->mp.refund_ms;
	case W_ONB:
		return ps->onb.twice_median_ms;
	default:
		return 0;
	}
}

void
applier_init(struct applier *a)
{
	memset(a, 0, sizeof(*a));
	model_profile_init(&a->p);
}

void
applier_rescan(struct applier *a, const struct model_rescan *r)
{
	const struct model_touch *best = NULL;
	for (size_t i = 0; i < a->n; i++) {
		const struct model_touch *t = &a->log[i];
		if (t->at_ms <= r->after_ms || t->at_ms > r->upto_ms
		        || !model_is_engagement(t->type)) {
			continue;
		}
		if (best == NULL || t->at_ms < best->at_ms
		        || (t->at_ms == best->at_ms && t->seq < best->seq)) {
			best = t;
		}
	}
	if (best != NULL) {
		model_note_engagement(&a->p, best->at_ms);
	}
}

void
applier_touch(struct applier *a, int type, int64_t at_ms, float sentiment)
{
	cr_assert_lt(a->n, MAX_TOUCHES);
	struct model_touch t = {
		.type = type,
		.channel = 1,
		.at_ms = at_ms,
		.seq = ++a->seq,
		.item_id = "",
		.value_micros = type == MODEL_T_PURCHASE ? 1000000 : 0,
		.sentiment = sentiment,
	};
	struct model_rescan r = { .active = false };
	model_apply(&a->p, &t, &r);
	if (r.active) {
		applier_rescan(a, &r);
	}
	a->log[a->n++] = t;
}

void
applier_spec(struct applier *a, const struct pset *ps, const struct spec *s)
{
	applier_touch(
	        a, s->type, T0 + len_of(ps, s->win) + s->off, s->sentiment);
}

size_t
expected_order(const struct model_params *mp, unsigned mask, int *out)
{
	size_t n = 0;
	for (int r = 1; r < MODEL_N_REASONS; r++) {
		if (mask & (1u << r)) {
			out[n++] = r;
		}
	}
	/* Selection sort: a different algorithm from the model's. */
	for (size_t i = 0; i < n; i++) {
		size_t best = i;
		for (size_t j = i + 1; j < n; j++) {
			double wj = mp->weight[out[j]];
			double wb = mp->weight[out[best]];
			if (wj > wb || (wj == wb && out[j] < out[best])) {
				best = j;
			}
		}
		int tmp = out[i];
		out[i] = out[best];
		out[best] = tmp;
	}
	return n;
}

double
expected_score(const struct model_params *mp, unsigned mask)
{
	int order[MODEL_N_REASONS];
	size_t n = expected_order(mp, mask, order);
	double keep = 1.0;
	for (size_t i = 0; i < n; i++) {
		keep *= 1.0 - mp->weight[order[i]];
	}
	return 1.0 - keep;
}

const char *const reason_names[MODEL_N_REASONS] = { "NONE", "INACTIVE",
	"RECENT_BILLING_ISSUE", "SUPPORT_TICKETS", "NEGATIVE_SENTIMENT",
	"RECENT_REFUND", "SLOW_ONBOARDING", "SUBSCRIPTION_CANCELLED" };

void
mask_str(unsigned mask, char *buf, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int r = 1; r < MODEL_N_REASONS; r++) {
		if ((mask & (1u << r)) && used < n) {
			int w = snprintf(buf + used, n - used, "%s%s",
			        used ? "," : "", reason_names[r]);
			used += w > 0 ? (size_t) w : 0;
		}
	}
}

void
check_risk(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now, unsigned mask,
        bool exact, const char *ctx)
{
	int got[MODEL_N_REASONS];
	size_t n = 99;
	double score = risk_score(p, mp, onb, now, got, &n);
	unsigned got_mask = 0;
	for (size_t i = 0; i < n && i < MODEL_N_REASONS; i++) {
		got_mask |= 1u << got[i];
	}
	char gs[160], ws[160];
	mask_str(got_mask, gs, sizeof(gs));
	mask_str(mask, ws, sizeof(ws));
	cr_assert_eq(
	        got_mask, mask, "%s: reasons {%s}, want {%s}", ctx, gs, ws);
	int want[MODEL_N_REASONS];
	size_t nw = expected_order(mp, mask, want);
	cr_assert_eq(n, nw, "%s: %zu reasons, want %zu", ctx, n, nw);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(got[i], want[i], "%s: reasons[%zu] = %s, want %s",
		        ctx, i, reason_names[got[i]], reason_names[want[i]]);
	}
	double ws_score = expected_score(mp, mask);
	if (exact) {
		cr_assert(score == ws_score, "%s: score %.17g, want %.17g",
		        ctx, score, ws_score);
	} else {
		cr_assert(fabs(score - ws_score) <= 1e-12,
		        "%s: score %.17g, want %.17g", ctx, score, ws_score);
	}
}