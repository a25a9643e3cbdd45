/*
 * clm-bench's echo server: the limit every figure is read against. It
 * runs as a process of its own (the bench re-executed with --echo-server
 * URL), as clmd does, or inside the bench with --echo-inproc.
 */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

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

int
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

void
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
int
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
pid_t
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
