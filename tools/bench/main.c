/*
 * clm-bench: throughput and latency of clmd calls, each next to a raw NNG
 * REQ/REP echo of the same transport and concurrency — the limit of the
 * machine — so every figure can be read as a ratio to it.
 *
 *   clm-bench [--url URL | --start] [--workloads W,...] [--clients N,...]
 *             [--seconds S] [--customers N] [--history N]
 *             [--durability full|os] [--transport tcp|ipc] [--clmd PATH]
 *             [--echo-inproc] [--checkpoint-interval S]
 *             [--checkpoint-bytes SIZE] [--checkpoint-chunk-keys N]
 *             [--recovery] [--http-port PORT] [--data-from DIR]
 *             [--rate ITEMS_PER_S]
 *
 * Workloads: echo, get-customer, recommend, metrics (the last 30 days),
 * track-single, track-batch (100 touchpoints a call), mixed (90 %
 * GetCustomer, 10 % Track), and, only when named, http-batch: Segment
 * /v1/batch bodies of 100 items (spread as track-batch's) posted over one
 * keep-alive HTTP/1.1 connection per client to clmd's --http port (the
 * one --start gives its clmd, or --http-port on 127.0.0.1 with --url);
 * its items/s are touchpoints, its latencies those of a whole request;
 * segment (only when named too): track-batch with no segment (the row
 * seg0-batch), then with 20 segments of varied shape defined
 * (seg20-batch, and the ratio of the two), GetSegment counts of them
 * (seg-count), and the time a backfill of one more takes over every
 * customer (customers/s); see segment.c. journey (only when named):
 * track-batch with no journey (jny0-batch), then with 10 journeys
 * defined (jny10-batch, and the ratio), and with --start the firing
 * rate: every customer entered into one more journey by a PURCHASE,
 * clmd's test clock (--test-clock-file, given to the clmd of --start
 * when the workload is named) moved an hour so all their steps are due
 * at once, the steps run per second; see journey.c.
 * With --start the bench runs its own clmd on a
 * temporary data dir (with --http on a free loopback port), preloads
 * --customers customers (about 2.1 touchpoints each over the last 120
 * days, plus --history visits and page views each), and reports clmd's
 * CPU time per request, the bytes it wrote per item (wchar, and the
 * device's count once a checkpoint covers the run), the write calls per
 * commit, the journal's commits per second and the checkpoints. The echo
 * server runs as a process of its own (the bench re-executed with
 * --echo-server URL), as clmd does; --echo-inproc runs it inside the
 * bench instead. --recovery then times a restart after kill -9 with a
 * journal full of track-batch writes (see bench_recovery). --data-from
 * DIR starts that clmd on a copy of DIR (a data dir whose clmd stopped
 * cleanly; not its overlays) instead of an empty one, without
 * the preload: a large store built once, measured many times, each run
 * on a fresh copy (it was made with the same --customers for the ids to
 * match). --rate N sends N items a second in all, each client on a
 * schedule, instead of as fast as clmd answers: the load of a sidecar
 * that is not saturated (calls/s and items/s then say whether it kept
 * up). Rows that wrote ask the clmd of --start for a checkpoint after
 * them (SIGUSR1) and wait for it, so the device bytes include it.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "clm/client.h"

/* The clmd of --start and what is measured around its runs. */
struct bench_srv {
	const char *bin, *dir, *url, *durability;
	const char *const *extra; /* --checkpoint-* given */
	int http_port;
	pid_t pid;
	struct bench_dev dev;
	double covered; /* journal position checkpointed and synced */
};

/* A checkpoint covering everything written, a sync: see bench_settle. */
static void
bench_srv_settle(struct bench_srv *s)
{
	/*
	 * With checkpoint_interval = auto an idle clmd checkpoints only
	 * minutes later: ask for it now (the same overlay, the same bytes,
	 * whenever it runs). A clmd older than the signal would die of it;
	 * its /metrics has no clm_checkpoint_replay_seconds.
	 */
	struct bench_metrics m;
	bench_metrics_read(s->http_port, &m);
	if (s->pid > 0 && m.ckpt_on_usr1) {
		kill(s->pid, SIGUSR1);
	}
	if (bench_settle(s->http_port, s->dir, &s->covered, 120) != 0) {
		fprintf(stderr,
		        "clm-bench: no checkpoint covered the run within 120 s; device figures are short\n");
	}
}

/*
 * --data-from: copies what is in from into dir but the overlays (rebuilt
 * at start), the pid file and LMDB's lock file, then syncs, so that the
 * copy's writeback is not counted as the runs'. 0 or -1.
 */
static int
bench_copy_data(const char *from, const char *dir)
{
	char cmd[8400];
	snprintf(cmd, sizeof(cmd),
	        "find '%s' -mindepth 1 -maxdepth 1 ! -name overlay ! -name clmd.pid ! -name lock.mdb -exec cp -a {} '%s/' ';' && sync",
	        from, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "clm-bench: cannot copy the data dir '%s'\n",
		        from);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "clm-bench: cannot remove '%s'\n",
			        dir);
		}
		return -1;
	}
	return 0;
}

/* (Re)starts s's clmd with extra arguments more (NULL-terminated). */
static int
bench_srv_start(struct bench_srv *s, const char *const *more)
{
	const char *args[16];
	size_t n = 0;
	for (size_t i = 0; s->extra[i] != NULL && n < 8; i++) {
		args[n++] = s->extra[i];
	}
	for (size_t i = 0; more != NULL && more[i] != NULL && n < 15; i++) {
		args[n++] = more[i];
	}
	args[n] = NULL;
	s->pid = bench_start_clmd(
	        s->bin, s->dir, s->url, s->durability, s->http_port, args);
	if (s->pid < 0) {
		return -1;
	}
	/* At start the journal holds nothing uncheckpointed (a replay
	 * checkpoints what it replayed). */
	struct bench_metrics m;
	bench_metrics_read(s->http_port, &m);
	s->covered = m.jposition > m.ckpt_position ? m.jposition
	                                           : m.ckpt_position;
	return 0;
}

/* Sends sig to s's clmd, if running, and reaps it. */
static void
bench_srv_stop(struct bench_srv *s, int sig)
{
	if (s->pid > 0) {
		kill(s->pid, sig);
		waitpid(s->pid, NULL, 0);
		s->pid = -1;
	}
}

/*
 * The device's writes per second over 2 s with clmd idle (after a
 * covering checkpoint): other processes on a shared disk. Printed, since
 * the device columns count them too.
 */
static void
bench_background(const struct bench_srv *s, const char *when)
{
	if (s->dev.name[0] == '\0') {
		return;
	}
	double t0 = bench_now(), d0 = bench_dev_written(&s->dev);
	bench_sleep(2);
	double rate = (bench_dev_written(&s->dev) - d0) / (bench_now() - t0);
	printf("device %s: %.0f KB/s written by others %s (2 s); the device columns count every process's writes, so they are honest only on a quiet disk\n",
	        s->dev.name, rate / 1000, when);
}

/*
 * --recovery: stops clmd (a clean stop checkpoints everything), starts
 * it with checkpoints out of reach, writes track-batch calls from clients
 * for seconds, kills it with SIGKILL and times the restart, which
 * replays the journal of those writes.
 */
static int
bench_recovery(struct bench_srv *s, struct bench_cfg cfg, bool bytes_given)
{
	static const char *const far[]
	        = { "--checkpoint-interval", "3600", NULL };
	static const char *const far_bytes[] = { "--checkpoint-interval",
		"3600", "--checkpoint-bytes", "512M", NULL };
	const char *const *more = bytes_given ? far : far_bytes;
	bench_srv_stop(s, SIGTERM);
	if (bench_srv_start(s, more) != 0) {
		fprintf(stderr, "clm-bench: cannot restart clmd\n");
		return -1;
	}
	struct bench_metrics m0, m1, m2;
	bench_metrics_read(s->http_port, &m0);
	cfg.workload = "track-batch";
	cfg.url = s->url;
	cfg.http_port = s->http_port;
	struct bench_result r = bench_run(&cfg, s->pid);
	bench_metrics_read(s->http_port, &m1);
	bench_srv_stop(s, SIGKILL);
	double t0 = bench_now();
	if (bench_srv_start(s, more) != 0) {
		fprintf(stderr, "clm-bench: clmd does not restart\n");
		return -1;
	}
	double answered = bench_now() - t0;
	bench_metrics_read(s->http_port, &m2);
	double entries = m1.jentries - m0.jentries;
	printf("recovery: track-batch at %d clients for %.1f s wrote %.0f journal entries (%llu touchpoints, %.1f MB of journal, %.0f checkpoints meanwhile); after SIGKILL clmd answered in %.2f s, replayed %.0f entries in %.3f s: %.0f entries/s, %.0f touchpoints/s%s\n",
	        cfg.clients, cfg.seconds, entries,
	        (unsigned long long) r.items, (m1.jbytes - m0.jbytes) / 1e6,
	        m1.ckpts - m0.ckpts, answered, m2.recovery_entries,
	        m2.recovery_seconds,
	        m2.recovery_seconds > 0
	                ? m2.recovery_entries / m2.recovery_seconds
	                : 0,
	        m2.recovery_seconds > 0 && entries > 0
	                ? (double) r.items * m2.recovery_entries / entries
	                        / m2.recovery_seconds
	                : 0,
	        r.errors ? "  (errors)" : "");
	return 0;
}

/* What the rows of the table share: the servers, and the echo's figures. */
struct bench_table {
	struct bench_srv *srv;
	const char *url, *eurl;
	pid_t echo_pid;
	double echo_p50[BENCH_MAX_CLIENTS + 1];
	double echo_ops[BENCH_MAX_CLIENTS + 1];
};

/*
 * Runs cfg's workload at cfg->clients and prints its row of the table,
 * named label; returns the result.
 */
static struct bench_result
bench_row(struct bench_table *t, struct bench_cfg *cfg, const char *label)
{
	bool is_echo = strcmp(cfg->workload, "echo") == 0;
	cfg->url = is_echo ? t->eurl : t->url;
	cfg->http_port = is_echo ? 0 : t->srv->http_port;
	double d0 = bench_dev_written(&t->srv->dev);
	struct bench_result r
	        = bench_run(cfg, is_echo ? t->echo_pid : t->srv->pid);
	/*
	 * The device count after the checkpoint that covers
	 * the run (the final one, reported apart) and a sync.
	 */
	struct bench_metrics m1 = r.end, m2 = { 0 };
	double dev_b = -1;
	if (!is_echo && t->srv->pid > 0) {
		bench_srv_settle(t->srv);
		bench_metrics_read(t->srv->http_port, &m2);
		double d1 = bench_dev_written(&t->srv->dev);
		if (d0 >= 0 && d1 >= 0 && r.items > 0) {
			dev_b = (d1 - d0) / (double) r.items;
		}
	}
	double fin = m2.ckpts - m1.ckpts;
	if (is_echo) {
		t->echo_p50[cfg->clients] = r.p50;
		t->echo_ops[cfg->clients] = r.ops_s;
	}
	double e50 = t->echo_p50[cfg->clients];
	double eops = t->echo_ops[cfg->clients];
	printf("%-13s %7d %12.0f %12.0f %9.1f %9.1f %9.1f %8.2f %8.2f %9.1f %9.0f %8.1f %10.0f %8.1f %5llu %7.1f %7.1f %8.0f %8.0f %7.1f %8.0f %8.0f %5.0f %5.0f%s\n",
	        label, cfg->clients, r.ops_s, r.items_s, r.p50, r.p99, r.p999,
	        e50 > 0 ? r.p50 / e50 : 0, eops > 0 ? r.ops_s / eops : 0,
	        r.cpu_us, r.write_b, r.calls_a_commit, dev_b, r.jcommits_s,
	        (unsigned long long) r.ckpts, r.ckpt_mean_ms, r.ckpt_max_ms,
	        r.ckpt_keys, r.ckpt_overlay_kb,
	        fin > 0 ? (m2.ckpt_seconds - m1.ckpt_seconds) * 1e3 / fin : 0,
	        fin > 0 ? (m2.ckpt_keys - m1.ckpt_keys) / fin : 0,
	        fin > 0 ? (m2.ckpt_bytes - m1.ckpt_bytes) / 1024 / fin : 0,
	        r.writer_pct, r.ckpt_pct, r.errors ? "  (errors)" : "");
	fflush(stdout);
	return r;
}

/*
 * The segment workload: track-batch with no segment (seg0-batch), then
 * with the BENCH_SEGMENTS of segment.c defined (seg20-batch), GetSegment
 * counts of them (seg-count), at each client count, then the backfill of
 * one more over every customer; the segments are deleted after.
 */
static void
bench_segment_rows(
        struct bench_table *t, struct bench_cfg *cfg, const char *clients_s)
{
	int cl[BENCH_MAX_CLIENTS];
	double none[BENCH_MAX_CLIENTS], with[BENCH_MAX_CLIENTS];
	size_t n = 0;
	char *cs = strdup(clients_s);
	for (char *save = NULL, *c = strtok_r(cs, ",", &save);
	        c != NULL && n < BENCH_MAX_CLIENTS;
	        c = strtok_r(NULL, ",", &save)) {
		int k = atoi(c);
		if (k >= 1 && k <= BENCH_MAX_CLIENTS) {
			cl[n++] = k;
		}
	}
	free(cs);
	bench_segments_clear(t->url);
	cfg->workload = "track-batch";
	for (size_t i = 0; i < n; i++) {
		cfg->clients = cl[i];
		none[i] = bench_row(t, cfg, "seg0-batch").items_s;
	}
	double def_s;
	if (bench_segments_define(t->url, &def_s) != 0) {
		bench_segments_clear(t->url);
		return;
	}
	printf("segments: %d defined, their backfills done in %.2f s\n",
	        BENCH_SEGMENTS, def_s);
	/*
	 * The backfills' writes checkpointed before seg20-batch, as every
	 * row's are after it (bench_row), so the ratio is the write-time
	 * evaluation's and not that one-off cost's.
	 */
	if (t->srv->pid > 0) {
		bench_srv_settle(t->srv);
	}
	cfg->workload = "track-batch";
	for (size_t i = 0; i < n; i++) {
		cfg->clients = cl[i];
		with[i] = bench_row(t, cfg, "seg20-batch").items_s;
	}
	cfg->workload = "segment-count";
	for (size_t i = 0; i < n; i++) {
		cfg->clients = cl[i];
		bench_row(t, cfg, "seg-count");
	}
	printf("segments: track-batch items/s with %d segments over none:",
	        BENCH_SEGMENTS);
	for (size_t i = 0; i < n; i++) {
		printf("%s %.3f (%d clients)", i ? "," : "",
		        none[i] > 0 ? with[i] / none[i] : 0, cl[i]);
	}
	printf("\n");
	double bf_s;
	uint64_t customers, members;
	if (bench_segment_backfill(t->url, &bf_s, &customers, &members) == 0) {
		printf("segments: backfill of one more over %llu customers (%llu members) in %.2f s: %.0f customers/s\n",
		        (unsigned long long) customers,
		        (unsigned long long) members, bf_s,
		        bf_s > 0 ? (double) customers / bf_s : 0);
	}
	fflush(stdout);
	bench_segments_clear(t->url);
}

/*
 * The journey workload: track-batch with no journey (jny0-batch), then
 * with the BENCH_JOURNEYS of journey.c defined (jny10-batch, and the
 * ratio of the two), at each client count; then, when clmd is the
 * bench's own (clock_file: its test clock), the firing rate of one step
 * for every customer; the journeys are deleted after.
 */
static void
bench_journey_rows(struct bench_table *t, struct bench_cfg *cfg,
        const char *clients_s, const char *clock_file)
{
	int cl[BENCH_MAX_CLIENTS];
	double none[BENCH_MAX_CLIENTS], with[BENCH_MAX_CLIENTS];
	size_t n = 0;
	char *cs = strdup(clients_s);
	for (char *save = NULL, *c = strtok_r(cs, ",", &save);
	        c != NULL && n < BENCH_MAX_CLIENTS;
	        c = strtok_r(NULL, ",", &save)) {
		int k = atoi(c);
		if (k >= 1 && k <= BENCH_MAX_CLIENTS) {
			cl[n++] = k;
		}
	}
	free(cs);
	bench_journeys_clear(t->url);
	cfg->workload = "track-batch";
	for (size_t i = 0; i < n; i++) {
		cfg->clients = cl[i];
		none[i] = bench_row(t, cfg, "jny0-batch").items_s;
	}
	if (bench_journeys_define(t->url) != 0) {
		bench_journeys_clear(t->url);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		cfg->clients = cl[i];
		with[i] = bench_row(t, cfg, "jny10-batch").items_s;
	}
	printf("journeys: track-batch items/s with %d journeys over none:",
	        BENCH_JOURNEYS);
	for (size_t i = 0; i < n; i++) {
		printf("%s %.3f (%d clients)", i ? "," : "",
		        none[i] > 0 ? with[i] / none[i] : 0, cl[i]);
	}
	printf("\n");
	fflush(stdout);
	struct bench_fire f;
	if (clock_file == NULL) {
		printf("journeys: no firing rate without --start (it moves the test clock of the bench's clmd)\n");
	} else if (bench_journey_fire(
	                   t->url, clock_file, cfg->customers, t->srv->pid, &f)
	        == 0) {
		printf("journeys: %llu customers entered by a PURCHASE each in %.1f s (%.0f/s); the clock moved an hour: %llu steps ran (%llu sent) in %.2f s, the first after %.2f s: %.0f steps/s (%.0f steps/s in the best second); clmd CPU %.1f s: %.0f steps per CPU second\n",
		        (unsigned long long) f.active, f.enter_s,
		        f.enter_s > 0 ? (double) cfg->customers / f.enter_s
		                      : 0,
		        (unsigned long long) f.fired,
		        (unsigned long long) f.sent, f.fire_s, f.first_s,
		        f.fire_s > 0 ? (double) f.fired / f.fire_s : 0,
		        f.peak_s, f.cpu_s,
		        f.cpu_s > 0 ? (double) f.fired / f.cpu_s : 0);
	}
	fflush(stdout);
	bench_journeys_clear(t->url);
}

static void
bench_usage(void)
{
	fprintf(stderr,
	        "usage: clm-bench [--url URL | --start] [--workloads W,...] [--clients N,...]\n"
	        "                 [--seconds S] [--customers N] [--history N] [--durability full|os] [--transport tcp|ipc] [--clmd PATH]\n"
	        "                 [--echo-inproc] [--checkpoint-interval S] [--checkpoint-bytes SIZE]\n"
	        "                 [--checkpoint-chunk-keys N] [--recovery] [--http-port PORT] [--data-from DIR]\n"
	        "                 [--rate ITEMS_PER_S]\n"
	        "workloads: echo get-customer recommend metrics track-single track-batch mixed\n"
	        "           http-batch (only when named: clmd's --http, from --start or --http-port)\n"
	        "           segment (only when named: track-batch without and with 20 segments,\n"
	        "           GetSegment counts, a backfill's customers/s)\n"
	        "           journey (only when named: track-batch without and with 10 journeys;\n"
	        "           with --start, one step for every customer fired at once, steps/s)\n");
}

/* The path of the bench's own executable into self (of size len). */
static void
bench_self_dir(char *self, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", self, len - 1);
	self[n > 0 ? n : 0] = '\0';
}

int
main(int argc, char **argv)
{
	const char *url = NULL,
	           *workloads
	        = "echo,get-customer,recommend,metrics,track-single,track-batch,mixed";
	const char *clients_s = "1,8,64", *durability = "full";
	const char *transport = "tcp", *clmd_path = NULL;
	const char *ckpt_interval = NULL, *ckpt_bytes = NULL,
	           *ckpt_chunk = NULL, *data_from = NULL;
	bool start = false, echo_inproc = false, recovery = false;
	int history = 0, http_port = 0;
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
		{ "checkpoint-interval", required_argument, NULL, 'I' },
		{ "checkpoint-bytes", required_argument, NULL, 'B' },
		{ "checkpoint-chunk-keys", required_argument, NULL, 'K' },
		{ "recovery", no_argument, NULL, 'r' },
		{ "http-port", required_argument, NULL, 'H' },
		{ "data-from", required_argument, NULL, 'D' },
		{ "rate", required_argument, NULL, 'R' },
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
		case 'I':
			ckpt_interval = optarg;
			break;
		case 'R': {
			char *end;
			cfg.rate = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(cfg.rate > 0)) {
				fprintf(stderr,
				        "clm-bench: --rate wants items a second, a number above 0\n");
				return 2;
			}
			break;
		}
		case 'B':
			ckpt_bytes = optarg;
			break;
		case 'K':
			ckpt_chunk = optarg;
			break;
		case 'r':
			recovery = true;
			break;
		case 'H':
			http_port = atoi(optarg);
			break;
		case 'D':
			data_from = optarg;
			break;
		default:
			bench_usage();
			return o == 'h' ? 0 : 2;
		}
	}
	if (cfg.seconds <= 0 || cfg.customers <= 0 || history < 0
	        || history > 1000 || (url == NULL && !start)
	        || (recovery && !start) || (data_from != NULL && !start)
	        || http_port < 0 || http_port > 65535
	        || (http_port != 0 && start)) {
		bench_usage();
		return 2;
	}
	char dir[] = "/tmp/clm-bench-XXXXXX";
	char curl[128], eurl[128], self[4096], path[4200], clock_file[64];
	const char *extra[9] = { NULL };
	size_t nextra = 0;
	if (ckpt_interval != NULL) {
		extra[nextra++] = "--checkpoint-interval";
		extra[nextra++] = ckpt_interval;
	}
	if (ckpt_bytes != NULL) {
		extra[nextra++] = "--checkpoint-bytes";
		extra[nextra++] = ckpt_bytes;
	}
	if (ckpt_chunk != NULL) {
		extra[nextra++] = "--checkpoint-chunk-keys";
		extra[nextra++] = ckpt_chunk;
	}
	/* Without --start, the --http of a clmd of the caller's. */
	struct bench_srv srv
	        = { .pid = -1, .extra = extra, .http_port = http_port };
	bool ipc = strcmp(transport, "ipc") == 0;
	bench_self_dir(self, sizeof(self));
	if (start) {
		snprintf(path, sizeof(path), "%s", self);
		char *slash = strrchr(path, '/');
		snprintf(slash != NULL ? slash + 1 : path,
		        sizeof(path) - (size_t) (slash ? slash + 1 - path : 0),
		        "clmd");
		if (mkdtemp(dir) == NULL) {
			perror("clm-bench: mkdtemp");
			return 1;
		}
		if (ipc) {
			snprintf(
			        curl, sizeof(curl), "ipc://%s/clmd.sock", dir);
		} else {
			snprintf(curl, sizeof(curl), "tcp://127.0.0.1:%d",
			        bench_free_port());
		}
		/* The journey workload moves its clmd's clock. */
		if (strstr(workloads, "journey") != NULL) {
			snprintf(clock_file, sizeof(clock_file), "%s/clock",
			        dir);
			extra[nextra++] = "--test-clock-file";
			extra[nextra++] = clock_file;
		}
		srv.bin = clmd_path ? clmd_path : path;
		srv.dir = dir;
		srv.url = curl;
		srv.durability = durability;
		srv.http_port = bench_free_port();
		if (data_from != NULL
		        && bench_copy_data(data_from, dir) != 0) {
			return 1;
		}
		if (bench_srv_start(&srv, NULL) != 0) {
			fprintf(stderr, "clm-bench: cannot start clmd\n");
			return 1;
		}
		bench_dev_find(dir, &srv.dev);
		url = curl;
		double t0 = bench_now();
		if (data_from == NULL) {
			bench_preload(url, cfg.customers, history);
			printf("preloaded %d customers (+%d visits each) in %.1f s\n",
			        cfg.customers, history, bench_now() - t0);
		} else {
			printf("started on a copy of %s\n", data_from);
		}
		bench_srv_settle(&srv);
		bench_background(&srv, "before the runs");
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
		snprintf(eurl, sizeof(eurl), "tcp://127.0.0.1:%d",
		        bench_free_port());
	}
	struct bench_echo echo;
	pid_t echo_pid = -1;
	int echo_feed = -1;
	bool echo_ok;
	if (echo_inproc) {
		echo_ok = bench_echo_start(&echo, eurl) == 0;
	} else {
		echo_pid = bench_echo_spawn(self, eurl, &echo_feed);
		echo_ok = echo_pid > 0;
	}
	if (!echo_ok) {
		fprintf(stderr, "clm-bench: cannot start the echo server\n");
		bench_srv_stop(&srv, SIGTERM);
		return 1;
	}

	bool os = strcmp(durability, "os") == 0;
	printf("%-13s %7s %12s %12s %9s %9s %9s %8s %8s %9s %9s %8s %10s %8s %5s %7s %7s %8s %8s %7s %8s %8s %5s %5s\n",
	        "workload", "clients", "calls/s", "items/s", "p50 us",
	        "p99 us", "p999 us", "x echo", "tput/e", "cpu us", "wr B/item",
	        "calls/tx", "dev B/item", os ? "commit/s" : "fsync/s", "ckpts",
	        "ck ms", "ck max", "ck keys", "ck KB", "fin ms", "fin keys",
	        "fin KB", "wr %", "ck %");
	char *ws = strdup(workloads);
	struct bench_table t = {
		.srv = &srv, .url = url, .eurl = eurl, .echo_pid = echo_pid
	};
	int last_clients = 1;
	for (char *wsave = NULL, *w = strtok_r(ws, ",", &wsave); w != NULL;
	        w = strtok_r(NULL, ",", &wsave)) {
		if (strcmp(w, "segment") == 0) {
			bench_segment_rows(&t, &cfg, clients_s);
			continue;
		}
		if (strcmp(w, "journey") == 0) {
			bench_journey_rows(&t, &cfg, clients_s,
			        start ? clock_file : NULL);
			continue;
		}
		char *cs = strdup(clients_s);
		for (char *csave = NULL, *c = strtok_r(cs, ",", &csave);
		        c != NULL; c = strtok_r(NULL, ",", &csave)) {
			cfg.clients = atoi(c);
			if (cfg.clients < 1
			        || cfg.clients > BENCH_MAX_CLIENTS) {
				continue;
			}
			last_clients = cfg.clients;
			cfg.workload = w;
			bench_row(&t, &cfg, w);
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
	if (srv.pid > 0) {
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
				        bench_proc(
				                srv.pid, "status", "RssAnon")
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
		bench_background(&srv, "after the runs");
		if (recovery) {
			cfg.clients = last_clients;
			bench_recovery(&srv, cfg, ckpt_bytes != NULL);
		}
		bench_srv_stop(&srv, SIGTERM);
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0) {
			fprintf(stderr, "clm-bench: could not remove %s\n",
			        dir);
		}
	}
	return 0;
}
