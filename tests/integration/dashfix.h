/*
 * dashfix: what the tests of clmd's HTTP dashboard share
 * (dashboard_api_test, dashboard_metrics_test, dashboard_access_test,
 * dashboard_page_test): one clmd with --http on a loopback port, seeded
 * with clm-gen journeys (clm import), their spend (clm spend) and an
 * experiment with a few assigned and converted customers; HTTP/1.1 over a
 * plain socket that keeps the whole response (status, header block,
 * body); the output of `clm --json` to compare with the JSON endpoints;
 * decoding that JSON into the API's messages (pbjson); and the samples of
 * a Prometheus text.
 *
 * Every function asserts with Criterion (cr_assert: the test stops)
 * unless it says otherwise; call them from inside a test. Criterion runs
 * each test in its own process: a file keeps one struct dashfix, set up by
 * dashfix_init in its .init and torn down by dashfix_fini in its .fini
 * (DASHFIX_SUITE declares both).
 */
#ifndef CLM_IT_DASHFIX_H
#define CLM_IT_DASHFIX_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "harness.h"

#ifndef CLM_GEN_BIN
#error "CLM_GEN_BIN must be defined (absolute path of clm-gen)"
#endif

/* The experiment dashfix_start_seeded defines. */
#define DASHFIX_EXPERIMENT "checkout-copy"

/* The clmd of a test, its temp dir and its --http port. */
struct dashfix {
	struct clmd_proc srv;
	char dir[64];
	int http_port;
};

/*
 * dashfix_init zeroes fx and clears the URL run_cli passes (a suite's
 * .init).
 */
void dashfix_init(struct dashfix *fx);

/*
 * dashfix_fini stops fx's clmd, and every other clmd and temp dir the test
 * left (a suite's .fini; harness_fini).
 */
void dashfix_fini(struct dashfix *fx);

/*
 * DASHFIX_SUITE declares the file's fixture `fx` and the Criterion suite
 * `name` (timeout in seconds) that runs dashfix_init before each test and
 * dashfix_fini after it. Needs <criterion/criterion.h> included first.
 */
#define DASHFIX_SUITE(name, timeout_s)               \
	static struct dashfix fx;                    \
	static void dashfix_suite_setup(void)        \
	{                                            \
		dashfix_init(&fx);                   \
	}                                            \
	static void dashfix_suite_teardown(void)     \
	{                                            \
		dashfix_fini(&fx);                   \
	}                                            \
	TestSuite(name, .init = dashfix_suite_setup, \
	        .fini = dashfix_suite_teardown, .timeout = (timeout_s))

/*
 * dashfix_start_seeded starts fx's clmd on a new temp dir (fx->dir) with
 * --http 127.0.0.1:PORT (fx->http_port) and seeds it: 250 clm-gen
 * customers over 60 days, their spend, and DASHFIX_EXPERIMENT with 40
 * customers (c000001 to c000040) assigned, 12 of whom (c000003, c000006,
 * ..., c000036) then buy.
 */
void dashfix_start_seeded(struct dashfix *fx);

/* One HTTP response; free with dashfix_res_free. */
struct dashfix_res {
	int status;
	char *headers; /* the header block, lowercase names as sent */
	char *body;
	size_t len;
};

/* dashfix_res_free frees r's header block and body and zeroes r. */
void dashfix_res_free(struct dashfix_res *r);

/*
 * dashfix_send sends the request text req to 127.0.0.1:port and reads the
 * response to the end of the stream (req asks for Connection: close, or is
 * HTTP/1.0), checking the body against Content-Length (but for HEAD).
 */
struct dashfix_res dashfix_send(int port, const char *req);

/*
 * dashfix_request sends METHOD path to 127.0.0.1:port over HTTP/1.1 with
 * Connection: close, "Host: host" (NULL: none) and the extra header lines
 * in headers (each ending in "\r\n"; NULL: none).
 */
struct dashfix_res dashfix_request(int port, const char *method,
        const char *path, const char *host, const char *headers);

/*
 * dashfix_get sends GET path to 127.0.0.1:port, as Prometheus and curl
 * send it (Host: 127.0.0.1:PORT), with an optional extra header line
 * ("Authorization: Bearer x"; NULL: none).
 */
struct dashfix_res dashfix_get(int port, const char *path, const char *header);

/*
 * dashfix_header returns the value of header name (exact case) in r,
 * malloc'd; NULL if absent.
 */
char *dashfix_header(const struct dashfix_res *r, const char *name);

/*
 * dashfix_get_json sends GET path to port, expects 200 and a JSON body,
 * and returns the body (malloc'd).
 */
char *dashfix_get_json(int port, const char *path);

/*
 * dashfix_get_prometheus sends GET /metrics to port, expects 200 and the
 * Prometheus text format, and returns the body (malloc'd).
 */
char *dashfix_get_prometheus(int port);

/*
 * dashfix_put_journey defines the journey `name` (one step, entered on
 * RETENTION) through PUT /api/journeys/NAME on port and asserts it was
 * defined; dashfix_put_journey_json the same with the definition body
 * (without its "name").
 */
void dashfix_put_journey(int port, const char *name);
void dashfix_put_journey_json(int port, const char *name, const char *body);

/*
 * dashfix_cli_out runs clm with argv (NULL-terminated; see run_cli) and
 * stdin text in (or NULL), expects exit 0, and returns its stdout
 * (malloc'd).
 */
char *dashfix_cli_out(const char *const argv[], const char *in);

/*
 * dashfix_cli_json returns the output of `clm --json ...` (argv as for
 * dashfix_cli_out) without its final newline, and without the position
 * `clm status` and a write print first (not the message's: the HTTP
 * answer has none); malloc'd.
 */
char *dashfix_cli_json(const char *const argv[]);

/*
 * dashfix_decode parses the JSON text as the message d describes
 * (pbjson_parse) and returns it; free it with
 * protobuf_c_message_free_unpacked.
 */
ProtobufCMessage *dashfix_decode(
        const char *text, const ProtobufCMessageDescriptor *d);

/*
 * dashfix_prom_value returns the value of the sample whose line starts
 * with `series ` (name and labels exactly as printed) in a Prometheus
 * text; NAN if none. It checks every line's shape on the way.
 */
double dashfix_prom_value(const char *text, const char *series);

#endif /* CLM_IT_DASHFIX_H */
