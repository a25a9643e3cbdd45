/*
 * evring: the retained buffer of the HTTP event stream (GET /api/events,
 * docs/api.md "HTTP event stream"): the most recent LifecycleEvents, each
 * with its seq, its topic ("stage/RETENTION") and its text (what the
 * stream sends), bounded both in events and in bytes. The writer appends
 * after each commit (as it publishes on the PUB socket); an HTTP stream
 * replays what it missed from it (Last-Event-ID) and then listens for
 * new events.
 *
 * An event whose seq is older than the oldest retained one is lost to a
 * resuming client: evring_listen tells it which seqs (a gap), it never
 * hides them. Thread-safe: one mutex guards the ring and its listeners;
 * a listener's function runs under it, so it must not block (an HTTP
 * stream copies into its own bounded buffer).
 */
#ifndef CLM_EVRING_H
#define CLM_EVRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"

typedef struct evring evring;

/*
 * One retained event, as a listener sees it; or, with text NULL, the
 * report of a gap: the events lost_from to lost_to (seqs) are not in the
 * ring (seq, topic and len are then 0, NULL and 0).
 */
struct evring_entry {
	uint64_t seq;
	const char *topic; /* NUL-terminated */
	const char *text;  /* len bytes (not NUL-terminated) */
	size_t len;
	uint64_t lost_from, lost_to;
};

/*
 * evring_fn receives one entry; the pointers are valid until it returns.
 * It runs with the ring's mutex held: it must not call evring functions
 * and must not block.
 */
typedef void (*evring_fn)(void *arg, const struct evring_entry *e);

/*
 * A listener, embedded in its owner's memory (evring_listen fills it):
 * its fields are the ring's until evring_unlisten.
 */
struct evring_listener {
	struct evring_listener *next;
	evring_fn fn;
	void *arg;
	const char *prefix;
	size_t prefix_len;
};

/*
 * evring_open makes a ring that keeps at most max_events events (>= 1)
 * whose topics and texts take at most max_bytes bytes together;
 * next_seq is the seq the next event will have (store_event_seq), so a
 * client resuming from before clmd started is told of the gap. Returns
 * CLM_OK and the ring in *out, or CLM_RESOURCE_EXHAUSTED.
 */
clm_err evring_open(
        size_t max_events, size_t max_bytes, uint64_t next_seq, evring **out);

/*
 * evring_set_next tells r that the next event will have seq next_seq:
 * when r holds no event and next_seq is past the seq it expected, the
 * seqs before next_seq become a gap to a resuming client. clmd calls it
 * after the journal replay, which takes seqs without publishing them.
 * Any thread.
 */
void evring_set_next(evring *r, uint64_t next_seq);

/*
 * evring_close frees r. Every listener must be gone (evring_unlisten).
 * NULL is a no-op.
 */
void evring_close(evring *r);

/*
 * evring_append copies the event seq (topic and len bytes of text) in,
 * dropping the oldest events until both bounds hold, and hands it to
 * every listener whose prefix its topic starts with. An event larger
 * than max_bytes by itself is not kept (it is lost to a later resume,
 * as a gap) but still goes to the listeners. seq must increase from
 * one call to the next. Any thread; the writer's in clmd.
 */
void evring_append(evring *r, uint64_t seq, const char *topic,
        const char *text, size_t len);

/*
 * evring_listen registers l: fn(arg, ...) gets first, when events after
 * after_seq are lost (dropped from the ring, or from before it began),
 * one gap entry naming them; then every retained event with a seq after
 * after_seq whose topic starts with prefix ("" for all), oldest first;
 * then each such event appended from then on. All under the ring's
 * mutex, so none is missed or seen twice. after_seq UINT64_MAX means
 * "from now on": nothing is replayed and no gap reported. prefix must
 * stay valid until evring_unlisten. Any thread; it cannot fail.
 */
void evring_listen(evring *r, struct evring_listener *l, uint64_t after_seq,
        const char *prefix, evring_fn fn, void *arg);

/*
 * evring_unlisten removes l: once it returns, its function does not run
 * again (nor is running). Not from an evring_fn. NULL is a no-op.
 */
void evring_unlisten(evring *r, struct evring_listener *l);

/*
 * evring_stats gives the number of events retained, their bytes and the
 * seq of the oldest (0 when none), for tests and telemetry.
 */
void evring_stats(evring *r, size_t *events, size_t *bytes, uint64_t *oldest);

#endif /* CLM_EVRING_H */
