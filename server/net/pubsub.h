/*
 * pubsub: the stage-change stream, an NNG PUB socket.
 *
 * Each message is an ASCII topic ("stage/RETENTION", "risk/RECENT_REFUND"),
 * one NUL byte, then a serialized clm.v1.LifecycleEvent, so SUB prefix
 * filters select by topic. PUB drops messages for slow subscribers; events
 * carry seq so a subscriber can see a gap.
 */
#ifndef CLM_PUBSUB_H
#define CLM_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

#include "clm/error.h"
#include "clm/v1/clm.pb-c.h"

struct pubsub;

/*
 * pubsub_open listens on url. With owner_only, an ipc:// socket file is
 * made mode 0600 before the listener starts accepting (nng otherwise leaves
 * it to the umask), so other local users cannot connect. Returns
 * UNAVAILABLE with a one-line reason in err when it cannot.
 */
clm_err pubsub_open(const char *url, bool owner_only, struct pubsub **out,
        char *err, size_t errlen);

/* pubsub_close closes the socket; NULL is a no-op. */
void pubsub_close(struct pubsub *ps);

/*
 * pubsub_abandon frees ps without closing its socket, for an exit after
 * nng wedged (see rpc_close): the process is about to end anyway.
 */
void pubsub_abandon(struct pubsub *ps);

/*
 * pubsub_topic writes the topic of ev ("stage/NURTURE", "risk/RECENT_REFUND",
 * "segment/enter/NAME", "segment/exit/NAME", "journey/NAME") into buf,
 * returning its length, or 0 if it does not fit (PUBSUB_TOPIC_MAX bytes
 * always do).
 */
#define PUBSUB_TOPIC_MAX 96
size_t pubsub_topic(const Clm__V1__LifecycleEvent *ev, char *buf, size_t n);

/* pubsub_publish sends ev without blocking; failures are only logged. */
void pubsub_publish(struct pubsub *ps, const Clm__V1__LifecycleEvent *ev);

#endif /* CLM_PUBSUB_H */
