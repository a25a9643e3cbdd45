/*
 * telemetry: clmd's own counters, for Prometheus (`/metrics` of --http).
 *
 * Requests answered by call and status code, their latency, the write
 * queue's depth and the writer's batch sizes, and the HTTP requests of the
 * dashboard. Every counter is a C11 atomic updated with relaxed ordering:
 * recording costs a few uncontended additions and never takes a lock, so
 * it can sit on the reply path. A reader sees each counter exactly, but not
 * all of them at one instant (a histogram's _sum may lag its buckets by a
 * request in flight), which is what Prometheus expects of a scrape.
 *
 * telemetry_format writes the text exposition format 0.0.4 from the
 * counters and the gauges the caller read from the store; it is a pure
 * function of its inputs (no clock, no store), so it is unit-tested alone.
 */
#ifndef CLM_TELEMETRY_H
#define CLM_TELEMETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Request slots: a Request's `call` case number (10 .. 30 today), 0 for a
 * request without a call or one that did not decode. Larger numbers land
 * in slot 0.
 */
#define TELEMETRY_CALLS 32
#define TELEMETRY_CODES 17 /* the wire Codes, OK .. UNAUTHENTICATED */

/* clm_request_duration_seconds: 50 us .. 5 s, then +Inf. */
#define TELEMETRY_DURATION_BUCKETS 16
/* clm_write_batch_size: 1 .. 1024 jobs per transaction, then +Inf. */
#define TELEMETRY_BATCH_BUCKETS 11

/* The dashboard's HTTP handlers, for clm_http_requests_total. */
enum telemetry_http_handler {
	TELEMETRY_HTTP_PAGE,        /* / */
	TELEMETRY_HTTP_STATUS,      /* /api/status */
	TELEMETRY_HTTP_METRICS,     /* /api/metrics */
	TELEMETRY_HTTP_COHORTS,     /* /api/cohorts */
	TELEMETRY_HTTP_EXPERIMENTS, /* /api/experiments[/ID] */
	TELEMETRY_HTTP_PROMETHEUS,  /* /metrics */
	/* The SDK ingest routes (docs/ingest.md), by their canonical path. */
	TELEMETRY_HTTP_V1_BATCH,    /* /v1/batch */
	TELEMETRY_HTTP_V1_TRACK,    /* /v1/track */
	TELEMETRY_HTTP_V1_IDENTIFY, /* /v1/identify */
	TELEMETRY_HTTP_V1_PAGE,     /* /v1/page */
	TELEMETRY_HTTP_V1_SCREEN,   /* /v1/screen */
	TELEMETRY_HTTP_V1_ALIAS,    /* /v1/alias */
	TELEMETRY_HTTP_V1_GROUP,    /* /v1/group */
	TELEMETRY_HTTP_PH_BATCH,    /* /batch/ */
	TELEMETRY_HTTP_PH_CAPTURE,  /* /capture/ */
	TELEMETRY_HTTP_PH_E,        /* /e/ */
	TELEMETRY_HTTP_PH_I_V0_E,   /* /i/v0/e/ */
	/* The HTTP API's customer routes and /api/track (docs/api.md). */
	TELEMETRY_HTTP_CUSTOMERS, /* GET /api/customers/ID[/recommendations] */
	TELEMETRY_HTTP_CLAIM,     /* POST /api/customers/ID/recommendations */
	TELEMETRY_HTTP_TRACK,     /* POST /api/track */
	/* The event stream (docs/api.md "HTTP event stream"). */
	TELEMETRY_HTTP_EVENTS,       /* /api/events */
	TELEMETRY_HTTP_EVENTS_TOKEN, /* /api/events/token */
	/* The segment routes (docs/api.md "HTTP API"). */
	TELEMETRY_HTTP_SEGMENTS, /* /api/segments[/NAME], any method */
	/* The journey routes (docs/journeys.md "Calls"). */
	TELEMETRY_HTTP_JOURNEYS,         /* /api/journeys[/NAME], any method */
	TELEMETRY_HTTP_JOURNEY_MESSAGES, /* /api/journey-messages */
	TELEMETRY_HTTP_HANDLERS,
};

/*
 * Why a request was refused before it was decoded (rpc, dispatch_screen),
 * for clm_requests_refused_total{reason}.
 */
enum telemetry_refused {
	TELEMETRY_REFUSED_AUTH,   /* "unauthenticated": no token of ours */
	TELEMETRY_REFUSED_COUNT,  /* "elements": a repeated field too long */
	TELEMETRY_REFUSED_BUDGET, /* "budget": decoding outgrew its budget */
	TELEMETRY_REFUSED_REASONS,
};

/* The listeners whose connections are counted (the `listener` label). */
enum telemetry_listener {
	TELEMETRY_LISTENER_RPC,  /* "rpc": the request/reply listeners */
	TELEMETRY_LISTENER_HTTP, /* "http": --http */
	TELEMETRY_LISTENERS,
};

/*
 * Why an HTTP request was refused before it reached a route (httpd), for
 * clm_http_requests_refused_total{reason}.
 */
enum telemetry_http_refused {
	TELEMETRY_HTTP_TIMEOUT,   /* "timeout": not whole in time (408) */
	TELEMETRY_HTTP_HEAD_SIZE, /* "head_too_large": 431 */
	TELEMETRY_HTTP_BODY_SIZE, /* "body_too_large": 413 */
	TELEMETRY_HTTP_MALFORMED, /* "malformed": 400, 411, 505 */
	TELEMETRY_HTTP_REFUSALS,
};

/* HTTP statuses counted one by one; any other one counts as 500. */
#define TELEMETRY_HTTP_STATUSES \
	10 /* 200 400 401 403 404 405 413 421 500 503 */

struct telemetry {
	_Atomic uint64_t requests[TELEMETRY_CALLS][TELEMETRY_CODES];
	/* Per bucket, not cumulative; the last one is +Inf. */
	_Atomic uint64_t
	        duration[TELEMETRY_CALLS][TELEMETRY_DURATION_BUCKETS + 1];
	_Atomic uint64_t duration_ns[TELEMETRY_CALLS];
	_Atomic uint64_t batch[TELEMETRY_BATCH_BUCKETS + 1];
	_Atomic uint64_t batch_jobs;
	_Atomic uint64_t queue_depth;
	_Atomic uint64_t position_waits; /* calls/waitpos.h */
	_Atomic uint64_t stream_purges;  /* cluster: Forgets' purges to do */
	_Atomic uint64_t
	        http[TELEMETRY_HTTP_HANDLERS][TELEMETRY_HTTP_STATUSES];
	_Atomic uint64_t refused[TELEMETRY_REFUSED_REASONS];
	/* Connections per listener: open now, refused, closed idle. */
	_Atomic uint64_t conn_open[TELEMETRY_LISTENERS];
	_Atomic uint64_t conn_refused[TELEMETRY_LISTENERS];
	_Atomic uint64_t conn_idle[TELEMETRY_LISTENERS];
	_Atomic uint64_t http_refused[TELEMETRY_HTTP_REFUSALS];
	_Atomic uint64_t ipc_relisten; /* see telemetry_ipc_relisten */
	_Atomic uint64_t streams_open; /* see telemetry_http_stream */
	_Atomic uint64_t streams_slow; /* ditto */
	_Atomic uint64_t ipc_probes;   /* see telemetry_ipc_probe */
	/* The journal and its checkpoints (telemetry_journal, ..._checkpoint)
	 */
	_Atomic uint64_t journal_commits, journal_entries, journal_bytes;
	_Atomic uint64_t journal_position;
	_Atomic uint64_t ckpt_count, ckpt_failures, ckpt_ns, ckpt_keys;
	_Atomic uint64_t ckpt_overlay_bytes, ckpt_position, ckpt_last_ns;
	_Atomic uint64_t ckpt_bytes;     /* see telemetry_checkpoint_bytes */
	_Atomic uint64_t ckpt_replay_ns; /* telemetry_checkpoint_replay */
	_Atomic uint64_t replay_entries, replay_ns;
};

/* telemetry_init zeroes every counter of a caller-embedded telemetry. */
void telemetry_init(struct telemetry *t);

/*
 * telemetry_request counts one reply: its call slot (see TELEMETRY_CALLS),
 * its wire status code (out-of-range codes count as UNKNOWN) and the time
 * from receiving the request to sending the reply. Any thread; t NULL is
 * a no-op.
 */
void telemetry_request(
        struct telemetry *t, int call, int code, int64_t duration_ns);

/*
 * telemetry_refused counts one request refused before decoding, for
 * reason (the reply is counted by telemetry_request as well). Any thread;
 * t NULL is a no-op.
 */
void telemetry_refused(struct telemetry *t, enum telemetry_refused reason);

/*
 * telemetry_conn_open sets the number of connections of listener open now
 * (clm_connections{listener}). Any thread; t NULL is a no-op.
 */
void telemetry_conn_open(
        struct telemetry *t, enum telemetry_listener listener, size_t open);

/*
 * telemetry_conn_refused counts one connection of listener refused as it
 * arrived because its cap (max_connections, http_max_connections) was
 * reached; telemetry_conn_idle one closed after its idle timeout
 * (idle_timeout, http_idle_timeout) without a request. Any thread; t NULL
 * is a no-op.
 */
void telemetry_conn_refused(
        struct telemetry *t, enum telemetry_listener listener);
void telemetry_conn_idle(
        struct telemetry *t, enum telemetry_listener listener);

/*
 * telemetry_http_refused counts one HTTP request refused by httpd for
 * reason, before routing (clm_http_requests_refused_total). Any thread;
 * t NULL is a no-op.
 */
void telemetry_http_refused(
        struct telemetry *t, enum telemetry_http_refused reason);

/*
 * telemetry_http_stream records the HTTP event streams open now (open)
 * and, with slow, counts one stream ended because its client read too
 * slowly (clm_http_streams_open, clm_http_streams_dropped_slow_total).
 * Any thread; t NULL is a no-op.
 */
void telemetry_http_stream(struct telemetry *t, size_t open, bool slow);

/*
 * telemetry_ipc_relisten counts one ipc:// listener closed and started
 * again because it stopped accepting (nng issue 1518: someone connected
 * and closed during the handshake). Any thread; t NULL is a no-op.
 */
void telemetry_ipc_relisten(struct telemetry *t);

/*
 * telemetry_ipc_probe counts one check of an ipc:// listener by the
 * watchdog (every 50 ms per listener), whatever it found. Any thread; t
 * NULL is a no-op.
 */
void telemetry_ipc_probe(struct telemetry *t);

/*
 * telemetry_journal counts one journal commit of entries entries and bytes
 * bytes (their payloads) ending at position. Writer thread; t NULL is a
 * no-op.
 */
void telemetry_journal(struct telemetry *t, uint64_t entries, uint64_t bytes,
        uint64_t position);

/*
 * telemetry_checkpoint counts one checkpoint: failed, or done in ns
 * nanoseconds, moving keys keys from an overlay of overlay_bytes into the
 * base, which then reflects position. Writer thread; t NULL is a no-op.
 */
void telemetry_checkpoint(struct telemetry *t, bool failed, int64_t ns,
        uint64_t keys, uint64_t overlay_bytes, uint64_t position);

/* telemetry_replay records the start-up replay: entries in ns. */
void telemetry_replay(struct telemetry *t, uint64_t entries, int64_t ns);

/* telemetry_batch counts one write transaction of `jobs` jobs. */
void telemetry_batch(struct telemetry *t, size_t jobs);

/*
 * telemetry_writes gives the write transactions begun since start and the
 * write jobs they held (ServerStatus; t NULL gives zeros).
 */
void telemetry_writes(
        const struct telemetry *t, uint64_t *transactions, uint64_t *jobs);

/*
 * telemetry_checkpoint_bytes sets the overlay size that starts a
 * checkpoint now (checkpoint_bytes, or what auto made of it).
 */
void telemetry_checkpoint_bytes(struct telemetry *t, uint64_t bytes);
/*
 * telemetry_checkpoint_replay sets the writer's time applying the writes
 * no checkpoint covers yet (what checkpoint_interval = auto bounds).
 */
void telemetry_checkpoint_replay(struct telemetry *t, int64_t ns);

/* telemetry_queue_depth sets the write queue's current depth. */
void telemetry_queue_depth(struct telemetry *t, size_t depth);

/*
 * telemetry_stream_purges sets how many stream purges of forgotten
 * customers are left to do (cluster mode; docs/cluster.md, "Forget").
 */
void telemetry_stream_purges(struct telemetry *t, size_t n);

/*
 * telemetry_position_waits sets how many requests wait for their
 * min_position now (calls/waitpos.h). t NULL: nothing.
 */
void telemetry_position_waits(struct telemetry *t, size_t n);

/* telemetry_http counts one HTTP response of handler with status. */
void telemetry_http(
        struct telemetry *t, enum telemetry_http_handler handler, int status);

/* What telemetry_format reads besides the counters. */
struct telemetry_gauges {
	const char *version; /* clm_build_info{version} */
	double uptime_s;
	bool have_store; /* false: the store's figures are left out */
	uint64_t db_bytes, map_bytes, customers, touchpoints;
};

/*
 * Names a call slot for the `call` label ("track"), or returns NULL for a
 * slot that is not a call (its counters, all zero, are left out).
 */
typedef const char *(*telemetry_call_name_fn)(int call);

/*
 * telemetry_format writes every series in the Prometheus text format 0.0.4
 * (a # HELP and a # TYPE line per family, then its samples, each line
 * ending in '\n') into a new malloc'd NUL-terminated string in *out, which
 * the caller frees. A call's request counters and duration histogram appear
 * once it has been answered at least once; gauges and the batch histogram
 * always. Returns 0, or -1 when memory is exhausted (*out untouched).
 */
int telemetry_format(const struct telemetry *t,
        const struct telemetry_gauges *g, telemetry_call_name_fn name,
        char **out);

#endif /* CLM_TELEMETRY_H */
