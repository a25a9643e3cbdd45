/*
 * What write/journey.c (definitions, entries, exits, timers) and
 * write/journey_run.c (jw_fire: the steps) share.
 */
#ifndef CLM_WRITE_JOURNEY_INTERNAL_H
#define CLM_WRITE_JOURNEY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/journey.h"
#include "store/journey.h"
#include "write/journey.h"

/* One journey's definition, parsed once per definition. */
struct jw_def {
	uint32_t id;
	struct jny_def *d;
	int64_t window_ms; /* the widest count window of exit and the ifs */
	bool onboarding;   /* some condition reads the onboarding median */
};

struct jw {
	struct model_params mp;
	bool stale;
	struct jw_def *defs; /* by id */
	size_t n;
	/* Bit t: a journey is triggered by touchpoints of type t. */
	uint64_t types;
	bool stage, risk, segment; /* some journey has such a trigger */
	arena a;                   /* loading */
	arena ev;                  /* one evaluation's touchpoints */
	arena fa;        /* one fire item's customer (journey_run.c) */
	int64_t next_ms; /* the earliest timer set since jw_take_next */
};

/* jw_load loads the definitions when they may have changed. */
clm_err jw_load(struct jw *w, store_txn *txn);

/* jw_def returns the journey of id, or NULL when there is none. */
const struct jw_def *jw_def(const struct jw *w, uint32_t id);

/* jw_state returns rec's state in journey id, or NULL. */
Clm__V1__JourneyState *jw_state(
        const Clm__V1__CustomerRecord *rec, uint32_t id);

/*
 * jw_cond evaluates x (a condition of jd) for the customer of rec (model
 * profile p) at now_ms, since_entry counting from entry_ms, with the
 * thresholds mp: *holds, and *next_ms the earliest instant the answer
 * may change by time alone (INT64_MAX: never). x NULL holds never.
 */
clm_err jw_cond(struct jw *w, store_txn *txn, const struct jw_def *jd,
        const segx *x, const Clm__V1__CustomerRecord *rec,
        const struct model_profile *p, const struct model_params *mp,
        int64_t entry_ms, int64_t now_ms, bool *holds, int64_t *next_ms);

/*
 * jw_timer moves st's timer from its due_ms to due_ms (0: none), noting
 * the earliest for jw_take_next.
 */
clm_err jw_timer(struct jw *w, store_txn *txn, const char *customer_id,
        Clm__V1__JourneyState *st, int64_t due_ms);

/* jw_exit_state takes st out of jd (its exit held): counters, timer. */
clm_err jw_exit_state(struct jw *w, store_txn *txn, const char *customer_id,
        const struct jw_def *jd, Clm__V1__JourneyState *st);

/* jw_min returns the smaller of a and b. */
static inline int64_t
jw_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

#endif /* CLM_WRITE_JOURNEY_INTERNAL_H */
