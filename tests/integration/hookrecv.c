#include "hookrecv.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "freeport.h"

int64_t
recv_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Copies the value of header name (case-insensitive) from head into out. */
static void
recv_header(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = strstr(head, "\r\n"); p != NULL;
	        p = strstr(p + 2, "\r\n")) {
		const char *h = p + 2;
		if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
			h += nl + 1;
			while (*h == ' ') {
				h++;
			}
			const char *end = strstr(h, "\r\n");
			size_t n
			        = end != NULL ? (size_t) (end - h) : strlen(h);
			snprintf(out, cap, "%.*s",
			        (int) (n < cap ? n : cap - 1), h);
			return;
		}
	}
}

/* Reads one request from fd, records it and answers; false on garbage. */
static bool
recv_one(struct recv *rv, int fd)
{
	char buf[8192];
	size_t n = 0;
	char *end = NULL;
	int64_t deadline = recv_mono_ns() + 10 * (int64_t) 1000000000;
	size_t want = 0;
	for (;;) {
		if (end == NULL) {
			buf[n] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (end != NULL) {
				char cl[32];
				recv_header(
				        buf, "Content-Length", cl, sizeof(cl));
				want = (size_t) (end + 4 - buf)
				        + (size_t) atol(cl);
			}
		}
		if (end != NULL && n >= want) {
			break;
		}
		if (n + 1 >= sizeof(buf) || recv_mono_ns() > deadline) {
			return false;
		}
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0) {
			continue;
		}
		ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (k <= 0) {
			return false;
		}
		n += (size_t) k;
	}
	buf[n] = '\0';
	pthread_mutex_lock(&rv->mu);
	int status = 200;
	if (rv->n < RECV_MAX) {
		struct recv_req *r = &rv->req[rv->n];
		const char *eol = strstr(buf, "\r\n");
		snprintf(r->line, sizeof(r->line), "%.*s", (int) (eol - buf),
		        buf);
		recv_header(buf, "Content-Type", r->ctype, sizeof(r->ctype));
		recv_header(buf, "X-Clm-Message-Id", r->message_id,
		        sizeof(r->message_id));
		recv_header(buf, "X-Clm-Timestamp", r->ts, sizeof(r->ts));
		recv_header(buf, "X-Clm-Signature", r->sig, sizeof(r->sig));
		snprintf(r->body, sizeof(r->body), "%s", end + 4);
		r->at_ns = recv_mono_ns();
		status = rv->status[rv->n] != 0 ? rv->status[rv->n] : 200;
		rv->n++;
		pthread_cond_broadcast(&rv->cv);
	}
	pthread_mutex_unlock(&rv->mu);
	char reply[128];
	int len = snprintf(reply, sizeof(reply),
	        "HTTP/1.1 %d Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	        status);
	ssize_t w = write(fd, reply, (size_t) len);
	return w == len;
}

static void *
recv_main(void *arg)
{
	struct recv *rv = arg;
	for (;;) {
		pthread_mutex_lock(&rv->mu);
		bool stop = rv->stop;
		pthread_mutex_unlock(&rv->mu);
		if (stop) {
			return NULL;
		}
		struct pollfd pf = { .fd = rv->fd, .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0) {
			continue;
		}
		int c = accept(rv->fd, NULL, NULL);
		if (c < 0) {
			continue;
		}
		(void) recv_one(rv, c);
		close(c);
	}
}

/* Starts the receiver on a free 127.0.0.1 port, answering status[i]. */
void
recv_start(struct recv *rv, const int *status, size_t n_status)
{
	memset(rv, 0, sizeof(*rv));
	for (size_t i = 0; i < n_status && i < RECV_MAX; i++) {
		rv->status[i] = status[i];
	}
	rv->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(rv->fd, 0);
	int one = 1;
	setsockopt(rv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(rv->fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(rv->fd, 16), 0);
	socklen_t sl = sizeof(sa);
	cr_assert_eq(getsockname(rv->fd, (struct sockaddr *) &sa, &sl), 0);
	rv->port = ntohs(sa.sin_port);
	pthread_mutex_init(&rv->mu, NULL);
	pthread_cond_init(&rv->cv, NULL);
	cr_assert_eq(pthread_create(&rv->thread, NULL, recv_main, rv), 0);
}

/*
 * nng's handler of the https receiver: records the request as recv_one
 * does and answers it with the script's status.
 */
static void
recv_tls_cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct recv *rv = nng_http_handler_get_data(h);
	void *data;
	size_t len;
	nng_http_req_get_data(req, &data, &len);
	pthread_mutex_lock(&rv->mu);
	int status = 200;
	if (rv->n < RECV_MAX) {
		struct recv_req *r = &rv->req[rv->n];
		const char *hv;
		snprintf(r->line, sizeof(r->line), "%s %s %s",
		        nng_http_req_get_method(req),
		        nng_http_req_get_uri(req),
		        nng_http_req_get_version(req));
		hv = nng_http_req_get_header(req, "Content-Type");
		snprintf(r->ctype, sizeof(r->ctype), "%s", hv ? hv : "");
		hv = nng_http_req_get_header(req, "X-Clm-Message-Id");
		snprintf(r->message_id, sizeof(r->message_id), "%s",
		        hv ? hv : "");
		hv = nng_http_req_get_header(req, "X-Clm-Timestamp");
		snprintf(r->ts, sizeof(r->ts), "%s", hv ? hv : "");
		hv = nng_http_req_get_header(req, "X-Clm-Signature");
		snprintf(r->sig, sizeof(r->sig), "%s", hv ? hv : "");
		snprintf(r->body, sizeof(r->body), "%.*s",
		        (int) (len < sizeof(r->body) ? len
		                                     : sizeof(r->body) - 1),
		        (const char *) data);
		r->at_ns = recv_mono_ns();
		status = rv->status[rv->n] != 0 ? rv->status[rv->n] : 200;
		rv->n++;
		pthread_cond_broadcast(&rv->cv);
	}
	pthread_mutex_unlock(&rv->mu);
	nng_http_res *res;
	int e = nng_http_res_alloc(&res);
	if (e == 0) {
		e = nng_http_res_set_status(res, (uint16_t) status);
		if (e != 0) {
			nng_http_res_free(res);
		}
	}
	if (e != 0) {
		nng_aio_finish(aio, e);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/*
 * Starts nng's https server on 127.0.0.1:port with the certificate and
 * key of cert_key, handing every path and method to recv_tls_cb; 0 or
 * nng's error (NNG_EADDRINUSE: the port was taken since it was picked).
 */
static int
recv_tls_listen(struct recv *rv, const char *cert_key, int port)
{
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	nng_url *u;
	int e = nng_url_parse(&u, url);
	cr_assert_eq(e, 0, "%s: %s", url, nng_strerror(e));
	nng_http_server *srv;
	e = nng_http_server_hold(&srv, u);
	nng_url_free(u);
	cr_assert_eq(e, 0, "%s: %s", url, nng_strerror(e));
	nng_tls_config *cfg;
	cr_assert_eq(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER), 0);
	e = nng_tls_config_cert_key_file(cfg, cert_key, NULL);
	cr_assert_eq(e, 0, "%s: %s", cert_key, nng_strerror(e));
	cr_assert_eq(nng_http_server_set_tls(srv, cfg), 0);
	nng_tls_config_free(cfg); /* the server holds it */
	nng_http_handler *h;
	cr_assert_eq(nng_http_handler_alloc(&h, "/", recv_tls_cb), 0);
	cr_assert_eq(nng_http_handler_set_tree(h), 0);
	cr_assert_eq(nng_http_handler_set_method(h, NULL), 0);
	cr_assert_eq(nng_http_handler_collect_body(h, true, 65536), 0);
	cr_assert_eq(nng_http_handler_set_data(h, rv, NULL), 0);
	cr_assert_eq(nng_http_server_add_handler(srv, h), 0);
	e = nng_http_server_start(srv);
	if (e != 0) {
		nng_http_server_release(srv); /* frees h */
		return e;
	}
	rv->https = srv;
	rv->port = port;
	return 0;
}

void
recv_start_tls(struct recv *rv, const char *cert_key, const int *status,
        size_t n_status)
{
	memset(rv, 0, sizeof(*rv));
	rv->fd = -1;
	for (size_t i = 0; i < n_status && i < RECV_MAX; i++) {
		rv->status[i] = status[i];
	}
	pthread_mutex_init(&rv->mu, NULL);
	pthread_cond_init(&rv->cv, NULL);
	/* A port picked free may be taken before the bind: a few picks. */
	int e = NNG_EADDRINUSE;
	for (int i = 0; i < 4 && e == NNG_EADDRINUSE; i++) {
		int port = freeport_pick();
		cr_assert_gt(port, 0, "no free port");
		e = recv_tls_listen(rv, cert_key, port);
	}
	cr_assert_eq(e, 0, "https receiver: %s", nng_strerror(e));
}

void
recv_stop(struct recv *rv)
{
	if (rv->https != NULL) {
		/* Stopped, the handler runs no more: rv may go. */
		nng_http_server_stop(rv->https);
		nng_http_server_release(rv->https);
		rv->https = NULL;
		return;
	}
	pthread_mutex_lock(&rv->mu);
	rv->stop = true;
	pthread_mutex_unlock(&rv->mu);
	pthread_join(rv->thread, NULL);
	close(rv->fd);
}

/* Waits up to ms for n requests; returns how many came. */
int
recv_wait(struct recv *rv, int n, int ms)
{
	int64_t deadline = recv_mono_ns() + (int64_t) ms * 1000000;
	pthread_mutex_lock(&rv->mu);
	while (rv->n < n && recv_mono_ns() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&rv->cv, &rv->mu, &ts);
	}
	int got = rv->n;
	pthread_mutex_unlock(&rv->mu);
	return got;
}

int
recv_count(struct recv *rv)
{
	pthread_mutex_lock(&rv->mu);
	int n = rv->n;
	pthread_mutex_unlock(&rv->mu);
	return n;
}

void
recv_check_sig(const struct recv_req *r, const char *secret)
{
	char path[] = "/tmp/clm-hookrecv-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fprintf(f, "%s.%s", r->ts, r->body);
	cr_assert_eq(fclose(f), 0);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -hmac '%s' '%s'",
	        secret, path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char line[256] = "";
	char *got = fgets(line, sizeof(line), p);
	int rc = pclose(p);
	unlink(path);
	cr_assert(got != NULL && rc == 0, "%s failed", cmd);
	/* "HMAC-SHA2-256(path)= HEX" (the name varies by version). */
	char *eq = strstr(line, "= ");
	cr_assert_not_null(eq, "openssl said %s", line);
	char want[96];
	snprintf(want, sizeof(want), "sha256=%.64s", eq + 2);
	cr_assert_str_eq(r->sig, want);
}
