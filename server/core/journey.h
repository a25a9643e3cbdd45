/*
 * journey: a journey's definition (docs/journeys.md "Definition"), parsed
 * from its JSON, checked and normalised (issue 20). Pure: no store, no
 * clock, no I/O. The conditions (`exit`, each step's `if`) are compiled
 * segment programs (core/segexpr.h) that may use `since_entry`.
 */
#ifndef CLM_CORE_JOURNEY_H
#define CLM_CORE_JOURNEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/error.h"
#include "core/segexpr.h"

#define JNY_NAME_MAX         64    /* bytes of a name: [a-z0-9_-]{1,64} */
#define JNY_DEF_MAX          65536 /* bytes of a definition's JSON */
#define JNY_STEPS_MAX        32
#define JNY_ACTION_MAX       64  /* bytes of send.action: printable ASCII */
#define JNY_ITEM_MAX         128 /* bytes of send.item */
#define JNY_URL_MAX          1024
#define JNY_SECRET_MAX       256
#define JNY_JOURNEYS_MAX     64 /* journeys a server holds */
#define JNY_ATTEMPTS_DEFAULT 10
#define JNY_LATENESS_DEFAULT 86400000LL /* "1d" */

enum jny_trigger {
	JNY_TRIGGER_EVENT
	= 1,                 /* a touchpoint of type (and name, for CUSTOM) */
	JNY_TRIGGER_SEGMENT, /* entering the segment called name */
	JNY_TRIGGER_STAGE,   /* a STAGE_CHANGED to stage `value` */
	JNY_TRIGGER_RISK     /* a RISK_SIGNAL with reason `value` */
};

enum jny_reentry {
	JNY_REENTRY_ALWAYS = 0, /* whenever not in the journey */
	JNY_REENTRY_ONCE,       /* never again */
	JNY_REENTRY_AFTER       /* reentry_ms after the last entry */
};

enum jny_when_capped { JNY_CAPPED_WAIT = 0, JNY_CAPPED_SKIP };

struct jny_step {
	int64_t wait_ms;
	segx *cond; /* "if"; NULL: none */
	int kind;   /* clm.v1.RecommendationKind, not 0 */
	char action[JNY_ACTION_MAX + 1];
	int channel;     /* clm.v1.Channel, not 0 */
	char *item;      /* send.item; NULL: the entry's item */
	int when_capped; /* enum jny_when_capped */
};

struct jny_def {
	char name[JNY_NAME_MAX + 1];
	int trigger;        /* enum jny_trigger */
	int value;          /* EVENT: TouchpointType; STAGE: Stage;
	                       RISK: RiskReason; SEGMENT: 0 */
	char *trigger_name; /* EVENT of CUSTOM: its event_name (NULL: any
	                       CUSTOM); SEGMENT: the segment's name */
	segx *exit;         /* NULL: none */
	int reentry;        /* enum jny_reentry */
	int64_t reentry_ms; /* JNY_REENTRY_AFTER */
	int64_t max_lateness_ms;
	struct jny_step *steps;
	size_t n_steps;    /* 1 to JNY_STEPS_MAX */
	char *webhook_url; /* NULL: no webhook */
	char *webhook_secret;
	unsigned webhook_max_attempts; /* 1 to 100 */
	/*
	 * The normalised JSON: the keys in the order of docs/journeys.md,
	 * every default written out, durations in the unit given (without
	 * leading zeros: "030d" is "30d"), no white space
	 * beyond one space after ':' and ','; NUL-terminated. Parsing it
	 * gives the same definition (and the same text again). It holds
	 * the secret in clear: jny_redacted for what users see.
	 */
	char *json;
	size_t json_len;
};

/* Where and why a definition is refused. */
struct jny_error {
	char msg[320]; /* "steps[1].send.channel: expected a Channel name,
	                  got \"FAX\"": the JSON path, then why */
};

/* jny_name_valid: name (len bytes) is 1 to 64 bytes of [a-z0-9_-]. */
bool jny_name_valid(const char *name, size_t len);

/*
 * jny_parse parses and checks the definition json (len bytes, not
 * necessarily NUL-terminated) into *out (malloc'd; jny_free). Returns
 * CLM_OK, INVALID_ARGUMENT with *err filled (docs/journeys.md: the JSON
 * path of the first fault, then what is wrong), or RESOURCE_EXHAUSTED
 * (memory). Never reads past len. A definition whose normalised JSON
 * would be over JNY_DEF_MAX bytes (the defaults and spaces it adds) is
 * refused too, so every stored definition parses again.
 */
clm_err jny_parse(const char *json, size_t len, struct jny_def **out,
        struct jny_error *err);

/* jny_free releases d; NULL is a no-op. */
void jny_free(struct jny_def *d);

/*
 * jny_redacted returns d's normalised JSON with the webhook's secret as
 * "***" (malloc'd; NULL when memory is exhausted): what GetJourney shows.
 */
char *jny_redacted(const struct jny_def *d);

/*
 * jny_needs gives the widest count window d's conditions read
 * (segx_needs' max_window_ms over exit and every if) and whether any uses
 * since_entry: a caller evaluating them at now_ms loads touchpoints back
 * to max(window, now_ms - entry_ms).
 */
void jny_needs(
        const struct jny_def *d, int64_t *max_window_ms, bool *since_entry);

/* The length of a message id, without its NUL: "jm_" and 32 hex digits. */
#define JNY_MESSAGE_ID_LEN 35

/*
 * jny_message_id writes the stable id of the message of step `step` of
 * the entry at entered_ms of customer_id into journey (its id) into
 * out[JNY_MESSAGE_ID_LEN + 1]: "jm_" and the hex of BLAKE2b-128 over the
 * journey id (4 bytes big-endian), the entry instant (8 bytes big-endian,
 * two's complement), the step (4 bytes big-endian) and the customer id's
 * bytes (docs/journeys.md "Messages").
 */
void jny_message_id(uint32_t journey, const char *customer_id,
        int64_t entered_ms, uint32_t step, char *out);

#endif /* CLM_CORE_JOURNEY_H */
