/*
 * agg: the aggregates behind Metrics, Cohorts and experiment results
 * (docs/metrics.md; docs/architecture.md "Aggregates: metrics without
 * scanning customers"): keys and contributions, pure functions;
 * store/agg_write.h puts them in the write transaction.
 *
 * Two kinds of contributions:
 *   - a customer's: a pure function of the stored profile (stage, health
 *     bucket, stage history, reached_at times, first purchase, purchase
 *     days, assignments). profile_save computes the list before and after
 *     a change and applies the difference, so a late touchpoint, a merge or
 *     a replay moves exactly what changed, and no order of arrival matters;
 *   - a touchpoint's: added once when it is stored (daily counts and money
 *     by type and channel, the day's unique-visitor sketch).
 *
 * Keys start with a kind byte; days are UTC day numbers (ms / 86,400,000),
 * big-endian, so a window is one key range. Counters are int64 vectors.
 *
 *   STAGE     kind stage                  -> customers, of them cancelled
 *   HEALTH    kind stage day(last_seen)   -> not-cancelled customers
 *   ENTERED   kind stage day              -> stage_history entries
 *   REACHED   kind stage day              -> reached_at[stage]
 *   SECOND    kind day                    -> second purchases
 *   CANCEL_FP kind day(first purchase)    -> cancelled purchasers
 *   CONV      kind pair day(reached[from]) lag -> lag 0: cohort; lag L > 0:
 *             converted with ceil(lag days) = L - 1
 *   NEWVIS    kind day(first_seen) channel -> new visitors
 *   NEWCUST   kind day(first purchase) channel -> first touch, last touch
 *   COHORT    kind granularity period k   -> customers of that cohort
 *             with a purchase k periods after
 *   EXP       kind hash64(experiment id) variant -> exposed, converted
 *   TOTALS    kind                        -> second purchasers, advocates,
 *             cancelled purchasers
 *   TOUCH     kind day channel            -> AGG_TOUCH_* counters (fixed
 *             positions: types 1..27, money, visits, sentiment, CUSTOM)
 *   VISITORS  kind day channel            -> hll sketch of visitors
 *   MONEY     kind                        -> all-time purchase, refund micros
 *   SPEND     kind channel day            -> spend micros (every campaign)
 */
#ifndef CLM_AGG_H
#define CLM_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"
#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "util/arena.h"

enum agg_kind {
	AGG_STAGE = 1,
	AGG_HEALTH = 2,
	AGG_ENTERED = 3,
	AGG_REACHED = 4,
	AGG_SECOND = 5,
	AGG_CANCEL_FP = 6,
	AGG_CONV = 7,
	AGG_NEWVIS = 8,
	AGG_NEWCUST = 9,
	AGG_COHORT = 10,
	AGG_EXP = 11,
	AGG_TOTALS = 12,
	AGG_TOUCH = 20,
	AGG_VISITORS = 21,
	AGG_MONEY = 22,
	AGG_SPEND = 23,
};

/* The conversions kept (from, to), in MetricsReply order, then the one
 * behind retention_rate. */
enum { AGG_N_PAIRS = 6, AGG_N_LISTED_PAIRS = 5 };
extern const int agg_pairs[AGG_N_PAIRS][2];

/*
 * Counters of a TOUCH key. Their positions are stored on disk, so they
 * never move: the types 1..27 have theirs from AGG_TOUCH_TYPES, and a type
 * added later gets a counter after the last one (CUSTOM, 28, would
 * otherwise land on the purchase micros of every stored key).
 */
enum {
	AGG_TOUCH_TYPES = 0, /* + type (1..27): count of that TouchpointType */
	AGG_TOUCH_PURCHASE_MICROS = 28,
	AGG_TOUCH_REFUND_MICROS = 29,
	AGG_TOUCH_VISIT_SECONDS = 30,
	AGG_TOUCH_POSITIVE = 31,
	AGG_TOUCH_NEUTRAL = 32,
	AGG_TOUCH_NEGATIVE = 33,
	AGG_TOUCH_CUSTOM = 34, /* count of CUSTOM touchpoints */
	AGG_TOUCH_N = 35,
};

enum { AGG_GRAN_DAY = 1, AGG_GRAN_WEEK = 2, AGG_GRAN_MONTH = 3 };

#define AGG_KEY_MAX 16

/* One contribution: a key and the counters it adds. */
struct agg_entry {
	unsigned char key[AGG_KEY_MAX];
	uint8_t klen;
	int64_t v[4];
};

struct agg_list {
	struct agg_entry *e;
	size_t n, cap;
};

/* agg_day is the UTC day number of ms. */
uint32_t agg_day(int64_t ms);

/*
 * Periods of a granularity: agg_period numbers the period holding a day
 * (days: the day; weeks: the day of their Monday; months: year * 12 +
 * month - 1), agg_period_start gives a period's first day, agg_period_next
 * the period after it.
 */
uint32_t agg_period(int gran, uint32_t day);
uint32_t agg_period_start(int gran, uint32_t period);
uint32_t agg_period_next(int gran, uint32_t period);

/* agg_put_u32 writes v big-endian at p. */
void agg_put_u32(unsigned char *p, uint32_t v);

/* agg_exp_key builds the EXP key of (experiment id, variant); 11 bytes. */
size_t agg_exp_key(
        unsigned char *key, const char *experiment_id, uint32_t variant);

/*
 * agg_customer lists the contributions of one customer (p and the record's
 * purchase days and assignments), sorted by key with equal keys merged.
 * Returns 0, or -1 when memory runs out.
 */
int agg_customer(const struct model_profile *p,
        const Clm__V1__CustomerRecord *rec, arena *a, struct agg_list *out);

/*
 * agg_customer_part is agg_customer with or without the cohort cells, and
 * agg_cohort_cells lists only those, for the ascending distinct purchase
 * days given: a customer with years of purchases has thousands of cells,
 * which profile_save recomputes only when the days changed.
 */
int agg_customer_part(const struct model_profile *p,
        const Clm__V1__CustomerRecord *rec, bool cohorts, arena *a,
        struct agg_list *out);
int agg_cohort_cells(
        const uint32_t *days, size_t n, arena *a, struct agg_list *out);

/*
 * agg_entry_cmp orders two entries by key (shorter first on a common
 * prefix), for qsort and for merging two sorted lists.
 */
int agg_entry_cmp(const void *a, const void *b);

/*
 * agg_touch_slot is the TOUCH counter that counts touchpoints of type
 * (AGG_TOUCH_TYPES + type, or AGG_TOUCH_CUSTOM), or -1 for a type of none.
 */
int agg_touch_slot(int type);

/*
 * agg_touch_counters fills d with the TOUCH counters one touchpoint adds
 * to its day and channel (AGG_TOUCH_*; purchase and refund micros also go
 * to the all-time MONEY totals) and returns how many of them, from the
 * first, can be non-zero: 0 for a touchpoint of no known type.
 */
size_t agg_touch_counters(
        const Clm__V1__Touchpoint *tp, int64_t d[AGG_TOUCH_N]);

/* agg_visitor_hash is the sketch's hash of a profile id. */
uint64_t agg_visitor_hash(const char *id, bool anonymous);

#endif /* CLM_AGG_H */
