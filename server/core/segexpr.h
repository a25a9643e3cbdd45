/*
 * segexpr: the segment expression language of docs/segments.md, compiled
 * once and evaluated over one customer at an instant (issue 19). Pure: no
 * store, no clock, no I/O; what it needs beyond the model's profile it asks
 * the caller through the callbacks of struct segx_subject.
 *
 * Evaluation also gives the next instant at which the answer may change
 * with no new write (a customer turning AT_RISK after 30 quiet days, an
 * event leaving a count's trailing window): the writer keeps a time-ordered
 * index of those instants, so membership stays exact as time passes.
 * That instant may be early (the caller evaluates again and finds nothing
 * changed), never late.
 */
#ifndef CLM_CORE_SEGEXPR_H
#define CLM_CORE_SEGEXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "core/model.h"
#include "core/risk.h"

#define SEGX_NAME_MAX   64      /* bytes of a segment name: [a-z0-9_-]{1,64} */
#define SEGX_SOURCE_MAX 4096    /* bytes of an expression */
#define SEGX_NODES_MAX  256     /* operators and operands of one expression */
#define SEGX_COUNT_MAX  1000000 /* largest constant a count compares with */

typedef struct segx segx;

/* Where and why an expression does not parse. */
struct segx_error {
	size_t pos;    /* byte offset into the source (0-based) */
	char msg[160]; /* "expected a comparison after 'count(...)'" */
};

/*
 * segx_name_valid tells whether name (len bytes) is a valid segment name:
 * 1 to SEGX_NAME_MAX bytes of a-z, 0-9, '_' and '-'.
 */
bool segx_name_valid(const char *name, size_t len);

/*
 * segx_parse compiles src (len bytes, not necessarily NUL-terminated) into
 * *out (malloc'd; segx_free). Returns CLM_OK, INVALID_ARGUMENT with *err
 * filled (the position and what was expected there), or
 * RESOURCE_EXHAUSTED (memory). Never reads past len.
 */
clm_err segx_parse(
        const char *src, size_t len, segx **out, struct segx_error *err);

/*
 * segx_parse_flags is segx_parse with options: SEGX_SINCE_ENTRY allows
 * `since_entry` as a count window (journeys' exit and if,
 * docs/journeys.md "since_entry"); without it, since_entry is a parse
 * error as in a segment. segx_parse is segx_parse_flags with 0.
 */
#define SEGX_SINCE_ENTRY 1u
clm_err segx_parse_flags(const char *src, size_t len, unsigned flags,
        segx **out, struct segx_error *err);

/*
 * segx_duration_parse reads a duration of the language, s (n bytes, the
 * whole of it): a whole number and s, m, h or d ("3s", "15m", "24h",
 * "30d"), at most 3650 d, into *ms. Returns CLM_OK, INVALID_ARGUMENT when
 * s is not a duration, or OUT_OF_RANGE when it is over 3650 d (*ms
 * untouched on error).
 */
#define SEGX_DURATION_MAX_MS (3650 * 86400000LL)
clm_err segx_duration_parse(const char *s, size_t n, int64_t *ms);

/* segx_free releases x; NULL is a no-op. */
void segx_free(segx *x);

/*
 * One `count(...)` term: touchpoints of type (clm.v1.TouchpointType) with,
 * when item / name is not NULL, that item_id / event_name (exact bytes),
 * whose event time lies in the trailing window (to - window_ms, to].
 */
struct segx_count {
	int type;
	const char *item; /* NULL: any */
	size_t item_len;
	const char *name; /* NULL: any (CUSTOM's event_name) */
	size_t name_len;
	int64_t window_ms;
	/*
	 * `since_entry`: the window is (entry_ms, to]: segx_eval passes the
	 * count callback a copy whose window_ms is now_ms - entry_ms.
	 */
	bool since_entry;
};

/* What an expression reads, so a caller loads only that. */
struct segx_needs {
	bool counts;           /* has count(...) terms */
	int64_t max_window_ms; /* their largest window */
	bool traits;           /* trait.NAME */
	bool bought;           /* bought "ITEM" */
	bool onboarding;       /* churn_risk or risk has SLOW_ONBOARDING
	                          (the median) */
	bool time;             /* the answer can change with time alone */
	bool since_entry;      /* a count(..., since_entry) term */
};
void segx_needs(const segx *x, struct segx_needs *n);

/*
 * The customer an expression is evaluated for. p, mp and onb are what
 * GetCustomer computes the Customer from (onb may be NULL when
 * !needs.onboarding). The callbacks are called only for the terms the
 * expression has; arg is theirs. A NULL trait is a customer without
 * traits, a NULL bought one who bought nothing; a NULL count makes an
 * expression with count terms fail with CLM_INTERNAL.
 */
struct segx_subject {
	const struct model_profile *p;
	const struct model_params *mp;
	const struct risk_onboarding *onb;
	/*
	 * trait: the value of trait name (name_len bytes) in *val / *val_len
	 * (valid until the evaluation returns), or false when the customer
	 * has no such trait.
	 */
	bool (*trait)(void *arg, const char *name, size_t name_len,
	        const char **val, size_t *val_len);
	/* bought: whether the customer ever bought item (a PURCHASE's
	 * item_id or order_items). */
	bool (*bought)(void *arg, const char *item, size_t item_len);
	/*
	 * count: the number of the customer's stored touchpoints matching
	 * c (duplicates excluded) with event time in (to_ms - c->window_ms,
	 * to_ms], in *n; and in *change_ms the earliest instant after to_ms
	 * at which that number differs with no new write (the oldest
	 * matching time in the window + window_ms, or the earliest matching
	 * time after to_ms; INT64_MAX when none). Returns CLM_OK or a storage
	 * error, which segx_eval returns.
	 */
	clm_err (*count)(void *arg, const struct segx_count *c, int64_t to_ms,
	        uint64_t *n, int64_t *change_ms);
	void *arg;
	/* The entry instant since_entry windows count from (journeys). */
	int64_t entry_ms;
};

/*
 * segx_eval evaluates x for s at now_ms (the instant every time term is
 * measured from: health and churn risk as GetCustomer's as_of_ms, since(),
 * count windows): *member, and in *next_ms the earliest instant after
 * now_ms at which the answer may change with no new write (INT64_MAX:
 * never; may be early, never late). Returns CLM_OK, or the error of a
 * callback. 'and' and 'or' skip their right operand when the left one
 * decides (its callbacks are then not called). No allocation; the
 * program may be evaluated from several threads at once.
 */
clm_err segx_eval(const segx *x, const struct segx_subject *s, int64_t now_ms,
        bool *member, int64_t *next_ms);

/*
 * risk_next_change-like helper used by segx_eval, exported for the store's
 * GetCustomer path: the earliest instant after now_ms at which
 * risk_health or risk_score's reasons of p may change with no new
 * touchpoint (INT64_MAX: never). May be early, never late.
 */
int64_t segx_model_next_change(const struct model_profile *p,
        const struct model_params *mp, const struct risk_onboarding *onb,
        int64_t now_ms);

#endif /* CLM_CORE_SEGEXPR_H */
