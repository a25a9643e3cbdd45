/*
 * Evaluating segment programs (core/segexpr.h) for one stored customer:
 * the callbacks of struct segx_subject over its record and touchpoints.
 */
#include "store/segment.h"
#include "store/store_internal.h"

#include <string.h>

#include "util/log.h"

/* What a count term reads of one stored touchpoint. */
struct segment_tp {
	int64_t at_ms;
	int type;
	const char *item, *name; /* arena copies; "" when none */
};

/*
 * What a count term reads of a stored Touchpoint, straight from its wire
 * bytes: type (field 4), item_id (7), event_name (15). A full unpack
 * allocates every field, and a customer's window may hold hundreds of
 * touchpoints evaluated at every write about them. Returns false for
 * bytes that are not a message.
 */
static bool
segment_brief(const unsigned char *p, size_t n, struct segment_tp *t,
        size_t *item_len, size_t *name_len)
{
	size_t i = 0;
	t->type = 0;
	t->item = t->name = NULL;
	*item_len = *name_len = 0;
	while (i < n) {
		uint64_t tag = 0, v = 0;
		for (int sh = 0;; sh += 7) {
			if (i == n || sh > 63) {
				return false;
			}
			tag |= (uint64_t) (p[i] & 0x7f) << sh;
			if ((p[i++] & 0x80) == 0) {
				break;
			}
		}
		unsigned wt = (unsigned) (tag & 7),
		         field = (unsigned) (tag >> 3);
		if (wt == 0 || wt == 2) {
			for (int sh = 0;; sh += 7) {
				if (i == n || sh > 63) {
					return false;
				}
				v |= (uint64_t) (p[i] & 0x7f) << sh;
				if ((p[i++] & 0x80) == 0) {
					break;
				}
			}
		}
		if (wt == 0) {
			if (field == 4) {
				t->type = (int) v;
			}
		} else if (wt == 2) {
			if (v > n - i) {
				return false;
			}
			if (field == 7) {
				t->item = (const char *) p + i;
				*item_len = (size_t) v;
			} else if (field == 15) {
				t->name = (const char *) p + i;
				*name_len = (size_t) v;
			}
			i += (size_t) v;
		} else if (wt == 1 || wt == 5) {
			size_t w = wt == 1 ? 8 : 4;
			if (w > n - i) {
				return false;
			}
			i += w;
		} else {
			return false;
		}
	}
	return true;
}

static char *
segment_copy(arena *a, const char *s, size_t n)
{
	return n == 0 ? (char *) "" : arena_strndup(a, s, n);
}

/*
 * Loads the customer's touchpoints with event time in (from_ms, +inf),
 * for counts at to_ms and their next change after it.
 */
static clm_err
segment_load(struct segment_eval *ev, int64_t from_ms, int64_t to_ms)
{
	store_txn *t = ev->txn;
	ev->tp = NULL;
	ev->n_tp = 0;
	ev->loaded = false;
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_TOUCHPOINTS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char key[24];
	store_u64_be(key, ev->rec->cid);
	store_u64_be(key + 8, from_ms < 0 ? 0 : (uint64_t) from_ms + 1);
	store_u64_be(key + 16, 0);
	MDB_val k = { sizeof(key), key }, v;
	size_t cap = 0;
	clm_err e = CLM_OK;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *kp = k.mv_data;
		if (k.mv_size != 24 || store_be_u64(kp) != ev->rec->cid) {
			break;
		}
		struct segment_tp *arr = arena_grow(
		        ev->a, ev->tp, ev->n_tp, &cap, sizeof(*arr));
		if (arr == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
			break;
		}
		ev->tp = arr;
		struct segment_tp *tp = &arr[ev->n_tp];
		size_t il, nl;
		if (!segment_brief(v.mv_data, v.mv_size, tp, &il, &nl)) {
			log_error("touchpoint of cid %llu does not decode",
			        (unsigned long long) ev->rec->cid);
			e = CLM_DATA_LOSS;
			break;
		}
		/* Values die with the next write: copy what is kept. */
		tp->at_ms = (int64_t) store_be_u64(kp + 8);
		tp->item = segment_copy(ev->a, tp->item, il);
		tp->name = segment_copy(ev->a, tp->name, nl);
		if (tp->item == NULL || tp->name == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
			break;
		}
		ev->n_tp++;
	}
	kv_cursor_close(cur);
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		e = store_err(t->s, rc, "cannot scan touchpoints");
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
	if (c->type > 0 && c->type < MODEL_N_TYPES
	        && ev->p->touch_counts[c->type] == 0) {
		*n = 0; /* none of that type stored: nothing to read */
		*change_ms = INT64_MAX;
		return CLM_OK;
	}
	/*
	 * What is loaded is every touchpoint after from_ms, so it answers
	 * any instant whose window starts no earlier: a walk over a
	 * customer's instants loads once.
	 */
	if (!ev->loaded || from < ev->from_ms) {
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
			/*
			 * A since_entry window only grows (its start is the
			 * entry): nothing in it ever leaves.
			 */
			if (!oldest && !c->since_entry) {
				/* by time: the first leaves first */
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
	ev->p = p;
	struct segx_subject s = { .p = p,
		.mp = mp,
		.onb = onb,
		.trait = segment_trait,
		.bought = segment_bought,
		.count = segment_count,
		.arg = ev,
		.entry_ms = ev->entry_ms };
	return segx_eval(x, &s, now_ms, member, next_ms);
}
