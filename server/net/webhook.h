/*
 * webhook: delivers journeys' messages to their webhooks (docs/journeys.md
 * "Webhooks").
 *
 * The messages waiting are in the store (`jny_hooks`, store/journey.h),
 * put there by the writer as it sends them. One thread reads the due
 * ones every WEBHOOK_POLL_MS (or when woken, or when a request ends), at
 * most WEBHOOK_INFLIGHT in flight and WEBHOOK_PER_JOURNEY of one
 * journey, with the journey's url, secret and max_attempts from its
 * definition; it POSTs them with nng's HTTP client, each within the
 * timeout, and reports each outcome to the writer (writer_hook_report),
 * which records it. No read transaction is held across a request. After
 * a failure, a journey's other messages wait 1 s, 2 s, 4 s, ... (at most
 * 5 min, the failures in a row) and then go one at a time until one is
 * delivered, the failing journeys together with half the requests at
 * most: a receiver that is down or slow holds up mostly its own.
 *
 * A message whose journey was deleted (or deleted and defined again: a
 * new id) is dropped without a try: reported with journey 0, which the
 * writer deletes without counting (the journey's counters are gone). A
 * message whose journey no longer has a webhook is a dead letter with
 * the error "journey has no webhook".
 *
 * https:// receivers are verified against a PEM CA bundle (config
 * webhook_ca_file, by default the system's, WEBHOOK_CA_FILE) and the
 * URL's host name; clmd presents no client certificate. The bundle is
 * read on a host's first request and kept parsed for the host's next
 * ones (up to 16 hosts): a changed bundle is read for a new host, and
 * for all after a restart. A CA file that cannot be read makes each
 * https:// attempt fail with "cannot read the CA file '...': ...". What a
 * request holds (its body, signature, retry schedule) is in
 * net/webhook_msg.h.
 */
#ifndef CLM_NET_WEBHOOK_H
#define CLM_NET_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "store/store.h"
#include "write/writer.h"

#define WEBHOOK_POLL_MS  200 /* between looks at the waiting ones */
#define WEBHOOK_INFLIGHT 8   /* requests at a time */
/* Requests at a time to one journey's webhook: a slow one leaves room. */
#define WEBHOOK_PER_JOURNEY (WEBHOOK_INFLIGHT / 2)
#define WEBHOOK_CA_FILE     "/etc/ssl/certs/ca-certificates.crt"

struct webhook;

/*
 * webhook_open starts the delivery thread over st, reporting to w; each
 * request has timeout_s seconds (config webhook_timeout_s) to be
 * answered; https:// receivers are verified against the PEM bundle
 * ca_file (config webhook_ca_file; NULL or "": WEBHOOK_CA_FILE), copied.
 * A ca_file other than WEBHOOK_CA_FILE that cannot be read is logged as
 * a warning, not an error (there may be no https:// webhook). st and w
 * must outlive it: close it before writer_free. Errors:
 * RESOURCE_EXHAUSTED (memory), UNAVAILABLE (a thread), with err saying
 * why.
 */
clm_err webhook_open(store *st, writer *w, int64_t timeout_s,
        const char *ca_file, struct webhook **out, char *err, size_t errlen);

/* webhook_wake makes the thread look at the waiting messages now. */
void webhook_wake(struct webhook *wh);

/*
 * webhook_close stops the thread, waiting for the requests in flight
 * (each at most its timeout) and frees wh. NULL is a no-op.
 */
void webhook_close(struct webhook *wh);

#endif /* CLM_NET_WEBHOOK_H */
