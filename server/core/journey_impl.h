/*
 * journey_impl: the definition parser's state, shared by the parser
 * (journey.c) and the writer of the normalised JSON (journey_json.c)
 * only.
 */
#ifndef CLM_CORE_JOURNEY_IMPL_H
#define CLM_CORE_JOURNEY_IMPL_H

#include "core/journey.h"
#include "jsonlex.h"

#define JNY_PATH_MAX       48  /* "steps[31].send.channel" and room */
#define JNY_DUR_TEXT       24  /* a duration's text: 19 digits, unit, NUL */
#define JNY_EVENT_NAME_MAX 200 /* a CUSTOM touchpoint's event_name */

/*
 * The parser: where it is, the definition it fills, and what the
 * normalised JSON needs that struct jny_def does not keep.
 */
struct jny_parser {
	struct jsonlex lx;
	struct jny_def *d;
	struct jny_error *err;
	char *segment;  /* trigger.segment until the trigger is complete */
	char *exit_src; /* the conditions' sources, as decoded */
	size_t exit_len;
	char *if_src[JNY_STEPS_MAX];
	size_t if_len[JNY_STEPS_MAX];
	/* Durations as written, less their leading zeros. */
	char wait_txt[JNY_STEPS_MAX][JNY_DUR_TEXT];
	char reentry_txt[JNY_DUR_TEXT];
	char lateness_txt[JNY_DUR_TEXT];
};

/*
 * jny_json writes p->d's normalised JSON into p->d->json / json_len, with
 * the secret as "***" when redact. Returns CLM_OK or RESOURCE_EXHAUSTED.
 */
clm_err jny_json(struct jny_parser *p, bool redact);

/*
 * jny_parse_opt is jny_parse, its json written with the secret as "***"
 * when redact (jny_redacted parses a normalised text again so).
 */
clm_err jny_parse_opt(const char *json, size_t len, bool redact,
        struct jny_def **out, struct jny_error *err);

#endif /* CLM_CORE_JOURNEY_IMPL_H */
