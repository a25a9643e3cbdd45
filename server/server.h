/*
 * server: the context every handler gets (no globals): configuration, the
 * store, the writer and the event stream.
 */
#ifndef CLM_SERVER_H
#define CLM_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "calls/validate.h"
#include "config.h"
#include "core/model.h"
#include "store/store.h"
#include "write/writer.h"

struct auth;
struct evring;
struct pubsub;
struct sdk_map;
struct telemetry;
struct waitpos;

struct server {
	const struct config *cfg;
	struct auth *auth; /* NULL: no tokens configured */
	store *st;
	writer *w;
	struct pubsub *ps; /* NULL when events = none */
	/*
	 * The events /api/events replays (net/evring.h): set by main when
	 * http is on (events = none too), before the writer starts; freed
	 * after the writer and http stopped. NULL otherwise.
	 */
	struct evring *events;
	/*
	 * The event-name table of the SDK ingest routes (ingest/sdk.h), the
	 * built-in names and the sdk_event_map file: set by main before the
	 * listeners start, freed after they stop; read-only in between.
	 */
	struct sdk_map *sdk_map;
	/*
	 * clmd's counters (util/telemetry.h): the writer records its batches
	 * there, rpc every reply, and http reads them for /metrics. They
	 * outlive every thread that records.
	 */
	struct telemetry *tm;
	/*
	 * The requests waiting for a Request.min_position (calls/waitpos.h),
	 * woken by the writer's advanced hook: set by main before the
	 * writer starts, stopped before rpc closes, freed after. NULL: a
	 * request the view is behind for is answered UNAVAILABLE at once.
	 */
	struct waitpos *waits;
	/*
	 * What the view applies, for StatusReply.journal: "local" (the file
	 * journal; server_init's default), or the cluster's description,
	 * set by main. Static or outliving srv.
	 */
	const char *journal_desc;
	/*
	 * What StatusReply.journal shows: "local", or in cluster mode the
	 * stream ("nats CLM", docs/cluster.md); set by main before the
	 * listeners start. NULL: "local".
	 */
	const char *journal;
	int64_t started_ms;
	struct validate_limits limits;
	struct model_params params; /* health and risk thresholds */
	/* POST /api/track requests holding a parsed body (http_customer.c). */
	atomic_uint http_tracks;
};

/*
 * server_init fills srv from the settings in cfg: the request limits and
 * the model's health and risk thresholds. auth (NULL: no tokens) and tm
 * are the caller's and outlive srv; now_ms is the start time. The store,
 * writer and stream are set by the caller as it opens them.
 */
void server_init(struct server *srv, const struct config *cfg,
        struct auth *auth, struct telemetry *tm, int64_t now_ms);

#endif /* CLM_SERVER_H */
