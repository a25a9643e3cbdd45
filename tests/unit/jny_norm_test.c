/*
 * Unit tests of a journey definition's normalised JSON (server/core/
 * journey_json.c, core/journey.h's jny_def.json): over many generated
 * definitions — every key optional or not, in random order, with random
 * white space and escapes — the normalised text parses into the same
 * definition and the same text again, has no white space beyond one space
 * after ':' and ',', and its redacted copy hides the secret. The exact
 * texts are in jny_def_test.c.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/journey.h"

static struct jny_def *
parse_ok(const char *json)
{
	struct jny_def *d = NULL;
	struct jny_error err;
	clm_err e = jny_parse(json, strlen(json), &d, &err);
	cr_assert_eq(e, CLM_OK, "'%s' does not parse: %s", json, err.msg);
	cr_assert_not_null(d);
	cr_assert_eq(strlen(d->json), d->json_len);
	return d;
}

/* xorshift64*: a fixed sequence, the same on every run. */
static uint64_t rng_state = 0x853c49e6748fea9bULL;

static unsigned
rng(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned) ((rng_state * 2685821657736338717ULL) >> 33) % n;
}

static const char *
pick(const char *const *a, size_t n)
{
	return a[rng((unsigned) n)];
}
#define PICK(a) pick((a), sizeof(a) / sizeof((a)[0]))

/* Appends members[0..n) to buf in a random order, with random spacing. */
static void
shuffle_object(char *buf, size_t cap, char members[][2048], size_t n)
{
	static const char *const ws[] = { "", " ", "\n  ", "\t", "  " };
	size_t order[16];
	for (size_t i = 0; i < n; i++) {
		order[i] = i;
	}
	for (size_t i = n; i > 1; i--) {
		size_t j = rng((unsigned) i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	size_t len = strlen(buf);
	len += (size_t) snprintf(buf + len, cap - len, "{%s", PICK(ws));
	for (size_t i = 0; i < n; i++) {
		len += (size_t) snprintf(buf + len, cap - len, "%s%s%s",
		        i > 0 ? "," : "", PICK(ws), members[order[i]]);
	}
	snprintf(buf + len, cap - len, "%s}", PICK(ws));
}

static void
gen_definition(char *buf, size_t cap)
{
	static const char *const triggers[] = {
		"{\"event\": \"PAGE_VIEW\"}",
		"{\"event\":\"CUSTOM\",\"name\":\"played\"}",
		"{\"name\": \"x\\u00e9\", \"event\": \"CUSTOM\"}",
		"{\"segment\":\"vip-1\"}",
		"{\"stage\": \"ADVOCACY\"}",
		"{\"risk\": \"INACTIVE\"}",
	};
	static const char *const conds[] = {
		"\"purchases >= 1\"",
		"\"count(PURCHASE, since_entry) >= 1\"",
		"\"count(CUSTOM where name = \\\"a\\\\\\\\b\\\", since_entry) = 0\"",
		"\"stage = RETENTION and not (health = AT_RISK)\"",
		"\"trait.plan = \\\"pro\\u00e9\\\" or count(PAGE_VIEW, 3d) > 2\"",
		"\"\\u0063hurn_risk > 0.5\"",
	};
	static const char *const durations[] = { "\"0s\"", "\"15m\"",
		"\"0024h\"", "\"3650d\"", "\"1s\"", "\"86400s\"" };
	static const char *const reentries[] = { "\"always\"", "\"once\"",
		"\"30d\"", "\"0s\"", "\"090d\"" };
	static const char *const kinds[] = { "\"WIN_BACK\"", "\"UPSELL\"",
		"\"GEO_OFFER\"", "\"NEXT_BEST_ACTION\"" };
	static const char *const channels[] = { "\"EMAIL\"", "\"SMS\"",
		"\"APP_NOTIFICATION\"", "\"STORE\"" };
	static const char *const texts[] = { "\"a\"", "\"cart \\\"x\\\"\"",
		"\"\\u0041\\/b\"", "\"~!@#$%^&*()\"" };
	static const char *const items[] = { "\"sku-1\"",
		"\"\\u00e9t\\u00e9\"", "\"a\\\\b\"", "\"\xe2\x82\xac 5\"" };
	char m[8][2048];
	size_t n = 0;
	snprintf(m[n++], sizeof(m[0]), "\"name\": \"j-%u\"", rng(1000));
	snprintf(m[n++], sizeof(m[0]), "\"trigger\":%s", PICK(triggers));
	if (rng(2)) {
		snprintf(m[n++], sizeof(m[0]), "\"exit\": %s", PICK(conds));
	}
	if (rng(2)) {
		snprintf(m[n++], sizeof(m[0]), "\"reentry\": %s",
		        PICK(reentries));
	}
	if (rng(2)) {
		snprintf(m[n++], sizeof(m[0]), "\"max_lateness\": %s",
		        rng(2) ? "\"1d\"" : "\"90s\"");
	}
	if (rng(2)) {
		snprintf(m[n++], sizeof(m[0]),
		        "\"webhook\": {\"url\": \"http://127.0.0.1:%u/h?a=1\", "
		        "\"secret\": %s%s}",
		        1000 + rng(9000), PICK(texts),
		        rng(2) ? ", \"max_attempts\": 1e1" : "");
	}
	size_t steps = 1 + rng(6);
	size_t len = (size_t) snprintf(m[n], sizeof(m[0]), "\"steps\": [");
	for (size_t i = 0; i < steps; i++) {
		char send[6][2048], step[4][2048], tmp[4096] = "";
		size_t ns = 0, nt = 0;
		snprintf(send[ns++], sizeof(send[0]), "\"kind\": %s",
		        PICK(kinds));
		snprintf(send[ns++], sizeof(send[0]), "\"action\": %s",
		        PICK(texts));
		snprintf(send[ns++], sizeof(send[0]), "\"channel\": %s",
		        PICK(channels));
		if (rng(2)) {
			snprintf(send[ns++], sizeof(send[0]), "\"item\": %s",
			        PICK(items));
		}
		char sendobj[4096] = "";
		shuffle_object(sendobj, sizeof(sendobj), send, ns);
		snprintf(step[nt++], sizeof(step[0]), "\"send\": %s", sendobj);
		if (rng(2)) {
			snprintf(step[nt++], sizeof(step[0]), "\"wait\": %s",
			        PICK(durations));
		}
		if (rng(2)) {
			snprintf(step[nt++], sizeof(step[0]), "\"if\": %s",
			        PICK(conds));
		}
		if (rng(2)) {
			snprintf(step[nt++], sizeof(step[0]),
			        "\"when_capped\": %s",
			        rng(2) ? "\"wait\"" : "\"skip\"");
		}
		shuffle_object(tmp, sizeof(tmp), step, nt);
		len += (size_t) snprintf(m[n] + len, sizeof(m[0]) - len,
		        "%s%s", i > 0 ? ", " : "", tmp);
	}
	snprintf(m[n] + len, sizeof(m[0]) - len, "]");
	n++;
	buf[0] = '\0';
	shuffle_object(buf, cap, m, n);
}

Test(jny_norm, normalised_is_idempotent)
{
	static char buf[65536];
	for (int round = 0; round < 2000; round++) {
		gen_definition(buf, sizeof(buf));
		struct jny_def *d = parse_ok(buf);
		struct jny_def *d2 = parse_ok(d->json);
		cr_assert_str_eq(
		        d2->json, d->json, "round %d: '%s'", round, buf);
		/* The same definition, not only the same text. */
		cr_assert_str_eq(d2->name, d->name);
		cr_assert_eq(d2->trigger, d->trigger);
		cr_assert_eq(d2->value, d->value);
		cr_assert_eq(d2->reentry, d->reentry);
		cr_assert_eq(d2->reentry_ms, d->reentry_ms);
		cr_assert_eq(d2->max_lateness_ms, d->max_lateness_ms);
		cr_assert_eq(d2->n_steps, d->n_steps);
		cr_assert_eq(
		        d2->webhook_max_attempts, d->webhook_max_attempts);
		for (size_t i = 0; i < d->n_steps; i++) {
			cr_assert_eq(
			        d2->steps[i].wait_ms, d->steps[i].wait_ms);
			cr_assert_eq(d2->steps[i].cond != NULL,
			        d->steps[i].cond != NULL);
			cr_assert_str_eq(
			        d2->steps[i].action, d->steps[i].action);
			cr_assert_eq(d2->steps[i].item != NULL,
			        d->steps[i].item != NULL);
		}
		/* No white space beyond one space after ':' and ','. */
		cr_assert_null(strchr(d->json, '\n'));
		cr_assert_null(strstr(d->json, ":  "));
		char *r = jny_redacted(d);
		cr_assert_not_null(r);
		if (d->webhook_url != NULL) {
			cr_assert(strstr(r, "\"secret\": \"***\"") != NULL);
		} else {
			cr_assert_str_eq(r, d->json);
		}
		free(r);
		jny_free(d2);
		jny_free(d);
	}
}
