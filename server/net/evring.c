/*
 * evring: the retained events (evring.h).
 *
 * The ring is an array of max_events slots used circularly: head is the
 * oldest event's slot, n the events held. Each slot owns one allocation,
 * its topic, a NUL, then its text. Invariant: the events held are every
 * event appended with a seq from low on, so a resume from after_seq
 * misses exactly [after_seq + 1, low - 1] when after_seq + 1 < low. low
 * starts at the first seq clmd will publish (the ones before were never
 * here) and moves past every event dropped; an event too large to keep
 * empties the ring, so the invariant holds without holes.
 */
#include "net/evring.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct evring_slot {
	uint64_t seq;
	char *mem; /* topic, NUL, text */
	size_t topic_len, len;
};

struct evring {
	pthread_mutex_t mu;
	struct evring_slot *slots; /* max_events of them */
	size_t max_events, max_bytes;
	size_t head, n, bytes;
	uint64_t low; /* the oldest seq the ring still has every event from */
	struct evring_listener *listeners;
};

clm_err
evring_open(
        size_t max_events, size_t max_bytes, uint64_t next_seq, evring **out)
{
	evring *r = calloc(1, sizeof(*r));
	if (r == NULL || max_events == 0) {
		free(r);
		return CLM_RESOURCE_EXHAUSTED;
	}
	r->slots = calloc(max_events, sizeof(r->slots[0]));
	if (r->slots == NULL) {
		free(r);
		return CLM_RESOURCE_EXHAUSTED;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->max_events = max_events;
	r->max_bytes = max_bytes;
	r->low = next_seq;
	*out = r;
	return CLM_OK;
}

void
evring_set_next(evring *r, uint64_t next_seq)
{
	pthread_mutex_lock(&r->mu);
	/*
	 * Only an empty ring moves: one holding events already has every
	 * seq from low on, and its next event's seq moves low itself.
	 */
	if (r->n == 0 && next_seq > r->low) {
		r->low = next_seq;
	}
	pthread_mutex_unlock(&r->mu);
}

/* Drops the oldest event; r->n > 0, under mu. */
static void
evring_drop(evring *r)
{
	struct evring_slot *s = &r->slots[r->head];
	r->bytes -= s->topic_len + s->len;
	r->low = s->seq + 1;
	free(s->mem);
	s->mem = NULL;
	r->head = (r->head + 1) % r->max_events;
	r->n--;
}

void
evring_close(evring *r)
{
	if (r == NULL) {
		return;
	}
	while (r->n > 0) {
		evring_drop(r);
	}
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

/* Whether l wants an event of topic. */
static bool
evring_wants(const struct evring_listener *l, const char *topic)
{
	return strncmp(topic, l->prefix, l->prefix_len) == 0;
}

void
evring_append(evring *r, uint64_t seq, const char *topic, const char *text,
        size_t len)
{
	size_t tlen = strlen(topic);
	struct evring_entry e
	        = { .seq = seq, .topic = topic, .text = text, .len = len };
	pthread_mutex_lock(&r->mu);
	char *mem = tlen + len <= r->max_bytes ? malloc(tlen + 1 + len) : NULL;
	if (mem == NULL) {
		/* Not kept: whoever resumes from before it gets a gap. */
		while (r->n > 0) {
			evring_drop(r);
		}
		r->low = seq + 1;
	} else {
		while (r->n > 0
		        && (r->n == r->max_events
		                || r->bytes + tlen + len > r->max_bytes)) {
			evring_drop(r);
		}
		memcpy(mem, topic, tlen + 1);
		memcpy(mem + tlen + 1, text, len);
		struct evring_slot *s
		        = &r->slots[(r->head + r->n) % r->max_events];
		*s = (struct evring_slot) {
			.seq = seq, .mem = mem, .topic_len = tlen, .len = len
		};
		if (r->n == 0) {
			r->low = seq;
		}
		r->n++;
		r->bytes += tlen + len;
	}
	for (struct evring_listener *l = r->listeners; l != NULL;
	        l = l->next) {
		if (evring_wants(l, topic)) {
			l->fn(l->arg, &e);
		}
	}
	pthread_mutex_unlock(&r->mu);
}

void
evring_listen(evring *r, struct evring_listener *l, uint64_t after_seq,
        const char *prefix, evring_fn fn, void *arg)
{
	*l = (struct evring_listener) {
		.fn = fn,
		.arg = arg,
		.prefix = prefix,
		.prefix_len = strlen(prefix),
	};
	pthread_mutex_lock(&r->mu);
	if (after_seq != UINT64_MAX && after_seq + 1 < r->low) {
		struct evring_entry gap = {
			.lost_from = after_seq + 1,
			.lost_to = r->low - 1,
		};
		fn(arg, &gap);
	}
	for (size_t i = 0; after_seq != UINT64_MAX && i < r->n; i++) {
		struct evring_slot *s
		        = &r->slots[(r->head + i) % r->max_events];
		struct evring_entry e = {
			.seq = s->seq,
			.topic = s->mem,
			.text = s->mem + s->topic_len + 1,
			.len = s->len,
		};
		if (s->seq > after_seq && evring_wants(l, e.topic)) {
			fn(arg, &e);
		}
	}
	l->next = r->listeners;
	r->listeners = l;
	pthread_mutex_unlock(&r->mu);
}

void
evring_unlisten(evring *r, struct evring_listener *l)
{
	if (l == NULL) {
		return;
	}
	pthread_mutex_lock(&r->mu);
	for (struct evring_listener **p = &r->listeners; *p != NULL;
	        p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

void
evring_stats(evring *r, size_t *events, size_t *bytes, uint64_t *oldest)
{
	pthread_mutex_lock(&r->mu);
	*events = r->n;
	*bytes = r->bytes;
	*oldest = r->n > 0 ? r->slots[r->head].seq : 0;
	pthread_mutex_unlock(&r->mu);
}
