/*
 * config: clmd's settings, from defaults, then clmd.conf, then flags.
 *
 * Every setting is one row of a table (name, type, default, bounds, field):
 * the same name is the clmd.conf key and, with '_' written '-', the
 * command-line flag (`max_db_bytes` = `--max-db-bytes`). Later sources
 * override earlier ones; `listen` is repeatable and the first `--listen`
 * replaces the list from the file.
 */
#ifndef CLM_CONFIG_H
#define CLM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_LISTEN 8

struct config {
	char *data; /* data directory */
	char *listen[CONFIG_MAX_LISTEN];
	int n_listen;
	char *events; /* PUB URL, "none", or "" = the default (main_events) */
	char *events_unauthenticated; /* "true": tcp:// events with tokens */
	char *config_file;            /* the clmd.conf that was read, if any */
	char *durability;             /* "full" or "os" */
	char *auth_token_file;        /* "" = no tokens */
	char *http;                   /* "" = off */
	char *tls_cert_file; /* PEM: certificate chain and key, for tls+tcp */
	char *tls_ca_file;   /* PEM: CA of client certificates ("" = none) */
	char *log_level;
	char *http_allowed_hosts; /* more Host names for http: "a, b" */
	char *sdk_event_map;      /* SDK event-name file, or "" */
	/* Cluster mode (docs/cluster.md): "local" or the NATS URLs. */
	char *journal;
	char *journal_stream;     /* the JetStream stream's name */
	int64_t journal_replicas; /* when clmd creates it */
	char *journal_creds;      /* NATS .creds file, or "" */
	char *journal_auth_file;  /* user:password or token, or "" */
	char *journal_tls_ca;     /* PEM files, or "" */
	char *journal_tls_cert;
	char *journal_tls_key;
	char *test_clock_file;        /* tests and demos only: util/clock.h */
	int64_t workers;              /* concurrent requests in flight */
	int64_t max_connections;      /* rpc connections open at once */
	int64_t idle_timeout;         /* s without a request; 0 = never */
	int64_t http_max_connections; /* http connections open at once */
	int64_t http_request_timeout; /* s for a whole http request */
	int64_t http_idle_timeout;    /* s between http requests; 0 = never */
	int64_t http_events_retained; /* events /api/events can replay */
	int64_t http_events_retained_bytes; /* and their bytes */
	int64_t http_max_streams;           /* /api/events streams at once */
	int64_t http_stream_heartbeat;      /* s between ': ping' comments */
	int64_t http_events_token_ttl;      /* s a ?token= stays valid */
	int64_t max_message_bytes;
	int64_t max_touchpoints; /* per Track */
	int64_t max_id_bytes;
	int64_t max_properties;
	int64_t max_property_key_bytes;
	int64_t max_property_value_bytes;
	int64_t write_queue; /* queued write requests before UNAVAILABLE */
	int64_t batch_max;   /* write requests per transaction */
	int64_t batch_max_touchpoints; /* their touchpoints, ditto */
	int64_t map_bytes;             /* initial LMDB map size */
	int64_t checkpoint_interval;   /* seconds (issue 14) */
	int64_t checkpoint_bytes; /* overlay size that checkpoints, 0: auto */
	int64_t checkpoint_chunk_keys; /* keys per checkpoint transaction */
	int64_t max_db_bytes;          /* map size ceiling */
	/* "true": data.mdb read into the page cache at start (store_warm.c) */
	char *warm_view;
	int64_t at_risk_days;
	int64_t churn_days;
	int64_t billing_issue_days;
	int64_t support_ticket_days;
	int64_t support_tickets;
	int64_t sentiment_window;
	double negative_sentiment;
	int64_t refund_days;
	double weight_inactive;
	double weight_billing_issue;
	double weight_support_tickets;
	double weight_negative_sentiment;
	double weight_recent_refund;
	double weight_slow_onboarding;
	double weight_cancelled;
	int64_t cap_messages;
	int64_t cap_days;
	int64_t quiet_hours;
	int64_t journey_feed_max;  /* docs/journeys.md "The feed" */
	int64_t webhook_timeout_s; /* docs/journeys.md "Webhooks" */
	char *webhooks;            /* "true": this node delivers them */
	char *webhook_ca_file;     /* PEM: CAs of https:// webhooks */
};

/* config_init fills c with the defaults; release it with config_fini. */
void config_init(struct config *c);
void config_fini(struct config *c);

/*
 * config_parse_args applies argv: reads `--config FILE` first (failing if it
 * cannot be read), then every other flag over it. Returns 0 on success, 1
 * when --help or --version was handled (the text is printed on out), and -1
 * on a usage error, with a one-line lowercase message in err.
 */
int config_parse_args(struct config *c, int argc, char **argv, FILE *out,
        char *err, size_t errlen);

/*
 * config_set sets one setting by name from text ("max_db_bytes", "64G").
 * Returns 0, or -1 with a one-line message in err (unknown key, bad value,
 * out of bounds).
 */
int config_set(struct config *c, const char *name, const char *value,
        char *err, size_t errlen);

/*
 * config_load_file reads an INI file of `key = value` lines (sections are
 * allowed and ignored). Returns 0, or -1 with the file, line and reason in
 * err.
 */
int config_load_file(
        struct config *c, const char *path, char *err, size_t errlen);

/* config_usage prints the flag list with defaults. */
void config_usage(FILE *out);

#endif /* CLM_CONFIG_H */
