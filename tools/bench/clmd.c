/*
 * The clmd that `clm-bench --start` runs: starting it, preloading it, and
 * what /proc says about it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "clm/client.h"
#include "freeport.h"
#include "proctask.h"

/* clmd's CPU seconds (utime + stime) from /proc. */
double
bench_cpu(pid_t pid)
{
	if (pid <= 0) {
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	return proctask_stat_cpu(path);
}

double
bench_thread_cpu(pid_t pid, const char *name)
{
	double cpu = 0;
	if (pid > 0) {
		(void) proctask_named(pid, name, &cpu);
	}
	return cpu;
}

/* A number from a /proc/PID file's "key: value" line, or 0. */
double
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

/* clmd's write transactions and the write calls they held, so far. */
void
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

int
bench_free_port(void)
{
	/* Outside the ephemeral range, so no connection takes it before clmd
	 * binds it (tests/freeport.h). */
	int port = freeport_pick();
	return port > 0 ? port : 0;
}

pid_t
bench_start_clmd(const char *clmd, const char *dir, const char *url,
        const char *durability, int http_port, const char *const *extra)
{
	const char *argv[32]
	        = { "clmd", "--data", dir, "--listen", url, "--events", "none",
		          "--durability", durability, "--log-level", "warn" };
	size_t n = 11;
	char http[32];
	if (http_port != 0) {
		snprintf(http, sizeof(http), "127.0.0.1:%d", http_port);
		argv[n++] = "--http";
		argv[n++] = http;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
		argv[n++] = extra[i];
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0) {
		return -1;
	}
	if (pid == 0) {
		execv(clmd, (char *const *) argv);
		_exit(127);
	}
	/* A restart replays the journal first: up to a minute. */
	for (int i = 0; i < 1200; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			return -1; /* it exited */
		}
		clm_conn *c;
		Clm__V1__Response *resp = NULL;
		if (clm_open(url, 1000, &c) == CLM_OK) {
			clm_err e = clm_server_status(c, &resp);
			clm_response_free(resp);
			clm_close(c);
			if (e == CLM_OK) {
				return pid;
			}
		}
		bench_sleep(0.05);
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
void
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
