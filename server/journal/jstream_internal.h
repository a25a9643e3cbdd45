/*
 * jstream_internal: what jstream's two files share (jstream.c, the
 * connection, publishing with its acks, the ordered subscription and
 * closing; jstream_admin.c, the stream, its subject key and the requests
 * that wait for the server: info, get, purge). Not for other modules:
 * they and jstream.h never see nats.h.
 */
#ifndef CLM_JOURNAL_JSTREAM_INTERNAL_H
#define CLM_JOURNAL_JSTREAM_INTERNAL_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/jstream.h"

#define JSTREAM_DEFAULT_NAME   "CLM"
#define JSTREAM_KEY_SUBJECT    "k" /* "<stream>.k": the subject key */
#define JSTREAM_KEY_BYTES      32u /* crypto_generichash_KEYBYTES */
#define JSTREAM_HASH_BYTES     16u /* BLAKE2b-128 */
#define JSTREAM_SUBJECT_MAX    128u
#define JSTREAM_MSG_ID_MAX     256u
#define JSTREAM_NAME_MAX       64u
#define JSTREAM_ACK_DEFAULT_MS 5000
/* Bound on one request to the server (stream info, get, erase). */
#define JSTREAM_API_WAIT_MS 5000
/* One try of a request that only the stream leader answers. */
#define JSTREAM_RETRY_MS 1000
/* How long jstream_open waits for the stream and its leader. */
#define JSTREAM_OPEN_WAIT_MS 15000
/* Room for the headers of an entry (Nats-Msg-Id) under max_payload. */
#define JSTREAM_HDR_ROOM 512u
/* Publishes in flight at most; jstream_publish refuses past them. */
#define JSTREAM_INFLIGHT_MAX   16384u
#define JSTREAM_INFLIGHT_BYTES (256u << 20)
#define JSTREAM_PEND_BUCKETS   1024u
/* How long jstream_close waits for the connection to close. */
#define JSTREAM_CLOSE_WAIT_S 10
/* The ordered consumer's idle heartbeat. */
#define JSTREAM_HEARTBEAT_NS (1000LL * 1000 * 1000)

/* A publish waiting for its ack, found by its message's address. */
struct jstream_pend {
	natsMsg *msg;
	jstream_ack_fn fn;
	void *arg;
	size_t len;
	struct jstream_pend *next;
};

struct jstream {
	natsConnection *nc;
	jsCtx *js;
	char stream[JSTREAM_NAME_MAX];
	size_t stream_len;
	char urls[512]; /* for messages */
	unsigned char key[JSTREAM_KEY_BYTES];
	int64_t ack_timeout_ms;
	size_t max_entry;
	int replicas; /* of a stream jstream_open creates */

	/* The publishes in flight (mu): every one of them is in pend until
	 * its ack function is called. */
	pthread_mutex_t mu;
	pthread_cond_t idle; /* inflight came to 0, or closed came */
	struct jstream_pend *pend[JSTREAM_PEND_BUCKETS];
	size_t inflight, inflight_bytes;
	bool closing;
	bool closed;           /* the connection's closed callback came */
	jstream *live_next;    /* among the live streams (jstream.c) */
	atomic_bool published; /* a publish was taken by the library */

	/* The ordered subscription (the reading thread's). */
	natsSubscription *sub;
	uint64_t last_seq; /* the last entry jstream_next handed out */

	/* The subject key's entry, atomic (jstream_admin.c): jstream_info
	 * publishes the key again when a purge removed it. */
	uint64_t key_seq;
};

/*
 * jstream_nats_text returns the reason of the last failed NATS call of
 * this thread (the library's text), or s's text. Valid until the next
 * NATS call of the thread.
 */
const char *jstream_nats_text(natsStatus s);

/*
 * jstream_ensure_stream finds the stream, or creates it (jstream_open's
 * rules), and waits for it to have a leader. Errors as jstream_open.
 */
clm_err jstream_ensure_stream(jstream *s, char *err, size_t errlen);

/*
 * jstream_load_key reads the subject key from "<stream>.k", publishing a
 * random one first when there is none. Errors as jstream_open.
 */
clm_err jstream_load_key(jstream *s, char *err, size_t errlen);

#endif /* CLM_JOURNAL_JSTREAM_INTERNAL_H */
