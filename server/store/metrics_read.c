/*
 * metrics_read: sums the aggregates (agg.h) a MetricsRequest needs. Every
 * read is a get or a key range over days, so the cost grows with the days
 * in the window (and, for health, with at most churn_days of history plus
 * the days after `to`), never with customers or touchpoints.
 */
#include <string.h>

#include "core/hll.h"
#include "store/metrics_read.h"

/* Sums counters of the keys in a range, optionally of one channel. */
struct metrics_sum {
	int64_t v[AGG_TOUCH_N];
	size_t n;
	int chan_pos; /* byte of the key holding the channel, -1: none */
	int channel;  /* 0 = every one */
};

static int
metrics_sum_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct metrics_sum *s = arg;
	if (s->chan_pos >= 0 && s->channel != 0
	        && ((size_t) s->chan_pos >= klen
	                || key[s->chan_pos] != s->channel)) {
		return 0;
	}
	int64_t c[AGG_TOUCH_N];
	store_agg_counters(val, vlen, c, s->n);
	for (size_t i = 0; i < s->n; i++) {
		s->v[i] += c[i];
	}
	return 0;
}

/* Key: kind, then an optional byte (b >= 0), then an optional day. */
static size_t
metrics_key(unsigned char *k, int kind, int b, bool has_day, int64_t day)
{
	size_t n = 0;
	k[n++] = (unsigned char) kind;
	if (b >= 0) {
		k[n++] = (unsigned char) b;
	}
	if (has_day) {
		if (day < 0) {
			day = 0;
		}
		agg_put_u32(
		        k + n, day > UINT32_MAX ? UINT32_MAX : (uint32_t) day);
		n += 4;
	}
	return n;
}

/*
 * Sums counter 0..n-1 of keys kind [b] day for days in [from, to); to =
 * -1 means every day from `from` on.
 */
static clm_err
metrics_days(store_txn *txn, int kind, int b, int64_t from, int64_t to,
        size_t n, int64_t *out)
{
	unsigned char lo[8], hi[8];
	size_t ln = metrics_key(lo, kind, b, true, from);
	size_t hn = to < 0 ? metrics_key(hi, kind, b + 1, false, 0)
	                   : metrics_key(hi, kind, b, true, to);
	if (to < 0 && b < 0) {
		hi[0] = (unsigned char) (kind + 1);
		hn = 1;
	}
	struct metrics_sum s = { .n = n, .chan_pos = -1 };
	clm_err e = store_agg_scan(txn, lo, ln, hi, hn, metrics_sum_fn, &s);
	memcpy(out, s.v, n * sizeof(*out));
	return e;
}

static int64_t
metrics_sum1(
        store_txn *txn, int kind, int b, int64_t from, int64_t to, clm_err *e)
{
	int64_t v = 0;
	if (*e == CLM_OK) {
		*e = metrics_days(txn, kind, b, from, to, 1, &v);
	}
	return v;
}

/* Not-cancelled customers of a stage by last-seen day, read once. */
struct metrics_idle {
	int64_t risky_before; /* days before this are idle past at_risk */
	int64_t recent, risky;
};

static int
metrics_idle_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct metrics_idle *m = arg;
	if (klen != 6) {
		return 0;
	}
	int64_t day = (int64_t) ((uint32_t) key[2] << 24
	        | (uint32_t) key[3] << 16 | (uint32_t) key[4] << 8 | key[5]);
	int64_t c;
	store_agg_counters(val, vlen, &c, 1);
	m->recent += c;
	if (day < m->risky_before) {
		m->risky += c;
	}
	return 0;
}

/*
 * Of a stage's not-cancelled customers: *recent last seen on a day from
 * churn_from on (not idle past churn_days), *risky those of them last
 * seen before risky_before (idle past at_risk_days).
 */
static clm_err
metrics_health(store_txn *txn, int stage, int64_t churn_from,
        int64_t risky_before, int64_t *recent, int64_t *risky)
{
	unsigned char lo[8], hi[8];
	size_t ln = metrics_key(lo, AGG_HEALTH, stage, true, churn_from);
	size_t hn = metrics_key(hi, AGG_HEALTH, stage + 1, false, 0);
	struct metrics_idle m = { risky_before, 0, 0 };
	clm_err e = store_agg_scan(txn, lo, ln, hi, hn, metrics_idle_fn, &m);
	*recent = m.recent;
	*risky = m.risky;
	return e;
}

static clm_err
metrics_lifecycle(store_txn *txn, const struct metrics_window *w,
        int at_risk_days, int churn_days, struct metrics_sums *s)
{
	int64_t to = w->to;
	clm_err e = CLM_OK;
	uint64_t churned_idle = 0;
	for (int st = MODEL_REACH; st < MODEL_N_STAGES && e == CLM_OK; st++) {
		unsigned char k[2] = { AGG_STAGE, (unsigned char) st };
		int64_t c[2];
		e = store_agg_get(txn, k, 2, c, 2);
		s->current[st] = (uint64_t) c[0];
		/*
		 * Not cancelled and idle more than N days as of `to` (a day
		 * boundary) = last seen on a day before to - N.
		 */
		int64_t recent = 0, risky = 0;
		if (e == CLM_OK) {
			e = metrics_health(txn, st, to - churn_days,
			        to - at_risk_days, &recent, &risky);
		}
		int64_t idle = c[0] - c[1] - recent;
		s->at_risk[st] = (uint64_t) risky;
		s->churned[st] = (uint64_t) (c[1] + idle);
		if (st >= MODEL_ACQUISITION) {
			churned_idle += (uint64_t) idle;
			s->purchasers_now += (uint64_t) c[0];
		}
		s->entered[st] = (uint64_t) metrics_sum1(
		        txn, AGG_ENTERED, st, w->from, to, &e);
	}
	if (e != CLM_OK) {
		return e;
	}
	/* "Before to" = all of them but those of days from `to` on. */
	unsigned char tk = AGG_TOTALS;
	int64_t tot[3];
	e = store_agg_get(txn, &tk, 1, tot, 3);
	int64_t later_fp = metrics_sum1(
	        txn, AGG_REACHED, MODEL_ACQUISITION, to, -1, &e);
	int64_t later_adv
	        = metrics_sum1(txn, AGG_REACHED, MODEL_ADVOCACY, to, -1, &e);
	int64_t later_second = metrics_sum1(txn, AGG_SECOND, -1, to, -1, &e);
	int64_t later_cancel
	        = metrics_sum1(txn, AGG_CANCEL_FP, -1, to, -1, &e);
	s->purchasers = s->purchasers_now - (uint64_t) later_fp;
	s->repeaters = (uint64_t) (tot[0] - later_second);
	s->advocates = (uint64_t) (tot[1] - later_adv);
	s->churned_purchasers
	        = (uint64_t) (tot[2] - later_cancel) + churned_idle;
	return e;
}

static clm_err
metrics_conversions(
        store_txn *txn, const struct metrics_window *w, struct metrics_sums *s)
{
	clm_err e = CLM_OK;
	for (int i = 0; i < AGG_N_PAIRS && e == CLM_OK; i++) {
		for (uint32_t d = w->from; d < w->to && e == CLM_OK; d++) {
			/* Lags 0 (the cohort) to conversion_days + 1. */
			unsigned char lo[10], hi[10];
			lo[0] = hi[0] = AGG_CONV;
			lo[1] = hi[1] = (unsigned char) i;
			agg_put_u32(lo + 2, d);
			agg_put_u32(hi + 2, d);
			agg_put_u32(lo + 6, 0);
			agg_put_u32(hi + 6, w->conversion_days + 2);
			struct metrics_sum sum = { .n = 1, .chan_pos = -1 };
			int64_t cohort;
			e = store_agg_get(txn, lo, 10, &cohort, 1);
			if (e == CLM_OK) {
				agg_put_u32(lo + 6, 1);
				e = store_agg_scan(txn, lo, 10, hi, 10,
				        metrics_sum_fn, &sum);
			}
			s->conv_cohort[i] += (uint64_t) cohort;
			s->conv_converted[i] += (uint64_t) sum.v[0];
		}
	}
	return e;
}

static int
metrics_channel_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct metrics_sums *s = arg;
	if (klen != 6 || key[5] >= MODEL_N_CHANNELS) {
		return 0;
	}
	int64_t c[2];
	store_agg_counters(val, vlen, c, 2);
	struct metrics_channel *ch = &s->channel[key[5]];
	if (key[0] == AGG_NEWVIS) {
		ch->new_visitors += (uint64_t) c[0];
	} else {
		ch->first_touch += (uint64_t) c[0];
		ch->last_touch += (uint64_t) c[1];
	}
	return 0;
}

struct metrics_visitors {
	struct hll_acc *acc;
	int channel;
	bool bad;
};

static int
metrics_visitor_fn(void *arg, const unsigned char *key, size_t klen,
        const void *val, size_t vlen)
{
	struct metrics_visitors *v = arg;
	if (klen == 6 && (v->channel == 0 || key[5] == v->channel)) {
		v->bad |= hll_acc_merge(v->acc, val, vlen) != 0;
	}
	return 0;
}

static clm_err
metrics_touch(store_txn *txn, const struct metrics_window *w, arena *a,
        struct metrics_sums *s)
{
	unsigned char lo[8], hi[8];
	size_t ln = metrics_key(lo, AGG_TOUCH, -1, true, w->from);
	size_t hn = metrics_key(hi, AGG_TOUCH, -1, true, w->to);
	struct metrics_sum sum
	        = { .n = AGG_TOUCH_N, .chan_pos = 5, .channel = w->channel };
	clm_err e = store_agg_scan(txn, lo, ln, hi, hn, metrics_sum_fn, &sum);
	memcpy(s->touch, sum.v, sizeof(s->touch));

	struct metrics_visitors v = { arena_alloc(a, sizeof(struct hll_acc)),
		w->channel, false };
	if (v.acc == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	hll_acc_init(v.acc);
	lo[0] = hi[0] = AGG_VISITORS;
	if (e == CLM_OK) {
		e = store_agg_scan(
		        txn, lo, ln, hi, hn, metrics_visitor_fn, &v);
	}
	if (e == CLM_OK && v.bad) {
		e = CLM_DATA_LOSS;
	}
	s->unique_visitors = hll_acc_count(v.acc);

	for (int kind = AGG_NEWVIS; kind <= AGG_NEWCUST && e == CLM_OK;
	        kind++) {
		lo[0] = hi[0] = (unsigned char) kind;
		e = store_agg_scan(txn, lo, ln, hi, hn, metrics_channel_fn, s);
	}
	for (int ch = 0; ch < MODEL_N_CHANNELS && e == CLM_OK; ch++) {
		s->channel[ch].spend_micros
		        = metrics_sum1(txn, AGG_SPEND, ch, w->from, w->to, &e);
	}
	unsigned char mk = AGG_MONEY;
	int64_t m[2] = { 0, 0 };
	if (e == CLM_OK) {
		e = store_agg_get(txn, &mk, 1, m, 2);
	}
	s->all_purchase_micros = m[0];
	s->all_refund_micros = m[1];
	return e;
}

clm_err
metrics_read(store_txn *txn, const struct metrics_window *w, int at_risk_days,
        int churn_days, arena *a, struct metrics_sums *s)
{
	memset(s, 0, sizeof(*s));
	clm_err e = metrics_lifecycle(txn, w, at_risk_days, churn_days, s);
	if (e == CLM_OK) {
		e = metrics_conversions(txn, w, s);
	}
	if (e == CLM_OK) {
		e = metrics_touch(txn, w, a, s);
	}
	return e;
}
