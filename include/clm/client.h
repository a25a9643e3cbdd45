/*
 * libclm: the C client of clmd.
 *
 * A clm_conn is one REQ socket dialled to one clmd. Calls are synchronous;
 * a connection is used by one thread at a time (open one per thread). The
 * messages are the protobuf-c types generated from proto/clm/v1/clm.proto
 * (clm/v1/clm.pb-c.h), so any call of the API can be made with clm_call,
 * and the common ones have typed helpers.
 *
 * Errors: every function returns a clm_err (clm/error.h), the gRPC code.
 * Transport failures are UNAVAILABLE (cannot connect, connection lost) and
 * DEADLINE_EXCEEDED (no reply within the timeout); clm_last_error() then
 * says what happened in words.
 */
#ifndef CLM_CLIENT_H
#define CLM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLM_DEFAULT_URL        "tcp://127.0.0.1:7450"
#define CLM_DEFAULT_TIMEOUT_MS 10000

typedef struct clm_conn clm_conn;

/*
 * clm_open connects to the clmd at url (tcp://HOST:PORT or ipc://PATH; NULL
 * = CLM_DEFAULT_URL) and waits up to timeout_ms for each reply (0 = the
 * default). It fails at once with UNAVAILABLE when nothing listens there;
 * later, nng reconnects by itself if the connection drops (after a random
 * wait below 100 ms, doubling up to 2 s while connecting fails; nng starts
 * over at 100 ms after every connection made, so a server that accepts
 * and then closes, as clmd does past max_connections, is dialed again
 * about ten times a second) and sends the request in hand again, within
 * its timeout. On success *out
 * is a connection to release with clm_close; on failure clm_open_error()
 * says why.
 */
clm_err clm_open(const char *url, int timeout_ms, clm_conn **out);

/*
 * TLS settings for a tls+tcp:// URL: ca_file (PEM) verifies the server's
 * certificate, whose name must be server_name (NULL: the URL's host);
 * cert_file (PEM with certificate and key, may be NULL) is presented to a
 * server that requires client certificates.
 */
struct clm_tls {
	const char *ca_file;
	const char *cert_file;
	const char *server_name;
};

/* clm_open_tls is clm_open with TLS settings (tls may be NULL). */
clm_err clm_open_tls(const char *url, int timeout_ms,
        const struct clm_tls *tls, clm_conn **out);

/* clm_close closes the connection; NULL is a no-op. */
void clm_close(clm_conn *c);

/*
 * clm_open_error returns the reason of the last failed clm_open on this
 * thread ("cannot connect to 'tcp://...': connection refused").
 */
const char *clm_open_error(void);

/* clm_set_token sets the auth token sent with every request (copied). */
clm_err clm_set_token(clm_conn *c, const char *token);

/*
 * clm_set_min_position makes every later request on c that carries no
 * min_position of its own carry position (0: none): the server answers it
 * only once its view has applied that position, or UNAVAILABLE "not
 * caught up" after the request's deadline_ms (1 s when 0). See docs/api.md
 * "Positions".
 */
void clm_set_min_position(clm_conn *c, uint64_t position);

/*
 * clm_last_position returns the largest Response.position of any reply
 * received on c (0 before the first): pass it as a min_position to read
 * one's own writes on another node. NULL: 0.
 */
uint64_t clm_last_position(const clm_conn *c);

/*
 * clm_last_error describes the last failure on c: the transport problem,
 * or the server's status message. "" when the last call succeeded.
 */
const char *clm_last_error(const clm_conn *c);

/*
 * clm_call sends req and waits for the Response. It fills in request_id
 * (when empty), auth_token (when set by clm_set_token) and min_position
 * (when 0 and set by clm_set_min_position) on a copy; req is
 * not modified. Returns CLM_OK when a reply arrived, whatever its status,
 * and sets *out (release it with clm_response_free); otherwise a transport
 * error, with *out untouched.
 */
clm_err clm_call(
        clm_conn *c, const Clm__V1__Request *req, Clm__V1__Response **out);

/* clm_response_free releases a Response from libclm; NULL is a no-op. */
void clm_response_free(Clm__V1__Response *resp);

/*
 * Typed helpers. Each returns the reply's status code (CLM_OK, or the
 * server's error such as CLM_NOT_FOUND), or a transport error. *out is set
 * whenever the server replied, an error status included (its violations
 * name the bad fields), and is NULL after a transport error; release it
 * with clm_response_free.
 */

/* clm_track records n touchpoints (reply: resp->track). */
clm_err clm_track(clm_conn *c, Clm__V1__Touchpoint *const *tps, size_t n,
        Clm__V1__Response **out);

/* clm_get_customer fetches a customer as of as_of_ms (0 = now). */
clm_err clm_get_customer(clm_conn *c, const char *customer_id,
        int64_t as_of_ms, Clm__V1__Response **out);

/* clm_server_status fetches the server's status (resp->server_status). */
clm_err clm_server_status(clm_conn *c, Clm__V1__Response **out);

/*
 * clm_identify links anonymous_id to customer_id, merging the anonymous
 * profile into the customer's (resp->identify); n_traits key/value pairs
 * are stored on the customer. FAILED_PRECONDITION when the anonymous id
 * already belongs to another customer, is another customer's id, or when
 * customer_id is another customer's anonymous id (one id, one person).
 */
clm_err clm_identify(clm_conn *c, const char *anonymous_id,
        const char *customer_id, const char *const *trait_keys,
        const char *const *trait_values, size_t n_traits,
        Clm__V1__Response **out);

/* clm_forget erases a customer (resp->forget_customer). */
clm_err clm_forget(
        clm_conn *c, const char *customer_id, Clm__V1__Response **out);

/* clm_export returns a customer and all touchpoints (resp->export_customer).
 */
clm_err clm_export(
        clm_conn *c, const char *customer_id, Clm__V1__Response **out);

/*
 * clm_recommend asks what to do next for req->customer_id
 * (resp->recommend); with req->claim the returned messages are recorded as
 * sent, within the frequency cap.
 */
clm_err clm_recommend(clm_conn *c, const Clm__V1__RecommendRequest *req,
        Clm__V1__Response **out);

/* clm_put_catalog upserts items and stores (resp->put_catalog). */
clm_err clm_put_catalog(clm_conn *c, const Clm__V1__PutCatalogRequest *req,
        Clm__V1__Response **out);

/*
 * clm_metrics computes the funnel, conversions, rates, money, site, channel
 * and sentiment figures over req's window (resp->metrics; docs/metrics.md
 * defines every number). INVALID_ARGUMENT for a bad window.
 */
clm_err clm_metrics(clm_conn *c, const Clm__V1__MetricsRequest *req,
        Clm__V1__Response **out);

/*
 * clm_cohorts computes the retention matrix of purchase cohorts
 * (resp->cohorts).
 */
clm_err clm_cohorts(clm_conn *c, const Clm__V1__CohortRequest *req,
        Clm__V1__Response **out);

/*
 * clm_record_spend sets the spend of each (channel, day, campaign) in req,
 * replacing earlier values (resp->record_spend). All or nothing: one bad
 * entry fails the call with INVALID_ARGUMENT, its violations naming it.
 */
clm_err clm_record_spend(clm_conn *c, const Clm__V1__RecordSpendRequest *req,
        Clm__V1__Response **out);

/*
 * clm_define_experiment defines an experiment (resp->define_experiment);
 * defining the same one again is OK, a different definition under the same
 * id is ALREADY_EXISTS.
 */
clm_err clm_define_experiment(clm_conn *c,
        const Clm__V1__DefineExperimentRequest *req, Clm__V1__Response **out);

/*
 * clm_assign returns the customer's variant of an experiment, assigning it
 * on the first call (resp->assign); NOT_FOUND for an unknown experiment.
 */
clm_err clm_assign(clm_conn *c, const Clm__V1__AssignRequest *req,
        Clm__V1__Response **out);

/*
 * clm_experiment_results returns exposures, conversions and statistics per
 * variant (resp->experiment_results); NOT_FOUND for an unknown experiment.
 */
clm_err clm_experiment_results(clm_conn *c,
        const Clm__V1__ExperimentResultsRequest *req, Clm__V1__Response **out);

/*
 * Segments (docs/segments.md). clm_define_segment stores req->expression
 * under req->name, replacing a segment of that name, and starts its
 * backfill (resp->define_segment); INVALID_ARGUMENT for a bad name or
 * expression (the violation on "expression" gives the byte offset),
 * RESOURCE_EXHAUSTED beyond 256 segments.
 */
clm_err clm_define_segment(clm_conn *c,
        const Clm__V1__DefineSegmentRequest *req, Clm__V1__Response **out);

/*
 * clm_get_segment returns a segment's count, whether it is backfilling and,
 * with req->members, a page of its members from req->page_token
 * (resp->get_segment; the next page's token in next_page_token, "" after
 * the last); at req->as_of_ms when not 0. NOT_FOUND for an unknown name.
 */
clm_err clm_get_segment(clm_conn *c, const Clm__V1__GetSegmentRequest *req,
        Clm__V1__Response **out);

/* clm_list_segments returns every segment, by name (resp->list_segments). */
clm_err clm_list_segments(clm_conn *c, const Clm__V1__ListSegmentsRequest *req,
        Clm__V1__Response **out);

/*
 * clm_delete_segment removes a segment and its membership
 * (resp->delete_segment; existed is false when there was none).
 */
clm_err clm_delete_segment(clm_conn *c,
        const Clm__V1__DeleteSegmentRequest *req, Clm__V1__Response **out);

/*
 * Journeys (docs/journeys.md). clm_define_journey stores the journey that
 * req->definition (its JSON) describes, replacing the definition of a
 * journey of that name (resp->define_journey: the journey, and replaced);
 * INVALID_ARGUMENT for a definition that does not parse (the violation on
 * "define_journey.definition" starts with the JSON path of the fault),
 * RESOURCE_EXHAUSTED beyond 64 journeys.
 */
clm_err clm_define_journey(clm_conn *c,
        const Clm__V1__DefineJourneyRequest *req, Clm__V1__Response **out);

/*
 * clm_list_journeys returns every journey, by name, with its statistics
 * (resp->list_journeys).
 */
clm_err clm_list_journeys(clm_conn *c, const Clm__V1__ListJourneysRequest *req,
        Clm__V1__Response **out);

/*
 * clm_get_journey returns one journey with its statistics, exact at the
 * reply's position (resp->get_journey); NOT_FOUND for an unknown name.
 */
clm_err clm_get_journey(clm_conn *c, const Clm__V1__GetJourneyRequest *req,
        Clm__V1__Response **out);

/*
 * clm_delete_journey removes a journey and its statistics
 * (resp->delete_journey; existed is false when there was none).
 */
clm_err clm_delete_journey(clm_conn *c,
        const Clm__V1__DeleteJourneyRequest *req, Clm__V1__Response **out);

/*
 * clm_journey_messages returns a page of the journeys' durable feed: the
 * messages after position req->after (0: from the oldest kept), at most
 * req->limit (0: 100; at most 1,000), of req->journey ("": every journey)
 * (resp->journey_messages; pass next_after as after for the next page).
 */
clm_err clm_journey_messages(clm_conn *c,
        const Clm__V1__JourneyMessagesRequest *req, Clm__V1__Response **out);

/*
 * The stage-change stream.
 A clm_watch is a SUB socket dialled to clmd's
 * events URL (NULL = CLM_DEFAULT_EVENTS_URL), receiving the topics that
 * start with prefix ("" or NULL = all; "stage/" = stage changes).
 */
#define CLM_DEFAULT_EVENTS_URL "tcp://127.0.0.1:7451"

typedef struct clm_watch clm_watch;

/*
 * clm_watch_open subscribes. It does not wait for the connection: events
 * published before it is established are not seen (clm_watch_ready waits
 * for it).
 */
clm_err clm_watch_open(const char *url, const char *prefix, clm_watch **out);

/*
 * clm_watch_ready waits up to timeout_ms (< 0 = forever) until w is
 * connected to clmd's event stream, as the Node client's Watcher.ready()
 * does: CLM_OK once the connection's SP handshake with clmd is done (at
 * once when it already is), DEADLINE_EXCEEDED when it is not connected in
 * time (no clmd there yet; the dial is retried). After a lost connection
 * it waits for the next one. clmd takes the new subscriber into its
 * publisher on its own threads as the handshake ends, so an event
 * published in that same instant may still be missed; that moment is
 * usually far shorter than the round trip of a call. It may be called
 * while another thread waits in clm_watch_next.
 */
clm_err clm_watch_ready(clm_watch *w, int timeout_ms);

/*
 * clm_watch_next waits up to timeout_ms (< 0 = forever) for the next event:
 * CLM_OK with *ev (release with clm_event_free) and its topic copied into
 * topic (topic_len bytes, may be NULL); DEADLINE_EXCEEDED when none came;
 * INVALID_ARGUMENT for a message that is not an event (skipped).
 */
clm_err clm_watch_next(clm_watch *w, int timeout_ms, char *topic,
        size_t topic_len, Clm__V1__LifecycleEvent **ev);

/* clm_event_free releases an event from clm_watch_next; NULL is a no-op. */
void clm_event_free(Clm__V1__LifecycleEvent *ev);

/* clm_watch_close closes the subscription; NULL is a no-op. */
void clm_watch_close(clm_watch *w);

#ifdef __cplusplus
}
#endif

#endif /* CLM_CLIENT_H */
