/*
 * clm-bench's load: client threads that call clmd (or the echo) in a loop
 * for a fixed time, their latency histograms, and one measured run.
 */
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "clm/client.h"

double
bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
bench_hist_add(struct bench_hist *h, double seconds)
{
	double ns = seconds * 1e9;
	int k = ns <= 1 ? 0 : (int) (16.0 * log2(ns));
	if (k >= BENCH_BUCKETS) {
		k = BENCH_BUCKETS - 1;
	}
	h->b[k]++;
	h->n++;
}

void
bench_hist_merge(struct bench_hist *into, const struct bench_hist *h)
{
	for (int k = 0; k < BENCH_BUCKETS; k++) {
		into->b[k] += h->b[k];
	}
	into->n += h->n;
}

/* The q-quantile in microseconds (the bucket's geometric middle). */
double
bench_hist_q(const struct bench_hist *h, double q)
{
	uint64_t want = (uint64_t) ceil(q * (double) h->n), seen = 0;
	for (int k = 0; k < BENCH_BUCKETS; k++) {
		seen += h->b[k];
		if (seen >= want && h->b[k] > 0) {
			return pow(2.0, ((double) k + 0.5) / 16.0) / 1000.0;
		}
	}
	return 0;
}

void
bench_sleep(double seconds)
{
	struct timespec ts = { (time_t) seconds,
		(long) ((seconds - floor(seconds)) * 1e9) };
	nanosleep(&ts, NULL);
}

struct bench_thread {
	const struct bench_cfg *cfg;
	int id;
	struct bench_hist hist;
	uint64_t ops, items, errors;
	_Atomic bool *stop;
	pthread_t t;
};

/* Wall-clock seconds (event times). */
double
bench_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint32_t
bench_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
bench_touch(Clm__V1__Touchpoint *tp, char *cid, char *item, uint32_t *seed,
        int customers)
{
	clm__v1__touchpoint__init(tp);
	snprintf(cid, 32, "bench-%u", bench_rand(seed) % (uint32_t) customers);
	tp->customer_id = cid;
	uint32_t r = bench_rand(seed) % 100;
	tp->type = r < 60 ? CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
	        : r < 85  ? CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT
	        : r < 95  ? CLM__V1__TOUCHPOINT_TYPE__ADD_TO_CART
	                  : CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
	tp->channel = (Clm__V1__Channel) (1 + bench_rand(seed) % 12);
	snprintf(item, 32, "sku-%u", bench_rand(seed) % 200);
	tp->item_id = item;
	tp->value = tp->type == CLM__V1__TOUCHPOINT_TYPE__PURCHASE ? 25 : 0;
}

/*
 * The headers of @segment/analytics-node's requests that matter to clmd
 * (tests/data/sdk/segment-1.req.json): the write key "bench" as Basic
 * user, which clmd ignores unless it has tokens.
 */
#define BENCH_HTTP_HEADERS                   \
	"Content-Type: application/json\r\n" \
	"User-Agent: clm-bench\r\n"          \
	"Authorization: Basic YmVuY2g6\r\n"
#define BENCH_HTTP_BODY_CAP (256u * 1024u)

/*
 * Whether an http-batch answer took every item: 200 with Segment's
 * {"success":true}, and no per-item error listed (a 200 may carry them).
 */
static bool
bench_http_took_all(const struct bench_http_answer *ans)
{
	if (ans->status != 200 || ans->body == NULL) {
		return false;
	}
	char body[4096];
	size_t n = ans->len < sizeof(body) - 1 ? ans->len : sizeof(body) - 1;
	memcpy(body, ans->body, n);
	body[n] = '\0';
	const char *errors = strstr(body, "\"errors\":[");
	return strstr(body, "\"success\":true") != NULL
	        && (errors == NULL || errors[10] == ']');
}

/*
 * One http-batch request: a body of 100 items posted on connection hc.
 * Returns the items taken (100), or 0 on any failure.
 */
static size_t
bench_http_one(struct bench_http *hc, char *body, const char *prefix,
        uint64_t seq, int customers, uint32_t *seed)
{
	size_t len = bench_http_batch(
	        body, BENCH_HTTP_BODY_CAP, prefix, seq, 100, customers, seed);
	struct bench_http_answer ans;
	if (len == 0
	        || bench_http_post(hc, "/v1/batch", BENCH_HTTP_HEADERS, body,
	                   len, &ans)
	                != 0
	        || !bench_http_took_all(&ans)) {
		return 0;
	}
	return 100;
}

static void *
bench_client(void *arg)
{
	struct bench_thread *th = arg;
	const struct bench_cfg *cfg = th->cfg;
	const char *w = cfg->workload;
	uint32_t seed = 2463534242u + (uint32_t) th->id * 7919u;
	bool echo = strcmp(w, "echo") == 0;
	bool http = strcmp(w, "http-batch") == 0;
	nng_socket raw;
	clm_conn *c = NULL;
	struct bench_http hc;
	char *body = NULL, prefix[64];
	uint64_t seq = 0;
	if (http) {
		/* messageIds unique to this bench, run and client, so that
		 * no run's items are duplicates of an earlier one's. */
		snprintf(prefix, sizeof(prefix), "hb%d-%.0f-%d",
		        (int) getpid(), bench_wall() * 1000, th->id);
		bench_http_init(&hc, cfg->http_port);
		body = malloc(BENCH_HTTP_BODY_CAP);
		if (body == NULL || cfg->http_port == 0) {
			free(body);
			th->errors++;
			return NULL;
		}
	} else if (echo) {
		if (nng_req0_open(&raw) != 0
		        || nng_dial(raw, cfg->url, NULL, 0) != 0) {
			th->errors++;
			return NULL;
		}
	} else if (clm_open(cfg->url, 10000, &c) != CLM_OK) {
		th->errors++;
		return NULL;
	}
	Clm__V1__Touchpoint tps[100], *ptr[100];
	char cids[100][32], items[100][32];
	/* --rate: this client's calls, one every `every` seconds. */
	double every = 0, next = bench_now();
	if (cfg->rate > 0) {
		double per_call = strcmp(w, "track-batch") == 0
		                || strcmp(w, "http-batch") == 0
		        ? 100
		        : 1;
		every = per_call * cfg->clients / cfg->rate;
		next += every * th->id / cfg->clients; /* spread the clients */
	}
	while (!atomic_load(th->stop)) {
		if (every > 0) {
			/* On schedule; one that fell behind catches up. */
			double wait = next - bench_now();
			if (wait > 0) {
				/* At most 0.1 s: the stop flag is seen. */
				bench_sleep(wait < 0.1 ? wait : 0.1);
				continue;
			}
			next += every;
		}
		double t0 = bench_now();
		Clm__V1__Response *resp = NULL;
		clm_err e = CLM_OK;
		size_t items_done = 1;
		uint32_t pick = bench_rand(&seed);
		char id[32];
		snprintf(id, sizeof(id), "bench-%u",
		        pick % (uint32_t) cfg->customers);
		if (http) {
			items_done = bench_http_one(&hc, body, prefix, seq++,
			        cfg->customers, &seed);
			if (items_done == 0) {
				/* Not a busy loop on a server that is gone. */
				th->errors++;
				bench_sleep(0.01);
				continue;
			}
		} else if (echo) {
			nng_msg *m;
			if (nng_msg_alloc(&m, cfg->echo_bytes) != 0
			        || nng_sendmsg(raw, m, 0) != 0
			        || nng_recvmsg(raw, &m, 0) != 0) {
				th->errors++;
				continue;
			}
			nng_msg_free(m);
		} else if (strcmp(w, "get-customer") == 0
		        || (strcmp(w, "mixed") == 0 && pick % 10 != 0)) {
			e = clm_get_customer(c, id, 0, &resp);
		} else if (strcmp(w, "metrics") == 0) {
			/* The default window: the last 30 days. */
			Clm__V1__MetricsRequest q
			        = CLM__V1__METRICS_REQUEST__INIT;
			Clm__V1__Request req = CLM__V1__REQUEST__INIT;
			req.call_case = CLM__V1__REQUEST__CALL_METRICS;
			req.metrics = &q;
			e = clm_call(c, &req, &resp);
		} else if (strcmp(w, "segment-count") == 0) {
			/* The count of one of the bench's segments, at now. */
			Clm__V1__GetSegmentRequest q
			        = CLM__V1__GET_SEGMENT_REQUEST__INIT;
			char name[32];
			bench_segment_name(
			        (int) (pick % BENCH_SEGMENTS), name);
			q.name = name;
			e = clm_get_segment(c, &q, &resp);
		} else if (strcmp(w, "recommend") == 0) {
			Clm__V1__RecommendRequest q
			        = CLM__V1__RECOMMEND_REQUEST__INIT;
			q.customer_id = id;
			e = clm_recommend(c, &q, &resp);
		} else {
			size_t n = strcmp(w, "track-batch") == 0 ? 100 : 1;
			for (size_t i = 0; i < n; i++) {
				bench_touch(&tps[i], cids[i], items[i], &seed,
				        cfg->customers);
				ptr[i] = &tps[i];
			}
			e = clm_track(c, ptr, n, &resp);
			items_done = n;
		}
		clm_response_free(resp);
		if (e != CLM_OK) {
			th->errors++;
			continue;
		}
		bench_hist_add(&th->hist, bench_now() - t0);
		th->ops++;
		th->items += items_done;
	}
	if (http) {
		bench_http_fini(&hc);
		free(body);
	}
	if (echo) {
		nng_close(raw);
	}
	clm_close(c);
	return NULL;
}

struct bench_result
bench_run(const struct bench_cfg *cfg, pid_t clmd)
{
	static struct bench_thread th[BENCH_MAX_CLIENTS];
	_Atomic bool stop = false;
	double cpu0 = bench_cpu(clmd);
	double wr0 = bench_thread_cpu(clmd, "clm:writer");
	double ck0 = bench_thread_cpu(clmd, "clm:ckpt");
	/*
	 * Bytes written: io's wchar, what clmd handed to write(2) and
	 * friends: the journal's appends and the checkpoints' page writes
	 * to data.mdb (nng sends with sendmsg, which wchar leaves out, and
	 * the overlay is written through its memory map, which it never
	 * sees; the device count of main.c has those). Not write_bytes: on
	 * the 6.18 kernel of our VMs it reports 5 to 11 times what reaches the
	 * device
	 * (/sys/block/DEV/stat), apparently whole large page-cache folios.
	 */
	double w0 = bench_proc(clmd, "io", "wchar");
	bool echo = strcmp(cfg->workload, "echo") == 0;
	uint64_t tx0 = 0, rq0 = 0;
	if (!echo) {
		bench_commits(cfg->url, &tx0, &rq0);
	}
	/*
	 * clmd's /metrics before, every 200 ms during and after the run:
	 * the mean of the checkpoints that finish in it comes from the
	 * counters, their longest from the last one's duration at each
	 * sample (a sample that saw two finish sees only the later one;
	 * they are seconds apart unless --checkpoint-bytes is small).
	 */
	struct bench_metrics m0 = { 0 }, m = { 0 };
	double max_s = 0, seen = 0;
	if (cfg->http_port != 0) {
		bench_metrics_read(cfg->http_port, &m0);
		seen = m0.ckpts;
	}
	double t0 = bench_now();
	for (int i = 0; i < cfg->clients; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].cfg = cfg;
		th[i].id = i;
		th[i].stop = &stop;
		pthread_create(&th[i].t, NULL, bench_client, &th[i]);
	}
	double end = t0 + cfg->seconds;
	for (double now = bench_now(); now < end; now = bench_now()) {
		bench_sleep(end - now < 0.2 ? end - now : 0.2);
		if (cfg->http_port != 0 && m0.ok) {
			bench_metrics_read(cfg->http_port, &m);
			if (m.ok && m.ckpts > seen) {
				seen = m.ckpts;
				max_s = m.ckpt_last_s > max_s ? m.ckpt_last_s
				                              : max_s;
			}
		}
	}
	atomic_store(&stop, true);
	struct bench_hist all = { { 0 }, 0 };
	uint64_t ops = 0, items = 0;
	struct bench_result r = { 0 };
	for (int i = 0; i < cfg->clients; i++) {
		pthread_join(th[i].t, NULL);
		bench_hist_merge(&all, &th[i].hist);
		ops += th[i].ops;
		items += th[i].items;
		r.errors += th[i].errors;
	}
	double dt = bench_now() - t0;
	double cpu = bench_cpu(clmd) - cpu0;
	r.writer_pct = (bench_thread_cpu(clmd, "clm:writer") - wr0) * 100 / dt;
	r.ckpt_pct = (bench_thread_cpu(clmd, "clm:ckpt") - ck0) * 100 / dt;
	r.ops_s = (double) ops / dt;
	r.items_s = (double) items / dt;
	r.p50 = bench_hist_q(&all, 0.50);
	r.p99 = bench_hist_q(&all, 0.99);
	r.p999 = bench_hist_q(&all, 0.999);
	r.cpu_us = ops > 0 && clmd > 0 ? cpu * 1e6 / (double) ops : 0;
	double w = bench_proc(clmd, "io", "wchar") - w0;
	r.write_b = items > 0 && clmd > 0 ? w / (double) items : 0;
	r.items = items;
	if (m0.ok) {
		bench_metrics_read(cfg->http_port, &m);
	}
	r.end = m;
	if (m0.ok && m.ok) {
		r.jcommits_s = (m.jcommits - m0.jcommits) / dt;
		double n = m.ckpts - m0.ckpts;
		if (m.ckpts > seen) {
			max_s = m.ckpt_last_s > max_s ? m.ckpt_last_s : max_s;
		}
		r.ckpts = (uint64_t) n;
		if (n > 0) {
			r.ckpt_mean_ms
			        = (m.ckpt_seconds - m0.ckpt_seconds) * 1e3 / n;
			r.ckpt_max_ms = max_s * 1e3;
			r.ckpt_keys = (m.ckpt_keys - m0.ckpt_keys) / n;
			r.ckpt_overlay_kb
			        = (m.ckpt_bytes - m0.ckpt_bytes) / 1024 / n;
		}
	}
	if (!echo) {
		uint64_t tx1, rq1;
		bench_commits(cfg->url, &tx1, &rq1);
		r.calls_a_commit = tx1 > tx0
		        ? (double) (rq1 - rq0) / (double) (tx1 - tx0)
		        : 0;
	}
	return r;
}
