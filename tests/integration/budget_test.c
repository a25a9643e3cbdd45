/*
 * Memory before authentication (issue 15, docs/api.md "Limits"): a Track
 * of about two million empty touchpoints fits in a 4 MiB message (2 bytes
 * each) but unpacks into some 360 MB of structs. clmd must refuse it
 * before decoding: UNAUTHENTICATED when it has tokens and the request has
 * none, INVALID_ARGUMENT naming track.touchpoints otherwise; and a request
 * under the element counts that would still unpack into far more than its
 * size is stopped by the decode budget (RESOURCE_EXHAUSTED). Four such
 * requests at once must grow clmd's anonymous memory (RssAnon, sampled
 * while they are in flight) by less than 64 MiB, and clmd must go on
 * answering.
 *
 * The requests are hand-built wire bytes sent on raw REQ sockets, one
 * thread each; the test thread samples /proc/PID/status until every reply
 * is in (sampling, not waiting: the replies are what it waits for).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "harness.h"

#define BUDGET_FLOODS    4
#define BUDGET_GROWTH_KB (64 * 1024) /* < 64 MiB of RssAnon */
#define BUDGET_TOKEN     "budget-token-1"

HARNESS_SUITE(budget, 240);

/* Appends the varint v at buf[*n]. */
static void
put_varint(uint8_t *buf, size_t *n, uint64_t v)
{
	while (v >= 0x80) {
		buf[(*n)++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	buf[(*n)++] = (uint8_t) v;
}

/*
 * A packed clm.v1.Request {request_id: "flood", track (10): TrackRequest
 * {touchpoints (1): n touchpoints}}, each touchpoint holding `props` empty
 * properties entries (field 14); malloc'd, its size in *len.
 */
static uint8_t *
flood_request(size_t n, size_t props, size_t *len)
{
	size_t tp_len = 2 * props; /* each entry: tag 0x72, length 0 */
	size_t tp_hdr = 1 + (tp_len < 128 ? 1 : tp_len < 16384 ? 2 : 3);
	size_t track_len = n * (tp_hdr + tp_len);
	uint8_t *buf = malloc(track_len + 32);
	cr_assert_not_null(buf);
	size_t k = 0;
	buf[k++] = 0x0a; /* request_id */
	buf[k++] = 5;
	memcpy(buf + k, "flood", 5);
	k += 5;
	buf[k++] = 0x52; /* track: field 10, length-delimited */
	put_varint(buf, &k, track_len);
	for (size_t i = 0; i < n; i++) {
		buf[k++] = 0x0a; /* touchpoints: field 1 */
		put_varint(buf, &k, tp_len);
		for (size_t j = 0; j < props; j++) {
			buf[k++] = 0x72; /* properties: field 14 */
			buf[k++] = 0;
		}
	}
	*len = k;
	return buf;
}

/* clmd's RssAnon or VmHWM (name with its colon) in kB, from /proc. */
static long
proc_kb(pid_t pid, const char *name)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	char line[256];
	long kb = -1;
	size_t nl = strlen(name);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, nl) == 0) {
			kb = strtol(line + nl, NULL, 10);
		}
	}
	fclose(f);
	cr_assert_geq(kb, 0, "no %s in %s", name, path);
	return kb;
}

struct flood {
	const char *url;
	const uint8_t *buf;
	size_t len;
	int code; /* of the reply, or -1 */
	char field[64];
	char message[256];
	atomic_bool done;
};

/* Sends one flood request on its own REQ socket and keeps the status. */
static void *
flood_main(void *arg)
{
	struct flood *fl = arg;
	nng_socket s;
	nng_msg *msg = NULL;
	fl->code = -1;
	if (nng_req0_open(&s) != 0) {
		atomic_store(&fl->done, true);
		return NULL;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 120000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 120000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0);
	if (nng_dial(s, fl->url, NULL, 0) == 0
	        && nng_send(s, (void *) fl->buf, fl->len, 0) == 0
	        && nng_recvmsg(s, &msg, 0) == 0) {
		Clm__V1__Response *resp = clm__v1__response__unpack(
		        NULL, nng_msg_len(msg), nng_msg_body(msg));
		if (resp != NULL && resp->status != NULL) {
			fl->code = (int) resp->status->code;
			snprintf(fl->message, sizeof(fl->message), "%s",
			        resp->status->message);
			if (resp->status->n_violations > 0) {
				snprintf(fl->field, sizeof(fl->field), "%s",
				        resp->status->violations[0]->field);
			}
		}
		clm__v1__response__free_unpacked(resp, NULL);
		nng_msg_free(msg);
	}
	nng_close(s);
	atomic_store(&fl->done, true);
	return NULL;
}

/*
 * Sends BUDGET_FLOODS copies of buf[0..len) at once to clmd, waits for
 * every reply while sampling clmd's RssAnon, and returns the peak growth
 * over the level before them, in kB; fl gets each reply.
 */
static long
flood_run(const uint8_t *buf, size_t len, struct flood fl[BUDGET_FLOODS])
{
	long before = proc_kb(srv.pid, "RssAnon:");
	long peak = before;
	pthread_t t[BUDGET_FLOODS];
	for (int i = 0; i < BUDGET_FLOODS; i++) {
		fl[i] = (struct flood) {
			.url = srv.url, .buf = buf, .len = len
		};
		atomic_init(&fl[i].done, false);
		cr_assert_eq(
		        pthread_create(&t[i], NULL, flood_main, &fl[i]), 0);
	}
	/* Sampled until every flood was answered, for at most 240 s. */
	for (int ms = 0; ms < 240000; ms += 2) {
		long now = proc_kb(srv.pid, "RssAnon:");
		peak = now > peak ? now : peak;
		int done = 0;
		for (int i = 0; i < BUDGET_FLOODS; i++) {
			done += atomic_load(&fl[i].done);
		}
		if (done == BUDGET_FLOODS) {
			break;
		}
		harness_sleep_ms(2); /* the sampling interval */
	}
	for (int i = 0; i < BUDGET_FLOODS; i++) {
		pthread_join(t[i], NULL);
	}
	long after = proc_kb(srv.pid, "RssAnon:");
	cr_log_info("RssAnon before %ld kB, peak %ld kB, after %ld kB", before,
	        peak, after);
	return peak - before;
}

/* A customer tracked, then read back: clmd still answers normally. */
static void
expect_still_answering(const char *token)
{
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 10000, &c), CLM_OK);
	if (token != NULL) {
		cr_assert_eq(clm_set_token(c, token), CLM_OK);
	}
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "after-flood";
	tp.event_id = "after-flood-1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *tps[] = { &tp };
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_track(c, tps, 1, &resp), CLM_OK);
	clm_response_free(resp);
	resp = NULL;
	clm_err e = clm_get_customer(c, "after-flood", 0, &resp);
	cr_assert_eq(e, CLM_OK, "GetCustomer: %s", clm_errname(e));
	cr_assert_eq(resp->status->code, CLM__V1__CODE__OK);
	cr_assert_str_eq(resp->customer->customer_id, "after-flood");
	clm_response_free(resp);
	clm_close(c);
}

/* 1.9 million empty touchpoints: 3.8 MB on the wire, under 4 MiB. */
#define FLOOD_TOUCHPOINTS 1900000

Test(budget, flood_without_token_is_refused_before_decoding)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", BUDGET_TOKEN "\n");
	const char *args[] = { "--auth-token-file", tokens,
		"--max-message-bytes", "4M", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0);
	size_t len;
	uint8_t *buf = flood_request(FLOOD_TOUCHPOINTS, 0, &len);
	cr_assert_lt(len, 4u << 20);
	struct flood fl[BUDGET_FLOODS];
	long growth = flood_run(buf, len, fl);
	free(buf);
	for (int i = 0; i < BUDGET_FLOODS; i++) {
		cr_assert_eq(fl[i].code, CLM__V1__CODE__UNAUTHENTICATED,
		        "flood %d got %d: %s", i, fl[i].code, fl[i].message);
	}
	cr_assert_lt(growth, BUDGET_GROWTH_KB,
	        "RssAnon grew by %ld kB for %d unauthenticated floods", growth,
	        BUDGET_FLOODS);
	expect_still_answering(BUDGET_TOKEN);
}

Test(budget, flood_without_tokens_configured_is_refused)
{
	int http_port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", http_port);
	const char *args[]
	        = { "--max-message-bytes", "4M", "--http", http, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0);
	size_t len;
	uint8_t *buf = flood_request(FLOOD_TOUCHPOINTS, 0, &len);
	struct flood fl[BUDGET_FLOODS];
	long growth = flood_run(buf, len, fl);
	free(buf);
	for (int i = 0; i < BUDGET_FLOODS; i++) {
		cr_assert(fl[i].code == CLM__V1__CODE__INVALID_ARGUMENT
		                || fl[i].code
		                        == CLM__V1__CODE__RESOURCE_EXHAUSTED,
		        "flood %d got %d: %s", i, fl[i].code, fl[i].message);
		if (fl[i].code == CLM__V1__CODE__INVALID_ARGUMENT) {
			cr_assert_str_eq(fl[i].field, "track.touchpoints");
		}
	}
	cr_assert_lt(growth, BUDGET_GROWTH_KB,
	        "RssAnon grew by %ld kB for %d floods", growth, BUDGET_FLOODS);
	expect_still_answering(NULL);
	char *metrics = harness_metrics(http_port);
	cr_assert_not_null(metrics, "no /metrics on port %d", http_port);
	cr_assert_not_null(
	        strstr(metrics,
	                "\nclm_requests_refused_total{reason=\"elements\"} 4\n"),
	        "%s", metrics);
	free(metrics);
}

/*
 * Under every element count (190 touchpoints of 10,000 empty properties
 * each: 1.9 million entries, 3.8 MB), but unpacking it would take some
 * 200 MB: the decode budget (1 MiB + 24 bytes per byte, about 92 MiB
 * here) stops it with RESOURCE_EXHAUSTED, and the memory is given back.
 * One at a time, since each may take its whole budget.
 */
Test(budget, decode_budget_stops_amplification)
{
	const char *args[] = { "--max-message-bytes", "4M", NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0);
	size_t len;
	uint8_t *buf = flood_request(190, 10000, &len);
	cr_assert_lt(len, 4u << 20);
	nng_socket s;
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 120000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 120000);
	cr_assert_eq(nng_dial(s, srv.url, NULL, 0), 0);
	long hwm_before = proc_kb(srv.pid, "VmHWM:");
	cr_assert_eq(nng_send(s, buf, len, 0), 0);
	free(buf);
	nng_msg *msg;
	cr_assert_eq(nng_recvmsg(s, &msg, 0), 0);
	Clm__V1__Response *resp = clm__v1__response__unpack(
	        NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	nng_close(s);
	cr_assert_not_null(resp);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__RESOURCE_EXHAUSTED,
	        "got %d: %s", resp->status->code, resp->status->message);
	cr_assert_str_eq(resp->request_id, "flood");
	clm__v1__response__free_unpacked(resp, NULL);
	/* The budget (~92 MiB) and the message, not the ~200 MB unpacked. */
	long hwm = proc_kb(srv.pid, "VmHWM:") - hwm_before;
	cr_log_info("VmHWM grew by %ld kB", hwm);
	cr_assert_lt(hwm, 128 * 1024, "VmHWM grew by %ld kB", hwm);
	expect_still_answering(NULL);
}
