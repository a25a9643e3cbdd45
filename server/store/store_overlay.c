/*
 * Transactions, and the overlays that the journal's writes go to until a
 * checkpoint moves them into the base view (issue 14; docs/architecture.md,
 * "The journal and the overlay").
 *
 * An overlay is an LMDB environment with the same tables, a file in
 * DIR/overlay opened MDB_NOSYNC | MDB_WRITEMAP: its commits are memory
 * operations, made durable not by LMDB but by the journal entry written
 * before each one. Both are deleted and rebuilt from the journal at every
 * start, so nothing in them is ever trusted after a crash. Their files are
 * allocated in full when they are created (posix_fallocate), so that a
 * full disk cannot fault a write through the map.
 *
 * The writer writes the active overlay. A checkpoint freezes it (the
 * other, empty one becomes active), copies it into the base in one synced
 * write transaction that also stores the journal position it reflects
 * (a large one in several, from a synced image: store_ckpt.c; "the run's
 * commit" below is then the last one, and a base between two of them
 * reads like one before it, see kv_counts), then empties it (the release).
 * Freezing is the writer's, between two batches; the run and the release
 * may be another thread's while the writer goes on. A reader begins its
 * base transaction, then the frozen overlay's (if one is frozen), then
 * the active one's:
 * - with no swap and no release in between, the frozen overlay did not
 *   change (nothing writes it), the active one is read last, and the
 *   base, whether before or after the run's commit, is covered by the
 *   frozen overlay, which holds post-images (whole values and tombstones)
 *   of everything the run moves: one consistent state, that of the
 *   moment the active snapshot began. Counts: the frozen overlay's deltas
 *   are left out once the base holds its checkpoint (kv_counts);
 * - a swap in between could pair the roles of one moment with snapshots
 *   of another, and a release in between could pair a base from before
 *   the run's commit with an emptied frozen overlay: what the checkpoint
 *   moved would be missing. store->generation, bumped just before and
 *   just after each, tells: the reader reads it before its base begins
 *   and again after its last snapshot began, and begins again when it
 *   moved (store_begin_levels).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/clock.h"
#include "util/fsdir.h"
#include "util/log.h"

static uint64_t
store_gen(store *s)
{
	return __atomic_load_n(&s->generation, __ATOMIC_SEQ_CST);
}

static void
store_gen_bump(store *s)
{
	__atomic_add_fetch(&s->generation, 1, __ATOMIC_SEQ_CST);
}

clm_err
store_reader_new(store *s, store_reader **out)
{
	store_reader *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	r->s = s;
	r->t.s = s;
	*out = r;
	return CLM_OK;
}

void
store_reader_free(store_reader *r)
{
	if (r == NULL) {
		return;
	}
	if (r->t.txn != NULL) {
		mdb_txn_abort(r->t.txn);
	}
	for (int i = 0; i < 2; i++) {
		if (r->otxn[i] != NULL) {
			mdb_txn_abort(r->otxn[i]);
		}
	}
	free(r);
}

/* Begins or renews a reusable read transaction of env in *txn. */
static int
store_renew(MDB_env *env, MDB_txn **txn)
{
	if (*txn == NULL) {
		return mdb_txn_begin(env, NULL, MDB_RDONLY, txn);
	}
	int rc = mdb_txn_renew(*txn);
	if (rc != 0) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return rc;
}

static bool
store_has_overlay(const store *s)
{
	return s->ovl[0].env != NULL;
}

/* Resets what store_begin_levels began (the base's txn too). */
static void
store_reset_levels(store_txn *t)
{
	if (t->ftxn != NULL) {
		mdb_txn_reset(t->ftxn);
	}
	if (t->otxn != NULL && !t->write) {
		mdb_txn_reset(t->otxn);
	}
	mdb_txn_reset(t->txn);
	t->ftxn = NULL;
	t->otxn = NULL;
}

/*
 * Begins t's levels: the base's snapshot (*base, renewed), then the frozen
 * overlay's (ro[], renewed), then the active one's: a read snapshot from
 * ro[], or the writer's write transaction. Again from the start when the
 * generation moved meanwhile: a checkpoint emptied the frozen overlay, or
 * the writer swapped the roles (see the top of this file).
 */
static int
store_begin_levels(store *s, store_txn *t, MDB_txn **base, MDB_txn **ro)
{
	for (;;) {
		uint64_t g0 = store_gen(s);
		int act = __atomic_load_n(&s->act, __ATOMIC_SEQ_CST);
		bool frozen = __atomic_load_n(&s->frozen, __ATOMIC_SEQ_CST);
		t->otxn = NULL;
		t->ftxn = NULL;
		int rc = store_renew(s->env, base);
		if (rc != 0) {
			return rc;
		}
		t->txn = *base;
		if (!store_has_overlay(s)) {
			return 0;
		}
		struct store_ovl *a = &s->ovl[act], *f = &s->ovl[1 - act];
		if (frozen) {
			rc = store_renew(f->env, &ro[1 - act]);
			if (rc == 0) {
				t->ftxn = ro[1 - act];
				t->fdbi = f->dbi;
			}
		}
		if (rc == 0 && t->write) {
			rc = mdb_txn_begin(a->env, NULL, 0, &t->otxn);
			if (rc != 0) {
				t->otxn = NULL;
			}
		} else if (rc == 0) {
			rc = store_renew(a->env, &ro[act]);
			t->otxn = rc == 0 ? ro[act] : NULL;
		}
		t->odbi = a->dbi;
		if (rc != 0 || store_gen(s) != g0) {
			if (t->write && t->otxn != NULL) {
				mdb_txn_abort(t->otxn);
				t->otxn = NULL;
			}
			store_reset_levels(t);
			if (rc != 0) {
				return rc;
			}
			continue;
		}
		return 0;
	}
}

clm_err
store_read_begin(store_reader *r, store_txn **txn)
{
	store *s = r->s;
	/* Wait behind a map resize that is waiting for readers to leave. */
	pthread_mutex_lock(&s->turnstile);
	pthread_mutex_unlock(&s->turnstile);
	pthread_rwlock_rdlock(&s->remap);
	r->t.write = false;
	int rc = store_begin_levels(s, &r->t, &r->t.txn, r->otxn);
	if (rc != 0) {
		pthread_rwlock_unlock(&s->remap);
		return store_err(s, rc, "cannot begin read transaction");
	}
	r->active = true;
	*txn = &r->t;
	return CLM_OK;
}

void
store_read_end(store_txn *txn)
{
	store_reader *r
	        = (store_reader *) ((char *) txn - offsetof(store_reader, t));
	if (!r->active) {
		return;
	}
	store_reset_levels(txn);
	r->active = false;
	pthread_rwlock_unlock(&r->s->remap);
}

clm_err
store_write_begin(store *s, store_txn **txn)
{
	s->map_full = false;
	s->disk_full = false;
	s->overlay_full = false;
	struct store_txn *t = &s->wtxn;
	*t = (struct store_txn) { .s = s, .write = true };
	store_agg_pend_clear(s); /* left by an aborted transaction */
	int rc;
	if (!store_has_overlay(s)) {
		rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
	} else {
		MDB_txn *ro[2] = { s->ovl[0].wro, s->ovl[1].wro };
		rc = store_begin_levels(s, t, &s->wbase, ro);
		s->ovl[0].wro = ro[0];
		s->ovl[1].wro = ro[1];
	}
	if (rc != 0) {
		t->txn = NULL;
		t->otxn = NULL;
		t->ftxn = NULL;
		return store_err(s, rc, "cannot begin write transaction");
	}
	t->next_cid = s->next_cid;
	t->next_seq = s->next_seq;
	t->next_event_seq = s->next_event_seq;
	*txn = t;
	return CLM_OK;
}

/* Ends the writer's transaction(s) without keeping anything. */
static void
store_write_end(store_txn *t)
{
	store_agg_pend_clear(t->s);
	if (t->otxn != NULL) {
		mdb_txn_abort(t->otxn);
		t->otxn = NULL;
		store_reset_levels(t); /* the read ones, kept for renew */
	} else if (t->txn != NULL) {
		mdb_txn_abort(t->txn);
	}
	t->txn = NULL;
}

clm_err
store_write_commit(store_txn *t)
{
	store *s = t->s;
	clm_err e = store_agg_flush(t);
	if (e == CLM_OK && t->next_cid != s->next_cid) {
		e = store_meta_put(t, "next_cid", t->next_cid);
	}
	if (e == CLM_OK && t->next_seq != s->next_seq) {
		e = store_meta_put(t, "next_seq", t->next_seq);
	}
	if (e == CLM_OK && t->next_event_seq != s->next_event_seq) {
		e = store_meta_put(t, "event_seq", t->next_event_seq);
	}
	/* Before any of its seqs is published (store_event_seq). */
	if (e == CLM_OK && t->next_event_seq > s->seq_floor
	        && t->next_event_seq > 1) {
		e = store_seq_floor_write(
		        s, t->next_event_seq + STORE_SEQ_FLOOR_RESERVE);
	}
	if (e == CLM_OK && t->otxn != NULL) {
		e = store_err(
		        s, kv_counts_save(t), "cannot count the overlay");
	}
	if (e != CLM_OK) {
		store_write_end(t);
		return e;
	}
	int rc;
	if (t->otxn != NULL) {
		rc = mdb_txn_commit(t->otxn);
		if (rc == MDB_MAP_FULL) {
			s->overlay_full = true;
		}
		t->otxn = NULL;
		store_reset_levels(t);
	} else {
		rc = mdb_txn_commit(t->txn);
	}
	t->txn = NULL;
	if (rc != 0) {
		return store_err(s, rc, "cannot commit");
	}
	s->next_cid = t->next_cid;
	s->next_seq = t->next_seq;
	s->next_event_seq = t->next_event_seq;
	return CLM_OK;
}

void
store_write_abort(store_txn *t)
{
	if (t != NULL) {
		store_write_end(t);
	}
}

bool
store_overlay_full(const store *s)
{
	return s->overlay_full;
}

uint64_t
store_position(const store *s)
{
	return __atomic_load_n(&s->position, __ATOMIC_ACQUIRE);
}

/* The overlays' files in DIR/overlay, and those of older clmds there. */
static const char *const store_ovl_files[] = { "a.mdb", "a.mdb-lock", "b.mdb",
	"b.mdb-lock", "data.mdb", "lock.mdb" };

/* Removes DIR/overlay's files, left by an earlier run. */
static int
store_overlay_clear(const char *odir, char *err, size_t errlen)
{
	size_t n = sizeof(store_ovl_files) / sizeof(store_ovl_files[0]);
	for (size_t i = 0; i < n; i++) {
		char path[4096 + 16];
		snprintf(
		        path, sizeof(path), "%s/%s", odir, store_ovl_files[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove '%s': %s", path,
			        strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Creates one overlay environment of map_bytes in the file path. */
static clm_err
store_ovl_open(store *s, struct store_ovl *o, const char *path,
        uint64_t map_bytes, char *err, size_t errlen)
{
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc != 0) {
		snprintf(err, errlen, "cannot create the overlay: %s",
		        mdb_strerror(rc));
		return CLM_UNAVAILABLE;
	}
	rc = mdb_env_set_maxdbs(env, STORE_N_DBS + 2);
	if (rc == 0) {
		rc = mdb_env_set_maxreaders(env, s->max_readers);
	}
	if (rc == 0) {
		rc = mdb_env_set_mapsize(env, (size_t) map_bytes);
	}
	if (rc == 0) {
		rc = mdb_env_open(env, path,
		        MDB_NOSUBDIR | MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS
		                | MDB_NORDAHEAD,
		        0600);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot open the overlay '%s': %s", path,
		        mdb_strerror(rc));
		mdb_env_close(env);
		return CLM_UNAVAILABLE;
	}
	/*
	 * With MDB_WRITEMAP LMDB sizes the file to the map but leaves it
	 * sparse: writing through the map into a hole on a full disk would
	 * be SIGBUS. Allocate it all now, while a failure is a clear error.
	 */
	int fd = -1;
	mdb_env_get_fd(env, &fd);
	int fe = fd >= 0 ? posix_fallocate(fd, 0, (off_t) map_bytes) : EBADF;
	if (fe != 0) {
		snprintf(err, errlen,
		        "cannot allocate the overlay's %llu bytes in '%s': %s",
		        (unsigned long long) map_bytes, path, strerror(fe));
		mdb_env_close(env);
		return fe == ENOSPC ? CLM_RESOURCE_EXHAUSTED : CLM_UNAVAILABLE;
	}
	MDB_txn *txn = NULL;
	rc = mdb_txn_begin(env, NULL, 0, &txn);
	static const char *const names[STORE_N_DBS + 1] = { "customers",
		"touchpoints", "event_ids", "meta", "aliases", "onboarding",
		"items", "stores", "cooccur", "claims", "agg", "spend",
		"experiments", "segments", "seg_members", "seg_due",
		"journeys", "jny_due", "jny_stats", "jny_msgs", "jny_msg_cust",
		"jny_hooks", "overlay_counts" };
	for (int i = 0; rc == 0 && i <= STORE_N_DBS; i++) {
		rc = mdb_dbi_open(txn, names[i], MDB_CREATE, &o->dbi[i]);
	}
	if (rc == 0) {
		store_txn t = { .s = s, .otxn = txn, .odbi = o->dbi };
		rc = kv_counts_reset(&t, s->checkpoints);
	}
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
	} else if (txn != NULL) {
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot initialise the overlay: %s",
		        mdb_strerror(rc));
		mdb_env_close(env);
		return CLM_UNAVAILABLE;
	}
	o->env = env;
	return CLM_OK;
}

clm_err
store_overlay_open(store *s, uint64_t map_bytes, char *err, size_t errlen)
{
	clm_err e = store_ckpt_recover(s, err, errlen);
	if (e != CLM_OK) {
		return e;
	}
	char odir[4096];
	snprintf(odir, sizeof(odir), "%s/overlay", s->dir);
	if (mkdir(odir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create '%s': %s", odir,
		        strerror(errno));
		return CLM_UNAVAILABLE;
	}
	if (store_overlay_clear(odir, err, errlen) != 0) {
		return CLM_UNAVAILABLE;
	}
	for (int i = 0; i < 2 && e == CLM_OK; i++) {
		char path[4096 + 16];
		snprintf(path, sizeof(path), "%s/%s", odir,
		        store_ovl_files[2 * i]);
		e = store_ovl_open(
		        s, &s->ovl[i], path, map_bytes, err, errlen);
	}
	if (e != CLM_OK) {
		store_overlay_close(s);
		return e;
	}
	s->act = 0;
	s->frozen = false;
	return CLM_OK;
}

void
store_overlay_close(store *s)
{
	if (s->wbase != NULL) {
		mdb_txn_abort(s->wbase);
		s->wbase = NULL;
	}
	for (int i = 0; i < 2; i++) {
		struct store_ovl *o = &s->ovl[i];
		if (o->wro != NULL) {
			mdb_txn_abort(o->wro);
			o->wro = NULL;
		}
		if (o->env != NULL) {
			mdb_env_close(o->env);
			o->env = NULL;
		}
	}
}

struct store_ovl *
store_frozen(store *s)
{
	return &s->ovl[1 - __atomic_load_n(&s->act, __ATOMIC_SEQ_CST)];
}

/* The bytes of the pages o's tables hold now, and its keys. */
static void
store_ovl_size(const struct store_ovl *o, uint64_t *bytes, uint64_t *keys)
{
	*bytes = 0;
	*keys = 0;
	MDB_txn *txn;
	if (o->env == NULL
	        || mdb_txn_begin(o->env, NULL, MDB_RDONLY, &txn) != 0) {
		return;
	}
	/*
	 * The pages its tables hold now (the map's highest page only ever
	 * grows, and a checkpoint frees them all).
	 */
	uint64_t pages = 0, psize = 4096;
	for (int i = 0; i < STORE_N_DBS; i++) {
		MDB_stat ms;
		if (mdb_stat(txn, o->dbi[i], &ms) == 0) {
			pages += ms.ms_branch_pages + ms.ms_leaf_pages
			        + ms.ms_overflow_pages;
			psize = ms.ms_psize;
			*keys += ms.ms_entries;
		}
	}
	mdb_txn_abort(txn);
	*bytes = pages * psize;
}

void
store_overlay_size(store *s, uint64_t *bytes, uint64_t *keys)
{
	store_ovl_size(&s->ovl[__atomic_load_n(&s->act, __ATOMIC_SEQ_CST)],
	        bytes, keys);
}

uint64_t
store_overlay_bytes(store *s)
{
	uint64_t bytes, keys;
	store_overlay_size(s, &bytes, &keys);
	return bytes;
}

int
store_overlay_each(const MDB_dbi *odbi, MDB_txn *otxn,
        int (*fn)(void *arg, int db, MDB_val *k, MDB_val *v), void *arg)
{
	for (int db = 0; db < STORE_N_DBS; db++) {
		MDB_cursor *cur;
		int rc = mdb_cursor_open(otxn, odbi[db], &cur);
		if (rc != 0) {
			return rc;
		}
		MDB_val k, v;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
		        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			int frc = fn(arg, db, &k, &v);
			if (frc != 0) {
				rc = frc;
				break;
			}
		}
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND) {
			return rc;
		}
	}
	return 0;
}

int
store_ckpt_cursor_apply(store *s, struct store_ckpt_cursors *cc, int db,
        const MDB_val *k, const MDB_val *v)
{
	int rc = 0;
	if (cc->c[db] == NULL) {
		rc = mdb_cursor_open(cc->txn, s->dbi[db], &cc->c[db]);
		if (rc != 0) {
			cc->c[db] = NULL;
			return rc;
		}
	}
	MDB_cursor *c = cc->c[db];
	MDB_val key = *k;
	const unsigned char *p = v->mv_data;
	if (v->mv_size > 0 && p[0] == 1) {
		MDB_val bv = { v->mv_size - 1, (void *) (p + 1) };
		return mdb_cursor_put(c, &key, &bv, 0);
	}
	MDB_val old;
	rc = mdb_cursor_get(c, &key, &old, MDB_SET);
	if (rc == 0) {
		rc = mdb_cursor_del(c, 0);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

void
store_ckpt_cursors_close(struct store_ckpt_cursors *cc)
{
	for (int db = 0; db < STORE_N_DBS; db++) {
		if (cc->c[db] != NULL) {
			mdb_cursor_close(cc->c[db]);
			cc->c[db] = NULL;
		}
	}
}

struct store_ckpt_copy {
	store *s;
	struct store_ckpt_cursors cc;
	uint64_t *keys;
};

/* store_overlay_each's fn: one overlay entry put or deleted in the base. */
static int
store_ckpt_copy_one(void *arg, int db, MDB_val *k, MDB_val *v)
{
	struct store_ckpt_copy *c = arg;
	int rc = store_ckpt_cursor_apply(c->s, &c->cc, db, k, v);
	if (rc == 0) {
		(*c->keys)++;
	}
	return rc;
}

/* One attempt at moving the frozen overlay into the base in one txn. */
static int
store_ckpt_try(store *s, uint64_t position, uint64_t *keys)
{
	struct store_ovl *f = store_frozen(s);
	MDB_txn *otxn, *btxn;
	int rc = mdb_txn_begin(f->env, NULL, MDB_RDONLY, &otxn);
	if (rc != 0) {
		return rc;
	}
	rc = mdb_txn_begin(s->env, NULL, 0, &btxn);
	if (rc != 0) {
		mdb_txn_abort(otxn);
		return rc;
	}
	*keys = 0;
	struct store_ckpt_copy c
	        = { .s = s, .cc = { .txn = btxn }, .keys = keys };
	rc = store_overlay_each(f->dbi, otxn, store_ckpt_copy_one, &c);
	store_ckpt_cursors_close(&c.cc);
	mdb_txn_abort(otxn);
	uint64_t checkpoints
	        = __atomic_load_n(&s->checkpoints, __ATOMIC_ACQUIRE);
	if (rc == 0) {
		unsigned char buf[8];
		store_u64_be(buf, position);
		MDB_val k = { strlen("journal_pos"), "journal_pos" };
		MDB_val v = { 8, buf };
		rc = mdb_put(btxn, s->dbi[STORE_DB_META], &k, &v, 0);
	}
	if (rc == 0) {
		unsigned char buf[8];
		store_u64_be(buf, checkpoints + 1);
		MDB_val k = { strlen("checkpoints"), "checkpoints" };
		MDB_val v = { 8, buf };
		rc = mdb_put(btxn, s->dbi[STORE_DB_META], &k, &v, 0);
	}
	/* What a failed chunked attempt left (store_ckpt.c). */
	static const char *const chunked[]
	        = { "ckpt_image", "ckpt_customers", "ckpt_touchpoints" };
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		MDB_val k = { strlen(chunked[i]), (void *) chunked[i] };
		rc = mdb_del(btxn, s->dbi[STORE_DB_META], &k, NULL);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
		}
	}
	if (rc != 0) {
		mdb_txn_abort(btxn);
		return rc;
	}
	rc = mdb_txn_commit(btxn);
	if (rc == 0) {
		__atomic_store_n(
		        &s->checkpoints, checkpoints + 1, __ATOMIC_RELEASE);
		__atomic_store_n(&s->position, position, __ATOMIC_RELEASE);
	}
	return rc;
}

bool
store_ckpt_frozen(store *s)
{
	return __atomic_load_n(&s->frozen, __ATOMIC_SEQ_CST);
}

clm_err
store_ckpt_freeze(store *s, uint64_t position)
{
	if (!store_has_overlay(s)) {
		return CLM_OK;
	}
	if (store_ckpt_frozen(s)) {
		return CLM_INTERNAL; /* the caller completes that one first */
	}
	/*
	 * The other overlay, empty, becomes the active one: its deltas will
	 * count from the base as this checkpoint leaves it (kv_counts reads
	 * that stamp once it is frozen in turn). Written there, not in the
	 * one being frozen, which may be full: that is one reason to freeze.
	 */
	struct store_ovl *n = &s->ovl[1 - s->act];
	MDB_txn *txn;
	int rc = mdb_txn_begin(n->env, NULL, 0, &txn);
	if (rc == 0) {
		store_txn t = { .s = s, .otxn = txn, .odbi = n->dbi };
		rc = kv_counts_reset(&t,
		        __atomic_load_n(&s->checkpoints, __ATOMIC_ACQUIRE)
		                + 1);
		rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
	}
	if (rc != 0) {
		return store_err(s, rc, "cannot freeze the overlay");
	}
	store_gen_bump(s);
	s->frozen_pos = position;
	s->frozen_moved = false;
	/*
	 * frozen first: a reader that loads the new act (it loads act,
	 * then frozen) must find frozen set, or it would read the base
	 * under the new, empty overlay alone before the second bump. One
	 * that loads the old act with frozen set reads the overlay being
	 * frozen as the active one over the empty one: the same state.
	 */
	__atomic_store_n(&s->frozen, true, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->act, 1 - s->act, __ATOMIC_SEQ_CST);
	store_gen_bump(s);
	return CLM_OK;
}

int
store_ckpt_run(store *s, bool may_grow, struct store_ckpt_stats *st)
{
	*st = (struct store_ckpt_stats) { 0 };
	if (!store_has_overlay(s) || !store_ckpt_frozen(s)
	        || s->frozen_moved) {
		return 0;
	}
	int64_t t0 = clock_mono_ns();
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_stat(s->env, &ms);
	mdb_env_info(s->env, &info);
	st->base_bytes_before
	        = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	uint64_t okeys;
	store_ovl_size(store_frozen(s), &st->overlay_bytes, &okeys);
	int rc;
	for (;;) {
		if (okeys > store_chunk_keys(s)) {
			rc = store_ckpt_chunked(
			        s, s->frozen_pos, &st->keys, may_grow);
			break;
		}
		rc = store_ckpt_try(s, s->frozen_pos, &st->keys);
		if (rc != MDB_MAP_FULL || !may_grow
		        || store_grow(s) != CLM_OK) {
			break;
		}
	}
	if (rc != 0) {
		return rc;
	}
	s->frozen_moved = true;
	mdb_env_info(s->env, &info);
	st->base_bytes_after
	        = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	st->duration_ns = clock_mono_ns() - t0;
	return 0;
}

int
store_ckpt_release(store *s)
{
	if (!store_has_overlay(s) || !store_ckpt_frozen(s)) {
		return 0;
	}
	if (!s->frozen_moved) {
		return EINVAL; /* store_ckpt_run first */
	}
	struct store_ovl *f = store_frozen(s);
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(f->env, NULL, 0, &txn);
	for (int i = 0; rc == 0 && i <= STORE_N_DBS; i++) {
		rc = mdb_drop(txn, f->dbi[i], 0);
	}
	if (rc != 0) {
		if (txn != NULL) {
			mdb_txn_abort(txn);
		}
		return rc;
	}
	/*
	 * Before the emptying is visible: a reader whose frozen snapshot is
	 * empty then sees the bump too (store_begin_levels). And after, so
	 * that one whose snapshot began between the two sees it, and one
	 * that found it no longer frozen began after the first.
	 */
	store_gen_bump(s);
	rc = mdb_txn_commit(txn);
	if (rc == 0) {
		__atomic_store_n(&s->frozen, false, __ATOMIC_SEQ_CST);
	}
	store_gen_bump(s);
	return rc;
}

clm_err
store_ckpt_err(store *s, int rc)
{
	s->map_full = false;
	s->disk_full = false;
	s->overlay_full = false;
	return store_err(s, rc, "cannot checkpoint the overlay");
}

/*
 * Grows an overlay's map to next bytes, allocating the file first (as
 * store_overlay_open does). No transaction of o may be open; readers are
 * held off as by store_grow.
 */
static int
store_ovl_grow_to(store *s, struct store_ovl *o, uint64_t next)
{
	MDB_envinfo info;
	mdb_env_info(o->env, &info);
	uint64_t cur = info.me_mapsize;
	if (next <= cur) {
		return 0;
	}
	int fd = -1;
	mdb_env_get_fd(o->env, &fd);
	int rc = fd >= 0 ? posix_fallocate(fd, 0, (off_t) next) : EBADF;
	if (rc != 0) {
		/* What it allocated before it failed: the disk's, again. */
		if (fd >= 0 && ftruncate(fd, (off_t) cur) != 0) {
			log_warn(
			        "cannot cut an overlay back to %llu bytes: %s",
			        (unsigned long long) cur, strerror(errno));
		}
		return rc;
	}
	pthread_mutex_lock(&s->turnstile);
	pthread_rwlock_wrlock(&s->remap);
	rc = mdb_env_set_mapsize(o->env, (size_t) next);
	pthread_rwlock_unlock(&s->remap);
	pthread_mutex_unlock(&s->turnstile);
	if (rc == 0) {
		log_info("overlay map grown from %llu to %llu bytes",
		        (unsigned long long) cur, (unsigned long long) next);
	}
	return rc;
}

/*
 * Grows an overlay's map by a quarter, at least 8 MiB. Emptying a frozen
 * overlay that filled to the last page needs pages for LMDB's freelist
 * that it does not have.
 */
static int
store_ovl_grow(store *s, struct store_ovl *o)
{
	MDB_envinfo info;
	mdb_env_info(o->env, &info);
	uint64_t cur = info.me_mapsize;
	return store_ovl_grow_to(
	        s, o, cur + (cur / 4 > (8u << 20) ? cur / 4 : (8u << 20)));
}

int
store_overlay_reserve(store *s, uint64_t map_bytes)
{
	if (!store_has_overlay(s)) {
		return 0;
	}
	return store_ovl_grow_to(s,
	        &s->ovl[__atomic_load_n(&s->act, __ATOMIC_SEQ_CST)],
	        map_bytes);
}

uint64_t
store_overlay_map(store *s)
{
	if (!store_has_overlay(s)) {
		return 0;
	}
	MDB_envinfo info;
	mdb_env_info(
	        s->ovl[__atomic_load_n(&s->act, __ATOMIC_SEQ_CST)].env, &info);
	return info.me_mapsize;
}

bool
store_ckpt_regrow(store *s, int rc)
{
	if (rc != MDB_MAP_FULL) {
		return false;
	}
	/* Moved already: the full map is the frozen overlay's. */
	if (store_ckpt_frozen(s) && s->frozen_moved) {
		return store_ovl_grow(s, store_frozen(s)) == 0;
	}
	return store_grow(s) == CLM_OK;
}

uint64_t
store_ckpt_position(store *s)
{
	return s->frozen_pos;
}

/* Runs and releases the frozen overlay, growing what fills up. */
static int
store_ckpt_finish(store *s, struct store_ckpt_stats *st)
{
	int rc = store_ckpt_run(s, true, st);
	for (int i = 0; rc == 0 && i < 4; i++) {
		rc = store_ckpt_release(s);
		if (!store_ckpt_regrow(s, rc)) {
			break;
		}
		rc = 0;
	}
	return rc;
}

clm_err
store_checkpoint(store *s, uint64_t position, struct store_ckpt_stats *st)
{
	*st = (struct store_ckpt_stats) { 0 };
	if (!store_has_overlay(s)) {
		return CLM_OK;
	}
	/*
	 * First what a background checkpoint left. On failure the frozen
	 * overlay stays, right to read over the base (which may hold it
	 * already), and the next checkpoint completes it first.
	 */
	int rc = store_ckpt_finish(s, st);
	if (rc != 0) {
		return store_ckpt_err(s, rc);
	}
	clm_err e = store_ckpt_freeze(s, position);
	if (e != CLM_OK) {
		return e;
	}
	rc = store_ckpt_finish(s, st);
	return rc != 0 ? store_ckpt_err(s, rc) : CLM_OK;
}

uint64_t
store_view_bytes(store *s)
{
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_stat(s->env, &ms);
	mdb_env_info(s->env, &info);
	return (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
}

uint64_t
store_headroom(store *s)
{
	uint64_t used = store_view_bytes(s);
	return used >= (uint64_t) s->max_db_bytes
	        ? 0
	        : (uint64_t) s->max_db_bytes - used;
}
