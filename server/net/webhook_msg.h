/*
 * webhook_msg: what one webhook request of a journey's message holds
 * (docs/journeys.md "Webhooks"): its JSON body, its signature, and when a
 * failed one is tried again. Pure: no I/O, no clock, no store, so the
 * unit tests check them alone; net/webhook.c sends them.
 */
#ifndef CLM_NET_WEBHOOK_MSG_H
#define CLM_NET_WEBHOOK_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"

#define WEBHOOK_RETRY_MIN_MS 1000    /* after the first failed try */
#define WEBHOOK_RETRY_MAX_MS 3600000 /* the longest between tries */
/* "sha256=", 64 hex digits and the NUL. */
#define WEBHOOK_SIG_LEN (7 + 64 + 1)

/*
 * webhook_retry_ms says when to try again a delivery whose try number
 * attempts + 1 (attempts: the failed tries before it) failed at now_ms:
 * now_ms plus 1 s * 2^attempts, at most 1 h; or 0 when that was the
 * last of max_attempts tries (a dead letter).
 */
int64_t webhook_retry_ms(
        int64_t now_ms, uint32_t attempts, unsigned max_attempts);

/*
 * webhook_body returns the JSON body of the message ev:
 *   {"message_id": "jm_…", "journey": "NAME", "step": 0,
 *    "customer_id": "c1", "recommendation_kind": "CART_REMINDER",
 *    "action": "…", "channel": "EMAIL", "item": "sku-1",
 *    "at_ms": 1767139200000, "position": 42}
 * on one line, strings escaped as JSON (jsonstr.h), enums by name (a
 * number for a value the proto does not name). NUL-terminated, its
 * length in *len (may be NULL); malloc'd, NULL when memory is exhausted.
 */
char *webhook_body(const Clm__V1__LifecycleEvent *ev, size_t *len);

/*
 * webhook_sign writes the X-Clm-Signature of body (len bytes) sent at
 * unix second ts_s under secret into out: "sha256=" and the lowercase
 * hex of HMAC-SHA256(secret, "<ts_s>.<body>").
 */
void webhook_sign(const char *secret, int64_t ts_s, const char *body,
        size_t len, char out[WEBHOOK_SIG_LEN]);

/*
 * webhook_hmac_hex writes the lowercase hex of HMAC-SHA256(key, data)
 * into out[65] (webhook_sign's MAC, over any bytes).
 */
void webhook_hmac_hex(const void *key, size_t key_len, const void *data,
        size_t len, char out[65]);

/*
 * webhook_url_shown writes url into out (n bytes, NUL-terminated, cut to
 * fit) without the user information of its authority ("user:pw@"), so
 * that logs never show credentials a URL may carry.
 */
void webhook_url_shown(const char *url, char *out, size_t n);

#endif /* CLM_NET_WEBHOOK_MSG_H */
