/*
 * What the recommendation tests share (recommend_test.c: one scenario per
 * kind; recommend_capping_test.c: frequency capping, ranking and the
 * limit): times, channels, profiles built with model_apply and the input
 * recommend_build gets from them.
 */
#ifndef CLM_TESTS_RECOMMEND_FIXTURE_H
#define CLM_TESTS_RECOMMEND_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/recommend.h"
#include "core/risk.h"

#define MIN_MS  60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS  MODEL_DAY_MS
#define T0      1700000000000LL /* a base event time (2023-11-14) */

/* Channels (clm.v1.Channel) the rules do not name. */
#define CH_DIRECT 1
#define CH_SMS    12
#define CH_EMAIL  REC_CH_EMAIL
#define CH_APP    REC_CH_APP_NOTIFICATION

/* A customer's place, for GEO_OFFER and the stores of capping tests. */
#define BERLIN_LAT 52.5200
#define BERLIN_LON 13.4050

/* A profile built touchpoint by touchpoint, in event-time order. */
struct prof {
	struct model_profile p;
	uint64_t seq;
};

/* The result of one recommend_build call. */
struct recs {
	struct recommendation r[REC_MAX];
	size_t n;
};

/* An empty profile. */
void prof_init(struct prof *f);

/*
 * Applies one touchpoint. Tests add them in event-time order, so a first
 * purchase never moves earlier than an applied engagement and the rescan
 * model_apply may ask for has nothing to find.
 */
void prof_add_kind(struct prof *f, int type, int channel, int64_t at_ms,
        const char *item, int kind);

/* prof_add_kind of a touchpoint that is no message (kind 0). */
void prof_add(struct prof *f, int type, int64_t at_ms, const char *item);

/* An outbound message (MESSAGE_SENT) of the given kind on channel ch. */
void prof_msg(struct prof *f, int ch, int64_t at_ms, int kind);

/* The input for f as of now: stage, funnel and health from the model. */
struct recommend_input input_for(const struct prof *f, int64_t now_ms);

/* recommend_build of in with rp and those options into out (asserts the limit
 * holds). */
void build_ex(const struct recommend_input *in,
        const struct recommend_params *rp, size_t limit,
        bool include_suppressed, bool claim, struct recs *out);

/* Default parameters, limit REC_MAX, suppressed ones included, no claim. */
void build(const struct recommend_input *in, struct recs *out);

/* How many recommendations of a kind out holds. */
size_t count_kind(const struct recs *s, int kind);

/* The first recommendation of a kind, or NULL. */
const struct recommendation *find_kind(const struct recs *s, int kind);

/* The one recommendation of a kind (asserts there is exactly one). */
const struct recommendation *only_kind(
        const struct recs *s, int kind, const char *what);

/* a and b within 1e-12. */
bool near(double a, double b);

#endif /* CLM_TESTS_RECOMMEND_FIXTURE_H */
