/*
 * segment: the store's tables of segments (docs/segments.md), in
 * store_segment.c:
 *   segments     name -> SegmentRecord, the definition and its backfill
 *   seg_members  segment id | customer id -> empty, and the segment id
 *                alone -> the member count, kept in the same transaction
 *                as the members, so a count is one get
 *   seg_due      instant | customer id -> empty: the time index, the
 *                instant at which the customer's membership of some
 *                segment may next change with no write
 *
 * A customer's own membership (segment ids) and due instant are in its
 * CustomerRecord (segment_ids, segment_due_ms), so the writer needs no
 * lookup here to know them. Ids are the SegmentRecord's id, new for each
 * definition: a redefined or deleted segment's members stay under its old
 * id until store_members_drop removes them.
 *
 * Same threads and errors as store.h.
 */
#ifndef CLM_STORE_SEGMENT_H
#define CLM_STORE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/store.pb-c.h"
#include "core/model.h"
#include "core/risk.h"
#include "core/segexpr.h"
#include "store/store.h"
#include "util/arena.h"

/*
 * store_segment_get loads the definition called name into arena memory;
 * NOT_FOUND when there is none, DATA_LOSS when it does not decode.
 */
clm_err store_segment_get(store_txn *txn, const char *name, arena *a,
        Clm__V1__SegmentRecord **out);

/* store_segment_put writes rec under rec->name (a write transaction). */
clm_err store_segment_put(store_txn *txn, const Clm__V1__SegmentRecord *rec);

/* store_segment_del removes the definition called name (NOT_FOUND: none). */
clm_err store_segment_del(store_txn *txn, const char *name);

/*
 * store_segments_each calls fn for every definition in name order,
 * decoded into arena memory (it outlives txn); fn returns non-zero to
 * stop. DATA_LOSS when one does not decode.
 */
typedef int (*store_segment_fn)(void *arg, Clm__V1__SegmentRecord *rec);
clm_err store_segments_each(
        store_txn *txn, arena *a, store_segment_fn fn, void *arg);

/*
 * store_segment_new_id takes the next segment id (meta "seg_next_id",
 * from 1; ids are never reused, so the members of a dropped definition
 * can never be taken for a new one's). A write transaction.
 */
clm_err store_segment_new_id(store_txn *txn, uint32_t *id);

/*
 * store_member_set makes customer_id a member of segment seg or not, and
 * moves the segment's count with it; *changed (may be NULL) tells whether
 * it was not so already. A write transaction.
 */
clm_err store_member_set(store_txn *txn, uint32_t seg, const char *customer_id,
        bool member, bool *changed);

/* store_member_has tells whether customer_id is a member of seg. */
clm_err store_member_has(
        store_txn *txn, uint32_t seg, const char *customer_id, bool *is);

/* store_member_count reads seg's member count (0 when it has none). */
clm_err store_member_count(store_txn *txn, uint32_t seg, uint64_t *n);

/*
 * store_members_after calls fn for up to max members of seg whose id
 * comes after `after` (NULL: from the first), ascending; fn returns
 * non-zero to stop. The id passed to fn lives until fn returns.
 */
typedef int (*store_member_fn)(void *arg, const char *customer_id);
clm_err store_members_after(store_txn *txn, uint32_t seg, const char *after,
        size_t max, store_member_fn fn, void *arg);

/*
 * store_members_drop deletes up to max keys of segment seg (its members,
 * then its count), and tells in *left whether any remain. A write
 * transaction: a dropped definition's members go in chunks.
 */
clm_err store_members_drop(
        store_txn *txn, uint32_t seg, size_t max, bool *left);

/*
 * store_members_first_seg gives the lowest segment id with keys in
 * seg_members at or above from (*found false when none): how the writer
 * finds the members of dropped definitions.
 */
clm_err store_members_first_seg(
        store_txn *txn, uint32_t from, uint32_t *seg, bool *found);

/*
 * store_due_put and store_due_del add and remove customer_id's entry at
 * instant at_ms in the time index (a write transaction; deleting a
 * missing entry is not an error).
 */
clm_err store_due_put(store_txn *txn, int64_t at_ms, const char *customer_id);
clm_err store_due_del(store_txn *txn, int64_t at_ms, const char *customer_id);

/*
 * store_due_each calls fn for up to max entries of the time index with an
 * instant at or before upto_ms, earliest first; fn returns non-zero to
 * stop. The id lives until fn returns; fn must not write to the index.
 */
typedef int (*store_due_fn)(void *arg, int64_t at_ms, const char *customer_id);
clm_err store_due_each(store_txn *txn, int64_t upto_ms, size_t max,
        store_due_fn fn, void *arg);

/*
 * Evaluating segments for one customer (store_segment_eval.c): what
 * segx_eval asks of a customer besides its model profile, read from the
 * record and the store. The touchpoints that count terms need are read
 * once per customer and instant, in one scan of the widest window, and
 * every count term of every segment is answered from them.
 */
struct segment_tp;
struct segment_eval {
	store_txn *txn;
	const Clm__V1__CustomerRecord *rec;
	const struct model_profile *p; /* segment_eval's */
	arena *a;                      /* the loaded touchpoints' */
	int64_t window_ms;             /* the widest count window to load */
	int64_t entry_ms; /* since_entry's entry instant (journeys; 0) */
	/* Loaded for instant to_ms: the touchpoints after from_ms. */
	bool loaded;
	int64_t from_ms, to_ms;
	struct segment_tp *tp;
	size_t n_tp;
};

/*
 * segment_eval_init readies ev for the customer of rec in txn (arena a for
 * what it loads: the caller resets it), loading touchpoints of windows up
 * to window_ms (segx_needs' max_window_ms over the programs to evaluate).
 */
void segment_eval_init(struct segment_eval *ev, store_txn *txn,
        const Clm__V1__CustomerRecord *rec, arena *a, int64_t window_ms);

/*
 * segment_eval evaluates x for ev's customer, whose model profile is p,
 * at now_ms with thresholds mp and the onboarding median onb (NULL when
 * the program does not need it): *member and *next_ms as segx_eval.
 * Returns CLM_OK or a storage error.
 */
clm_err segment_eval(struct segment_eval *ev, const segx *x,
        const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now_ms, bool *member,
        int64_t *next_ms);

#endif /* CLM_STORE_SEGMENT_H */
