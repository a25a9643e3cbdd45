/*
 * Overload (docs/operations.md "Durability and failures": group commit's write
 * queue, deadline_ms): a full write queue answers UNAVAILABLE "retry later"
 * without applying anything, a write whose deadline passes in the queue
 * answers DEADLINE_EXCEEDED without applying anything, no reply is ever lost,
 * reads are answered throughout, and every acknowledged write is stored.
 *
 * clmd runs with --write-queue 4 --batch-max 1, so a few large Tracks
 * keep the writer busy and the queue full. A third test sends SIGTERM
 * under that load: clmd must exit 0, and every batch must be stored
 * exactly when its reply said so (all or nothing when it got none). The
 * verdict never depends on timing: every reply is checked against what must
 * hold whatever the schedule ("an UNAVAILABLE or DEADLINE_EXCEEDED write was
 * not applied", "an OK write is stored"), proved afterwards by re-tracking the
 * same event ids. Whether the interesting replies occurred at all depends on
 * the machine: the counts are printed, and their absence does not fail.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow.h"
#include "harness.h"

/* 2024-01-01T00:00:00Z: in the past on any clock. */
#define OV_T0         1704067200000LL
#define OV_CALL_MS    60000 /* a reply later than this counts as lost */
#define OV_WRITERS    16
#define OV_ROUNDS     4
#define OV_BATCH      1000
#define OV_LOADERS    3
#define OV_LOAD_BATCH 500
#define OV_PROBES     100
#define OV_MAX_TRIES  100000
#define OV_BACKOFF_MS 2
#define OV_STATUS_MS  10
#define OV_SHARED     16
#define OV_ERR_LEN    512
#define OV_VANISH_MS  3000 /* reply timeout once clmd may be gone */

static const char *const ov_args[]
        = { "--write-queue", "4", "--batch-max", "1", NULL };
/* The same, with the smallest map: it grows (remaps) under the readers. */
static const char *const ov_args_small_map[] = { "--write-queue", "4",
	"--batch-max", "1", "--map-bytes", "64K", NULL };

HARNESS_SUITE(overload, 240);

/* ---------------------------------------------------------------------- */
/* Batches                                                                */

/* Touchpoints with the storage of their strings. */
/*
 * Fills b with n touchpoints of request (tag, thread, round): event ids
 * TAG-THREAD-ROUND-I, a customer of the thread or one shared by all.
 * The content is a function of those numbers, so a re-track resends
 * exactly what was sent.
 */
static void
ov_batch_fill(struct tp_batch *b, char tag, unsigned thread, unsigned round,
        size_t n)
{
	b->n = 0;
	for (size_t i = 0; i < n && i < b->cap; i++) {
		Clm__V1__Touchpoint *tp = &b->tp[i];
		clm__v1__touchpoint__init(tp);
		snprintf(b->eid[i], sizeof(b->eid[i]), "%c-%u-%u-%zu", tag,
		        thread, round, i);
		if (i % 5 == 0) {
			snprintf(b->cid[i], sizeof(b->cid[i]), "shared-%zu",
			        (i / 5) % OV_SHARED);
		} else {
			snprintf(b->cid[i], sizeof(b->cid[i]), "%c%u-c%zu",
			        tag, thread, i % 50);
		}
		tp->event_id = b->eid[i];
		tp->customer_id = b->cid[i];
		tp->type = i % 3 == 0 ? CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT
		                      : CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW;
		tp->channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
		tp->occurred_at_ms = OV_T0 + (int64_t) (round * 100000 + i);
		tp->duration_s = (uint32_t) (i % 300);
		tp->campaign = "overload";
		b->ptr[i] = tp;
	}
	b->n = n < b->cap ? n : b->cap;
}

/* ---------------------------------------------------------------------- */
/* Load threads                                                           */

enum ov_fate { OV_OK, OV_UNAVAILABLE, OV_DEADLINE, OV_UNKNOWN };

/* One request a thread made, and how it ended. */
struct ov_req {
	uint32_t round;
	uint32_t n;
	uint8_t fate;
};

struct ov_worker {
	pthread_t thread;
	const char *url;
	char tag;
	unsigned id;
	size_t batch;
	unsigned rounds;      /* 0: until stop */
	bool retry;           /* resend an UNAVAILABLE batch until OK */
	uint32_t deadline_ms; /* Request.deadline_ms; 0 = none */
	int call_ms;          /* reply timeout */
	bool may_vanish;      /* the server is stopped under the load */
	atomic_bool *stop;
	/* Results, read after join. */
	struct ov_req *log;
	size_t n_log, cap_log;
	unsigned ok, unavailable, deadline, unknown, bad;
	char first_bad[OV_ERR_LEN];
};

static void
ov_bad(struct ov_worker *w, const char *what, const char *eid,
        const char *detail)
{
	if (w->bad++ == 0) {
		snprintf(w->first_bad, sizeof(w->first_bad), "%s (%s..): %s",
		        what, eid, detail);
	}
}

static bool
ov_log(struct ov_worker *w, uint32_t round, uint32_t n, enum ov_fate fate)
{
	if (w->n_log == w->cap_log) {
		size_t cap = w->cap_log ? w->cap_log * 2 : 64;
		struct ov_req *v = realloc(w->log, cap * sizeof(*v));
		if (v == NULL) {
			return false;
		}
		w->log = v;
		w->cap_log = cap;
	}
	w->log[w->n_log++]
	        = (struct ov_req) { .round = round, .n = n, .fate = fate };
	return true;
}

/* Tracks b with w's deadline; the reply (NULL: no reply) in *out. */
static clm_err
ov_track(clm_conn *c, const struct ov_worker *w, struct tp_batch *b,
        Clm__V1__Response **out)
{
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	tr.n_touchpoints = b->n;
	tr.touchpoints = b->ptr;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.deadline_ms = w->deadline_ms;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &tr;
	*out = NULL;
	Clm__V1__Response *resp;
	clm_err e = clm_call(c, &req, &resp);
	if (e != CLM_OK) {
		return e; /* transport: no reply */
	}
	*out = resp;
	return resp->status == NULL
	        ? CLM_OK
	        : clm_err_from_code((int) resp->status->code);
}

/*
 * Classifies one reply; returns its fate, or -1 for a reply that breaks
 * a rule (noted in w).
 */
static int
ov_judge(struct ov_worker *w, const struct tp_batch *b, clm_err e,
        const Clm__V1__Response *resp)
{
	if (resp == NULL) {
		if (w->may_vanish) {
			return OV_UNKNOWN;
		}
		ov_bad(w, "no reply", b->eid[0], clm_errname(e));
		return -1;
	}
	const char *msg = resp->status ? resp->status->message : "";
	switch (e) {
	case CLM_OK:
		if (resp->track == NULL || resp->track->n_rejected != 0
		        || resp->track->accepted != b->n) {
			/* Fresh ids, or retries of unapplied writes. */
			char d[128];
			snprintf(d, sizeof(d),
			        "OK with accepted %u duplicates %u of %zu",
			        resp->track ? resp->track->accepted : 0,
			        resp->track ? resp->track->duplicates : 0,
			        b->n);
			ov_bad(w, "odd counts", b->eid[0], d);
			return -1;
		}
		return OV_OK;
	case CLM_UNAVAILABLE:
		if (strstr(msg, "retry") == NULL || resp->track != NULL) {
			ov_bad(w,
			        "UNAVAILABLE without 'retry' or with a result",
			        b->eid[0], msg);
			return -1;
		}
		return OV_UNAVAILABLE;
	case CLM_DEADLINE_EXCEEDED:
		if (w->deadline_ms == 0 || resp->track != NULL
		        || strstr(msg, "nothing was written") == NULL) {
			ov_bad(w, "odd DEADLINE_EXCEEDED", b->eid[0], msg);
			return -1;
		}
		return OV_DEADLINE;
	default:
		ov_bad(w, clm_errname(e), b->eid[0], msg);
		return -1;
	}
}

/*
 * Connections left open on purpose (see ov_worker_main) stay reachable
 * from here, so LeakSanitizer does not count them as leaks.
 */
static clm_conn *ov_abandoned[256];
static _Atomic int ov_n_abandoned;

static void
ov_abandon(clm_conn *c)
{
	int i = atomic_fetch_add(&ov_n_abandoned, 1);
	if (i < 256) {
		ov_abandoned[i] = c;
	}
}

static void *
ov_worker_main(void *arg)
{
	struct ov_worker *w = arg;
	clm_conn *c = NULL;
	struct tp_batch b;
	if (!tp_batch_init(&b, w->batch)) {
		ov_bad(w, "out of memory", "-", "");
		tp_batch_fini(&b);
		return NULL;
	}
	if (clm_open(w->url, w->call_ms, &c) != CLM_OK) {
		ov_bad(w, "cannot connect", "-", clm_open_error());
		tp_batch_fini(&b);
		return NULL;
	}
	for (unsigned round = 0; w->rounds == 0 || round < w->rounds;
	        round++) {
		if (atomic_load(w->stop)) {
			break;
		}
		ov_batch_fill(&b, w->tag, w->id, round, w->batch);
		int fate = -1;
		for (unsigned tries = 0; tries < OV_MAX_TRIES; tries++) {
			Clm__V1__Response *resp;
			clm_err e = ov_track(c, w, &b, &resp);
			fate = ov_judge(w, &b, e, resp);
			clm_response_free(resp);
			if (fate == OV_UNAVAILABLE) {
				w->unavailable++;
			}
			if (fate != OV_UNAVAILABLE || !w->retry
			        || atomic_load(w->stop)) {
				break;
			}
			harness_sleep_ms(OV_BACKOFF_MS);
		}
		if (fate < 0) {
			break; /* a broken rule: stop here, reported */
		}
		w->ok += fate == OV_OK;
		w->deadline += fate == OV_DEADLINE;
		w->unknown += fate == OV_UNKNOWN;
		if (!ov_log(w, round, (uint32_t) b.n, (enum ov_fate) fate)) {
			ov_bad(w, "out of memory", "-", "");
			break;
		}
		if (fate == OV_UNKNOWN) {
			break; /* the server is gone */
		}
	}
	/*
	 * nng 1.5.2's close can hang for good while the socket redials a
	 * peer that is gone (issues 1543, 1813): then the connection is left
	 * open, for the test process's exit to reclaim.
	 */
	if (w->unknown == 0) {
		clm_close(c);
	} else {
		ov_abandon(c);
	}
	tp_batch_fini(&b);
	return NULL;
}

/*
 * Polls ServerStatus and GetCustomer while the load runs: reads must keep
 * being served (a customer that does not exist yet is NOT_FOUND).
 */
struct ov_poller {
	pthread_t thread;
	const char *url;
	atomic_bool *stop;
	unsigned calls, failures;
	int64_t max_ms;
	char first_failure[OV_ERR_LEN];
};

static int64_t
ov_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
ov_poller_main(void *arg)
{
	struct ov_poller *p = arg;
	clm_conn *c;
	if (clm_open(p->url, OV_CALL_MS, &c) != CLM_OK) {
		p->failures++;
		snprintf(p->first_failure, sizeof(p->first_failure), "%s",
		        clm_open_error());
		return NULL;
	}
	while (!atomic_load(p->stop)) {
		int64_t t = ov_now_ms();
		Clm__V1__Response *resp = NULL;
		clm_err e = clm_server_status(c, &resp);
		if (e == CLM_OK) {
			clm_response_free(resp);
			resp = NULL;
			e = clm_get_customer(c, "shared-0", 0, &resp);
			e = e == CLM_NOT_FOUND ? CLM_OK : e;
		}
		int64_t dt = ov_now_ms() - t;
		p->calls++;
		p->max_ms = dt > p->max_ms ? dt : p->max_ms;
		if (e != CLM_OK && p->failures++ == 0) {
			snprintf(p->first_failure, sizeof(p->first_failure),
			        "%s (%s)", clm_errname(e), clm_last_error(c));
		}
		clm_response_free(resp);
		harness_sleep_ms(OV_STATUS_MS);
	}
	clm_close(c);
	return NULL;
}

static void
ov_start_poller(struct ov_poller *p, atomic_bool *stop)
{
	memset(p, 0, sizeof(*p));
	p->url = srv.url;
	p->stop = stop;
	cr_assert_eq(pthread_create(&p->thread, NULL, ov_poller_main, p), 0);
}

static void
ov_worker_init(struct ov_worker *w, char tag, unsigned id, size_t batch,
        unsigned rounds, atomic_bool *stop)
{
	memset(w, 0, sizeof(*w));
	w->url = srv.url;
	w->tag = tag;
	w->id = id;
	w->batch = batch;
	w->rounds = rounds;
	w->stop = stop;
	w->call_ms = OV_CALL_MS;
}

/* ---------------------------------------------------------------------- */
/* Checks after the load                                                  */

static clm_conn *
ov_connect(void)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(srv.url, OV_CALL_MS, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", srv.url, clm_open_error());
	return c;
}

/*
 * Re-tracks every request a worker logged, without a deadline, retrying
 * UNAVAILABLE: an OK one must come back all duplicates (stored), any
 * unknown one (no reply) either, but as a whole, any other all accepted
 * (it had not been applied). Returns the events stored before the
 * re-track.
 */
static uint64_t
ov_retrack(clm_conn *c, const struct ov_worker *w, struct tp_batch *b)
{
	uint64_t stored = 0;
	for (size_t i = 0; i < w->n_log; i++) {
		const struct ov_req *q = &w->log[i];
		ov_batch_fill(b, w->tag, w->id, q->round, q->n);
		Clm__V1__Response *resp = NULL;
		clm_err e = CLM_UNAVAILABLE;
		for (unsigned tries = 0;
		        e == CLM_UNAVAILABLE && tries < OV_MAX_TRIES;
		        tries++) {
			clm_response_free(resp);
			e = clm_track(c, b->ptr, b->n, &resp);
		}
		cr_assert_eq(e, CLM_OK, "re-track %s..: %s (%s)", b->eid[0],
		        clm_errname(e), clm_last_error(c));
		const Clm__V1__TrackReply *t = resp->track;
		if (q->fate == OV_UNKNOWN) {
			cr_assert(t->accepted == 0 || t->accepted == q->n,
			        "torn batch: %u of the %u events of %s.. stored",
			        t->duplicates, q->n, b->eid[0]);
			stored += t->duplicates;
		} else if (q->fate == OV_OK) {
			cr_assert_eq(t->duplicates, q->n,
			        "%u of the %u events of acknowledged %s.. were missing",
			        t->accepted, q->n, b->eid[0]);
			stored += q->n;
		} else {
			cr_assert_eq(t->accepted, q->n,
			        "%s.. answered %s, yet %u of its %u events were stored",
			        b->eid[0],
			        q->fate == OV_DEADLINE ? "DEADLINE_EXCEEDED"
			                               : "UNAVAILABLE",
			        t->duplicates, q->n);
		}
		clm_response_free(resp);
	}
	return stored;
}

static void
ov_assert_clean(const struct ov_worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(w[i].bad, 0,
		        "thread %c%u: %u bad replies; first: %s", w[i].tag,
		        w[i].id, w[i].bad, w[i].first_bad);
	}
}

static void
ov_assert_poller(const struct ov_poller *p)
{
	cr_assert_eq(p->failures, 0,
	        "a read failed %u of %u times under load; first: %s",
	        p->failures, p->calls, p->first_failure);
	cr_assert_gt(p->calls, 0, "no read was made under load");
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                  */

/*
 * Many writers with large batches against a queue of 4: the ones that do
 * not fit get UNAVAILABLE "retry later" and resend the same batch until
 * OK. The final OK must count every event accepted (no earlier attempt
 * was applied), every reply must arrive, reads must keep being answered,
 * and afterwards every batch is stored exactly once. The map starts at
 * 64 KiB, so it also grows several times under the readers.
 */
Test(overload, full_queue_is_unavailable_and_loses_nothing)
{
	cr_assert_eq(clmd_start(&srv, NULL, ov_args_small_map), 0,
	        "clmd did not start (log %s)", srv.log_path);
	atomic_bool stop;
	atomic_init(&stop, false);
	struct ov_poller poller;
	ov_start_poller(&poller, &stop);
	static struct ov_worker w[OV_WRITERS];
	int64_t t0 = ov_now_ms();
	for (unsigned i = 0; i < OV_WRITERS; i++) {
		ov_worker_init(&w[i], 'q', i, OV_BATCH, OV_ROUNDS, &stop);
		w[i].retry = true;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, ov_worker_main,
		                     &w[i]),
		        0);
	}
	for (unsigned i = 0; i < OV_WRITERS; i++) {
		pthread_join(w[i].thread, NULL);
	}
	int64_t load_ms = ov_now_ms() - t0;
	atomic_store(&stop, true);
	pthread_join(poller.thread, NULL);

	unsigned ok = 0, unavailable = 0;
	for (unsigned i = 0; i < OV_WRITERS; i++) {
		ok += w[i].ok;
		unavailable += w[i].unavailable;
	}
	fprintf(stderr,
	        "overload: %u writers x %u batches of %u in %lld ms: %u OK, %u UNAVAILABLE 'retry later' replies%s; reads answered %u times, slowest %lld ms\n",
	        OV_WRITERS, OV_ROUNDS, OV_BATCH, (long long) load_ms, ok,
	        unavailable,
	        unavailable == 0 ? " (none seen: the queue never filled)" : "",
	        poller.calls, (long long) poller.max_ms);
	ov_assert_clean(w, OV_WRITERS);
	ov_assert_poller(&poller);
	cr_assert_eq(ok, OV_WRITERS * OV_ROUNDS);

	clm_conn *c = ov_connect();
	uint64_t want = (uint64_t) OV_WRITERS * OV_ROUNDS * OV_BATCH;
	cr_assert_eq(flow_touchpoints(c), want);
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, OV_BATCH));
	uint64_t stored = 0;
	for (unsigned i = 0; i < OV_WRITERS; i++) {
		stored += ov_retrack(c, &w[i], &b);
		free(w[i].log);
	}
	tp_batch_fini(&b);
	cr_assert_eq(stored, want);
	cr_assert_eq(
	        flow_touchpoints(c), want, "a re-track added touchpoints");
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * A few loaders keep the writer busy with big batches while probes Track
 * one event each with deadline_ms = 1. A probe answered DEADLINE_EXCEEDED
 * (or UNAVAILABLE) must not have been applied: re-tracked later, it is
 * accepted; a probe answered OK is a duplicate.
 */
Test(overload, deadline_exceeded_is_not_applied)
{
	cr_assert_eq(clmd_start(&srv, NULL, ov_args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	atomic_bool stop, stop_poller;
	atomic_init(&stop, false);
	atomic_init(&stop_poller, false);
	struct ov_poller poller;
	ov_start_poller(&poller, &stop_poller);
	static struct ov_worker load[OV_LOADERS];
	for (unsigned i = 0; i < OV_LOADERS; i++) {
		ov_worker_init(&load[i], 'l', i, OV_LOAD_BATCH, 0, &stop);
		cr_assert_eq(pthread_create(&load[i].thread, NULL,
		                     ov_worker_main, &load[i]),
		        0);
	}
	/* The probes: one thread's worth, on this thread. */
	static struct ov_worker probe;
	atomic_bool never;
	atomic_init(&never, false);
	ov_worker_init(&probe, 'p', 0, 1, OV_PROBES, &never);
	probe.deadline_ms = 1;
	harness_sleep_ms(50); /* let the loaders fill the queue */
	ov_worker_main(&probe);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < OV_LOADERS; i++) {
		pthread_join(load[i].thread, NULL);
	}
	atomic_store(&stop_poller, true);
	pthread_join(poller.thread, NULL);

	unsigned load_ok = 0, load_unavailable = 0;
	for (unsigned i = 0; i < OV_LOADERS; i++) {
		load_ok += load[i].ok;
		load_unavailable += load[i].unavailable;
	}
	fprintf(stderr,
	        "overload: %u probes with deadline_ms 1: %u OK, %u DEADLINE_EXCEEDED, %u UNAVAILABLE%s; loaders: %u OK, %u UNAVAILABLE; reads answered %u times, slowest %lld ms\n",
	        OV_PROBES, probe.ok, probe.deadline, probe.unavailable,
	        probe.deadline == 0
	                ? " (no DEADLINE_EXCEEDED this run: the writer was never busy enough)"
	                : "",
	        load_ok, load_unavailable, poller.calls,
	        (long long) poller.max_ms);
	ov_assert_clean(load, OV_LOADERS);
	ov_assert_clean(&probe, 1);
	ov_assert_poller(&poller);
	cr_assert_eq(probe.n_log, OV_PROBES, "a probe got no reply");

	clm_conn *c = ov_connect();
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, OV_LOAD_BATCH));
	uint64_t stored = ov_retrack(c, &probe, &b);
	for (unsigned i = 0; i < OV_LOADERS; i++) {
		stored += ov_retrack(c, &load[i], &b);
	}
	cr_assert_eq(stored, probe.ok + (uint64_t) load_ok * OV_LOAD_BATCH);
	uint64_t sent = probe.n_log;
	for (unsigned i = 0; i < OV_LOADERS; i++) {
		sent += (uint64_t) load[i].n_log * OV_LOAD_BATCH;
		free(load[i].log);
	}
	free(probe.log);
	tp_batch_fini(&b);
	cr_assert_eq(flow_touchpoints(c), sent);
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}

/*
 * SIGTERM in the middle of the same load: clmd must drain and exit 0 in
 * time. Requests answered OK are stored, UNAVAILABLE ones ("the server is
 * stopping: retry later") are not, and those left without a reply (the
 * connection closed) are either stored or not, but never in part; after
 * a restart every batch is checked by re-tracking it.
 */
Test(overload, sigterm_under_load_drains_and_loses_nothing)
{
	cr_assert_eq(clmd_start(&srv, NULL, ov_args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	atomic_bool stop;
	atomic_init(&stop, false);
	static struct ov_worker w[OV_WRITERS / 2];
	const unsigned n = OV_WRITERS / 2;
	for (unsigned i = 0; i < n; i++) {
		ov_worker_init(&w[i], 's', i, OV_LOAD_BATCH, 0, &stop);
		w[i].retry = true;
		w[i].may_vanish = true;
		w[i].call_ms = OV_VANISH_MS;
		cr_assert_eq(pthread_create(&w[i].thread, NULL, ov_worker_main,
		                     &w[i]),
		        0);
	}
	harness_sleep_ms(300);
	int64_t t0 = ov_now_ms();
	int st = clmd_stop(&srv);
	int64_t stop_ms = ov_now_ms() - t0;
	atomic_store(&stop, true);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
	}
	unsigned ok = 0, unavailable = 0, unknown = 0;
	for (unsigned i = 0; i < n; i++) {
		ok += w[i].ok;
		unavailable += w[i].unavailable;
		unknown += w[i].unknown;
	}
	fprintf(stderr,
	        "overload: SIGTERM under load: clmd exited %d after %lld ms; %u OK, %u UNAVAILABLE, %u without a reply\n",
	        st, (long long) stop_ms, ok, unavailable, unknown);
	if (st != 0 || stop_ms > 1000) {
		char *log = harness_read_file(srv.log_path);
		fprintf(stderr, "overload: clmd's log:\n%s\n", log ? log : "");
		free(log);
	}
	cr_assert_eq(st, 0, "clmd did not stop cleanly under load (log %s)",
	        srv.log_path);
	ov_assert_clean(w, n);

	cr_assert_eq(clmd_start(&srv, srv.data_dir, ov_args), 0,
	        "clmd did not restart (log %s)", srv.log_path);
	clm_conn *c = ov_connect();
	uint64_t before = flow_touchpoints(c);
	struct tp_batch b;
	cr_assert(tp_batch_init(&b, OV_LOAD_BATCH));
	uint64_t stored = 0, sent = 0;
	for (unsigned i = 0; i < n; i++) {
		stored += ov_retrack(c, &w[i], &b);
		sent += (uint64_t) w[i].n_log * OV_LOAD_BATCH;
		free(w[i].log);
	}
	tp_batch_fini(&b);
	cr_assert_eq(before, stored,
	        "%llu touchpoints after the restart, but the batches account for %llu",
	        (unsigned long long) before, (unsigned long long) stored);
	cr_assert_eq(flow_touchpoints(c), sent);
	fprintf(stderr,
	        "overload: after the restart: %llu events stored, %llu of them from requests left without a reply\n",
	        (unsigned long long) stored,
	        (unsigned long long) (stored - (uint64_t) ok * OV_LOAD_BATCH));
	clm_close(c);
	cr_assert_eq(clmd_stop(&srv), 0);
}
