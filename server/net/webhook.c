#include "net/webhook.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/journey.h"
#include "net/webhook_msg.h"
#include "store/journey.h"
#include "util/arena.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/thread.h"

/* Waiting deliveries examined per look (due or not). */
#define WEBHOOK_SCAN 256
/* Definitions remembered (journey id and defined_at_ms). */
#define WEBHOOK_DEFS 64
/*
 * Outcomes reported that the writer may not have recorded yet: until it
 * has (the delivery gone, or its attempts changed), the delivery is not
 * made again; after WEBHOOK_SENT_TTL_NS it is (a report the writer
 * could not record).
 */
#define WEBHOOK_SENT_MAX    4096
#define WEBHOOK_SENT_TTL_NS (30 * (int64_t) 1000000000)
/* Bytes of a failure's reason. */
#define WEBHOOK_ERROR 128
/*
 * Looks in a row that start nothing before the thread waits
 * WEBHOOK_POLL_MS: a table of deliveries not due yet is not read round
 * and round (WEBHOOK_SCAN each).
 */
#define WEBHOOK_IDLE_LOOKS 64
/* Journeys whose webhook is failing, remembered (see webhook_hold). */
#define WEBHOOK_HOLDS 64
/* The longest a failing webhook's other messages are held back. */
#define WEBHOOK_HOLD_MAX_MS (5 * 60 * 1000)
/* Requests at a time to failing journeys' webhooks, all together. */
#define WEBHOOK_FAILING (WEBHOOK_INFLIGHT / 2)
/* TLS client configs kept, one per https:// host (see webhook_tls). */
#define WEBHOOK_TLS_HOSTS 16

/* What a journey's definition says of its webhook. */
struct webhook_def {
	uint32_t id;
	int64_t defined_at_ms;
	char *url; /* NULL: no webhook */
	char *secret;
	unsigned max_attempts;
};

/* An outcome reported, not yet seen recorded. */
struct webhook_sent {
	uint64_t position;
	uint32_t attempts;
	int64_t at_ns;
};

/*
 * A journey whose last request failed: until until_ms none of its
 * messages is tried, then one at a time until one is delivered. With
 * WEBHOOK_PER_JOURNEY, a receiver that is down or never answers holds up
 * half the request slots before its first failure and one after, and the
 * other journeys' messages go on (docs/journeys.md, "Webhooks").
 */
struct webhook_hold {
	uint32_t journey;
	uint32_t failures; /* in a row */
	int64_t until_ms;  /* monotonic (clock_mono_ns / 1e6) */
};

/*
 * The TLS client config of one https:// host: the CA file parsed (the
 * system's bundle is some 200 KB of PEM, 140-odd certificates) and the
 * host name to verify. Made on a host's first request and shared by its
 * requests after, so the bundle is read and parsed once per host, not
 * once per request; at most WEBHOOK_TLS_HOSTS are kept (the least
 * recently used one makes room), which bounds the memory they hold
 * whatever the journeys' URLs. nng counts a config's references: a
 * request holds its own until it ends, so one dropped from here while
 * in flight stays valid. A config cannot change once used, hence one per
 * host (its server name) rather than one for all.
 */
struct webhook_tls {
	char *host; /* NULL: a free entry */
	nng_tls_config *cfg;
	uint64_t used; /* webhook.tls_clock when last used */
};

/* One request: what it sends, then nng's handles while in flight. */
struct webhook_try {
	struct webhook *wh;
	bool busy;    /* the slot holds a request */
	bool started; /* webhook_try_start ran */
	uint64_t position;
	uint32_t journey;
	uint32_t attempts;
	unsigned max_attempts;
	char *url;
	char *secret;
	char *body;
	size_t body_len;
	char message_id[JNY_MESSAGE_ID_LEN + 1];
	nng_url *u;
	nng_http_client *cli;
	nng_tls_config *tls;
	nng_http_req *req;
	nng_http_res *res;
	nng_aio *aio;
	bool canceled;             /* clmd is stopping: no report */
	char error[WEBHOOK_ERROR]; /* set when it could not start */
	bool done;                 /* answered (under webhook.mu) */
};

struct webhook {
	store *st;
	writer *w;
	int64_t timeout_ms;
	char *ca_file; /* PEM: the CAs https:// receivers are verified with */
	store_reader *rd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, woken; /* under mu */
	/* The requests in flight, for webhook_close to cancel (under mu). */
	nng_aio *aios[WEBHOOK_INFLIGHT];
	size_t n_done; /* tries[i].done set since the thread looked (mu) */
	/* The thread's own from here. */
	arena a;
	uint64_t after; /* where the next look starts */
	struct webhook_def defs[WEBHOOK_DEFS];
	size_t n_defs;
	struct webhook_sent sent[WEBHOOK_SENT_MAX];
	size_t n_sent;
	struct webhook_try tries[WEBHOOK_INFLIGHT];
	size_t n_busy; /* tries[i].busy */
	struct webhook_hold holds[WEBHOOK_HOLDS];
	size_t n_holds;
	struct webhook_tls tls[WEBHOOK_TLS_HOSTS];
	uint64_t tls_clock; /* ticks at every webhook_tls_get */
};

static void
webhook_def_clear(struct webhook_def *d)
{
	free(d->url);
	free(d->secret);
	*d = (struct webhook_def) { 0 };
}

/*
 * The webhook of rec's definition, parsed once per definition. NULL when
 * it does not parse (logged) or memory is exhausted.
 */
static const struct webhook_def *
webhook_def_get(struct webhook *wh, const Clm__V1__JourneyRecord *rec)
{
	for (size_t i = 0; i < wh->n_defs; i++) {
		if (wh->defs[i].id == rec->id
		        && wh->defs[i].defined_at_ms == rec->defined_at_ms) {
			return &wh->defs[i];
		}
	}
	if (wh->n_defs == WEBHOOK_DEFS) {
		/* Only redefinitions outgrow it: start again. */
		for (size_t i = 0; i < wh->n_defs; i++) {
			webhook_def_clear(&wh->defs[i]);
		}
		wh->n_defs = 0;
	}
	struct jny_def *jd;
	struct jny_error jerr;
	if (jny_parse(rec->definition, strlen(rec->definition), &jd, &jerr)
	        != CLM_OK) {
		log_warn(
		        "webhooks: the definition of journey '%s' does not parse: %s",
		        rec->name, jerr.msg);
		return NULL;
	}
	struct webhook_def *d = &wh->defs[wh->n_defs];
	*d = (struct webhook_def) { .id = rec->id,
		.defined_at_ms = rec->defined_at_ms,
		.max_attempts = jd->webhook_max_attempts };
	bool ok = true;
	if (jd->webhook_url != NULL) {
		d->url = strdup(jd->webhook_url);
		d->secret = strdup(
		        jd->webhook_secret != NULL ? jd->webhook_secret : "");
		ok = d->url != NULL && d->secret != NULL;
	}
	jny_free(jd);
	if (!ok) {
		webhook_def_clear(d);
		return NULL;
	}
	wh->n_defs++;
	return d;
}

static struct webhook_sent *
webhook_sent_find(struct webhook *wh, uint64_t position)
{
	for (size_t i = 0; i < wh->n_sent; i++) {
		if (wh->sent[i].position == position) {
			return &wh->sent[i];
		}
	}
	return NULL;
}

static void
webhook_sent_drop(struct webhook *wh, struct webhook_sent *s)
{
	*s = wh->sent[--wh->n_sent];
}

/* Forgets the reports older than the TTL. */
static void
webhook_sent_expire(struct webhook *wh, int64_t now_ns)
{
	for (size_t i = 0; i < wh->n_sent;) {
		if (now_ns - wh->sent[i].at_ns > WEBHOOK_SENT_TTL_NS) {
			webhook_sent_drop(wh, &wh->sent[i]);
		} else {
			i++;
		}
	}
}

/*
 * Reports an outcome to the writer and remembers it. When the writer
 * refuses it (stopping, or its queue full), the delivery stays due and
 * is made again.
 */
static void
webhook_report(struct webhook *wh, uint64_t position, uint32_t journey,
        uint32_t attempts, bool ok, int64_t retry_ms, const char *error)
{
	if (!writer_hook_report(
	            wh->w, position, journey, ok, retry_ms, error)) {
		return;
	}
	if (wh->n_sent < WEBHOOK_SENT_MAX) {
		wh->sent[wh->n_sent++] = (struct webhook_sent) {
			.position = position,
			.attempts = attempts,
			.at_ns = clock_mono_ns(),
		};
	}
}

static struct webhook_hold *
webhook_hold_find(struct webhook *wh, uint32_t journey)
{
	for (size_t i = 0; i < wh->n_holds; i++) {
		if (wh->holds[i].journey == journey) {
			return &wh->holds[i];
		}
	}
	return NULL;
}

/*
 * Notes a request's outcome for its journey: a success forgets a hold; a
 * failure holds the journey's other messages back 1 s, 2 s, 4 s, ... (the
 * failures in a row; at most WEBHOOK_HOLD_MAX_MS) from now.
 */
static void
webhook_hold_note(
        struct webhook *wh, uint32_t journey, bool ok, int64_t now_ms)
{
	struct webhook_hold *h = webhook_hold_find(wh, journey);
	if (ok) {
		if (h != NULL) {
			*h = wh->holds[--wh->n_holds];
		}
		return;
	}
	if (h != NULL && h->until_ms > now_ms) {
		return; /* a request made before the hold: the same failure */
	}
	if (h == NULL) {
		if (wh->n_holds < WEBHOOK_HOLDS) {
			h = &wh->holds[wh->n_holds++];
		} else {
			/* Full: the hold that ends first makes room. */
			h = &wh->holds[0];
			for (size_t i = 1; i < wh->n_holds; i++) {
				if (wh->holds[i].until_ms < h->until_ms) {
					h = &wh->holds[i];
				}
			}
		}
		*h = (struct webhook_hold) { .journey = journey };
	}
	h->failures++;
	int64_t delay = WEBHOOK_RETRY_MIN_MS;
	for (uint32_t i = 1; i < h->failures && delay < WEBHOOK_HOLD_MAX_MS;
	        i++) {
		delay *= 2;
	}
	h->until_ms = now_ms
	        + (delay < WEBHOOK_HOLD_MAX_MS ? delay : WEBHOOK_HOLD_MAX_MS);
}

/*
 * Whether the delivery at position of journey waits for now (monotonic
 * ms): in flight already, its journey held back, its journey's requests
 * in flight WEBHOOK_PER_JOURNEY, or, for a failing journey, one of its
 * own in flight or WEBHOOK_FAILING of all failing journeys' (so the
 * journeys whose receivers answer keep the other slots).
 */
static bool
webhook_held(struct webhook *wh, uint64_t position, uint32_t journey,
        int64_t now_ms)
{
	const struct webhook_hold *h = webhook_hold_find(wh, journey);
	if (h != NULL && h->until_ms > now_ms) {
		return true;
	}
	size_t out = 0;     /* the journey's requests in flight */
	size_t failing = 0; /* failing journeys' requests in flight */
	for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
		const struct webhook_try *t = &wh->tries[i];
		if (!t->busy) {
			continue;
		}
		if (t->position == position) {
			return true;
		}
		out += t->journey == journey;
		failing += h != NULL
		        && webhook_hold_find(wh, t->journey) != NULL;
	}
	if (h != NULL) {
		return out >= 1 || failing >= WEBHOOK_FAILING;
	}
	return out >= WEBHOOK_PER_JOURNEY;
}

/* One look at the waiting deliveries (store_jhooks_each). */
struct webhook_scan {
	struct webhook *wh;
	store_txn *txn;
	int64_t now_ms;  /* the deliveries' clock (next_ms) */
	int64_t mono_ms; /* the holds' */
	uint64_t upto;   /* examine positions up to it only */
	size_t seen;     /* examined */
	uint64_t last;   /* the last examined */
	size_t started;  /* requests it queued */
	bool full;       /* WEBHOOK_INFLIGHT taken */
};

static void
webhook_try_clear(struct webhook_try *t)
{
	free(t->url);
	free(t->secret);
	free(t->body);
	*t = (struct webhook_try) { 0 };
}

static int
webhook_scan_one(void *arg, uint64_t position, Clm__V1__JourneyHook *h)
{
	struct webhook_scan *sc = arg;
	struct webhook *wh = sc->wh;
	if (position > sc->upto) {
		return 1;
	}
	sc->seen++;
	sc->last = position;
	struct webhook_sent *s = webhook_sent_find(wh, position);
	if (s != NULL && s->attempts == h->attempts) {
		return 0; /* reported; not recorded yet */
	}
	if (s != NULL) {
		webhook_sent_drop(wh, s);
	}
	if (h->next_ms > sc->now_ms
	        || webhook_held(wh, position, h->journey, sc->mono_ms)) {
		return 0;
	}
	Clm__V1__LifecycleEvent *ev;
	clm_err e = store_jmsg_get(sc->txn, position, &wh->a, &ev);
	if (e != CLM_OK) {
		return 0; /* trimmed or forgotten: the hook goes with it */
	}
	Clm__V1__JourneyRecord *rec = NULL;
	e = store_journey_get(sc->txn, ev->journey, &wh->a, &rec);
	if (e == CLM_NOT_FOUND || (e == CLM_OK && rec->id != h->journey)) {
		webhook_report(wh, position, 0, h->attempts, false, 0,
		        "journey deleted");
		return 0;
	}
	const struct webhook_def *d
	        = e == CLM_OK ? webhook_def_get(wh, rec) : NULL;
	if (d == NULL) {
		return 0; /* tried again at the next look */
	}
	if (d->url == NULL) {
		webhook_report(wh, position, h->journey, h->attempts, false, 0,
		        "journey has no webhook");
		return 0;
	}
	struct webhook_try *t = &wh->tries[0];
	while (t->busy) {
		t++; /* a free one: sc->full is false */
	}
	*t = (struct webhook_try) { .wh = wh,
		.position = position,
		.journey = h->journey,
		.attempts = h->attempts,
		.max_attempts = d->max_attempts };
	t->url = strdup(d->url);
	t->secret = strdup(d->secret);
	t->body = webhook_body(ev, &t->body_len);
	snprintf(t->message_id, sizeof(t->message_id), "%s", ev->message_id);
	if (t->url == NULL || t->secret == NULL || t->body == NULL) {
		webhook_try_clear(t);
		return 1; /* memory: the next look */
	}
	t->busy = true;
	wh->n_busy++;
	sc->started++;
	sc->full = wh->n_busy == WEBHOOK_INFLIGHT;
	return sc->full ? 1 : 0;
}

/*
 * Fills wh->tries' free slots with due deliveries, *started of them; true
 * when more may be waiting.
 */
static bool
webhook_collect(struct webhook *wh, size_t *started)
{
	webhook_sent_expire(wh, clock_mono_ns());
	arena_reset(&wh->a);
	store_txn *txn;
	if (store_read_begin(wh->rd, &txn) != CLM_OK) {
		return false;
	}
	struct webhook_scan sc = { .wh = wh,
		.txn = txn,
		.now_ms = clock_now_ms(),
		.mono_ms = clock_mono_ns() / 1000000,
		.upto = UINT64_MAX,
		.full = wh->n_busy == WEBHOOK_INFLIGHT };
	clm_err e = store_jhooks_each(
	        txn, wh->after, WEBHOOK_SCAN, &wh->a, webhook_scan_one, &sc);
	if (e == CLM_OK && !sc.full && sc.seen < WEBHOOK_SCAN
	        && wh->after != 0) {
		/* The end reached: on from the first, up to where it began. */
		sc.upto = wh->after;
		sc.seen = 0;
		wh->after = 0;
		e = store_jhooks_each(
		        txn, 0, WEBHOOK_SCAN, &wh->a, webhook_scan_one, &sc);
	}
	store_read_end(txn);
	*started = sc.started;
	if (e != CLM_OK) {
		log_warn("webhooks: cannot read the waiting deliveries (%s)",
		        clm_strerror(e));
		wh->after = 0;
		return false;
	}
	bool more = sc.full || sc.seen == WEBHOOK_SCAN;
	wh->after = more ? sc.last : 0;
	return more;
}

/*
 * Puts in *out a hold of the TLS client config of host (verifying the
 * receiver's certificate against wh->ca_file and host), made on first
 * use and kept in wh->tls; the caller drops it with nng_tls_config_free.
 * A config that cannot be made (the CA file unreadable or not PEM) is not
 * kept: the next request tries again, so a CA file put right is used
 * without a restart. Returns 0 or nng's error, with err saying why.
 */
static int
webhook_tls_get(struct webhook *wh, const char *host, nng_tls_config **out,
        char *err, size_t errlen)
{
	struct webhook_tls *slot = NULL;
	wh->tls_clock++;
	for (size_t i = 0; i < WEBHOOK_TLS_HOSTS; i++) {
		struct webhook_tls *e = &wh->tls[i];
		if (e->host != NULL && strcmp(e->host, host) == 0) {
			e->used = wh->tls_clock;
			nng_tls_config_hold(e->cfg);
			*out = e->cfg;
			return 0;
		}
		/* A free entry, or else the least recently used one. */
		if (slot == NULL
		        || (slot->host != NULL
		                && (e->host == NULL
		                        || e->used < slot->used))) {
			slot = e;
		}
	}
	if (access(wh->ca_file, R_OK) != 0) {
		snprintf(err, errlen, "cannot read the CA file '%s': %s",
		        wh->ca_file, strerror(errno));
		return NNG_ENOENT;
	}
	nng_tls_config *cfg;
	char *dup = strdup(host);
	int rv = dup != NULL ? nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)
	                     : NNG_ENOMEM;
	if (rv != 0) {
		free(dup);
		snprintf(err, errlen, "cannot make a TLS config: %s",
		        nng_strerror(rv));
		return rv;
	}
	rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	if (rv == 0) {
		rv = nng_tls_config_ca_file(cfg, wh->ca_file);
		if (rv != 0) {
			snprintf(err, errlen,
			        "cannot load the CA file '%s': %s",
			        wh->ca_file, nng_strerror(rv));
		}
	} else {
		snprintf(err, errlen, "cannot make a TLS config: %s",
		        nng_strerror(rv));
	}
	if (rv == 0) {
		rv = nng_tls_config_server_name(cfg, host);
		if (rv != 0) {
			snprintf(err, errlen,
			        "cannot set the TLS server name: %s",
			        nng_strerror(rv));
		}
	}
	if (rv != 0) {
		nng_tls_config_free(cfg);
		free(dup);
		return rv;
	}
	if (slot->host != NULL) {
		free(slot->host);
		nng_tls_config_free(slot->cfg);
	}
	*slot = (struct webhook_tls) {
		.host = dup, .cfg = cfg, .used = wh->tls_clock
	};
	nng_tls_config_hold(cfg);
	*out = cfg;
	return 0;
}

/* Drops wh's TLS configs (requests still in flight keep theirs). */
static void
webhook_tls_clear(struct webhook *wh)
{
	for (size_t i = 0; i < WEBHOOK_TLS_HOSTS; i++) {
		if (wh->tls[i].host != NULL) {
			free(wh->tls[i].host);
			nng_tls_config_free(wh->tls[i].cfg);
		}
		wh->tls[i] = (struct webhook_tls) { 0 };
	}
}

/* nng's callback: t's request ended; the thread ends it. */
static void
webhook_try_cb(void *arg)
{
	struct webhook_try *t = arg;
	struct webhook *wh = t->wh;
	pthread_mutex_lock(&wh->mu);
	t->done = true;
	wh->n_done++;
	pthread_cond_signal(&wh->cv);
	pthread_mutex_unlock(&wh->mu);
}

/*
 * Starts t's request; false when it is not in flight (t->error says why,
 * or t->canceled: clmd is stopping), to be ended at once.
 */
static bool
webhook_try_start(struct webhook *wh, struct webhook_try *t)
{
	t->started = true;
	int64_t ts_s = clock_now_ms() / 1000;
	char ts[32], sig[WEBHOOK_SIG_LEN];
	snprintf(ts, sizeof(ts), "%" PRId64, ts_s);
	webhook_sign(t->secret, ts_s, t->body, t->body_len, sig);
	int rv = nng_url_parse(&t->u, t->url);
	if (rv == 0) {
		rv = nng_http_client_alloc(&t->cli, t->u);
	}
	if (rv == 0 && strcmp(t->u->u_scheme, "https") == 0) {
		rv = webhook_tls_get(wh, t->u->u_hostname, &t->tls, t->error,
		        sizeof(t->error));
		if (rv != 0) {
			return false; /* t->error says why */
		}
		rv = nng_http_client_set_tls(t->cli, t->tls);
	}
	if (rv == 0) {
		rv = nng_http_req_alloc(&t->req, t->u);
	}
	if (rv == 0) {
		rv = nng_http_req_set_method(t->req, "POST");
	}
	if (rv == 0) {
		rv = nng_http_req_set_header(
		        t->req, "Content-Type", "application/json");
	}
	if (rv == 0) {
		rv = nng_http_req_set_header(
		        t->req, "X-Clm-Message-Id", t->message_id);
	}
	if (rv == 0) {
		rv = nng_http_req_set_header(t->req, "X-Clm-Timestamp", ts);
	}
	if (rv == 0) {
		rv = nng_http_req_set_header(t->req, "X-Clm-Signature", sig);
	}
	if (rv == 0) {
		rv = nng_http_req_copy_data(t->req, t->body, t->body_len);
	}
	if (rv == 0) {
		rv = nng_http_res_alloc(&t->res);
	}
	nng_aio *aio = NULL;
	if (rv == 0) {
		rv = nng_aio_alloc(&aio, webhook_try_cb, t);
	}
	if (rv != 0) {
		snprintf(t->error, sizeof(t->error), "cannot send: %s",
		        nng_strerror(rv));
		return false;
	}
	nng_aio_set_timeout(aio, (nng_duration) wh->timeout_ms);
	pthread_mutex_lock(&wh->mu);
	bool stop = wh->stop;
	if (!stop) {
		wh->aios[t - wh->tries] = aio;
	}
	pthread_mutex_unlock(&wh->mu);
	if (stop) {
		nng_aio_free(aio);
		t->canceled = true;
		return false;
	}
	t->aio = aio;
	nng_http_client_transact(t->cli, t->req, t->res, aio);
	return true;
}

/*
 * Waits for t's answer (at once when its callback ran) and reports it;
 * frees what t holds and the slot.
 */
static void
webhook_try_end(struct webhook *wh, struct webhook_try *t)
{
	bool ok = false;
	int rv = 0;
	if (t->aio != NULL) {
		nng_aio_wait(t->aio);
		rv = nng_aio_result(t->aio);
		pthread_mutex_lock(&wh->mu);
		wh->aios[t - wh->tries] = NULL;
		pthread_mutex_unlock(&wh->mu);
		nng_aio_free(t->aio);
		t->aio = NULL;
		if (rv == 0) {
			uint16_t status = nng_http_res_get_status(t->res);
			ok = status >= 200 && status <= 299;
			if (!ok) {
				snprintf(t->error, sizeof(t->error),
				        "status %u", (unsigned) status);
			}
		} else if (rv == NNG_ETIMEDOUT) {
			snprintf(t->error, sizeof(t->error),
			        "no answer within %" PRId64 " s",
			        wh->timeout_ms / 1000);
		} else if (t->tls != NULL
		        && (rv == NNG_ECRYPTO || rv == NNG_EPEERAUTH)) {
			/* mbedtls's verdict on a certificate, most likely. */
			snprintf(t->error, sizeof(t->error),
			        "TLS handshake failed (%s): is the receiver's "
			        "certificate from a CA of webhook_ca_file, for "
			        "its host?",
			        nng_strerror(rv));
		} else {
			snprintf(t->error, sizeof(t->error), "%s",
			        nng_strerror(rv));
		}
	}
	/* nng's free functions do not all take NULL. */
	if (t->res != NULL) {
		nng_http_res_free(t->res);
	}
	if (t->req != NULL) {
		nng_http_req_free(t->req);
	}
	if (t->cli != NULL) {
		nng_http_client_free(t->cli);
	}
	if (t->tls != NULL) {
		nng_tls_config_free(t->tls);
	}
	if (t->u != NULL) {
		nng_url_free(t->u);
	}
	if (rv != NNG_ECANCELED && !t->canceled) { /* clmd is stopping */
		int64_t retry = ok ? 0
		                   : webhook_retry_ms(clock_now_ms(),
		                           t->attempts, t->max_attempts);
		if (!ok) {
			char shown[256];
			webhook_url_shown(t->url, shown, sizeof(shown));
			log_info("webhooks: message %" PRIu64
			         " to '%s' failed (%s)%s",
			        t->position, shown, t->error,
			        retry == 0 ? ": a dead letter" : "");
		}
		webhook_report(wh, t->position, t->journey, t->attempts, ok,
		        retry, ok ? NULL : t->error);
		webhook_hold_note(
		        wh, t->journey, ok, clock_mono_ns() / 1000000);
	}
	webhook_try_clear(t);
	wh->n_busy--;
}

/*
 * The thread: each request in a slot of its own, ended when its answer
 * comes (webhook_try_cb), and the slots filled again as they free, so a
 * slow receiver holds up its own slot only.
 */
static void *
webhook_main(void *arg)
{
	struct webhook *wh = arg;
	bool more = false;
	int idle = 0; /* looks in a row that started nothing */
	for (;;) {
		pthread_mutex_lock(&wh->mu);
		if (!more || wh->n_busy == WEBHOOK_INFLIGHT) {
			while (!wh->stop && !wh->woken && wh->n_done == 0) {
				struct timespec ts
				        = clock_deadline(WEBHOOK_POLL_MS);
				if (pthread_cond_timedwait(
				            &wh->cv, &wh->mu, &ts)
				        != 0) {
					break;
				}
			}
		}
		wh->woken = false;
		wh->n_done = 0;
		bool stop = wh->stop;
		bool done[WEBHOOK_INFLIGHT];
		for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
			done[i] = wh->tries[i].done;
		}
		pthread_mutex_unlock(&wh->mu);
		for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
			if (done[i]) {
				webhook_try_end(wh, &wh->tries[i]);
			}
		}
		if (stop) {
			break;
		}
		if (wh->n_busy == WEBHOOK_INFLIGHT) {
			continue;
		}
		size_t started = 0;
		more = webhook_collect(wh, &started);
		for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
			struct webhook_try *t = &wh->tries[i];
			if (t->busy && !t->started
			        && !webhook_try_start(wh, t)) {
				webhook_try_end(wh, t);
			}
		}
		idle = started > 0 ? 0 : idle + 1;
		if (idle == WEBHOOK_IDLE_LOOKS) {
			more = false;
			idle = 0;
		}
	}
	/*
	 * Stopping: webhook_close canceled the requests in flight, but not
	 * one started after it looked (its aio not yet scheduled then).
	 */
	for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
		if (wh->tries[i].busy) {
			if (wh->tries[i].aio != NULL) {
				nng_aio_cancel(wh->tries[i].aio);
			}
			webhook_try_end(wh, &wh->tries[i]);
		}
	}
	return NULL;
}

clm_err
webhook_open(store *st, writer *w, int64_t timeout_s, const char *ca_file,
        struct webhook **out, char *err, size_t errlen)
{
	if (ca_file == NULL || ca_file[0] == '\0') {
		ca_file = WEBHOOK_CA_FILE;
	}
	struct webhook *wh = calloc(1, sizeof(*wh));
	char *ca = strdup(ca_file);
	if (wh == NULL || ca == NULL) {
		free(wh);
		free(ca);
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	wh->st = st;
	wh->w = w;
	wh->timeout_ms = timeout_s * 1000;
	wh->ca_file = ca;
	/*
	 * A CA file set on purpose that cannot be read is most likely a
	 * mistake, but journeys may have no https:// webhook: a warning,
	 * and each https:// delivery fails saying why.
	 */
	if (strcmp(ca, WEBHOOK_CA_FILE) != 0 && access(ca, R_OK) != 0) {
		log_warn("webhooks: cannot read the CA file '%s' (%s): "
		         "https:// webhooks will fail until it can be read",
		        ca, strerror(errno));
	}
	arena_init(&wh->a);
	if (store_reader_new(st, &wh->rd) != CLM_OK) {
		snprintf(err, errlen, "out of memory");
		arena_fini(&wh->a);
		free(wh->ca_file);
		free(wh);
		return CLM_RESOURCE_EXHAUSTED;
	}
	if (pthread_mutex_init(&wh->mu, NULL) != 0) {
		snprintf(err, errlen, "cannot make a mutex");
		goto fail_reader;
	}
	if (clock_cond_init(&wh->cv) != 0) {
		snprintf(err, errlen, "cannot make a condition variable");
		goto fail_mu;
	}
	if (thread_start(&wh->thread, webhook_main, wh, "clm:webhook") != 0) {
		snprintf(err, errlen, "cannot start the webhook thread");
		goto fail_cv;
	}
	*out = wh;
	return CLM_OK;
fail_cv:
	pthread_cond_destroy(&wh->cv);
fail_mu:
	pthread_mutex_destroy(&wh->mu);
fail_reader:
	store_reader_free(wh->rd);
	arena_fini(&wh->a);
	free(wh->ca_file);
	free(wh);
	return CLM_UNAVAILABLE;
}

void
webhook_wake(struct webhook *wh)
{
	pthread_mutex_lock(&wh->mu);
	wh->woken = true;
	pthread_cond_signal(&wh->cv);
	pthread_mutex_unlock(&wh->mu);
}

void
webhook_close(struct webhook *wh)
{
	if (wh == NULL) {
		return;
	}
	pthread_mutex_lock(&wh->mu);
	wh->stop = true;
	for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
		if (wh->aios[i] != NULL) {
			nng_aio_cancel(wh->aios[i]);
		}
	}
	pthread_cond_signal(&wh->cv);
	pthread_mutex_unlock(&wh->mu);
	pthread_join(wh->thread, NULL);
	for (size_t i = 0; i < wh->n_defs; i++) {
		webhook_def_clear(&wh->defs[i]);
	}
	webhook_tls_clear(wh);
	free(wh->ca_file);
	store_reader_free(wh->rd);
	pthread_cond_destroy(&wh->cv);
	pthread_mutex_destroy(&wh->mu);
	arena_fini(&wh->a);
	free(wh);
}
