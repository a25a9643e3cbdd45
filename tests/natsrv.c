/* A NATS JetStream cluster for the tests: see natsrv.h. */
#define _XOPEN_SOURCE 700

#include "natsrv.h"

#include "freeport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NATSRV_READY_MS  15000
#define NATSRV_STOP_MS   10000
#define NATSRV_HTTP_MS   2000
#define NATSRV_HTTP_MAX  (1024 * 1024)
#define NATSRV_PREFIX    "/tmp/clm-nats-"
#define NATSRV_CLOSE_FDS 4096

struct natsrv_node {
	pid_t pid; /* 0 when not running */
	int port, cluster_port, http_port;
	char name[16];
	char url[64];
	char conf[PATH_MAX];
	char log[PATH_MAX];
};

struct natsrv {
	int size;
	char dir[64];
	char urls[NATSRV_MAX_NODES * 64];
	struct natsrv_node node[NATSRV_MAX_NODES];
};

static int64_t
natsrv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
natsrv_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* Three distinct free ports for every node; returns 0 or -1. */
static int
natsrv_ports(natsrv *n)
{
	int taken[NATSRV_MAX_NODES * 3];
	int count = 0;
	for (int i = 0; i < n->size; i++) {
		int *want[3] = { &n->node[i].port, &n->node[i].cluster_port,
			&n->node[i].http_port };
		for (int k = 0; k < 3; k++) {
			int p = -1;
			for (int tries = 0; tries < 100 && p < 0; tries++) {
				p = freeport_pick();
				for (int j = 0; j < count && p > 0; j++) {
					if (taken[j] == p) {
						p = -1;
					}
				}
			}
			if (p <= 0) {
				fprintf(stderr, "natsrv: no free port\n");
				return -1;
			}
			taken[count++] = p;
			*want[k] = p;
		}
	}
	return 0;
}

static int
natsrv_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) f;
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	if (rc != 0 && errno != ENOENT) {
		fprintf(stderr, "natsrv: cannot remove '%s': %s\n", path,
		        strerror(errno));
	}
	return 0;
}

/* Removes the temp dir; only ever one of ours. */
static void
natsrv_rm_rf(const char *path)
{
	if (strncmp(path, NATSRV_PREFIX, strlen(NATSRV_PREFIX)) != 0) {
		fprintf(stderr, "natsrv: refusing to remove '%s'\n", path);
		return;
	}
	nftw(path, natsrv_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes node i's config file; returns 0 or -1. */
static int
natsrv_write_conf(const natsrv *n, int i, const char *extra)
{
	const struct natsrv_node *d = &n->node[i];
	FILE *f = fopen(d->conf, "w");
	if (f == NULL) {
		fprintf(stderr, "natsrv: cannot write '%s': %s\n", d->conf,
		        strerror(errno));
		return -1;
	}
	fprintf(f, "server_name: %s\n", d->name);
	fprintf(f, "listen: 127.0.0.1:%d\n", d->port);
	fprintf(f, "http: 127.0.0.1:%d\n", d->http_port);
	fprintf(f, "jetstream {\n  store_dir: \"%s/%s\"\n}\n", n->dir,
	        d->name);
	if (n->size > 1) {
		fprintf(f, "cluster {\n  name: clm\n");
		fprintf(f, "  listen: 127.0.0.1:%d\n  routes: [\n",
		        d->cluster_port);
		for (int j = 0; j < n->size; j++) {
			fprintf(f, "    nats-route://127.0.0.1:%d\n",
			        n->node[j].cluster_port);
		}
		fprintf(f, "  ]\n}\n");
	}
	if (extra != NULL) {
		fprintf(f, "%s\n", extra);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * GET path from 127.0.0.1:port (HTTP/1.0, so the server closes the
 * connection after the body). Returns the status code with the response
 * (head and body, NUL-terminated, malloc'd) in *out, or -1.
 */
static int
natsrv_http_get(int port, const char *path, char **out)
{
	*out = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return -1;
	}
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t) port);
	/* Connecting on loopback does not block for long: refused at once
	 * when nothing listens. */
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	char req[512];
	int len = snprintf(req, sizeof(req),
	        "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (len <= 0 || (size_t) len >= sizeof(req)
	        || send(fd, req, (size_t) len, MSG_NOSIGNAL) != len) {
		close(fd);
		return -1;
	}
	size_t cap = 8192, used = 0;
	char *buf = malloc(cap);
	int64_t until = natsrv_now_ms() + NATSRV_HTTP_MS;
	int status = -1;
	while (buf != NULL) {
		int64_t left = until - natsrv_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&pfd, 1, (int) left) <= 0) {
			break; /* timed out (EINTR: try again next round) */
		}
		if (used + 1 >= cap) {
			char *nb = cap < NATSRV_HTTP_MAX
			        ? realloc(buf, cap * 2)
			        : NULL;
			if (nb == NULL) {
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t got = recv(fd, buf + used, cap - used - 1, 0);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			buf[used] = '\0';
			if (got == 0
			        && sscanf(buf, "HTTP/%*s %d", &status) != 1) {
				status = -1;
			}
			break;
		}
		used += (size_t) got;
	}
	close(fd);
	if (status < 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return status;
}

/*
 * Copies into val (cap bytes) the string value of the first "key" in
 * [from, to) and returns where it ends, or NULL when there is none.
 * Enough for the server's own JSON: keys quoted, no escapes in names.
 */
static const char *
natsrv_json_str(const char *from, const char *to, const char *key, char *val,
        size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(from, pat);
	if (p == NULL || p >= to) {
		return NULL;
	}
	p += strlen(pat);
	while (*p == ' ') {
		p++;
	}
	if (*p != '"') {
		return NULL;
	}
	p++;
	const char *e = strchr(p, '"');
	if (e == NULL || e >= to || (size_t) (e - p) >= cap) {
		return NULL;
	}
	memcpy(val, p, (size_t) (e - p));
	val[e - p] = '\0';
	return e + 1;
}

/*
 * Whether node i is ready: /healthz says ok and, in a cluster, /jsz names
 * the JetStream meta leader (streams can be created).
 */
static bool
natsrv_ready(const natsrv *n, int i)
{
	char *body;
	int st = natsrv_http_get(n->node[i].http_port, "/healthz", &body);
	bool ok = st == 200;
	free(body);
	if (!ok || n->size == 1) {
		return ok;
	}
	st = natsrv_http_get(n->node[i].http_port, "/jsz", &body);
	ok = false;
	if (st == 200) {
		const char *meta = strstr(body, "\"meta_cluster\"");
		char leader[32];
		ok = meta != NULL
		        && natsrv_json_str(meta, meta + strlen(meta), "leader",
		                   leader, sizeof(leader))
		                != NULL
		        && leader[0] != '\0';
	}
	free(body);
	return ok;
}

/* Prints the last 4 KiB of node i's log to stderr. */
static void
natsrv_dump_log(const natsrv *n, int i)
{
	int fd = open(n->node[i].log, O_RDONLY);
	if (fd < 0) {
		return;
	}
	off_t end = lseek(fd, 0, SEEK_END);
	lseek(fd, end > 4096 ? end - 4096 : 0, SEEK_SET);
	char buf[4097];
	ssize_t got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got > 0) {
		buf[got] = '\0';
		fprintf(stderr, "natsrv: %s's log (%s):\n%s\n",
		        n->node[i].name, n->node[i].log, buf);
	}
}

/* Forks and execs node i (no waiting); returns 0 or -1. */
static int
natsrv_spawn(natsrv *n, int i)
{
	struct natsrv_node *d = &n->node[i];
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "natsrv: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Die with the test process, even when it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(127);
		}
		int in = open("/dev/null", O_RDONLY);
		int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (in < 0 || log < 0) {
			_exit(127);
		}
		dup2(in, 0);
		dup2(log, 1);
		dup2(log, 2);
		for (int fd = 3; fd < NATSRV_CLOSE_FDS; fd++) {
			close(fd);
		}
		execl(NATSRV_BIN, NATSRV_BIN, "-c", d->conf, (char *) NULL);
		_exit(127);
	}
	d->pid = pid;
	return 0;
}

/* Reaps node i if it exited; returns whether it is still running. */
static bool
natsrv_alive(natsrv *n, int i)
{
	struct natsrv_node *d = &n->node[i];
	if (d->pid <= 0) {
		return false;
	}
	int st;
	pid_t r = waitpid(d->pid, &st, WNOHANG);
	if (r == d->pid) {
		fprintf(stderr, "natsrv: %s (pid %ld) exited with status %d\n",
		        d->name, (long) d->pid,
		        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		d->pid = 0;
		return false;
	}
	return true;
}

/* Waits until every node of mask is ready; returns 0 or -1. */
static int
natsrv_wait_ready(natsrv *n, unsigned mask)
{
	int64_t until = natsrv_now_ms() + NATSRV_READY_MS;
	unsigned left = mask;
	while (left != 0) {
		for (int i = 0; i < n->size; i++) {
			if ((left & (1u << i)) == 0) {
				continue;
			}
			if (!natsrv_alive(n, i)) {
				natsrv_dump_log(n, i);
				return -1;
			}
			if (natsrv_ready(n, i)) {
				left &= ~(1u << i);
			}
		}
		if (left == 0) {
			break;
		}
		if (natsrv_now_ms() >= until) {
			for (int i = 0; i < n->size; i++) {
				if (left & (1u << i)) {
					fprintf(stderr,
					        "natsrv: %s not ready within %d ms\n",
					        n->node[i].name,
					        NATSRV_READY_MS);
					natsrv_dump_log(n, i);
				}
			}
			return -1;
		}
		natsrv_sleep_ms(50);
	}
	return 0;
}

natsrv *
natsrv_start(int nodes, const char *extra_conf)
{
	if (nodes < 1 || nodes > NATSRV_MAX_NODES) {
		fprintf(stderr, "natsrv: %d nodes: 1 to %d\n", nodes,
		        NATSRV_MAX_NODES);
		return NULL;
	}
	natsrv *n = calloc(1, sizeof(*n));
	if (n == NULL) {
		return NULL;
	}
	n->size = nodes;
	snprintf(n->dir, sizeof(n->dir), "%sXXXXXX", NATSRV_PREFIX);
	if (mkdtemp(n->dir) == NULL) {
		fprintf(stderr, "natsrv: mkdtemp: %s\n", strerror(errno));
		free(n);
		return NULL;
	}
	if (natsrv_ports(n) != 0) {
		natsrv_stop(n);
		return NULL;
	}
	size_t used = 0;
	for (int i = 0; i < nodes; i++) {
		struct natsrv_node *d = &n->node[i];
		snprintf(d->name, sizeof(d->name), "n%d", i);
		snprintf(d->url, sizeof(d->url), "nats://127.0.0.1:%d",
		        d->port);
		snprintf(d->conf, sizeof(d->conf), "%s/%s.conf", n->dir,
		        d->name);
		snprintf(d->log, sizeof(d->log), "%s/%s.log", n->dir, d->name);
		used += (size_t) snprintf(n->urls + used,
		        sizeof(n->urls) - used, "%s%s", i > 0 ? "," : "",
		        d->url);
		if (natsrv_write_conf(n, i, extra_conf) != 0) {
			natsrv_stop(n);
			return NULL;
		}
	}
	for (int i = 0; i < nodes; i++) {
		if (natsrv_spawn(n, i) != 0) {
			natsrv_stop(n);
			return NULL;
		}
	}
	if (natsrv_wait_ready(n, (1u << nodes) - 1) != 0) {
		natsrv_stop(n);
		return NULL;
	}
	return n;
}

int
natsrv_size(const natsrv *n)
{
	return n->size;
}

const char *
natsrv_urls(const natsrv *n)
{
	return n->urls;
}

const char *
natsrv_url(const natsrv *n, int i)
{
	return n->node[i].url;
}

const char *
natsrv_name(const natsrv *n, int i)
{
	return n->node[i].name;
}

const char *
natsrv_dir(const natsrv *n)
{
	return n->dir;
}

pid_t
natsrv_pid(const natsrv *n, int i)
{
	return n->node[i].pid;
}

int
natsrv_kill9(natsrv *n, int i)
{
	struct natsrv_node *d = &n->node[i];
	if (d->pid <= 0) {
		return -1;
	}
	kill(d->pid, SIGKILL);
	int st;
	while (waitpid(d->pid, &st, 0) < 0 && errno == EINTR) {
	}
	d->pid = 0;
	return 0;
}

int
natsrv_stop_node(natsrv *n, int i)
{
	struct natsrv_node *d = &n->node[i];
	if (d->pid <= 0) {
		return -1;
	}
	kill(d->pid, SIGTERM);
	int64_t until = natsrv_now_ms() + NATSRV_STOP_MS;
	for (;;) {
		int st;
		pid_t r = waitpid(d->pid, &st, WNOHANG);
		if (r == d->pid || (r < 0 && errno != EINTR)) {
			d->pid = 0;
			return 0;
		}
		if (natsrv_now_ms() >= until) {
			fprintf(stderr, "natsrv: %s did not stop in %d ms\n",
			        d->name, NATSRV_STOP_MS);
			natsrv_kill9(n, i);
			return -1;
		}
		natsrv_sleep_ms(10);
	}
}

int
natsrv_restart(natsrv *n, int i)
{
	if (n->node[i].pid > 0) {
		fprintf(stderr, "natsrv: %s is running\n", n->node[i].name);
		return -1;
	}
	if (natsrv_spawn(n, i) != 0) {
		return -1;
	}
	if (natsrv_wait_ready(n, 1u << i) != 0) {
		natsrv_kill9(n, i);
		return -1;
	}
	return 0;
}

/*
 * The leader of stream as node i's /jsz reports it, into leader (cap
 * bytes); returns 0, or -1 when node i does not know one. In the JSON, a
 * stream's detail is {"name": S, ..., "cluster": {"name": C, "leader": L,
 * "replicas": [...]}, ...}; a single server reports no cluster and leads
 * every stream it has.
 */
static int
natsrv_leader_of(
        const natsrv *n, int i, const char *stream, char *leader, size_t cap)
{
	char *body;
	int st = natsrv_http_get(n->node[i].http_port,
	        "/jsz?accounts=true&streams=true", &body);
	int rc = -1;
	char pat[128];
	snprintf(pat, sizeof(pat), "\"name\": \"%s\",", stream);
	const char *s = st == 200 ? strstr(body, pat) : NULL;
	if (s != NULL && n->size == 1) {
		snprintf(leader, cap, "%s", n->node[i].name);
		rc = 0;
	} else if (s != NULL) {
		const char *end = body + strlen(body);
		const char *c = strstr(s, "\"cluster\":");
		const char *r = c != NULL ? strstr(c, "\"replicas\"") : NULL;
		const char *state = strstr(s, "\"state\":");
		/* The leader only counts within this stream's cluster
		 * object, before its replicas. */
		const char *stop = r != NULL ? r : end;
		if (state != NULL && state < stop) {
			stop = state;
		}
		if (c != NULL && c < stop
		        && natsrv_json_str(c, stop, "leader", leader, cap)
		                != NULL
		        && leader[0] != '\0') {
			rc = 0;
		}
	}
	free(body);
	return rc;
}

int
natsrv_leader(natsrv *n, const char *stream, int timeout_ms)
{
	int64_t until = natsrv_now_ms() + timeout_ms;
	for (;;) {
		for (int i = 0; i < n->size; i++) {
			char name[32];
			if (!natsrv_alive(n, i)
			        || natsrv_leader_of(
			                   n, i, stream, name, sizeof(name))
			                != 0) {
				continue;
			}
			for (int j = 0; j < n->size; j++) {
				char self[32];
				if (strcmp(name, n->node[j].name) == 0
				        && natsrv_alive(n, j)
				        && natsrv_leader_of(n, j, stream, self,
				                   sizeof(self))
				                == 0
				        && strcmp(self, name) == 0) {
					return j;
				}
			}
		}
		if (natsrv_now_ms() >= until) {
			return -1;
		}
		natsrv_sleep_ms(100);
	}
}

void
natsrv_stop(natsrv *n)
{
	if (n == NULL) {
		return;
	}
	for (int i = 0; i < n->size; i++) {
		if (n->node[i].pid > 0) {
			kill(n->node[i].pid, SIGTERM);
		}
	}
	int64_t until = natsrv_now_ms() + NATSRV_STOP_MS;
	for (int i = 0; i < n->size; i++) {
		struct natsrv_node *d = &n->node[i];
		while (d->pid > 0) {
			int st;
			pid_t r = waitpid(d->pid, &st, WNOHANG);
			if (r == d->pid || (r < 0 && errno != EINTR)) {
				d->pid = 0;
			} else if (natsrv_now_ms() >= until) {
				fprintf(stderr,
				        "natsrv: %s did not stop in %d ms\n",
				        d->name, NATSRV_STOP_MS);
				natsrv_kill9(n, i);
			} else {
				natsrv_sleep_ms(10);
			}
		}
	}
	natsrv_rm_rf(n->dir);
	free(n);
}
