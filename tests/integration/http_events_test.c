/*
 * The HTTP event stream, GET /api/events (docs/api.md "HTTP event
 * stream"), against a real clmd with --http, read over a plain socket:
 *
 *   - stage changes caused by Track arrive as `event: lifecycle` with
 *     their seq as id, in order, with `events = none` too (no PUB socket);
 *   - a resume with Last-Event-ID (or ?last_event_id=) gets exactly the
 *     events missed, then the live ones;
 *   - a Last-Event-ID older than the retained buffer gets `event: gap`
 *     first, naming the lost seqs;
 *   - ?prefix= filters by topic, as the PUB/SUB stream's;
 *   - with tokens: none is 401, Bearer works, a ?token= from POST
 *     /api/events/token works until it expires, a forged one is 401, and
 *     the ?token= opens no other route;
 *   - heartbeats come as `: ping` comments, to a client that keeps
 *     sending bytes too;
 *   - a resume after a crash and restart (journal replayed) gets a gap
 *     for the replayed events;
 *   - a reader that never reads is dropped (counted), and clmd goes on
 *     serving the others;
 *   - clmd stops cleanly (exit 0) with streams open.
 *
 * Every wait is a poll with a generous bound.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clm/client.h"
#include "harness.h"

#define HE_WAIT_MS 30000 /* generous: a loaded machine */

HARNESS_SUITE(http_events, 240);

static int http_port;

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Starts clmd with --http on a free port and the extra flags, on
 * data_dir (NULL: a new one).
 */
static void
start_clmd_in(const char *data_dir, const char *const *extra)
{
	http_port = harness_free_port();
	char http[32];
	snprintf(http, sizeof(http), "127.0.0.1:%d", http_port);
	const char *args[24] = { "--http", http, "--durability", "os" };
	int n = 4;
	for (int i = 0; extra != NULL && extra[i] != NULL && n < 23; i++) {
		args[n++] = extra[i];
	}
	args[n] = NULL;
	cr_assert_eq(clmd_start(&srv, data_dir, args), 0,
	        "clmd did not start (log %s)", srv.log_path);
	char *m = harness_metrics(http_port);
	cr_assert_not_null(m, "no --http on port %d", http_port);
	free(m);
}

/* Starts clmd with --http on a free port and the extra flags. */
static void
start_clmd(const char *const *extra)
{
	start_clmd_in(NULL, extra);
}

/* Tracks one touchpoint of type for each of the n customers cids. */
static void
track(const char *const *cids, size_t n, Clm__V1__TouchpointType type,
        const char *token)
{
	static int calls;
	calls++;
	clm_conn *c;
	cr_assert_eq(clm_open(srv.url, 5000, &c), CLM_OK);
	if (token != NULL) {
		cr_assert_eq(clm_set_token(c, token), CLM_OK);
	}
	Clm__V1__Touchpoint *tps = calloc(n, sizeof(*tps));
	Clm__V1__Touchpoint **ptr = calloc(n, sizeof(*ptr));
	char(*eid)[48] = calloc(n, sizeof(*eid));
	cr_assert(tps != NULL && ptr != NULL && eid != NULL);
	int64_t now = (int64_t) time(NULL) * 1000;
	for (size_t i = 0; i < n; i++) {
		clm__v1__touchpoint__init(&tps[i]);
		snprintf(eid[i], sizeof(eid[i]), "he-%d-%zu", calls, i);
		tps[i].customer_id = (char *) cids[i];
		tps[i].event_id = eid[i];
		tps[i].type = type;
		tps[i].channel = CLM__V1__CHANNEL__ORGANIC_SEARCH;
		tps[i].occurred_at_ms = now - 1000;
		ptr[i] = &tps[i];
	}
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_track(c, ptr, n, &resp);
	cr_assert_eq(e, CLM_OK, "track: %s", clm_errname(e));
	cr_assert_not_null(resp->track);
	cr_assert_eq(resp->track->accepted, n);
	clm_response_free(resp);
	clm_close(c);
	free(tps);
	free(ptr);
	free(eid);
}

/* Tracks one sign-up of the new customer id. */
static void
track_one(const char *id)
{
	const char *ids[] = { id };
	track(ids, 1, CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL);
}

/* ---- plain HTTP over a socket ---- */

/* Connects to http_port; rcvbuf > 0 shrinks the socket's receive buffer. */
static int
http_connect(int rcvbuf)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	if (rcvbuf > 0) {
		cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		                     sizeof(rcvbuf)),
		        0);
	}
	struct sockaddr_in sa = { 0 };
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) http_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	        "cannot connect to port %d: %s", http_port, strerror(errno));
	return fd;
}

static void
http_send_all(int fd, const char *p)
{
	size_t n = strlen(p);
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		cr_assert_gt(k, 0, "send: %s", strerror(errno));
		p += k;
		n -= (size_t) k;
	}
}

/* An open stream, or a whole response: what was read so far. */
struct sse {
	int fd;
	int status;
	char buf[1 << 16];
	size_t len; /* bytes in buf not yet consumed */
	bool closed;
};

/* Reads more into s within the deadline; false when none came. */
static bool
sse_fill(struct sse *s, int64_t until)
{
	int left = (int) (until - now_ms());
	if (left <= 0 || s->closed) {
		return false;
	}
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	if (poll(&p, 1, left) != 1) {
		return false;
	}
	cr_assert_lt(s->len + 1, sizeof(s->buf), "buffer full");
	ssize_t k
	        = recv(s->fd, s->buf + s->len, sizeof(s->buf) - s->len - 1, 0);
	if (k <= 0) {
		s->closed = true;
		return false;
	}
	s->len += (size_t) k;
	s->buf[s->len] = '\0';
	return true;
}

/* Drops the first n bytes of s's buffer. */
static void
sse_consume(struct sse *s, size_t n)
{
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
	s->buf[s->len] = '\0';
}

/*
 * Sends `METHOD target` with the extra header lines hdr and reads the
 * response head into s (status; the head consumed). The caller frees s
 * with sse_close.
 */
static struct sse *
sse_request(
        const char *method, const char *target, const char *hdr, int rcvbuf)
{
	struct sse *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	s->fd = http_connect(rcvbuf);
	char req[1024];
	snprintf(req, sizeof(req),
	        "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n",
	        method, target, http_port, hdr != NULL ? hdr : "");
	http_send_all(s->fd, req);
	int64_t until = now_ms() + HE_WAIT_MS;
	char *eoh;
	while ((eoh = strstr(s->buf, "\r\n\r\n")) == NULL) {
		cr_assert(sse_fill(s, until), "no response head: '%.80s'",
		        s->buf);
	}
	cr_assert_eq(sscanf(s->buf, "HTTP/1.1 %d ", &s->status), 1);
	if (s->status == 200 && strcmp(method, "GET") == 0
	        && strncmp(target, "/api/events", 11) == 0) {
		cr_expect_not_null(strstr(s->buf, "text/event-stream"));
		cr_expect_not_null(strstr(s->buf, "Cache-Control: no-store"));
		cr_expect_null(strstr(s->buf, "Content-Length"));
	}
	sse_consume(s, (size_t) (eoh - s->buf) + 4);
	return s;
}

/* Opens GET target (with hdr lines); asserts the status. */
static struct sse *
sse_open(const char *target, const char *hdr, int status)
{
	struct sse *s = sse_request("GET", target, hdr, 0);
	cr_assert_eq(s->status, status, "GET %s: %d, '%.200s'", target,
	        s->status, s->buf);
	return s;
}

static void
sse_close(struct sse *s)
{
	close(s->fd);
	free(s);
}

/* One event as read: its fields (empty when absent). */
struct sse_event {
	char id[32];
	char event[32];
	char data[4096];
	bool ping; /* a ": ping" comment came before it */
};

/*
 * Reads the next event of s within ms (comments are skipped, noted in
 * ev->ping); false when none came in time or the stream closed.
 */
static bool
sse_next(struct sse *s, struct sse_event *ev, int ms)
{
	memset(ev, 0, sizeof(*ev));
	int64_t until = now_ms() + ms;
	for (;;) {
		char *end = strstr(s->buf, "\n\n");
		while (end == NULL) {
			if (!sse_fill(s, until)) {
				return false;
			}
			end = strstr(s->buf, "\n\n");
		}
		*end = '\0';
		for (char *line = s->buf; line != NULL && *line != '\0';) {
			char *nl = strchr(line, '\n');
			if (nl != NULL) {
				*nl = '\0';
			}
			if (strncmp(line, "id: ", 4) == 0) {
				snprintf(ev->id, sizeof(ev->id), "%s",
				        line + 4);
			} else if (strncmp(line, "event: ", 7) == 0) {
				snprintf(ev->event, sizeof(ev->event), "%s",
				        line + 7);
			} else if (strncmp(line, "data: ", 6) == 0) {
				snprintf(ev->data, sizeof(ev->data), "%s",
				        line + 6);
			} else if (strcmp(line, ": ping") == 0) {
				ev->ping = true;
			}
			line = nl != NULL ? nl + 1 : NULL;
		}
		sse_consume(s, (size_t) (end - s->buf) + 2);
		if (ev->event[0] != '\0') {
			return true;
		}
	}
}

/* Reads the next event, which must be a lifecycle one; returns its id. */
static unsigned long long
sse_lifecycle(struct sse *s, const char *customer)
{
	struct sse_event ev;
	cr_assert(sse_next(s, &ev, HE_WAIT_MS), "no event in time");
	cr_assert_str_eq(ev.event, "lifecycle", "'%s': %s", ev.event, ev.data);
	unsigned long long id = strtoull(ev.id, NULL, 10);
	char seq[48];
	snprintf(seq, sizeof(seq), "\"seq\":\"%llu\"", id);
	cr_expect_not_null(
	        strstr(ev.data, seq), "id %llu, data %s", id, ev.data);
	if (customer != NULL) {
		char want[96];
		snprintf(
		        want, sizeof(want), "\"customerId\":\"%s\"", customer);
		cr_expect_not_null(strstr(ev.data, want), "want %s: %s",
		        customer, ev.data);
	}
	return id;
}

/* Asserts that no event comes on s within ms. */
static void
sse_none(struct sse *s, int ms)
{
	struct sse_event ev;
	cr_expect_not(sse_next(s, &ev, ms), "unexpected event %s %s: %s",
	        ev.id, ev.event, ev.data);
}

/* The body of a whole response to METHOD target (Content-Length). */
static int
http_simple(const char *method, const char *target, const char *hdr,
        char *body, size_t cap)
{
	struct sse *s = sse_request(method, target, hdr, 0);
	int64_t until = now_ms() + HE_WAIT_MS;
	while (sse_fill(s, until)) {
	}
	size_t n = s->len < cap - 1 ? s->len : cap - 1;
	memcpy(body, s->buf, n);
	body[n] = '\0';
	int st = s->status;
	sse_close(s);
	return st;
}

/* A counter's value in /metrics (0 when absent). */
static unsigned long long
metric(const char *name)
{
	char *m = harness_metrics(http_port);
	cr_assert_not_null(m);
	char want[128];
	snprintf(want, sizeof(want), "\n%s ", name);
	const char *p = strstr(m, want);
	unsigned long long v
	        = p != NULL ? strtoull(p + strlen(want), NULL, 10) : 0;
	free(m);
	return v;
}

/* ---- the tests ---- */

Test(http_events, events_arrive_in_order_and_a_resume_gets_the_missed)
{
	const char *extra[] = { "--events", "none", NULL };
	start_clmd(extra);
	struct sse *a = sse_open("/api/events", NULL, 200);
	const char *ids[] = { "ann", "bob", "cyd" };
	track(ids, 3, CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL);
	unsigned long long first = sse_lifecycle(a, "ann");
	cr_expect_eq(sse_lifecycle(a, "bob"), first + 1);
	cr_expect_eq(sse_lifecycle(a, "cyd"), first + 2);

	/* Missed everything after ann: exactly bob and cyd, then live. */
	char hdr[64];
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %llu\r\n", first);
	struct sse *b = sse_open("/api/events", hdr, 200);
	cr_expect_eq(sse_lifecycle(b, "bob"), first + 1);
	cr_expect_eq(sse_lifecycle(b, "cyd"), first + 2);
	/* The query parameter, for clients that cannot set headers. */
	char target[64];
	snprintf(target, sizeof(target), "/api/events?last_event_id=%llu",
	        first + 1);
	struct sse *c = sse_open(target, NULL, 200);
	cr_expect_eq(sse_lifecycle(c, "cyd"), first + 2);

	track_one("dee");
	cr_expect_eq(sse_lifecycle(a, "dee"), first + 3);
	cr_expect_eq(sse_lifecycle(b, "dee"), first + 3);
	cr_expect_eq(sse_lifecycle(c, "dee"), first + 3);
	/* From the newest: nothing replayed. */
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %llu\r\n", first + 3);
	struct sse *d = sse_open("/api/events", hdr, 200);
	sse_none(d, 300);
	sse_close(a);
	sse_close(b);
	sse_close(c);
	sse_close(d);

	char body[512];
	cr_expect_eq(http_simple("GET", "/api/events?last_event_id=x1", NULL,
	                     body, sizeof(body)),
	        400);
	cr_expect_eq(http_simple("GET", "/api/events?since=1", NULL, body,
	                     sizeof(body)),
	        400);
}

Test(http_events, an_id_older_than_the_buffer_gets_a_gap_first)
{
	const char *extra[] = { "--http-events-retained", "2", NULL };
	start_clmd(extra);
	struct sse *live = sse_open("/api/events", NULL, 200);
	const char *ids[] = { "g1", "g2", "g3", "g4", "g5" };
	track(ids, 5, CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL);
	unsigned long long first = sse_lifecycle(live, "g1");
	for (int i = 1; i < 5; i++) {
		cr_expect_eq(
		        sse_lifecycle(live, ids[i]), first + (unsigned) i);
	}
	sse_close(live);

	struct sse *s = sse_open("/api/events", "Last-Event-ID: 0\r\n", 200);
	struct sse_event ev;
	cr_assert(sse_next(s, &ev, HE_WAIT_MS));
	cr_assert_str_eq(ev.event, "gap");
	char want[96];
	snprintf(want, sizeof(want), "{\"from\":\"1\",\"to\":\"%llu\"}",
	        first + 2);
	cr_expect_str_eq(ev.data, want);
	cr_expect_eq(strtoull(ev.id, NULL, 10), first + 2);
	cr_expect_eq(sse_lifecycle(s, "g4"), first + 3);
	cr_expect_eq(sse_lifecycle(s, "g5"), first + 4);
	sse_close(s);
}

/*
 * A crash leaves events in the journal that the restart replays without
 * publishing: a client resuming from before them must be told of the gap
 * (the ring starts after the replayed seqs), then get the live events.
 */
Test(http_events, a_resume_after_a_crash_restart_gets_a_gap_first)
{
	/* No checkpoint before the kill: the restart replays all five. */
	const char *extra[] = { "--checkpoint-interval", "3600", "--log-level",
		"info", NULL };
	start_clmd(extra);
	struct sse *live = sse_open("/api/events", NULL, 200);
	const char *ids[] = { "k1", "k2", "k3", "k4", "k5" };
	track(ids, 5, CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL);
	unsigned long long first = sse_lifecycle(live, "k1");
	for (int i = 1; i < 5; i++) {
		cr_expect_eq(
		        sse_lifecycle(live, ids[i]), first + (unsigned) i);
	}
	sse_close(live);
	clmd_kill9(&srv);

	start_clmd_in(srv.data_dir, extra);
	char *log = harness_read_file(srv.log_path);
	cr_assert_not_null(log);
	cr_expect_not_null(strstr(log, "replayed 1 journal entries"),
	        "no replay of the Track in %s", srv.log_path);
	free(log);

	/* Had k2: k3..k5 are a gap, not silently skipped. */
	char hdr[64];
	snprintf(hdr, sizeof(hdr), "Last-Event-ID: %llu\r\n", first + 1);
	struct sse *s = sse_open("/api/events", hdr, 200);
	track_one("k6");
	struct sse_event ev;
	cr_assert(sse_next(s, &ev, HE_WAIT_MS), "no event in time");
	cr_assert_str_eq(
	        ev.event, "gap", "'%s' %s: %s", ev.event, ev.id, ev.data);
	/*
	 * After a crash the seqs go on past the store's seq floor (api.md):
	 * the gap runs from k3's seq to at least k5's, never less.
	 */
	unsigned long long from = 0, to = 0;
	cr_expect_eq(sscanf(ev.data, "{\"from\":\"%llu\",\"to\":\"%llu\"}",
	                     &from, &to),
	        2, "gap data %s", ev.data);
	cr_expect_eq(from, first + 2, "gap data %s", ev.data);
	cr_expect_geq(to, first + 4, "gap data %s", ev.data);
	cr_expect_eq(strtoull(ev.id, NULL, 10), to);
	cr_expect_eq(sse_lifecycle(s, "k6"), to + 1);
	sse_close(s);
}

Test(http_events, the_prefix_selects_topics)
{
	start_clmd(NULL);
	struct sse *stage = sse_open("/api/events?prefix=stage%2F", NULL, 200);
	struct sse *risk = sse_open("/api/events?prefix=risk/", NULL, 200);
	struct sse *none = sse_open("/api/events?prefix=nothing/", NULL, 200);
	track_one("pia");
	sse_lifecycle(stage, "pia");
	/* A recent refund: a risk signal. */
	const char *ids[] = { "pia" };
	track(ids, 1, CLM__V1__TOUCHPOINT_TYPE__REFUND, NULL);
	struct sse_event ev;
	cr_assert(sse_next(risk, &ev, HE_WAIT_MS), "no risk event");
	cr_expect_str_eq(ev.event, "lifecycle");
	cr_expect_not_null(
	        strstr(ev.data, "\"kind\":\"RISK_SIGNAL\""), "%s", ev.data);
	cr_expect_not_null(strstr(ev.data, "RECENT_REFUND"), "%s", ev.data);
	sse_none(none, 300);
	/* The stage stream never got the risk event. */
	while (sse_next(stage, &ev, 300)) {
		cr_expect_null(strstr(ev.data, "RISK_SIGNAL"), "%s", ev.data);
	}
	sse_close(stage);
	sse_close(risk);
	sse_close(none);
}

Test(http_events, heartbeats_keep_an_idle_stream_alive)
{
	/* Shorter than the request and idle timeouts would allow. */
	const char *extra[]
	        = { "--http-stream-heartbeat", "1", "--http-request-timeout",
		          "1", "--http-idle-timeout", "1", NULL };
	start_clmd(extra);
	struct sse *s = sse_open("/api/events", NULL, 200);
	int pings = 0;
	int64_t until = now_ms() + HE_WAIT_MS;
	while (pings < 3 && now_ms() < until) {
		char *p = strstr(s->buf, ": ping\n\n");
		if (p != NULL) {
			pings++;
			sse_consume(s, (size_t) (p - s->buf) + 8);
			continue;
		}
		cr_assert(sse_fill(s, until), "stream ended after %d pings",
		        pings);
	}
	cr_expect_eq(pings, 3);
	/* Past both timeouts, the stream still carries events. */
	track_one("hal");
	sse_lifecycle(s, "hal");
	sse_close(s);
}

/*
 * A client that sends a byte more often than the heartbeat still gets
 * the heartbeats: they keep to clmd's clock, not to the client's bytes.
 */
Test(http_events, heartbeats_come_to_a_chatty_client_too)
{
	const char *extra[] = { "--http-stream-heartbeat", "1", NULL };
	start_clmd(extra);
	struct sse *s = sse_open("/api/events", NULL, 200);
	int pings = 0;
	int64_t until = now_ms() + HE_WAIT_MS;
	while (pings < 2 && now_ms() < until) {
		char *p = strstr(s->buf, ": ping\n\n");
		if (p != NULL) {
			pings++;
			sse_consume(s, (size_t) (p - s->buf) + 8);
			continue;
		}
		/* A byte every 200 ms: each wait is at most that long. */
		http_send_all(s->fd, "x");
		int64_t next = now_ms() + 200;
		while (!s->closed && now_ms() < next
		        && strstr(s->buf, ": ping\n\n") == NULL) {
			sse_fill(s, next);
		}
		cr_assert_not(s->closed, "stream ended after %d pings", pings);
	}
	cr_expect_eq(pings, 2, "%d pings in %d ms", pings, HE_WAIT_MS);
	sse_close(s);
}

/* Writes a token file in a new directory; returns its path. */
static const char *
token_file(void)
{
	static char dir[32], path[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(path, sizeof(path), "%s/tokens", dir);
	cr_assert_eq(harness_write_file(path, "hunter2\n"), 0);
	chmod(path, 0600);
	return path;
}

/* The "token" of a POST /api/events/token reply into tok. */
static void
new_token(char *tok, size_t cap, int64_t *expires)
{
	char body[512];
	int st = http_simple("POST", "/api/events/token",
	        "Authorization: Bearer hunter2\r\n", body, sizeof(body));
	cr_assert_eq(st, 200, "%s", body);
	const char *p = strstr(body, "\"token\":\"");
	cr_assert_not_null(p, "%s", body);
	p += 9;
	size_t n = strcspn(p, "\"");
	cr_assert_lt(n, cap);
	memcpy(tok, p, n);
	tok[n] = '\0';
	const char *e = strstr(body, "\"expires_in\":");
	cr_assert_not_null(e, "%s", body);
	*expires = strtoll(e + 13, NULL, 10);
}

Test(http_events, tokens_guard_the_stream)
{
	const char *extra[] = { "--auth-token-file", token_file(),
		"--http-events-token-ttl", "5", NULL };
	start_clmd(extra);
	char body[512];
	cr_expect_eq(
	        http_simple("GET", "/api/events", NULL, body, sizeof(body)),
	        401);
	cr_expect_eq(http_simple("POST", "/api/events/token", NULL, body,
	                     sizeof(body)),
	        401);
	cr_expect_eq(
	        http_simple("GET", "/api/events",
	                "Authorization: Bearer nope\r\n", body, sizeof(body)),
	        401);
	struct sse *bearer = sse_open(
	        "/api/events", "Authorization: Bearer hunter2\r\n", 200);

	char tok[64];
	int64_t expires;
	new_token(tok, sizeof(tok), &expires);
	cr_expect_eq(expires, 5);
	cr_expect_eq(strlen(tok), 32);
	char target[128];
	snprintf(target, sizeof(target), "/api/events?prefix=stage/&token=%s",
	        tok);
	struct sse *query = sse_open(target, NULL, 200);

	/* Not a Bearer token, and no other route takes ?token=. */
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", tok);
	cr_expect_eq(
	        http_simple("GET", "/api/status", hdr, body, sizeof(body)),
	        401);
	cr_expect_eq(
	        http_simple("GET", "/api/events", hdr, body, sizeof(body)),
	        401);
	snprintf(target, sizeof(target), "/api/status?token=%s", tok);
	cr_expect_eq(
	        http_simple("GET", target, NULL, body, sizeof(body)), 401);
	snprintf(target, sizeof(target), "/metrics?token=%s", tok);
	cr_expect_eq(
	        http_simple("GET", target, NULL, body, sizeof(body)), 401);

	/* Forged: one digit changed. */
	char forged[64];
	snprintf(forged, sizeof(forged), "%s", tok);
	forged[5] = forged[5] == '0' ? '1' : '0';
	snprintf(target, sizeof(target), "/api/events?token=%s", forged);
	cr_expect_eq(
	        http_simple("GET", target, NULL, body, sizeof(body)), 401);

	/* Both streams carry events. */
	const char *ids[] = { "tia" };
	track(ids, 1, CLM__V1__TOUCHPOINT_TYPE__SIGNUP, "hunter2");
	sse_lifecycle(bearer, "tia");
	sse_lifecycle(query, "tia");

	/* Expired: refused within a bound after its 5 s. */
	snprintf(target, sizeof(target), "/api/events?token=%s", tok);
	int st = 200;
	int64_t until = now_ms() + HE_WAIT_MS;
	while (st == 200 && now_ms() < until) {
		struct sse *s = sse_request("GET", target, NULL, 0);
		st = s->status;
		sse_close(s);
		if (st == 200) {
			harness_sleep_ms(200);
		}
	}
	cr_expect_eq(st, 401, "the token never expired");
	sse_close(bearer);
	sse_close(query);
}

Test(http_events, a_reader_that_never_reads_is_dropped)
{
	const char *extra[]
	        = { "--http-events-retained-bytes", "4K", "--max-id-bytes",
		          "480", "--http-stream-heartbeat", "1", NULL };
	start_clmd(extra);
	/* It reads the head, then nothing more, with a tiny window. */
	struct sse *slow = sse_request("GET", "/api/events", NULL, 2048);
	cr_assert_eq(slow->status, 200);
	struct sse *ok = sse_open("/api/events", NULL, 200);

	/*
	 * Each event carries a 470-byte id: 100 bursts of 50, each within
	 * the 4K + 64K a stream may queue, together (3 MB) past what the
	 * kernel's socket buffers hold, so the slow stream's queue fills or
	 * its send stalls for 4 heartbeats: either drops it.
	 */
	enum { CALLS = 100, PER = 50 };
	char(*cid)[480] = calloc(PER, sizeof(*cid));
	const char **ids = calloc(PER, sizeof(*ids));
	cr_assert(cid != NULL && ids != NULL);
	size_t got = 0;
	for (int k = 0; k < CALLS; k++) {
		for (int i = 0; i < PER; i++) {
			snprintf(cid[i], sizeof(cid[i]), "%0470d-%d-%d", 0, k,
			        i);
			ids[i] = cid[i];
		}
		track(ids, PER, CLM__V1__TOUCHPOINT_TYPE__SIGNUP, NULL);
		/* The good reader keeps up (its buffer is bounded too). */
		struct sse_event ev;
		while (got < (size_t) (k + 1) * PER
		        && sse_next(ok, &ev, HE_WAIT_MS)) {
			cr_assert_str_eq(ev.event, "lifecycle");
			got++;
		}
	}
	cr_expect_eq(got, CALLS * PER);
	int64_t until = now_ms() + HE_WAIT_MS;
	while (metric("clm_http_streams_dropped_slow_total") == 0
	        && now_ms() < until) {
		harness_sleep_ms(50);
	}
	cr_expect_eq(metric("clm_http_streams_dropped_slow_total"), 1);
	/* The slow one's connection is closed: reading finds its end. */
	until = now_ms() + HE_WAIT_MS;
	while (!slow->closed && now_ms() < until) {
		slow->len = 0;
		sse_fill(slow, until);
	}
	cr_expect(slow->closed, "the slow reader was not disconnected");
	/* And clmd goes on: the good stream and other routes. */
	track_one("after");
	sse_lifecycle(ok, "after");
	char body[4096];
	cr_expect_eq(
	        http_simple("GET", "/api/status", NULL, body, sizeof(body)),
	        200);
	cr_expect_eq(metric("clm_http_streams_open"), 1);
	sse_close(slow);
	sse_close(ok);
	free(cid);
	free(ids);
}

Test(http_events, streams_are_capped_and_clmd_stops_with_them_open)
{
	const char *extra[] = { "--http-max-streams", "2", NULL };
	start_clmd(extra);
	struct sse *a = sse_open("/api/events", NULL, 200);
	struct sse *b = sse_open("/api/events?prefix=stage/", NULL, 200);
	char body[512];
	cr_expect_eq(
	        http_simple("GET", "/api/events", NULL, body, sizeof(body)),
	        503);
	cr_expect_not_null(strstr(body, "http_max_streams"), "%s", body);
	track_one("sam");
	sse_lifecycle(a, "sam");
	sse_lifecycle(b, "sam");
	cr_expect_eq(metric("clm_http_streams_open"), 2);
	int64_t t0 = now_ms();
	cr_expect_eq(clmd_stop(&srv), 0, "log %s", srv.log_path);
	cr_expect_lt(now_ms() - t0, 5000);
	/* Both streams end with clmd. */
	int64_t until = now_ms() + HE_WAIT_MS;
	while (!a->closed && sse_fill(a, until)) {
	}
	while (!b->closed && sse_fill(b, until)) {
	}
	cr_expect(a->closed && b->closed);
	sse_close(a);
	sse_close(b);
}
