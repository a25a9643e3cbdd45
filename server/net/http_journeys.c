/*
 * http_journeys: the HTTP API's journey routes (docs/api.md, "HTTP API";
 * docs/journeys.md "Calls"):
 *
 *   GET    /api/journeys          ListJourneysReply
 *   GET    /api/journeys/NAME     GetJourneyReply
 *   PUT    /api/journeys/NAME     DefineJourney, body the definition's JSON
 *   DELETE /api/journeys/NAME     DeleteJourney
 *   GET    /api/journey-messages  JourneyMessagesReply ?after=&limit=
 *                                 &journey=
 *
 * As http_segments.c does, with it through http_named.c: the name comes
 * from httpd's path, the reads go through dispatch_read on the caller's
 * slot, and the writes are deferred (http_write.c), answered once the
 * writer is done.
 *
 * PUT's body is the definition itself. Its "name" must be the path's, or
 * be absent: then the path's is written into it, as its first key, before
 * the call parses it (core/journey.c refuses a repeated key, so a body
 * that has a name never gets a second one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/dispatch.h"
#include "core/journey.h"
#include "net/http_internal.h"

static bool http_jnyw_define(struct http_named_write *w,
        const struct httpd_req *req, const char *name, Clm__V1__Request *q,
        struct http_reply *rep);

/* The journey routes, for http_named.c. */
static const struct http_named http_journeys_route = {
	.base = "/api/journeys",
	.noun = "journey",
	.kind = TELEMETRY_HTTP_JOURNEYS,
	.delete_call = CLM__V1__REQUEST__CALL_DELETE_JOURNEY,
	.delete_req = &clm__v1__delete_journey_request__descriptor,
	.define = http_jnyw_define,
};

void
http_journeys_get(struct http_slot *s, const struct httpd_req *hr,
        const char *token, struct http_reply *rep)
{
	const char *name = http_named_name(
	        &s->arena, &http_journeys_route, hr->path, hr->path_len, rep);
	if (name == NULL) {
		return;
	}
	if (name[0] != '\0') {
		http_named_read(s, hr->target, token,
		        CLM__V1__REQUEST__CALL_GET_JOURNEY,
		        &clm__v1__get_journey_request__descriptor, name, rep);
		return;
	}
	http_named_read(s, hr->target, token,
	        CLM__V1__REQUEST__CALL_LIST_JOURNEYS,
	        &clm__v1__list_journeys_request__descriptor, NULL, rep);
}

/* after: a feed position, a whole number (absent: 0). */
static bool
http_journeys_after(
        const struct http_query *q, uint64_t *out, struct http_reply *rep)
{
	const char *v = http_query_get(q, "after");
	*out = 0;
	if (v == NULL) {
		return true;
	}
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno == ERANGE) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "after",
		        "after: '%s' is not a feed position (a whole number)",
		        v);
		return false;
	}
	*out = n;
	return true;
}

void
http_journey_messages(struct http_slot *s, const char *uri, const char *token,
        struct http_reply *rep)
{
	static const char *const allowed[]
	        = { "after", "limit", "journey", NULL };
	struct http_query q;
	Clm__V1__Request *req = http_request(s);
	Clm__V1__JourneyMessagesRequest *m
	        = arena_alloc(&s->arena, sizeof(*m));
	if (req == NULL || m == NULL) {
		http_oom(rep);
		return;
	}
	clm__v1__journey_messages_request__init(m);
	if (!http_query_parse(&s->arena, uri, allowed, &q, rep)
	        || !http_journeys_after(&q, &m->after, rep)
	        || !http_u32_param(&q, "limit", &m->limit, rep)) {
		return;
	}
	const char *j = http_query_get(&q, "journey");
	m->journey = (char *) (j != NULL ? j : "");
	req->call_case = CLM__V1__REQUEST__CALL_JOURNEY_MESSAGES;
	req->journey_messages = m;
	http_call_reply(s, req, token, rep);
}

/* ---- the writes ---- */

/*
 * body (n bytes) with "name": name as its first key, in a; NULL when body
 * is not an object (or out of memory: the parse reports that too).
 */
static char *
http_jnyw_named(arena *a, const char *body, size_t n, const char *name)
{
	size_t i = 0;
	while (i < n
	        && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n'
	                || body[i] == '\r')) {
		i++;
	}
	if (i == n || body[i] != '{') {
		return NULL;
	}
	size_t k = i + 1;
	while (k < n
	        && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n'
	                || body[k] == '\r')) {
		k++;
	}
	bool empty = k < n && body[k] == '}';
	return arena_printf(a, "{\"name\": \"%s\"%s%.*s", name,
	        empty ? "" : ", ", (int) (n - i - 1), body + i + 1);
}

/*
 * PUT's body, the definition, into q. A body that does not parse goes to
 * the call as it is, which answers with the fault (on "definition").
 * False with the 400 in rep.
 */
static bool
http_jnyw_define(struct http_named_write *w, const struct httpd_req *req,
        const char *name, Clm__V1__Request *q, struct http_reply *rep)
{
	arena *a = &w->d.arena;
	if (req->body_len == 0) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "definition",
		        "empty body: send the journey's definition (JSON)");
		return false;
	}
	if (!jny_name_valid(name, strlen(name))) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "name",
		        "name: must be 1 to %d bytes of a-z, 0-9, '_' and '-'",
		        JNY_NAME_MAX);
		return false;
	}
	const char *body = (const char *) req->body;
	if (memchr(body, '\0', req->body_len) != NULL) {
		http_error(rep, 400, CLM_INVALID_ARGUMENT, "definition",
		        "definition: must not contain a NUL byte");
		return false;
	}
	char *text = arena_strndup(a, body, req->body_len);
	if (text == NULL) {
		http_oom(rep);
		return false;
	}
	struct jny_def *d = NULL;
	struct jny_error err;
	if (jny_parse(body, req->body_len, &d, &err) == CLM_OK) {
		bool same = strcmp(d->name, name) == 0;
		if (!same) {
			http_error(rep, 400, CLM_INVALID_ARGUMENT, "name",
			        "name: the body names '%s', the path '%s'",
			        d->name, name);
		}
		jny_free(d);
		if (!same) {
			return false;
		}
	} else {
		char *named = http_jnyw_named(a, body, req->body_len, name);
		if (named != NULL
		        && jny_parse(named, strlen(named), &d, &err)
		                == CLM_OK) {
			text = named; /* it had no name */
		}
		jny_free(d);
	}
	Clm__V1__DefineJourneyRequest *r = arena_alloc(a, sizeof(*r));
	if (r == NULL) {
		http_oom(rep);
		return false;
	}
	clm__v1__define_journey_request__init(r);
	r->definition = text;
	q->call_case = CLM__V1__REQUEST__CALL_DEFINE_JOURNEY;
	q->define_journey = r;
	return true;
}

void
http_journeys_write(struct server *srv, struct telemetry *tm, httpd_conn *c,
        const struct httpd_req *req)
{
	http_named_write(srv, tm, c, req, &http_journeys_route);
}

/* ---- /metrics ---- */

/* A family's # HELP and # TYPE lines. */
static void
http_journeys_family(
        FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* What one family prints of one journey. */
typedef void (*http_journeys_series)(FILE *f, const Clm__V1__Journey *j);

static void
http_jm_entered(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_entered_total{journey=\"%s\"} %llu\n", j->name,
	        (unsigned long long) j->stats->entered);
}

static void
http_jm_active(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_active{journey=\"%s\"} %llu\n", j->name,
	        (unsigned long long) j->stats->active);
}

static void
http_jm_exited(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_exited_total{journey=\"%s\"} %llu\n", j->name,
	        (unsigned long long) j->stats->exited);
}

static void
http_jm_completed(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_completed_total{journey=\"%s\"} %llu\n",
	        j->name, (unsigned long long) j->stats->completed);
}

static void
http_jm_removed(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_removed_total{journey=\"%s\"} %llu\n", j->name,
	        (unsigned long long) j->stats->removed);
}

static void
http_jm_sent(FILE *f, const Clm__V1__Journey *j)
{
	for (size_t i = 0; i < j->stats->n_steps; i++) {
		const Clm__V1__JourneyStepStats *st = j->stats->steps[i];
		fprintf(f,
		        "clm_journey_sent_total{journey=\"%s\",step=\"%u\"} %llu\n",
		        j->name, (unsigned) st->step,
		        (unsigned long long) st->sent);
	}
}

static void
http_jm_skipped(FILE *f, const Clm__V1__Journey *j)
{
	for (size_t i = 0; i < j->stats->n_steps; i++) {
		const Clm__V1__JourneyStepStats *st = j->stats->steps[i];
		const char *reason[] = { "condition", "capped", "late" };
		uint64_t v[] = { st->skipped_condition, st->skipped_capped,
			st->skipped_late };
		for (int k = 0; k < 3; k++) {
			fprintf(f,
			        "clm_journey_skipped_total{journey=\"%s\",step=\"%u\",reason=\"%s\"} %llu\n",
			        j->name, (unsigned) st->step, reason[k],
			        (unsigned long long) v[k]);
		}
	}
}

static void
http_jm_delivered(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f,
	        "clm_journey_webhook_delivered_total{journey=\"%s\"} %llu\n",
	        j->name, (unsigned long long) j->stats->webhook_delivered);
}

static void
http_jm_pending(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_webhook_pending{journey=\"%s\"} %llu\n",
	        j->name, (unsigned long long) j->stats->webhook_pending);
}

static void
http_jm_retries(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_webhook_retries_total{journey=\"%s\"} %llu\n",
	        j->name, (unsigned long long) j->stats->webhook_retries);
}

static void
http_jm_dead(FILE *f, const Clm__V1__Journey *j)
{
	fprintf(f, "clm_journey_webhook_dead_total{journey=\"%s\"} %llu\n",
	        j->name, (unsigned long long) j->stats->webhook_dead);
}

/* The families of docs/journeys.md "Metrics", in its order. */
static const struct {
	const char *name, *type, *help;
	http_journeys_series fn;
} http_journeys_families[] = {
	{ "clm_journey_entered_total", "counter",
	        "Customers entered into the journey, re-entries included.",
	        http_jm_entered },
	{ "clm_journey_active", "gauge", "Customers in the journey now.",
	        http_jm_active },
	{ "clm_journey_exited_total", "counter",
	        "Customers who left the journey because its exit held.",
	        http_jm_exited },
	{ "clm_journey_completed_total", "counter",
	        "Customers who ran past the journey's last step.",
	        http_jm_completed },
	{ "clm_journey_removed_total", "counter",
	        "Customers taken out of the journey by ForgetCustomer.",
	        http_jm_removed },
	{ "clm_journey_sent_total", "counter", "Messages the step claimed.",
	        http_jm_sent },
	{ "clm_journey_skipped_total", "counter",
	        "Steps skipped, by reason (condition, capped, late).",
	        http_jm_skipped },
	{ "clm_journey_webhook_delivered_total", "counter",
	        "Messages the journey's webhook answered with a 2xx.",
	        http_jm_delivered },
	{ "clm_journey_webhook_pending", "gauge",
	        "Messages waiting for a first webhook try or a retry.",
	        http_jm_pending },
	{ "clm_journey_webhook_retries_total", "counter",
	        "Failed webhook tries that were retried.", http_jm_retries },
	{ "clm_journey_webhook_dead_total", "counter",
	        "Messages given up after the webhook's last try.",
	        http_jm_dead },
};

void
http_journeys_metrics(struct http_slot *s, const char *token, FILE *f)
{
	Clm__V1__Request *req = http_request(s);
	Clm__V1__ListJourneysRequest *l = arena_alloc(&s->arena, sizeof(*l));
	if (req == NULL || l == NULL) {
		return;
	}
	clm__v1__list_journeys_request__init(l);
	req->call_case = CLM__V1__REQUEST__CALL_LIST_JOURNEYS;
	req->list_journeys = l;
	const Clm__V1__Response *resp = http_call(s, req, token);
	if ((resp->status != NULL && resp->status->code != CLM__V1__CODE__OK)
	        || resp->list_journeys == NULL
	        || resp->list_journeys->n_journeys == 0) {
		return; /* no journeys, no families */
	}
	const Clm__V1__ListJourneysReply *lr = resp->list_journeys;
	size_t nf = sizeof(http_journeys_families)
	        / sizeof(*http_journeys_families);
	for (size_t k = 0; k < nf; k++) {
		http_journeys_family(f, http_journeys_families[k].name,
		        http_journeys_families[k].type,
		        http_journeys_families[k].help);
		for (size_t i = 0; i < lr->n_journeys; i++) {
			if (lr->journeys[i]->stats != NULL) {
				http_journeys_families[k].fn(
				        f, lr->journeys[i]);
			}
		}
	}
}
