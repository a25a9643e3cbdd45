/*
 * clm-bench: throughput and latency of clmd calls, each next to a raw NNG
 * REQ/REP echo of the same transport and concurrency — the limit of the
 * machine — so every figure can be read as a ratio to it.
 *
 *   clm-bench [--url URL | --start] [--workloads W,...] [--clients N,...]
 *             [--seconds S] [--customers N] [--history N]
 *             [--durability full|os] [--transport tcp|ipc] [--clmd PATH]
 *             [--echo-inproc]
 *
 * Workloads: echo, get-customer, recommend, metrics (the last 30 days),
 * track-single, track-batch (100 touchpoints a call), mixed (90 %
 * GetCustomer, 10 % Track). With --start the bench runs its own clmd on a
 * temporary data dir, preloads --customers customers (about 2.1
 * touchpoints each over the last 120 days, plus --history visits and page
 * views each), and reports clmd's CPU time per request, the bytes it wrote
 * per item and the write calls per commit. The echo server runs as a
 * process of its own (the bench re-executed with --echo-server URL), as
 * clmd does; --echo-inproc runs it inside the bench instead.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clm/client.h"

#define BENCH_MAX_CLIENTS 256
#define BENCH_BUCKETS     512 /* 2^(k/16) ns: about 4 % wide */

static double
bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

struct bench_hist {
	uint64_t b[BENCH_BUCKETS];
	uint64_t n;
};

static void
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

static void
bench_hist_merge(struct bench_hist *into, const struct bench_hist *h)
{
	for (int k = 0; k < BENCH_BUCKETS; k++) {
		into->b[k] += h->b[k];
	}
	into->n += h->n;
}

/* The q-quantile in microseconds (the bucket's geometric middle). */
static double
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

struct bench_cfg {
	const char *url;
	const char *workload;
	int clients;
	double seconds;
	int customers;
	size_t echo_bytes;
};

struct bench_thread {
	const struct bench_cfg *cfg;
	int id;
	struct bench_hist hist;
	uint64_t ops, items, errors;
	_Atomic bool *stop;
	pthread_t t;
};

/* The echo server: N contexts, each an aio state machine. */
struct bench_echo_work {
	nng_aio *aio;
	nng_ctx ctx;
	bool sending;
};

static void
bench_echo_cb(void *arg)
{
	struct bench_echo_work *w = arg;
	if (nng_aio_result(w->aio) != 0) {
		if (w->sending) {
			nng_msg_free(nng_aio_get_msg(w->aio));
		}
		return; /* closed */
	}
	if (!w->sending) {
		w->sending = true;
		nng_ctx_send(w->ctx, w->aio); /* the message goes back */
	} else {
		w->sending = false;
		nng_ctx_recv(w->ctx, w->aio);
	}
}

/* The echo server: a REP socket on url with one context per client. */
struct bench_echo {
	nng_socket sock;
	struct bench_echo_work *works;
};

static int
bench_echo_start(struct bench_echo *e, const char *url)
{
	e->works = calloc(BENCH_MAX_CLIENTS, sizeof(*e->works));
	if (e->works == NULL || nng_rep0_open(&e->sock) != 0
	        || nng_listen(e->sock, url, NULL, 0) != 0) {
		return -1;
	}
	for (int i = 0; i < BENCH_MAX_CLIENTS; i++) {
		struct bench_echo_work *w = &e->works[i];
		if (nng_aio_alloc(&w->aio, bench_echo_cb, w) != 0
		        || nng_ctx_open(&w->ctx, e->sock) != 0) {
			return -1;
		}
		nng_ctx_recv(w->ctx, w->aio);
	}
	return 0;
}

static void
bench_echo_stop(struct bench_echo *e)
{
	for (int i = 0; i < BENCH_MAX_CLIENTS; i++) {
		nng_aio_stop(e->works[i].aio);
	}
	nng_close(e->sock);
	for (int i = 0; i < BENCH_MAX_CLIENTS; i++) {
		nng_aio_free(e->works[i].aio);
	}
	free(e->works);
}

/*
 * `clm-bench --echo-server URL`: the echo as a process of its own, like
 * clmd, so both pay the same process boundary. Says "ready" on stdout once
 * listening and serves until its stdin closes (the bench exits or dies).
 */
static int
bench_echo_main(const char *url)
{
	struct bench_echo e;
	if (bench_echo_start(&e, url) != 0) {
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(STDIN_FILENO, &c, 1) > 0) {
	}
	bench_echo_stop(&e);
	return 0;
}

/*
 * Starts `self --echo-server url` and waits for it to listen. Returns its
 * pid, or -1; *feed is the pipe whose closing stops it.
 */
static pid_t
bench_echo_spawn(const char *self, const char *url, int *feed)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0) {
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		return -1;
	}
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close(in[1]);
		close(out[0]);
		execl(self, "clm-bench", "--echo-server", url, (char *) NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	char buf[8] = { 0 };
	ssize_t n = read(out[0], buf, sizeof(buf) - 1);
	close(out[0]);
	if (n < 5 || strncmp(buf, "ready", 5) != 0) {
		close(in[1]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	*feed = in[1];
	return pid;
}

/* Wall-clock seconds (event times). */
static double
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

static void *
bench_client(void *arg)
{
	struct bench_thread *th = arg;
	const struct bench_cfg *cfg = th->cfg;
	const char *w = cfg->workload;
	uint32_t seed = 2463534242u + (uint32_t) th->id * 7919u;
	bool echo = strcmp(w, "echo") == 0;
	nng_socket raw;
	clm_conn *c = NULL;
	if (echo) {
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
	while (!atomic_load(th->stop)) {
		double t0 = bench_now();
		Clm__V1__Response *resp = NULL;
		clm_err e = CLM_OK;
		size_t items_done = 1;
		uint32_t pick = bench_rand(&seed);
		char id[32];
		snprintf(id, sizeof(id), "bench-%u",
		        pick % (uint32_t) cfg->customers);
		if (echo) {
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
	if (echo) {
		nng_close(raw);
	}
	clm_close(c);
	return NULL;
}

/* clmd's CPU seconds (utime + stime) from /proc. */
static double
bench_cpu(pid_t pid)
{
	if (pid <= 0) {
		return 0;
	}
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (p == NULL
	        || sscanf(p + 2,
	                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	                   &ut, &st)
	                != 2) {
		return 0;
	}
	return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

/*
 * A number from a /proc/PID file's "key: value" line (io's wchar, status's
 * RssAnon in kB), or 0.
 */
static double
bench_proc(pid_t pid, const char *file, const char *key)
{
	if (pid <= 0) {
		return 0;
	}
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	double v = 0;
	size_t n = strlen(key);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = strtod(line + n + 1, NULL);
			break;
		}
	}
	fclose(f);
	return v;
}

struct bench_result {
	double ops_s, items_s, p50, p99, p999, cpu_us;
	double write_b;        /* bytes clmd wrote to disk per item */
	double calls_a_commit; /* write calls per write transaction */
	uint64_t errors;
};

/* clmd's write transactions and the write calls they held, so far. */
static void
bench_commits(const char *url, uint64_t *transactions, uint64_t *requests)
{
	*transactions = *requests = 0;
	clm_conn *c;
	if (clm_open(url, 10000, &c) != CLM_OK) {
		return;
	}
	Clm__V1__Response *resp = NULL;
	if (clm_server_status(c, &resp) == CLM_OK
	        && resp->server_status != NULL) {
		*transactions = resp->server_status->write_transactions;
		*requests = resp->server_status->write_requests;
	}
	clm_response_free(resp);
	clm_close(c);
}

static struct bench_result
bench_run(const struct bench_cfg *cfg, pid_t clmd)
{
	static struct bench_thread th[BENCH_MAX_CLIENTS];
	_Atomic bool stop = false;
	double cpu0 = bench_cpu(clmd);
	/*
	 * Bytes written: io's wchar, what clmd handed to write(2) and
	 * friends (nng sends with sendmsg, which wchar leaves out, so this is
	 * LMDB's page writes). Not write_bytes: on the 6.18 kernel of our VMs
	 * it reports 5 to 11 times what reaches the device
	 * (/sys/block/DEV/stat), apparently whole large page-cache folios.
	 */
	double w0 = bench_proc(clmd, "io", "wchar");
	bool echo = strcmp(cfg->workload, "echo") == 0;
	uint64_t tx0 = 0, rq0 = 0;
	if (!echo) {
		bench_commits(cfg->url, &tx0, &rq0);
	}
	double t0 = bench_now();
	for (int i = 0; i < cfg->clients; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].cfg = cfg;
		th[i].id = i;
		th[i].stop = &stop;
		pthread_create(&th[i].t, NULL, bench_client, &th[i]);
	}
	struct timespec ts = { (time_t) cfg->seconds,
		(long) ((cfg->seconds - floor(cfg->seconds)) * 1e9) };
	nanosleep(&ts, NULL);
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
	r.ops_s = (double) ops / dt;
	r.items_s = (double) items / dt;
	r.p50 = bench_hist_q(&all, 0.50);
	r.p99 = bench_hist_q(&all, 0.99);
	r.p999 = bench_hist_q(&all, 0.999);
	r.cpu_us = ops > 0 && clmd > 0 ? cpu * 1e6 / (double) ops : 0;
	double w = bench_proc(clmd, "io", "wchar") - w0;
	r.write_b = items > 0 && clmd > 0 ? w / (double) items : 0;
	if (!echo) {
		uint64_t tx1, rq1;
		bench_commits(cfg->url, &tx1, &rq1);
		r.calls_a_commit = tx1 > tx0
		        ? (double) (rq1 - rq0) / (double) (tx1 - tx0)
		        : 0;
	}
	return r;
}

static int
bench_free_port(void)
{
	/* Ports from the pid, away from the defaults; good enough here. */
	return 20000 + (int) (getpid() % 20000);
}

static pid_t
bench_start_clmd(const char *clmd, const char *dir, const char *url,
        const char *durability)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(clmd, "clmd", "--data", dir, "--listen", url, "--events",
		        "none", "--durability", durability, "--log-level",
		        "warn", (char *) NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		clm_conn *c;
		if (clm_open(url, 1000, &c) == CLM_OK) {
			clm_close(c);
			return pid;
		}
		struct timespec ts = { 0, 50000000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	return -1;
}

/*
 * Preloads customers with a short history spread over the last 120 days
 * (so a 30-day Metrics window holds a quarter of it): a visit and a page
 * view for everyone, a purchase for a third, a second purchase for a
 * ninth, a referral for a 27th.
 */
static void
bench_preload(const char *url, int customers, int history)
{
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		return;
	}
	enum { BATCH = 1000, BASE = 5 };
	const size_t per = BASE + (size_t) history, room = BATCH + per;
	Clm__V1__Touchpoint *tps = calloc(room, sizeof(*tps));
	Clm__V1__Touchpoint **ptr = calloc(room, sizeof(*ptr));
	char(*cids)[32] = calloc(room, sizeof(*cids));
	int *types = calloc(per, sizeof(*types));
	int64_t *at = calloc(per, sizeof(*at));
	if (tps == NULL || ptr == NULL || cids == NULL || types == NULL
	        || at == NULL) {
		fprintf(stderr, "clm-bench: out of memory\n");
		exit(1);
	}
	const int64_t day = 86400000, now = (int64_t) (bench_wall() * 1000);
	size_t n = 0;
	for (int i = 0; i < customers; i++) {
		uint32_t h = (uint32_t) i * 2654435761u;
		int64_t t0 = now - (int64_t) (h % 120) * day - 3600000;
		int k = 0;
		types[k] = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT, at[k++] = t0;
		types[k] = CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW,
		at[k++] = t0 + 60000;
		if (i % 3 == 0) {
			types[k] = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
			at[k++] = t0 + 1800000;
		}
		if (i % 9 == 0) {
			types[k] = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
			at[k++] = t0 + 1800000 + (int64_t) (h % 7) * 60000;
		}
		if (i % 27 == 0) {
			types[k] = CLM__V1__TOUCHPOINT_TYPE__REFERRAL;
			at[k++] = t0 + 2400000;
		}
		/* --history: more visits and page views on other days. */
		for (int j = 0; j < history; j++) {
			uint32_t g = h ^ ((uint32_t) (j + 1) * 0x9e3779b9u);
			types[k] = j % 2
			        ? CLM__V1__TOUCHPOINT_TYPE__PAGE_VIEW
			        : CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
			at[k++] = now - (int64_t) (g % 120) * day - 7200000
			        - (int64_t) (g % 3600) * 1000;
		}
		for (int j = 0; j < k; j++, n++) {
			Clm__V1__Touchpoint *tp = &tps[n];
			clm__v1__touchpoint__init(tp);
			snprintf(cids[n], 32, "bench-%d", i);
			tp->customer_id = cids[n];
			tp->type = (Clm__V1__TouchpointType) types[j];
			tp->occurred_at_ms = at[j];
			tp->channel = (Clm__V1__Channel) (1
			        + (h + (uint32_t) j / 2) % 12);
			tp->duration_s = 30 + h % 600;
			if (types[j] == CLM__V1__TOUCHPOINT_TYPE__PURCHASE) {
				tp->item_id = "sku-1";
				tp->value = 10 + h % 90;
			}
			ptr[n] = tp;
		}
		if (n >= BATCH || i + 1 == customers) {
			Clm__V1__Response *resp = NULL;
			clm_track(c, ptr, n, &resp);
			clm_response_free(resp);
			n = 0;
		}
	}
	clm_close(c);
	free(tps);
	free(ptr);
	free(cids);
	free(types);
	free(at);
}

static void
bench_usage(void)
{
	fprintf(stderr,
	        "usage: clm-bench [--url URL | --start] [--workloads W,...] [--clients N,...]\n"
	        "                 [--seconds S] [--customers N] [--history N] [--durability full|os] [--transport tcp|ipc] [--clmd PATH]\n"
	        "                 [--echo-inproc]\n"
	        "workloads: echo get-customer recommend metrics track-single track-batch mixed\n");
}

int
main(int argc, char **argv)
{
	const char *url = NULL,
	           *workloads
	        = "echo,get-customer,recommend,metrics,track-single,track-batch,mixed";
	const char *clients_s = "1,8,64", *durability = "full";
	const char *transport = "tcp", *clmd_path = NULL;
	bool start = false, echo_inproc = false;
	int history = 0;
	struct bench_cfg cfg
	        = { .seconds = 3, .customers = 10000, .echo_bytes = 256 };
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "start", no_argument, NULL, 's' },
		{ "workloads", required_argument, NULL, 'w' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "customers", required_argument, NULL, 'n' },
		{ "history", required_argument, NULL, 'y' },
		{ "echo-inproc", no_argument, NULL, 'e' },
		{ "echo-server", required_argument, NULL, 'E' },
		{ "durability", required_argument, NULL, 'd' },
		{ "transport", required_argument, NULL, 'x' },
		{ "clmd", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'u':
			url = optarg;
			break;
		case 's':
			start = true;
			break;
		case 'w':
			workloads = optarg;
			break;
		case 'c':
			clients_s = optarg;
			break;
		case 't':
			cfg.seconds = atof(optarg);
			break;
		case 'n':
			cfg.customers = atoi(optarg);
			break;
		case 'y':
			history = atoi(optarg);
			break;
		case 'e':
			echo_inproc = true;
			break;
		case 'E':
			return bench_echo_main(optarg);
		case 'd':
			durability = optarg;
			break;
		case 'x':
			transport = optarg;
			break;
		case 'm':
			clmd_path = optarg;
			break;
		default:
			bench_usage();
			return o == 'h' ? 0 : 2;
		}
	}
	if (cfg.seconds <= 0 || cfg.customers <= 0 || history < 0
	        || history > 1000 || (url == NULL && !start)) {
		bench_usage();
		return 2;
	}
	char dir[] = "/tmp/clm-bench-XXXXXX";
	char curl[128], eurl[128];
	pid_t clmd = -1;
	bool ipc = strcmp(transport, "ipc") == 0;
	int port = bench_free_port();
	if (start) {
		char self[4096], path[4200];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[n > 0 ? n : 0] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
		}
		snprintf(path, sizeof(path), "%s/clmd", self);
		if (mkdtemp(dir) == NULL) {
			perror("clm-bench: mkdtemp");
			return 1;
		}
		if (ipc) {
			snprintf(
			        curl, sizeof(curl), "ipc://%s/clmd.sock", dir);
		} else {
			snprintf(curl, sizeof(curl), "tcp://127.0.0.1:%d",
			        port);
		}
		clmd = bench_start_clmd(
		        clmd_path ? clmd_path : path, dir, curl, durability);
		if (clmd < 0) {
			fprintf(stderr, "clm-bench: cannot start clmd\n");
			return 1;
		}
		url = curl;
		double t0 = bench_now();
		bench_preload(url, cfg.customers, history);
		printf("preloaded %d customers (+%d visits each) in %.1f s\n",
		        cfg.customers, history, bench_now() - t0);
	}
	/*
	 * The echo server, same transport: a process of its own (clmd is
	 * one), or with --echo-inproc inside the bench, where it shares
	 * nng's threads with the clients and pays no process boundary.
	 */
	if (ipc) {
		snprintf(eurl, sizeof(eurl), "ipc:///tmp/clm-bench-echo-%d",
		        (int) getpid());
	} else {
		snprintf(eurl, sizeof(eurl), "tcp://127.0.0.1:%d", port + 1);
	}
	struct bench_echo echo;
	pid_t echo_pid = -1;
	int echo_feed = -1;
	bool echo_ok;
	if (echo_inproc) {
		echo_ok = bench_echo_start(&echo, eurl) == 0;
	} else {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[n > 0 ? n : 0] = '\0';
		echo_pid = bench_echo_spawn(self, eurl, &echo_feed);
		echo_ok = echo_pid > 0;
	}
	if (!echo_ok) {
		fprintf(stderr, "clm-bench: cannot start the echo server\n");
		if (clmd > 0) {
			kill(clmd, SIGTERM);
			waitpid(clmd, NULL, 0);
		}
		return 1;
	}

	printf("%-13s %7s %12s %12s %9s %9s %9s %8s %8s %9s %9s %8s\n",
	        "workload", "clients", "calls/s", "items/s", "p50 us",
	        "p99 us", "p999 us", "x echo", "tput/e", "cpu us", "wr B/item",
	        "calls/tx");
	char *ws = strdup(workloads);
	double echo_p50[BENCH_MAX_CLIENTS + 1] = { 0 };
	double echo_ops[BENCH_MAX_CLIENTS + 1] = { 0 };
	for (char *wsave = NULL, *w = strtok_r(ws, ",", &wsave); w != NULL;
	        w = strtok_r(NULL, ",", &wsave)) {
		char *cs = strdup(clients_s);
		for (char *csave = NULL, *c = strtok_r(cs, ",", &csave);
		        c != NULL; c = strtok_r(NULL, ",", &csave)) {
			cfg.clients = atoi(c);
			if (cfg.clients < 1
			        || cfg.clients > BENCH_MAX_CLIENTS) {
				continue;
			}
			cfg.workload = w;
			bool is_echo = strcmp(w, "echo") == 0;
			cfg.url = is_echo ? eurl : url;
			struct bench_result r
			        = bench_run(&cfg, is_echo ? echo_pid : clmd);
			if (is_echo) {
				echo_p50[cfg.clients] = r.p50;
				echo_ops[cfg.clients] = r.ops_s;
			}
			double e50 = echo_p50[cfg.clients];
			double eops = echo_ops[cfg.clients];
			printf("%-13s %7d %12.0f %12.0f %9.1f %9.1f %9.1f %8.2f %8.2f %9.1f %9.0f %8.1f%s\n",
			        w, cfg.clients, r.ops_s, r.items_s, r.p50,
			        r.p99, r.p999, e50 > 0 ? r.p50 / e50 : 0,
			        eops > 0 ? r.ops_s / eops : 0, r.cpu_us,
			        r.write_b, r.calls_a_commit,
			        r.errors ? "  (errors)" : "");
			fflush(stdout);
		}
		free(cs);
	}
	free(ws);
	if (echo_inproc) {
		bench_echo_stop(&echo);
	} else {
		close(echo_feed);
		waitpid(echo_pid, NULL, 0);
	}
	if (clmd > 0) {
		/* Memory and disk per stored touchpoint, at the end. */
		clm_conn *c;
		Clm__V1__Response *resp = NULL;
		if (clm_open(url, 10000, &c) == CLM_OK) {
			if (clm_server_status(c, &resp) == CLM_OK
			        && resp->server_status != NULL
			        && resp->server_status->touchpoints > 0) {
				const Clm__V1__StatusReply *st
				        = resp->server_status;
				printf("clmd RssAnon %.1f MiB; %llu customers, %llu touchpoints, %llu bytes in use (%.0f per touchpoint)\n",
				        bench_proc(clmd, "status", "RssAnon")
				                / 1024,
				        (unsigned long long) st->customers,
				        (unsigned long long) st->touchpoints,
				        (unsigned long long) st->db_bytes,
				        (double) st->db_bytes
				                / (double) st->touchpoints);
			}
			clm_response_free(resp);
			clm_close(c);
		}
		kill(clmd, SIGTERM);
		waitpid(clmd, NULL, 0);
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "clm-bench: could not remove %s\n",
			        dir);
		}
	}
	return 0;
}
