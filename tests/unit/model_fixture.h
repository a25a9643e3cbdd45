/*
 * model_fixture: what the model's unit tests share (model_test.c,
 * model_property_test.c): journeys written as specs, and an applier that
 * feeds them to model_apply the way the writer does.
 */
#ifndef CLM_TEST_MODEL_FIXTURE_H
#define CLM_TEST_MODEL_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"
#include "core/model.h"

#define T0          1700000000000LL /* a base event time (2023-11-14) */
#define MAX_TOUCHES 64

/* Touchpoint types the model has no constant for (wire numbers). */
#define AD_IMPRESSION CLM__V1__TOUCHPOINT_TYPE__AD_IMPRESSION
#define AD_CLICK      CLM__V1__TOUCHPOINT_TYPE__AD_CLICK

#define CH_DIRECT CLM__V1__CHANNEL__DIRECT
#define CH_PAID   CLM__V1__CHANNEL__PAID_ADS
#define CH_SEARCH CLM__V1__CHANNEL__ORGANIC_SEARCH
#define CH_EMAIL  CLM__V1__CHANNEL__EMAIL
#define CH_SMS    CLM__V1__CHANNEL__SMS
#define CH_STORE  CLM__V1__CHANNEL__STORE

/* One touchpoint of a test journey; at is an offset from T0 in ms. */
struct spec {
	int type;
	int64_t at;
	int channel;
	const char *item; /* NULL = none */
	int64_t micros;
};

/* Spec initialisers: type and time, plus a channel, an item, or both. */
#define TP(type, at)                     \
	{                                \
		(type), (at), 0, NULL, 0 \
	}
#define TPC(type, at, ch)                   \
	{                                   \
		(type), (at), (ch), NULL, 0 \
	}
#define TPI(type, at, item)                \
	{                                  \
		(type), (at), 0, (item), 0 \
	}
#define TPX(type, at, ch, item)               \
	{                                     \
		(type), (at), (ch), (item), 0 \
	}

/*
 * Applies touchpoints the way the writer does: each one through model_apply
 * with the next arrival seq, and when model_apply asks for a rescan, the
 * engagements among the touchpoints applied so far with event time in
 * (after_ms, upto_ms] go to model_note_engagement in (time, seq) order. With
 * first_only the scan stops at the first engagement, as track.c does.
 */
struct applier {
	struct model_profile p;
	struct model_touch log[MAX_TOUCHES];
	size_t n;
	uint64_t seq;
	bool first_only;
	int rescans;
};

/* A touchpoint without item or value, for direct model_apply calls. */
struct model_touch touch(int type, int channel, int64_t at_ms, uint64_t seq);

/* applier_init starts a with an empty profile. */
void applier_init(struct applier *a, bool first_only);

/* applier_rescan runs the rescan r over the touchpoints applied so far. */
void applier_rescan(struct applier *a, const struct model_rescan *r);

/* applier_apply applies s with the next arrival seq (and any rescan). */
void applier_apply(struct applier *a, const struct spec *s);

/* applier_run applies s[0..n) in order. */
void applier_run(struct applier *a, const struct spec *s, size_t n);

/* Item ids in the cart, in model_cart order. */
size_t cart_ids(
        const struct model_profile *p, const char *out[MODEL_CART_MAX]);

/* Asserts the cart is exactly the NULL-terminated list want, in order. */
void assert_cart(const struct model_profile *p, const char *const *want,
        const char *what);

#endif /* CLM_TEST_MODEL_FIXTURE_H */
