/*
 * The rule-table and property tests of health and churn risk share these
 * (risk_test.c, risk_property_test.c): the two parameter sets, symbolic
 * times, and an applier that feeds touchpoints to model_apply as the
 * writer does.
 */
#ifndef CLM_TESTS_RISK_FIXTURE_H
#define CLM_TESTS_RISK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/risk.h"

#define T0          1700000000000LL /* a base event time (2023-11-14) */
#define H           3600000LL
#define D           MODEL_DAY_MS
#define MAX_TOUCHES 64
#define ALL_REASONS 0xfeu       /* bits 1..7 */
#define R(x)        (1u << (x)) /* one reason's bit */

/*
 * Symbolic lengths of time, so one table serves both parameter sets: a
 * time is T0 + len(win) + off.
 */
enum {
	W0,        /* zero */
	W_AT_RISK, /* at_risk_ms */
	W_CHURN,   /* churn_ms */
	W_BILLING, /* billing_issue_ms */
	W_TICKET,  /* support_ticket_ms */
	W_REFUND,  /* refund_ms */
	W_ONB,     /* twice the median onboarding time */
};

/* A parameter set with the onboarding median it is tested with. */
struct pset {
	const char *name;
	struct model_params mp;
	struct risk_onboarding onb;
};

/* One touchpoint: at T0 + len(win) + off. */
struct spec {
	int type;
	int win;
	int64_t off;
	float sentiment;
};

#define S(t, w, o)                                                     \
	{                                                              \
		.type = (t), .win = (w), .off = (o), .sentiment = 0.0f \
	}
#define SS(t, w, o, v)                                                \
	{                                                             \
		.type = (t), .win = (w), .off = (o), .sentiment = (v) \
	}

/*
 * Applies touchpoints as the writer does: each through model_apply with
 * the next arrival seq and, when model_apply asks for a rescan, the first
 * engagement (by time, then seq) already applied with event time in
 * (after_ms, upto_ms] goes to model_note_engagement, as track.c's scan
 * in (time, seq) order that stops at the first one does.
 */
struct applier {
	struct model_profile p;
	struct model_touch log[MAX_TOUCHES];
	size_t n;
	uint64_t seq;
};

/*
 * The non-default set: every window different, the SUPPORT_TICKETS window
 * longer than the inactivity threshold (so all seven reasons can hold at
 * once), 2 tickets, 3 sentiments, threshold -0.5, and weights that are
 * binary fractions, so every product is exact whatever its order.
 */
void pset_custom(struct pset *ps);

/* The default parameters, with a 2-day median onboarding time. */
void pset_default(struct pset *ps);

/* Both sets: [0] default, [1] custom. */
void psets(struct pset ps[2]);

/* The length of the symbolic window win (W_*) in set ps. */
int64_t len_of(const struct pset *ps, int win);

/* An empty profile, no touchpoint applied yet. */
void applier_init(struct applier *a);

/* Answers model_apply's rescan r from the applied touchpoints. */
void applier_rescan(struct applier *a, const struct model_rescan *r);

/* Applies one touchpoint of type at at_ms (sentiment for the types
 * that carry one). */
void applier_touch(
        struct applier *a, int type, int64_t at_ms, float sentiment);

/* Applies s, its time resolved in set ps. */
void applier_spec(
        struct applier *a, const struct pset *ps, const struct spec *s);

/* The reasons of mask, heaviest first, ties by number (independently). */
size_t expected_order(const struct model_params *mp, unsigned mask, int *out);

/* 1 - prod(1 - w) over mask, multiplied heaviest first. */
double expected_score(const struct model_params *mp, unsigned mask);

/* The names of mask's reasons, for messages, into buf (n bytes). */
void mask_str(unsigned mask, char *buf, size_t n);

/*
 * Asserts risk_score gives exactly the reasons of mask, in weight order,
 * and the score of those reasons (exactly when exact, else within 1e-12).
 */
void check_risk(const struct model_profile *p, const struct model_params *mp,
        const struct risk_onboarding *onb, int64_t now, unsigned mask,
        bool exact, const char *ctx);

/* The reasons' names as the API spells them, by number. */
extern const char *const reason_names[MODEL_N_REASONS];

#endif /* CLM_TESTS_RISK_FIXTURE_H */
