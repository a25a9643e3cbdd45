/*
 * What jstream_test and jstream_failover_test share: publishes made
 * through jstream with what their ack functions were told (pubs), the
 * threads that publish and read, and the checks of what was read.
 * Criterion asserts only on the test's thread: code on NATS or test
 * threads counts anything unexpected in odd instead.
 */
#ifndef CLM_UNIT_JSTREAM_FIXTURE_H
#define CLM_UNIT_JSTREAM_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/jstream.h"

#define ACK_MS 3000 /* the handles' ack_timeout_ms */
#define MAXPUB 40000

/* One publish and what its ack function was told. */
struct pub {
	char data[48];
	size_t len; /* 0: jstream_publish refused it (no ack) */
	atomic_int calls;
	clm_err err;
	uint64_t seq;
	bool duplicate;
};

extern struct pub *pubs;  /* MAXPUB of them */
extern atomic_int npubs;  /* taken */
extern atomic_int nacked; /* ack function calls */
extern atomic_int nok;    /* of them CLM_OK */
extern atomic_int odd;    /* anything unexpected, off the test's thread */

int64_t now_ms(void);
void sleep_ms(int ms);

/* on_ack is the ack function of publish: arg is the struct pub. */
void on_ack(void *arg, const struct jstream_ack *a);

/* pubs_init allocates pubs and zeroes the counters. */
void pubs_init(void);

/* open_on opens stream on urls with ACK_MS; asserts it worked. */
jstream *open_on(const char *urls, const char *stream, int replicas);

/*
 * publish publishes data on subject as a new pub; returns its index, or
 * -1 when jstream_publish refused it as UNAVAILABLE (no ack then). Any
 * thread.
 */
int publish(
        jstream *s, const char *subject, const char *msg_id, const char *data);

/* wait_for waits up to ms until *count (nacked or nok) reaches n. */
void wait_for(atomic_int *count, int n, int ms);

/* acked_ok returns pub i, asserting it got one ack, CLM_OK. */
const struct pub *acked_ok(int i);

/* A publishing thread (publisher_main): entries "t<thread>-<n>". */
struct publisher {
	jstream *s;
	int thread;        /* 0 or 1 */
	int count;         /* publishes to make; 0: until stop */
	atomic_bool *stop; /* may be NULL with count */
	int taken;         /* publishes jstream_publish took */
};

void *publisher_main(void *arg);

/*
 * read_until reads entries from s's subscription until one at or past
 * last, for at most ms, asserting they come in order; returns how many,
 * with their positions and data in seqs and datas (cap of them).
 */
int read_until(jstream *s, uint64_t last, uint64_t *seqs, char (*datas)[48],
        int cap, int ms);

/*
 * check_read asserts that every pub acked OK is among the n entries
 * read (seqs ascending), with its data; returns how many were acked OK.
 */
int check_read(const uint64_t *seqs, char (*datas)[48], int n);

#endif /* CLM_UNIT_JSTREAM_FIXTURE_H */
