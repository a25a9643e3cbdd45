#include "calls/validate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

bool
validate_utf8(const char *str, size_t n, bool printable)
{
	const unsigned char *s = (const unsigned char *) str;
	for (size_t i = 0, len; i < n; i += len) {
		len = utf8_seq(str + i, n - i);
		if (len == 0) {
			return false;
		}
		/* C0 and DEL; C1 (U+0080..U+009F) is C2 80..C2 9F. */
		if (printable
		        && ((len == 1 && (s[i] < 0x20 || s[i] == 0x7f))
		                || (len == 2 && s[i] == 0xc2
		                        && s[i + 1] < 0xa0))) {
			return false;
		}
	}
	return true;
}

const char *
validate_id(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0) {
		return "must not be empty";
	}
	if (n > max) {
		return "is too long";
	}
	if (!validate_utf8(s, n, true)) {
		return "must be printable UTF-8";
	}
	return NULL;
}

/* Checks an optional id-like string (empty allowed). */
static bool
validate_opt_id(const char *s, size_t max, const char *prefix,
        const char *field, struct violations *v)
{
	if (s[0] == '\0') {
		return true;
	}
	const char *why = validate_id(s, max);
	if (why == NULL) {
		return true;
	}
	char name[96];
	snprintf(name, sizeof(name), "%s.%s", prefix, field);
	if (strcmp(why, "is too long") == 0) {
		violations_add(v, name, "is %zu bytes, the limit is %zu",
		        strlen(s), max);
	} else {
		violations_add(v, name, "%s", why);
	}
	return false;
}

static bool
validate_enum(const ProtobufCEnumDescriptor *d, int value)
{
	return protobuf_c_enum_descriptor_get_value(d, value) != NULL;
}

void
validate_entry(const char *key, const char *value,
        const struct validate_limits *l, const char *field, size_t index,
        struct violations *v)
{
	size_t kn = strlen(key), vn = strlen(value);
	char name[112];
	snprintf(name, sizeof(name), "%s[%zu]", field, index);
	if (kn == 0 || kn > l->max_property_key_bytes
	        || !validate_utf8(key, kn, true)) {
		violations_add(v, name,
		        "key must be 1..%zu bytes of printable UTF-8",
		        l->max_property_key_bytes);
	}
	if (vn > l->max_property_value_bytes
	        || !validate_utf8(value, vn, false)) {
		violations_add(v, name,
		        "value must be at most %zu bytes of UTF-8",
		        l->max_property_value_bytes);
	}
}

/*
 * event_name: a CUSTOM touchpoint's own name (what an SDK called the
 * event), required there and meaningless on any other type.
 */
static void
validate_custom(const Clm__V1__Touchpoint *tp, const char *prefix,
        struct violations *v)
{
	char name[96];
	snprintf(name, sizeof(name), "%s.event_name", prefix);
	size_t n = strlen(tp->event_name);
	if (tp->type != CLM__V1__TOUCHPOINT_TYPE__CUSTOM) {
		if (n > 0) {
			violations_add(v, name,
			        "is for CUSTOM touchpoints only (type %d)",
			        (int) tp->type);
		}
		return;
	}
	if (n == 0) {
		violations_add(v, name, "is required for a CUSTOM touchpoint");
	} else if (n > VALIDATE_EVENT_NAME_MAX) {
		violations_add(v, name, "is %zu bytes, the limit is %d", n,
		        VALIDATE_EVENT_NAME_MAX);
	} else if (!validate_utf8(tp->event_name, n, true)) {
		violations_add(v, name, "must be printable UTF-8");
	}
}

/*
 * order_items: the other items of one order (docs/api.md "Orders of
 * several items"), each an item id, beside an item_id that must be set.
 */
static void
validate_order_items(const Clm__V1__Touchpoint *tp,
        const struct validate_limits *l, const char *prefix,
        struct violations *v)
{
	if (tp->n_order_items == 0) {
		return;
	}
	char name[96];
	snprintf(name, sizeof(name), "%s.order_items", prefix);
	if (tp->type != CLM__V1__TOUCHPOINT_TYPE__PURCHASE
	        && tp->type != CLM__V1__TOUCHPOINT_TYPE__REFUND) {
		violations_add(v, name,
		        "is for PURCHASE and REFUND touchpoints only (type %d)",
		        (int) tp->type);
		return;
	}
	if (tp->n_order_items > VALIDATE_ORDER_ITEMS_MAX) {
		violations_add(v, name, "has %zu entries, the limit is %d",
		        tp->n_order_items, VALIDATE_ORDER_ITEMS_MAX);
		return;
	}
	if (tp->item_id[0] == '\0') {
		snprintf(name, sizeof(name), "%s.item_id", prefix);
		violations_add(v, name, "is required when order_items is set");
	}
	for (size_t i = 0; i < tp->n_order_items; i++) {
		const char *why
		        = validate_id(tp->order_items[i], l->max_id_bytes);
		if (why == NULL) {
			continue;
		}
		snprintf(name, sizeof(name), "%s.order_items[%zu]", prefix, i);
		if (strcmp(why, "is too long") == 0) {
			violations_add(v, name,
			        "is %zu bytes, the limit is %zu",
			        strlen(tp->order_items[i]), l->max_id_bytes);
		} else {
			violations_add(v, name, "%s", why);
		}
	}
}

bool
validate_touchpoint(const Clm__V1__Touchpoint *tp,
        const struct validate_limits *l, int64_t now_ms, const char *prefix,
        struct violations *v)
{
	size_t before = v->n;
	char name[96];
#define VALIDATE_FIELD(f) (snprintf(name, sizeof(name), "%s." f, prefix), name)

	validate_opt_id(tp->event_id, l->max_id_bytes, prefix, "event_id", v);
	validate_opt_id(
	        tp->customer_id, l->max_id_bytes, prefix, "customer_id", v);
	validate_opt_id(
	        tp->anonymous_id, l->max_id_bytes, prefix, "anonymous_id", v);
	if (tp->customer_id[0] == '\0' && tp->anonymous_id[0] == '\0') {
		violations_add(v, VALIDATE_FIELD("customer_id"),
		        "customer_id or anonymous_id is required");
	}
	if (tp->type
	        == CLM__V1__TOUCHPOINT_TYPE__TOUCHPOINT_TYPE_UNSPECIFIED) {
		violations_add(v, VALIDATE_FIELD("type"), "is required");
	} else if (!validate_enum(&clm__v1__touchpoint_type__descriptor,
	                   (int) tp->type)) {
		violations_add(v, VALIDATE_FIELD("type"),
		        "unknown touchpoint type %d", (int) tp->type);
	}
	validate_custom(tp, prefix, v);
	if (!validate_enum(&clm__v1__channel__descriptor, (int) tp->channel)) {
		violations_add(v, VALIDATE_FIELD("channel"),
		        "unknown channel %d", (int) tp->channel);
	}
	if (tp->occurred_at_ms != 0
	        && (tp->occurred_at_ms < VALIDATE_MIN_TIME_MS
	                || tp->occurred_at_ms
	                        > now_ms + VALIDATE_MAX_AHEAD_MS)) {
		violations_add(v, VALIDATE_FIELD("occurred_at_ms"),
		        "%lld is outside 2000-01-01 .. now + 24 h (unix ms; 0 means now)",
		        (long long) tp->occurred_at_ms);
	}
	validate_opt_id(tp->item_id, l->max_id_bytes, prefix, "item_id", v);
	validate_order_items(tp, l, prefix, v);
	if (!isfinite(tp->value) || fabs(tp->value) > VALIDATE_MAX_VALUE) {
		violations_add(v, VALIDATE_FIELD("value"),
		        "must be a finite number of at most 1e12 in magnitude");
	} else if (tp->value < 0
	        && (tp->type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE
	                || tp->type == CLM__V1__TOUCHPOINT_TYPE__REFUND)) {
		violations_add(v, VALIDATE_FIELD("value"),
		        "must not be negative for a purchase or refund");
	}
	validate_opt_id(tp->currency, 16, prefix, "currency", v);
	if (!isfinite(tp->sentiment) || tp->sentiment < -1.0f
	        || tp->sentiment > 1.0f) {
		violations_add(v, VALIDATE_FIELD("sentiment"),
		        "must be between -1 and 1");
	}
	if (tp->location != NULL) {
		double lat = tp->location->lat, lon = tp->location->lon;
		if (!isfinite(lat) || lat < -90 || lat > 90) {
			violations_add(v, VALIDATE_FIELD("location.lat"),
			        "must be between -90 and 90");
		}
		if (!isfinite(lon) || lon < -180 || lon > 180) {
			violations_add(v, VALIDATE_FIELD("location.lon"),
			        "must be between -180 and 180");
		}
	}
	validate_opt_id(tp->campaign, l->max_id_bytes, prefix, "campaign", v);
	if (tp->n_properties > l->max_properties) {
		violations_add(v, VALIDATE_FIELD("properties"),
		        "has %zu entries, the limit is %zu", tp->n_properties,
		        l->max_properties);
	}
	snprintf(name, sizeof(name), "%s.properties", prefix);
	for (size_t i = 0; i < tp->n_properties; i++) {
		validate_entry(tp->properties[i]->key,
		        tp->properties[i]->value, l, name, i, v);
	}
#undef VALIDATE_FIELD
	return v->n == before;
}
