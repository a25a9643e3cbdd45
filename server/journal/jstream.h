/*
 * jstream: the journal on a NATS JetStream stream (issue 16), shared by
 * every clmd node of a cluster. The only files that include nats.h are
 * jstream.c and jstream_admin.c (through jstream_internal.h), as net/
 * alone includes nng.h.
 *
 * The stream holds opaque entries (the writer's bytes) on subjects under
 * "<stream>.": a node publishes entries (any thread, asynchronously, each
 * acknowledged once the stream stored it on a majority of its replicas)
 * and reads every entry of every node back, in stream order, through one
 * ordered subscription (the writer thread's). A position is the stream
 * sequence of an entry: 1, 2, 3, ..., with gaps where entries were erased
 * (a forgotten customer's).
 *
 * Subjects: "<stream>.c.<key>" for an entry about one customer, where key
 * is jstream_subject_key of its id (never the id: ids may hold '.', '*',
 * '>' or spaces, and a subject is seen by whoever can list them), so that
 * jstream_purge_key erases exactly that customer's entries;
 * "<stream>.g" for the others (catalog, spend, experiments), and
 * "<stream>.f" for ForgetCustomer entries, which stay.
 *
 * Threads: jstream_publish from any thread; jstream_subscribe and
 * jstream_next from one thread at a time (the writer's). The calls that
 * wait for the server (info, get, purge) from any thread, also while
 * another is in one of them: they only read what jstream_open set and
 * make requests on the connection, which libnats serializes itself (the
 * writer reads while its purge thread erases).
 */
#ifndef CLM_JOURNAL_JSTREAM_H
#define CLM_JOURNAL_JSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

typedef struct jstream jstream;

struct jstream_opts {
	/* "nats://h1:4222,nats://h2:4222" (tls:// for TLS); required. */
	const char *urls;
	/* The stream's name; NULL or "": "CLM". */
	const char *stream;
	/* Replicas when the stream is created (1..5); 0: 3. */
	int replicas;
	/* NATS credentials (.creds file: JWT and nkey seed), or NULL. */
	const char *creds_file;
	/* user:password or a token, from a file (first line), or NULL. */
	const char *auth_file;
	/* TLS: the CA to verify the servers, a client certificate and its
	 * key (PEM files), each NULL when unused; any of them turns TLS on. */
	const char *tls_ca_file;
	const char *tls_cert_file;
	const char *tls_key_file;
	/* How long a publish waits for the stream's ack; 0: 5000 ms. */
	int64_t ack_timeout_ms;
	/* Largest entry; 0: what the server allows (max_payload), less room
	 * for the headers. jstream_max_entry tells the value in force. */
	size_t max_entry;
};

/*
 * jstream_open connects to o->urls (reconnecting by itself afterwards,
 * forever), then finds the stream o->stream, creating it when absent:
 * subjects "<stream>.>", file storage, o->replicas replicas, limits
 * retention with no limit on age, bytes or entries (nothing is dropped
 * unless an operator shortens the retention), a 2 minute duplicate window.
 * An existing stream with other subjects or storage is refused
 * (FAILED_PRECONDITION: err says which setting). The key of subject names
 * (jstream_subject_key) is kept in the stream itself, on the subject
 * "<stream>.k": the first node to find none in a stream that never held
 * anything publishes a random one, and every node uses the first key the
 * stream holds. That message has a position of its own, which
 * jstream_next skips and jstream_get does not find: readers see a gap
 * there, as where entries were erased. A stream that held entries and has
 * no key lost it to a purge: FAILED_PRECONDITION (see jstream_info).
 *
 * Errors, with the reason in err: INVALID_ARGUMENT (bad urls or options),
 * UNAVAILABLE (no server answers, no JetStream, or no stream leader within
 * 15 s), UNAUTHENTICATED (credentials refused), FAILED_PRECONDITION.
 */
clm_err jstream_open(
        const struct jstream_opts *o, jstream **out, char *err, size_t errlen);

/* The largest entry jstream_publish takes, in bytes. */
size_t jstream_max_entry(const jstream *s);

/*
 * jstream_subject_key writes into key (33 bytes) the 32 hex digits of a
 * keyed hash (BLAKE2b-128 with the stream's key) of id[0..len): the
 * subject suffix of the entries about that customer or anonymous id.
 */
void jstream_subject_key(
        const jstream *s, const void *id, size_t len, char key[33]);

/* What a publish came to, for its ack function (a NATS thread). */
struct jstream_ack {
	clm_err err;     /* CLM_OK, or UNAVAILABLE / DEADLINE_EXCEEDED */
	uint64_t seq;    /* the entry's position when err is CLM_OK */
	bool duplicate;  /* msg_id was seen in the duplicate window: seq is
	                    the earlier entry's */
	const char *why; /* err's reason; valid during the call */
};

typedef void (*jstream_ack_fn)(void *arg, const struct jstream_ack *a);

/*
 * jstream_publish sends one entry: data[0..len) on "<stream>.<subject>"
 * (subject: "c.<key>", "g" or "f"), with msg_id (NULL or "": none) as its
 * Nats-Msg-Id. It returns without waiting: fn(arg, ack) is called exactly
 * once, on a NATS thread, with the stream's ack, or with an error when
 * none came within ack_timeout_ms or the connection was lost (then the
 * entry may or may not be in the stream). Returns CLM_OK (fn will be
 * called), INVALID_ARGUMENT (len past jstream_max_entry), or UNAVAILABLE
 * (not connected, closing, too many publishes in flight); then fn is not
 * called. INVALID_ARGUMENT also for a subject that is not tokens of
 * [A-Za-z0-9_-] joined by dots, or a msg_id of more than 256 bytes or
 * with control characters (it is a header value: hash ids that may have
 * them). data is copied. A failed entry is not retried: publishing it
 * again with the same msg_id within the duplicate window is safe.
 */
clm_err jstream_publish(jstream *s, const char *subject, const char *msg_id,
        const void *data, size_t len, jstream_ack_fn fn, void *arg);

/*
 * jstream_subscribe (re)starts reading the stream at position from (>= 1):
 * an ordered consumer, which the client re-creates by itself after a gap
 * or a lost server, so jstream_next hands out entries in order, each once
 * (its idle heartbeat is 1 s: it is re-created about 2 s after its server
 * or the stream leader went, once there is a leader again).
 * Returns CLM_OK or UNAVAILABLE with the reason in err.
 */
clm_err jstream_subscribe(jstream *s, uint64_t from, char *err, size_t errlen);

/* One entry read from the stream. */
struct jstream_msg {
	uint64_t seq; /* its position */
	const void *data;
	size_t len;
	int64_t stored_ms; /* when the stream stored it (server clock) */
	void *impl;        /* jstream's; free with jstream_msg_free */
};

/*
 * jstream_next waits up to timeout_ms (0: no wait) for the next entry.
 * Returns CLM_OK with *m set (release it with jstream_msg_free),
 * DEADLINE_EXCEEDED when none came, UNAVAILABLE (err says why) when the
 * subscription failed; then jstream_subscribe again.
 */
clm_err jstream_next(jstream *s, int64_t timeout_ms, struct jstream_msg *m,
        char *err, size_t errlen);
void jstream_msg_free(struct jstream_msg *m);

/* The stream's state (jstream_info). */
struct jstream_state {
	/* The server's: 0, 0 before anything was stored; last_seq stays
	 * where it was when the last entries are erased. */
	uint64_t first_seq, last_seq;
	uint64_t entries, bytes; /* the subject key's message among them */
	int replicas;
	bool leader; /* a leader is known */
};

/*
 * jstream_info asks the server for the stream's state. Returns CLM_OK, or
 * UNAVAILABLE with the reason in err. When the stream's first position
 * passed the subject key's entry (a purge by sequence removed it), it
 * also publishes the key again, same bytes, so that nodes started later
 * find it (call it regularly: the writer does, every second).
 */
clm_err jstream_info(
        jstream *s, struct jstream_state *st, char *err, size_t errlen);

/*
 * jstream_get reads the entry at position seq: *data (malloc'd, free it)
 * and *len. Returns CLM_OK, NOT_FOUND when there is none (erased, or
 * past the end), UNAVAILABLE with the reason in err.
 */
clm_err jstream_get(jstream *s, uint64_t seq, void **data, size_t *len,
        char *err, size_t errlen);

/*
 * jstream_purge_key erases every entry on "<stream>.c.<key>" below
 * position before (0: all of them): their content is gone from the
 * stream's files, not only marked deleted (each is erased: overwritten
 * on every replica; a purge by subject would leave the bytes). Not yet
 * from a replicated stream's raft logs: they keep it for minutes, until
 * compacted (see jstream_admin.c). Returns
 * CLM_OK (also when there was none), INVALID_ARGUMENT when key is not 32
 * lowercase hex digits, or UNAVAILABLE with the reason in err (some may
 * be erased then: call it again).
 */
clm_err jstream_purge_key(jstream *s, const char key[33], uint64_t before,
        char *err, size_t errlen);

/*
 * jstream_purge_slice is jstream_purge_key in slices: it erases the
 * entries on "<stream>.c.<key>" below before (0: all) from position
 * *from on, at most max of them, then sets *from to where the next slice
 * starts and *done to whether none is left. A call that finds none left
 * costs one request to the server. Returns as jstream_purge_key (*from
 * then says where to retry; *done is written only on CLM_OK).
 */
clm_err jstream_purge_slice(jstream *s, const char key[33], uint64_t before,
        uint64_t *from, size_t max, bool *done, char *err, size_t errlen);

/*
 * jstream_close drains what is in flight (acks still arriving call their
 * functions, with UNAVAILABLE for those that never come: it waits
 * ack_timeout_ms and a second at most) and disconnects; no function runs
 * after it returns. No other thread may be in a jstream call then (stop
 * publishing first). NULL is a no-op.
 */
void jstream_close(jstream *s);

#endif /* CLM_JOURNAL_JSTREAM_H */
