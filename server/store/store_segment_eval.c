/*
 * Evaluating segment programs (core/segexpr.h) for one stored customer:
 * the callbacks of struct segx_subject over its record and touchpoints.
 */
#include "store/segment.h"

#include <string.h>

/* What a count term reads of one stored touchpoint. */
struct segment_tp {
	int64_t at_ms;
	int type;
	const char *item, *name; /* arena copies; "" when none */
};

struct segment_load {
	struct segment_eval *ev;
	size_t cap;
	clm_err err;
};

static int
segment_load_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp)
{
	(void) seq;
	struct segment_load *l = arg;
	struct segment_eval *ev = l->ev;
	struct segment_tp *v
	        = arena_grow(ev->a, ev->tp, ev->n_tp, &l->cap, sizeof(*v));
	if (v == NULL) {
		l->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	ev->tp = v;
	struct segment_tp *t = &ev->tp[ev->n_tp];
	t->at_ms = at_ms;
	t->type = (int) tp->type;
	t->item = arena_strdup(ev->a, tp->item_id ? tp->item_id : "");
	t->name = arena_strdup(ev->a, tp->event_name ? tp->event_name : "");
	if (t->item == NULL || t->name == NULL) {
		l->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	ev->n_tp++;
	return 0;
}

static clm_err
segment_load(struct segment_eval *ev, int64_t from_ms, int64_t to_ms)
{
	struct segment_load l = { ev, 0, CLM_OK };
	ev->tp = NULL;
	ev->n_tp = 0;
	clm_err e = store_touchpoints_scan(ev->txn, ev->rec->cid, from_ms,
	        INT64_MAX, segment_load_fn, &l);
	if (e == CLM_OK) {
		e = l.err;
	}
	ev->loaded = e == CLM_OK;
	ev->from_ms = from_ms;
	ev->to_ms = to_ms;
	return e;
}

static bool
segment_same(const char *s, const char *want, size_t len)
{
	return want == NULL || (strlen(s) == len && memcmp(s, want, len) == 0);
}

static clm_err
segment_count(void *arg, const struct segx_count *c, int64_t to_ms,
        uint64_t *n, int64_t *change_ms)
{
	struct segment_eval *ev = arg;
	int64_t from = to_ms - c->window_ms;
	if (!ev->loaded || ev->to_ms != to_ms || from < ev->from_ms) {
		int64_t w = c->window_ms > ev->window_ms ? c->window_ms
		                                         : ev->window_ms;
		clm_err e = segment_load(ev, to_ms - w, to_ms);
		if (e != CLM_OK) {
			return e;
		}
	}
	uint64_t count = 0;
	int64_t change = INT64_MAX;
	bool oldest = false;
	for (size_t i = 0; i < ev->n_tp; i++) {
		const struct segment_tp *t = &ev->tp[i];
		if (t->at_ms <= from || t->type != c->type
		        || !segment_same(t->item, c->item, c->item_len)
		        || !segment_same(t->name, c->name, c->name_len)) {
			continue;
		}
		if (t->at_ms <= to_ms) {
			if (!oldest) { /* by time: the first leaves first */
				oldest = true;
				change = t->at_ms + c->window_ms;
			}
			count++;
		} else {
			change = t->at_ms < change ? t->at_ms : change;
			break; /* later ones come later still */
		}
	}
	*n = count;
	*change_ms = change;
	return CLM_OK;
}

static bool
segment_trait(void *arg, const char *name, size_t name_len, const char **val,
        size_t *val_len)
{
	const struct segment_eval *ev = arg;
	for (size_t i = 0; i < ev->rec->n_traits; i++) {
		const char *k = ev->rec->traits[i]->key;
		if (strlen(k) == name_len && memcmp(k, name, name_len) == 0) {
			*val = ev->rec->traits[i]->value;
			*val_len = strlen(*val);
			return true;
		}
	}
	return false;
}

static bool
segment_bought(void *arg, const char *item, size_t item_len)
{
	const struct segment_eval *ev = arg;
	for (size_t i = 0; i < ev->rec->n_purchased_items; i++) {
		if (segment_same(
		            ev->rec->purchased_items[i], item, item_len)) {
			return true;
		}
	}
	return false;
}

void
segment_eval_init(struct segment_eval *ev, store_txn *txn,
        const Clm__V1__CustomerRecord *rec, arena *a, int64_t window_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->txn = txn;
	ev->rec = rec;
	ev->a = a;
	ev->window_ms = window_ms;
}

clm_err
segment_eval(struct segment_eval *ev, const segx *x,
        const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now_ms, bool *member,
        int64_t *next_ms)
{
	struct segx_subject s = { .p = p,
		.mp = mp,
		.onb = onb,
		.trait = segment_trait,
		.bought = segment_bought,
		.count = segment_count,
		.arg = ev };
	return segx_eval(x, &s, now_ms, member, next_ms);
}
