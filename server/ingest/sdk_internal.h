/*
 * sdk_internal: what the files of the SDK payload mapper share (sdk.c,
 * sdk_map.c, sdk_segment.c, sdk_posthog.c): the state of one sdk_parse,
 * the per-item helpers (errors, ids, times, flattening, the e-commerce
 * fields of a touchpoint) and the event table's lookup. Not for use
 * outside server/ingest/ (the unit tests excepted).
 */
#ifndef CLM_INGEST_SDK_INTERNAL_H
#define CLM_INGEST_SDK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/sdk.h"
#include "ingest/sdk_json.h"

/*
 * At most this many products of an order become its order_items: Track's
 * own limit (docs/api.md "Orders of several items"), so a bigger order is
 * still recorded, with its first products.
 */
#define SDK_MAX_ORDER_ITEMS VALIDATE_ORDER_ITEMS_MAX

/* What sdk_map_lookup answers for a name a table line sets to IGNORE. */
#define SDK_MAP_IGNORE (-1)

/* The state of one sdk_parse. */
struct sdk_ctx {
	const struct sdk_map *map;
	const struct validate_limits *lim;
	arena *a;
	int64_t now_ms;
	struct sdk_batch *out;
	size_t ops_cap, errors_cap;
	bool oom;         /* memory or budget ran out: the parse fails */
	const char *list; /* the items' array as named in fields: "batch" */
	bool single;      /* the body is one item: fields are unprefixed */
	uint32_t item;    /* the item being mapped */
	bool failed;      /* the item got an error */
	int64_t sent_ms;  /* the body's (or item's) sentAt, or INT64_MIN */
};

/* Flattened key/value pairs on their way to properties or traits. */
struct sdk_kv {
	char *key;
	char *value;
};

struct sdk_props {
	struct sdk_kv *kv;
	size_t n, cap;
};

/*
 * sdk_error records an error of the current item, on field (as the SDK
 * names it, relative to the item: "properties.revenue"; NULL: the item
 * itself), with a lowercase message.
 */
void sdk_error(struct sdk_ctx *c, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* sdk_op_add appends an operation of the current item; NULL when OOM. */
struct sdk_op *sdk_op_add(struct sdk_ctx *c, enum sdk_op_kind kind);

/* sdk_touchpoint_new returns a fresh touchpoint in c's arena, or NULL. */
Clm__V1__Touchpoint *sdk_touchpoint_new(struct sdk_ctx *c);

/* sdk_identify_new returns a fresh IdentifyRequest, or NULL. */
Clm__V1__IdentifyRequest *sdk_identify_new(struct sdk_ctx *c);

/*
 * sdk_id reads the id v (a string, or a number kept as its JSON text) into
 * *out: "" when v is NULL, null or "". Records an error on field and
 * returns false when v is another type, longer than max_id_bytes, not
 * printable UTF-8, or holds a NUL byte.
 */
bool sdk_id(struct sdk_ctx *c, const struct sdk_json *v, const char *field,
        const char **out);

/*
 * sdk_time_parse reads the ISO-8601 date-time s[0..n) ("2024-05-01T
 * 12:00:00.123+02:00"; a date alone is midnight; no offset is UTC) into
 * unix ms. Returns false when s is not one.
 */
bool sdk_time_parse(const char *s, size_t n, int64_t *ms);

/*
 * sdk_time reads the time v into *ms, corrected for the sender's clock by
 * (now - sent) when sent is not INT64_MIN; when v is NULL or null, *ms is
 * now. Records an error on field and returns false when v is not an
 * ISO-8601 string, or the time is before 2000-01-01 or more than 24 h
 * ahead of now.
 */
bool sdk_time(struct sdk_ctx *c, const struct sdk_json *v, int64_t sent,
        const char *field, int64_t *ms);

/*
 * sdk_time_check sets *ms to t when it lies between 2000-01-01 and 24 h
 * after now (Track's limits); else records an error on field and returns
 * false.
 */
bool sdk_time_check(
        struct sdk_ctx *c, int64_t t, const char *field, int64_t *ms);

/*
 * sdk_channel returns the Channel of a UTM medium and source (either
 * NULL), case-insensitive, by the table of docs/ingest.md; the medium
 * decides when it is known, then the source; else CHANNEL_UNSPECIFIED.
 */
Clm__V1__Channel sdk_channel(const char *medium, const char *source);

/*
 * sdk_flatten adds the members of object o to p as dotted keys under
 * prefix (NULL or "": none), within c's property limits: the top level's
 * scalars first, then nested objects and arrays (index keys "products.0.
 * sku") in document order. Values become strings (numbers as their JSON
 * text, true/false); nulls, and pairs past the limits, are dropped. With
 * skip_dollar, top-level keys that start with '$' are left out.
 * Returns false only when memory ran out.
 */
bool sdk_flatten(struct sdk_ctx *c, struct sdk_props *p,
        const struct sdk_json *o, const char *prefix, bool skip_dollar);

/*
 * sdk_props_add adds key=value to p when both fit c's property limits
 * and p is not full; otherwise drops it. False only when memory ran out.
 */
bool sdk_props_add(struct sdk_ctx *c, struct sdk_props *p, const char *key,
        const char *value);

/* sdk_props_to_tp and sdk_props_to_traits move p into the message. */
bool sdk_props_to_tp(
        struct sdk_ctx *c, const struct sdk_props *p, Clm__V1__Touchpoint *tp);
bool sdk_props_to_traits(struct sdk_ctx *c, const struct sdk_props *p,
        Clm__V1__IdentifyRequest *req);

/*
 * sdk_event_fields fills the fields of tp that its type takes from an
 * event's properties (props, named field in errors): a purchase's or
 * refund's value, currency, item_id and order_items; a cart's or view's
 * item_id; a review's sentiment. Returns false after an error.
 */
bool sdk_event_fields(struct sdk_ctx *c, Clm__V1__Touchpoint *tp,
        const struct sdk_json *props, const char *field);

/*
 * sdk_event_type looks an event name up in m (normalized as
 * docs/ingest.md says: ASCII case and '_' for ' ' do not matter): a
 * TouchpointType, SDK_MAP_IGNORE, or CUSTOM for a name the table lacks.
 */
int sdk_event_type(const struct sdk_map *m, const char *name);

/* sdk_segment_item maps one Segment or RudderStack item (type implied by
 * route unless SDK_ROUTE_BATCH). */
void sdk_segment_item(
        struct sdk_ctx *c, const struct sdk_json *item, enum sdk_route route);

/* sdk_posthog_item maps one PostHog event. */
void sdk_posthog_item(struct sdk_ctx *c, const struct sdk_json *ev);

#endif /* CLM_INGEST_SDK_INTERNAL_H */
