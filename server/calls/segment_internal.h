/*
 * segment_internal: what calls/segment.c (DefineSegment, DeleteSegment,
 * Customer.segments) and calls/segment_get.c (GetSegment, ListSegments)
 * share. Not for other files.
 */
#ifndef CLM_CALLS_SEGMENT_INTERNAL_H
#define CLM_CALLS_SEGMENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls/call.h"
#include "clm/v1/store.pb-c.h"
#include "core/segexpr.h"
#include "store/store.h"
#include "util/arena.h"

#define SEG_MAX          256   /* segments a server holds */
#define SEG_PAGE_DEFAULT 1000  /* GetSegment.page_size 0 */
#define SEG_PAGE_MAX     10000 /* GetSegment.page_size at most */
/* A scan at another instant than now stops past this, or deadline_ms. */
#define SEG_SCAN_MS 30000
/* Due customers a read corrects with; past it the count may lag. */
#define SEG_DUE_MAX 10000
/* The longest key the store holds, so the longest customer id. */
#define SEG_ID_MAX 511

/* A compiled definition, for one read (segx_free its x). */
struct seg_prog {
	Clm__V1__SegmentRecord *rec;
	segx *x;
	struct segx_needs needs;
};

/* seg_all gives every definition, by name, in arena memory. */
clm_err seg_all(
        store_txn *txn, arena *a, Clm__V1__SegmentRecord ***out, size_t *n);

/*
 * seg_compile compiles rec (parsed once already, when it was defined):
 * CLM_OK, INVALID_ARGUMENT when the language changed under it, or
 * RESOURCE_EXHAUSTED.
 */
clm_err seg_compile(Clm__V1__SegmentRecord *rec, struct seg_prog *p);

/* seg_member_at evaluates p for the stored customer rec at at_ms. */
clm_err seg_member_at(store_txn *txn, const struct seg_prog *p,
        const Clm__V1__CustomerRecord *rec, int64_t at_ms,
        const struct model_params *mp, arena *a, bool *member);

/* The customers whose entry in the time index is due, as stored. */
struct seg_due {
	arena *a;
	Clm__V1__CustomerRecord **recs;
	size_t n, cap;
	store_txn *txn;
	clm_err err;
};

/* seg_due_load loads up to SEG_DUE_MAX customers due at or before now_ms. */
clm_err seg_due_load(
        store_txn *txn, int64_t now_ms, arena *a, struct seg_due *d);

/* One due customer whose membership of a segment differs now. */
struct seg_fix {
	const char *id;
	bool member; /* now */
};

/*
 * seg_fixes gives the due customers of d whose membership of p at now_ms
 * differs from the maintained one, by id, in arena memory.
 */
clm_err seg_fixes(store_txn *txn, const struct seg_prog *p,
        const struct seg_due *d, int64_t now_ms, const struct model_params *mp,
        arena *a, struct seg_fix **out, size_t *n);

/*
 * seg_message builds p's Segment, its count the maintained one corrected
 * with fix (nfix of them, NULL: none), in arena memory.
 */
clm_err seg_message(store_txn *txn, const struct seg_prog *p,
        const struct seg_fix *fix, size_t nfix, arena *a,
        Clm__V1__Segment **out);

/*
 * seg_name_check tells whether name is a valid segment name, else answers
 * INVALID_ARGUMENT naming field.
 */
bool seg_name_check(struct call_req *r, const char *field, const char *name);

#endif /* CLM_CALLS_SEGMENT_INTERNAL_H */
