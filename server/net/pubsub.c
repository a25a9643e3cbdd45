#include "net/pubsub.h"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* Events queued per subscriber before PUB drops (NNG_OPT_SENDBUF). */
#define PUBSUB_QUEUE 1024

struct pubsub {
	nng_socket sock;
};

clm_err
pubsub_open(const char *url, bool owner_only, struct pubsub **out, char *err,
        size_t errlen)
{
	struct pubsub *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	int rv = nng_pub0_open(&ps->sock);
	if (rv != 0) {
		snprintf(err, errlen, "cannot open event socket: %s",
		        nng_strerror(rv));
		free(ps);
		return CLM_UNAVAILABLE;
	}
	/*
	 * Each subscriber's queue (nng's default is 16 messages): a write
	 * that moves many customers into or out of segments publishes a
	 * burst, and a reader that keeps up on average must not lose its
	 * middle. 1024 events of a few hundred bytes each per subscriber.
	 */
	rv = nng_socket_set_int(ps->sock, NNG_OPT_SENDBUF, PUBSUB_QUEUE);
	if (rv != 0) {
		snprintf(err, errlen, "cannot size the event queue: %s",
		        nng_strerror(rv));
		nng_close(ps->sock);
		free(ps);
		return CLM_UNAVAILABLE;
	}
	/*
	 * The permissions must be set on the listener before it starts: nng
	 * applies them right after bind(), before the first accept.
	 */
	nng_listener l;
	rv = nng_listener_create(&l, ps->sock, url);
	if (rv == 0 && owner_only && strncmp(url, "ipc://", 6) == 0) {
		rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600);
	}
	if (rv == 0) {
		rv = nng_listener_start(l, 0);
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot listen for events on '%s': %s",
		        url, nng_strerror(rv));
		nng_close(ps->sock);
		free(ps);
		return CLM_UNAVAILABLE;
	}
	*out = ps;
	return CLM_OK;
}

void
pubsub_close(struct pubsub *ps)
{
	if (ps == NULL) {
		return;
	}
	nng_close(ps->sock);
	free(ps);
}

void
pubsub_abandon(struct pubsub *ps)
{
	free(ps);
}

size_t
pubsub_topic(const Clm__V1__LifecycleEvent *ev, char *buf, size_t n)
{
	const ProtobufCEnumValue *v;
	const char *kind;
	if (ev->kind == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED
	        || ev->kind == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_EXITED) {
		/* Names are [a-z0-9_-]{1,64} (docs/segments.md). */
		int len = snprintf(buf, n, "segment/%s/%s",
		        ev->kind == CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED
		                ? "enter"
		                : "exit",
		        ev->segment);
		return len < 0 || (size_t) len >= n ? 0 : (size_t) len;
	}
	if (ev->kind == CLM__V1__LIFECYCLE_EVENT_KIND__JOURNEY_MESSAGE) {
		/* Names are [a-z0-9_-]{1,64} (docs/journeys.md). */
		int len = snprintf(buf, n, "journey/%s", ev->journey);
		return len < 0 || (size_t) len >= n ? 0 : (size_t) len;
	}
	if (ev->kind == CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL) {
		kind = "risk";
		v = protobuf_c_enum_descriptor_get_value(
		        &clm__v1__risk_reason__descriptor, (int) ev->reason);
	} else {
		kind = "stage";
		v = protobuf_c_enum_descriptor_get_value(
		        &clm__v1__stage__descriptor, (int) ev->to_stage);
	}
	int len = snprintf(buf, n, "%s/%s", kind, v ? v->name : "UNKNOWN");
	return len < 0 || (size_t) len >= n ? 0 : (size_t) len;
}

void
pubsub_publish(struct pubsub *ps, const Clm__V1__LifecycleEvent *ev)
{
	char topic[PUBSUB_TOPIC_MAX];
	size_t tlen = pubsub_topic(ev, topic, sizeof(topic));
	size_t plen = clm__v1__lifecycle_event__get_packed_size(ev);
	nng_msg *msg;
	if (tlen == 0 || nng_msg_alloc(&msg, tlen + 1 + plen) != 0) {
		log_warn("cannot publish event %llu",
		        (unsigned long long) ev->seq);
		return;
	}
	unsigned char *body = nng_msg_body(msg);
	memcpy(body, topic, tlen);
	body[tlen] = '\0';
	clm__v1__lifecycle_event__pack(ev, body + tlen + 1);
	int rv = nng_sendmsg(ps->sock, msg, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_msg_free(msg);
		log_debug("event %llu not published: %s",
		        (unsigned long long) ev->seq, nng_strerror(rv));
	}
}
