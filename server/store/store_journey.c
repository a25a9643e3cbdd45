/*
 * Journeys in LMDB (store/journey.h): definitions, timers, counters, the
 * feed of messages with its per-customer index, and webhook deliveries.
 *
 * Every cursor here merges the overlay and the base (store_kv.c), and must
 * not see the overlay change under it: the functions that delete what they
 * scan collect the keys first and delete them after, as store_defs.c's
 * store_def_keys_drop does.
 */
#include "store/journey.h"
#include "store/store_internal.h"

#include <string.h>

#include "util/log.h"

/* The largest due key's customer id: instant (8) and journey id (4). */
#define STORE_JDUE_ID_MAX (STORE_KEY_MAX - 12)
/* A customer index key: id, 0, position (8). */
#define STORE_JCUST_ID_MAX (STORE_KEY_MAX - 9)

/*
 * An instant as an order-preserving key: the sign bit flipped, so that
 * negative instants (before 1970) sort before positive ones.
 */
static uint64_t
store_jny_instant_key(int64_t ms)
{
	return (uint64_t) ms ^ ((uint64_t) 1 << 63);
}

static int64_t
store_jny_key_instant(uint64_t k)
{
	return (int64_t) (k ^ ((uint64_t) 1 << 63));
}

clm_err
store_journey_get(
        store_txn *t, const char *name, arena *a, Clm__V1__JourneyRecord **out)
{
	void *m;
	clm_err e = store_get_msg(t, STORE_DB_JOURNEYS, name,
	        &clm__v1__journey_record__descriptor, a, "journey", &m);
	if (e == CLM_OK) {
		*out = m;
	}
	return e;
}

clm_err
store_journey_put(store_txn *t, const Clm__V1__JourneyRecord *rec)
{
	size_t n = strlen(rec->name);
	if (n == 0 || n > STORE_KEY_MAX) {
		return CLM_INVALID_ARGUMENT;
	}
	MDB_val k = { n, rec->name };
	return store_put_msg(t, STORE_DB_JOURNEYS, &k,
	        (const ProtobufCMessage *) rec, "cannot write journey");
}

clm_err
store_journey_del(store_txn *t, const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > STORE_KEY_MAX) {
		return CLM_NOT_FOUND;
	}
	MDB_val k = { n, (void *) name };
	return store_err(t->s, kv_del(t, STORE_DB_JOURNEYS, &k),
	        "cannot delete journey");
}

struct store_each_journey {
	store_journey_fn fn;
	void *arg;
};

static int
store_each_journey_fn(void *arg, void *msg)
{
	struct store_each_journey *x = arg;
	return x->fn(x->arg, msg);
}

clm_err
store_journeys_each(store_txn *t, arena *a, store_journey_fn fn, void *arg)
{
	struct store_each_journey x = { fn, arg };
	return store_each_msg(t, STORE_DB_JOURNEYS,
	        &clm__v1__journey_record__descriptor, a, "journey",
	        store_each_journey_fn, &x);
}

clm_err
store_journey_new_id(store_txn *t, uint32_t *id)
{
	return store_def_new_id(t, "jny_next_id", id);
}

/* A timer's key; 0 when the id is too long to be one. */
static size_t
store_jdue_key(
        unsigned char *buf, int64_t due_ms, uint32_t journey, const char *id)
{
	size_t n = strlen(id);
	if (n > STORE_JDUE_ID_MAX) {
		return 0;
	}
	store_u64_be(buf, store_jny_instant_key(due_ms));
	store_u32_be(buf + 8, journey);
	memcpy(buf + 12, id, n);
	return 12 + n;
}

clm_err
store_jdue_put(store_txn *t, int64_t due_ms, uint32_t journey, const char *id)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_jdue_key(key, due_ms, journey, id), key };
	MDB_val v = { 0, "" };
	if (k.mv_size == 0) {
		return CLM_INVALID_ARGUMENT;
	}
	return store_err(t->s, kv_put(t, STORE_DB_JNY_DUE, &k, &v, 0),
	        "cannot write a journey timer");
}

clm_err
store_jdue_del(store_txn *t, int64_t due_ms, uint32_t journey, const char *id)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_jdue_key(key, due_ms, journey, id), key };
	if (k.mv_size == 0) {
		return CLM_OK;
	}
	int rc = kv_del(t, STORE_DB_JNY_DUE, &k);
	return store_err(t->s, rc == MDB_NOTFOUND ? 0 : rc,
	        "cannot delete a journey timer");
}

clm_err
store_jdue_each(
        store_txn *t, int64_t upto_ms, size_t max, store_jdue_fn fn, void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_DUE, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	char id[STORE_KEY_MAX + 1];
	size_t seen = 0;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && seen < max;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *p = k.mv_data;
		if (k.mv_size < 12) {
			continue;
		}
		int64_t due = store_jny_key_instant(store_be_u64(p));
		if (due > upto_ms) {
			break;
		}
		memcpy(id, p + 12, k.mv_size - 12);
		id[k.mv_size - 12] = '\0';
		seen++;
		if (fn(arg, due, store_be_u32(p + 8), id) != 0) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan the journey timers");
	}
	return CLM_OK;
}

clm_err
store_jdue_first(store_txn *t, int64_t *due_ms, bool *found)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_DUE, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	bool got = false;
	int64_t due = 0;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size >= 12) {
			due = store_jny_key_instant(store_be_u64(k.mv_data));
			got = true;
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan the journey timers");
	}
	*found = got;
	if (got) {
		*due_ms = due;
	}
	return CLM_OK;
}

/* A counter's key: journey (4), counter (1), step (2). */
static void
store_jstat_key(
        unsigned char *p, uint32_t journey, enum store_jstat s, uint32_t step)
{
	store_u32_be(p, journey);
	p[4] = (unsigned char) s;
	p[5] = (unsigned char) (step >> 8);
	p[6] = (unsigned char) step;
}

static uint64_t
store_jstat_le(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--) {
		v = v << 8 | p[i];
	}
	return v;
}

clm_err
store_jstat_add(store_txn *t, uint32_t journey, enum store_jstat s,
        uint32_t step, int64_t delta)
{
	if (step > 0xffff) {
		return CLM_INVALID_ARGUMENT;
	}
	if (delta == 0) {
		return CLM_OK;
	}
	unsigned char key[7], val[8];
	store_jstat_key(key, journey, s, step);
	MDB_val k = { sizeof(key), key }, v;
	uint64_t n = 0;
	int rc = kv_get(t, STORE_DB_JNY_STATS, &k, &v);
	if (rc == 0 && v.mv_size == 8) {
		n = store_jstat_le(v.mv_data);
	} else if (rc == 0) {
		log_error("journey %u's counter %d has %zu bytes, expected 8",
		        (unsigned) journey, (int) s, v.mv_size);
		return CLM_DATA_LOSS;
	} else if (rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot read a journey counter");
	}
	if (delta < 0) {
		uint64_t d = (uint64_t) - (delta + 1) + 1; /* no overflow */
		n = d >= n ? 0 : n - d;
	} else {
		n += (uint64_t) delta;
	}
	if (n == 0) {
		rc = kv_del(t, STORE_DB_JNY_STATS, &k);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	} else {
		for (int i = 0; i < 8; i++) {
			val[i] = (unsigned char) (n >> (8 * i));
		}
		v = (MDB_val) { 8, val };
		rc = kv_put(t, STORE_DB_JNY_STATS, &k, &v, 0);
	}
	return store_err(t->s, rc, "cannot write a journey counter");
}

/* Adds counter s's value n into st (and its step's entry). */
static void
store_jstat_set(Clm__V1__JourneyStats *st, enum store_jstat s, uint32_t step,
        uint64_t n)
{
	Clm__V1__JourneyStepStats *ss
	        = step < st->n_steps ? st->steps[step] : NULL;
	switch (s) {
	case STORE_JSTAT_ENTERED:
		st->entered = n;
		break;
	case STORE_JSTAT_ACTIVE:
		st->active = n;
		break;
	case STORE_JSTAT_EXITED:
		st->exited = n;
		break;
	case STORE_JSTAT_COMPLETED:
		st->completed = n;
		break;
	case STORE_JSTAT_REMOVED:
		st->removed = n;
		break;
	case STORE_JSTAT_HOOK_DELIVERED:
		st->webhook_delivered = n;
		break;
	case STORE_JSTAT_HOOK_PENDING:
		st->webhook_pending = n;
		break;
	case STORE_JSTAT_HOOK_RETRIES:
		st->webhook_retries = n;
		break;
	case STORE_JSTAT_HOOK_DEAD:
		st->webhook_dead = n;
		break;
	case STORE_JSTAT_SENT:
		if (ss != NULL) {
			ss->sent = n;
		}
		break;
	case STORE_JSTAT_SKIPPED_CONDITION:
		if (ss != NULL) {
			ss->skipped_condition = n;
		}
		break;
	case STORE_JSTAT_SKIPPED_CAPPED:
		if (ss != NULL) {
			ss->skipped_capped = n;
		}
		break;
	case STORE_JSTAT_SKIPPED_LATE:
		if (ss != NULL) {
			ss->skipped_late = n;
		}
		break;
	case STORE_JSTAT_WAITING:
		if (ss != NULL) {
			ss->waiting = n;
		}
		break;
	}
}

clm_err
store_jstats_get(store_txn *t, uint32_t journey, size_t n_steps, arena *a,
        Clm__V1__JourneyStats **out)
{
	Clm__V1__JourneyStats *st = arena_alloc(a, sizeof(*st));
	Clm__V1__JourneyStepStats **steps = NULL;
	if (st == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__journey_stats__init(st);
	if (n_steps > 0) {
		steps = arena_alloc(a, n_steps * sizeof(*steps));
		if (steps == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
	}
	for (size_t i = 0; i < n_steps; i++) {
		steps[i] = arena_alloc(a, sizeof(*steps[i]));
		if (steps[i] == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		clm__v1__journey_step_stats__init(steps[i]);
		steps[i]->step = (uint32_t) i;
	}
	st->steps = steps;
	st->n_steps = n_steps;
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_STATS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char start[4];
	store_u32_be(start, journey);
	MDB_val k = { 4, start }, v;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *p = k.mv_data;
		if (k.mv_size != 7 || store_be_u32(p) != journey) {
			break;
		}
		if (v.mv_size != 8) {
			continue;
		}
		store_jstat_set(st, (enum store_jstat) p[4],
		        (uint32_t) p[5] << 8 | p[6],
		        store_jstat_le(v.mv_data));
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan a journey's counters");
	}
	*out = st;
	return CLM_OK;
}

/* A journey's counters: their keys are 7 bytes (store_jstat_key). */
static const struct store_def_keys store_jstat_keys = {
	.db = STORE_DB_JNY_STATS,
	.min_len = 7,
	.max_len = 7,
	.scan_what = "cannot scan a journey's counters",
	.del_what = "cannot delete a journey counter",
};

clm_err
store_jstats_drop(store_txn *t, uint32_t journey, size_t max, bool *left)
{
	return store_def_keys_drop(t, &store_jstat_keys, journey, max, left);
}

/* A customer index key; 0 when the id is too long to be one. */
static size_t
store_jcust_key(unsigned char *buf, const char *id, uint64_t position)
{
	size_t n = strlen(id);
	if (n > STORE_JCUST_ID_MAX) {
		return 0;
	}
	memcpy(buf, id, n);
	buf[n] = 0;
	store_u64_be(buf + n + 1, position);
	return n + 9;
}

clm_err
store_jmsg_append(store_txn *t, Clm__V1__LifecycleEvent *ev)
{
	uint64_t last;
	clm_err e = store_meta_get(t, "jny_msg_pos", &last);
	if (e != CLM_OK) {
		return e;
	}
	unsigned char ckey[STORE_KEY_MAX];
	MDB_val ck
	        = { store_jcust_key(ckey, ev->customer_id, last + 1), ckey };
	if (ck.mv_size == 0) {
		return CLM_INVALID_ARGUMENT;
	}
	uint64_t old = ev->position;
	ev->position = last + 1;
	unsigned char key[8];
	store_u64_be(key, ev->position);
	MDB_val k = { 8, key }, v = { 0, "" };
	e = store_put_msg(t, STORE_DB_JNY_MSGS, &k,
	        (const ProtobufCMessage *) ev,
	        "cannot write a journey message");
	if (e == CLM_OK) {
		e = store_err(t->s,
		        kv_put(t, STORE_DB_JNY_MSG_CUST, &ck, &v, 0),
		        "cannot index a journey message");
	}
	if (e == CLM_OK) {
		e = store_meta_put(t, "jny_msg_pos", ev->position);
	}
	if (e != CLM_OK) {
		ev->position = old;
	}
	return e;
}

/*
 * Decodes v, the value at position of the feed or of the deliveries (a
 * message of desc), into a; NULL, logged as `what`, when it does not.
 */
static void *
store_jny_decode(const ProtobufCMessageDescriptor *desc, const char *what,
        uint64_t position, const MDB_val *v, arena *a)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(
	        desc, arena_pb(a), v->mv_size, v->mv_data);
	if (m == NULL) {
		log_error("%s %llu does not decode", what,
		        (unsigned long long) position);
	}
	return m;
}

/* A feed value (store_jny_decode). */
static Clm__V1__LifecycleEvent *
store_jmsg_decode(uint64_t position, const MDB_val *v, arena *a)
{
	return store_jny_decode(&clm__v1__lifecycle_event__descriptor,
	        "journey message", position, v, a);
}

clm_err
store_jmsg_get(store_txn *t, uint64_t position, arena *a,
        Clm__V1__LifecycleEvent **out)
{
	unsigned char key[8];
	store_u64_be(key, position);
	MDB_val k = { 8, key }, v;
	int rc = kv_get(t, STORE_DB_JNY_MSGS, &k, &v);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read a journey message");
	}
	Clm__V1__LifecycleEvent *ev = store_jmsg_decode(position, &v, a);
	if (ev == NULL) {
		return CLM_DATA_LOSS;
	}
	*out = ev;
	return CLM_OK;
}

clm_err
store_jmsgs_after(store_txn *t, uint64_t after, size_t max, size_t scan_max,
        const char *journey, arena *a, store_jmsg_fn fn, void *arg,
        uint64_t *scanned_to)
{
	*scanned_to = 0;
	if (max == 0 || scan_max == 0 || after == UINT64_MAX) {
		return CLM_OK;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_MSGS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char start[8];
	store_u64_be(start, after + 1);
	MDB_val k = { 8, start }, v;
	size_t got = 0, scanned = 0;
	clm_err e = CLM_OK;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			continue;
		}
		uint64_t pos = store_be_u64(k.mv_data);
		Clm__V1__LifecycleEvent *ev = store_jmsg_decode(pos, &v, a);
		if (ev == NULL) {
			e = CLM_DATA_LOSS;
			break;
		}
		*scanned_to = pos;
		scanned++;
		ev->position = pos;
		bool match
		        = journey == NULL || strcmp(ev->journey, journey) == 0;
		if (match) {
			got++;
			if (fn(arg, ev) != 0) {
				break;
			}
		}
		if (got == max || scanned == scan_max) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		e = store_err(t->s, rc, "cannot scan the journey messages");
	}
	return e;
}

clm_err
store_jmsg_bounds(store_txn *t, uint64_t *oldest, uint64_t *last)
{
	uint64_t l;
	clm_err e = store_meta_get(t, "jny_msg_pos", &l);
	if (e != CLM_OK) {
		return e;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_MSGS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	uint64_t o = 0;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 8) {
			o = store_be_u64(k.mv_data);
			break;
		}
	}
	kv_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot scan the journey messages");
	}
	*oldest = o;
	*last = l;
	return CLM_OK;
}

/* A message to delete: its position, customer and journey name. */
struct store_jgone {
	uint64_t position;
	char *customer_id;
	char *journey;
};

/*
 * Deletes the message at g->position, its index entry and its pending
 * hook; *hook: there was one, of journey *hook_journey.
 */
static clm_err
store_jmsg_delete(store_txn *t, const struct store_jgone *g, bool *hook,
        uint32_t *hook_journey, arena *a)
{
	unsigned char key[8];
	store_u64_be(key, g->position);
	MDB_val k = { 8, key };
	int rc = kv_del(t, STORE_DB_JNY_MSGS, &k);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		return store_err(t->s, rc, "cannot delete a journey message");
	}
	unsigned char ckey[STORE_KEY_MAX];
	MDB_val ck
	        = { store_jcust_key(ckey, g->customer_id, g->position), ckey };
	if (ck.mv_size > 0) {
		rc = kv_del(t, STORE_DB_JNY_MSG_CUST, &ck);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			return store_err(t->s, rc,
			        "cannot delete a journey message's index");
		}
	}
	Clm__V1__JourneyHook *h;
	clm_err e = store_jhook_get(t, g->position, a, &h);
	*hook = e == CLM_OK;
	if (e == CLM_NOT_FOUND) {
		return CLM_OK;
	}
	if (e != CLM_OK) {
		return e;
	}
	*hook_journey = h->journey;
	return store_jhook_del(t, g->position);
}

clm_err
store_jmsgs_trim(store_txn *t, uint64_t keep, size_t max, bool *more)
{
	*more = false;
	uint64_t last;
	clm_err e = store_meta_get(t, "jny_msg_pos", &last);
	if (e != CLM_OK || last <= keep || max == 0) {
		return e;
	}
	/* Positions at or below this one are over: the newest keep stay. */
	uint64_t upto = last - keep;
	arena a;
	arena_init(&a);
	struct store_jgone *gone = arena_alloc(&a, max * sizeof(*gone));
	if (gone == NULL) {
		arena_fini(&a);
		return CLM_RESOURCE_EXHAUSTED;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_MSGS, &cur);
	if (rc != 0) {
		arena_fini(&a);
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	size_t n = 0;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			continue;
		}
		uint64_t pos = store_be_u64(k.mv_data);
		if (pos > upto) {
			break;
		}
		if (n == max) {
			*more = true;
			break;
		}
		Clm__V1__LifecycleEvent *ev = store_jmsg_decode(pos, &v, &a);
		if (ev == NULL) {
			e = CLM_DATA_LOSS;
			break;
		}
		gone[n++] = (struct store_jgone) { pos, ev->customer_id,
			ev->journey };
	}
	kv_cursor_close(cur);
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		e = store_err(t->s, rc, "cannot scan the journey messages");
	}
	/*
	 * A pending delivery trimmed with its message is no longer pending;
	 * its journey's counter follows here, since no caller sees it go.
	 */
	for (size_t i = 0; e == CLM_OK && i < n; i++) {
		bool hook = false;
		uint32_t jid = 0;
		e = store_jmsg_delete(t, &gone[i], &hook, &jid, &a);
		if (e == CLM_OK && hook) {
			e = store_jstat_add(
			        t, jid, STORE_JSTAT_HOOK_PENDING, 0, -1);
		}
	}
	arena_fini(&a);
	return e;
}

clm_err
store_jmsgs_forget(store_txn *t, const char *customer_id, uint64_t *n,
        store_jhook_gone_fn fn, void *arg)
{
	unsigned char key[STORE_KEY_MAX];
	size_t idn = strlen(customer_id);
	if (idn > STORE_JCUST_ID_MAX) {
		if (n != NULL) {
			*n = 0;
		}
		return CLM_OK; /* no message has such a customer */
	}
	memcpy(key, customer_id, idn);
	key[idn] = 0;
	arena a;
	arena_init(&a);
	size_t cap = 0, count = 0;
	uint64_t *pos = NULL;
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_MSG_CUST, &cur);
	if (rc != 0) {
		arena_fini(&a);
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k = { idn + 1, key }, v;
	clm_err e = CLM_OK;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != idn + 9 || memcmp(k.mv_data, key, idn + 1)) {
			break;
		}
		uint64_t *np = arena_grow(&a, pos, count, &cap, sizeof(*pos));
		if (np == NULL) {
			e = CLM_RESOURCE_EXHAUSTED;
			break;
		}
		pos = np;
		pos[count++] = store_be_u64(
		        (const unsigned char *) k.mv_data + idn + 1);
	}
	kv_cursor_close(cur);
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		e = store_err(t->s, rc, "cannot scan a customer's messages");
	}
	for (size_t i = 0; e == CLM_OK && i < count; i++) {
		struct store_jgone g = { pos[i], (char *) customer_id, NULL };
		bool hook = false;
		uint32_t jid = 0;
		e = store_jmsg_delete(t, &g, &hook, &jid, &a);
		if (e == CLM_OK && hook && fn != NULL) {
			fn(arg, jid);
		}
	}
	arena_fini(&a);
	if (e == CLM_OK && n != NULL) {
		*n = count;
	}
	return e;
}

/* A delivery's value (store_jny_decode). */
static Clm__V1__JourneyHook *
store_jhook_decode(uint64_t position, const MDB_val *v, arena *a)
{
	return store_jny_decode(&clm__v1__journey_hook__descriptor,
	        "webhook delivery", position, v, a);
}

clm_err
store_jhook_put(store_txn *t, uint64_t position, const Clm__V1__JourneyHook *h)
{
	unsigned char key[8];
	store_u64_be(key, position);
	MDB_val k = { 8, key };
	return store_put_msg(t, STORE_DB_JNY_HOOKS, &k,
	        (const ProtobufCMessage *) h,
	        "cannot write a webhook delivery");
}

clm_err
store_jhook_get(
        store_txn *t, uint64_t position, arena *a, Clm__V1__JourneyHook **out)
{
	unsigned char key[8];
	store_u64_be(key, position);
	MDB_val k = { 8, key }, v;
	int rc = kv_get(t, STORE_DB_JNY_HOOKS, &k, &v);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read a webhook delivery");
	}
	Clm__V1__JourneyHook *h = store_jhook_decode(position, &v, a);
	if (h == NULL) {
		return CLM_DATA_LOSS;
	}
	*out = h;
	return CLM_OK;
}

clm_err
store_jhook_del(store_txn *t, uint64_t position)
{
	unsigned char key[8];
	store_u64_be(key, position);
	MDB_val k = { 8, key };
	int rc = kv_del(t, STORE_DB_JNY_HOOKS, &k);
	return store_err(t->s, rc == MDB_NOTFOUND ? 0 : rc,
	        "cannot delete a webhook delivery");
}

clm_err
store_jhooks_each(store_txn *t, uint64_t after, size_t max, arena *a,
        store_jhook_fn fn, void *arg)
{
	if (max == 0 || after == UINT64_MAX) {
		return CLM_OK;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_JNY_HOOKS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char start[8];
	store_u64_be(start, after + 1);
	MDB_val k = { 8, start }, v;
	size_t seen = 0;
	clm_err e = CLM_OK;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			continue;
		}
		uint64_t pos = store_be_u64(k.mv_data);
		Clm__V1__JourneyHook *h = store_jhook_decode(pos, &v, a);
		if (h == NULL) {
			e = CLM_DATA_LOSS;
			break;
		}
		seen++;
		if (fn(arg, pos, h) != 0 || seen == max) {
			break;
		}
	}
	kv_cursor_close(cur);
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		e = store_err(t->s, rc, "cannot scan the webhook deliveries");
	}
	return e;
}
