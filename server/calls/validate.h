/*
 * validate: every check of a request's fields that docs/api.md asks for
 * ("Limits", and each call's own section).
 *
 * protobuf-c does not check UTF-8, enum values or any bound, so nothing a
 * client sends is trusted: each failure adds a FieldViolation that names
 * the field ("touchpoints[3].customer_id") and says why.
 */
#ifndef CLM_VALIDATE_H
#define CLM_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calls/reply.h"
#include "clm/v1/clm.pb-c.h"

/* 2000-01-01T00:00:00Z, the earliest accepted event time. */
#define VALIDATE_MIN_TIME_MS 946684800000LL
/* How far in the future an event time may be (clock skew). */
#define VALIDATE_MAX_AHEAD_MS (24LL * 3600 * 1000)
/* Largest absolute money value (keeps micro-unit sums far from overflow). */
#define VALIDATE_MAX_VALUE 1e12
/* Bytes of a CUSTOM touchpoint's event_name (printable UTF-8, 1..this). */
#define VALIDATE_EVENT_NAME_MAX 200
/*
 * Entries of a PURCHASE's or REFUND's order_items: with item_id, at most
 * 17 items of one order, whose C(17,2) pairs cost 272 co-purchase writes for
 * a new customer (docs/api.md "Orders of several items").
 */
#define VALIDATE_ORDER_ITEMS_MAX 16

struct validate_limits {
	size_t max_id_bytes;
	size_t max_properties;
	size_t max_property_key_bytes;
	size_t max_property_value_bytes;
};

/*
 * validate_utf8 tells whether s[0..n) is valid UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF); with printable, control
 * characters (C0, DEL, C1) are refused too.
 */
bool validate_utf8(const char *s, size_t n, bool printable);

/*
 * validate_id checks an identifier: 1..max bytes of printable UTF-8.
 * Returns NULL when valid, else a static reason ("must not be empty").
 */
const char *validate_id(const char *s, size_t max);

/*
 * validate_entry checks one map entry (a property or a trait) against the
 * property limits, naming it FIELD[INDEX] in violations.
 */
void validate_entry(const char *key, const char *value,
        const struct validate_limits *l, const char *field, size_t index,
        struct violations *v);

/*
 * validate_touchpoint checks every field of tp against l at time now_ms,
 * adding a violation for each problem to v with field names prefixed by
 * prefix ("touchpoints[2]"). Returns true when tp is valid.
 */
bool validate_touchpoint(const Clm__V1__Touchpoint *tp,
        const struct validate_limits *l, int64_t now_ms, const char *prefix,
        struct violations *v);

#endif /* CLM_VALIDATE_H */
