#include "core/agg.h"

#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "core/hll.h"

const int agg_pairs[AGG_N_PAIRS][2] = {
	{ MODEL_REACH, MODEL_ACQUISITION },
	{ MODEL_ACQUISITION, MODEL_NURTURE },
	{ MODEL_NURTURE, MODEL_RETENTION },
	{ MODEL_RETENTION, MODEL_ADVOCACY },
	{ MODEL_REACH, MODEL_ADVOCACY },
	{ MODEL_ACQUISITION, MODEL_RETENTION },
};

uint32_t
agg_day(int64_t ms)
{
	if (ms <= 0) {
		return 0;
	}
	int64_t d = ms / MODEL_DAY_MS;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t) d;
}

uint32_t
agg_period(int gran, uint32_t day)
{
	int64_t y;
	int m, d;
	switch (gran) {
	case AGG_GRAN_DAY:
		return day;
	case AGG_GRAN_WEEK:
		return day - (day + 3) % 7; /* 1970-01-01 was a Thursday */
	default:
		civil_from_days(day, &y, &m, &d);
		return (uint32_t) (y * 12 + m - 1);
	}
}

uint32_t
agg_period_start(int gran, uint32_t period)
{
	if (gran != AGG_GRAN_MONTH) {
		return period;
	}
	return (uint32_t) civil_to_days(
	        period / 12, (int) (period % 12) + 1, 1);
}

uint32_t
agg_period_next(int gran, uint32_t period)
{
	switch (gran) {
	case AGG_GRAN_DAY:
		return period + 1;
	case AGG_GRAN_WEEK:
		return period + 7;
	default:
		return period + 1;
	}
}

/* How many periods `later` is after `first` (both period numbers). */
static uint32_t
agg_periods_between(int gran, uint32_t first, uint32_t later)
{
	return gran == AGG_GRAN_WEEK ? (later - first) / 7 : later - first;
}

void
agg_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

size_t
agg_exp_key(unsigned char *key, const char *experiment_id, uint32_t variant)
{
	uint64_t h = hll_hash(experiment_id, strlen(experiment_id));
	key[0] = AGG_EXP;
	agg_put_u32(key + 1, (uint32_t) (h >> 32));
	agg_put_u32(key + 5, (uint32_t) h);
	key[9] = (unsigned char) (variant >> 8);
	key[10] = (unsigned char) variant;
	return 11;
}

uint64_t
agg_visitor_hash(const char *id, bool anonymous)
{
	/* The two id spaces are apart, as in `customers`. */
	uint64_t h = hll_hash(id, strlen(id));
	return anonymous ? hll_mix(h ^ 0x9e3779b97f4a7c15ULL) : h;
}

/* Appends an entry; key bytes are given as a kind, then parts. */
static struct agg_entry *
agg_push(arena *a, struct agg_list *l)
{
	struct agg_entry *e = arena_grow(a, l->e, l->n, &l->cap, sizeof(*e));
	if (e == NULL) {
		return NULL;
	}
	l->e = e;
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* kind [byte] [u32] [u32]: b < 0 / x, y unused when has_* is false. */
static int
agg_add(arena *a, struct agg_list *l, int kind, int b, bool has_x, uint32_t x,
        bool has_y, uint32_t y, int64_t v0, int64_t v1)
{
	struct agg_entry *e = agg_push(a, l);
	if (e == NULL) {
		return -1;
	}
	size_t n = 0;
	e->key[n++] = (unsigned char) kind;
	if (b >= 0) {
		e->key[n++] = (unsigned char) b;
	}
	if (has_x) {
		agg_put_u32(e->key + n, x);
		n += 4;
	}
	if (has_y) {
		agg_put_u32(e->key + n, y);
		n += 4;
	}
	e->klen = (uint8_t) n;
	e->v[0] = v0;
	e->v[1] = v1;
	return 0;
}

/* kind day channel: NEWVIS, NEWCUST. */
static int
agg_add_dc(arena *a, struct agg_list *l, int kind, uint32_t day, int channel,
        int64_t v0, int64_t v1)
{
	if (agg_add(a, l, kind, -1, true, day, false, 0, v0, v1) != 0) {
		return -1;
	}
	struct agg_entry *e = &l->e[l->n - 1];
	e->key[e->klen++] = (unsigned char) channel;
	return 0;
}

int
agg_entry_cmp(const void *pa, const void *pb)
{
	const struct agg_entry *x = pa, *y = pb;
	size_t m = x->klen < y->klen ? x->klen : y->klen;
	/* Keys are short and mostly differ in the kind byte: no memcmp. */
	for (size_t i = 0; i < m; i++) {
		if (x->key[i] != y->key[i]) {
			return x->key[i] < y->key[i] ? -1 : 1;
		}
	}
	return (x->klen > y->klen) - (x->klen < y->klen);
}

/* Sorts l and merges equal keys (their counters summed). */
static void
agg_normalize(struct agg_list *l)
{
	if (l->n == 0) {
		return;
	}
	/*
	 * The lists come nearly sorted (agg_lifecycle pushes kind by
	 * kind) and short, except cohort cells: insertion sort for those
	 * that are, where qsort's merge sort cost a fifth of a
	 * touchpoint's apply (issue 14's profile).
	 */
	if (l->n <= 64) {
		for (size_t i = 1; i < l->n; i++) {
			struct agg_entry x = l->e[i];
			size_t j = i;
			for (; j > 0 && agg_entry_cmp(&l->e[j - 1], &x) > 0;
			        j--) {
				l->e[j] = l->e[j - 1];
			}
			l->e[j] = x;
		}
	} else {
		qsort(l->e, l->n, sizeof(*l->e), agg_entry_cmp);
	}
	size_t w = 0;
	for (size_t i = 1; i < l->n; i++) {
		if (agg_entry_cmp(&l->e[w], &l->e[i]) == 0) {
			for (int k = 0; k < 4; k++) {
				l->e[w].v[k] += l->e[i].v[k];
			}
		} else {
			l->e[++w] = l->e[i];
		}
	}
	l->n = w + 1;
}

static int
agg_cohorts(const uint32_t *days, size_t n_days, arena *a, struct agg_list *l)
{
	if (n_days == 0) {
		return 0;
	}
	static const int grans[]
	        = { AGG_GRAN_DAY, AGG_GRAN_WEEK, AGG_GRAN_MONTH };
	for (size_t g = 0; g < sizeof(grans) / sizeof(grans[0]); g++) {
		uint32_t p0 = agg_period(grans[g], days[0]);
		uint32_t last_k = UINT32_MAX;
		for (size_t i = 0; i < n_days; i++) {
			uint32_t p = agg_period(grans[g], days[i]);
			uint32_t k = agg_periods_between(grans[g], p0, p);
			if (k == last_k) {
				/* Days ascend: equal k are adjacent. */
				continue;
			}
			last_k = k;
			if (agg_add(a, l, AGG_COHORT, grans[g], true, p0, true,
			            k, 1, 0)
			        != 0) {
				return -1;
			}
		}
	}
	return 0;
}

static int
agg_experiments(
        const Clm__V1__CustomerRecord *rec, arena *a, struct agg_list *l)
{
	for (size_t i = 0; i < rec->n_experiments; i++) {
		const Clm__V1__ExperimentEntry *x = rec->experiments[i];
		struct agg_entry *e = agg_push(a, l);
		if (e == NULL) {
			return -1;
		}
		e->klen = (uint8_t) agg_exp_key(
		        e->key, x->experiment_id, x->variant);
		e->v[0] = 1;
		e->v[1] = x->converted_ms != 0;
	}
	return 0;
}

/* Contributions that exist once the customer has a stage. */
static int
agg_lifecycle(const struct model_profile *p, arena *a, struct agg_list *l)
{
	int stage = model_stage(p);
	if (stage == MODEL_STAGE_NONE) {
		return 0;
	}
	bool cancelled = model_cancelled(p);
	bool purchaser = p->purchases > 0;
	int64_t at[MODEL_N_STAGES];
	model_reached_at(p, at);
	struct model_stage_entry hist[MODEL_N_STAGES];
	size_t nh = model_history(p, hist);

	int rc = agg_add(
	        a, l, AGG_STAGE, stage, false, 0, false, 0, 1, cancelled);
	if (!cancelled) {
		rc |= agg_add(a, l, AGG_HEALTH, stage, true,
		        agg_day(p->last_seen_ms), false, 0, 1, 0);
	}
	for (size_t i = 0; i < nh; i++) {
		rc |= agg_add(a, l, AGG_ENTERED, hist[i].stage, true,
		        agg_day(hist[i].entered_ms), false, 0, 1, 0);
	}
	for (int s = MODEL_REACH; s < MODEL_N_STAGES; s++) {
		if (at[s] != 0) {
			rc |= agg_add(a, l, AGG_REACHED, s, true,
			        agg_day(at[s]), false, 0, 1, 0);
		}
	}
	for (int i = 0; i < AGG_N_PAIRS; i++) {
		int64_t f = at[agg_pairs[i][0]], t = at[agg_pairs[i][1]];
		if (f == 0) {
			continue;
		}
		rc |= agg_add(
		        a, l, AGG_CONV, i, true, agg_day(f), true, 0, 1, 0);
		if (t != 0) {
			/* ceil(lag / day): lag <= N days iff this <= N. */
			int64_t lag = t - f;
			uint32_t days = (uint32_t) ((lag + MODEL_DAY_MS - 1)
			        / MODEL_DAY_MS);
			rc |= agg_add(a, l, AGG_CONV, i, true, agg_day(f),
			        true, days + 1, 1, 0);
		}
	}
	rc |= agg_add_dc(a, l, AGG_NEWVIS, agg_day(p->first_seen_ms),
	        p->acquisition_channel, 1, 0);
	if (purchaser) {
		uint32_t fp = agg_day(p->first_purchase_ms);
		rc |= agg_add_dc(
		        a, l, AGG_NEWCUST, fp, p->acquisition_channel, 1, 0);
		rc |= agg_add_dc(
		        a, l, AGG_NEWCUST, fp, p->conversion_channel, 0, 1);
		if (p->second_purchase_ms != 0) {
			rc |= agg_add(a, l, AGG_SECOND, -1, true,
			        agg_day(p->second_purchase_ms), false, 0, 1,
			        0);
		}
		if (cancelled) {
			rc |= agg_add(a, l, AGG_CANCEL_FP, -1, true, fp, false,
			        0, 1, 0);
		}
		struct agg_entry *e = agg_push(a, l);
		if (e == NULL) {
			return -1;
		}
		e->key[0] = AGG_TOTALS;
		e->klen = 1;
		e->v[0] = p->second_purchase_ms != 0;
		e->v[1] = at[MODEL_ADVOCACY] != 0;
		e->v[2] = cancelled;
	}
	return rc;
}

int
agg_customer_part(const struct model_profile *p,
        const Clm__V1__CustomerRecord *rec, bool cohorts, arena *a,
        struct agg_list *out)
{
	out->e = NULL;
	out->n = out->cap = 0;
	if (agg_lifecycle(p, a, out) != 0 || agg_experiments(rec, a, out) != 0
	        || (cohorts
	                && agg_cohorts(rec->purchase_days,
	                           rec->n_purchase_days, a, out)
	                        != 0)) {
		return -1;
	}
	agg_normalize(out);
	return 0;
}

int
agg_customer(const struct model_profile *p, const Clm__V1__CustomerRecord *rec,
        arena *a, struct agg_list *out)
{
	return agg_customer_part(p, rec, true, a, out);
}

int
agg_cohort_cells(
        const uint32_t *days, size_t n, arena *a, struct agg_list *out)
{
	out->e = NULL;
	out->n = out->cap = 0;
	if (agg_cohorts(days, n, a, out) != 0) {
		return -1;
	}
	agg_normalize(out);
	return 0;
}

int
agg_touch_slot(int type)
{
	if (type == MODEL_T_CUSTOM) {
		return AGG_TOUCH_CUSTOM;
	}
	if (type <= 0 || AGG_TOUCH_TYPES + type >= AGG_TOUCH_PURCHASE_MICROS) {
		return -1;
	}
	return AGG_TOUCH_TYPES + type;
}

size_t
agg_touch_counters(const Clm__V1__Touchpoint *tp, int64_t d[AGG_TOUCH_N])
{
	memset(d, 0, AGG_TOUCH_N * sizeof(*d));
	int type = (int) tp->type;
	int slot = agg_touch_slot(type);
	if (slot < 0) {
		return 0;
	}
	d[slot] = 1;
	size_t n = (size_t) slot + 1;
	switch (type) {
	case MODEL_T_PURCHASE:
		d[AGG_TOUCH_PURCHASE_MICROS] = model_micros(tp->value);
		n = AGG_TOUCH_PURCHASE_MICROS + 1;
		break;
	case MODEL_T_REFUND:
		d[AGG_TOUCH_REFUND_MICROS] = model_micros(tp->value);
		n = AGG_TOUCH_REFUND_MICROS + 1;
		break;
	case MODEL_T_SITE_VISIT:
		d[AGG_TOUCH_VISIT_SECONDS] = tp->duration_s;
		n = AGG_TOUCH_VISIT_SECONDS + 1;
		break;
	case MODEL_T_SOCIAL_MENTION:
	case MODEL_T_REVIEW:
	case MODEL_T_FEEDBACK:
		if ((double) tp->sentiment > 0.25) {
			d[AGG_TOUCH_POSITIVE] = 1;
		} else if ((double) tp->sentiment < -0.25) {
			d[AGG_TOUCH_NEGATIVE] = 1;
		} else {
			d[AGG_TOUCH_NEUTRAL] = 1;
		}
		n = AGG_TOUCH_N;
		break;
	default:
		break;
	}
	return n;
}
