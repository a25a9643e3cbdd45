/* rawhttp: see rawhttp.h. */
#include "rawhttp.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#ifndef FAULTFS_LIB
#error "FAULTFS_LIB must be defined (absolute path of libclm_faultfs.so)"
#endif

static int64_t
rawhttp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
rawhttp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { 0 };
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	        "cannot connect to port %d: %s", port, strerror(errno));
	return fd;
}

void
rawhttp_send_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		cr_assert_gt(k, 0, "send: %s", strerror(errno));
		p += k;
		n -= (size_t) k;
	}
}

ssize_t
rawhttp_read(int fd, char *buf, size_t cap, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc = poll(&p, 1, ms);
	if (rc == 0) {
		return -1;
	}
	cr_assert_eq(rc, 1, "poll: %s", strerror(errno));
	ssize_t k = recv(fd, buf, cap - 1, 0);
	if (k < 0 && errno == ECONNRESET) {
		k = 0;
	}
	cr_assert_geq(k, 0, "recv: %s", strerror(errno));
	buf[k] = '\0';
	return k;
}

void
rawhttp_send(int fd, int port, const char *method, const char *target,
        const char *hdr, const void *body, size_t len)
{
	char head[4096];
	int n;
	if (body != NULL) {
		n = snprintf(head, sizeof(head),
		        "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s"
		        "Content-Length: %zu\r\n\r\n",
		        method, target, port, hdr, len);
	} else {
		n = snprintf(head, sizeof(head),
		        "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n",
		        method, target, port, hdr);
	}
	cr_assert(n > 0 && (size_t) n < sizeof(head));
	rawhttp_send_all(fd, head, (size_t) n);
	if (body != NULL) {
		rawhttp_send_all(fd, body, len);
	}
}

void
rawhttp_response(int fd, struct rawhttp_res *r)
{
	static char buf[1 << 16];
	memset(r, 0, sizeof(*r));
	size_t len = 0, want = 1;
	char *eoh = NULL;
	int64_t until = rawhttp_now_ms() + RAWHTTP_WAIT_MS;
	buf[0] = '\0';
	while (len < want) {
		int left = (int) (until - rawhttp_now_ms());
		cr_assert_gt(
		        left, 0, "no whole response in time: '%.80s'", buf);
		ssize_t k = rawhttp_read(fd, buf + len, want - len + 1, left);
		cr_assert_gt(
		        k, 0, "closed after %zu bytes: '%.80s'", len, buf);
		len += (size_t) k;
		if (eoh == NULL && (eoh = strstr(buf, "\r\n\r\n")) == NULL) {
			want = len + 1;
		} else if (want == len && len == (size_t) (eoh - buf) + 4) {
			const char *cl = strstr(buf, "Content-Length: ");
			cr_assert(cl != NULL && cl < eoh, "%s", buf);
			want = len + strtoull(cl + 16, NULL, 10);
			cr_assert_lt(want, sizeof(buf));
		}
	}
	cr_assert_eq(sscanf(buf, "HTTP/1.1 %d ", &r->status), 1, "%s", buf);
	snprintf(r->head, sizeof(r->head), "%.*s", (int) (eoh - buf), buf);
	snprintf(r->body, sizeof(r->body), "%s", eoh + 4);
}

void
rawhttp_request(int port, const char *method, const char *target,
        const char *hdr, const void *body, size_t len, struct rawhttp_res *r)
{
	int fd = rawhttp_connect(port);
	rawhttp_send(fd, port, method, target, hdr, body, len);
	rawhttp_response(fd, r);
	close(fd);
}

unsigned long long
rawhttp_metric(int port, const char *name)
{
	char *m = harness_metrics(port);
	cr_assert_not_null(m, "no /metrics on port %d", port);
	char want[128];
	snprintf(want, sizeof(want), "\n%s ", name);
	const char *p = strstr(m, want);
	unsigned long long v
	        = p != NULL ? strtoull(p + strlen(want), NULL, 10) : 0;
	free(m);
	return v;
}

int
rawhttp_start_clmd(struct clmd_proc *p, char dir[32], char flag[64],
        const char *const *extra, bool faulty)
{
	cr_assert_eq(harness_tmpdir(dir), 0);
	int port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	const char *args[16] = { "--http", http };
	int n = 2;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 15; i++) {
		args[n++] = extra[i];
	}
	args[n] = NULL;
	char data[64];
	snprintf(data, sizeof(data), "%s/data", dir);
	int rc;
	if (faulty) {
		snprintf(flag, 64, "%s/fault", dir);
		char env_flag[128];
		snprintf(env_flag, sizeof(env_flag), "CLM_FAULTFS_FLAG=%s",
		        flag);
		const char *const env[]
		        = { env_flag, "CLM_FAULTFS_MATCH=.jnl", NULL };
		rc = clmd_start_preloaded(p, data, args, FAULTFS_LIB, env);
	} else {
		rc = clmd_start(p, data, args);
	}
	cr_assert_eq(rc, 0, "clmd did not start (log %s)", p->log_path);
	char *m = harness_metrics(port);
	cr_assert_not_null(m, "no --http on port %d", port);
	free(m);
	return port;
}
