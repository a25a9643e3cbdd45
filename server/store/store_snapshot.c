#include "store/store_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fsdir.h"

/* clmd's named databases fit in 24 (store.c opens its env the same). */
#define STORE_SNAPSHOT_MAXDBS 24

/* meta's u64 values are 8 bytes, big-endian (store.c). */
static uint64_t
store_snapshot_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

/*
 * Copies env into fd, compacted, from the start of the file. Another
 * process (clmd) may have grown the map since env was opened: LMDB then
 * says MDB_MAP_RESIZED, and the env adopts the new size and copies again.
 */
static int
store_snapshot_copy(MDB_env *env, int fd)
{
	int rc = MDB_MAP_RESIZED;
	for (int i = 0; i < 8 && rc == MDB_MAP_RESIZED; i++) {
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
			return errno;
		}
		rc = mdb_env_copyfd2(env, fd, MDB_CP_COMPACT);
		if (rc == MDB_MAP_RESIZED) {
			mdb_env_set_mapsize(env, 0);
		}
	}
	return rc;
}

/*
 * Reads the copy at path: its position, and whether it was taken between
 * the chunks of a checkpoint. Returns 0, MDB_NOTFOUND when it has no meta
 * database (not clm's), or an LMDB or errno code.
 */
static int
store_snapshot_check(const char *path, uint64_t *position, bool *mid)
{
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc != 0) {
		return rc;
	}
	MDB_txn *txn = NULL;
	rc = mdb_env_set_maxdbs(env, STORE_SNAPSHOT_MAXDBS);
	if (rc == 0) {
		/* The copy is ours alone: no lock file next to it. */
		rc = mdb_env_open(env, path,
		        MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0600);
	}
	if (rc == 0) {
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	}
	MDB_dbi meta;
	if (rc == 0) {
		rc = mdb_dbi_open(txn, "meta", 0, &meta);
	}
	MDB_val k = { strlen("schema"), "schema" }, v;
	if (rc == 0) {
		rc = mdb_get(txn, meta, &k, &v); /* every clm store has one */
	}
	if (rc == 0) {
		k = (MDB_val) { strlen("journal_pos"), "journal_pos" };
		rc = mdb_get(txn, meta, &k, &v);
		*position = rc == 0 && v.mv_size == 8
		        ? store_snapshot_be64(v.mv_data)
		        : 0;
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	}
	if (rc == 0) {
		k = (MDB_val) { strlen("ckpt_image"), "ckpt_image" };
		rc = mdb_get(txn, meta, &k, &v);
		*mid = rc == 0;
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	}
	mdb_txn_abort(txn); /* NULL is fine */
	mdb_env_close(env);
	return rc;
}

/* err from an LMDB or errno code (mdb_strerror covers both). */
static clm_err
store_snapshot_fail(char *err, size_t errlen, clm_err code, const char *what,
        const char *path, int rc)
{
	snprintf(err, errlen, "cannot %s '%s': %s", what, path,
	        mdb_strerror(rc));
	return code;
}

clm_err
store_snapshot(const char *dir, const char *file,
        struct store_snapshot_info *out, char *err, size_t errlen)
{
	char data[4096];
	struct stat st;
	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	if (stat(data, &st) != 0) {
		snprintf(err, errlen, "no database in '%s' (no data.mdb): %s",
		        dir, strerror(errno));
		return CLM_NOT_FOUND;
	}
	char tmp[4096 + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	MDB_env *env;
	int rc = mdb_env_create(&env);
	if (rc == 0) {
		rc = mdb_env_set_maxdbs(env, STORE_SNAPSHOT_MAXDBS);
	}
	if (rc == 0) {
		/*
		 * Read-only, with the lock file: a reader slot in clmd's
		 * table, so clmd keeps the pages of our transaction.
		 */
		rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0);
	}
	if (rc != 0) {
		mdb_env_close(env);
		return store_snapshot_fail(
		        err, errlen, CLM_UNAVAILABLE, "open", dir, rc);
	}
	clm_err e = CLM_OK;
	int fd = -1;
	uint64_t position = 0;
	bool mid = true;
	for (int i = 0; i < STORE_SNAPSHOT_TRIES && mid; i++) {
		if (i > 0) {
			struct timespec ts = { 0, 100000000 };
			nanosleep(&ts, NULL);
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			e = store_snapshot_fail(err, errlen, CLM_UNAVAILABLE,
			        "create", tmp, errno);
			break;
		}
		rc = store_snapshot_copy(env, fd);
		if (rc == 0 && fsync(fd) != 0) {
			rc = errno;
		}
		if (close(fd) != 0 && rc == 0) {
			rc = errno;
		}
		fd = -1;
		if (rc != 0) {
			e = store_snapshot_fail(err, errlen, CLM_UNAVAILABLE,
			        "copy the database to", tmp, rc);
			break;
		}
		rc = store_snapshot_check(tmp, &position, &mid);
		if (rc == MDB_NOTFOUND) {
			snprintf(err, errlen,
			        "'%s' is not a clm data directory (no meta schema)",
			        dir);
			e = CLM_FAILED_PRECONDITION;
			break;
		}
		if (rc != 0) {
			e = store_snapshot_fail(err, errlen, CLM_UNAVAILABLE,
			        "read the copy", tmp, rc);
			break;
		}
	}
	mdb_env_close(env);
	if (e == CLM_OK && mid) {
		snprintf(err, errlen,
		        "'%s' stayed in the middle of a checkpoint for %d tries: try again",
		        dir, STORE_SNAPSHOT_TRIES);
		e = CLM_FAILED_PRECONDITION;
	}
	if (e == CLM_OK && rename(tmp, file) != 0) {
		e = store_snapshot_fail(err, errlen, CLM_UNAVAILABLE,
		        "rename to", file, errno);
	}
	if (e != CLM_OK) {
		unlink(tmp);
		return e;
	}
	if (fsdir_sync_parent(file) != 0) {
		return store_snapshot_fail(err, errlen, CLM_UNAVAILABLE,
		        "sync the directory of", file, errno);
	}
	if (stat(file, &st) != 0) {
		return store_snapshot_fail(
		        err, errlen, CLM_UNAVAILABLE, "stat", file, errno);
	}
	out->position = position;
	out->bytes = (uint64_t) st.st_size;
	return CLM_OK;
}
