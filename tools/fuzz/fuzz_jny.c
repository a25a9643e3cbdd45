/*
 * fuzz_jny: a libFuzzer target for the journey definition parser
 * (server/core/journey.c, docs/journeys.md "Definition"): the JSON a
 * DefineJourney request carries, parsed before anything checks it.
 *
 * The input is the definition. Besides the sanitizers' findings, these
 * are findings:
 *
 * - a result other than OK or INVALID_ARGUMENT, or a definition given
 *   back with an error;
 * - an error message that is empty, starts with a capital or ends with a
 *   period;
 * - a parsed definition outside its limits (name, 1 to 32 steps, their
 *   kinds and channels, durations, attempts), or whose normalised JSON
 *   is not NUL-terminated at json_len, is over 65,536 bytes, does not
 *   parse, or parses into another text;
 * - a redacted copy that does not parse, still holds a webhook's
 *   secret field unredacted, or differs from the JSON without one.
 *
 * The seeds in tools/fuzz/corpus_jny/ are one definition each: the docs'
 * examples, every trigger and option, and a few broken ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/journey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DURATION_MAX (3650 * 86400000LL)

static void
fuzz_fail(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_jny: %s: '%.*s'\n", what, (int) size,
	        (const char *) data);
	abort();
}

static bool
fuzz_in_limits(const struct jny_def *d)
{
	if (!jny_name_valid(d->name, strlen(d->name)) || d->n_steps < 1
	        || d->n_steps > JNY_STEPS_MAX || d->trigger < JNY_TRIGGER_EVENT
	        || d->trigger > JNY_TRIGGER_RISK
	        || (d->trigger != JNY_TRIGGER_SEGMENT && d->value <= 0)
	        || (d->trigger == JNY_TRIGGER_SEGMENT
	                && d->trigger_name == NULL)
	        || d->max_lateness_ms < 1000
	        || d->max_lateness_ms > FUZZ_DURATION_MAX || d->reentry_ms < 0
	        || d->reentry_ms > FUZZ_DURATION_MAX
	        || d->webhook_max_attempts < 1 || d->webhook_max_attempts > 100
	        || (d->webhook_url == NULL) != (d->webhook_secret == NULL)) {
		return false;
	}
	for (size_t i = 0; i < d->n_steps; i++) {
		const struct jny_step *s = &d->steps[i];
		size_t al = strlen(s->action);
		if (s->wait_ms < 0 || s->wait_ms > FUZZ_DURATION_MAX
		        || s->kind <= 0 || s->channel <= 0 || al == 0
		        || al > JNY_ACTION_MAX
		        || (s->item != NULL
		                && (s->item[0] == '\0'
		                        || strlen(s->item) > JNY_ITEM_MAX))) {
			return false;
		}
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jny_def *d = NULL, *d2 = NULL, *r = NULL;
	struct jny_error err;
	memset(&err, 0, sizeof(err));
	clm_err e = jny_parse((const char *) data, size, &d, &err);
	if (e == CLM_INVALID_ARGUMENT) {
		size_t ml = strlen(err.msg);
		if (d != NULL || ml == 0
		        || (err.msg[0] >= 'A' && err.msg[0] <= 'Z')
		        || err.msg[ml - 1] == '.') {
			fuzz_fail("bad error", data, size);
		}
		return 0;
	}
	if (e != CLM_OK || d == NULL) {
		fuzz_fail("unexpected result", data, size);
	}
	if (!fuzz_in_limits(d)) {
		fuzz_fail("a definition outside its limits", data, size);
	}
	if (strlen(d->json) != d->json_len || d->json_len > JNY_DEF_MAX) {
		fuzz_fail("bad normalised JSON", data, size);
	}
	if (jny_parse(d->json, d->json_len, &d2, &err) != CLM_OK
	        || strcmp(d2->json, d->json) != 0) {
		fuzz_fail("normalised JSON not idempotent", data, size);
	}
	int64_t window;
	bool since;
	jny_needs(d, &window, &since);
	if (window < 0) {
		fuzz_fail("a negative window", data, size);
	}
	char *red = jny_redacted(d);
	if (red == NULL || jny_parse(red, strlen(red), &r, &err) != CLM_OK) {
		fuzz_fail("redacted JSON does not parse", data, size);
	}
	if (d->webhook_url != NULL ? strcmp(r->webhook_secret, "***") != 0
	                           : strcmp(red, d->json) != 0) {
		fuzz_fail("bad redaction", data, size);
	}
	free(red);
	jny_free(r);
	jny_free(d2);
	jny_free(d);
	return 0;
}
