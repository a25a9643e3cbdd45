/* The cluster-mode tests' helpers: see cluster.h. */
#define _XOPEN_SOURCE 700

#include "cluster.h"

#include <criterion/criterion.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int64_t
cluster_wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t
cluster_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cluster_node_start(struct cluster *cl, int i)
{
	struct clmd_proc *p = &cl->node[i];
	const char *args[40];
	int n = 0;
	args[n++] = "--journal";
	args[n++] = natsrv_urls(cl->nats);
	for (int k = 0; cl->extra != NULL && cl->extra[k] != NULL; k++) {
		cr_assert_lt(n, 39, "too many extra flags");
		args[n++] = cl->extra[k];
	}
	args[n] = NULL;
	int rc = clmd_start_ms(p, p->data_dir[0] ? p->data_dir : NULL, args,
	        CLUSTER_START_MS);
	cr_assert_eq(
	        rc, 0, "clmd node %d did not start (log %s)", i, p->log_path);
}

void
cluster_start(struct cluster *cl, int nodes, const char *const *extra)
{
	cr_assert_leq(nodes, CLUSTER_MAX_NODES);
	memset(cl, 0, sizeof(*cl));
	cl->extra = extra;
	cl->nats = natsrv_start(3, NULL);
	cr_assert_not_null(cl->nats, "the nats-servers did not start");
	for (int i = 0; i < nodes; i++) {
		cluster_node_start(cl, i);
		cl->n = i + 1;
	}
}

void
cluster_node_wipe(struct cluster *cl, int i)
{
	struct clmd_proc *p = &cl->node[i];
	clmd_kill9(p);
	cr_assert_eq(harness_rm_rf(p->data_dir), 0, "cannot remove '%s'",
	        p->data_dir);
}

/*
 * With CLM_CLUSTER_KEEP_LOGS=DIR (tools/cluster-soak.sh sets it), copies
 * each node's clmd.log to DIR/node<i>-<pid>.log before its temp dir goes.
 */
static void
cluster_keep_logs(const struct cluster *cl)
{
	const char *dir = getenv("CLM_CLUSTER_KEEP_LOGS");
	if (dir == NULL || dir[0] == '\0') {
		return;
	}
	for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
		if (cl->node[i].log_path[0] == '\0') {
			continue;
		}
		char *log = harness_read_file(cl->node[i].log_path);
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/node%d-%ld.log", dir, i,
		        (long) getpid());
		if (log != NULL && harness_write_file(path, log) != 0) {
			fprintf(stderr, "cluster: cannot write '%s'\n", path);
		}
		free(log);
	}
}

void
cluster_fini(struct cluster *cl)
{
	if (cl == NULL) {
		return;
	}
	for (int i = 0; i < CLUSTER_MAX_NODES; i++) {
		if (cl->node[i].pid > 0) {
			clmd_kill9(&cl->node[i]);
		}
	}
	cluster_keep_logs(cl);
	natsrv_stop(cl->nats);
	cl->nats = NULL;
	harness_fini();
}

clm_conn *
cluster_conn(const struct cluster *cl, int i)
{
	clm_conn *c = NULL;
	clm_err e = clm_open(cl->node[i].url, 20000, &c);
	cr_assert_eq(e, CLM_OK, "clm_open %s: %s", cl->node[i].url,
	        clm_open_error());
	return c;
}

clm_err
cluster_call(clm_conn *c, const Clm__V1__Request *req, uint64_t min_position,
        uint32_t deadline_ms, Clm__V1__Response **out)
{
	Clm__V1__Request r = *req;
	r.min_position = min_position;
	r.deadline_ms = deadline_ms;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_call(c, &r, &resp);
	*out = resp;
	if (e != CLM_OK) {
		return e;
	}
	return resp->status != NULL ? (clm_err) resp->status->code : CLM_OK;
}

clm_err
cluster_read(clm_conn *c, const Clm__V1__Request *req, uint64_t min_position,
        Clm__V1__Response **out)
{
	int64_t until = cluster_mono_ms() + CLUSTER_CATCHUP_MS;
	for (;;) {
		Clm__V1__Response *resp = NULL;
		clm_err e = cluster_call(c, req, min_position, 2000, &resp);
		bool behind = e == CLM_DEADLINE_EXCEEDED
		        || (e == CLM_UNAVAILABLE
		                && (resp == NULL
		                        || strstr(resp->status->message,
		                                   "not caught up")
		                                != NULL));
		if (!behind || cluster_mono_ms() >= until) {
			*out = resp;
			return e;
		}
		clm_response_free(resp);
		harness_sleep_ms(50);
	}
}

Clm__V1__Response *
cluster_customer(
        clm_conn *c, const char *id, int64_t as_of_ms, uint64_t min_position)
{
	Clm__V1__GetCustomerRequest q = CLM__V1__GET_CUSTOMER_REQUEST__INIT;
	q.customer_id = (char *) id;
	q.as_of_ms = as_of_ms;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_GET_CUSTOMER;
	req.get_customer = &q;
	Clm__V1__Response *resp = NULL;
	clm_err e = cluster_read(c, &req, min_position, &resp);
	cr_assert_eq(e, CLM_OK, "get customer '%s' at position %llu: %s (%s)",
	        id, (unsigned long long) min_position, clm_errname(e),
	        resp != NULL && resp->status != NULL ? resp->status->message
	                                             : clm_last_error(c));
	cr_assert_not_null(resp->customer);
	return resp;
}

Clm__V1__Response *
cluster_export(clm_conn *c, const char *id, uint64_t min_position)
{
	Clm__V1__ExportCustomerRequest q
	        = CLM__V1__EXPORT_CUSTOMER_REQUEST__INIT;
	q.customer_id = (char *) id;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_EXPORT_CUSTOMER;
	req.export_customer = &q;
	Clm__V1__Response *resp = NULL;
	clm_err e = cluster_read(c, &req, min_position, &resp);
	cr_assert_eq(e, CLM_OK, "export '%s' at position %llu: %s (%s)", id,
	        (unsigned long long) min_position, clm_errname(e),
	        resp != NULL && resp->status != NULL ? resp->status->message
	                                             : clm_last_error(c));
	cr_assert_not_null(resp->export_customer);
	return resp;
}

Clm__V1__Response *
cluster_status(clm_conn *c, uint64_t min_position)
{
	Clm__V1__StatusRequest q = CLM__V1__STATUS_REQUEST__INIT;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_SERVER_STATUS;
	req.server_status = &q;
	Clm__V1__Response *resp = NULL;
	clm_err e = cluster_read(c, &req, min_position, &resp);
	cr_assert_eq(e, CLM_OK, "status at position %llu: %s",
	        (unsigned long long) min_position, clm_errname(e));
	cr_assert_not_null(resp->server_status);
	return resp;
}

void
cluster_expect_same(
        const char *what, const ProtobufCMessage *a, const ProtobufCMessage *b)
{
	cr_assert_not_null(a, "%s: none", what);
	cr_assert_not_null(b, "%s: none", what);
	cr_assert_eq(a->descriptor, b->descriptor, "%s: two types", what);
	size_t na = protobuf_c_message_get_packed_size(a);
	size_t nb = protobuf_c_message_get_packed_size(b);
	uint8_t *pa = malloc(na + 1), *pb = malloc(nb + 1);
	cr_assert(pa != NULL && pb != NULL);
	protobuf_c_message_pack(a, pa);
	protobuf_c_message_pack(b, pb);
	size_t at = 0;
	while (at < na && at < nb && pa[at] == pb[at]) {
		at++;
	}
	cr_expect(na == nb && at == na,
	        "%s differs: %zu and %zu bytes, first difference at byte %zu",
	        what, na, nb, at);
	free(pa);
	free(pb);
}

void
cluster_expect_same_export(const char *what, Clm__V1__ExportCustomerReply *a,
        Clm__V1__ExportCustomerReply *b)
{
	cr_assert(a != NULL && b != NULL && a->customer != NULL
	        && b->customer != NULL);
	a->customer->as_of_ms = 0;
	b->customer->as_of_ms = 0;
	cluster_expect_same(what, &a->base, &b->base);
}

int
cluster_expect_no_halt(const struct cluster *cl)
{
	int bad = 0;
	for (int i = 0; i < cl->n; i++) {
		char *log = harness_read_file(cl->node[i].log_path);
		if (log == NULL) {
			continue;
		}
		const char *at = strstr(log, "diverged");
		if (at != NULL) {
			const char *line = at;
			while (line > log && line[-1] != '\n') {
				line--;
			}
			const char *end = strchr(at, '\n');
			int len = end != NULL ? (int) (end - line) : 200;
			cr_expect(false, "node %d halted: %.*s", i, len, line);
			bad++;
		}
		free(log);
	}
	return bad;
}

uint64_t
cluster_touches(const Clm__V1__Customer *c)
{
	uint64_t n = 0;
	for (size_t i = 0; i < c->n_touch_counts; i++) {
		n += c->touch_counts[i]->count;
	}
	return n;
}

bool
cluster_has_bytes(const void *data, size_t len, const char *needle, size_t n)
{
	const unsigned char *d = data;
	for (size_t i = 0; n <= len && i + n <= len; i++) {
		if (memcmp(d + i, needle, n) == 0) {
			return true;
		}
	}
	return false;
}

size_t
cluster_stream_scan(const struct cluster *cl,
        void (*fn)(void *arg, const struct cluster_entry *e), void *arg)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = natsConnection_ConnectTo(&nc, natsrv_urls(cl->nats));
	cr_assert_eq(s, NATS_OK, "nats connect: %s", natsStatus_GetText(s));
	s = natsConnection_JetStream(&js, nc, NULL);
	cr_assert_eq(s, NATS_OK, "jetstream: %s", natsStatus_GetText(s));
	s = js_GetStreamInfo(&si, js, CLUSTER_STREAM, NULL, &jerr);
	cr_assert_eq(s, NATS_OK, "stream info: %s (%d)", natsStatus_GetText(s),
	        (int) jerr);
	uint64_t first = si->State.FirstSeq, last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	size_t n = 0;
	for (uint64_t seq = first; seq != 0 && seq <= last; seq++) {
		natsMsg *m = NULL;
		s = js_GetMsg(&m, js, CLUSTER_STREAM, seq, NULL, &jerr);
		if (s == NATS_NOT_FOUND) {
			continue; /* erased */
		}
		cr_assert_eq(s, NATS_OK, "get entry %llu: %s (%d)",
		        (unsigned long long) seq, natsStatus_GetText(s),
		        (int) jerr);
		struct cluster_entry e = { .seq = seq,
			.subject = natsMsg_GetSubject(m),
			.data = natsMsg_GetData(m),
			.len = (size_t) natsMsg_GetDataLength(m) };
		fn(arg, &e);
		natsMsg_Destroy(m);
		n++;
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return n;
}
