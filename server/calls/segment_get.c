/*
 * GetSegment and ListSegments (docs/segments.md), reads: at now, the
 * maintained count and members corrected with the due customers (see
 * segment.c); at another instant, a scan of every customer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/customer.h"
#include "calls/reply.h"
#include "calls/segment_internal.h"
#include "store/segment.h"
#include "util/clock.h"

/* A page token: the last customer id a page covered, in hex. */
static char *
seg_token(arena *a, const char *id)
{
	size_t n = strlen(id);
	char *t = arena_alloc(a, 2 * n + 1);
	if (t == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(t + 2 * i, 3, "%02x", (unsigned char) id[i]);
	}
	t[2 * n] = '\0';
	return t;
}

static int
seg_hex(char c)
{
	return c >= '0' && c <= '9'    ? c - '0'
	        : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                               : -1;
}

/* The id of token t (arena memory), or NULL when t is not one of ours. */
static char *
seg_untoken(arena *a, const char *t, size_t max_id)
{
	size_t n = strlen(t);
	if (n == 0 || n % 2 != 0 || n / 2 > max_id) {
		return NULL;
	}
	char *id = arena_alloc(a, n / 2 + 1);
	if (id == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < n / 2; i++) {
		int hi = seg_hex(t[2 * i]), lo = seg_hex(t[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			return NULL;
		}
		id[i] = (char) (hi << 4 | lo);
	}
	id[n / 2] = '\0';
	return id;
}

/* Members of a page, in arena memory. */
struct seg_page {
	arena *a;
	char **ids;
	size_t n, cap, max;
	bool oom;
};

static int
seg_page_add(struct seg_page *pg, const char *id)
{
	char **v = arena_grow(pg->a, pg->ids, pg->n, &pg->cap, sizeof(*v));
	char *copy = arena_strdup(pg->a, id);
	if (v == NULL || copy == NULL) {
		pg->oom = true;
		return 1;
	}
	pg->ids = v;
	pg->ids[pg->n++] = copy;
	return pg->n == pg->max;
}

static int
seg_page_fn(void *arg, const char *id)
{
	return seg_page_add(arg, id);
}

/*
 * The page of members at now after `after`: the maintained members merged
 * with the due customers' corrections (fix, by id). *more: a next page
 * may hold members.
 */
static clm_err
seg_page_now(store_txn *txn, const struct seg_prog *p, const char *after,
        size_t size, const struct seg_fix *fix, size_t nfix,
        struct seg_page *out, bool *more)
{
	struct seg_page raw = { .a = out->a, .max = size + nfix + 1 };
	clm_err e = store_members_after(
	        txn, p->rec->id, after, raw.max, seg_page_fn, &raw);
	if (e == CLM_OK && raw.oom) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e != CLM_OK) {
		return e;
	}
	bool raw_full = raw.n == raw.max;
	size_t i = 0, k = 0;
	while (k < nfix && after != NULL && strcmp(fix[k].id, after) <= 0) {
		k++;
	}
	out->max = 0; /* no limit: counted here */
	while (out->n < size && (i < raw.n || k < nfix)) {
		int c = i == raw.n  ? 1
		        : k == nfix ? -1
		                    : strcmp(raw.ids[i], fix[k].id);
		const char *id = NULL;
		if (c < 0) {
			id = raw.ids[i++];
		} else if (c > 0) {
			id = fix[k].member ? fix[k].id : NULL;
			k++;
		} else {
			id = fix[k].member ? raw.ids[i] : NULL;
			i++;
			k++;
		}
		if (id != NULL && seg_page_add(out, id) != 0 && out->oom) {
			return CLM_RESOURCE_EXHAUSTED;
		}
	}
	*more = out->n == size && (i < raw.n || k < nfix || raw_full);
	return CLM_OK;
}

struct seg_scan {
	store_txn *txn;
	const struct seg_prog *p;
	int64_t at_ms;
	const struct model_params *mp;
	arena *a;
	char **ids; /* a chunk of customer ids */
	size_t n;
	clm_err err;
	int64_t deadline_ns; /* clock_mono_ns() */
};

static int
seg_scan_fn(void *arg, const char *id, bool anonymous)
{
	struct seg_scan *s = arg;
	if (!anonymous) {
		s->ids[s->n] = arena_strdup(s->a, id);
		if (s->ids[s->n] == NULL) {
			s->err = CLM_RESOURCE_EXHAUSTED;
			return 1;
		}
		s->n++;
	}
	return 0;
}

#define SEG_SCAN_CHUNK 1024

/*
 * At another instant than now: every customer evaluated at at_ms, for
 * the count; the members after `after` go to the page.
 */
static clm_err
seg_scan(struct seg_scan *s, const char *after, size_t size,
        struct seg_page *pg, uint64_t *count, bool *more)
{
	arena tmp;
	arena_init(&tmp);
	char *ids[SEG_SCAN_CHUNK];
	char last[SEG_ID_MAX + 1] = "\x02"; /* before every known id */
	*count = 0;
	*more = false;
	clm_err e = CLM_OK;
	for (;;) {
		arena_reset(&tmp);
		s->a = &tmp;
		s->ids = ids;
		s->n = 0;
		e = store_customers_after(
		        s->txn, last, false, SEG_SCAN_CHUNK, seg_scan_fn, s);
		if (e == CLM_OK) {
			e = s->err;
		}
		for (size_t i = 0; i < s->n && e == CLM_OK; i++) {
			Clm__V1__CustomerRecord *rec;
			bool member = false;
			e = store_customer_get(
			        s->txn, ids[i], false, &tmp, &rec);
			if (e == CLM_OK) {
				e = seg_member_at(s->txn, s->p, rec, s->at_ms,
				        s->mp, &tmp, &member);
			}
			if (e != CLM_OK || !member) {
				continue;
			}
			(*count)++;
			if (pg == NULL
			        || (after != NULL
			                && strcmp(ids[i], after) <= 0)) {
				continue;
			}
			if (pg->n == size) {
				*more = true;
			} else if (seg_page_add(pg, ids[i]) != 0 && pg->oom) {
				e = CLM_RESOURCE_EXHAUSTED;
			}
		}
		if (e != CLM_OK || s->n == 0) {
			break;
		}
		if (clock_mono_ns() > s->deadline_ns) {
			e = CLM_DEADLINE_EXCEEDED;
			break;
		}
		snprintf(last, sizeof(last), "%s", ids[s->n - 1]);
	}
	arena_fini(&tmp);
	return e;
}

/* Each member's Customer at at_ms, for include_customers. */
static clm_err
seg_customers(store_txn *txn, const struct seg_page *pg, int64_t at_ms,
        const struct model_params *mp, arena *a,
        Clm__V1__GetSegmentReply *reply)
{
	reply->customers = arena_alloc(a, (pg->n + 1) * sizeof(void *));
	if (reply->customers == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < pg->n; i++) {
		Clm__V1__CustomerRecord *rec;
		clm_err e
		        = store_customer_get(txn, pg->ids[i], false, a, &rec);
		if (e == CLM_OK) {
			e = customer_view(
			        txn, rec, at_ms, mp, a, &reply->customers[i]);
		}
		if (e != CLM_OK) {
			return e;
		}
		reply->n_customers++;
	}
	return CLM_OK;
}

static clm_err
seg_get_in(struct call_req *r, store_txn *txn, const struct seg_prog *p,
        const char *after, size_t size, int64_t at_ms, bool now,
        Clm__V1__GetSegmentReply *reply)
{
	const Clm__V1__GetSegmentRequest *q = r->req->get_segment;
	const struct model_params *mp = &r->srv->params;
	arena *a = r->a;
	struct seg_page pg = { .a = a };
	bool more = false;
	clm_err e;
	if (now) {
		struct seg_due d;
		struct seg_fix *fix = NULL;
		size_t nfix = 0;
		e = seg_due_load(txn, at_ms, a, &d);
		if (e == CLM_OK) {
			e = seg_fixes(txn, p, &d, at_ms, mp, a, &fix, &nfix);
		}
		if (e == CLM_OK) {
			e = seg_message(txn, p, fix, nfix, a, &reply->segment);
		}
		if (e == CLM_OK && q->members) {
			e = seg_page_now(
			        txn, p, after, size, fix, nfix, &pg, &more);
		}
	} else {
		uint32_t ms = r->req->deadline_ms ? r->req->deadline_ms
		                                  : SEG_SCAN_MS;
		struct seg_scan sc = { .txn = txn,
			.p = p,
			.at_ms = at_ms,
			.mp = mp,
			.deadline_ns
			= r->arrived_ns + (int64_t) ms * 1000000 };
		uint64_t count;
		e = seg_message(txn, p, NULL, 0, a, &reply->segment);
		if (e == CLM_OK) {
			e = seg_scan(&sc, after, size, q->members ? &pg : NULL,
			        &count, &more);
		}
		if (e == CLM_OK) {
			reply->segment->count = count;
		}
	}
	if (e == CLM_OK && q->members) {
		reply->members = pg.ids;
		reply->n_members = pg.n;
		if (more && pg.n > 0) {
			reply->next_page_token
			        = seg_token(a, pg.ids[pg.n - 1]);
			e = reply->next_page_token ? CLM_OK
			                           : CLM_RESOURCE_EXHAUSTED;
		}
	}
	if (e == CLM_OK && q->members && q->include_customers) {
		e = seg_customers(txn, &pg, at_ms, mp, a, reply);
	}
	return e;
}

void
seg_get(struct call_req *r, store_txn *txn)
{
	const Clm__V1__GetSegmentRequest *q = r->req->get_segment;
	arena *a = r->a;
	if (!seg_name_check(r, "get_segment.name", q->name)) {
		return;
	}
	if (q->page_size > SEG_PAGE_MAX) {
		reply_invalid(r->resp, a, "get_segment.page_size",
		        "must be at most %d (0 means %d)", SEG_PAGE_MAX,
		        SEG_PAGE_DEFAULT);
		return;
	}
	if (q->as_of_ms < 0) {
		reply_invalid(r->resp, a, "get_segment.as_of_ms",
		        "must not be negative (0 means now)");
		return;
	}
	const char *after = NULL;
	if (q->page_token[0] != '\0') {
		after = seg_untoken(a, q->page_token, SEG_ID_MAX);
		if (after == NULL) {
			reply_invalid(r->resp, a, "get_segment.page_token",
			        "is not a token this call returned");
			return;
		}
	}
	size_t size = q->page_size == 0 ? SEG_PAGE_DEFAULT : q->page_size;
	bool now = q->as_of_ms == 0 || q->as_of_ms == r->now_ms;
	int64_t at_ms = q->as_of_ms == 0 ? r->now_ms : q->as_of_ms;
	struct seg_prog p = { 0 };
	Clm__V1__SegmentRecord *rec;
	clm_err e = store_segment_get(txn, q->name, a, &rec);
	if (e == CLM_NOT_FOUND) {
		reply_error(r->resp, a, CLM_NOT_FOUND,
		        "segment '%s' not found", q->name);
		return;
	}
	if (e == CLM_OK) {
		e = seg_compile(rec, &p);
	}
	Clm__V1__GetSegmentReply *reply = arena_alloc(a, sizeof(*reply));
	if (e == CLM_OK && reply == NULL) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		clm__v1__get_segment_reply__init(reply);
		reply->as_of_ms = at_ms;
		e = seg_get_in(r, txn, &p, after, size, at_ms, now, reply);
	}
	segx_free(p.x);
	if (e == CLM_DEADLINE_EXCEEDED) {
		reply_error(r->resp, a, e,
		        "segment '%s' at %lld: the scan of every customer did not end within %u ms; give a longer deadline_ms",
		        q->name, (long long) at_ms,
		        r->req->deadline_ms ? r->req->deadline_ms
		                            : SEG_SCAN_MS);
		return;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot read segment '%s': %s",
		        q->name, clm_strerror(e));
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_GET_SEGMENT;
	r->resp->get_segment = reply;
}

void
seg_list(struct call_req *r, store_txn *txn)
{
	arena *a = r->a;
	Clm__V1__SegmentRecord **defs = NULL;
	size_t nd = 0;
	struct seg_due d;
	clm_err e = seg_all(txn, a, &defs, &nd);
	if (e == CLM_OK && nd > 0) {
		e = seg_due_load(txn, r->now_ms, a, &d);
	}
	Clm__V1__ListSegmentsReply *reply = arena_alloc(a, sizeof(*reply));
	void **v = arena_alloc(a, (nd + 1) * sizeof(*v));
	if (e == CLM_OK && (reply == NULL || v == NULL)) {
		e = CLM_RESOURCE_EXHAUSTED;
	}
	if (e == CLM_OK) {
		clm__v1__list_segments_reply__init(reply);
		reply->segments = (Clm__V1__Segment **) v;
	}
	for (size_t i = 0; i < nd && e == CLM_OK; i++) {
		struct seg_prog p;
		struct seg_fix *fix = NULL;
		size_t nfix = 0;
		e = seg_compile(defs[i], &p);
		if (e == CLM_OK) {
			e = seg_fixes(txn, &p, &d, r->now_ms, &r->srv->params,
			        a, &fix, &nfix);
		}
		if (e == CLM_OK) {
			e = seg_message(txn, &p, fix, nfix, a,
			        &reply->segments[reply->n_segments]);
		}
		segx_free(p.x);
		reply->n_segments += e == CLM_OK;
	}
	if (e != CLM_OK) {
		reply_error(r->resp, a, e, "cannot list segments: %s",
		        clm_strerror(e));
		return;
	}
	r->resp->result_case = CLM__V1__RESPONSE__RESULT_LIST_SEGMENTS;
	r->resp->list_segments = reply;
}
