/*
 * Request.min_position against a real clmd (docs/api.md "Positions"):
 *
 *   - a read (or write) whose min_position the view has applied is
 *     answered at once;
 *   - one beyond it is answered UNAVAILABLE "not caught up: ..." once its
 *     deadline_ms has passed (1 s when 0), and a write is then not applied;
 *   - a read waiting for the next position is answered as soon as a write
 *     reaches it, with a position at least the one it asked for;
 *   - 200 requests waiting at once are parked without a thread each (the
 *     thread count of clmd does not grow with them, /metrics counts them),
 *     and one write releases them all.
 */
#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

HARNESS_SUITE(min_position, 120);

#define TP_TYPE(x) CLM__V1__TOUCHPOINT_TYPE__##x

/* The waiters of many_waiters_take_no_thread_and_are_all_released. */
#define MANY 200

static int http_port;

/* clmd with room for MANY parked requests (each holds a work item). */
static void
start(void)
{
	http_port = harness_free_port();
	char port[16];
	snprintf(port, sizeof(port), "127.0.0.1:%d", http_port);
	const char *const args[]
	        = { "--workers", "256", "--http", port, NULL };
	cr_assert_eq(clmd_start(&srv, NULL, args), 0,
	        "clmd did not start (log %s)", srv.log_path);
}

static clm_conn *
conn(void)
{
	clm_conn *c = NULL;
	cr_assert_eq(
	        clm_open(srv.url, 30000, &c), CLM_OK, "%s", clm_open_error());
	return c;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A Track of one SIGNUP of customer id; returns the reply's position. */
static uint64_t
track(clm_conn *c, const char *id, const char *event_id)
{
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = (char *) id;
	tp.event_id = (char *) event_id;
	tp.type = TP_TYPE(SIGNUP);
	Clm__V1__Touchpoint *p = &tp;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, &p, 1, &resp);
	cr_assert_eq(e, CLM_OK, "track %s: %s (%s)", id, clm_errname(e),
	        clm_last_error(c));
	uint64_t pos = resp->position;
	clm_response_free(resp);
	cr_assert_gt(pos, 0);
	return pos;
}

/*
 * GetCustomer of id with min_position and deadline_ms, through clm_call;
 * the Response (free it).
 */
static Clm__V1__Response *
get(clm_conn *c, const char *id, uint64_t min, uint32_t deadline_ms)
{
	Clm__V1__GetCustomerRequest g = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	g.customer_id = (char *) id;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	q.get_customer = &g;
	q.min_position = min;
	q.deadline_ms = deadline_ms;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_call(c, &q, &resp);
	cr_assert_eq(e, CLM_OK, "no reply: %s", clm_last_error(c));
	return resp;
}

static Clm__V1__Code
code_of(const Clm__V1__Response *r)
{
	return r->status != NULL ? r->status->code : CLM__V1__CODE__OK;
}

/* The ServerStatus reply's position: what the view has applied. */
static uint64_t
applied(clm_conn *c)
{
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	uint64_t pos = resp->position;
	cr_assert_str_eq(resp->server_status->journal, "local");
	cr_assert_eq(resp->server_status->stream_position, 0);
	clm_response_free(resp);
	return pos;
}

/* A gauge of /metrics (-1 when absent). */
static double
metric(const char *name)
{
	return harness_metric(http_port, name);
}

/* The number of threads of process pid (/proc/PID/status), or -1. */
static int
threads_of(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	char *text = harness_read_file(path);
	if (text == NULL) {
		return -1;
	}
	const char *p = strstr(text, "\nThreads:");
	int n = p != NULL ? atoi(p + strlen("\nThreads:")) : -1;
	free(text);
	return n;
}

Test(min_position, reached_answers_at_once)
{
	start();
	clm_conn *c = conn();
	uint64_t p = track(c, "ann", "ann-1");
	cr_assert_eq(applied(c), p);
	for (uint64_t min = 1; min <= p; min++) {
		int64_t t0 = mono_ms();
		Clm__V1__Response *r = get(c, "ann", min, 20000);
		int64_t took = mono_ms() - t0;
		cr_assert_eq(code_of(r), CLM__V1__CODE__OK, "%s",
		        r->status->message);
		cr_assert_str_eq(r->customer->customer_id, "ann");
		cr_assert_geq(r->position, min);
		/* Far from its deadline: it did not wait for it. */
		cr_assert_lt(took, 10000, "took %lld ms", (long long) took);
		clm_response_free(r);
	}
	/* A write with a reached min_position is applied as usual. */
	clm_set_min_position(c, p);
	uint64_t p2 = track(c, "bob", "bob-1");
	cr_assert_eq(p2, p + 1);
	cr_assert_eq(clm_last_position(c), p2);
	clm_close(c);
}

Test(min_position, beyond_is_unavailable_after_the_deadline)
{
	start();
	clm_conn *c = conn();
	uint64_t p = track(c, "ann", "ann-1");
	uint64_t want = p + 5;
	char msg[160];
	snprintf(msg, sizeof(msg),
	        "not caught up: this node has applied position %llu, the request needs %llu",
	        (unsigned long long) p, (unsigned long long) want);

	int64_t t0 = mono_ms();
	Clm__V1__Response *r = get(c, "ann", want, 400);
	int64_t took = mono_ms() - t0;
	cr_assert_eq(code_of(r), CLM__V1__CODE__UNAVAILABLE);
	cr_assert_str_eq(r->status->message, msg);
	cr_assert_eq(r->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
	cr_assert_eq(r->position, 0);
	cr_assert_geq(took, 400, "answered after %lld ms", (long long) took);
	clm_response_free(r);

	/* No deadline_ms: one second. */
	t0 = mono_ms();
	r = get(c, "ann", want, 0);
	took = mono_ms() - t0;
	cr_assert_eq(code_of(r), CLM__V1__CODE__UNAVAILABLE);
	cr_assert_str_eq(r->status->message, msg);
	cr_assert_geq(took, 1000, "answered after %lld ms", (long long) took);
	clm_response_free(r);

	/* A write that cannot wait long enough is not applied. */
	clm_set_min_position(c, want);
	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "cy";
	tp.event_id = "cy-1";
	tp.type = TP_TYPE(SIGNUP);
	Clm__V1__Touchpoint *tpp = &tp;
	r = NULL;
	cr_assert_eq(clm_track(c, &tpp, 1, &r), CLM_UNAVAILABLE);
	cr_assert_str_eq(r->status->message, msg);
	cr_assert_eq(r->position, 0);
	clm_response_free(r);
	clm_set_min_position(c, 0);
	r = get(c, "cy", 0, 0);
	cr_assert_eq(code_of(r), CLM__V1__CODE__NOT_FOUND);
	clm_response_free(r);
	cr_assert_eq(applied(c), p, "the refused write was applied");
	cr_assert_eq(metric("clm_position_waits"), 0);
	clm_close(c);
}

/* A read on its own connection, waiting for a position. */
struct waiting_read {
	const char *url;
	uint64_t min;
	Clm__V1__Code code;
	uint64_t position;
	char customer[32];
	int64_t took_ms;
};

static void *
waiting_read_main(void *arg)
{
	struct waiting_read *w = arg;
	clm_conn *c = NULL;
	if (clm_open(w->url, 60000, &c) != CLM_OK) {
		w->code = CLM__V1__CODE__INTERNAL;
		return NULL;
	}
	Clm__V1__GetCustomerRequest g = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	g.customer_id = "dora";
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	q.get_customer = &g;
	q.min_position = w->min;
	q.deadline_ms = 30000;
	int64_t t0 = mono_ms();
	Clm__V1__Response *r = NULL;
	if (clm_call(c, &q, &r) != CLM_OK) {
		w->code = CLM__V1__CODE__INTERNAL;
	} else {
		w->code = code_of(r);
		w->position = r->position;
		if (r->customer != NULL) {
			snprintf(w->customer, sizeof(w->customer), "%s",
			        r->customer->customer_id);
		}
		clm_response_free(r);
	}
	w->took_ms = mono_ms() - t0;
	clm_close(c);
	return NULL;
}

/* Waits (bounded) until /metrics counts n requests waiting. */
static void
wait_for_waiters(double n)
{
	double got = -1;
	for (int i = 0; i < 600; i++) {
		got = metric("clm_position_waits");
		if (got == n) {
			return;
		}
		harness_sleep_ms(50);
	}
	cr_assert_fail("%g requests waiting, want %g", got, n);
}

Test(min_position, a_waiting_read_is_answered_by_the_write_it_needs)
{
	start();
	clm_conn *c = conn();
	uint64_t p = track(c, "ann", "ann-1");
	struct waiting_read w = { .url = srv.url, .min = p + 1 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, waiting_read_main, &w), 0);
	wait_for_waiters(1);
	/* The write dora's read waits for: it sees her. */
	cr_assert_eq(track(c, "dora", "dora-1"), p + 1);
	pthread_join(t, NULL);
	cr_assert_eq(w.code, CLM__V1__CODE__OK, "code %d", (int) w.code);
	cr_assert_str_eq(w.customer, "dora");
	cr_assert_geq(w.position, p + 1);
	/* Released by the write, not by its 30 s deadline. */
	cr_assert_lt(w.took_ms, 25000, "took %lld ms", (long long) w.took_ms);
	cr_assert_eq(metric("clm_position_waits"), 0);
	clm_close(c);
}

/*
 * MANY reads at once from one thread: a REQ socket with a context and an
 * aio each (nng's own async requests), all waiting for one position.
 */
struct many {
	nng_socket sock;
	nng_ctx ctx[MANY];
	nng_aio *aio[MANY];
};

Test(min_position, many_waiters_take_no_thread_and_are_all_released)
{
	start();
	clm_conn *c = conn();
	uint64_t p = track(c, "ann", "ann-1");
	int before = threads_of(srv.pid);
	cr_assert_gt(before, 0);

	struct many *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	cr_assert_eq(nng_req0_open(&m->sock), 0);
	/* No resend while a request waits (nng's default is 60 s). */
	cr_assert_eq(nng_socket_set_ms(m->sock, NNG_OPT_REQ_RESENDTIME,
	                     NNG_DURATION_INFINITE),
	        0);
	cr_assert_eq(nng_dial(m->sock, srv.url, NULL, 0), 0);
	Clm__V1__GetCustomerRequest g = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	g.customer_id = "ann";
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	q.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	q.get_customer = &g;
	q.min_position = p + 1;
	q.deadline_ms = 60000;
	size_t len = clm__v1__request__get_packed_size(&q);
	for (int i = 0; i < MANY; i++) {
		cr_assert_eq(nng_ctx_open(&m->ctx[i], m->sock), 0);
		cr_assert_eq(nng_aio_alloc(&m->aio[i], NULL, NULL), 0);
		nng_aio_set_timeout(m->aio[i], 60000);
		nng_msg *msg;
		cr_assert_eq(nng_msg_alloc(&msg, len), 0);
		clm__v1__request__pack(&q, nng_msg_body(msg));
		nng_aio_set_msg(m->aio[i], msg);
		nng_ctx_send(m->ctx[i], m->aio[i]);
	}
	for (int i = 0; i < MANY; i++) {
		nng_aio_wait(m->aio[i]);
		cr_assert_eq(nng_aio_result(m->aio[i]), 0, "send %d", i);
		nng_ctx_recv(m->ctx[i], m->aio[i]);
	}
	wait_for_waiters(MANY);
	/* Parked, not each on a thread of its own. */
	int during = threads_of(srv.pid);
	cr_assert_lt(during, before + 8,
	        "threads %d with %d waiting, %d before", during, MANY, before);

	uint64_t p2 = track(c, "bob", "bob-1");
	cr_assert_eq(p2, p + 1);
	for (int i = 0; i < MANY; i++) {
		nng_aio_wait(m->aio[i]);
		cr_assert_eq(nng_aio_result(m->aio[i]), 0, "reply %d", i);
		nng_msg *msg = nng_aio_get_msg(m->aio[i]);
		Clm__V1__Response *r = clm__v1__response__unpack(
		        NULL, nng_msg_len(msg), nng_msg_body(msg));
		nng_msg_free(msg);
		cr_assert_not_null(r, "reply %d does not decode", i);
		cr_assert_eq(code_of(r), CLM__V1__CODE__OK, "reply %d: %s", i,
		        r->status != NULL ? r->status->message : "");
		cr_assert_geq(r->position, p + 1);
		cr_assert_str_eq(r->customer->customer_id, "ann");
		clm__v1__response__free_unpacked(r, NULL);
	}
	cr_assert_eq(metric("clm_position_waits"), 0);
	for (int i = 0; i < MANY; i++) {
		nng_aio_free(m->aio[i]);
		nng_ctx_close(m->ctx[i]);
	}
	nng_close(m->sock);
	free(m);
	clm_close(c);
}
