#include "store/store.h"
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store/dirlock.h"
#include "util/fsdir.h"
#include "util/log.h"

#define STORE_ANON_PREFIX '\x01'

static const char *const store_db_names[STORE_N_DBS] = {
	"customers",
	"touchpoints",
	"event_ids",
	"meta",
	"aliases",
	"onboarding",
	"items",
	"stores",
	"cooccur",
	"claims",
	"agg",
	"spend",
	"experiments",
	"segments",
	"seg_members",
	"seg_due",
	"journeys",
	"jny_due",
	"jny_stats",
	"jny_msgs",
	"jny_msg_cust",
	"jny_hooks",
};
/*
 * Whether the data dir's filesystem has less than STORE_DISK_SLACK bytes
 * available to clmd (root may use the blocks reserved for it); *avail gets
 * the bytes available, or -1 when fstatvfs fails (then: not full).
 */
static bool
store_fs_full(store *s, long long *avail)
{
	struct statvfs st;
	*avail = -1;
	if (s->dir_fd < 0 || fstatvfs(s->dir_fd, &st) != 0) {
		log_warn("cannot stat the filesystem of data dir '%s': %s",
		        s->dir, strerror(errno));
		return false;
	}
	unsigned long long blocks = geteuid() == 0 ? st.f_bfree : st.f_bavail;
	*avail = (long long) (blocks * st.f_frsize);
	return *avail < STORE_DISK_SLACK;
}

/*
 * Translates an LMDB or errno code; logs what is not routine.
 *
 * A write that fails for want of disk space does not always say ENOSPC:
 * LMDB writes its pages with pwrite/writev and reports a short write as
 * EIO, which is what a filesystem that fills up halfway through a commit
 * gives (seen on tmpfs). So an I/O error is a full disk when the data
 * dir's filesystem is (nearly) full right after it: RESOURCE_EXHAUSTED,
 * which clients back off from, rather than UNAVAILABLE, which they retry
 * at once and for which a full disk would make a retry storm.
 */
clm_err
store_err(store *s, int rc, const char *what)
{
	long long avail;

	switch (rc) {
	case MDB_SUCCESS:
		return CLM_OK;
	case MDB_NOTFOUND:
		return CLM_NOT_FOUND;
	case MDB_MAP_FULL:
		s->map_full = !s->overlay_full; /* the base's map */
		return CLM_RESOURCE_EXHAUSTED;
	case ENOSPC:
	case EDQUOT:
		s->disk_full = true;
		log_error("%s: disk full: %s", what, mdb_strerror(rc));
		return CLM_RESOURCE_EXHAUSTED;
	case EIO:
		if (store_fs_full(s, &avail)) {
			s->disk_full = true;
			log_error(
			        "%s: disk full: %s with %lld bytes free in '%s'",
			        what, mdb_strerror(rc), avail, s->dir);
			return CLM_RESOURCE_EXHAUSTED;
		}
		log_error("%s: %s", what, mdb_strerror(rc));
		return CLM_UNAVAILABLE;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		log_warn("%s: %s", what, mdb_strerror(rc));
		return CLM_UNAVAILABLE;
	case MDB_PANIC:
		/*
		 * The environment is unusable; everything committed is on
		 * disk. Exit so that the supervisor restarts a clean process.
		 */
		log_error("%s: %s: exiting", what, mdb_strerror(rc));
		_exit(70);
	default:
		log_error("%s: %s", what, mdb_strerror(rc));
		return CLM_INTERNAL;
	}
}

void
store_u64_be(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char) (v & 0xff);
		v >>= 8;
	}
}

uint64_t
store_be_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

void
store_u32_be(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char) (v >> 24);
	p[1] = (unsigned char) (v >> 16);
	p[2] = (unsigned char) (v >> 8);
	p[3] = (unsigned char) v;
}

uint32_t
store_be_u32(const unsigned char *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
	        | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

clm_err
store_meta_get(store_txn *t, const char *name, uint64_t *out)
{
	MDB_val k = { strlen(name), (void *) name }, v;
	int rc = kv_get(t, STORE_DB_META, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*out = 0;
		return CLM_OK;
	}
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read meta");
	}
	if (v.mv_size != 8) {
		log_error("meta '%s' has %zu bytes, expected 8", name,
		        v.mv_size);
		return CLM_DATA_LOSS;
	}
	*out = store_be_u64(v.mv_data);
	return CLM_OK;
}

clm_err
store_meta_put(store_txn *t, const char *name, uint64_t val)
{
	unsigned char buf[8];
	store_u64_be(buf, val);
	MDB_val k = { strlen(name), (void *) name }, v = { 8, buf };
	int rc = kv_put(t, STORE_DB_META, &k, &v, 0);
	return store_err(t->s, rc, "cannot write meta");
}

/*
 * Creates dir if needed, locks it (store/dirlock.c) and writes DIR/clmd.pid
 * for people and service managers. The pid file is also flocked, as before
 * the directory was: a clmd older than this one locks only the pid file, so
 * this keeps the two from sharing a directory while both versions are about
 * (an upgrade). The directory's lock alone is what excludes another clmd
 * of this version; the pid file may be deleted without effect.
 */
static int
store_lock_dir(store *s, const char *dir, char *err, size_t errlen)
{
	s->dir_fd = dirlock_open(dir, err, errlen);
	if (s->dir_fd < 0) {
		return -1;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/clmd.pid", dir);
	s->pid_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->pid_fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
		        strerror(errno));
		return -1;
	}
	if (flock(s->pid_fd, LOCK_EX | LOCK_NB) != 0) {
		char other[32] = "";
		ssize_t n = pread(s->pid_fd, other, sizeof(other) - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		snprintf(err, errlen,
		        "data dir '%s' is in use by another clmd (pid %s)",
		        dir, other[0] ? other : "unknown");
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
	if (ftruncate(s->pid_fd, 0) != 0
	        || pwrite(s->pid_fd, pid, (size_t) n, 0) != n) {
		snprintf(err, errlen, "cannot write '%s': %s", path,
		        strerror(errno));
		return -1;
	}
	return 0;
}

/* Opens the databases, checks the schema and loads the counters. */
static int
store_init_dbs(store *s, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		snprintf(err, errlen, "cannot begin transaction: %s",
		        mdb_strerror(rc));
		return -1;
	}
	for (int i = 0; i < STORE_N_DBS; i++) {
		rc = mdb_dbi_open(
		        txn, store_db_names[i], MDB_CREATE, &s->dbi[i]);
		if (rc != 0) {
			snprintf(err, errlen, "cannot open database '%s': %s",
			        store_db_names[i], mdb_strerror(rc));
			mdb_txn_abort(txn);
			return -1;
		}
	}
	store_txn t = { .s = s, .txn = txn, .write = true };
	uint64_t schema;
	if (store_meta_get(&t, "schema", &schema) != CLM_OK) {
		snprintf(err, errlen, "cannot read the schema version");
		goto fail;
	}
	if (schema > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
		        "data dir '%s' has schema version %llu, newer than this clmd's %d: upgrade clmd",
		        s->dir, (unsigned long long) schema,
		        STORE_SCHEMA_VERSION);
		goto fail;
	}
	/*
	 * A new store (0) is written at this version; an older one is
	 * upgraded in this same transaction. From 1 to 2 nothing else
	 * changes on disk (CUSTOM counters and order items are new fields
	 * and positions, read as absent in old records and keys): the
	 * version only makes an older clmd refuse what this one wrote.
	 */
	if (schema < STORE_SCHEMA_VERSION
	        && store_meta_put(&t, "schema", STORE_SCHEMA_VERSION)
	                != CLM_OK) {
		snprintf(err, errlen, "cannot write the schema version");
		goto fail;
	}
	if (store_meta_get(&t, "next_cid", &s->next_cid) != CLM_OK
	        || store_meta_get(&t, "next_seq", &s->next_seq) != CLM_OK
	        || store_meta_get(&t, "event_seq", &s->next_event_seq)
	                != CLM_OK
	        || store_meta_get(&t, "journal_pos", &s->position) != CLM_OK
	        || store_meta_get(&t, "checkpoints", &s->checkpoints)
	                != CLM_OK) {
		snprintf(err, errlen, "cannot read the counters");
		goto fail;
	}
	if (s->next_cid == 0) {
		s->next_cid = 1;
	}
	if (s->next_seq == 0) {
		s->next_seq = 1;
	}
	if (s->next_event_seq == 0) {
		s->next_event_seq = 1;
	}
	if (store_seq_floor_load(s, err, errlen) != CLM_OK) {
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		snprintf(err, errlen, "cannot initialise the store: %s",
		        mdb_strerror(rc));
		return -1;
	}
	if (schema != 0 && schema < STORE_SCHEMA_VERSION) {
		log_info(
		        "data dir '%s' upgraded from schema version %llu to %d",
		        s->dir, (unsigned long long) schema,
		        STORE_SCHEMA_VERSION);
	}
	return 0;
fail:
	mdb_txn_abort(txn);
	return -1;
}

clm_err
store_open(const struct store_opts *o, store **out, char *err, size_t errlen)
{
	store *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLM_RESOURCE_EXHAUSTED;
	}
	s->pid_fd = -1;
	s->dir_fd = -1;
	s->max_db_bytes = o->max_db_bytes;
	s->max_readers = o->max_readers;
	pthread_rwlock_init(&s->remap, NULL);
	pthread_mutex_init(&s->turnstile, NULL);
	s->dir = strdup(o->dir);
	if (s->dir == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (store_lock_dir(s, o->dir, err, errlen) != 0) {
		store_close(s);
		return CLM_FAILED_PRECONDITION;
	}
	int rc = mdb_env_create(&s->env);
	if (rc == 0) {
		rc = mdb_env_set_maxdbs(s->env, 24);
	}
	if (rc == 0) {
		rc = mdb_env_set_maxreaders(s->env, o->max_readers);
	}
	if (rc == 0) {
		int64_t map = o->map_bytes < o->max_db_bytes ? o->map_bytes
		                                             : o->max_db_bytes;
		rc = mdb_env_set_mapsize(s->env, (size_t) map);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot create LMDB environment: %s",
		        mdb_strerror(rc));
		goto fail;
	}
	/*
	 * No MDB_WRITEMAP (a full disk would SIGBUS), no MDB_NOMETASYNC or
	 * MDB_MAPASYNC; MDB_NOSYNC only when the operator chose durability os.
	 * MDB_NOTLS lets a read transaction be reset and renewed per request.
	 */
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	if (o->nosync) {
		flags |= MDB_NOSYNC;
	}
	rc = mdb_env_open(s->env, o->dir, flags, 0640);
	if (rc != 0) {
		snprintf(err, errlen, "cannot open data dir '%s': %s", o->dir,
		        mdb_strerror(rc));
		goto fail;
	}
	/*
	 * data.mdb, lock.mdb and clmd.pid may have just been created: their
	 * names are durable only once the directory is synced (LMDB syncs
	 * data.mdb's contents, never its directory). Before the first write
	 * is acknowledged, in either durability mode.
	 */
	if (fsdir_sync(o->dir) != 0) {
		snprintf(err, errlen, "cannot sync data dir '%s': %s", o->dir,
		        strerror(errno));
		goto fail;
	}
	int dead = 0;
	mdb_reader_check(s->env, &dead);
	if (dead > 0) {
		log_info("cleared %d stale reader slots", dead);
	}
	if (store_init_dbs(s, err, errlen) != 0) {
		goto fail;
	}
	*out = s;
	return CLM_OK;
fail:
	store_close(s);
	return CLM_UNAVAILABLE;
}

void
store_close(store *s)
{
	if (s == NULL) {
		return;
	}
	store_warm_stop(s); /* it reads LMDB's fd, closed below */
	store_overlay_close(s);
	store_agg_pend_free(s);
	/* Exact again: a clean restart goes on without a gap. */
	if (s->seq_floor != 0 && s->next_event_seq < s->seq_floor) {
		(void) store_seq_floor_write(s, s->next_event_seq);
	}
	if (s->env != NULL) {
		mdb_env_close(s->env);
	}
	if (s->pid_fd >= 0) {
		close(s->pid_fd);
	}
	/* Last: no other clmd may open the environment before it is closed. */
	if (s->dir_fd >= 0) {
		close(s->dir_fd); /* releases the lock */
	}
	pthread_rwlock_destroy(&s->remap);
	pthread_mutex_destroy(&s->turnstile);
	free(s->dir);
	free(s);
}

void
store_reader_check(store *s)
{
	int dead = 0;
	int rc = mdb_reader_check(s->env, &dead);
	if (rc != 0) {
		log_warn("reader check: %s", mdb_strerror(rc));
	} else if (dead > 0) {
		log_info("cleared %d stale reader slots", dead);
	}
}

uint64_t
store_free_bytes(store *s)
{
	MDB_txn *txn;
	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0) {
		return 0;
	}
	MDB_cursor *cur;
	uint64_t pages = 0;
	if (mdb_cursor_open(txn, 0, &cur) == 0) { /* FREE_DBI */
		MDB_val k, v;
		int rc;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			/* An IDL: its first word counts the pages after it. */
			if (v.mv_size >= sizeof(size_t)) {
				size_t n;
				memcpy(&n, v.mv_data, sizeof(n));
				pages += n;
			}
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	MDB_stat ms;
	mdb_env_stat(s->env, &ms);
	return pages * ms.ms_psize;
}

clm_err
store_txn_checkpoint_position(store_txn *t, uint64_t *pos)
{
	return store_meta_get(t, "journal_pos", pos);
}

clm_err
store_stats(store_txn *t, struct store_stats *st)
{
	MDB_stat ms;
	int rc = mdb_stat(t->txn, t->s->dbi[STORE_DB_CUSTOMERS], &ms);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot stat customers");
	}
	st->customers = ms.ms_entries;
	rc = mdb_stat(t->txn, t->s->dbi[STORE_DB_TOUCHPOINTS], &ms);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot stat touchpoints");
	}
	st->touchpoints = ms.ms_entries;
	int64_t dc, dt;
	rc = kv_counts(t, &dc, &dt);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read the overlay's counts");
	}
	dc += t->delta_customers; /* a write transaction's own */
	dt += t->delta_touchpoints;
	st->customers = (uint64_t) ((int64_t) st->customers + dc);
	st->touchpoints = (uint64_t) ((int64_t) st->touchpoints + dt);
	MDB_envinfo info;
	mdb_env_info(t->s->env, &info);
	mdb_env_stat(t->s->env, &ms);
	st->db_bytes = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	st->map_bytes = info.me_mapsize;
	return CLM_OK;
}

bool
store_map_full(const store *s)
{
	return s->map_full;
}

bool
store_disk_full(const store *s)
{
	return s->disk_full;
}

clm_err
store_grow(store *s)
{
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	uint64_t cur = info.me_mapsize;
	if (cur >= (uint64_t) s->max_db_bytes) {
		log_error("database reached max_db_bytes (%llu bytes)",
		        (unsigned long long) s->max_db_bytes);
		return CLM_RESOURCE_EXHAUSTED;
	}
	uint64_t next = cur * 2;
	if (next > (uint64_t) s->max_db_bytes) {
		next = (uint64_t) s->max_db_bytes;
	}
	pthread_mutex_lock(&s->turnstile);
	pthread_rwlock_wrlock(&s->remap);
	int rc = mdb_env_set_mapsize(s->env, (size_t) next);
	pthread_rwlock_unlock(&s->remap);
	pthread_mutex_unlock(&s->turnstile);
	if (rc != 0) {
		return store_err(s, rc, "cannot grow the map");
	}
	s->map_full = false;
	log_info("map grown from %llu to %llu bytes", (unsigned long long) cur,
	        (unsigned long long) next);
	return CLM_OK;
}

uint64_t
store_next_cid(store_txn *t)
{
	return t->next_cid++;
}

uint64_t
store_next_seq(store_txn *t)
{
	return t->next_seq++;
}

uint64_t
store_next_event_seq(store_txn *t)
{
	return t->next_event_seq++;
}

uint64_t
store_event_seq(store *s)
{
	return s->next_event_seq;
}

/* Writes msg into a value of exactly its packed size, without a copy. */
clm_err
store_put_msg(store_txn *t, enum store_db db, MDB_val *k,
        const ProtobufCMessage *msg, const char *what)
{
	return store_put_msg_known(t, db, k, msg, what, KV_MAYBE);
}

clm_err
store_put_msg_known(store_txn *t, enum store_db db, MDB_val *k,
        const ProtobufCMessage *msg, const char *what, enum kv_known known)
{
	MDB_val v = { protobuf_c_message_get_packed_size(msg), NULL };
	int rc = kv_put_known(t, db, k, &v, MDB_RESERVE, known);
	if (rc != 0) {
		return store_err(t->s, rc, what);
	}
	protobuf_c_message_pack(msg, v.mv_data);
	return CLM_OK;
}

clm_err
store_get_msg(store_txn *t, enum store_db db, const char *key,
        const ProtobufCMessageDescriptor *desc, arena *a, const char *what,
        void **out)
{
	MDB_val k = { strlen(key), (void *) key }, v;
	int rc = kv_get(t, db, &k, &v);
	if (rc != 0) {
		char msg[64];
		snprintf(msg, sizeof(msg), "cannot read %s", what);
		return store_err(t->s, rc, msg);
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(
	        desc, arena_pb(a), v.mv_size, v.mv_data);
	if (m == NULL) {
		log_error("%s '%s' does not decode", what, key);
		return CLM_DATA_LOSS;
	}
	*out = m;
	return CLM_OK;
}

clm_err
store_each_msg(store_txn *t, enum store_db db,
        const ProtobufCMessageDescriptor *desc, arena *a, const char *what,
        int (*fn)(void *arg, void *msg), void *arg)
{
	kv_cursor *cur;
	int rc = kv_cursor_open(t, db, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	MDB_val k, v;
	clm_err e = CLM_OK;
	for (rc = kv_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	        rc = kv_cursor_get(cur, &k, &v, MDB_NEXT)) {
		ProtobufCMessage *m = protobuf_c_message_unpack(
		        desc, arena_pb(a), v.mv_size, v.mv_data);
		if (m == NULL) {
			log_error("%s '%.*s' does not decode", what,
			        (int) k.mv_size, (const char *) k.mv_data);
			e = CLM_DATA_LOSS;
			break;
		}
		if (fn(arg, m) != 0) {
			break;
		}
	}
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		char msg[64];
		snprintf(msg, sizeof(msg), "cannot scan %ss", what);
		e = store_err(t->s, rc, msg);
	}
	kv_cursor_close(cur);
	return e;
}

static size_t
store_customer_key(unsigned char *buf, const char *id, bool anonymous)
{
	size_t n = strlen(id);
	size_t off = 0;
	if (anonymous) {
		buf[off++] = STORE_ANON_PREFIX;
	}
	if (n > STORE_KEY_MAX - off) {
		n = STORE_KEY_MAX - off; /* validation keeps ids far shorter */
	}
	memcpy(buf + off, id, n);
	return off + n;
}

clm_err
store_customer_get(store_txn *t, const char *id, bool anonymous, arena *a,
        Clm__V1__CustomerRecord **out)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_customer_key(key, id, anonymous), key }, v;
	int rc = kv_get(t, STORE_DB_CUSTOMERS, &k, &v);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read customer");
	}
	Clm__V1__CustomerRecord *rec = clm__v1__customer_record__unpack(
	        arena_pb(a), v.mv_size, v.mv_data);
	if (rec == NULL) {
		log_error("customer record of '%s' does not decode", id);
		return CLM_DATA_LOSS;
	}
	*out = rec;
	return CLM_OK;
}

clm_err
store_customer_put(
        store_txn *t, const Clm__V1__CustomerRecord *rec, bool loaded)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k
	        = { store_customer_key(key, rec->customer_id, rec->anonymous),
		          key };
	return store_put_msg_known(t, STORE_DB_CUSTOMERS, &k,
	        (const ProtobufCMessage *) rec, "cannot write customer",
	        loaded ? KV_EXISTS : KV_MAYBE);
}

static void
store_touch_key(
        unsigned char key[24], uint64_t cid, int64_t at_ms, uint64_t seq)
{
	store_u64_be(key, cid);
	store_u64_be(key + 8, (uint64_t) at_ms);
	store_u64_be(key + 16, seq);
}

static clm_err
store_touchpoint_write(store_txn *t, uint64_t cid, int64_t at_ms, uint64_t seq,
        const Clm__V1__Touchpoint *tp, enum kv_known known)
{
	unsigned char key[24];
	store_touch_key(key, cid, at_ms, seq);
	MDB_val k = { sizeof(key), key };
	/* The key holds the customer; do not store the id twice. */
	Clm__V1__Touchpoint copy = *tp;
	copy.customer_id = (char *) protobuf_c_empty_string;
	copy.occurred_at_ms = at_ms;
	return store_put_msg_known(t, STORE_DB_TOUCHPOINTS, &k,
	        (const ProtobufCMessage *) &copy, "cannot write touchpoint",
	        known);
}

clm_err
store_touchpoint_put(store_txn *t, uint64_t cid, int64_t at_ms, uint64_t seq,
        const Clm__V1__Touchpoint *tp)
{
	return store_touchpoint_write(t, cid, at_ms, seq, tp, KV_MAYBE);
}

clm_err
store_touchpoint_add(store_txn *t, uint64_t cid, int64_t at_ms, uint64_t seq,
        const Clm__V1__Touchpoint *tp)
{
	return store_touchpoint_write(t, cid, at_ms, seq, tp, KV_NEW);
}

static clm_err
store_touch_iter(store_txn *t, uint64_t cid, int64_t after_ms, int64_t upto_ms,
        arena *a, store_touch_fn fn, void *arg)
{
	if (upto_ms <= after_ms || upto_ms < 0) {
		return CLM_OK;
	}
	kv_cursor *cur;
	int rc = kv_cursor_open(t, STORE_DB_TOUCHPOINTS, &cur);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot open cursor");
	}
	unsigned char key[24];
	/* First key with event time > after_ms. */
	int64_t start = after_ms < 0 ? 0 : after_ms + 1;
	store_touch_key(key, cid, start, 0);
	MDB_val k = { sizeof(key), key }, v;
	clm_err e = CLM_OK;
	rc = kv_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		if (k.mv_size != 24 || store_be_u64(k.mv_data) != cid) {
			break;
		}
		int64_t at = (int64_t) store_be_u64(
		        (unsigned char *) k.mv_data + 8);
		if (at > upto_ms) {
			break;
		}
		uint64_t seq = store_be_u64((unsigned char *) k.mv_data + 16);
		Clm__V1__Touchpoint *tp = clm__v1__touchpoint__unpack(
		        a ? arena_pb(a) : NULL, v.mv_size, v.mv_data);
		if (tp == NULL) {
			log_error("touchpoint of cid %llu does not decode",
			        (unsigned long long) cid);
			e = CLM_DATA_LOSS;
			break;
		}
		int stop = fn(arg, at, seq, tp);
		if (a == NULL) {
			clm__v1__touchpoint__free_unpacked(tp, NULL);
		}
		if (stop) {
			break;
		}
		rc = kv_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (e == CLM_OK && rc != 0 && rc != MDB_NOTFOUND) {
		e = store_err(t->s, rc, "cannot scan touchpoints");
	}
	kv_cursor_close(cur);
	return e;
}

clm_err
store_touchpoints_scan(store_txn *t, uint64_t cid, int64_t after_ms,
        int64_t upto_ms, store_touch_fn fn, void *arg)
{
	return store_touch_iter(t, cid, after_ms, upto_ms, NULL, fn, arg);
}

clm_err
store_touchpoints_collect(store_txn *t, uint64_t cid, int64_t after_ms,
        int64_t upto_ms, arena *a, store_touch_fn fn, void *arg)
{
	return store_touch_iter(t, cid, after_ms, upto_ms, a, fn, arg);
}

clm_err
store_event_exists(store_txn *t, const char *event_id)
{
	MDB_val k = { strlen(event_id), (void *) event_id }, v;
	int rc = kv_get(t, STORE_DB_EVENT_IDS, &k, &v);
	return rc == 0 ? CLM_OK : store_err(t->s, rc, "cannot read event id");
}

clm_err
store_event_put(store_txn *t, const char *event_id, uint64_t cid,
        int64_t at_ms, uint64_t seq)
{
	Clm__V1__EventRef ref = CLM__V1__EVENT_REF__INIT;
	ref.cid = cid;
	ref.occurred_at_ms = at_ms;
	ref.seq = seq;
	MDB_val k = { strlen(event_id), (void *) event_id };
	return store_put_msg(t, STORE_DB_EVENT_IDS, &k,
	        (const ProtobufCMessage *) &ref, "cannot write event id");
}

clm_err
store_customer_del(store_txn *t, const char *id, bool anonymous)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = { store_customer_key(key, id, anonymous), key };
	int rc = kv_del(t, STORE_DB_CUSTOMERS, &k);
	return store_err(t->s, rc, "cannot delete customer");
}

clm_err
store_touchpoint_del(store_txn *t, uint64_t cid, int64_t at_ms, uint64_t seq)
{
	unsigned char key[24];
	store_touch_key(key, cid, at_ms, seq);
	MDB_val k = { sizeof(key), key };
	int rc = kv_del(t, STORE_DB_TOUCHPOINTS, &k);
	return store_err(t->s, rc, "cannot delete touchpoint");
}

clm_err
store_event_del(store_txn *t, const char *event_id)
{
	MDB_val k = { strlen(event_id), (void *) event_id };
	int rc = kv_del(t, STORE_DB_EVENT_IDS, &k);
	return store_err(t->s, rc, "cannot delete event id");
}

clm_err
store_alias_get(
        store_txn *t, const char *anonymous_id, arena *a, char **customer_id)
{
	MDB_val k = { strlen(anonymous_id), (void *) anonymous_id }, v;
	int rc = kv_get(t, STORE_DB_ALIASES, &k, &v);
	if (rc != 0) {
		return store_err(t->s, rc, "cannot read alias");
	}
	char *id = arena_strndup(a, v.mv_data, v.mv_size);
	if (id == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	*customer_id = id;
	return CLM_OK;
}

clm_err
store_alias_put(
        store_txn *t, const char *anonymous_id, const char *customer_id)
{
	MDB_val k = { strlen(anonymous_id), (void *) anonymous_id };
	MDB_val v = { strlen(customer_id), (void *) customer_id };
	int rc = kv_put(t, STORE_DB_ALIASES, &k, &v, 0);
	return store_err(t->s, rc, "cannot write alias");
}

clm_err
store_alias_del(store_txn *t, const char *anonymous_id)
{
	MDB_val k = { strlen(anonymous_id), (void *) anonymous_id };
	int rc = kv_del(t, STORE_DB_ALIASES, &k);
	return store_err(t->s, rc, "cannot delete alias");
}
