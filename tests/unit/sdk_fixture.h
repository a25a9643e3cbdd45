/*
 * sdk_fixture: what the sdk_*_test files share: the default limits, a
 * parse of a literal body, lookups of properties and traits, and the
 * requests recorded from the real SDKs (tests/data/sdk).
 */
#ifndef CLM_TEST_SDK_FIXTURE_H
#define CLM_TEST_SDK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/sdk.h"

/* The receive time of every parse: 2026-12-06T17:19:18.300Z. */
#define SDK_NOW 1796577558300LL

/* clmd's default limits (server/config.c). */
extern const struct validate_limits sdk_limits;

/* The map (built-ins only), arena and result of the current test. */
extern struct sdk_map *sdk_map;
extern arena sdk_arena;
extern struct sdk_batch sdk_out;
extern char sdk_err[256];

/* sdk_fixture_setup and _teardown: a Criterion .init and .fini. */
void sdk_fixture_setup(void);
void sdk_fixture_teardown(void);

/* sdk_parse_str parses the NUL-terminated body into sdk_out at SDK_NOW,
 * and checks its operations with sdk_check_valid when it parsed. */
clm_err sdk_parse_str(enum sdk_route route, const char *body);

/* sdk_read_file reads CLM_SDK_DATA/name into arena memory, *len bytes. */
char *sdk_read_file(const char *name, size_t *len);

/*
 * sdk_check_valid asserts that every operation of sdk_out is one its call
 * accepts: each touchpoint passes validate_touchpoint (but for this
 * build's refusal of CUSTOM, event_name and order_items), each Identify
 * has the ids and traits identify.c checks.
 */
void sdk_check_valid(void);

/* sdk_prop and sdk_trait return a key's value, or NULL. */
const char *sdk_prop(const Clm__V1__Touchpoint *tp, const char *key);
const char *sdk_trait(const Clm__V1__IdentifyRequest *r, const char *key);

#endif /* CLM_TEST_SDK_FIXTURE_H */
