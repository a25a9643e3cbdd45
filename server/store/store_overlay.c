/*
 * Transactions, and the overlay that the journal's writes go to until a
 * checkpoint moves them into the base view (issue 14; docs/architecture.md,
 * "The journal and the overlay").
 *
 * The overlay is a second LMDB environment in DIR/overlay with the same
 * tables, opened MDB_NOSYNC | MDB_WRITEMAP: its commits are memory
 * operations, made durable not by LMDB but by the journal entry written
 * before each one. It is deleted and rebuilt from the journal at every
 * start, so nothing in it is ever trusted after a crash. Its file is
 * allocated in full when it is created (posix_fallocate), so that a full
 * disk cannot fault a write through the map.
 *
 * A checkpoint copies the overlay into the base in one synced write
 * transaction that also stores the journal position it reflects, then
 * empties the overlay (the writer thread does both, with no write in
 * between). A large overlay goes in several transactions, from a synced
 * image (store_ckpt.c); "the commit" below is then the last one, and
 * a base between two of them reads like one before the commit (the
 * overlay, read first, holds every key the chunks move, and kv_counts
 * takes the counts from meta). A reader begins its base transaction,
 * then its overlay one:
 * - both before the checkpoint, or both after the overlay is emptied:
 *   one consistent state;
 * - the base before the checkpoint's commit and the overlay before the
 *   emptying: the overlay holds everything since the base's checkpoint,
 *   up to a later instant: consistent at that instant;
 * - the base after the commit, the overlay before the emptying: that
 *   overlay is exactly what the checkpoint moved, and it holds
 *   post-images (whole values and tombstones), so reading it over the
 *   base changes nothing (its counters, which are deltas, are then left
 *   out: kv_counts);
 * - the base before the commit, the overlay after the emptying: what the
 *   checkpoint moved would be missing. store->generation, bumped between
 *   the base's commit and the emptying's (and again after it), tells:
 *   the reader read it before its base began and again after its overlay
 *   began, and begins again when it moved.
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
	if (r->otxn != NULL) {
		mdb_txn_abort(r->otxn);
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

clm_err
store_read_begin(store_reader *r, store_txn **txn)
{
	store *s = r->s;
	/* Wait behind a map resize that is waiting for readers to leave. */
	pthread_mutex_lock(&s->turnstile);
	pthread_mutex_unlock(&s->turnstile);
	pthread_rwlock_rdlock(&s->remap);
	int rc;
	for (;;) {
		uint64_t g0 = store_gen(s);
		rc = store_renew(s->env, &r->t.txn);
		if (rc == 0 && s->oenv != NULL) {
			rc = store_renew(s->oenv, &r->otxn);
			if (rc != 0) {
				mdb_txn_reset(r->t.txn);
			}
		}
		if (rc != 0 || s->oenv == NULL || store_gen(s) == g0) {
			break;
		}
		/* The overlay was emptied in between: again. */
		mdb_txn_reset(r->otxn);
		mdb_txn_reset(r->t.txn);
	}
	if (rc != 0) {
		pthread_rwlock_unlock(&s->remap);
		return store_err(s, rc, "cannot begin read transaction");
	}
	r->t.otxn = s->oenv != NULL ? r->otxn : NULL;
	r->t.write = false;
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
	mdb_txn_reset(txn->txn);
	if (txn->otxn != NULL) {
		mdb_txn_reset(txn->otxn);
	}
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
	if (s->oenv == NULL) {
		rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
	} else {
		rc = store_renew(s->env, &s->wbase);
		if (rc == 0) {
			rc = mdb_txn_begin(s->oenv, NULL, 0, &t->otxn);
			if (rc != 0) {
				mdb_txn_reset(s->wbase);
			}
		}
		t->txn = s->wbase;
	}
	if (rc != 0) {
		t->txn = NULL;
		t->otxn = NULL;
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
		mdb_txn_reset(t->txn); /* the base's, kept for renew */
	} else if (t->txn != NULL) {
		mdb_txn_abort(t->txn);
	}
	t->txn = NULL;
	t->otxn = NULL;
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
		mdb_txn_reset(t->txn);
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
	return s->position;
}

/* Removes DIR/overlay's files, left by an earlier run. */
static int
store_overlay_clear(const char *odir, char *err, size_t errlen)
{
	static const char *const names[] = { "data.mdb", "lock.mdb" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[4096 + 16];
		snprintf(path, sizeof(path), "%s/%s", odir, names[i]);
		if (unlink(path) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "cannot remove '%s': %s", path,
			        strerror(errno));
			return -1;
		}
	}
	return 0;
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
		rc = mdb_env_open(env, odir,
		        MDB_NOSYNC | MDB_WRITEMAP | MDB_NOTLS | MDB_NORDAHEAD,
		        0600);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot open the overlay '%s': %s", odir,
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
		        (unsigned long long) map_bytes, odir, strerror(fe));
		mdb_env_close(env);
		return fe == ENOSPC ? CLM_RESOURCE_EXHAUSTED : CLM_UNAVAILABLE;
	}
	MDB_txn *txn = NULL;
	rc = mdb_txn_begin(env, NULL, 0, &txn);
	static const char *const names[STORE_N_DBS + 1]
	        = { "customers", "touchpoints", "event_ids", "meta", "aliases",
		          "onboarding", "items", "stores", "cooccur", "claims",
		          "agg", "spend", "experiments", "overlay_counts" };
	for (int i = 0; rc == 0 && i <= STORE_N_DBS; i++) {
		rc = mdb_dbi_open(txn, names[i], MDB_CREATE, &s->odbi[i]);
	}
	if (rc == 0) {
		store_txn t = { .s = s, .otxn = txn };
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
	s->oenv = env;
	s->overlay_map = map_bytes;
	return CLM_OK;
}

void
store_overlay_close(store *s)
{
	if (s->wbase != NULL) {
		mdb_txn_abort(s->wbase);
		s->wbase = NULL;
	}
	if (s->oenv != NULL) {
		mdb_env_close(s->oenv);
		s->oenv = NULL;
	}
}

void
store_overlay_size(store *s, uint64_t *bytes, uint64_t *keys)
{
	*bytes = 0;
	*keys = 0;
	if (s->oenv == NULL) {
		return;
	}
	/*
	 * The pages its tables hold now (the map's highest page only ever
	 * grows, and a checkpoint frees them all).
	 */
	MDB_txn *txn;
	if (mdb_txn_begin(s->oenv, NULL, MDB_RDONLY, &txn) != 0) {
		return;
	}
	uint64_t pages = 0, psize = 4096;
	for (int i = 0; i < STORE_N_DBS; i++) {
		MDB_stat ms;
		if (mdb_stat(txn, s->odbi[i], &ms) == 0) {
			pages += ms.ms_branch_pages + ms.ms_leaf_pages
			        + ms.ms_overflow_pages;
			psize = ms.ms_psize;
			*keys += ms.ms_entries;
		}
	}
	mdb_txn_abort(txn);
	*bytes = pages * psize;
}

uint64_t
store_overlay_bytes(store *s)
{
	uint64_t bytes, keys;
	store_overlay_size(s, &bytes, &keys);
	return bytes;
}

int
store_overlay_each(store *s, MDB_txn *otxn,
        int (*fn)(void *arg, int db, MDB_val *k, MDB_val *v), void *arg)
{
	for (int db = 0; db < STORE_N_DBS; db++) {
		MDB_cursor *cur;
		int rc = mdb_cursor_open(otxn, s->odbi[db], &cur);
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

struct store_ckpt_copy {
	store *s;
	MDB_txn *btxn;
	uint64_t *keys;
};

/* store_overlay_each's fn: one overlay entry put or deleted in the base. */
static int
store_ckpt_copy_one(void *arg, int db, MDB_val *k, MDB_val *v)
{
	struct store_ckpt_copy *c = arg;
	const unsigned char *p = v->mv_data;
	int rc;
	if (v->mv_size > 0 && p[0] == 1) {
		MDB_val bv = { v->mv_size - 1, (void *) (p + 1) };
		rc = mdb_put(c->btxn, c->s->dbi[db], k, &bv, 0);
	} else {
		rc = mdb_del(c->btxn, c->s->dbi[db], k, NULL);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
		}
	}
	if (rc == 0) {
		(*c->keys)++;
	}
	return rc;
}

/* Copies every table of the overlay into the base write transaction. */
static int
store_ckpt_copy(store *s, MDB_txn *otxn, MDB_txn *btxn, uint64_t *keys)
{
	struct store_ckpt_copy c = { s, btxn, keys };
	return store_overlay_each(s, otxn, store_ckpt_copy_one, &c);
}

/* One attempt at moving the overlay into the base (see store.h). */
static int
store_ckpt_try(store *s, uint64_t position, uint64_t *keys)
{
	MDB_txn *otxn, *btxn;
	int rc = mdb_txn_begin(s->oenv, NULL, MDB_RDONLY, &otxn);
	if (rc != 0) {
		return rc;
	}
	rc = mdb_txn_begin(s->env, NULL, 0, &btxn);
	if (rc != 0) {
		mdb_txn_abort(otxn);
		return rc;
	}
	*keys = 0;
	rc = store_ckpt_copy(s, otxn, btxn, keys);
	mdb_txn_abort(otxn);
	if (rc == 0) {
		unsigned char buf[8];
		store_u64_be(buf, position);
		MDB_val k = { strlen("journal_pos"), "journal_pos" };
		MDB_val v = { 8, buf };
		rc = mdb_put(btxn, s->dbi[STORE_DB_META], &k, &v, 0);
	}
	if (rc == 0) {
		unsigned char buf[8];
		store_u64_be(buf, s->checkpoints + 1);
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
		s->checkpoints++;
	}
	return rc;
}

/* Empties every table of the overlay. */
static int
store_ckpt_drop(store *s)
{
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(s->oenv, NULL, 0, &txn);
	for (int i = 0; rc == 0 && i <= STORE_N_DBS; i++) {
		rc = mdb_drop(txn, s->odbi[i], 0);
	}
	if (rc == 0) {
		store_txn t = { .s = s, .otxn = txn };
		rc = kv_counts_reset(&t, s->checkpoints);
	}
	if (rc != 0) {
		if (txn != NULL) {
			mdb_txn_abort(txn);
		}
		return rc;
	}
	/*
	 * Before the emptying is visible: a reader whose overlay snapshot
	 * is empty then sees the bump too (store_read_begin). And after, so
	 * that one whose overlay began between the two sees it.
	 */
	store_gen_bump(s);
	rc = mdb_txn_commit(txn);
	store_gen_bump(s);
	return rc;
}

clm_err
store_checkpoint(store *s, uint64_t position, struct store_ckpt_stats *st)
{
	*st = (struct store_ckpt_stats) { 0 };
	if (s->oenv == NULL) {
		return CLM_OK;
	}
	s->map_full = false;
	s->disk_full = false;
	s->overlay_full = false;
	int64_t t0 = clock_mono_ns();
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_stat(s->env, &ms);
	mdb_env_info(s->env, &info);
	st->base_bytes_before
	        = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	uint64_t okeys;
	store_overlay_size(s, &st->overlay_bytes, &okeys);
	int rc;
	clm_err e;
	for (;;) {
		if (okeys > store_chunk_keys(s)) {
			e = store_ckpt_chunked(s, position, &st->keys);
			break;
		}
		rc = store_ckpt_try(s, position, &st->keys);
		e = store_err(s, rc, "cannot checkpoint the overlay");
		if (e != CLM_RESOURCE_EXHAUSTED || !s->map_full) {
			break;
		}
		e = store_grow(s); /* RESOURCE_EXHAUSTED at max_db_bytes */
		if (e != CLM_OK) {
			break;
		}
	}
	if (e != CLM_OK) {
		return e;
	}
	s->position = position;
	rc = store_ckpt_drop(s);
	if (rc != 0) {
		/*
		 * The base has it all; an overlay that cannot be emptied
		 * is still right to read over it, but full.
		 */
		return store_err(s, rc, "cannot empty the overlay");
	}
	mdb_env_info(s->env, &info);
	st->base_bytes_after
	        = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	st->duration_ns = clock_mono_ns() - t0;
	return CLM_OK;
}

uint64_t
store_headroom(store *s)
{
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_stat(s->env, &ms);
	mdb_env_info(s->env, &info);
	uint64_t used = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	return used >= (uint64_t) s->max_db_bytes
	        ? 0
	        : (uint64_t) s->max_db_bytes - used;
}
