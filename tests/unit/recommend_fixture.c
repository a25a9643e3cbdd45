/* The shared helpers of the recommendation tests (recommend_fixture.h). */
#include "recommend_fixture.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

void
prof_init(struct prof *f)
{
	memset(f, 0, sizeof(*f));
	model_profile_init(&f->p);
}

void
prof_add_kind(struct prof *f, int type, int channel, int64_t at_ms,
        const char *item, int kind)
{
	struct model_touch t = {
		.type = type,
		.channel = channel,
		.at_ms = at_ms,
		.seq = ++f->seq,
		.item_id = item != NULL ? item : "",
		.kind = kind,
	};
	struct model_rescan r;
	model_apply(&f->p, &t, &r);
}

void
prof_add(struct prof *f, int type, int64_t at_ms, const char *item)
{
	prof_add_kind(f, type, CH_DIRECT, at_ms, item, 0);
}

void
prof_msg(struct prof *f, int ch, int64_t at_ms, int kind)
{
	prof_add_kind(f, MODEL_T_MESSAGE_SENT, ch, at_ms, NULL, kind);
}

struct recommend_input
input_for(const struct prof *f, int64_t now_ms)
{
	struct model_params mp;
	model_params_default(&mp);
	struct recommend_input in = {
		.p = &f->p,
		.stage = model_stage(&f->p),
		.funnel = model_funnel(&f->p),
		.health = risk_health(&f->p, &mp, now_ms),
		.now_ms = now_ms,
		.upgrade_to = "",
	};
	return in;
}

void
build_ex(const struct recommend_input *in, const struct recommend_params *rp,
        size_t limit, bool include_suppressed, bool claim, struct recs *out)
{
	memset(out, 0, sizeof(*out));
	out->n = recommend_build(
	        in, rp, limit, include_suppressed, claim, out->r);
	cr_assert_leq(
	        out->n, limit, "%zu results for limit %zu", out->n, limit);
	cr_assert_leq(out->n, REC_MAX);
}

void
build(const struct recommend_input *in, struct recs *out)
{
	struct recommend_params rp;
	recommend_params_default(&rp);
	build_ex(in, &rp, REC_MAX, true, false, out);
}

size_t
count_kind(const struct recs *s, int kind)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		n += s->r[i].kind == kind;
	}
	return n;
}

const struct recommendation *
find_kind(const struct recs *s, int kind)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].kind == kind) {
			return &s->r[i];
		}
	}
	return NULL;
}

const struct recommendation *
only_kind(const struct recs *s, int kind, const char *what)
{
	cr_assert_eq(count_kind(s, kind), 1,
	        "%s: %zu recommendations of kind %d", what,
	        count_kind(s, kind), kind);
	return find_kind(s, kind);
}

bool
near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}
