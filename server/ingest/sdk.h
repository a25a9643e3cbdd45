/*
 * sdk: what the tracking SDKs send (Segment and RudderStack's /v1/...,
 * PostHog's /batch/ and /capture/) mapped onto clm's own calls, as
 * docs/ingest.md describes: each item of a body becomes a Track
 * touchpoint or an Identify, or a per-item error saying why not.
 *
 * Pure: no I/O but sdk_map_load, no clock (now_ms is given), no store.
 * The HTTP side (net/http_ingest.c) inflates the body, checks the write
 * key, runs the operations through dispatch and the writer in order, and
 * answers. Everything sdk_parse returns lives in the arena it is given.
 *
 * Layer: ingest sits beside calls (it builds the calls' Request messages
 * and needs only common/ and util/).
 */
#ifndef CLM_INGEST_SDK_H
#define CLM_INGEST_SDK_H

#include <stddef.h>
#include <stdint.h>

#include "calls/validate.h"
#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"
#include "util/arena.h"

/* The body limits, on the inflated bytes (Segment's own). */
#define SDK_MAX_BATCH_BYTES (500u * 1024u)
#define SDK_MAX_ITEM_BYTES  (32u * 1024u)

/* Which route a body came to, which decides its shape. */
enum sdk_route {
	SDK_ROUTE_BATCH,    /* /v1/batch: {"batch": [items], "sentAt"} */
	SDK_ROUTE_TRACK,    /* /v1/track: one item, "type" implied */
	SDK_ROUTE_IDENTIFY, /* /v1/identify */
	SDK_ROUTE_PAGE,     /* /v1/page */
	SDK_ROUTE_SCREEN,   /* /v1/screen */
	SDK_ROUTE_ALIAS,    /* /v1/alias */
	SDK_ROUTE_GROUP,    /* /v1/group */
	/*
	 * PostHog's /batch/, /capture/, /e/ and /i/v0/e/: {"api_key",
	 * "batch": [events], "sent_at"}, or one event with its api_key.
	 */
	SDK_ROUTE_POSTHOG,
};

/* One clm call an item became. */
enum sdk_op_kind {
	SDK_OP_TRACK,    /* tp: one touchpoint */
	SDK_OP_IDENTIFY, /* identify: an Identify (traits, or an alias) */
};

struct sdk_op {
	enum sdk_op_kind kind;
	uint32_t item; /* the item's index in the body's batch (0 if single) */
	Clm__V1__Touchpoint *tp;
	Clm__V1__IdentifyRequest *identify;
};

/* An item that became no call, and why. */
struct sdk_item_error {
	uint32_t item;
	clm_err code;        /* INVALID_ARGUMENT mostly */
	const char *field;   /* as the SDK named it: "batch[3].timestamp" */
	const char *message; /* lowercase, what is wrong */
};

/* A parsed body: its operations in the body's order, and its errors. */
struct sdk_batch {
	/*
	 * The write key the body itself carries (PostHog's api_key), or NULL
	 * (Segment's comes in the Authorization header). The caller checks
	 * it before running any operation.
	 */
	const char *api_key;
	uint32_t n_items; /* items the body held */
	struct sdk_op *ops;
	size_t n_ops;
	struct sdk_item_error *errors;
	size_t n_errors;
};

/*
 * The event-name table (built-in names of Segment's e-commerce spec v2
 * and PostHog's $ events, case-insensitive, plus a user's file named by
 * the conf key `sdk_event_map`, docs/ingest.md). Immutable once loaded:
 * any number of threads may use it at once.
 */
struct sdk_map;

/*
 * sdk_map_load builds the table: the built-in names, then the file at
 * path (NULL: none) whose lines override and extend them. Returns CLM_OK
 * and the table in *out, or INVALID_ARGUMENT with "FILE:LINE: why" in err
 * (clmd refuses to start), or RESOURCE_EXHAUSTED.
 */
clm_err sdk_map_load(
        const char *path, struct sdk_map **out, char *err, size_t errlen);

/* sdk_map_free frees m; NULL is a no-op. */
void sdk_map_free(struct sdk_map *m);

/*
 * sdk_parse maps body[0..len) (inflated JSON, at most
 * SDK_MAX_BATCH_BYTES) that came to route into *out, in a's memory, at
 * instant now_ms (the receive time, for items without a timestamp and
 * for the sentAt clock correction). Nested properties and traits are
 * flattened to dotted keys within lim's property limits (docs/ingest.md
 * says what is dropped past them). Items that cannot be mapped become
 * out->errors and the rest still become operations. Returns CLM_OK, or
 * INVALID_ARGUMENT with the reason in err ("invalid JSON at offset 17:
 * ...", "no \"batch\" array") when nothing could be read at all, or
 * RESOURCE_EXHAUSTED when a's budget ran out. When a has no budget,
 * sdk_parse gives it one for the call (1 MiB plus 64 bytes per byte of
 * body, docs/ingest.md "Memory") and lifts it before returning; a budget
 * the caller set is kept.
 */
clm_err sdk_parse(const struct sdk_map *m, const struct validate_limits *lim,
        enum sdk_route route, const char *body, size_t len, int64_t now_ms,
        arena *a, struct sdk_batch *out, char *err, size_t errlen);

#endif /* CLM_INGEST_SDK_H */
