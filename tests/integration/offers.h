/*
 * Helpers of the Recommend and PutCatalog tests against a real clmd
 * (offers_test: cross-sell, errors, `clm recommend`; catalog_test;
 * claims_test): touchpoint batches, Recommend calls, exports and the
 * MESSAGE_SENT touchpoints in them, stores, violations. They assert with
 * Criterion: call them from inside a test.
 */
#ifndef CLM_IT_OFFERS_H
#define CLM_IT_OFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  (24 * HOUR_MS)

#define BERLIN_LAT 52.5200
#define BERLIN_LON 13.4050
#define PARIS_LAT  48.8566
#define PARIS_LON  2.3522

#define TPS_MAX 256

/* A batch of touchpoints without event ids (the server assigns them). */
struct tps {
	Clm__V1__Touchpoint tp[TPS_MAX];
	Clm__V1__Touchpoint *ptr[TPS_MAX];
	size_t n;
};

/* One Recommend call's parameters. */
struct ask {
	const char *customer;
	uint32_t limit;
	bool claim, include_suppressed, has_location;
	double lat, lon;
	char **cart;
	size_t n_cart;
	Clm__V1__Channel channel;
	int64_t now_ms;
	const char *request_id; /* NULL: the one libclm makes */
};

/* Starts clmd in srv with the extra flags (NULL: none), asserting it. */
void offers_start(struct clmd_proc *srv, const char *const *extra);

/* A connection to srv, asserted; clm_close it. */
clm_conn *offers_connect(const struct clmd_proc *srv);

/* The wall clock in ms. */
int64_t wall_ms(void);

void tps_add(struct tps *t, const char *customer, Clm__V1__TouchpointType type,
        int64_t at_ms, const char *item);
/* Tracks the batch (all must be accepted) and empties it. */
void tps_send(clm_conn *c, struct tps *t);

/* Sends a; returns the reply's status code or a transport error. */
clm_err ask_raw(clm_conn *c, const struct ask *a, Clm__V1__Response **out);

/* Sends a, asserts OK; *resp is to be freed. */
const Clm__V1__RecommendReply *ask_ok(
        clm_conn *c, const struct ask *a, Clm__V1__Response **resp);

size_t count_live(const Clm__V1__RecommendReply *r, Clm__V1__Channel ch);

const Clm__V1__Recommendation *find_kind(
        const Clm__V1__RecommendReply *r, Clm__V1__RecommendationKind k);

Clm__V1__Response *export_of(clm_conn *c, const char *id);

/* MESSAGE_SENT touchpoints of an export on channel ch (0: any). */
size_t count_sent(const Clm__V1__ExportCustomerReply *x, Clm__V1__Channel ch);

size_t sent_of(clm_conn *c, const char *id, Clm__V1__Channel ch);

const char *prop(const Clm__V1__Touchpoint *tp, const char *key);

/* Upserts stores, asserts OK. */
void put_stores(clm_conn *c, Clm__V1__Store **st, size_t n);

/* The violation naming field, or NULL. */
const Clm__V1__FieldViolation *violation(
        const Clm__V1__Response *resp, const char *field);

#endif /* CLM_IT_OFFERS_H */
