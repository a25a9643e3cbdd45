/*
 * cluster: a write call's entry cut into the parts cluster mode publishes,
 * and their replies folded back into the call's (calls/cluster.h).
 *
 * Why per customer: every node applies every part in stream order, and a
 * ForgetCustomer purges the subjects of the customer and of its anonymous
 * ids, so a part must hold nothing about anyone else. Within a customer,
 * the touchpoints keep their call order; across customers, the parts of
 * one Track follow the order in which each customer first appears in it.
 *
 * A Track part's index map (struct cluster_part) takes a touchpoint of the
 * part back to its index in the request: the entry holds only the
 * touchpoints prepare found valid, so the invalid ones (the reply's
 * rejected list at split time) are skipped when counting.
 */
#include "calls/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calls/calls.h"
#include "calls/replay.h"
#include "calls/reply.h"

/* What the parts of one Track share: the call's reply being folded. */
struct cluster_track {
	Clm__V1__Response *resp;
	Clm__V1__TrackReply *reply;
	/* The touchpoints prepare rejected, in index order. */
	Clm__V1__ItemError **invalid;
	size_t n_invalid;
	struct cluster_part **parts; /* in part order */
	size_t n_parts, n_merged;
};

/* One part of a Track (writer_part.ctx) and what it came to. */
struct cluster_part {
	struct cluster_track *t;
	const uint32_t *index; /* touchpoint i of the part -> request index */
	size_t n;
	bool merged;
	clm_err err; /* CLM_OK, or why the stream did not take it */
	uint32_t accepted, duplicates;
	Clm__V1__ItemError **rejected; /* at request indexes */
	size_t n_rejected;
	Clm__V1__LifecycleEvent **changes;
	size_t n_changes;
};

/* ---------------------------------------------------------------------- */
/* Message ids                                                            */

/*
 * A 128-bit hash of a part's type and event ids, for its Nats-Msg-Id: two
 * lanes of 64-bit multiply-xorshift over the bytes, each id preceded by
 * its length so that ("ab", "c") and ("a", "bc") differ. It is not keyed:
 * a Msg-Id only needs to be the same for the same event ids, and what
 * decides a duplicate on apply is still the view's own event_id index.
 */
struct cluster_hash {
	uint64_t a, b;
};

static void
cluster_hash_bytes(struct cluster_hash *h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		h->a = (h->a ^ p[i]) * 0x100000001b3ULL;
		h->a ^= h->a >> 29;
		h->b = (h->b ^ p[i]) * 0x9e3779b97f4a7c15ULL;
		h->b ^= h->b >> 31;
	}
}

static void
cluster_hash_u32(struct cluster_hash *h, uint32_t v)
{
	unsigned char le[4] = { (unsigned char) v, (unsigned char) (v >> 8),
		(unsigned char) (v >> 16), (unsigned char) (v >> 24) };
	cluster_hash_bytes(h, le, sizeof(le));
}

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t
cluster_hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * Writes into out (writer_part.msg_id) "clm-<32 hex digits>" from type and
 * the event ids of tps[0..n), or "" when one of them has none.
 */
static void
cluster_msg_id(
        uint32_t type, Clm__V1__Touchpoint *const *tps, size_t n, char out[48])
{
	out[0] = '\0';
	struct cluster_hash h
	        = { 0xcbf29ce484222325ULL, 0x6a09e667f3bcc908ULL };
	cluster_hash_u32(&h, type);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(tps[i]->event_id);
		if (len == 0) {
			return;
		}
		cluster_hash_u32(&h, (uint32_t) len);
		cluster_hash_bytes(&h, tps[i]->event_id, len);
	}
	uint64_t a = cluster_hash_mix(h.a ^ cluster_hash_mix(h.b));
	uint64_t b = cluster_hash_mix(h.b + a);
	snprintf(out, 48, "clm-%016llx%016llx", (unsigned long long) a,
	        (unsigned long long) b);
}

/* ---------------------------------------------------------------------- */
/* Split                                                                  */

/* The bytes of a protobuf varint holding v. */
static size_t
cluster_varint_len(size_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/*
 * The id a touchpoint's part is about: its customer_id, else 0x01 and its
 * anonymous_id (calls/cluster.h); NULL when memory is exhausted.
 */
static const char *
cluster_tp_key(arena *a, const Clm__V1__Touchpoint *tp)
{
	if (tp->customer_id[0] != '\0') {
		return tp->customer_id;
	}
	return arena_printf(
	        a, "%c%s", CALL_CLUSTER_ANONYMOUS, tp->anonymous_id);
}

/*
 * Packs a Track entry of tps[0..n) after pol, which takes size bytes in
 * all, into a.
 */
static void *
cluster_pack_track(arena *a, const uint8_t *pol, Clm__V1__Touchpoint **tps,
        size_t n, size_t size)
{
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Request q = CLM__V1__REQUEST__INIT;
	tr.touchpoints = tps;
	tr.n_touchpoints = n;
	q.call_case = CLM__V1__REQUEST__CALL_TRACK;
	q.track = &tr;
	uint8_t *buf = arena_alloc(a, size);
	if (buf == NULL) {
		return NULL;
	}
	memcpy(buf, pol, CALL_POLICY_BYTES);
	if (clm__v1__request__pack(&q, buf + CALL_POLICY_BYTES)
	        != size - CALL_POLICY_BYTES) {
		return NULL; /* cluster_split_track's sizes are exact */
	}
	return buf;
}

/*
 * Sets the request index of each touchpoint of the entry (n of them) in
 * index: the entry holds the valid ones, in order, and the invalid ones
 * are listed, in index order, in invalid.
 */
static void
cluster_index_map(uint32_t *index, size_t n,
        Clm__V1__ItemError *const *invalid, size_t n_invalid)
{
	uint32_t at = 0;
	size_t skip = 0;
	for (size_t k = 0; k < n; k++, at++) {
		while (skip < n_invalid && invalid[skip]->index == at) {
			skip++;
			at++;
		}
		index[k] = at;
	}
}

/* A customer of a Track: its touchpoints, linked through next. */
struct cluster_group {
	const char *key;
	size_t first, last, count;
};

static clm_err
cluster_split_track(const struct server *srv, writer_job *job,
        const Clm__V1__Request *q, size_t max_bytes,
        struct writer_part **parts_out, size_t *n_out)
{
	arena *a = job->arena;
	/*
	 * Each part starts with the thresholds this node accepted it under
	 * (CALL_ENTRY_POLICY), which every node then applies it with.
	 */
	struct call_policy pol;
	call_policy_init(&pol, srv);
	uint8_t *packed_pol = arena_alloc(a, CALL_POLICY_BYTES);
	if (packed_pol == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	call_policy_pack(&pol, packed_pol);
	Clm__V1__Touchpoint **tps = q->track->touchpoints;
	size_t n = q->track->n_touchpoints;
	if (n == 0) {
		return CLM_DATA_LOSS; /* track_prepare never writes one */
	}
	struct cluster_track *t = arena_zalloc(a, sizeof(*t));
	uint32_t *index = arena_alloc(a, n * sizeof(*index));
	size_t *next = arena_alloc(a, n * sizeof(*next));
	size_t *size = arena_alloc(a, n * sizeof(*size));
	size_t slots = 16;
	while (slots < 2 * n) {
		slots *= 2;
	}
	size_t *slot = arena_alloc(a, slots * sizeof(*slot));
	struct cluster_group *g = arena_alloc(a, n * sizeof(*g));
	if (t == NULL || index == NULL || next == NULL || size == NULL
	        || slot == NULL || g == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	t->resp = job->resp;
	if (job->resp->result_case == CLM__V1__RESPONSE__RESULT_TRACK
	        && job->resp->track != NULL) {
		t->reply = job->resp->track;
		t->invalid = t->reply->rejected;
		t->n_invalid = t->reply->n_rejected;
	}
	cluster_index_map(index, n, t->invalid, t->n_invalid);

	/*
	 * Group the touchpoints by key, in order of first appearance: an
	 * open-addressing table of group numbers (SIZE_MAX: empty).
	 */
	for (size_t i = 0; i < slots; i++) {
		slot[i] = SIZE_MAX;
	}
	size_t n_groups = 0;
	for (size_t i = 0; i < n; i++) {
		const char *key = cluster_tp_key(a, tps[i]);
		if (key == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		struct cluster_hash h = { 0xcbf29ce484222325ULL, 0 };
		cluster_hash_bytes(&h, key, strlen(key));
		size_t at = (size_t) cluster_hash_mix(h.a) & (slots - 1);
		while (slot[at] != SIZE_MAX
		        && strcmp(g[slot[at]].key, key) != 0) {
			at = (at + 1) & (slots - 1);
		}
		next[i] = SIZE_MAX;
		size[i] = clm__v1__touchpoint__get_packed_size(tps[i]);
		if (slot[at] == SIZE_MAX) {
			slot[at] = n_groups;
			g[n_groups++]
			        = (struct cluster_group) { key, i, i, 1 };
		} else {
			struct cluster_group *gr = &g[slot[at]];
			next[gr->last] = i;
			gr->last = i;
			gr->count++;
		}
	}

	/*
	 * A part's payload is a Request whose track holds its touchpoints:
	 * the Request's tag and length of the track, then each touchpoint's
	 * tag (1 byte: field 1), length and bytes. head is the policy and
	 * the Request with an empty track, less its 1-byte length.
	 */
	Clm__V1__TrackRequest empty = CLM__V1__TRACK_REQUEST__INIT;
	Clm__V1__Request eq = CLM__V1__REQUEST__INIT;
	eq.call_case = CLM__V1__REQUEST__CALL_TRACK;
	eq.track = &empty;
	size_t head = CALL_POLICY_BYTES
	        + clm__v1__request__get_packed_size(&eq) - 1;

	struct writer_part *parts = NULL;
	size_t n_parts = 0, parts_cap = 0;
	Clm__V1__Touchpoint **buf = arena_alloc(a, n * sizeof(*buf));
	uint32_t *ibuf = arena_alloc(a, n * sizeof(*ibuf));
	if (buf == NULL || ibuf == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t used = 0; /* of buf and ibuf: parts point into them */
	for (size_t k = 0; k < n_groups; k++) {
		size_t i = g[k].first;
		while (i != SIZE_MAX) {
			/* One part: as many touchpoints as fit, at least one.
			 */
			size_t start = used, inner = 0;
			while (i != SIZE_MAX) {
				size_t one = 1 + cluster_varint_len(size[i])
				        + size[i];
				size_t total = head
				        + cluster_varint_len(inner + one)
				        + inner + one;
				if (total > max_bytes) {
					if (used == start) {
						return CLM_INVALID_ARGUMENT;
					}
					break;
				}
				inner += one;
				buf[used] = tps[i];
				ibuf[used++] = index[i];
				i = next[i];
			}
			size_t cnt = used - start;
			size_t total
			        = head + cluster_varint_len(inner) + inner;
			struct writer_part *p = arena_grow(
			        a, parts, n_parts, &parts_cap, sizeof(*p));
			struct cluster_part *cp = arena_zalloc(a, sizeof(*cp));
			if (p == NULL || cp == NULL) {
				return CLM_RESOURCE_EXHAUSTED;
			}
			parts = p;
			p = &parts[n_parts++];
			memset(p, 0, sizeof(*p));
			p->type = CLM__V1__REQUEST__CALL_TRACK
			        | CALL_ENTRY_POLICY;
			p->data = cluster_pack_track(
			        a, packed_pol, buf + start, cnt, total);
			if (p->data == NULL) {
				return CLM_RESOURCE_EXHAUSTED;
			}
			p->len = total;
			p->subject = WRITER_SUBJECT_CUSTOMER;
			p->id = g[k].key;
			p->id_len = strlen(g[k].key);
			cluster_msg_id(p->type, buf + start, cnt, p->msg_id);
			cp->t = t;
			cp->index = ibuf + start;
			cp->n = cnt;
			p->ctx = cp;
		}
	}
	t->parts = arena_alloc(a, n_parts * sizeof(*t->parts));
	if (t->parts == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t k = 0; k < n_parts; k++) {
		t->parts[k] = parts[k].ctx;
	}
	t->n_parts = n_parts;
	*parts_out = parts;
	*n_out = n_parts;
	return CLM_OK;
}

static clm_err
cluster_split(void *arg, writer_job *job, size_t max_bytes,
        struct writer_part **parts, size_t *n)
{
	if (job->jtype == CALL_ENTRY_JOURNEY_FIRE) {
		return journey_fire_split(job, max_bytes, parts, n);
	}
	size_t head = job->jtype == CLM__V1__REQUEST__CALL_RECOMMEND
	        ? CALL_POLICY_BYTES
	        : 0;
	if (job->jlen < head) {
		return CLM_DATA_LOSS;
	}
	Clm__V1__Request *q = clm__v1__request__unpack(arena_pb(job->arena),
	        job->jlen - head, (const uint8_t *) job->jdata + head);
	if (q == NULL || (uint32_t) q->call_case != job->jtype) {
		return CLM_DATA_LOSS;
	}
	if (q->call_case == CLM__V1__REQUEST__CALL_TRACK) {
		return cluster_split_track(arg, job, q, max_bytes, parts, n);
	}
	if (job->jlen > max_bytes) {
		return CLM_INVALID_ARGUMENT;
	}
	struct writer_part *p = arena_zalloc(job->arena, sizeof(*p));
	if (p == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	p->type = job->jtype;
	p->data = job->jdata;
	p->len = job->jlen;
	const char *id = NULL;
	switch (q->call_case) {
	case CLM__V1__REQUEST__CALL_IDENTIFY:
		id = q->identify->customer_id;
		break;
	case CLM__V1__REQUEST__CALL_RECOMMEND:
		id = q->recommend->customer_id;
		break;
	case CLM__V1__REQUEST__CALL_ASSIGN:
		id = q->assign->customer_id;
		break;
	case CLM__V1__REQUEST__CALL_FORGET_CUSTOMER:
		p->subject = WRITER_SUBJECT_FORGET;
		break;
	default:
		p->subject = WRITER_SUBJECT_GLOBAL;
		break;
	}
	if (id != NULL) {
		p->subject = WRITER_SUBJECT_CUSTOMER;
		p->id = id;
		p->id_len = strlen(id);
	}
	*parts = p;
	*n = 1;
	return CLM_OK;
}

/* ---------------------------------------------------------------------- */
/* Merge                                                                  */

/*
 * Returns s with a leading "touchpoints[N]" of each violation's field and
 * of the message renumbered to index (the part's own numbering is N), in
 * a; s itself when nothing needs it or memory is exhausted.
 */
static const char *
cluster_renumber(arena *a, const char *text, uint32_t index)
{
	static const char pre[] = "touchpoints[";
	size_t plen = sizeof(pre) - 1;
	if (strncmp(text, pre, plen) != 0) {
		return text;
	}
	const char *close = strchr(text + plen, ']');
	if (close == NULL) {
		return text;
	}
	char *out = arena_printf(a, "touchpoints[%u%s", index, close);
	return out != NULL ? out : text;
}

static Clm__V1__ItemError *
cluster_item_at(arena *a, const Clm__V1__ItemError *ie, uint32_t index)
{
	Clm__V1__ItemError *out = arena_alloc(a, sizeof(*out));
	Clm__V1__Status *st = arena_alloc(a, sizeof(*st));
	if (out == NULL || st == NULL) {
		return NULL;
	}
	clm__v1__item_error__init(out);
	out->index = index;
	out->status = st;
	if (ie->status == NULL) {
		clm__v1__status__init(st);
		return out;
	}
	*st = *ie->status;
	st->message = (char *) cluster_renumber(a, st->message, index);
	st->violations = arena_alloc(
	        a, (st->n_violations + 1) * sizeof(*st->violations));
	if (st->violations == NULL) {
		return NULL;
	}
	for (size_t j = 0; j < st->n_violations; j++) {
		Clm__V1__FieldViolation *fv = arena_alloc(a, sizeof(*fv));
		if (fv == NULL) {
			return NULL;
		}
		*fv = *ie->status->violations[j];
		fv->field = (char *) cluster_renumber(a, fv->field, index);
		st->violations[j] = fv;
	}
	return out;
}

/* Notes each touchpoint of p as not taken by the stream (err). */
static void
cluster_part_failed(arena *a, struct cluster_part *p, clm_err err)
{
	p->rejected = arena_alloc(a, p->n * sizeof(*p->rejected));
	if (p->rejected == NULL) {
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		char field[48];
		snprintf(field, sizeof(field), "touchpoints[%u]", p->index[i]);
		Clm__V1__ItemError *ie = arena_alloc(a, sizeof(*ie));
		if (ie == NULL) {
			return;
		}
		clm__v1__item_error__init(ie);
		ie->index = p->index[i];
		ie->status = reply_field_status(a, err, field,
		        "not acknowledged by the stream (%s): retry it",
		        clm_strerror(err));
		p->rejected[p->n_rejected++] = ie;
	}
}

/* Notes what the applied part of a Track came to, at request indexes. */
static void
cluster_part_applied(
        arena *a, struct cluster_part *p, const Clm__V1__TrackReply *r)
{
	p->accepted = r->accepted;
	p->duplicates = r->duplicates;
	p->changes = r->changes;
	p->n_changes = r->n_changes;
	if (r->n_rejected == 0) {
		return;
	}
	p->rejected = arena_alloc(a, r->n_rejected * sizeof(*p->rejected));
	if (p->rejected == NULL) {
		return;
	}
	for (size_t k = 0; k < r->n_rejected; k++) {
		uint32_t i = r->rejected[k]->index;
		if (i >= p->n) {
			continue; /* not one of the part's: cannot be */
		}
		Clm__V1__ItemError *ie
		        = cluster_item_at(a, r->rejected[k], p->index[i]);
		if (ie == NULL) {
			return;
		}
		p->rejected[p->n_rejected++] = ie;
	}
}

static int
cluster_item_cmp(const void *x, const void *y)
{
	uint32_t a = (*(Clm__V1__ItemError *const *) x)->index;
	uint32_t b = (*(Clm__V1__ItemError *const *) y)->index;
	return a < b ? -1 : a > b;
}

/*
 * Builds the Track's reply from prepare's rejections and every part:
 * once all of them are merged.
 */
static void
cluster_track_reply(arena *a, struct cluster_track *t)
{
	Clm__V1__TrackReply *reply = t->reply;
	size_t n_rej = t->n_invalid, n_ch = 0;
	uint32_t accepted = 0, duplicates = 0;
	clm_err failed = CLM_OK;
	for (size_t k = 0; k < t->n_parts; k++) {
		const struct cluster_part *p = t->parts[k];
		n_rej += p->n_rejected;
		n_ch += p->n_changes;
		accepted += p->accepted;
		duplicates += p->duplicates;
		if (p->err != CLM_OK) {
			failed = p->err;
		}
	}
	reply->accepted = accepted;
	reply->duplicates = duplicates;
	Clm__V1__ItemError **rej = arena_alloc(a, (n_rej + 1) * sizeof(*rej));
	Clm__V1__LifecycleEvent **ch
	        = arena_alloc(a, (n_ch + 1) * sizeof(*ch));
	if (rej == NULL || ch == NULL) {
		t->resp->status = reply_status(
		        a, CLM_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	size_t r = 0, c = 0;
	for (size_t k = 0; k < t->n_invalid; k++) {
		rej[r++] = t->invalid[k];
	}
	for (size_t k = 0; k < t->n_parts; k++) {
		const struct cluster_part *p = t->parts[k];
		for (size_t j = 0; j < p->n_rejected; j++) {
			rej[r++] = p->rejected[j];
		}
		for (size_t j = 0; j < p->n_changes; j++) {
			ch[c++] = p->changes[j];
		}
	}
	qsort(rej, r, sizeof(*rej), cluster_item_cmp);
	reply->rejected = rej;
	reply->n_rejected = r;
	reply->changes = ch;
	reply->n_changes = c;
	t->resp->status = NULL;
	if (accepted > 0 || duplicates > 0 || r == 0) {
		return;
	}
	/*
	 * Nothing was taken: the parts' error when one failed (retry the
	 * call), else the status a single node gives a Track whose every
	 * touchpoint was rejected.
	 */
	track_rejected_status(t->resp, a,
	        failed != CLM_OK           ? failed
	                : t->n_invalid > 0 ? CLM_INVALID_ARGUMENT
	                                   : CLM_FAILED_PRECONDITION);
}

static void
cluster_merge_track(writer_job *job, const struct writer_part *part,
        clm_err err, const Clm__V1__Response *applied)
{
	struct cluster_part *p = part->ctx;
	struct cluster_track *t = p->t;
	arena *a = job->arena;
	p->err = err;
	p->accepted = p->duplicates = 0;
	p->rejected = NULL;
	p->n_rejected = 0;
	p->changes = NULL;
	p->n_changes = 0;
	if (err != CLM_OK) {
		cluster_part_failed(a, p, err);
	} else if (applied == NULL) {
		p->duplicates = (uint32_t) p->n;
	} else if (applied->result_case == CLM__V1__RESPONSE__RESULT_TRACK
	        && applied->track != NULL) {
		cluster_part_applied(a, p, applied->track);
	} else {
		/* The part's job failed as a whole: its status says why. */
		p->err = applied->status != NULL
		        ? (clm_err) applied->status->code
		        : CLM_INTERNAL;
		cluster_part_failed(a, p, p->err);
	}
	if (!p->merged) {
		p->merged = true;
		t->n_merged++;
	}
	if (t->reply == NULL) {
		return; /* a Track job without its reply: none to fold into */
	}
	if (t->n_merged == t->n_parts) {
		cluster_track_reply(a, t);
	} else {
		/* Until the last part, the counts so far. */
		t->reply->accepted += p->accepted;
		t->reply->duplicates += p->duplicates;
	}
}

static void
cluster_merge(void *arg, writer_job *job, const struct writer_part *part,
        clm_err err, const Clm__V1__Response *applied)
{
	(void) arg;
	if (part->type == CALL_ENTRY_JOURNEY_FIRE) {
		return; /* the writer's own job: no client, no reply */
	}
	if ((part->type & ~CALL_ENTRY_POLICY) == CLM__V1__REQUEST__CALL_TRACK
	        && part->ctx != NULL) {
		cluster_merge_track(job, part, err, applied);
		return;
	}
	Clm__V1__Response *resp = job->resp;
	if (err != CLM_OK) {
		resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
		reply_error(resp, job->arena, err,
		        "not acknowledged by the stream (%s): retry it",
		        clm_strerror(err));
		return;
	}
	if (applied == NULL) {
		/*
		 * Only a Track's parts have a Msg-Id, so the stream cannot
		 * have held this one already; the prepared reply stands.
		 */
		return;
	}
	/* The applied reply lives in job->arena, as resp does. */
	resp->status = applied->status;
	resp->result_case = applied->result_case;
	switch (applied->result_case) {
	case CLM__V1__RESPONSE__RESULT_TRACK:
		resp->track = applied->track;
		break;
	case CLM__V1__RESPONSE__RESULT_RECOMMEND:
		resp->recommend = applied->recommend;
		break;
	case CLM__V1__RESPONSE__RESULT_PUT_CATALOG:
		resp->put_catalog = applied->put_catalog;
		break;
	case CLM__V1__RESPONSE__RESULT_RECORD_SPEND:
		resp->record_spend = applied->record_spend;
		break;
	case CLM__V1__RESPONSE__RESULT_IDENTIFY:
		resp->identify = applied->identify;
		break;
	case CLM__V1__RESPONSE__RESULT_DEFINE_EXPERIMENT:
		resp->define_experiment = applied->define_experiment;
		break;
	case CLM__V1__RESPONSE__RESULT_ASSIGN:
		resp->assign = applied->assign;
		break;
	case CLM__V1__RESPONSE__RESULT_FORGET_CUSTOMER:
		resp->forget_customer = applied->forget_customer;
		break;
	case CLM__V1__RESPONSE__RESULT_DEFINE_SEGMENT:
		resp->define_segment = applied->define_segment;
		break;
	case CLM__V1__RESPONSE__RESULT_DELETE_SEGMENT:
		resp->delete_segment = applied->delete_segment;
		break;
	case CLM__V1__RESPONSE__RESULT_DEFINE_JOURNEY:
		resp->define_journey = applied->define_journey;
		break;
	case CLM__V1__RESPONSE__RESULT_DELETE_JOURNEY:
		resp->delete_journey = applied->delete_journey;
		break;
	default:
		resp->result_case = CLM__V1__RESPONSE__RESULT__NOT_SET;
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* Forget                                                                 */

static clm_err
cluster_forget_ids(void *arg, store_txn *txn, const writer_job *job, arena *a,
        const char ***ids_out, size_t **lens_out, size_t *n_out)
{
	(void) arg;
	const char *cid = forget_job_customer(job);
	if (cid == NULL) {
		return CLM_INVALID_ARGUMENT; /* not a ForgetCustomer job */
	}
	Clm__V1__CustomerRecord *rec = NULL;
	clm_err e = store_customer_get(txn, cid, false, a, &rec);
	if (e != CLM_OK && e != CLM_NOT_FOUND) {
		return e;
	}
	size_t cap = 1 + (rec != NULL ? rec->n_anonymous_ids : 0);
	const char **ids = arena_alloc(a, cap * sizeof(*ids));
	size_t *lens = arena_alloc(a, cap * sizeof(*lens));
	if (ids == NULL || lens == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	size_t n = 0;
	ids[n] = cid;
	lens[n++] = strlen(cid);
	/* Each anonymous id once: the record lists each once already. */
	for (size_t i = 0; rec != NULL && i < rec->n_anonymous_ids; i++) {
		char *id = arena_printf(a, "%c%s", CALL_CLUSTER_ANONYMOUS,
		        rec->anonymous_ids[i]);
		if (id == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		bool seen = false;
		for (size_t k = 1; k < n && !seen; k++) {
			seen = strcmp(ids[k], id) == 0;
		}
		if (!seen) {
			ids[n] = id;
			lens[n++] = strlen(id);
		}
	}
	*ids_out = ids;
	*lens_out = lens;
	*n_out = n;
	return CLM_OK;
}

const uint32_t *
call_cluster_index(const struct writer_part *p, size_t *n)
{
	const struct cluster_part *cp = p->ctx;
	if ((p->type & ~CALL_ENTRY_POLICY) != CLM__V1__REQUEST__CALL_TRACK
	        || cp == NULL) {
		*n = 0;
		return NULL;
	}
	*n = cp->n;
	return cp->index;
}

void
call_cluster_settings(const struct server *srv, char out[33])
{
	/* Only the thresholds: a claim's own policy is in its entry. */
	struct call_policy pol;
	memset(&pol, 0, sizeof(pol));
	pol.params = srv->params;
	uint8_t packed[CALL_POLICY_BYTES];
	call_policy_pack(&pol, packed);
	struct cluster_hash h
	        = { 0xcbf29ce484222325ULL, 0x6a09e667f3bcc908ULL };
	cluster_hash_bytes(&h, packed, sizeof(packed));
	uint64_t a = cluster_hash_mix(h.a ^ cluster_hash_mix(h.b));
	uint64_t b = cluster_hash_mix(h.b + a);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long) a,
	        (unsigned long long) b);
}

const struct writer_cluster_ops call_cluster_ops = {
	.split = cluster_split,
	.merge = cluster_merge,
	.forget_ids = cluster_forget_ids,
};
