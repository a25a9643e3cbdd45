/*
 * What the journey integration tests share (jny_flow_test.c,
 * jny_clock_test.c, jny_durable_test.c): the journey calls of
 * docs/journeys.md built by hand from the generated protobuf-c types and
 * sent with clm_call, the feed read page by page, the statistics, the
 * stream of JOURNEY_MESSAGE events, a clmd on its own test clock, and the
 * message id computed independently (libsodium's BLAKE2b). Written from
 * the contract (docs/journeys.md, proto/clm/v1/clm.proto, the byte layout
 * of core/journey.h's jny_message_id) only: nothing of the server's
 * journey code.
 *
 * Every function asserts with Criterion (cr_assert: the test stops) unless
 * it says otherwise; call them from inside a test. Replies returned are
 * the caller's: free them with clm_response_free.
 */
#ifndef CLM_IT_JNYFLOW_H
#define CLM_IT_JNYFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define JNYFLOW_STEPS_MAX 32

/* A clmd on a test clock: the clock file and the offset it holds. */
struct jnyflow_clock {
	char dir[32];   /* a harness_tmpdir, holding the file */
	char path[64];  /* dir/clock */
	int64_t offset; /* ms added to clmd's clock */
};

/* One JOURNEY_MESSAGE, from the feed or the stream. */
struct jnyflow_msg {
	int kind; /* the LifecycleEventKind: 5 */
	char customer[64];
	char journey[72];
	uint32_t step;
	int rkind; /* recommendation_kind */
	char action[72];
	int channel;
	char item[136];
	char message_id[48];
	char event_id[64];
	int64_t at_ms;
	uint64_t position;
	uint64_t seq;
	char topic[96]; /* the stream's; "" from the feed */
};

/* A JourneyStats, flattened. */
struct jnyflow_stats {
	uint64_t entered, active, exited, completed, removed;
	size_t n_steps;
	struct {
		uint64_t sent, skipped_condition, skipped_capped;
		uint64_t skipped_late, waiting;
	} step[JNYFLOW_STEPS_MAX];
	uint64_t delivered, pending, retries, dead;
};

/* Which counter jnyflow_counter reads. */
enum jnyflow_ctr {
	JC_ENTERED,
	JC_ACTIVE,
	JC_EXITED,
	JC_COMPLETED,
	JC_REMOVED,
	JC_SENT,      /* of a step */
	JC_SKIP_COND, /* of a step */
	JC_SKIP_CAP,  /* of a step */
	JC_SKIP_LATE, /* of a step */
	JC_WAITING    /* of a step */
};

/* ---------------------------------------------------------------------- */
/* clmd on a test clock                                                   */

/*
 * jnyflow_start makes a clock file holding 0 in a new temp dir and starts
 * clmd on it (--test-clock-file) with the NULL-terminated extra flags
 * (may be NULL; at most 16). Asserts it started.
 */
void jnyflow_start(struct clmd_proc *p, struct jnyflow_clock *clk,
        const char *const *extra);

/* jnyflow_restart starts clmd again on p's data dir and the same clock. */
void jnyflow_restart(struct clmd_proc *p, struct jnyflow_clock *clk,
        const char *const *extra);

/* jnyflow_clock_to sets the clock's offset to ms. */
void jnyflow_clock_to(struct jnyflow_clock *clk, int64_t ms);

/* jnyflow_now is clmd's now as the test sees it: the wall clock plus the
 * offset. */
int64_t jnyflow_now(const struct jnyflow_clock *clk);

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */

/* jnyflow_define_call sends DefineJourney(json); the reply, any status. */
Clm__V1__Response *jnyflow_define_call(clm_conn *c, const char *json);

/* jnyflow_define defines json, asserts OK and a journey named name in the
 * reply, and returns replaced. */
bool jnyflow_define(clm_conn *c, const char *name, const char *json);

/* jnyflow_get_call sends GetJourney(name); the reply, any status. */
Clm__V1__Response *jnyflow_get_call(clm_conn *c, const char *name);

/* jnyflow_delete sends DeleteJourney, asserts OK, returns existed. */
bool jnyflow_delete(clm_conn *c, const char *name);

/* jnyflow_list sends ListJourneys, asserts OK, returns the reply. */
Clm__V1__Response *jnyflow_list(clm_conn *c);

/* jnyflow_stats_of flattens s into *out. */
void jnyflow_stats_of(
        const Clm__V1__JourneyStats *s, struct jnyflow_stats *out);

/* jnyflow_stats is GetJourney(name)'s statistics; asserts OK. */
void jnyflow_stats(clm_conn *c, const char *name, struct jnyflow_stats *out);

/* jnyflow_counter reads one counter (step for the per-step ones; a step
 * the reply does not list reads 0). */
uint64_t jnyflow_counter(
        const struct jnyflow_stats *s, enum jnyflow_ctr which, uint32_t step);

/*
 * jnyflow_wait_counter polls GetJourney(name) every 50 ms, for up to ms,
 * until the counter is want; returns the last value read (the caller
 * asserts; a test of "nothing more" moves the clock instead).
 */
uint64_t jnyflow_wait_counter(clm_conn *c, const char *name,
        enum jnyflow_ctr which, uint32_t step, uint64_t want, int ms);

/*
 * jnyflow_expect_counter is jnyflow_wait_counter for up to ms, then
 * cr_expect that the counter is want (what names the moment).
 */
void jnyflow_expect_counter(clm_conn *c, const char *name,
        enum jnyflow_ctr which, uint32_t step, uint64_t want, int ms,
        const char *what);

/* jnyflow_messages_call sends JourneyMessages; the reply, any status. */
Clm__V1__Response *jnyflow_messages_call(
        clm_conn *c, uint64_t after, uint32_t limit, const char *journey);

/* jnyflow_msg_of copies a LifecycleEvent into *m (topic ""). */
void jnyflow_msg_of(const Clm__V1__LifecycleEvent *ev, struct jnyflow_msg *m);

/*
 * jnyflow_feed reads the whole feed (of journey; NULL or "" for all) page
 * by page (limit 1000) into a malloc'd array (*n messages; free()).
 * Expects every page ascending, after its after, next_after its last
 * position (after when empty; of one journey, at least that and at most
 * the feed's last), and every message of kind 5. Pages until an empty
 * page leaves next_after at after.
 */
struct jnyflow_msg *jnyflow_feed(clm_conn *c, const char *journey, size_t *n);

/*
 * jnyflow_wait_feed polls jnyflow_feed every 50 ms, for up to ms, until
 * it holds at least want messages; returns the last read (*n may be
 * fewer: the caller asserts).
 */
struct jnyflow_msg *jnyflow_wait_feed(
        clm_conn *c, const char *journey, size_t want, int ms, size_t *n);

/* jnyflow_count counts the messages of m[0..n-1] to customer (NULL: any)
 * of step (< 0: any) of journey (NULL: any). */
size_t jnyflow_count(const struct jnyflow_msg *m, size_t n,
        const char *journey, const char *customer, int step);

/* jnyflow_find returns the first message to customer of step of journey
 * (NULL: any journey), or NULL. */
const struct jnyflow_msg *jnyflow_find(const struct jnyflow_msg *m, size_t n,
        const char *journey, const char *customer, int step);

/*
 * jnyflow_expect_send expects m to carry the send of a step: rkind,
 * action, channel and item ("" for none), and its event id to be "jny:"
 * and its message id.
 */
void jnyflow_expect_send(const struct jnyflow_msg *m, int rkind,
        const char *action, int channel, const char *item);

/*
 * jnyflow_track1 tracks one touchpoint (channel DIRECT; PURCHASE and REFUND
 * worth 10 EUR; at 0 is now; item and name may be NULL: name is a CUSTOM
 * touchpoint's event_name) and asserts it was accepted.
 */
void jnyflow_track1(clm_conn *c, const char *customer, const char *eid,
        Clm__V1__TouchpointType type, int64_t at, const char *item,
        const char *name);

/*
 * jnyflow_claim sends Recommend(customer, channel, claim) and returns how
 * many recommendations it claimed; asserts OK.
 */
size_t jnyflow_claim(clm_conn *c, const char *customer, int channel);

/* ---------------------------------------------------------------------- */
/* Message ids and the stream                                             */

/*
 * jnyflow_message_id writes "jm_" and the 32 hex digits of BLAKE2b-128
 * over journey id (4 bytes big-endian), entered_ms (8 bytes big-endian),
 * step (4 bytes big-endian) and the customer id's bytes into out (36
 * bytes).
 */
void jnyflow_message_id(uint32_t journey, const char *customer,
        int64_t entered_ms, uint32_t step, char *out);

/*
 * jnyflow_watch subscribes to p's stream with prefix "journey/" and waits
 * until it is connected (asserts within 10 s). Close with clm_watch_close.
 */
clm_watch *jnyflow_watch(const struct clmd_proc *p);

/*
 * jnyflow_next waits up to ms for the next journey event into *m: true,
 * or false when none came in time. Asserts the stream works, that the
 * event is a JOURNEY_MESSAGE and its topic is journey/ and its journey.
 */
bool jnyflow_next(clm_watch *w, int ms, struct jnyflow_msg *m);

#endif /* CLM_IT_JNYFLOW_H */
