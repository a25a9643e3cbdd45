/*
 * jstream: the journal on a NATS JetStream stream (see jstream.h); this
 * file has the connection, publishing and its acks, the ordered
 * subscription and closing. jstream_admin.c has the stream itself.
 *
 * Acks. nats.c (3.4.1) calls one ack handler per jsCtx for every async
 * publish, with the message it was given back: a positive ack, the
 * server's error, or a timeout. The timeout is the library's own: with
 * jsPubOptions.MaxWait set, each publish gets a deadline in a list that a
 * timer walks, and a publish past its deadline is handed to the handler
 * as a timeout message, through the same subscription as the real acks.
 * The library removes the publish from its table of pending ones before
 * calling the handler, under its lock, so a publish reaches the handler
 * once: by its ack or by its timeout, whichever comes first; a late ack
 * finds nothing and is dropped. So every publish that js_PublishMsgAsync
 * took gets exactly one call, within ack_timeout_ms plus the timer's
 * delay, whether the server answers, answers with an error (no
 * responders while a stream leader is elected), or is gone.
 *
 * Per-publish arguments (fn, arg) live in our table, keyed by the
 * message's address: the library gives the handler the very natsMsg that
 * was published, and frees nothing until the handler has destroyed it,
 * so the address stays unique while the publish is in flight (an entry is
 * removed before its message is freed). A header of our own would do the
 * same but would be stored with every entry.
 *
 * Nothing is acknowledged falsely: CLM_OK only from a pub ack the server
 * sent, naming our stream; the library parses it (an error reply, a
 * timeout, no responders are failures).
 */
#include "journal/jstream_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

const char *
jstream_nats_text(natsStatus s)
{
	const char *t = nats_GetLastError(NULL);
	return t != NULL && t[0] != '\0' ? t : natsStatus_GetText(s);
}

/* The bucket of the pend table for msg. */
static size_t
jstream_bucket(const natsMsg *msg)
{
	uintptr_t p = (uintptr_t) msg;
	return (size_t) ((p >> 4) ^ (p >> 14)) % JSTREAM_PEND_BUCKETS;
}

/* Removes and returns msg's entry of the pend table, or NULL (s->mu).
 * It still counts as in flight until jstream_pend_done. */
static struct jstream_pend *
jstream_pend_take(jstream *s, const natsMsg *msg)
{
	struct jstream_pend **pp = &s->pend[jstream_bucket(msg)];
	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->msg == msg) {
			struct jstream_pend *p = *pp;
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

/* Counts p out of what is in flight, once its function returned, and
 * frees it; wakes jstream_close when it was the last one. */
static void
jstream_pend_done(jstream *s, struct jstream_pend *p)
{
	pthread_mutex_lock(&s->mu);
	s->inflight--;
	s->inflight_bytes -= p->len;
	if (s->inflight == 0) {
		pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->mu);
	free(p);
}

/*
 * The ack handler, on a NATS thread: one call per publish (see the top of
 * the file). Calls the publish's function, then frees the message, which
 * this handler owns.
 */
static void
jstream_on_ack(
        jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void) js;
	jstream *s = closure;
	pthread_mutex_lock(&s->mu);
	struct jstream_pend *p = jstream_pend_take(s, msg);
	pthread_mutex_unlock(&s->mu);
	if (p == NULL) {
		/* Never: a message the library hands here was not taken back
		 * by a failed publish or by jstream_close. Whoever has its
		 * entry frees it. */
		return;
	}
	char why[256];
	struct jstream_ack a = { .err = CLM_UNAVAILABLE, .why = why };
	if (pa != NULL && pa->Stream != NULL
	        && strcmp(pa->Stream, s->stream) == 0) {
		a.err = CLM_OK;
		a.seq = pa->Sequence;
		a.duplicate = pa->Duplicate;
		snprintf(why, sizeof(why), "stored");
	} else if (pa != NULL) {
		snprintf(why, sizeof(why),
		        "acknowledged by stream '%s', not '%s'",
		        pa->Stream != NULL ? pa->Stream : "", s->stream);
	} else if (pae != NULL && pae->Err == NATS_TIMEOUT) {
		a.err = CLM_DEADLINE_EXCEEDED;
		snprintf(why, sizeof(why),
		        "no ack from stream '%s' within %" PRId64 " ms",
		        s->stream, s->ack_timeout_ms);
	} else if (pae != NULL && pae->Err == NATS_NO_RESPONDERS) {
		snprintf(why, sizeof(why),
		        "stream '%s' has no leader to store the entry",
		        s->stream);
	} else {
		snprintf(why, sizeof(why), "stream '%s' refused the entry: %s",
		        s->stream,
		        pae != NULL && pae->ErrText != NULL ? pae->ErrText
		                                            : "no reason");
	}
	p->fn(p->arg, &a);
	jstream_pend_done(s, p);
	natsMsg_Destroy(msg);
}

/*
 * The streams not freed yet. nats.c can deliver an asynchronous error
 * after the connection's closed callback, which jstream_close waits for
 * before it frees s: a subscription's missed-heartbeat error, from the
 * subscription's timer (seen under ASan in jstream_failover_test, a
 * heap-use-after-free in jstream_on_async_error). So the callbacks that
 * only report find s here first and use it under jstream_live_mu;
 * jstream_close takes s out under that lock before freeing it.
 */
static pthread_mutex_t jstream_live_mu = PTHREAD_MUTEX_INITIALIZER;
static jstream *jstream_live;

static void
jstream_live_add(jstream *s)
{
	pthread_mutex_lock(&jstream_live_mu);
	s->live_next = jstream_live;
	jstream_live = s;
	pthread_mutex_unlock(&jstream_live_mu);
}

static void
jstream_live_remove(jstream *s)
{
	pthread_mutex_lock(&jstream_live_mu);
	jstream **at = &jstream_live;
	while (*at != NULL && *at != s) {
		at = &(*at)->live_next;
	}
	if (*at == s) {
		*at = s->live_next;
	}
	pthread_mutex_unlock(&jstream_live_mu);
}

/*
 * Logs "journal stream 'NAME': what" for closure, unless it is closing
 * or gone. Holds jstream_live_mu, so s cannot be freed meanwhile.
 */
static void
jstream_report(void *closure, const char *what)
{
	pthread_mutex_lock(&jstream_live_mu);
	jstream *s = jstream_live;
	while (s != NULL && s != closure) {
		s = s->live_next;
	}
	if (s != NULL) {
		pthread_mutex_lock(&s->mu);
		bool closing = s->closing;
		pthread_mutex_unlock(&s->mu);
		if (!closing) {
			log_warn("journal stream '%s': %s", s->stream, what);
		}
	}
	pthread_mutex_unlock(&jstream_live_mu);
}

static void
jstream_on_async_error(natsConnection *nc, natsSubscription *sub,
        natsStatus err, void *closure)
{
	(void) nc;
	(void) sub;
	jstream_report(closure, natsStatus_GetText(err));
}

static void
jstream_on_disconnect(natsConnection *nc, void *closure)
{
	(void) nc;
	jstream_report(closure, "disconnected, reconnecting");
}

/* The connection's last callback: jstream_close waits for it before it
 * frees s, which every callback is given. */
static void
jstream_on_closed(natsConnection *nc, void *closure)
{
	(void) nc;
	jstream *s = closure;
	pthread_mutex_lock(&s->mu);
	s->closed = true;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
}

static void
jstream_on_reconnect(natsConnection *nc, void *closure)
{
	jstream *s = closure;
	char url[256];
	if (natsConnection_GetConnectedUrl(nc, url, sizeof(url)) != NATS_OK) {
		snprintf(url, sizeof(url), "?");
	}
	log_info("journal stream '%s': reconnected to '%s'", s->stream, url);
}

/*
 * Sets the servers of o from the comma-separated urls (nats.c takes a
 * list). Each must be nats://host:port or tls://host:port; *tls is set
 * when one is tls://. Returns CLM_OK or INVALID_ARGUMENT.
 */
static clm_err
jstream_set_servers(
        natsOptions *o, const char *urls, bool *tls, char *err, size_t errlen)
{
	enum { MAX_URLS = 32 };
	char copy[512];
	const char *list[MAX_URLS];
	int n = 0;
	if (strlen(urls) >= sizeof(copy)) {
		snprintf(err, errlen, "journal urls too long (%zu bytes)",
		        strlen(urls));
		return CLM_INVALID_ARGUMENT;
	}
	snprintf(copy, sizeof(copy), "%s", urls);
	char *save = NULL;
	for (char *u = strtok_r(copy, ",", &save); u != NULL;
	        u = strtok_r(NULL, ",", &save)) {
		while (*u == ' ') {
			u++;
		}
		bool is_tls = strncmp(u, "tls://", 6) == 0;
		if (!is_tls && strncmp(u, "nats://", 7) != 0) {
			snprintf(err, errlen,
			        "journal url '%s': not nats://host:port or tls://host:port",
			        u);
			return CLM_INVALID_ARGUMENT;
		}
		if (n == MAX_URLS) {
			snprintf(err, errlen, "journal urls: more than %d",
			        MAX_URLS);
			return CLM_INVALID_ARGUMENT;
		}
		*tls = *tls || is_tls;
		list[n++] = u;
	}
	if (n == 0) {
		snprintf(err, errlen, "journal urls not set");
		return CLM_INVALID_ARGUMENT;
	}
	natsStatus st = natsOptions_SetServers(o, list, n);
	if (st != NATS_OK) {
		snprintf(err, errlen, "journal urls '%s': %s", urls,
		        jstream_nats_text(st));
		return CLM_INVALID_ARGUMENT;
	}
	return CLM_OK;
}

/*
 * Sets user and password, or a token, from the first line of path.
 * Returns CLM_OK or INVALID_ARGUMENT.
 */
static clm_err
jstream_set_auth(natsOptions *o, const char *path, char *err, size_t errlen)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read journal auth file '%s': %s",
		        path, strerror(errno));
		return CLM_INVALID_ARGUMENT;
	}
	bool got = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	line[got ? strcspn(line, "\r\n") : 0] = '\0';
	natsStatus st = NATS_OK;
	char *colon = strchr(line, ':');
	if (line[0] == '\0') {
		st = NATS_INVALID_ARG;
	} else if (colon != NULL) {
		*colon = '\0';
		st = natsOptions_SetUserInfo(o, line, colon + 1);
	} else {
		st = natsOptions_SetToken(o, line);
	}
	sodium_memzero(line, sizeof(line));
	if (st != NATS_OK) {
		snprintf(err, errlen,
		        "journal auth file '%s': its first line must be user:password or a token",
		        path);
		return CLM_INVALID_ARGUMENT;
	}
	return CLM_OK;
}

/* Sets TLS: the CA, and a client certificate with its key. */
static clm_err
jstream_set_tls(
        natsOptions *o, const struct jstream_opts *c, char *err, size_t errlen)
{
	natsStatus st = natsOptions_SetSecure(o, true);
	const char *what = "tls";
	if (st == NATS_OK && c->tls_ca_file != NULL) {
		what = c->tls_ca_file;
		st = natsOptions_LoadCATrustedCertificates(o, c->tls_ca_file);
	}
	if (st == NATS_OK
	        && (c->tls_cert_file != NULL) != (c->tls_key_file != NULL)) {
		snprintf(err, errlen,
		        "journal tls: a client certificate needs its key, and a key its certificate");
		return CLM_INVALID_ARGUMENT;
	}
	if (st == NATS_OK && c->tls_cert_file != NULL) {
		what = c->tls_cert_file;
		st = natsOptions_LoadCertificatesChain(
		        o, c->tls_cert_file, c->tls_key_file);
	}
	if (st != NATS_OK) {
		snprintf(err, errlen, "journal tls '%s': %s", what,
		        jstream_nats_text(st));
		return CLM_INVALID_ARGUMENT;
	}
	return CLM_OK;
}

/* The connection's options from c; *out to destroy on CLM_OK. */
static clm_err
jstream_options(jstream *s, const struct jstream_opts *c, natsOptions **out,
        char *err, size_t errlen)
{
	natsOptions *o = NULL;
	natsStatus st = natsOptions_Create(&o);
	if (st != NATS_OK) {
		snprintf(err, errlen, "journal stream: %s",
		        jstream_nats_text(st));
		return CLM_UNAVAILABLE;
	}
	bool tls = c->tls_ca_file != NULL || c->tls_cert_file != NULL
	        || c->tls_key_file != NULL;
	clm_err rc = jstream_set_servers(o, c->urls, &tls, err, errlen);
	/* Reconnect forever, soon: an entry's ack waits on it. A server
	 * that stops answering is found by pings within ~10 s. */
	if (rc == CLM_OK
	        && (natsOptions_SetMaxReconnect(o, -1) != NATS_OK
	                || natsOptions_SetReconnectWait(o, 250) != NATS_OK
	                || natsOptions_SetTimeout(o, 2000) != NATS_OK
	                || natsOptions_SetPingInterval(o, 5000) != NATS_OK
	                || natsOptions_SetMaxPingsOut(o, 2) != NATS_OK
	                || natsOptions_SetName(o, "clmd") != NATS_OK
	                || natsOptions_SetFailRequestsOnDisconnect(o, true)
	                        != NATS_OK
	                || natsOptions_SetErrorHandler(
	                           o, jstream_on_async_error, s)
	                        != NATS_OK
	                || natsOptions_SetDisconnectedCB(
	                           o, jstream_on_disconnect, s)
	                        != NATS_OK
	                || natsOptions_SetReconnectedCB(
	                           o, jstream_on_reconnect, s)
	                        != NATS_OK
	                || natsOptions_SetClosedCB(o, jstream_on_closed, s)
	                        != NATS_OK)) {
		snprintf(err, errlen, "journal stream options: %s",
		        jstream_nats_text(NATS_ERR));
		rc = CLM_INVALID_ARGUMENT;
	}
	if (rc == CLM_OK && c->creds_file != NULL) {
		st = natsOptions_SetUserCredentialsFromFiles(
		        o, c->creds_file, NULL);
		if (st != NATS_OK) {
			snprintf(err, errlen, "journal credentials '%s': %s",
			        c->creds_file, jstream_nats_text(st));
			rc = CLM_INVALID_ARGUMENT;
		}
	}
	if (rc == CLM_OK && c->auth_file != NULL) {
		rc = jstream_set_auth(o, c->auth_file, err, errlen);
	}
	if (rc == CLM_OK && tls) {
		rc = jstream_set_tls(o, c, err, errlen);
	}
	if (rc != CLM_OK) {
		natsOptions_Destroy(o);
		return rc;
	}
	*out = o;
	return CLM_OK;
}

/* Connects and makes the JetStream context, with the ack handler. */
static clm_err
jstream_connect(
        jstream *s, const struct jstream_opts *c, char *err, size_t errlen)
{
	natsOptions *o = NULL;
	clm_err rc = jstream_options(s, c, &o, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	natsConnection *nc = NULL;
	natsStatus st = natsConnection_Connect(&nc, o);
	natsOptions_Destroy(o);
	s->nc = st == NATS_OK ? nc : NULL;
	if (st != NATS_OK) {
		snprintf(err, errlen, "cannot connect to journal '%s': %s",
		        s->urls, jstream_nats_text(st));
		return st == NATS_CONNECTION_AUTH_FAILED
		                || st == NATS_NOT_PERMITTED
		        ? CLM_UNAUTHENTICATED
		        : CLM_UNAVAILABLE;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = JSTREAM_API_WAIT_MS;
	/* No library stall: jstream_publish bounds what is in flight. */
	jo.PublishAsync.MaxPending = 0;
	jo.PublishAsync.AckHandler = jstream_on_ack;
	jo.PublishAsync.AckHandlerClosure = s;
	st = natsConnection_JetStream(&s->js, s->nc, &jo);
	if (st != NATS_OK) {
		snprintf(err, errlen, "journal '%s': %s", s->urls,
		        jstream_nats_text(st));
		return CLM_UNAVAILABLE;
	}
	int64_t payload = natsConnection_GetMaxPayload(s->nc);
	s->max_entry = payload > (int64_t) JSTREAM_HDR_ROOM
	        ? (size_t) payload - JSTREAM_HDR_ROOM
	        : 0;
	if (c->max_entry > 0 && c->max_entry < s->max_entry) {
		s->max_entry = c->max_entry;
	}
	return CLM_OK;
}

clm_err
jstream_open(
        const struct jstream_opts *o, jstream **out, char *err, size_t errlen)
{
	if (o->urls == NULL || o->urls[0] == '\0') {
		snprintf(err, errlen, "journal urls not set");
		return CLM_INVALID_ARGUMENT;
	}
	const char *name = o->stream != NULL && o->stream[0] != '\0'
	        ? o->stream
	        : JSTREAM_DEFAULT_NAME;
	size_t nlen = strlen(name);
	if (nlen >= JSTREAM_NAME_MAX || strpbrk(name, ". *>\t\r\n") != NULL) {
		snprintf(err, errlen,
		        "journal stream name '%s': at most %u characters, none of '.', '*', '>' or spaces",
		        name, JSTREAM_NAME_MAX - 1);
		return CLM_INVALID_ARGUMENT;
	}
	if (o->replicas < 0 || o->replicas > 5) {
		snprintf(err, errlen, "journal replicas %d: 1 to 5",
		        o->replicas);
		return CLM_INVALID_ARGUMENT;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen,
		        "journal stream: libsodium did not start");
		return CLM_UNAVAILABLE;
	}
	jstream *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "journal stream: out of memory");
		return CLM_UNAVAILABLE;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	jstream_live_add(s);
	memcpy(s->stream, name, nlen + 1);
	s->stream_len = nlen;
	snprintf(s->urls, sizeof(s->urls), "%s", o->urls);
	s->replicas = o->replicas > 0 ? o->replicas : 3;
	s->ack_timeout_ms = o->ack_timeout_ms > 0 ? o->ack_timeout_ms
	                                          : JSTREAM_ACK_DEFAULT_MS;
	clm_err rc = jstream_connect(s, o, err, errlen);
	if (rc == CLM_OK) {
		rc = jstream_ensure_stream(s, err, errlen);
	}
	if (rc == CLM_OK) {
		rc = jstream_load_key(s, err, errlen);
	}
	if (rc != CLM_OK) {
		jstream_close(s);
		return rc;
	}
	*out = s;
	return CLM_OK;
}

size_t
jstream_max_entry(const jstream *s)
{
	return s->max_entry;
}

void
jstream_subject_key(const jstream *s, const void *id, size_t len, char key[33])
{
	unsigned char h[JSTREAM_HASH_BYTES];
	crypto_generichash(h, sizeof(h), id, len, s->key, sizeof(s->key));
	sodium_bin2hex(key, 33, h, sizeof(h));
}

/* Whether subject is tokens of [A-Za-z0-9_-] joined by single dots: no
 * wildcard, no space, nothing empty. */
static bool
jstream_valid_subject(const char *subject)
{
	size_t n = subject != NULL ? strlen(subject) : 0;
	if (n == 0 || n >= JSTREAM_SUBJECT_MAX || subject[0] == '.'
	        || subject[n - 1] == '.' || strstr(subject, "..") != NULL) {
		return false;
	}
	return strspn(subject,
	               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	               "0123456789_-.")
	        == n;
}

/* Whether msg_id can be a header value: no control characters (a line
 * break would end the header), not too long. */
static bool
jstream_valid_msg_id(const char *msg_id)
{
	size_t n = 0;
	for (; msg_id != NULL && msg_id[n] != '\0'; n++) {
		unsigned char c = (unsigned char) msg_id[n];
		if (c < 0x20 || c == 0x7f || n == JSTREAM_MSG_ID_MAX) {
			return false;
		}
	}
	return true;
}

clm_err
jstream_publish(jstream *s, const char *subject, const char *msg_id,
        const void *data, size_t len, jstream_ack_fn fn, void *arg)
{
	char subj[JSTREAM_NAME_MAX + JSTREAM_SUBJECT_MAX];
	if (len > s->max_entry || !jstream_valid_subject(subject)
	        || !jstream_valid_msg_id(msg_id)) {
		return CLM_INVALID_ARGUMENT;
	}
	snprintf(subj, sizeof(subj), "%s.%s", s->stream, subject);
	if (natsConnection_Status(s->nc) != NATS_CONN_STATUS_CONNECTED) {
		return CLM_UNAVAILABLE;
	}
	struct jstream_pend *p = calloc(1, sizeof(*p));
	natsMsg *msg = NULL;
	if (p == NULL
	        || natsMsg_Create(&msg, subj, NULL, data, (int) len)
	                != NATS_OK) {
		free(p);
		return CLM_UNAVAILABLE;
	}
	p->msg = msg;
	p->fn = fn;
	p->arg = arg;
	p->len = len;
	/* In the table before the publish: the ack may come first. */
	pthread_mutex_lock(&s->mu);
	if (s->closing || s->inflight >= JSTREAM_INFLIGHT_MAX
	        || s->inflight_bytes + len > JSTREAM_INFLIGHT_BYTES) {
		pthread_mutex_unlock(&s->mu);
		natsMsg_Destroy(msg);
		free(p);
		return CLM_UNAVAILABLE;
	}
	size_t b = jstream_bucket(msg);
	p->next = s->pend[b];
	s->pend[b] = p;
	s->inflight++;
	s->inflight_bytes += len;
	pthread_mutex_unlock(&s->mu);

	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = s->ack_timeout_ms;
	po.MsgId = msg_id != NULL && msg_id[0] != '\0' ? msg_id : NULL;
	natsMsg *send = msg;
	natsStatus st = js_PublishMsgAsync(s->js, &send, &po);
	if (st == NATS_OK) {
		/* The library owns msg; the handler frees it. */
		atomic_store(&s->published, true);
		return CLM_OK;
	}
	/* Not taken: the handler will never see msg. */
	pthread_mutex_lock(&s->mu);
	p = jstream_pend_take(s, msg);
	pthread_mutex_unlock(&s->mu);
	if (p != NULL) {
		jstream_pend_done(s, p);
	}
	natsMsg_Destroy(msg);
	return CLM_UNAVAILABLE;
}

clm_err
jstream_subscribe(jstream *s, uint64_t from, char *err, size_t errlen)
{
	if (s->sub != NULL) {
		natsSubscription_Unsubscribe(s->sub);
		natsSubscription_Destroy(s->sub);
		s->sub = NULL;
	}
	char subj[JSTREAM_NAME_MAX + 2];
	snprintf(subj, sizeof(subj), "%s.>", s->stream);
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = s->stream;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = from > 0 ? from : 1;
	/* The client re-creates the consumer after two missed heartbeats:
	 * 2 s after its server or the stream leader died, not 10. */
	so.Config.Heartbeat = JSTREAM_HEARTBEAT_NS;
	jsErrCode jerr = 0;
	natsStatus st
	        = js_SubscribeSync(&s->sub, s->js, subj, NULL, &so, &jerr);
	if (st != NATS_OK) {
		snprintf(err, errlen,
		        "cannot read journal stream '%s' from %" PRIu64 ": %s",
		        s->stream, from, jstream_nats_text(st));
		s->sub = NULL;
		return CLM_UNAVAILABLE;
	}
	/* Generous: a slow reader past them loses messages, which the
	 * ordered consumer then fetches again from the gap. */
	natsSubscription_SetPendingLimits(s->sub, 1 << 20, 1 << 30);
	s->last_seq = so.Config.OptStartSeq - 1;
	return CLM_OK;
}

/*
 * Waits for the next entry until the monotonic ms deadline: an entry
 * past the last one handed out (the ordered consumer starts over from the
 * gap after a lost message, which may hand out one again), other than the
 * subject key's. The key's position is skipped, so the reader sees a gap
 * there, as where entries were erased.
 */
clm_err
jstream_next(jstream *s, int64_t timeout_ms, struct jstream_msg *m, char *err,
        size_t errlen)
{
	if (s->sub == NULL) {
		snprintf(err, errlen, "journal stream '%s': not subscribed",
		        s->stream);
		return CLM_UNAVAILABLE;
	}
	int64_t until = nats_Now() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		int64_t left = until - nats_Now();
		natsMsg *msg = NULL;
		natsStatus st = natsSubscription_NextMsg(
		        &msg, s->sub, left > 0 ? left : 0);
		if (st == NATS_TIMEOUT) {
			return CLM_DEADLINE_EXCEEDED;
		}
		if (st == NATS_SLOW_CONSUMER) {
			continue; /* reported once; the consumer recovers */
		}
		if (st != NATS_OK) {
			snprintf(err, errlen,
			        "reading journal stream '%s': %s", s->stream,
			        jstream_nats_text(st));
			return CLM_UNAVAILABLE;
		}
		jsMsgMetaData *meta = NULL;
		if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
			natsMsg_Destroy(msg);
			continue; /* not an entry of the stream */
		}
		uint64_t seq = meta->Sequence.Stream;
		int64_t ts = meta->Timestamp;
		jsMsgMetaData_Destroy(meta);
		const char *subj = natsMsg_GetSubject(msg);
		bool is_key = strncmp(subj, s->stream, s->stream_len) == 0
		        && subj[s->stream_len] == '.'
		        && strcmp(subj + s->stream_len + 1,
		                   JSTREAM_KEY_SUBJECT)
		                == 0;
		if (seq <= s->last_seq || is_key) {
			if (seq > s->last_seq) {
				s->last_seq = seq;
			}
			natsMsg_Destroy(msg);
			continue;
		}
		s->last_seq = seq;
		m->seq = seq;
		m->data = natsMsg_GetData(msg);
		m->len = (size_t) natsMsg_GetDataLength(msg);
		m->stored_ms = ts / 1000000;
		m->impl = msg;
		return CLM_OK;
	}
}

void
jstream_msg_free(struct jstream_msg *m)
{
	if (m != NULL && m->impl != NULL) {
		natsMsg_Destroy(m->impl);
		m->impl = NULL;
		m->data = NULL;
	}
}

/* Calls the ack function of msg's publish with UNAVAILABLE, for
 * jstream_close, once the library gave msg back (it never acks it). */
static void
jstream_fail_one(jstream *s, natsMsg *msg)
{
	struct jstream_ack a = { .err = CLM_UNAVAILABLE,
		.why = "journal stream closed before the entry's ack came" };
	pthread_mutex_lock(&s->mu);
	struct jstream_pend *p = jstream_pend_take(s, msg);
	pthread_mutex_unlock(&s->mu);
	if (p != NULL) {
		p->fn(p->arg, &a);
		jstream_pend_done(s, p);
	}
	natsMsg_Destroy(msg);
}

/*
 * Closing: no new publish is taken; the acks of those in flight come in
 * (each has its deadline, so this waits ack_timeout_ms and a second at
 * most); the library then gives back any it still holds, whose functions
 * get UNAVAILABLE here; and the functions running on NATS threads are
 * waited for, so none runs after jstream_close returns.
 */
void
jstream_close(jstream *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	pthread_mutex_unlock(&s->mu);
	if (s->js != NULL) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = s->ack_timeout_ms + 1000;
		js_PublishAsyncComplete(s->js, &po);
		/* (nats.c 3.4.1 makes its table of pending publishes with
		 * the first one, and crashes asking for it before.) */
		natsMsgList left = { 0 };
		if (atomic_load(&s->published)
		        && js_PublishAsyncGetPendingList(&left, s->js)
		                == NATS_OK) {
			for (int i = 0; i < left.Count; i++) {
				jstream_fail_one(s, left.Msgs[i]);
				left.Msgs[i] = NULL;
			}
			natsMsgList_Destroy(&left);
		}
		pthread_mutex_lock(&s->mu);
		while (s->inflight > 0) {
			pthread_cond_wait(&s->idle, &s->mu);
		}
		pthread_mutex_unlock(&s->mu);
	}
	if (s->sub != NULL) {
		natsSubscription_Unsubscribe(s->sub);
		natsSubscription_Destroy(s->sub);
	}
	jsCtx_Destroy(s->js);
	if (s->nc != NULL) {
		natsConnection_Close(s->nc);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += JSTREAM_CLOSE_WAIT_S;
		pthread_mutex_lock(&s->mu);
		int e = 0;
		while (!s->closed && e != ETIMEDOUT) {
			e = pthread_cond_timedwait(&s->idle, &s->mu, &until);
		}
		bool closed = s->closed;
		pthread_mutex_unlock(&s->mu);
		natsConnection_Destroy(s->nc);
		if (!closed) {
			/* A callback may still come: s must stay. */
			log_error(
			        "journal stream '%s': the connection did not close in %d s",
			        s->stream, JSTREAM_CLOSE_WAIT_S);
			return;
		}
	}
	jstream_live_remove(s);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	sodium_memzero(s->key, sizeof(s->key));
	free(s);
}
