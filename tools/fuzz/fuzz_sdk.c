/*
 * fuzz_sdk: a libFuzzer target for the SDK payload mapper (server/ingest/,
 * docs/ingest.md), the JSON that clmd's HTTP ingest reads before it has
 * checked the write key inside it.
 *
 * An input's first byte picks the route (its value modulo 8, in the order
 * of enum sdk_route: 0 /v1/batch, 1 track, 2 identify, 3 page, 4 screen,
 * 5 alias, 6 group, 7 PostHog); the rest is the body. sdk_parse runs with
 * the built-in event table, clmd's default limits and a fixed clock, in an
 * arena reset after each input. Besides the sanitizers' findings, these
 * are findings:
 *
 * - a result other than OK, INVALID_ARGUMENT (with a message) or
 *   RESOURCE_EXHAUSTED;
 * - an operation or error whose item is not one of the body's, an error
 *   without a field or a lowercase message, or items out of order;
 * - an operation that the call it is for would refuse: every touchpoint
 *   must pass validate_touchpoint (but for this build's refusal of CUSTOM,
 *   event_name and order_items, which the model does not count yet), and
 *   every Identify must have valid ids and traits, as identify.c checks;
 * - a message that protobuf-c cannot pack.
 *
 * The seeds in tools/fuzz/corpus_sdk/ are the bodies recorded from the
 * real SDKs (tests/data/sdk/, the uncompressed runs), each behind its
 * route byte (`{ printf '\000'; cat tests/data/sdk/segment-1.body; }`),
 * one small body per single-item route, PostHog's single-event and
 * bare-array forms, and a broken batch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/reply.h"
#include "calls/validate.h"
#include "ingest/sdk.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-12-06T17:19:18.300Z, shortly after the seeds' sentAt. */
#define FUZZ_NOW 1796577558300LL

/* What every input is parsed with: made once by LLVMFuzzerInitialize. */
static struct {
	struct sdk_map *map;
	arena a;
	struct validate_limits lim;
} fuzz;

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_sdk: %s\n", what);
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	(void) argc;
	(void) argv;
	if (sdk_map_load(NULL, &fuzz.map, err, sizeof(err)) != CLM_OK) {
		fuzz_fail(err);
	}
	arena_init(&fuzz.a);
	fuzz.lim = (struct validate_limits) {
		.max_id_bytes = 128,
		.max_properties = 32,
		.max_property_key_bytes = 64,
		.max_property_value_bytes = 1024,
	};
	return 0;
}

/* A violation this build makes for every CUSTOM touchpoint. */
static bool
fuzz_not_yet(const Clm__V1__FieldViolation *fv)
{
	return strstr(fv->description, "not accepted by this build yet")
	        != NULL;
}

static void
fuzz_check_tp(const Clm__V1__Touchpoint *tp)
{
	struct violations v;
	violations_init(&v, &fuzz.a);
	validate_touchpoint(tp, &fuzz.lim, FUZZ_NOW, "tp", &v);
	for (size_t i = 0; i < v.n; i++) {
		if (!fuzz_not_yet(v.items[i])) {
			fprintf(stderr, "fuzz_sdk: %s: %s\n",
			        v.items[i]->field, v.items[i]->description);
			fuzz_fail("a touchpoint that Track would refuse");
		}
	}
	if ((tp->type == CLM__V1__TOUCHPOINT_TYPE__CUSTOM)
	        != (tp->event_name[0] != '\0')) {
		fuzz_fail("event_name without CUSTOM, or CUSTOM without it");
	}
}

static void
fuzz_check_identify(const Clm__V1__IdentifyRequest *r)
{
	struct violations v;
	violations_init(&v, &fuzz.a);
	if (validate_id(r->anonymous_id, fuzz.lim.max_id_bytes) != NULL
	        || validate_id(r->customer_id, fuzz.lim.max_id_bytes) != NULL
	        || r->n_traits > fuzz.lim.max_properties) {
		fuzz_fail("an Identify with bad ids or too many traits");
	}
	for (size_t i = 0; i < r->n_traits; i++) {
		validate_entry(r->traits[i]->key, r->traits[i]->value,
		        &fuzz.lim, "traits", i, &v);
	}
	if (v.n > 0) {
		fuzz_fail("an Identify with a trait Identify would refuse");
	}
}

static void
fuzz_pack(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = arena_alloc(&fuzz.a, n + 1);
	if (buf == NULL || protobuf_c_message_pack(m, buf) != n) {
		fuzz_fail("a message that does not pack");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdk_batch b;
	char err[256] = "";

	if (size == 0) {
		return 0;
	}
	enum sdk_route route = (enum sdk_route)(data[0] % 8);
	const char *body = (const char *) data + 1;
	size_t len = size - 1;
	if (len > SDK_MAX_BATCH_BYTES) {
		len = SDK_MAX_BATCH_BYTES;
	}
	clm_err e = sdk_parse(fuzz.map, &fuzz.lim, route, body, len, FUZZ_NOW,
	        &fuzz.a, &b, err, sizeof(err));
	if (e == CLM_INVALID_ARGUMENT && err[0] == '\0') {
		fuzz_fail("INVALID_ARGUMENT without a message");
	}
	if (e != CLM_OK && e != CLM_INVALID_ARGUMENT
	        && e != CLM_RESOURCE_EXHAUSTED) {
		fuzz_fail("an unexpected result");
	}
	if (e == CLM_OK) {
		uint32_t last = 0;
		for (size_t i = 0; i < b.n_ops; i++) {
			const struct sdk_op *op = &b.ops[i];
			if (op->item >= b.n_items || op->item < last) {
				fuzz_fail(
				        "an operation out of the items' order");
			}
			last = op->item;
			if (op->kind == SDK_OP_TRACK) {
				fuzz_check_tp(op->tp);
				fuzz_pack(&op->tp->base);
			} else if (op->kind == SDK_OP_IDENTIFY) {
				fuzz_check_identify(op->identify);
				fuzz_pack(&op->identify->base);
			} else {
				fuzz_fail("an unknown operation");
			}
		}
		for (size_t i = 0; i < b.n_errors; i++) {
			const struct sdk_item_error *ie = &b.errors[i];
			if (ie->item >= b.n_items || ie->field == NULL
			        || ie->message == NULL || ie->message[0] < 'a'
			        || ie->message[0] > 'z') {
				fuzz_fail("a malformed item error");
			}
		}
	}
	arena_reset(&fuzz.a);
	return 0;
}
