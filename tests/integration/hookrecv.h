/*
 * hookrecv: a tiny HTTP server on 127.0.0.1 for the webhook tests
 * (jny_webhook_test.c, webhook_deliver_test.c): one request per
 * connection, recorded, and answered with the status its script gives
 * (200 past the script's end). recv_start_tls makes it an https://
 * receiver instead: nng's HTTP server over TLS with a certificate the
 * test made, so the webhook client's TLS and its verification of the
 * receiver are the real ones. Asserts with Criterion on set-up failures.
 */
#ifndef CLM_TEST_HOOKRECV_H
#define CLM_TEST_HOOKRECV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECV_MAX 16

/* One request the receiver got. */
struct recv_req {
	char line[256]; /* "POST /path HTTP/1.1" */
	char ctype[64];
	char message_id[64];
	char ts[32];
	char sig[96];
	char body[2048];
	int64_t at_ns; /* monotonic, when it arrived */
};

struct recv {
	int fd; /* -1 with https */
	int port;
	struct nng_http_server *https; /* NULL: plain HTTP (the thread) */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	int status[RECV_MAX]; /* the answer to request i (0: 200) */
	struct recv_req req[RECV_MAX];
	int n;
};

/* recv_start starts rv on a free 127.0.0.1 port answering status[i]. */
void recv_start(struct recv *rv, const int *status, size_t n_status);
/*
 * recv_start_tls starts rv as an https:// receiver on 127.0.0.1, on a
 * port freeport_pick gives, with the certificate and key of the PEM file
 * cert_key (both in it), answering status[i] as recv_start does. Every
 * other recv_ function works as for a plain receiver.
 */
void recv_start_tls(struct recv *rv, const char *cert_key, const int *status,
        size_t n_status);
/* recv_stop stops the thread (or the https server) and closes the port. */
void recv_stop(struct recv *rv);
/* recv_wait waits up to ms for n requests; returns how many came. */
int recv_wait(struct recv *rv, int n, int ms);
/* recv_count returns how many requests came. */
int recv_count(struct recv *rv);
/* recv_mono_ns is CLOCK_MONOTONIC in ns (recv_req.at_ns's clock). */
int64_t recv_mono_ns(void);
/*
 * recv_check_sig checks r's X-Clm-Signature with `openssl dgst -sha256
 * -hmac secret` over "<X-Clm-Timestamp>.<body>" (asserts).
 */
void recv_check_sig(const struct recv_req *r, const char *secret);

#endif /* CLM_TEST_HOOKRECV_H */
