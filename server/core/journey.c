/*
 * journey: the parser of a journey's definition (docs/journeys.md
 * "Definition"). It reads the JSON with the project's tokenizer
 * (jsonlex.h) straight into struct jny_def, object by object, with a table
 * of keys per object: no tree is built, and since only the keys of the
 * schema are descended into, nesting is bounded by the schema, not the
 * input. Every fault stops at once with the JSON path where it is.
 *
 * The normalised JSON is written from the parsed definition
 * (journey_json.c), with what the definition's structs do not keep (the
 * conditions' sources, durations as written) held in the parser.
 */
#include "core/journey.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clm/v1/clm.pb-c.h"
#include "core/journey_impl.h"
#include "jsonlex.h"
#include "jsonstr.h"

bool
jny_name_valid(const char *name, size_t len)
{
	return segx_name_valid(name, len);
}

/* Output of jny_quote: at most JNY_QUOTE_RAW bytes of the value, escaped. */
#define JNY_QUOTE_RAW 32

struct jny_qbuf {
	char *b;
	size_t n, cap;
};

static void
jny_qput(void *arg, const char *s, size_t n)
{
	struct jny_qbuf *q = arg;
	if (n > q->cap - 1 - q->n) {
		n = q->cap - 1 - q->n;
	}
	memcpy(q->b + q->n, s, n);
	q->n += n;
	q->b[q->n] = '\0';
}

/*
 * jny_quote writes s (n bytes) as a JSON string into buf (cap bytes, at
 * least 200): its first JNY_QUOTE_RAW bytes (cut at a character's start),
 * then, when there was more, "... (N bytes)" after the quote.
 */
static const char *
jny_quote(char *buf, size_t cap, const char *s, size_t n)
{
	size_t m = n;
	if (m > JNY_QUOTE_RAW) {
		m = JNY_QUOTE_RAW;
		while (m > 0 && ((unsigned char) s[m] & 0xc0) == 0x80) {
			m--;
		}
	}
	struct jny_qbuf q = { buf, 0, cap };
	buf[0] = '\0';
	jsonstr_write(s, m, JSONSTR_SHORT_ESCAPES, jny_qput, &q);
	if (m < n) {
		char more[40];
		snprintf(more, sizeof(more), "... (%zu bytes)", n);
		jny_qput(&q, more, strlen(more));
	}
	return buf;
}

/* jny_fail words the fault at path ("" for the whole definition). */
static clm_err jny_fail(struct jny_parser *p, const char *path,
        const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static clm_err
jny_fail(struct jny_parser *p, const char *path, const char *fmt, ...)
{
	char *m = p->err->msg;
	size_t cap = sizeof(p->err->msg), n = 0;
	if (path[0] != '\0') {
		n = (size_t) snprintf(m, cap, "%s: ", path);
		n = n < cap ? n : cap - 1;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m + n, cap - n, fmt, ap);
	va_end(ap);
	return CLM_INVALID_ARGUMENT;
}

/* A syntax error at the lexer's position: what is wrong there. */
static clm_err
jny_syntax(struct jny_parser *p, const char *path, const char *what)
{
	return jny_fail(
	        p, path, "invalid JSON at byte %zu: %s", p->lx.pos, what);
}

/* An error of the tokenizer (e), as a syntax error or out of memory. */
static clm_err
jny_lexerr(struct jny_parser *p, const char *path, clm_err e)
{
	if (e == CLM_INVALID_ARGUMENT) {
		return jny_syntax(p, path,
		        p->lx.what != NULL ? p->lx.what : "malformed value");
	}
	snprintf(p->err->msg, sizeof(p->err->msg), "out of memory");
	return e;
}

/*
 * jny_type fails "path: expected what, got <the kind of the next value>",
 * or with a syntax error when no value starts there.
 */
static clm_err
jny_type(struct jny_parser *p, const char *path, const char *what)
{
	int c = jsonlex_peek(&p->lx);
	const char *got;
	if (c == '{') {
		got = "an object";
	} else if (c == '[') {
		got = "an array";
	} else if (c == '"') {
		got = "a string";
	} else if (c == 't' || c == 'f') {
		got = "a boolean";
	} else if (c == 'n') {
		got = "null";
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		got = "a number";
	} else if (c < 0) {
		return jny_syntax(p, path, "unexpected end");
	} else {
		return jny_syntax(p, path, "expected a value");
	}
	return jny_fail(p, path, "expected %s, got %s", what, got);
}

/* jny_got fails "path: expected what, got "VALUE"" for a string value. */
static clm_err
jny_got(struct jny_parser *p, const char *path, const char *what,
        const char *s, size_t n)
{
	char q[256];
	return jny_fail(p, path, "expected %s, got %s", what,
	        jny_quote(q, sizeof(q), s, n));
}

/*
 * jny_str reads a string value into *s (malloc'd, NUL-terminated; the
 * caller frees it) of *n bytes, or fails "expected what" for another type.
 */
static clm_err
jny_str(struct jny_parser *p, const char *path, const char *what, char **s,
        size_t *n)
{
	if (jsonlex_peek(&p->lx) != '"') {
		return jny_type(p, path, what);
	}
	clm_err e = jsonlex_string(&p->lx, s, n);
	return e == CLM_OK ? CLM_OK : jny_lexerr(p, path, e);
}

/* Whether s (n bytes of UTF-8) has no control character (C0, DEL, C1). */
static bool
jny_printable(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *) s;
	for (size_t i = 0; i < n; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f
		        || (u[i] == 0xc2 && i + 1 < n && u[i + 1] < 0xa0)) {
			return false;
		}
	}
	return true;
}

/* Whether s (n bytes) is printable ASCII. */
static bool
jny_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			return false;
		}
	}
	return true;
}

/*
 * jny_text reads a string of min to max bytes that ok accepts (NULL:
 * printable UTF-8) into *s (malloc'd), or fails "expected what, got ...".
 */
static clm_err
jny_text(struct jny_parser *p, const char *path, const char *what, size_t min,
        size_t max, bool (*ok)(const char *, size_t), char **s, size_t *n)
{
	clm_err e = jny_str(p, path, what, s, n);
	if (e != CLM_OK) {
		return e;
	}
	if (*n < min || *n > max
	        || !(ok != NULL ? ok : jny_printable)(*s, *n)) {
		e = jny_got(p, path, what, *s, *n);
		free(*s);
		*s = NULL;
	}
	return e;
}

/* jny_enum reads a name of enum d other than its 0 (UNSPECIFIED) one. */
static clm_err
jny_enum(struct jny_parser *p, const char *path,
        const ProtobufCEnumDescriptor *d, int *v)
{
	char what[64], *s;
	size_t n;
	snprintf(what, sizeof(what), "a %s name", d->short_name);
	clm_err e = jny_str(p, path, what, &s, &n);
	if (e != CLM_OK) {
		return e;
	}
	const ProtobufCEnumValue *ev = strlen(s) == n
	        ? protobuf_c_enum_descriptor_get_value_by_name(d, s)
	        : NULL;
	if (ev == NULL || ev->value == 0) {
		e = jny_got(p, path, what, s, n);
	} else {
		*v = ev->value;
	}
	free(s);
	return e;
}

/*
 * jny_dur_text writes the duration s (n bytes, one segx_duration_parse
 * accepted) without its leading zeros into out[JNY_DUR_TEXT].
 */
static void
jny_dur_text(const char *s, size_t n, char *out)
{
	size_t i = 0;
	while (i + 2 < n && s[i] == '0') {
		i++;
	}
	memcpy(out, s + i, n - i);
	out[n - i] = '\0';
}

/*
 * jny_duration reads a duration of at least min_ms into *ms, and its text
 * into txt[JNY_DUR_TEXT]; also accepts the words of words (NULL-terminated;
 * their index + 1 in *word, else 0); what names them all for the message.
 * With txt NULL, only the words.
 */
static clm_err
jny_duration(struct jny_parser *p, const char *path, const char *what,
        int64_t min_ms, const char *const *words, int *word, int64_t *ms,
        char *txt)
{
	char *s;
	size_t n;
	clm_err e = jny_str(p, path, what, &s, &n);
	if (e != CLM_OK) {
		return e;
	}
	for (int i = 0; words != NULL && words[i] != NULL; i++) {
		if (n == strlen(words[i]) && memcmp(s, words[i], n) == 0) {
			*word = i + 1;
			free(s);
			return CLM_OK;
		}
	}
	if (txt == NULL) {
		e = jny_got(p, path, what, s, n);
		free(s);
		return e;
	}
	int64_t v = 0;
	e = segx_duration_parse(s, n, &v);
	if (e == CLM_OUT_OF_RANGE) {
		e = jny_got(p, path, "a duration of at most 3650d", s, n);
	} else if (e != CLM_OK) {
		e = jny_got(p, path, what, s, n);
	} else if (v < min_ms) {
		e = jny_got(p, path, "a duration of at least 1s", s, n);
	} else {
		if (word != NULL) {
			*word = 0;
		}
		*ms = v;
		jny_dur_text(s, n, txt);
	}
	free(s);
	return e;
}

/*
 * jny_cond reads a condition (segment language with since_entry) into *x,
 * its source into *src (malloc'd) and *src_len.
 */
static clm_err
jny_cond(struct jny_parser *p, const char *path, segx **x, char **src,
        size_t *src_len)
{
	clm_err e = jny_str(
	        p, path, "a condition in the segment language", src, src_len);
	if (e != CLM_OK) {
		return e;
	}
	struct segx_error se;
	memset(&se, 0, sizeof(se));
	e = segx_parse_flags(*src, *src_len, SEGX_SINCE_ENTRY, x, &se);
	if (e == CLM_INVALID_ARGUMENT) {
		return jny_fail(p, path, "at byte %zu: %s", se.pos, se.msg);
	}
	if (e != CLM_OK) {
		snprintf(p->err->msg, sizeof(p->err->msg), "out of memory");
	}
	return e;
}

/* A member of an object: key index i, its value next at the lexer. */
typedef clm_err jny_member_fn(
        struct jny_parser *p, const char *path, int i, void *arg);

/*
 * jny_object reads the object at the lexer whose keys are keys[0..n),
 * calling fn for each with the path of the member; *seen gets bit i for
 * key i. Unknown and repeated keys are faults; which keys are required is
 * the caller's to check.
 */
static clm_err
jny_object(struct jny_parser *p, const char *path, const char *what,
        const char *const *keys, int n, uint32_t *seen, jny_member_fn *fn,
        void *arg)
{
	*seen = 0;
	if (jsonlex_peek(&p->lx) != '{') {
		return jny_type(p, path, what);
	}
	p->lx.pos++;
	jsonlex_ws(&p->lx);
	if (jsonlex_eat(&p->lx, '}')) {
		return CLM_OK;
	}
	for (;;) {
		char *k, q[256], sub[JNY_PATH_MAX];
		size_t kn;
		int i;
		if (jsonlex_peek(&p->lx) != '"') {
			return jny_syntax(p, path, "expected a string key");
		}
		clm_err e = jsonlex_string(&p->lx, &k, &kn);
		if (e != CLM_OK) {
			return jny_lexerr(p, path, e);
		}
		for (i = 0; i < n; i++) {
			if (kn == strlen(keys[i])
			        && memcmp(k, keys[i], kn) == 0) {
				break;
			}
		}
		if (i == n) {
			e = jny_fail(p, path, "unknown key %s",
			        jny_quote(q, sizeof(q), k, kn));
			free(k);
			return e;
		}
		free(k);
		if (*seen & (1u << i)) {
			return jny_fail(
			        p, path, "duplicate key \"%s\"", keys[i]);
		}
		*seen |= 1u << i;
		jsonlex_ws(&p->lx);
		if (!jsonlex_eat(&p->lx, ':')) {
			return jny_syntax(p, path, "expected ':'");
		}
		jsonlex_ws(&p->lx);
		snprintf(sub, sizeof(sub), "%s%s%s", path,
		        path[0] != '\0' ? "." : "", keys[i]);
		if ((e = fn(p, sub, i, arg)) != CLM_OK) {
			return e;
		}
		jsonlex_ws(&p->lx);
		if (jsonlex_eat(&p->lx, '}')) {
			return CLM_OK;
		}
		if (!jsonlex_eat(&p->lx, ',')) {
			return jny_syntax(p, path, "expected ',' or '}'");
		}
		jsonlex_ws(&p->lx);
	}
}

/* jny_required fails for the first of keys[0..n) in need but not seen. */
static clm_err
jny_required(struct jny_parser *p, const char *path, const char *const *keys,
        int n, uint32_t need, uint32_t seen)
{
	for (int i = 0; i < n; i++) {
		if ((need & (1u << i)) && !(seen & (1u << i))) {
			return jny_fail(
			        p, path, "missing key \"%s\"", keys[i]);
		}
	}
	return CLM_OK;
}

#define JNY_NAME_WHAT "1 to 64 bytes of a-z, 0-9, _ and -"

static bool
jny_name_ok(const char *s, size_t n)
{
	return jny_name_valid(s, n);
}

/* trigger */
enum { JNY_K_EVENT, JNY_K_NAME, JNY_K_SEGMENT, JNY_K_STAGE, JNY_K_RISK };
static const char *const jny_trigger_keys[]
        = { "event", "name", "segment", "stage", "risk" };
#define JNY_TRIGGER_WHAT "one of event, segment, stage or risk"

static clm_err
jny_trigger_member(struct jny_parser *p, const char *path, int i, void *arg)
{
	struct jny_def *d = arg;
	size_t n;
	if (i != JNY_K_NAME && d->trigger != 0) {
		return jny_fail(
		        p, path, "a trigger has only %s", JNY_TRIGGER_WHAT);
	}
	switch (i) {
	case JNY_K_EVENT:
		d->trigger = JNY_TRIGGER_EVENT;
		return jny_enum(p, path, &clm__v1__touchpoint_type__descriptor,
		        &d->value);
	case JNY_K_NAME:
		return jny_text(p, path,
		        "1 to 200 bytes of printable UTF-8 (an event_name)", 1,
		        JNY_EVENT_NAME_MAX, NULL, &d->trigger_name, &n);
	case JNY_K_SEGMENT:
		d->trigger = JNY_TRIGGER_SEGMENT;
		return jny_text(p, path, "a segment name (" JNY_NAME_WHAT ")",
		        1, JNY_NAME_MAX, jny_name_ok, &p->segment, &n);
	case JNY_K_STAGE:
		d->trigger = JNY_TRIGGER_STAGE;
		return jny_enum(
		        p, path, &clm__v1__stage__descriptor, &d->value);
	default:
		d->trigger = JNY_TRIGGER_RISK;
		return jny_enum(
		        p, path, &clm__v1__risk_reason__descriptor, &d->value);
	}
}

static clm_err
jny_trigger(struct jny_parser *p, const char *path)
{
	struct jny_def *d = p->d;
	uint32_t seen;
	clm_err e = jny_object(p, path,
	        "an object such as {\"event\": \"PURCHASE\"}",
	        jny_trigger_keys, 5, &seen, jny_trigger_member, d);
	if (e != CLM_OK) {
		return e;
	}
	if (d->trigger == 0) {
		return jny_fail(p, path, "expected %s", JNY_TRIGGER_WHAT);
	}
	if ((seen & (1u << JNY_K_NAME))
	        && (d->trigger != JNY_TRIGGER_EVENT
	                || d->value != MODEL_T_CUSTOM)) {
		return jny_fail(p, "trigger.name",
		        "allowed only with \"event\": \"CUSTOM\"");
	}
	if (d->trigger == JNY_TRIGGER_SEGMENT) {
		d->trigger_name = p->segment;
		p->segment = NULL;
	}
	return CLM_OK;
}

/* steps[i].send */
enum { JNY_K_KIND, JNY_K_ACTION, JNY_K_CHANNEL, JNY_K_ITEM };
static const char *const jny_send_keys[]
        = { "kind", "action", "channel", "item" };

static clm_err
jny_send_member(struct jny_parser *p, const char *path, int i, void *arg)
{
	struct jny_step *st = arg;
	char *s;
	size_t n;
	clm_err e;
	switch (i) {
	case JNY_K_KIND:
		return jny_enum(p, path,
		        &clm__v1__recommendation_kind__descriptor, &st->kind);
	case JNY_K_ACTION:
		e = jny_text(p, path, "1 to 64 bytes of printable ASCII", 1,
		        JNY_ACTION_MAX, jny_ascii, &s, &n);
		if (e == CLM_OK) {
			memcpy(st->action, s, n + 1);
			free(s);
		}
		return e;
	case JNY_K_CHANNEL:
		return jny_enum(
		        p, path, &clm__v1__channel__descriptor, &st->channel);
	default:
		return jny_text(p, path,
		        "an item id (1 to 128 bytes of printable UTF-8)", 1,
		        JNY_ITEM_MAX, NULL, &st->item, &n);
	}
}

/* steps[i] */
enum { JNY_K_WAIT, JNY_K_IF, JNY_K_SEND, JNY_K_WHEN_CAPPED };
static const char *const jny_step_keys[]
        = { "wait", "if", "send", "when_capped" };

static clm_err
jny_step_member(struct jny_parser *p, const char *path, int i, void *arg)
{
	size_t k = (size_t) (uintptr_t) arg;
	struct jny_step *st = &p->d->steps[k];
	static const char *const capped[] = { "wait", "skip", NULL };
	uint32_t seen;
	int w = 0;
	clm_err e;
	switch (i) {
	case JNY_K_WAIT:
		return jny_duration(p, path, "a duration such as \"1h\"", 0,
		        NULL, NULL, &st->wait_ms, p->wait_txt[k]);
	case JNY_K_IF:
		return jny_cond(
		        p, path, &st->cond, &p->if_src[k], &p->if_len[k]);
	case JNY_K_SEND:
		e = jny_object(p, path,
		        "an object with kind, action and channel",
		        jny_send_keys, 4, &seen, jny_send_member, st);
		return e != CLM_OK
		        ? e
		        : jny_required(p, path, jny_send_keys, 3, 7, seen);
	default:
		e = jny_duration(p, path, "\"wait\" or \"skip\"", 0, capped,
		        &w, NULL, NULL);
		if (e == CLM_OK) {
			st->when_capped
			        = w == 2 ? JNY_CAPPED_SKIP : JNY_CAPPED_WAIT;
		}
		return e;
	}
}

static clm_err
jny_steps(struct jny_parser *p, const char *path)
{
	struct jny_def *d = p->d;
	const char *what = "an array of 1 to 32 steps";
	if (jsonlex_peek(&p->lx) != '[') {
		return jny_type(p, path, what);
	}
	p->lx.pos++;
	jsonlex_ws(&p->lx);
	if (jsonlex_eat(&p->lx, ']')) {
		return jny_fail(p, path, "expected %s, got none", what);
	}
	for (;;) {
		char sub[JNY_PATH_MAX];
		uint32_t seen;
		size_t k = d->n_steps;
		if (k == JNY_STEPS_MAX) {
			return jny_fail(
			        p, path, "more than %d steps", JNY_STEPS_MAX);
		}
		struct jny_step *st = &d->steps[d->n_steps++];
		memset(st, 0, sizeof(*st));
		snprintf(p->wait_txt[k], JNY_DUR_TEXT, "0s");
		snprintf(sub, sizeof(sub), "%s[%zu]", path, k);
		clm_err e = jny_object(p, sub,
		        "an object such as {\"send\": {...}}", jny_step_keys,
		        4, &seen, jny_step_member, (void *) (uintptr_t) k);
		if (e != CLM_OK
		        || (e = jny_required(p, sub, jny_step_keys, 4,
		                    1u << JNY_K_SEND, seen))
		                != CLM_OK) {
			return e;
		}
		jsonlex_ws(&p->lx);
		if (jsonlex_eat(&p->lx, ']')) {
			return CLM_OK;
		}
		if (!jsonlex_eat(&p->lx, ',')) {
			return jny_syntax(p, path, "expected ',' or ']'");
		}
		jsonlex_ws(&p->lx);
	}
}

/* webhook */
enum { JNY_K_URL, JNY_K_SECRET, JNY_K_ATTEMPTS };
static const char *const jny_webhook_keys[]
        = { "url", "secret", "max_attempts" };

/*
 * An http:// or https:// URL (https: net/webhook.c verifies the
 * receiver's certificate) with a host after the scheme, printable ASCII
 * without spaces.
 */
static bool
jny_url_ok(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t scheme = n > 7 && memcmp(s, "http://", 7) == 0 ? 7
	        : n > 8 && memcmp(s, "https://", 8) == 0      ? 8
	                                                      : 0;
	if (scheme == 0 || s[scheme] == '/') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (u[i] <= 0x20 || u[i] >= 0x7f) {
			return false;
		}
	}
	return true;
}

static bool
jny_secret_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) == NULL;
}

static clm_err
jny_attempts(struct jny_parser *p, const char *path, unsigned *v)
{
	const char *what = "a whole number from 1 to 100";
	const char *s = p->lx.text + p->lx.pos;
	size_t n = jsonlex_number_len(s, p->lx.len - p->lx.pos);
	bool neg;
	uint64_t mag;
	if (n == 0) {
		return jny_type(p, path, what);
	}
	if (jsonlex_int(s, n, &neg, &mag) != CLM_OK || neg || mag < 1
	        || mag > 100) {
		return jny_fail(p, path, "expected %s, got %.*s", what,
		        (int) (n > 32 ? 32 : n), s);
	}
	p->lx.pos += n;
	*v = (unsigned) mag;
	return CLM_OK;
}

static clm_err
jny_webhook_member(struct jny_parser *p, const char *path, int i, void *arg)
{
	struct jny_def *d = arg;
	size_t n;
	switch (i) {
	case JNY_K_URL:
		return jny_text(p, path,
		        "an http:// or https:// URL of at most 1024 bytes, "
		        "without spaces",
		        8, JNY_URL_MAX, jny_url_ok, &d->webhook_url, &n);
	case JNY_K_SECRET:
		return jny_text(p, path, "1 to 256 bytes", 1, JNY_SECRET_MAX,
		        jny_secret_ok, &d->webhook_secret, &n);
	default:
		return jny_attempts(p, path, &d->webhook_max_attempts);
	}
}

/* The definition */
enum {
	JNY_K_JNAME,
	JNY_K_TRIGGER,
	JNY_K_EXIT,
	JNY_K_REENTRY,
	JNY_K_LATENESS,
	JNY_K_STEPS,
	JNY_K_WEBHOOK
};
static const char *const jny_def_keys[] = { "name", "trigger", "exit",
	"reentry", "max_lateness", "steps", "webhook" };

static clm_err
jny_def_member(struct jny_parser *p, const char *path, int i, void *arg)
{
	struct jny_def *d = p->d;
	static const char *const reentry[] = { "always", "once", NULL };
	char *s;
	size_t n;
	uint32_t seen;
	int w = 0;
	clm_err e;
	(void) arg;
	switch (i) {
	case JNY_K_JNAME:
		e = jny_text(p, path, JNY_NAME_WHAT, 1, JNY_NAME_MAX,
		        jny_name_ok, &s, &n);
		if (e == CLM_OK) {
			memcpy(d->name, s, n + 1);
			free(s);
		}
		return e;
	case JNY_K_TRIGGER:
		return jny_trigger(p, path);
	case JNY_K_EXIT:
		return jny_cond(p, path, &d->exit, &p->exit_src, &p->exit_len);
	case JNY_K_REENTRY:
		e = jny_duration(p, path,
		        "\"always\", \"once\" or a duration such as \"30d\"",
		        0, reentry, &w, &d->reentry_ms, p->reentry_txt);
		d->reentry = w == 1 ? JNY_REENTRY_ALWAYS
		        : w == 2    ? JNY_REENTRY_ONCE
		                    : JNY_REENTRY_AFTER;
		return e;
	case JNY_K_LATENESS:
		return jny_duration(p, path, "a duration such as \"1d\"", 1000,
		        NULL, NULL, &d->max_lateness_ms, p->lateness_txt);
	case JNY_K_STEPS:
		return jny_steps(p, path);
	default:
		e = jny_object(p, path, "an object with url and secret",
		        jny_webhook_keys, 3, &seen, jny_webhook_member, d);
		return e != CLM_OK
		        ? e
		        : jny_required(p, path, jny_webhook_keys, 3, 3, seen);
	}
}

/* jny_read reads the whole definition into p->d. */
static clm_err
jny_read(struct jny_parser *p, const char *json, size_t len)
{
	uint32_t seen;
	if (len > JNY_DEF_MAX) {
		return jny_fail(
		        p, "", "definition is over %d bytes", JNY_DEF_MAX);
	}
	jsonlex_init(&p->lx, json, len);
	jsonlex_ws(&p->lx);
	clm_err e = jny_object(p, "", "a JSON object", jny_def_keys, 7, &seen,
	        jny_def_member, NULL);
	if (e != CLM_OK
	        || (e = jny_required(p, "", jny_def_keys, 7,
	                    (1u << JNY_K_JNAME) | (1u << JNY_K_TRIGGER)
	                            | (1u << JNY_K_STEPS),
	                    seen))
	                != CLM_OK) {
		return e;
	}
	jsonlex_ws(&p->lx);
	if (p->lx.pos != p->lx.len) {
		return jny_syntax(
		        p, "", "unexpected data after the definition");
	}
	return CLM_OK;
}

void
jny_free(struct jny_def *d)
{
	if (d == NULL) {
		return;
	}
	for (size_t i = 0; i < d->n_steps; i++) {
		segx_free(d->steps[i].cond);
		free(d->steps[i].item);
	}
	free(d->steps);
	free(d->trigger_name);
	segx_free(d->exit);
	free(d->webhook_url);
	free(d->webhook_secret);
	free(d->json);
	free(d);
}

/* jny_parser_fini frees what the parser holds beside the definition. */
static void
jny_parser_fini(struct jny_parser *p)
{
	free(p->segment);
	free(p->exit_src);
	for (size_t i = 0; i < JNY_STEPS_MAX; i++) {
		free(p->if_src[i]);
	}
}

clm_err
jny_parse_opt(const char *json, size_t len, bool redact, struct jny_def **out,
        struct jny_error *err)
{
	struct jny_parser *p = calloc(1, sizeof(*p));
	struct jny_def *d = calloc(1, sizeof(*d));
	struct jny_step *steps = calloc(JNY_STEPS_MAX, sizeof(*steps));
	clm_err e = CLM_RESOURCE_EXHAUSTED;
	memset(err, 0, sizeof(*err));
	snprintf(err->msg, sizeof(err->msg), "out of memory");
	if (p == NULL || d == NULL || steps == NULL) {
		free(steps);
		goto fail;
	}
	d->steps = steps;
	d->reentry = JNY_REENTRY_ALWAYS;
	d->max_lateness_ms = JNY_LATENESS_DEFAULT;
	d->webhook_max_attempts = JNY_ATTEMPTS_DEFAULT;
	snprintf(p->lateness_txt, JNY_DUR_TEXT, "1d");
	p->d = d;
	p->err = err;
	if ((e = jny_read(p, json, len)) != CLM_OK
	        || (e = jny_json(p, redact)) != CLM_OK) {
		goto fail;
	}
	if (d->json_len > JNY_DEF_MAX) {
		e = jny_fail(p, "",
		        "definition is over %d bytes once normalised",
		        JNY_DEF_MAX);
		goto fail;
	}
	jny_parser_fini(p);
	free(p);
	memset(err, 0, sizeof(*err));
	*out = d;
	return CLM_OK;
fail:
	if (p != NULL) {
		jny_parser_fini(p);
	}
	free(p);
	jny_free(d);
	return e;
}

clm_err
jny_parse(const char *json, size_t len, struct jny_def **out,
        struct jny_error *err)
{
	return jny_parse_opt(json, len, false, out, err);
}
