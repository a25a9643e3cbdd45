#include "util/telemetry.h"

#include <stdio.h>
#include <stdlib.h>

#include "clm/error.h"

/* Upper bounds of the duration buckets, in ns, and as `le` labels. */
static const int64_t telemetry_duration_ns[TELEMETRY_DURATION_BUCKETS] = {
	50000,
	100000,
	250000,
	500000,
	1000000,
	2500000,
	5000000,
	10000000,
	25000000,
	50000000,
	100000000,
	250000000,
	500000000,
	1000000000,
	2500000000,
	5000000000,
};
static const char *const telemetry_duration_le[TELEMETRY_DURATION_BUCKETS]
        = { "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	          "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	          "5" };

static const size_t telemetry_batch_le[TELEMETRY_BATCH_BUCKETS]
        = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024 };

static const int telemetry_http_status[TELEMETRY_HTTP_STATUSES]
        = { 200, 400, 401, 403, 404, 405, 413, 421, 500, 503 };
#define TELEMETRY_HTTP_OTHER 8 /* index of 500 */

static const char *const telemetry_http_path[TELEMETRY_HTTP_HANDLERS] = {
	[TELEMETRY_HTTP_PAGE] = "/",
	[TELEMETRY_HTTP_STATUS] = "/api/status",
	[TELEMETRY_HTTP_METRICS] = "/api/metrics",
	[TELEMETRY_HTTP_COHORTS] = "/api/cohorts",
	[TELEMETRY_HTTP_EXPERIMENTS] = "/api/experiments",
	[TELEMETRY_HTTP_PROMETHEUS] = "/metrics",
	[TELEMETRY_HTTP_V1_BATCH] = "/v1/batch",
	[TELEMETRY_HTTP_V1_TRACK] = "/v1/track",
	[TELEMETRY_HTTP_V1_IDENTIFY] = "/v1/identify",
	[TELEMETRY_HTTP_V1_PAGE] = "/v1/page",
	[TELEMETRY_HTTP_V1_SCREEN] = "/v1/screen",
	[TELEMETRY_HTTP_V1_ALIAS] = "/v1/alias",
	[TELEMETRY_HTTP_V1_GROUP] = "/v1/group",
	[TELEMETRY_HTTP_PH_BATCH] = "/batch/",
	[TELEMETRY_HTTP_PH_CAPTURE] = "/capture/",
	[TELEMETRY_HTTP_PH_E] = "/e/",
	[TELEMETRY_HTTP_PH_I_V0_E] = "/i/v0/e/",
	[TELEMETRY_HTTP_CUSTOMERS] = "/api/customers",
	[TELEMETRY_HTTP_CLAIM] = "/api/customers/recommendations",
	[TELEMETRY_HTTP_TRACK] = "/api/track",
	[TELEMETRY_HTTP_EVENTS] = "/api/events",
	[TELEMETRY_HTTP_EVENTS_TOKEN] = "/api/events/token",
	[TELEMETRY_HTTP_SEGMENTS] = "/api/segments",
	[TELEMETRY_HTTP_JOURNEYS] = "/api/journeys",
	[TELEMETRY_HTTP_JOURNEY_MESSAGES] = "/api/journey-messages",
};

#define TELEMETRY_ADD(p, n) \
	atomic_fetch_add_explicit(p, n, memory_order_relaxed)
#define TELEMETRY_GET(p) atomic_load_explicit(p, memory_order_relaxed)

void
telemetry_init(struct telemetry *t)
{
	for (int c = 0; c < TELEMETRY_CALLS; c++) {
		for (int k = 0; k < TELEMETRY_CODES; k++) {
			atomic_init(&t->requests[c][k], 0);
		}
		for (int b = 0; b <= TELEMETRY_DURATION_BUCKETS; b++) {
			atomic_init(&t->duration[c][b], 0);
		}
		atomic_init(&t->duration_ns[c], 0);
	}
	for (int b = 0; b <= TELEMETRY_BATCH_BUCKETS; b++) {
		atomic_init(&t->batch[b], 0);
	}
	atomic_init(&t->batch_jobs, 0);
	atomic_init(&t->queue_depth, 0);
	atomic_init(&t->stream_purges, 0);
	for (int h = 0; h < TELEMETRY_HTTP_HANDLERS; h++) {
		for (int s = 0; s < TELEMETRY_HTTP_STATUSES; s++) {
			atomic_init(&t->http[h][s], 0);
		}
	}
	for (int r = 0; r < TELEMETRY_REFUSED_REASONS; r++) {
		atomic_init(&t->refused[r], 0);
	}
	for (int l = 0; l < TELEMETRY_LISTENERS; l++) {
		atomic_init(&t->conn_open[l], 0);
		atomic_init(&t->conn_refused[l], 0);
		atomic_init(&t->conn_idle[l], 0);
	}
	for (int r = 0; r < TELEMETRY_HTTP_REFUSALS; r++) {
		atomic_init(&t->http_refused[r], 0);
	}
	atomic_init(&t->ipc_relisten, 0);
	atomic_init(&t->streams_open, 0);
	atomic_init(&t->streams_slow, 0);
	atomic_init(&t->ipc_probes, 0);
	atomic_init(&t->journal_commits, 0);
	atomic_init(&t->journal_entries, 0);
	atomic_init(&t->journal_bytes, 0);
	atomic_init(&t->journal_position, 0);
	atomic_init(&t->ckpt_count, 0);
	atomic_init(&t->ckpt_failures, 0);
	atomic_init(&t->ckpt_ns, 0);
	atomic_init(&t->ckpt_keys, 0);
	atomic_init(&t->ckpt_overlay_bytes, 0);
	atomic_init(&t->ckpt_bytes, 0);
	atomic_init(&t->ckpt_position, 0);
	atomic_init(&t->ckpt_last_ns, 0);
	atomic_init(&t->replay_entries, 0);
	atomic_init(&t->replay_ns, 0);
}

static bool
telemetry_listener_ok(const struct telemetry *t, enum telemetry_listener l)
{
	return t != NULL && (int) l >= 0 && l < TELEMETRY_LISTENERS;
}

void
telemetry_conn_open(
        struct telemetry *t, enum telemetry_listener listener, size_t open)
{
	if (telemetry_listener_ok(t, listener)) {
		atomic_store_explicit(&t->conn_open[listener], (uint64_t) open,
		        memory_order_relaxed);
	}
}

void
telemetry_conn_refused(struct telemetry *t, enum telemetry_listener listener)
{
	if (telemetry_listener_ok(t, listener)) {
		TELEMETRY_ADD(&t->conn_refused[listener], 1);
	}
}

void
telemetry_conn_idle(struct telemetry *t, enum telemetry_listener listener)
{
	if (telemetry_listener_ok(t, listener)) {
		TELEMETRY_ADD(&t->conn_idle[listener], 1);
	}
}

void
telemetry_http_refused(struct telemetry *t, enum telemetry_http_refused reason)
{
	if (t != NULL && (int) reason >= 0
	        && reason < TELEMETRY_HTTP_REFUSALS) {
		TELEMETRY_ADD(&t->http_refused[reason], 1);
	}
}

void
telemetry_journal(struct telemetry *t, uint64_t entries, uint64_t bytes,
        uint64_t position)
{
	if (t != NULL) {
		TELEMETRY_ADD(&t->journal_commits, 1);
		TELEMETRY_ADD(&t->journal_entries, entries);
		TELEMETRY_ADD(&t->journal_bytes, bytes);
		atomic_store_explicit(
		        &t->journal_position, position, memory_order_relaxed);
	}
}

void
telemetry_checkpoint(struct telemetry *t, bool failed, int64_t ns,
        uint64_t keys, uint64_t overlay_bytes, uint64_t position)
{
	if (t == NULL) {
		return;
	}
	if (failed) {
		TELEMETRY_ADD(&t->ckpt_failures, 1);
		return;
	}
	TELEMETRY_ADD(&t->ckpt_count, 1);
	TELEMETRY_ADD(&t->ckpt_ns, (uint64_t) ns);
	TELEMETRY_ADD(&t->ckpt_keys, keys);
	TELEMETRY_ADD(&t->ckpt_overlay_bytes, overlay_bytes);
	atomic_store_explicit(
	        &t->ckpt_position, position, memory_order_relaxed);
	atomic_store_explicit(
	        &t->ckpt_last_ns, (uint64_t) ns, memory_order_relaxed);
}

void
telemetry_replay(struct telemetry *t, uint64_t entries, int64_t ns)
{
	if (t != NULL) {
		atomic_store_explicit(
		        &t->replay_entries, entries, memory_order_relaxed);
		atomic_store_explicit(
		        &t->replay_ns, (uint64_t) ns, memory_order_relaxed);
	}
}

void
telemetry_http_stream(struct telemetry *t, size_t open, bool slow)
{
	if (t != NULL) {
		atomic_store_explicit(
		        &t->streams_open, open, memory_order_relaxed);
		if (slow) {
			TELEMETRY_ADD(&t->streams_slow, 1);
		}
	}
}

void
telemetry_ipc_relisten(struct telemetry *t)
{
	if (t != NULL) {
		TELEMETRY_ADD(&t->ipc_relisten, 1);
	}
}

void
telemetry_ipc_probe(struct telemetry *t)
{
	if (t != NULL) {
		TELEMETRY_ADD(&t->ipc_probes, 1);
	}
}

void
telemetry_refused(struct telemetry *t, enum telemetry_refused reason)
{
	if (t != NULL && (int) reason >= 0
	        && reason < TELEMETRY_REFUSED_REASONS) {
		TELEMETRY_ADD(&t->refused[reason], 1);
	}
}

void
telemetry_request(struct telemetry *t, int call, int code, int64_t duration_ns)
{
	if (t == NULL) {
		return;
	}
	if (call < 0 || call >= TELEMETRY_CALLS) {
		call = 0;
	}
	if (code < 0 || code >= TELEMETRY_CODES) {
		code = CLM_UNKNOWN;
	}
	if (duration_ns < 0) {
		duration_ns = 0;
	}
	int b = 0;
	while (b < TELEMETRY_DURATION_BUCKETS
	        && duration_ns > telemetry_duration_ns[b]) {
		b++;
	}
	TELEMETRY_ADD(&t->requests[call][code], 1);
	TELEMETRY_ADD(&t->duration[call][b], 1);
	TELEMETRY_ADD(&t->duration_ns[call], (uint64_t) duration_ns);
}

void
telemetry_batch(struct telemetry *t, size_t jobs)
{
	if (t == NULL) {
		return;
	}
	int b = 0;
	while (b < TELEMETRY_BATCH_BUCKETS && jobs > telemetry_batch_le[b]) {
		b++;
	}
	TELEMETRY_ADD(&t->batch[b], 1);
	TELEMETRY_ADD(&t->batch_jobs, (uint64_t) jobs);
}

void
telemetry_checkpoint_replay(struct telemetry *t, int64_t ns)
{
	if (t != NULL) {
		atomic_store_explicit(&t->ckpt_replay_ns,
		        (uint64_t) (ns > 0 ? ns : 0), memory_order_relaxed);
	}
}

void
telemetry_checkpoint_bytes(struct telemetry *t, uint64_t bytes)
{
	if (t != NULL) {
		atomic_store_explicit(
		        &t->ckpt_bytes, bytes, memory_order_relaxed);
	}
}

void
telemetry_queue_depth(struct telemetry *t, size_t depth)
{
	if (t != NULL) {
		atomic_store_explicit(&t->queue_depth, (uint64_t) depth,
		        memory_order_relaxed);
	}
}

void
telemetry_stream_purges(struct telemetry *t, size_t n)
{
	if (t != NULL) {
		atomic_store_explicit(
		        &t->stream_purges, (uint64_t) n, memory_order_relaxed);
	}
}

void
telemetry_position_waits(struct telemetry *t, size_t n)
{
	if (t != NULL) {
		atomic_store_explicit(&t->position_waits, (uint64_t) n,
		        memory_order_relaxed);
	}
}

void
telemetry_http(
        struct telemetry *t, enum telemetry_http_handler handler, int status)
{
	if (t == NULL || (int) handler < 0
	        || handler >= TELEMETRY_HTTP_HANDLERS) {
		return;
	}
	int s = TELEMETRY_HTTP_OTHER;
	for (int i = 0; i < TELEMETRY_HTTP_STATUSES; i++) {
		if (telemetry_http_status[i] == status) {
			s = i;
		}
	}
	TELEMETRY_ADD(&t->http[handler][s], 1);
}

/* A family's # HELP and # TYPE lines. */
static void telemetry_journal_format(FILE *f, const struct telemetry *t);

static void
telemetry_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the text format requires (\\, \", \n). */
static void
telemetry_label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"') {
			fputc('\\', f);
			fputc(*v, f);
		} else if (*v == '\n') {
			fputs("\\n", f);
		} else {
			fputc(*v, f);
		}
	}
}

static void
telemetry_gauge(FILE *f, const char *name, const char *help, uint64_t v)
{
	telemetry_family(f, name, "gauge", help);
	fprintf(f, "%s %llu\n", name, (unsigned long long) v);
}

/* The requests a call slot has answered, all codes together. */
static uint64_t
telemetry_call_total(const struct telemetry *t, int call)
{
	uint64_t n = 0;
	for (int k = 0; k < TELEMETRY_CODES; k++) {
		n += TELEMETRY_GET(&t->requests[call][k]);
	}
	return n;
}

static void
telemetry_requests(FILE *f, const struct telemetry *t,
        telemetry_call_name_fn name, const bool *seen)
{
	telemetry_family(f, "clm_requests_total", "counter",
	        "Requests answered, by call and status code.");
	for (int c = 0; c < TELEMETRY_CALLS; c++) {
		if (!seen[c]) {
			continue;
		}
		for (int k = 0; k < TELEMETRY_CODES; k++) {
			uint64_t n = TELEMETRY_GET(&t->requests[c][k]);
			if (n == 0) {
				continue;
			}
			fputs("clm_requests_total{call=\"", f);
			telemetry_label(f, name(c));
			fprintf(f, "\",code=\"%s\"} %llu\n",
			        clm_errname((clm_err) k),
			        (unsigned long long) n);
		}
	}
	telemetry_family(f, "clm_request_duration_seconds", "histogram",
	        "Time from receiving a request to sending its reply, by call.");
	for (int c = 0; c < TELEMETRY_CALLS; c++) {
		if (!seen[c]) {
			continue;
		}
		uint64_t cum = 0;
		for (int b = 0; b <= TELEMETRY_DURATION_BUCKETS; b++) {
			cum += TELEMETRY_GET(&t->duration[c][b]);
			fputs("clm_request_duration_seconds_bucket{call=\"",
			        f);
			telemetry_label(f, name(c));
			fprintf(f, "\",le=\"%s\"} %llu\n",
			        b < TELEMETRY_DURATION_BUCKETS
			                ? telemetry_duration_le[b]
			                : "+Inf",
			        (unsigned long long) cum);
		}
		uint64_t ns = TELEMETRY_GET(&t->duration_ns[c]);
		fputs("clm_request_duration_seconds_sum{call=\"", f);
		telemetry_label(f, name(c));
		fprintf(f, "\"} %llu.%09llu\n",
		        (unsigned long long) (ns / 1000000000u),
		        (unsigned long long) (ns % 1000000000u));
		fputs("clm_request_duration_seconds_count{call=\"", f);
		telemetry_label(f, name(c));
		fprintf(f, "\"} %llu\n", (unsigned long long) cum);
	}
}

void
telemetry_writes(
        const struct telemetry *t, uint64_t *transactions, uint64_t *jobs)
{
	*transactions = 0;
	*jobs = 0;
	if (t == NULL) {
		return;
	}
	for (int b = 0; b <= TELEMETRY_BATCH_BUCKETS; b++) {
		*transactions += TELEMETRY_GET(&t->batch[b]);
	}
	*jobs = TELEMETRY_GET(&t->batch_jobs);
}

static void
telemetry_batches(FILE *f, const struct telemetry *t)
{
	telemetry_family(f, "clm_write_batch_size", "histogram",
	        "Write jobs applied per write transaction (group commit).");
	uint64_t cum = 0;
	for (int b = 0; b <= TELEMETRY_BATCH_BUCKETS; b++) {
		cum += TELEMETRY_GET(&t->batch[b]);
		if (b < TELEMETRY_BATCH_BUCKETS) {
			fprintf(f, "clm_write_batch_size_bucket{le=\"%zu\"} ",
			        telemetry_batch_le[b]);
		} else {
			fputs("clm_write_batch_size_bucket{le=\"+Inf\"} ", f);
		}
		fprintf(f, "%llu\n", (unsigned long long) cum);
	}
	fprintf(f, "clm_write_batch_size_sum %llu\n",
	        (unsigned long long) TELEMETRY_GET(&t->batch_jobs));
	fprintf(f, "clm_write_batch_size_count %llu\n",
	        (unsigned long long) cum);
}

static void
telemetry_http_requests(FILE *f, const struct telemetry *t)
{
	telemetry_family(f, "clm_http_requests_total", "counter",
	        "HTTP responses of --http (dashboard, /metrics, SDK ingest), by handler and status.");
	for (int h = 0; h < TELEMETRY_HTTP_HANDLERS; h++) {
		for (int s = 0; s < TELEMETRY_HTTP_STATUSES; s++) {
			uint64_t n = TELEMETRY_GET(&t->http[h][s]);
			if (n == 0) {
				continue;
			}
			fprintf(f,
			        "clm_http_requests_total{handler=\"%s\",code=\"%d\"} %llu\n",
			        telemetry_http_path[h],
			        telemetry_http_status[s],
			        (unsigned long long) n);
		}
	}
}

/* The reason label of each enum telemetry_refused. */
static const char *const telemetry_refused_reason[] = {
	[TELEMETRY_REFUSED_AUTH] = "unauthenticated",
	[TELEMETRY_REFUSED_COUNT] = "elements",
	[TELEMETRY_REFUSED_BUDGET] = "budget",
};

/* Every reason, zeros included: a refusal is rare, and a series that
 * appears only after the first one cannot be rated over. */
static void
telemetry_refusals(FILE *f, const struct telemetry *t)
{
	telemetry_family(f, "clm_requests_refused_total", "counter",
	        "Requests refused before they were decoded, by reason.");
	for (int r = 0; r < TELEMETRY_REFUSED_REASONS; r++) {
		fprintf(f, "clm_requests_refused_total{reason=\"%s\"} %llu\n",
		        telemetry_refused_reason[r],
		        (unsigned long long) TELEMETRY_GET(&t->refused[r]));
	}
}

/* The listener label of each enum telemetry_listener. */
static const char *const telemetry_listener_name[] = {
	[TELEMETRY_LISTENER_RPC] = "rpc",
	[TELEMETRY_LISTENER_HTTP] = "http",
};

/* The reason label of each enum telemetry_http_refused. */
static const char *const telemetry_http_refused_reason[] = {
	[TELEMETRY_HTTP_TIMEOUT] = "timeout",
	[TELEMETRY_HTTP_HEAD_SIZE] = "head_too_large",
	[TELEMETRY_HTTP_BODY_SIZE] = "body_too_large",
	[TELEMETRY_HTTP_MALFORMED] = "malformed",
};

/* The connection series, one sample per listener, zeros included. */
static void
telemetry_connections(FILE *f, const struct telemetry *t)
{
	telemetry_family(f, "clm_connections", "gauge",
	        "Connections open now, by listener.");
	for (int l = 0; l < TELEMETRY_LISTENERS; l++) {
		fprintf(f, "clm_connections{listener=\"%s\"} %llu\n",
		        telemetry_listener_name[l],
		        (unsigned long long) TELEMETRY_GET(&t->conn_open[l]));
	}
	telemetry_family(f, "clm_connections_refused_total", "counter",
	        "Connections refused as they arrived because max_connections (rpc) or http_max_connections (http) were open.");
	for (int l = 0; l < TELEMETRY_LISTENERS; l++) {
		fprintf(f,
		        "clm_connections_refused_total{listener=\"%s\"} %llu\n",
		        telemetry_listener_name[l],
		        (unsigned long long) TELEMETRY_GET(
		                &t->conn_refused[l]));
	}
	telemetry_family(f, "clm_connections_closed_idle_total", "counter",
	        "Connections closed after idle_timeout (rpc) or http_idle_timeout (http) without a request.");
	for (int l = 0; l < TELEMETRY_LISTENERS; l++) {
		fprintf(f,
		        "clm_connections_closed_idle_total{listener=\"%s\"} %llu\n",
		        telemetry_listener_name[l],
		        (unsigned long long) TELEMETRY_GET(&t->conn_idle[l]));
	}
	telemetry_family(f, "clm_http_requests_refused_total", "counter",
	        "HTTP requests refused before routing, by reason (timeout: not whole within http_request_timeout).");
	for (int r = 0; r < TELEMETRY_HTTP_REFUSALS; r++) {
		fprintf(f,
		        "clm_http_requests_refused_total{reason=\"%s\"} %llu\n",
		        telemetry_http_refused_reason[r],
		        (unsigned long long) TELEMETRY_GET(
		                &t->http_refused[r]));
	}
	telemetry_family(f, "clm_http_streams_open", "gauge",
	        "HTTP event streams (/api/events) open now.");
	fprintf(f, "clm_http_streams_open %llu\n",
	        (unsigned long long) TELEMETRY_GET(&t->streams_open));
	telemetry_family(f, "clm_http_streams_dropped_slow_total", "counter",
	        "HTTP event streams ended because the client read too slowly (past its unsent bytes, or stalled).");
	fprintf(f, "clm_http_streams_dropped_slow_total %llu\n",
	        (unsigned long long) TELEMETRY_GET(&t->streams_slow));
	telemetry_family(f, "clm_ipc_relistens_total", "counter",
	        "Listeners on ipc:// started again after they stopped accepting (nng issue 1518).");
	fprintf(f, "clm_ipc_relistens_total %llu\n",
	        (unsigned long long) TELEMETRY_GET(&t->ipc_relisten));
	telemetry_family(f, "clm_ipc_probes_total", "counter",
	        "Checks of ipc:// listeners by the watchdog, whatever they found.");
	fprintf(f, "clm_ipc_probes_total %llu\n",
	        (unsigned long long) TELEMETRY_GET(&t->ipc_probes));
	telemetry_journal_format(f, t);
}

/* One unlabelled sample of a family. */
static void
telemetry_one(FILE *f, const char *name, const char *type, const char *help,
        double v)
{
	telemetry_family(f, name, type, help);
	fprintf(f, "%s %.17g\n", name, v);
}

/* The journal's and the checkpoints' series. */
static void
telemetry_journal_format(FILE *f, const struct telemetry *t)
{
	telemetry_one(f, "clm_journal_commits_total", "counter",
	        "Journal commits (each one fdatasync with durability full).",
	        (double) TELEMETRY_GET(&t->journal_commits));
	telemetry_one(f, "clm_journal_entries_total", "counter",
	        "Journal entries written (one per write call).",
	        (double) TELEMETRY_GET(&t->journal_entries));
	telemetry_one(f, "clm_journal_bytes_total", "counter",
	        "Bytes of journal entries written (payloads).",
	        (double) TELEMETRY_GET(&t->journal_bytes));
	telemetry_one(f, "clm_journal_position", "gauge",
	        "Position of the last journal entry committed.",
	        (double) TELEMETRY_GET(&t->journal_position));
	telemetry_one(f, "clm_checkpoints_total", "counter",
	        "Checkpoints of the overlay into the base view.",
	        (double) TELEMETRY_GET(&t->ckpt_count));
	telemetry_one(f, "clm_checkpoint_failures_total", "counter",
	        "Checkpoints that failed (retried).",
	        (double) TELEMETRY_GET(&t->ckpt_failures));
	telemetry_one(f, "clm_checkpoint_seconds_total", "counter",
	        "Time spent in checkpoints.",
	        (double) TELEMETRY_GET(&t->ckpt_ns) / 1e9);
	telemetry_one(f, "clm_checkpoint_last_seconds", "gauge",
	        "Duration of the last checkpoint.",
	        (double) TELEMETRY_GET(&t->ckpt_last_ns) / 1e9);
	telemetry_one(f, "clm_checkpoint_keys_total", "counter",
	        "Values and deletions moved into the base by checkpoints.",
	        (double) TELEMETRY_GET(&t->ckpt_keys));
	telemetry_one(f, "clm_checkpoint_overlay_bytes_total", "counter",
	        "Overlay bytes in use when checkpoints began.",
	        (double) TELEMETRY_GET(&t->ckpt_overlay_bytes));
	telemetry_one(f, "clm_checkpoint_bytes", "gauge",
	        "Overlay bytes that start a checkpoint now (checkpoint_bytes, or what auto made of it).",
	        (double) TELEMETRY_GET(&t->ckpt_bytes));
	telemetry_one(f, "clm_checkpoint_replay_seconds", "gauge",
	        "Seconds the writer spent applying the writes no checkpoint covers yet: about what a crash now would replay (checkpoint_interval = auto checkpoints at 10).",
	        (double) TELEMETRY_GET(&t->ckpt_replay_ns) / 1e9);
	telemetry_one(f, "clm_checkpoint_position", "gauge",
	        "Journal position the base view reflects.",
	        (double) TELEMETRY_GET(&t->ckpt_position));
	telemetry_one(f, "clm_recovery_entries", "gauge",
	        "Journal entries replayed at start-up.",
	        (double) TELEMETRY_GET(&t->replay_entries));
	telemetry_one(f, "clm_recovery_seconds", "gauge",
	        "Time the start-up replay took.",
	        (double) TELEMETRY_GET(&t->replay_ns) / 1e9);
}

int
telemetry_format(const struct telemetry *t, const struct telemetry_gauges *g,
        telemetry_call_name_fn name, char **out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL) {
		return -1;
	}
	bool seen[TELEMETRY_CALLS];
	for (int c = 0; c < TELEMETRY_CALLS; c++) {
		seen[c] = name(c) != NULL && telemetry_call_total(t, c) > 0;
	}
	telemetry_family(f, "clm_build_info", "gauge",
	        "Always 1; the version of this clmd is a label.");
	fputs("clm_build_info{version=\"", f);
	telemetry_label(f, g->version != NULL ? g->version : "");
	fputs("\"} 1\n", f);
	telemetry_family(f, "clm_uptime_seconds", "gauge",
	        "Seconds since this clmd started.");
	fprintf(f, "clm_uptime_seconds %.3f\n", g->uptime_s);
	telemetry_requests(f, t, name, seen);
	telemetry_refusals(f, t);
	telemetry_connections(f, t);
	telemetry_gauge(f, "clm_write_queue_depth",
	        "Write jobs waiting for the writer thread.",
	        TELEMETRY_GET(&t->queue_depth));
	telemetry_gauge(f, "clm_position_waits",
	        "Requests waiting for the view to reach their min_position.",
	        TELEMETRY_GET(&t->position_waits));
	telemetry_gauge(f, "clm_stream_purges_pending",
	        "Stream purges of forgotten customers left to do (cluster mode).",
	        TELEMETRY_GET(&t->stream_purges));
	telemetry_batches(f, t);
	if (g->have_store) {
		telemetry_gauge(f, "clm_db_bytes",
		        "Bytes of the database in use (pages x page size).",
		        g->db_bytes);
		telemetry_gauge(f, "clm_map_bytes",
		        "Current size of the database's memory map.",
		        g->map_bytes);
		telemetry_gauge(f, "clm_customers",
		        "Stored profiles, anonymous ones included.",
		        g->customers);
		telemetry_gauge(f, "clm_touchpoints", "Stored touchpoints.",
		        g->touchpoints);
	}
	telemetry_http_requests(f, t);
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed || text == NULL) {
		free(text);
		return -1;
	}
	*out = text;
	return 0;
}
