/* model_fixture: see model_fixture.h. */
#include "model_fixture.h"

#include <criterion/criterion.h>
#include <string.h>

/* A touchpoint without item or value, for direct model_apply calls. */
struct model_touch
touch(int type, int channel, int64_t at_ms, uint64_t seq)
{
	struct model_touch t = {
		.type = type,
		.channel = channel,
		.at_ms = at_ms,
		.seq = seq,
		.item_id = "",
	};
	return t;
}

void
applier_init(struct applier *a, bool first_only)
{
	memset(a, 0, sizeof(*a));
	model_profile_init(&a->p);
	a->first_only = first_only;
}

void
applier_rescan(struct applier *a, const struct model_rescan *r)
{
	size_t idx[MAX_TOUCHES];
	for (size_t i = 0; i < a->n; i++) {
		size_t v = i, j = i;
		while (j > 0) {
			const struct model_touch *x = &a->log[idx[j - 1]];
			const struct model_touch *y = &a->log[v];
			if (x->at_ms < y->at_ms
			        || (x->at_ms == y->at_ms && x->seq < y->seq)) {
				break;
			}
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct model_touch *t = &a->log[idx[i]];
		if (t->at_ms <= r->after_ms || t->at_ms > r->upto_ms
		        || !model_is_engagement(t->type)) {
			continue;
		}
		model_note_engagement(&a->p, t->at_ms);
		if (a->first_only) {
			break;
		}
	}
}

void
applier_apply(struct applier *a, const struct spec *s)
{
	cr_assert_lt(a->n, MAX_TOUCHES);
	struct model_touch t = {
		.type = s->type,
		.channel = s->channel,
		.at_ms = T0 + s->at,
		.seq = ++a->seq,
		.item_id = s->item != NULL ? s->item : "",
		.value_micros = s->micros,
	};
	/* Garbage in: model_apply must always set the out-parameter. */
	struct model_rescan r
	        = { .active = true, .after_ms = 1, .upto_ms = 2 };
	model_apply(&a->p, &t, &r);
	if (r.active) {
		a->rescans++;
		applier_rescan(a, &r);
	}
	a->log[a->n++] = t;
}

void
applier_run(struct applier *a, const struct spec *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		applier_apply(a, &s[i]);
	}
}

/* Item ids in the cart, in model_cart order. */
size_t
cart_ids(const struct model_profile *p, const char *out[MODEL_CART_MAX])
{
	size_t idx[MODEL_CART_MAX];
	size_t n = model_cart(p, idx);
	for (size_t i = 0; i < n; i++) {
		out[i] = p->cart[idx[i]].item_id;
	}
	return n;
}

/* Asserts the cart is exactly the NULL-terminated list want, in order. */
void
assert_cart(const struct model_profile *p, const char *const *want,
        const char *what)
{
	const char *got[MODEL_CART_MAX];
	size_t n = cart_ids(p, got);
	size_t w = 0;
	while (want[w] != NULL) {
		w++;
	}
	cr_assert_eq(n, w, "%s: cart has %zu items, want %zu", what, n, w);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(got[i], want[i], "%s: cart[%zu]", what, i);
	}
}
