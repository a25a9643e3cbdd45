/*
 * fuzz_segx: a libFuzzer target for the segment expression parser and
 * evaluator (server/core/segexpr.c, docs/segments.md "The language"): the
 * text a DefineSegment request carries, parsed before anything checks it.
 *
 * The input is the expression. When it parses, it is evaluated over a
 * fixed profile with fake trait, bought and count callbacks, at a fixed
 * instant and one just before the next change it reports. Besides the
 * sanitizers' findings, these are findings:
 *
 * - a result other than OK or INVALID_ARGUMENT;
 * - an error at a byte past the input, or with an empty message, one
 *   that starts with a capital or ends with a period;
 * - a next-change instant not after now, or an answer that differs one
 *   millisecond before it;
 * - a program whose needs do not match the callbacks it called.
 *
 * The seeds in tools/fuzz/corpus_segx/ are one expression each, covering
 * every construct of the language and a few broken ones.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/segexpr.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_T0  1796577558300LL /* 2026-12-06T17:19:18.300Z */
#define FUZZ_DAY 86400000LL

/* The fixed customer every program is evaluated for (LLVMFuzzerInitialize). */
static struct {
	struct model_profile p;
	struct model_params mp;
	struct risk_onboarding onb;
	int calls_trait, calls_bought, calls_count;
} fuzz;

static void
fuzz_fail(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_segx: %s: '%.*s'\n", what, (int) size,
	        (const char *) data);
	abort();
}

static void
fuzz_touch(int type, int64_t at, const char *item)
{
	static uint64_t seq;
	struct model_touch t = {
		.type = type,
		.channel = 2,
		.at_ms = at,
		.seq = ++seq,
		.item_id = item,
		.value_micros = type == MODEL_T_PURCHASE ? 30000000 : 0,
	};
	struct model_rescan r = { .active = false };
	model_apply(&fuzz.p, &t, &r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	model_profile_init(&fuzz.p);
	model_params_default(&fuzz.mp);
	fuzz.onb.known = true;
	fuzz.onb.twice_median_ms = 3 * FUZZ_DAY;
	fuzz_touch(MODEL_T_SITE_VISIT, FUZZ_T0 - 40 * FUZZ_DAY, "");
	fuzz_touch(MODEL_T_SIGNUP, FUZZ_T0 - 39 * FUZZ_DAY, "");
	fuzz_touch(MODEL_T_PURCHASE, FUZZ_T0 - 20 * FUZZ_DAY, "sku-1");
	fuzz_touch(MODEL_T_SUPPORT_TICKET, FUZZ_T0 - 10 * FUZZ_DAY, "");
	fuzz_touch(MODEL_T_REFUND, FUZZ_T0 - 9 * FUZZ_DAY, "sku-1");
	fuzz_touch(MODEL_T_ADD_TO_CART, FUZZ_T0 - 2 * FUZZ_DAY, "sku-2");
	fuzz_touch(MODEL_T_PAGE_VIEW, FUZZ_T0 - FUZZ_DAY, "");
	return 0;
}

static bool
fuzz_trait(void *arg, const char *name, size_t name_len, const char **val,
        size_t *val_len)
{
	(void) arg;
	fuzz.calls_trait++;
	if (name_len == 5 && memcmp(name, "seats", 5) == 0) {
		*val = "12";
	} else if (name_len == 4 && memcmp(name, "plan", 4) == 0) {
		*val = "pro";
	} else if (name_len == 3 && memcmp(name, "big", 3) == 0) {
		*val = "-99999999999999999999";
	} else {
		return false;
	}
	*val_len = strlen(*val);
	return true;
}

static bool
fuzz_bought(void *arg, const char *item, size_t item_len)
{
	(void) arg;
	fuzz.calls_bought++;
	return item_len == 5 && memcmp(item, "sku-1", 5) == 0;
}

/* One PAGE_VIEW a day for the last 30 days; nothing else. */
static clm_err
fuzz_count(void *arg, const struct segx_count *c, int64_t to_ms, uint64_t *n,
        int64_t *change_ms)
{
	(void) arg;
	fuzz.calls_count++;
	*n = 0;
	*change_ms = INT64_MAX;
	if (c->window_ms < 0 || (c->item != NULL && c->item_len > 4096)
	        || (c->name != NULL && c->name_len > 4096)) {
		fuzz_fail("count with a bad term", (const uint8_t *) "", 0);
	}
	if (c->type != MODEL_T_PAGE_VIEW || c->item != NULL
	        || c->name != NULL) {
		return CLM_OK;
	}
	for (int64_t i = 1; i <= 30; i++) {
		int64_t at = FUZZ_T0 - i * FUZZ_DAY;
		int64_t change;
		if (at > to_ms - c->window_ms && at <= to_ms) {
			(*n)++;
			change = at + c->window_ms;
		} else if (at > to_ms) {
			change = at;
		} else {
			continue;
		}
		if (change < *change_ms) {
			*change_ms = change;
		}
	}
	return CLM_OK;
}

static bool
fuzz_eval(const segx *x, int64_t now, int64_t *next, const uint8_t *data,
        size_t size)
{
	struct segx_subject s = {
		.p = &fuzz.p,
		.mp = &fuzz.mp,
		.onb = &fuzz.onb,
		.trait = fuzz_trait,
		.bought = fuzz_bought,
		.count = fuzz_count,
	};
	bool member;
	if (segx_eval(x, &s, now, &member, next) != CLM_OK) {
		fuzz_fail("evaluation failed", data, size);
	}
	if (*next <= now) {
		fuzz_fail("next change not after now", data, size);
	}
	return member;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	segx *x = NULL;
	struct segx_error err;
	memset(&err, 0, sizeof(err));
	clm_err e = segx_parse((const char *) data, size, &x, &err);
	if (e == CLM_INVALID_ARGUMENT) {
		size_t ml = strlen(err.msg);
		if (x != NULL || err.pos > size || ml == 0
		        || (err.msg[0] >= 'A' && err.msg[0] <= 'Z')
		        || err.msg[ml - 1] == '.') {
			fuzz_fail("bad error", data, size);
		}
		return 0;
	}
	if (e != CLM_OK || x == NULL) {
		fuzz_fail("unexpected result", data, size);
	}
	struct segx_needs n;
	segx_needs(x, &n);
	fuzz.calls_trait = fuzz.calls_bought = fuzz.calls_count = 0;
	int64_t next, next2;
	bool v = fuzz_eval(x, FUZZ_T0, &next, data, size);
	if ((fuzz.calls_trait && !n.traits) || (fuzz.calls_bought && !n.bought)
	        || (fuzz.calls_count && !n.counts)) {
		fuzz_fail("a callback the needs did not name", data, size);
	}
	if (!n.time && next != INT64_MAX) {
		fuzz_fail("a next change without needs.time", data, size);
	}
	if (next != INT64_MAX && next - 1 > FUZZ_T0
	        && fuzz_eval(x, next - 1, &next2, data, size) != v) {
		fuzz_fail("the answer changed before the next change", data,
		        size);
	}
	segx_free(x);
	return 0;
}
