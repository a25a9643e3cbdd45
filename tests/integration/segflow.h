/*
 * What the segment integration tests share (segment_flow_test.c,
 * segment_clock_test.c, segment_durable_test.c): the segment calls of
 * docs/segments.md built by hand and sent with clm_call, the touchpoints
 * they track, the test clock's file, and the stream of segment events.
 * Written from the contract (docs/segments.md, proto/clm/v1/clm.proto)
 * only: nothing of the server's segment code.
 *
 * Every function asserts with Criterion (cr_assert: the test stops) unless
 * it says otherwise; call them from inside a test. Replies returned are
 * the caller's: free them with clm_response_free.
 */
#ifndef CLM_IT_SEGFLOW_H
#define CLM_IT_SEGFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define SEGFLOW_DAY_MS (86400000LL)

/* One touchpoint to track: item may be NULL, at 0 is now. */
struct segflow_tp {
	const char *customer;
	const char *eid;
	Clm__V1__TouchpointType type;
	int64_t at;
	const char *item;
	double value;
};

/* segflow_now_ms is the wall clock in unix ms (the test clock's base). */
int64_t segflow_now_ms(void);

/* segflow_define_call sends DefineSegment and returns the reply, whatever
 * its status. */
Clm__V1__Response *segflow_define_call(
        clm_conn *c, const char *name, const char *expr);

/* segflow_define defines name as expr, asserts OK, and returns the reply
 * (define_segment set). */
Clm__V1__Response *segflow_define(
        clm_conn *c, const char *name, const char *expr);

/*
 * segflow_get_call sends GetSegment (members listed when page_size > 0,
 * from page_token, NULL for the first page) and returns the reply,
 * whatever its status.
 */
Clm__V1__Response *segflow_get_call(clm_conn *c, const char *name,
        uint32_t page_size, const char *page_token, int64_t as_of_ms);

/* segflow_count is GetSegment's count of name at now; asserts OK. */
uint64_t segflow_count(clm_conn *c, const char *name);

/*
 * segflow_wait_backfill polls GetSegment every 20 ms, for up to ms, until
 * name is no longer backfilling; asserts it ended, with progress 1.
 * Returns how many replies said backfilling.
 */
int segflow_wait_backfill(clm_conn *c, const char *name, int ms);

/*
 * segflow_members lists every member of name at as_of_ms (0 = now), in
 * pages of page_size, into a malloc'd array of malloc'd ids (*n of them;
 * free with segflow_members_free). Asserts every page is OK, holds at
 * most page_size ids, and that paging ends; *pages is the page count.
 */
char **segflow_members(clm_conn *c, const char *name, uint32_t page_size,
        int64_t as_of_ms, size_t *n, int *pages);
void segflow_members_free(char **ids, size_t n);

/* segflow_delete sends DeleteSegment, asserts OK and returns existed. */
bool segflow_delete(clm_conn *c, const char *name);

/* segflow_list sends ListSegments and returns the reply; asserts OK. */
Clm__V1__Response *segflow_list(clm_conn *c);

/*
 * segflow_in_customer returns whether GetCustomer(id, as_of_ms) lists
 * name in its segments; asserts OK and that the list is ascending.
 */
bool segflow_in_customer(
        clm_conn *c, const char *id, const char *name, int64_t as_of_ms);

/* segflow_track tracks the n touchpoints t in one call, asserts all are
 * accepted, and returns the reply (track set). */
Clm__V1__Response *segflow_track(
        clm_conn *c, const struct segflow_tp *t, size_t n);

/* segflow_track_call is segflow_track without asserting that all were
 * accepted (duplicates). */
Clm__V1__Response *segflow_track_call(
        clm_conn *c, const struct segflow_tp *t, size_t n);

/* segflow_changes counts the SEGMENT_ENTERED (kind 3) or SEGMENT_EXITED
 * (kind 4) changes of a Track reply for customer and segment. */
size_t segflow_changes(const Clm__V1__Response *r, int kind,
        const char *customer, const char *segment);

/*
 * segflow_names_field returns whether a FieldViolation's field names want:
 * want itself, or want after the call's name and a dot
 * ("define_segment.name"), as docs/api.md names fields
 * ("identify.customer_id").
 */
bool segflow_names_field(const char *field, const char *want);

/* segflow_expect_invalid_field expects r INVALID_ARGUMENT with a violation
 * naming field (segflow_names_field); releases r. */
void segflow_expect_invalid_field(
        Clm__V1__Response *r, const char *field, const char *what);

/*
 * segflow_expect_invalid_at expects r INVALID_ARGUMENT with a violation on
 * "expression" (segflow_names_field) whose description (or the status message)
 * holds "at byte N"; releases r.
 */
void segflow_expect_invalid_at(Clm__V1__Response *r, long n, const char *what);

/* segflow_clock_set writes ms into the test clock file path (a new file
 * renamed over it). */
void segflow_clock_set(const char *path, int64_t ms);

/* ---------------------------------------------------------------------- */
/* Events                                                                 */

/* One segment event read from the stream. */
struct segflow_event {
	int kind; /* 3 SEGMENT_ENTERED, 4 SEGMENT_EXITED */
	char customer[64];
	char segment[72];
	char topic[96];
	int64_t at_ms;
	uint64_t seq;
};

/*
 * segflow_watch subscribes to p's stream (prefix "segment/") and waits
 * until it is connected (asserts within 10 s). Close with clm_watch_close.
 */
clm_watch *segflow_watch(const struct clmd_proc *p);

/*
 * segflow_next waits up to ms for the next segment event into ev: true,
 * or false when none came in time. Asserts the stream works and that the
 * event names a segment.
 */
bool segflow_next(clm_watch *w, int ms, struct segflow_event *ev);

#endif /* CLM_IT_SEGFLOW_H */
