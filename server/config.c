#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum config_type {
	CONFIG_STR,  /* free text */
	CONFIG_INT,  /* integer within [min, max] */
	CONFIG_SIZE, /* integer bytes with an optional K/M/G/T suffix */
	CONFIG_LIST, /* repeatable string (listen) */
	CONFIG_REAL, /* number within [min, max] */
};

struct config_entry {
	const char *name;
	enum config_type type;
	const char *def;
	int64_t min, max;
	size_t offset;
	const char
	        *choices; /* for CONFIG_STR: '|'-separated values, or NULL */
	const char *help;
};

#define CONFIG_FIELD(f) offsetof(struct config, f)
#define CONFIG_KIB      1024LL
#define CONFIG_GIB      (1024LL * 1024 * 1024)

/*
 * journal: "local", or a comma-separated list of nats://HOST:PORT or
 * tls://HOST:PORT (what jstream_open connects to).
 */
static const char *
config_check_journal(const char *v)
{
	static const char expected[]
	        = "expected local or nats://host:port[,...] (tls://host:port for TLS)";
	if (strcmp(v, "local") == 0) {
		return NULL;
	}
	const char *p = v;
	for (;;) {
		size_t n = strcspn(p, ",");
		size_t scheme = strncmp(p, "nats://", 7) == 0 ? 7
		        : strncmp(p, "tls://", 6) == 0        ? 6
		                                              : 0;
		const char *host = p + scheme;
		const char *colon = memchr(host, ':', n - scheme);
		if (scheme == 0 || colon == NULL || colon == host) {
			return expected;
		}
		const char *port = colon + 1;
		size_t digits = (size_t) (p + n - port);
		if (digits == 0 || digits > 5
		        || strspn(port, "0123456789") < digits
		        || atoi(port) < 1 || atoi(port) > 65535) {
			return expected;
		}
		for (const char *h = host; h < colon; h++) {
			if (*h == ' ' || *h == '/' || *h == '@') {
				return expected;
			}
		}
		if (p[n] == '\0') {
			return NULL;
		}
		p += n + 1;
	}
}

/* journal_stream: a JetStream stream name, also a subject's first token. */
static const char *
config_check_stream(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 32
	        || strspn(v,
	                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                   "0123456789_-")
	                != n) {
		return "expected 1 to 32 letters, digits, '-' or '_'";
	}
	return NULL;
}

/*
 * Checks of CONFIG_STR values beyond a list of choices: each returns NULL,
 * or what was expected ("expected ...").
 */
static const struct config_check {
	const char *name;
	const char *(*check)(const char *value);
} config_checks[] = {
	{ "journal", config_check_journal },
	{ "journal_stream", config_check_stream },
};

/* The settings; `config_file` is set by --config and not listed here. */
static const struct config_entry config_table[] = {
	{ "data", CONFIG_STR, "./clm-data", 0, 0, CONFIG_FIELD(data), NULL,
	        "data directory" },
	{ "listen", CONFIG_LIST, "tcp://127.0.0.1:7450", 0, 0,
	        CONFIG_FIELD(listen), NULL,
	        "request/reply URL (repeatable: tcp://, ipc://, tls+tcp://)" },
	{ "events", CONFIG_STR, "", 0, 0, CONFIG_FIELD(events), NULL,
	        "stage-change stream URL, or 'none' (unset: paired with the first listen URL, tcp://127.0.0.1:PORT+1 (7451) or ipc://DIR/events.sock, or the owner-only ipc://DATA/events.sock when auth_token_file is set)" },
	{ "events_unauthenticated", CONFIG_STR, "false", 0, 0,
	        CONFIG_FIELD(events_unauthenticated), "true|false",
	        "true: allow a tcp:// events URL (loopback) with auth tokens, knowing any local user can read the stream" },
	{ "durability", CONFIG_STR, "full", 0, 0, CONFIG_FIELD(durability),
	        "full|os",
	        "full: fsync before every ack; os: leave it to the OS" },
	{ "workers", CONFIG_INT, "64", 1, 4096, CONFIG_FIELD(workers), NULL,
	        "requests handled concurrently" },
	{ "auth_token_file", CONFIG_STR, "", 0, 0,
	        CONFIG_FIELD(auth_token_file), NULL,
	        "file of accepted tokens, one a line (then every request needs one)" },
	{ "tls_cert_file", CONFIG_STR, "", 0, 0, CONFIG_FIELD(tls_cert_file),
	        NULL,
	        "PEM file with the server certificate and key (tls+tcp://)" },
	{ "tls_ca_file", CONFIG_STR, "", 0, 0, CONFIG_FIELD(tls_ca_file), NULL,
	        "PEM CA file: tls+tcp:// clients must present a certificate it signed" },
	{ "http", CONFIG_STR, "", 0, 0, CONFIG_FIELD(http), NULL,
	        "HOST:PORT to serve the dashboard, its JSON API and Prometheus /metrics on (off when empty)" },
	{ "http_allowed_hosts", CONFIG_STR, "", 0, 0,
	        CONFIG_FIELD(http_allowed_hosts), NULL,
	        "more names, comma-separated, that http answers in the Host header (it always answers its own HOST, localhost and IP addresses; others get 421)" },
	{ "sdk_event_map", CONFIG_STR, "", 0, 0, CONFIG_FIELD(sdk_event_map),
	        NULL,
	        "file of 'Event Name = TYPE' lines that extend the SDK ingest's event table (docs/ingest.md)" },
	{ "journal", CONFIG_STR, "local", 0, 0, CONFIG_FIELD(journal), NULL,
	        "local: the journal in the data directory; nats://HOST:PORT[,...] (tls:// for TLS): cluster mode, the journal is a NATS JetStream stream shared by every clmd node (docs/cluster.md)" },
	{ "journal_stream", CONFIG_STR, "CLM", 0, 0,
	        CONFIG_FIELD(journal_stream), NULL,
	        "cluster mode: the JetStream stream's name (created if absent)" },
	{ "journal_replicas", CONFIG_INT, "3", 1, 5,
	        CONFIG_FIELD(journal_replicas), NULL,
	        "cluster mode: replicas of the stream when clmd creates it" },
	{ "journal_creds", CONFIG_STR, "", 0, 0, CONFIG_FIELD(journal_creds),
	        NULL, "cluster mode: NATS credentials file (.creds)" },
	{ "journal_auth_file", CONFIG_STR, "", 0, 0,
	        CONFIG_FIELD(journal_auth_file), NULL,
	        "cluster mode: file whose first line is the NATS user:password or token" },
	{ "journal_tls_ca", CONFIG_STR, "", 0, 0, CONFIG_FIELD(journal_tls_ca),
	        NULL,
	        "cluster mode: PEM CA file that signed the NATS servers' certificates" },
	{ "journal_tls_cert", CONFIG_STR, "", 0, 0,
	        CONFIG_FIELD(journal_tls_cert), NULL,
	        "cluster mode: PEM client certificate for NATS (with journal_tls_key)" },
	{ "journal_tls_key", CONFIG_STR, "", 0, 0,
	        CONFIG_FIELD(journal_tls_key), NULL,
	        "cluster mode: PEM key of journal_tls_cert" },
	{ "test_clock_file", CONFIG_STR, "", 0, 0,
	        CONFIG_FIELD(test_clock_file), NULL,
	        "TESTS AND DEMOS ONLY: a file holding milliseconds added to the clock, read at every clock reading (docs/operations.md)" },
	{ "max_connections", CONFIG_INT, "512", 1, 1000000,
	        CONFIG_FIELD(max_connections), NULL,
	        "request/reply connections open at once, all listeners together (more are closed as they arrive)" },
	{ "idle_timeout", CONFIG_INT, "300", 0, 86400,
	        CONFIG_FIELD(idle_timeout), NULL,
	        "seconds a request/reply connection may go without a request before it is closed (0: never)" },
	{ "http_max_connections", CONFIG_INT, "128", 1, 100000,
	        CONFIG_FIELD(http_max_connections), NULL,
	        "http connections open at once (more get 503 and are closed); each may hold a 16 KiB head and a body of up to max_message_bytes" },
	{ "http_request_timeout", CONFIG_INT, "10", 1, 3600,
	        CONFIG_FIELD(http_request_timeout), NULL,
	        "seconds an http request may take to arrive whole, from its first byte (then 408 and close)" },
	{ "http_idle_timeout", CONFIG_INT, "60", 0, 86400,
	        CONFIG_FIELD(http_idle_timeout), NULL,
	        "seconds a kept-alive http connection may wait for its next request before it is closed (0: never)" },
	{ "http_events_retained", CONFIG_INT, "10000", 1, 1000000,
	        CONFIG_FIELD(http_events_retained), NULL,
	        "most recent stage-change events kept for /api/events to replay to a client resuming with Last-Event-ID (older ones: an 'event: gap')" },
	{ "http_events_retained_bytes", CONFIG_SIZE, "4M", 4 * CONFIG_KIB,
	        CONFIG_GIB, CONFIG_FIELD(http_events_retained_bytes), NULL,
	        "bytes those events may take (as sent); each stream may also queue this plus 64 KiB for a slow client before it is dropped" },
	{ "http_max_streams", CONFIG_INT, "16", 0, 10000,
	        CONFIG_FIELD(http_max_streams), NULL,
	        "/api/events streams open at once, within http_max_connections (more get 503)" },
	{ "http_stream_heartbeat", CONFIG_INT, "15", 1, 3600,
	        CONFIG_FIELD(http_stream_heartbeat), NULL,
	        "seconds between the ': ping' comments of an /api/events stream; a client that takes no byte for 4 of them is dropped" },
	{ "http_events_token_ttl", CONFIG_INT, "60", 1, 3600,
	        CONFIG_FIELD(http_events_token_ttl), NULL,
	        "seconds a token from POST /api/events/token opens /api/events?token= (browsers' EventSource cannot send a Bearer header)" },
	{ "log_level", CONFIG_STR, "info", 0, 0, CONFIG_FIELD(log_level),
	        "error|warn|info|debug", "most verbose level logged" },
	{ "max_message_bytes", CONFIG_SIZE, "4M", 1024, 256 * 1024 * 1024,
	        CONFIG_FIELD(max_message_bytes), NULL,
	        "largest request accepted (bigger ones are dropped)" },
	{ "max_touchpoints", CONFIG_INT, "10000", 1, 1000000,
	        CONFIG_FIELD(max_touchpoints), NULL, "touchpoints per Track" },
	{ "max_id_bytes", CONFIG_INT, "128", 1, 480,
	        CONFIG_FIELD(max_id_bytes), NULL,
	        "longest customer, anonymous, event or item id" },
	{ "max_properties", CONFIG_INT, "32", 0, 1024,
	        CONFIG_FIELD(max_properties), NULL,
	        "properties per touchpoint" },
	{ "max_property_key_bytes", CONFIG_INT, "64", 1, 4096,
	        CONFIG_FIELD(max_property_key_bytes), NULL,
	        "longest property key" },
	{ "max_property_value_bytes", CONFIG_INT, "1024", 1, 65536,
	        CONFIG_FIELD(max_property_value_bytes), NULL,
	        "longest property value" },
	{ "write_queue", CONFIG_INT, "4096", 1, 1000000,
	        CONFIG_FIELD(write_queue), NULL,
	        "write requests queued before callers get UNAVAILABLE" },
	{ "batch_max", CONFIG_INT, "1024", 1, 100000, CONFIG_FIELD(batch_max),
	        NULL, "write requests committed in one transaction" },
	{ "batch_max_touchpoints", CONFIG_INT, "2048", 1, 1000000,
	        CONFIG_FIELD(batch_max_touchpoints), NULL,
	        "touchpoints committed in one transaction (a larger Track still commits whole); bounds the memory LMDB keeps for its page buffers" },
	{ "map_bytes", CONFIG_SIZE, "256M", 64 * CONFIG_KIB, 1LL << 50,
	        CONFIG_FIELD(map_bytes), NULL, "initial LMDB map size" },
	{ "max_db_bytes", CONFIG_SIZE, "64G", 64 * CONFIG_KIB, 1LL << 50,
	        CONFIG_FIELD(max_db_bytes), NULL,
	        "database size ceiling (writes past it: RESOURCE_EXHAUSTED)" },
	{ "checkpoint_interval", CONFIG_INT, "auto", 1, 3600,
	        CONFIG_FIELD(checkpoint_interval), NULL,
	        "seconds after a write before it is checkpointed from the journal into the view; auto: once the writes past the last checkpoint took the writer 10 s to apply (what a crash would replay), at most 300 s after the first of them, 10 s after a ForgetCustomer" },
	{ "checkpoint_bytes", CONFIG_SIZE, "auto", 4 * CONFIG_KIB, 16 * CONFIG_GIB, CONFIG_FIELD(checkpoint_bytes), NULL, "overlay size that starts a checkpoint sooner; each of the two overlay files takes twice this plus 8M of disk; auto: a third of the view (data.mdb's used bytes) in steps of 64M, from 64M to 512M, growing with the view" },
	{ "checkpoint_chunk_keys", CONFIG_INT, "16384", 1, 1000000000,
	        CONFIG_FIELD(checkpoint_chunk_keys), NULL,
	        "overlay keys one checkpoint transaction moves at most (larger checkpoints go in chunks, from DATA/checkpoint.img); bounds the LMDB page buffers a checkpoint leaves in memory to about 4K times this" },
	{ "warm_view", CONFIG_STR, "true", 0, 0, CONFIG_FIELD(warm_view),
	        "true|false",
	        "true: at start, read the view (data.mdb) into the page cache in the background when it fits in half the memory available, so recovery after a reboot does not wait on random reads" },
	{ "at_risk_days", CONFIG_INT, "30", 1, 3650,
	        CONFIG_FIELD(at_risk_days), NULL,
	        "inactivity before AT_RISK" },
	{ "churn_days", CONFIG_INT, "90", 1, 3650, CONFIG_FIELD(churn_days),
	        NULL, "inactivity before CHURNED" },
	{ "billing_issue_days", CONFIG_INT, "60", 0, 3650,
	        CONFIG_FIELD(billing_issue_days), NULL,
	        "a BILLING_ISSUE this recent is a risk" },
	{ "support_ticket_days", CONFIG_INT, "30", 0, 3650,
	        CONFIG_FIELD(support_ticket_days), NULL,
	        "window for counting support tickets" },
	{ "support_tickets", CONFIG_INT, "3", 1, 16,
	        CONFIG_FIELD(support_tickets), NULL,
	        "tickets in that window that are a risk" },
	{ "sentiment_window", CONFIG_INT, "5", 1, 16,
	        CONFIG_FIELD(sentiment_window), NULL,
	        "latest sentiments averaged" },
	{ "negative_sentiment", CONFIG_REAL, "-0.3", -1, 1,
	        CONFIG_FIELD(negative_sentiment), NULL,
	        "a mean sentiment below this is a risk" },
	{ "refund_days", CONFIG_INT, "30", 0, 3650, CONFIG_FIELD(refund_days),
	        NULL, "a REFUND this recent is a risk" },
	{ "weight_inactive", CONFIG_REAL, "0.5", 0, 1,
	        CONFIG_FIELD(weight_inactive), NULL,
	        "risk weight of INACTIVE" },
	{ "weight_billing_issue", CONFIG_REAL, "0.4", 0, 1,
	        CONFIG_FIELD(weight_billing_issue), NULL,
	        "risk weight of RECENT_BILLING_ISSUE" },
	{ "weight_support_tickets", CONFIG_REAL, "0.3", 0, 1,
	        CONFIG_FIELD(weight_support_tickets), NULL,
	        "risk weight of SUPPORT_TICKETS" },
	{ "weight_negative_sentiment", CONFIG_REAL, "0.3", 0, 1,
	        CONFIG_FIELD(weight_negative_sentiment), NULL,
	        "risk weight of NEGATIVE_SENTIMENT" },
	{ "weight_recent_refund", CONFIG_REAL, "0.2", 0, 1,
	        CONFIG_FIELD(weight_recent_refund), NULL,
	        "risk weight of RECENT_REFUND" },
	{ "weight_slow_onboarding", CONFIG_REAL, "0.3", 0, 1,
	        CONFIG_FIELD(weight_slow_onboarding), NULL,
	        "risk weight of SLOW_ONBOARDING" },
	{ "weight_cancelled", CONFIG_REAL, "1.0", 0, 1,
	        CONFIG_FIELD(weight_cancelled), NULL,
	        "risk weight of SUBSCRIPTION_CANCELLED" },
	{ "cap_messages", CONFIG_INT, "3", 1, 8, CONFIG_FIELD(cap_messages),
	        NULL, "messages per channel within cap_days" },
	{ "cap_days", CONFIG_INT, "7", 1, 365, CONFIG_FIELD(cap_days), NULL,
	        "frequency-cap window" },
	{ "quiet_hours", CONFIG_INT, "24", 0, 720, CONFIG_FIELD(quiet_hours),
	        NULL, "no second message on a channel within" },
	{ "journey_feed_max", CONFIG_INT, "1000000", 1000, 1000000000,
	        CONFIG_FIELD(journey_feed_max), NULL,
	        "journey messages the feed keeps (docs/journeys.md)" },
	{ "webhooks", CONFIG_STR, "true", 0, 0, CONFIG_FIELD(webhooks),
	        "true|false",
	        "false: this node delivers no journey webhooks (cluster mode: let one node deliver)" },
	{ "webhook_timeout_s", CONFIG_INT, "10", 1, 300,
	        CONFIG_FIELD(webhook_timeout_s), NULL,
	        "seconds a journey webhook has to answer" },
	{ "webhook_ca_file", CONFIG_STR, "/etc/ssl/certs/ca-certificates.crt",
	        0, 0, CONFIG_FIELD(webhook_ca_file), NULL,
	        "PEM CA bundle that https:// journey webhooks are verified against (with the URL's host name)" },
};

#define CONFIG_N (sizeof(config_table) / sizeof(config_table[0]))

static const struct config_entry *
config_find(const char *name)
{
	char key[64];
	size_t n = strlen(name);
	if (n >= sizeof(key)) {
		return NULL;
	}
	/* Flags spell '_' as '-'; accept either everywhere. */
	for (size_t i = 0; i <= n; i++) {
		key[i] = name[i] == '-' ? '_' : name[i];
	}
	for (size_t i = 0; i < CONFIG_N; i++) {
		if (strcmp(config_table[i].name, key) == 0) {
			return &config_table[i];
		}
	}
	return NULL;
}

static int
config_parse_int(const char *s, bool size, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || errno != 0) {
		return -1;
	}
	if (size && *end != '\0') {
		long long mul = 1;
		switch (*end) {
		case 'k':
		case 'K':
			mul = 1024LL;
			break;
		case 'm':
		case 'M':
			mul = 1024LL * 1024;
			break;
		case 'g':
		case 'G':
			mul = CONFIG_GIB;
			break;
		case 't':
		case 'T':
			mul = CONFIG_GIB * 1024;
			break;
		default:
			return -1;
		}
		end++;
		if (*end == 'B' || *end == 'b') {
			end++;
		}
		if (v > INT64_MAX / mul || v < -(INT64_MAX / mul)) {
			return -1;
		}
		v *= mul;
	}
	if (*end != '\0') {
		return -1;
	}
	*out = v;
	return 0;
}

static bool
config_choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;
	while (*p != '\0') {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t) (bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0) {
			return true;
		}
		p += len;
		if (*p == '|') {
			p++;
		}
	}
	return false;
}

/* Whether the list still holds its default (so a new value replaces it). */
static int
config_set_entry(struct config *c, const struct config_entry *e,
        const char *value, bool replace_list, char *err, size_t errlen)
{
	char *base = (char *) c;
	switch (e->type) {
	case CONFIG_STR: {
		if (e->choices != NULL
		        && !config_choice_ok(e->choices, value)) {
			snprintf(err, errlen,
			        "invalid %s '%s': expected one of %s", e->name,
			        value, e->choices);
			return -1;
		}
		const char *why = NULL;
		for (size_t i = 0;
		        i < sizeof(config_checks) / sizeof(config_checks[0])
		        && why == NULL;
		        i++) {
			if (strcmp(config_checks[i].name, e->name) == 0) {
				why = config_checks[i].check(value);
			}
		}
		if (why != NULL) {
			snprintf(err, errlen, "invalid %s '%s': %s", e->name,
			        value, why);
			return -1;
		}
		char **field = (char **) (base + e->offset);
		char *copy = strdup(value);
		if (copy == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		free(*field);
		*field = copy;
		return 0;
	}
	case CONFIG_LIST: {
		if (replace_list) {
			for (int i = 0; i < c->n_listen; i++) {
				free(c->listen[i]);
				c->listen[i] = NULL;
			}
			c->n_listen = 0;
		}
		if (c->n_listen == CONFIG_MAX_LISTEN) {
			snprintf(err, errlen, "too many %s URLs (at most %d)",
			        e->name, CONFIG_MAX_LISTEN);
			return -1;
		}
		char *copy = strdup(value);
		if (copy == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		c->listen[c->n_listen++] = copy;
		return 0;
	}
	case CONFIG_INT:
	case CONFIG_SIZE: {
		int64_t v;
		/* A number whose default is "auto" takes it too, as 0. */
		if (strcmp(e->def, "auto") == 0
		        && strcmp(value, "auto") == 0) {
			*(int64_t *) (base + e->offset) = 0;
			return 0;
		}
		if (config_parse_int(value, e->type == CONFIG_SIZE, &v) != 0) {
			bool is_auto = strcmp(e->def, "auto") == 0;
			snprintf(err, errlen, "invalid %s '%s': expected %s",
			        e->name, value,
			        e->type != CONFIG_SIZE
			                ? (is_auto ? "auto or an integer"
			                           : "an integer")
			                : is_auto
			                ? "auto or a size such as 512M or 64G"
			                : "a size such as 512M or 64G");
			return -1;
		}
		if (v < e->min || v > e->max) {
			snprintf(err, errlen,
			        "invalid %s '%s': must be between %lld and %lld",
			        e->name, value, (long long) e->min,
			        (long long) e->max);
			return -1;
		}
		*(int64_t *) (base + e->offset) = v;
		return 0;
	}
	case CONFIG_REAL: {
		char *end;
		double v = strtod(value, &end);
		if (end == value || *end != '\0' || !(v >= (double) e->min)
		        || !(v <= (double) e->max)) {
			snprintf(err, errlen,
			        "invalid %s '%s': expected a number between %lld and %lld",
			        e->name, value, (long long) e->min,
			        (long long) e->max);
			return -1;
		}
		*(double *) (base + e->offset) = v;
		return 0;
	}
	}
	return -1;
}

void
config_init(struct config *c)
{
	char err[256];
	memset(c, 0, sizeof(*c));
	c->config_file = strdup("");
	for (size_t i = 0; i < CONFIG_N; i++) {
		/* Defaults are constants that satisfy their own bounds. */
		config_set_entry(c, &config_table[i], config_table[i].def,
		        false, err, sizeof(err));
	}
}

void
config_fini(struct config *c)
{
	char *base = (char *) c;
	for (size_t i = 0; i < CONFIG_N; i++) {
		if (config_table[i].type == CONFIG_STR) {
			char **field
			        = (char **) (base + config_table[i].offset);
			free(*field);
			*field = NULL;
		}
	}
	for (int i = 0; i < c->n_listen; i++) {
		free(c->listen[i]);
		c->listen[i] = NULL;
	}
	c->n_listen = 0;
	free(c->config_file);
	c->config_file = NULL;
}

int
config_set(struct config *c, const char *name, const char *value, char *err,
        size_t errlen)
{
	const struct config_entry *e = config_find(name);
	if (e == NULL) {
		snprintf(err, errlen, "unknown setting '%s'", name);
		return -1;
	}
	return config_set_entry(c, e, value, false, err, errlen);
}

struct config_ini_state {
	struct config *c;
	bool listen_replaced;
	char msg[256];
	bool failed;
};

static int
config_ini_handler(
        void *user, const char *section, const char *name, const char *value)
{
	struct config_ini_state *st = user;
	(void) section;
	if (st->failed) {
		return 0;
	}
	/* Returning 0 makes ini_parse_file return this line's number. */
	const struct config_entry *e = config_find(name);
	if (e == NULL) {
		snprintf(st->msg, sizeof(st->msg), "unknown setting '%s'",
		        name);
		st->failed = true;
		return 0;
	}
	bool replace = e->type == CONFIG_LIST && !st->listen_replaced;
	if (config_set_entry(
	            st->c, e, value, replace, st->msg, sizeof(st->msg))
	        != 0) {
		st->failed = true;
		return 0;
	}
	if (e->type == CONFIG_LIST) {
		st->listen_replaced = true;
	}
	return 1;
}

int
config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read config '%s': %s", path,
		        strerror(errno));
		return -1;
	}
	struct config_ini_state st = { .c = c };
	int rv = ini_parse_file(f, config_ini_handler, &st);
	fclose(f);
	if (st.failed) {
		snprintf(err, errlen, "%s:%d: %s", path, rv, st.msg);
		return -1;
	}
	if (rv != 0) {
		snprintf(err, errlen, "%s:%d: syntax error", path, rv);
		return -1;
	}
	free(c->config_file);
	c->config_file = strdup(path);
	return 0;
}

void
config_usage(FILE *out)
{
	fprintf(out,
	        "usage: clmd [--config FILE] [--FLAG VALUE]...\n"
	        "\n"
	        "clmd is the clm customer-lifecycle server. Every flag is also a key in\nclmd.conf ('--max-db-bytes 8G' = 'max_db_bytes = 8G').\n\n"
	        "  --config FILE                    read settings from FILE first\n"
	        "  --version                        print the version and exit\n"
	        "  --help                           print this help and exit\n");
	for (size_t i = 0; i < CONFIG_N; i++) {
		const struct config_entry *e = &config_table[i];
		char flag[64];
		size_t n = strlen(e->name);
		for (size_t k = 0; k <= n; k++) {
			flag[k] = e->name[k] == '_' ? '-' : e->name[k];
		}
		char left[80];
		snprintf(left, sizeof(left), "--%s %s", flag,
		        e->type == CONFIG_INT            ? "N"
		                : e->type == CONFIG_REAL ? "X"
		                : e->type == CONFIG_SIZE ? "BYTES"
		                : e->choices             ? e->choices
		                                         : "VALUE");
		fprintf(out, "  %-32s %s", left, e->help);
		if (e->def[0] != '\0') {
			fprintf(out, " (default %s)", e->def);
		}
		fputc('\n', out);
	}
}

int
config_parse_args(struct config *c, int argc, char **argv, FILE *out,
        char *err, size_t errlen)
{
	/* Pass 1: --help, --version and --config, so flags override the file.
	 */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			config_usage(out);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			fprintf(out, "clmd %s\n", CLM_VERSION);
			return 1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		if (strncmp(a, "--config=", 9) == 0) {
			v = a + 9;
		} else if (strcmp(a, "--config") == 0) {
			if (i + 1 >= argc) {
				snprintf(
				        err, errlen, "--config needs a value");
				return -1;
			}
			v = argv[++i];
		}
		if (v != NULL && config_load_file(c, v, err, errlen) != 0) {
			return -1;
		}
	}
	/* Pass 2: every other flag. */
	bool listen_replaced = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -1;
		}
		char name[64];
		const char *eq = strchr(a, '=');
		size_t n = eq ? (size_t) (eq - a - 2) : strlen(a + 2);
		if (n >= sizeof(name)) {
			snprintf(err, errlen, "unknown flag '%s'", a);
			return -1;
		}
		memcpy(name, a + 2, n);
		name[n] = '\0';
		const char *value;
		if (eq != NULL) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(err, errlen, "--%s needs a value", name);
			return -1;
		}
		if (strcmp(name, "config") == 0) {
			continue;
		}
		const struct config_entry *e = config_find(name);
		if (e == NULL) {
			snprintf(err, errlen, "unknown flag '--%s'", name);
			return -1;
		}
		bool replace = e->type == CONFIG_LIST && !listen_replaced;
		if (config_set_entry(c, e, value, replace, err, errlen) != 0) {
			return -1;
		}
		if (e->type == CONFIG_LIST) {
			listen_replaced = true;
		}
	}
	return 0;
}
