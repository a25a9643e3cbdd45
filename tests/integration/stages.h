/*
 * What the lifecycle-stage integration tests share (stages_order_test.c,
 * stages_durable_test.c, stages_publish_test.c, stages_health_test.c):
 * one customer's journey through the five stages of docs/api.md "The
 * lifecycle model" (REACH, ACQUISITION, NURTURE, RETENTION, ADVOCACY),
 * the touchpoints built from it, the Track, GetCustomer and ServerStatus
 * calls through libclm against a real clmd (harness.h), and the checks of
 * the stage changes and of the finished journey's Customer. Not the
 * journeys of docs/journeys.md (the jny_*_test.c files).
 *
 * Every function asserts with Criterion (cr_assert: the test stops; cr_expect:
 * it goes on) unless it says otherwise; call them from inside a test.
 * Replies returned are the caller's: free them with clm_response_free.
 */
#ifndef CLM_IT_STAGES_H
#define CLM_IT_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define STAGES_MIN_MS  60000LL
#define STAGES_HOUR_MS (60 * STAGES_MIN_MS)
#define STAGES_DAY_MS  (24 * STAGES_HOUR_MS)
/* T0 of the tests' comments: 2026-01-10T00:00:00Z */
#define STAGES_T0 1768003200000LL

/* One touchpoint of a customer's journey, the customer left out. */
struct stages_step {
	const char *event_id; /* suffix; the customer id is prepended */
	Clm__V1__TouchpointType type;
	Clm__V1__Channel channel;
	int64_t at_ms;
	double value;
	uint32_t duration_s;
};

/*
 * stages_journey is the journey: AD_CLICK → SITE_VISIT → PURCHASE →
 * CONTENT_VIEW → PURCHASE → REFERRAL, all with explicit event times, from
 * T0 to T0+20d (stages_check_journey_customer has the stages they give).
 */
#define STAGES_N_STEPS ((size_t) 6)
extern const struct stages_step stages_journey[];

/* Touchpoints built from steps, with their strings. */
#define STAGES_TPS_MAX 12
struct stages_tps {
	Clm__V1__Touchpoint tp[STAGES_TPS_MAX];
	Clm__V1__Touchpoint *ptr[STAGES_TPS_MAX];
	char ids[STAGES_TPS_MAX][64];
};

/*
 * stages_make_tp builds t->tp[i] (i < STAGES_TPS_MAX) from step s for
 * customer, its event id "<customer>-<s->event_id>" in t->ids[i], and
 * points t->ptr[i] at it; a PURCHASE is in EUR. customer and s must
 * outlive t's use.
 */
void stages_make_tp(struct stages_tps *t, size_t i, const char *customer,
        const struct stages_step *s);

/* stages_make_journey builds the STAGES_N_STEPS steps of stages_journey
 * for customer into t (index i is step i). */
void stages_make_journey(struct stages_tps *t, const char *customer);

/* stages_start starts a clmd in p on a new data dir (clmd_start). */
void stages_start(struct clmd_proc *p);

/* stages_connect opens a connection to p's clmd (5 s per reply); close it
 * with clm_close. */
clm_conn *stages_connect(const struct clmd_proc *p);

/*
 * stages_track tracks the n touchpoints of tps in one call; asserts status
 * OK and no rejects; returns the reply.
 */
Clm__V1__Response *stages_track(
        clm_conn *c, Clm__V1__Touchpoint **tps, size_t n);

/*
 * stages_get_customer gets customer id as of as_of (0: now); asserts it
 * is found; returns the reply (customer set).
 */
Clm__V1__Response *stages_get_customer(
        clm_conn *c, const char *id, int64_t as_of);

/*
 * stages_status returns ServerStatus's reply by value, its strings
 * (version, durability) set to NULL: they were freed with the reply.
 */
Clm__V1__StatusReply stages_status(clm_conn *c);

/* stages_touch_count is cu's count of touchpoints of type (0: none);
 * asserts nothing. */
uint64_t stages_touch_count(
        const Clm__V1__Customer *cu, Clm__V1__TouchpointType type);

/*
 * stages_check_journey_customer checks the finished journey's Customer
 * against docs/api.md "The lifecycle model": ADVOCACY, the five stages'
 * instants, the counts, revenue, channels and touch counts.
 */
void stages_check_journey_customer(const Clm__V1__Customer *cu);

/*
 * stages_same_customer returns whether a and b are the same but for
 * customer_id and as_of_ms (compared as serialized bytes); a and b are
 * restored before it returns.
 */
bool stages_same_customer(Clm__V1__Customer *a, Clm__V1__Customer *b);

/*
 * stages_check_change checks that ev is customer's STAGE_CHANGED from
 * from to to at at, caused by event_id.
 */
void stages_check_change(const Clm__V1__LifecycleEvent *ev,
        const char *customer, const char *event_id, Clm__V1__Stage from,
        Clm__V1__Stage to, int64_t at);

/*
 * stages_track_in_order tracks stages_journey for customer one touchpoint
 * per call, in order, and checks each reply: accepted, no duplicate, and
 * the stage change that step makes (none for the SITE_VISIT).
 */
void stages_track_in_order(clm_conn *c, const char *customer);

#endif /* CLM_IT_STAGES_H */
