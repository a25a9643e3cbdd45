/*
 * What clm-bench reads around a run besides /proc: clmd's /metrics over
 * plain HTTP on loopback, and the write count of the block device that
 * holds the data directory.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

/* GET /metrics from 127.0.0.1:port into a malloc'd string, or NULL. */
static char *
bench_metrics_get(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		return NULL;
	}
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in a = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t) port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET /metrics HTTP/1.0\r\n"
	                          "Host: 127.0.0.1\r\n\r\n";
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL || connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0
	        || write(fd, req, sizeof(req) - 1)
	                != (ssize_t) (sizeof(req) - 1)) {
		free(buf);
		close(fd);
		return NULL;
	}
	for (;;) {
		if (len + 1 == cap) {
			char *b = realloc(buf, cap * 2);
			if (b == NULL) {
				break;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0) {
			break;
		}
		len += (size_t) n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The value of the sample name (a line "name value"), or 0. */
static double
bench_metrics_value(const char *body, const char *name, bool *found)
{
	size_t n = strlen(name);
	for (const char *p = body; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			*found = true;
			return strtod(p + n + 1, NULL);
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	return 0;
}

void
bench_metrics_read(int port, struct bench_metrics *m)
{
	memset(m, 0, sizeof(*m));
	char *body = bench_metrics_get(port);
	if (body == NULL) {
		return;
	}
	bool j = false, unused = false;
	m->jposition = bench_metrics_value(body, "clm_journal_position", &j);
	m->jcommits = bench_metrics_value(
	        body, "clm_journal_commits_total", &unused);
	m->jentries = bench_metrics_value(
	        body, "clm_journal_entries_total", &unused);
	m->jbytes = bench_metrics_value(
	        body, "clm_journal_bytes_total", &unused);
	m->ckpts = bench_metrics_value(body, "clm_checkpoints_total", &unused);
	m->ckpt_seconds = bench_metrics_value(
	        body, "clm_checkpoint_seconds_total", &unused);
	m->ckpt_last_s = bench_metrics_value(
	        body, "clm_checkpoint_last_seconds", &unused);
	m->ckpt_keys = bench_metrics_value(
	        body, "clm_checkpoint_keys_total", &unused);
	m->ckpt_bytes = bench_metrics_value(
	        body, "clm_checkpoint_overlay_bytes_total", &unused);
	m->ckpt_position = bench_metrics_value(
	        body, "clm_checkpoint_position", &unused);
	m->recovery_entries
	        = bench_metrics_value(body, "clm_recovery_entries", &unused);
	m->recovery_seconds
	        = bench_metrics_value(body, "clm_recovery_seconds", &unused);
	(void) bench_metrics_value(
	        body, "clm_checkpoint_replay_seconds", &m->ckpt_on_usr1);
	m->ok = j;
	free(body);
}

int
bench_dev_find(const char *path, struct bench_dev *d)
{
	d->name[0] = '\0';
	struct stat st;
	if (stat(path, &st) != 0) {
		return -1;
	}
	/*
	 * /sys/dev/block/MAJ:MIN links to the device's directory; a
	 * partition's directory (it has a "partition" file) sits inside its
	 * disk's, whose stat counts every partition.
	 */
	char link[64], real[PATH_MAX], probe[PATH_MAX + 16];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev),
	        minor(st.st_dev));
	if (realpath(link, real) == NULL) {
		return -1;
	}
	snprintf(probe, sizeof(probe), "%s/partition", real);
	if (access(probe, F_OK) == 0) {
		char *slash = strrchr(real, '/');
		if (slash == NULL) {
			return -1;
		}
		*slash = '\0';
	}
	const char *name = strrchr(real, '/');
	if (name == NULL) {
		return -1;
	}
	snprintf(d->name, sizeof(d->name), "%s", name + 1);
	return bench_dev_written(d) < 0 ? -1 : 0;
}

double
bench_dev_written(const struct bench_dev *d)
{
	if (d->name[0] == '\0') {
		return -1;
	}
	char path[128];
	snprintf(path, sizeof(path), "/sys/block/%s/stat", d->name);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	unsigned long long sectors = 0;
	int n = fscanf(f, "%*u %*u %*u %*u %*u %*u %llu", &sectors);
	fclose(f);
	return n == 1 ? (double) sectors * 512 : -1;
}

int
bench_settle(int port, const char *dir, double *covered, double timeout)
{
	int rc = 0;
	if (port != 0) {
		/*
		 * The base view (clm_checkpoint_position) catches up with
		 * the journal (clm_journal_position) at the next checkpoint,
		 * within --checkpoint-interval of the first write after the
		 * last one. Positions already covered need none: clmd
		 * checkpoints nothing when nothing was written.
		 */
		double end = bench_now() + timeout;
		for (;;) {
			struct bench_metrics m;
			bench_metrics_read(port, &m);
			if (!m.ok) {
				break; /* no journal: every commit is synced */
			}
			if (m.ckpt_position > *covered) {
				*covered = m.ckpt_position;
			}
			if (m.jposition <= *covered) {
				break;
			}
			if (bench_now() > end) {
				rc = -1;
				break;
			}
			bench_sleep(0.1);
		}
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		syncfs(fd);
		close(fd);
	}
	return rc;
}
