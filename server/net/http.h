/*
 * http: the dashboard, the Prometheus endpoint, the HTTP API and the SDK
 * ingest routes of `--http ADDR` (docs/operations.md "Dashboard and
 * monitoring", docs/api.md "HTTP API", docs/ingest.md "Endpoints"),
 * served by httpd.h (a
 * connection cap, bounded requests and timeouts: http_max_connections,
 * http_request_timeout, http_idle_timeout).
 *
 *   /                      the dashboard page (dashboard.h), no data in it
 *   /api/status            StatusReply
 *   /api/metrics           MetricsReply   ?from=&to=&channel=&window_days=
 *   /api/cohorts           CohortReply    ?from=&to=&by=&periods=
 *   /api/experiments       every experiment: definition and results
 *   /api/experiments/ID    ExperimentResultsReply
 *   /api/customers/ID      Customer       ?as_of=
 *   /api/customers/ID/recommendations
 *                          RecommendReply ?limit=&lat=&lon=&cart=&...
 *   /metrics               Prometheus text format 0.0.4 (telemetry.h)
 *   POST /api/customers/ID/recommendations?claim=1
 *                          a claim, with an Idempotency-Key
 *   POST /api/track        Touchpoints as JSON (http_customer.c)
 *   /api/segments          ListSegmentsReply (http_segments.c)
 *   /api/segments/NAME     GetSegmentReply ?members=&page_size=&page_token=
 *                          &as_of=; PUT {"expression"} defines it, DELETE
 *                          deletes it (writes, deferred like /api/track)
 *   /api/events            the LifecycleEvents as Server-Sent Events
 *                          (http_events.c); POST /api/events/token
 *                          makes the short-lived ?token= for browsers
 *   POST /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen,
 *        /v1/alias, /v1/group, /batch/, /capture/, /e/, /i/v0/e/
 *                          the SDKs' events (http_ingest.c), recorded
 *                          through Track and Identify
 *
 * The JSON endpoints print, with pbjson, the very reply messages of the RPC
 * calls, computed by the same read handlers: each request builds a
 * clm.v1.Request and runs it through dispatch_read with a store_reader of
 * its own, so the dashboard and `clm --json` can never disagree. A bad
 * parameter is a 400 with {"code", "message", "field"}.
 *
 * Exposure follows the RPC listeners' rule (exposure_check_url): a
 * non-loopback address only when auth tokens are configured, and then every
 * endpoint but the page (which holds no data) needs `Authorization: Bearer
 * TOKEN`. Before that, every route answers only this server's Host names
 * and refuses writes from other origins' pages (hostcheck.h).
 *
 * Handlers run on httpd's connections (nng threads), a few at a time (each
 * takes one of a small pool of readers and arenas); they never wait for the
 * writer. The ingest routes', /api/track's and the claims' writes do
 * wait for it, without a thread: their requests are deferred (httpd.h)
 * and answered from the writer's completion.
 */
#ifndef CLM_HTTP_H
#define CLM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"

struct evring;
struct server;

typedef struct http http;

/*
 * http_check_addr tells whether clmd may serve http on addr ("HOST:PORT"
 * or "http://HOST:PORT"): a loopback address, or any address when auth
 * tokens are configured (tokens). Returns 0, or -1 with the reason in err.
 */
int http_check_addr(const char *addr, bool tokens, char *err, size_t errlen);

/*
 * http_open checks addr ("HOST:PORT" or "http://HOST:PORT") against the
 * exposure rule, then serves the endpoints above on it. Call it once the
 * store is open and the writer started (srv->st, srv->w set). On failure
 * err holds a one-line reason ("cannot serve http on '...': address in
 * use") and nothing is left running.
 */
clm_err http_open(struct server *srv, const char *addr, http **out, char *err,
        size_t errlen);

/*
 * http_close stops serving: no new connections, open ones are closed,
 * handlers still running finish first, and every store reader is released,
 * so the store may be closed once it returns. NULL is a no-op.
 */
void http_close(http *h);

/*
 * http_publish formats ev as the event stream sends it (id, event and
 * data lines: docs/api.md "HTTP event stream") and appends it to ring,
 * the server's retained events (srv->events), which hands it to the
 * streams open. The writer's publish callback, after each commit; ring
 * NULL is a no-op. Failures are only logged (a resume then sees a gap).
 */
void http_publish(struct evring *ring, const Clm__V1__LifecycleEvent *ev);

#endif /* CLM_HTTP_H */
