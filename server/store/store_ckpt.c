/*
 * Chunked checkpoints and their redo image (issue 14; docs/architecture.md,
 * "The journal and the overlay").
 *
 * One LMDB write transaction that dirties N pages keeps N malloc'd page
 * buffers until the environment closes (without MDB_WRITEMAP), so a large
 * overlay is moved into the base in several transactions of at most
 * chunk_keys keys each. Between two of them the base holds a partly
 * applied overlay:
 * - readers are fine: the overlay, still whole, holds the post-image of
 *   every key being moved and is read first; store_stats takes the base's
 *   counts as they were before the first chunk from meta (kv_counts);
 * - recovery is not: the journal replayed from the old journal_pos onto
 *   that base would apply its deltas twice. So every key, value and
 *   tombstone is first written to DATA/checkpoint.img and synced, and the
 *   first chunk stores meta "ckpt_image" (the checkpoint count the image
 *   produces). A start that finds the flag re-applies the whole image
 *   (post-images: applying one twice changes nothing) before the journal
 *   is opened; one that finds an image without the flag deletes it.
 *
 * The image: a header of 40 bytes (magic "CLMCKIMG", version u32, zero
 * u32, position u64, checkpoints u64, entries u64), then per entry db u8,
 * key length u16, value length u32, key, value (the overlay's: a flag
 * byte 1 then the value, or a tombstone), then zlib's crc32 of all that;
 * integers big-endian. It is written as checkpoint.img.tmp and renamed,
 * so the name the flag refers to always holds a whole image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store/store_internal.h"
#include "util/fsdir.h"
#include "util/log.h"

#define STORE_IMG_MAGIC   "CLMCKIMG"
#define STORE_IMG_VERSION 1
#define STORE_IMG_HEADER  40
#define STORE_CHUNK_KEYS  16384

/* An image mapped for reading, checked whole (store_img_map). */
struct store_img {
	const unsigned char *p;
	size_t size;
	uint64_t position, checkpoints, entries;
};

void
store_set_chunk_keys(store *s, uint64_t keys)
{
	s->chunk_keys = keys;
}

uint64_t
store_chunk_keys(const store *s)
{
	return s->chunk_keys != 0 ? s->chunk_keys : STORE_CHUNK_KEYS;
}

static void
store_img_path(const store *s, char *path, size_t len, bool tmp)
{
	snprintf(path, len, "%s/checkpoint.img%s", s->dir, tmp ? ".tmp" : "");
}

/*
 * The image being written: plain write(2) calls of a buffer (not stdio),
 * so that tools that model what a power cut keeps see every byte. The
 * checksum is taken of the buffer as it is written out, not of each
 * piece added: an entry is three small pieces (header, key, value), and
 * zlib's crc32 ran at 0.74 GB/s over pieces of 7, 12 and 90 bytes against
 * 4.2 GB/s over the same bytes in one call.
 */
struct store_img_out {
	int fd;
	size_t n;
	uLong crc;
	unsigned char buf[1 << 16];
};

/* Writes out the buffer, outside the checksum; 0 or an errno code. */
static int
store_img_write_out(struct store_img_out *o)
{
	size_t off = 0;
	while (off < o->n) {
		ssize_t w = write(o->fd, o->buf + off, o->n - off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return w < 0 ? errno : EIO;
		}
		off += (size_t) w;
	}
	o->n = 0;
	return 0;
}

/* Adds the buffer to the checksum and writes it out; 0 or an errno code. */
static int
store_img_flush(struct store_img_out *o)
{
	o->crc = crc32_z(o->crc, o->buf, o->n);
	return store_img_write_out(o);
}

/* Adds n bytes to the image (and its checksum); 0 or an errno code. */
static int
store_img_out(struct store_img_out *o, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n > 0) {
		if (o->n == sizeof(o->buf)) {
			int rc = store_img_flush(o);
			if (rc != 0) {
				return rc;
			}
		}
		size_t c = sizeof(o->buf) - o->n;
		c = c < n ? c : n;
		memcpy(o->buf + o->n, b, c);
		o->n += c;
		b += c;
		n -= c;
	}
	return 0;
}

/* store_overlay_each's fn: one overlay entry written to the image. */
static int
store_img_entry(void *arg, int db, MDB_val *k, MDB_val *v)
{
	struct store_img_out *o = arg;
	unsigned char h[7];
	h[0] = (unsigned char) db;
	h[1] = (unsigned char) (k->mv_size >> 8);
	h[2] = (unsigned char) k->mv_size;
	store_u32_be(h + 3, (uint32_t) v->mv_size);
	int rc = store_img_out(o, h, sizeof(h));
	if (rc == 0) {
		rc = store_img_out(o, k->mv_data, k->mv_size);
	}
	if (rc == 0) {
		rc = store_img_out(o, v->mv_data, v->mv_size);
	}
	return rc;
}

/* Writes the entries of every table of the overlay read in otxn. */
static int
store_img_entries(const MDB_dbi *odbi, MDB_txn *otxn, struct store_img_out *o)
{
	return store_overlay_each(odbi, otxn, store_img_entry, o);
}

/*
 * Writes the frozen overlay's image for a checkpoint to position and renames
 * it into place, synced with its directory. Returns 0 or an LMDB or errno
 * code.
 */
static int
store_img_write(store *s, uint64_t position)
{
	char tmp[4096 + 32], path[4096 + 32];
	store_img_path(s, tmp, sizeof(tmp), true);
	store_img_path(s, path, sizeof(path), false);
	const struct store_ovl *f = store_frozen(s);
	MDB_txn *otxn;
	int rc = mdb_txn_begin(f->env, NULL, MDB_RDONLY, &otxn);
	if (rc != 0) {
		return rc;
	}
	uint64_t entries = 0;
	for (int db = 0; rc == 0 && db < STORE_N_DBS; db++) {
		MDB_stat ms;
		rc = mdb_stat(otxn, f->dbi[db], &ms);
		entries += ms.ms_entries;
	}
	struct store_img_out *o = rc == 0 ? malloc(sizeof(*o)) : NULL;
	if (rc == 0 && o == NULL) {
		rc = ENOMEM;
	}
	if (rc == 0) {
		o->n = 0;
		o->crc = crc32_z(0, NULL, 0);
		o->fd = open(
		        tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (o->fd < 0) {
			rc = errno;
		}
	}
	if (rc != 0) {
		free(o);
		mdb_txn_abort(otxn);
		return rc;
	}
	unsigned char h[STORE_IMG_HEADER] = { 0 };
	memcpy(h, STORE_IMG_MAGIC, 8);
	store_u32_be(h + 8, STORE_IMG_VERSION);
	store_u64_be(h + 16, position);
	store_u64_be(h + 24,
	        __atomic_load_n(&s->checkpoints, __ATOMIC_ACQUIRE) + 1);
	store_u64_be(h + 32, entries);
	rc = store_img_out(o, h, sizeof(h));
	if (rc == 0) {
		rc = store_img_entries(f->dbi, otxn, o);
	}
	mdb_txn_abort(otxn);
	if (rc == 0) {
		rc = store_img_flush(o); /* the checksum now covers it all */
	}
	if (rc == 0) {
		store_u32_be(o->buf, (uint32_t) o->crc);
		o->n = 4;
		rc = store_img_write_out(o);
	}
	if (rc == 0 && fdatasync(o->fd) != 0) {
		rc = errno;
	}
	if (close(o->fd) != 0 && rc == 0) {
		rc = errno;
	}
	free(o);
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = errno;
	}
	if (rc == 0 && fsdir_sync(s->dir) != 0) {
		rc = errno;
	}
	if (rc != 0) {
		unlink(tmp);
	}
	return rc;
}

/*
 * Maps the image at path and checks it whole: header, every entry's
 * bounds, the checksum. Returns 0, an errno code (ENOENT: no image), or
 * EBADMSG with why set to what is wrong.
 */
static int
store_img_map(const char *path, struct store_img *img, const char **why)
{
	*img = (struct store_img) { 0 };
	*why = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int rc = errno;
		close(fd);
		return rc;
	}
	if (st.st_size < STORE_IMG_HEADER + 4) {
		close(fd);
		*why = "shorter than its header";
		return EBADMSG;
	}
	size_t size = (size_t) st.st_size;
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	int rc = p == MAP_FAILED ? errno : 0;
	close(fd);
	if (rc != 0) {
		return rc;
	}
	const unsigned char *b = p;
	img->p = b;
	img->size = size;
	img->position = store_be_u64(b + 16);
	img->checkpoints = store_be_u64(b + 24);
	img->entries = store_be_u64(b + 32);
	if (memcmp(b, STORE_IMG_MAGIC, 8) != 0) {
		*why = "not a checkpoint image";
	} else if (store_be_u32(b + 8) != STORE_IMG_VERSION) {
		*why = "unknown version";
	} else if ((uint32_t) crc32_z(0, b, size - 4)
	        != store_be_u32(b + size - 4)) {
		*why = "checksum mismatch";
	} else {
		size_t off = STORE_IMG_HEADER;
		uint64_t n = 0;
		while (off + 7 <= size - 4) {
			size_t klen = (size_t) b[off + 1] << 8 | b[off + 2];
			size_t vlen = store_be_u32(b + off + 3);
			size_t room = size - 4 - off - 7;
			if (b[off] >= STORE_N_DBS || klen == 0
			        || klen > STORE_KEY_MAX || klen > room
			        || vlen > room - klen) {
				break;
			}
			off += 7 + klen + vlen;
			n++;
		}
		if (off != size - 4 || n != img->entries) {
			*why = "entries do not match the header";
		}
	}
	if (*why != NULL) {
		munmap(p, size);
		*img = (struct store_img) { 0 };
		return EBADMSG;
	}
	return 0;
}

static void
store_img_unmap(struct store_img *img)
{
	if (img->p != NULL) {
		munmap((void *) img->p, img->size);
	}
	*img = (struct store_img) { 0 };
}

static int
store_ckpt_meta_put(store *s, MDB_txn *txn, const char *name, uint64_t val)
{
	unsigned char buf[8];
	store_u64_be(buf, val);
	MDB_val k = { strlen(name), (void *) name }, v = { 8, buf };
	return mdb_put(txn, s->dbi[STORE_DB_META], &k, &v, 0);
}

static int
store_ckpt_meta_del(store *s, MDB_txn *txn, const char *name)
{
	MDB_val k = { strlen(name), (void *) name };
	int rc = mdb_del(txn, s->dbi[STORE_DB_META], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * The first chunk's meta: the flag, and (unless an earlier attempt set
 * them, on the base as it was before any chunk) the counts store_stats
 * reads while the flag is set.
 */
static int
store_ckpt_first(store *s, MDB_txn *txn, uint64_t checkpoints)
{
	MDB_val k = { strlen("ckpt_image"), "ckpt_image" }, v;
	int rc = mdb_get(txn, s->dbi[STORE_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		MDB_stat mc, mt;
		rc = mdb_stat(txn, s->dbi[STORE_DB_CUSTOMERS], &mc);
		if (rc == 0) {
			rc = mdb_stat(txn, s->dbi[STORE_DB_TOUCHPOINTS], &mt);
		}
		if (rc == 0) {
			rc = store_ckpt_meta_put(
			        s, txn, "ckpt_customers", mc.ms_entries);
		}
		if (rc == 0) {
			rc = store_ckpt_meta_put(
			        s, txn, "ckpt_touchpoints", mt.ms_entries);
		}
	}
	if (rc == 0) {
		rc = store_ckpt_meta_put(s, txn, "ckpt_image", checkpoints);
	}
	return rc;
}

/* The last chunk's meta: the checkpoint done. */
static int
store_ckpt_last(store *s, MDB_txn *txn, const struct store_img *img)
{
	int rc = store_ckpt_meta_put(s, txn, "journal_pos", img->position);
	if (rc == 0) {
		rc = store_ckpt_meta_put(
		        s, txn, "checkpoints", img->checkpoints);
	}
	if (rc == 0) {
		rc = store_ckpt_meta_del(s, txn, "ckpt_image");
	}
	if (rc == 0) {
		rc = store_ckpt_meta_del(s, txn, "ckpt_customers");
	}
	if (rc == 0) {
		rc = store_ckpt_meta_del(s, txn, "ckpt_touchpoints");
	}
	return rc;
}

/*
 * Applies the image's entries from byte *off on, at most keys of them, in
 * one base transaction (with the first or last chunk's meta); on success
 * *off and *done move past them.
 */
static int
store_ckpt_chunk(store *s, const struct store_img *img, size_t *off,
        uint64_t *done, uint64_t keys)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0) {
		return rc;
	}
	if (*done == 0) {
		rc = store_ckpt_first(s, txn, img->checkpoints);
	}
	size_t o = *off;
	uint64_t n = 0;
	const unsigned char *b = img->p;
	struct store_ckpt_cursors cc = { .txn = txn };
	while (rc == 0 && n < keys && *done + n < img->entries) {
		size_t klen = (size_t) b[o + 1] << 8 | b[o + 2];
		size_t vlen = store_be_u32(b + o + 3);
		MDB_val k = { klen, (void *) (b + o + 7) };
		MDB_val v = { vlen, (void *) (b + o + 7 + klen) };
		rc = store_ckpt_cursor_apply(s, &cc, b[o], &k, &v);
		o += 7 + klen + vlen;
		n++;
	}
	store_ckpt_cursors_close(&cc);
	if (rc == 0 && *done + n == img->entries) {
		rc = store_ckpt_last(s, txn, img);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	if (rc == 0) {
		*off = o;
		*done += n;
	}
	return rc;
}

/*
 * Applies the whole image in chunks, growing the map as needed when
 * may_grow (else MDB_MAP_FULL); at the end the base is at the image's
 * checkpoint. Then removes the image. Returns 0 or an LMDB or errno code.
 */
static int
store_ckpt_apply(store *s, const struct store_img *img, bool may_grow)
{
	size_t off = STORE_IMG_HEADER;
	uint64_t done = 0, keys = store_chunk_keys(s);
	for (;;) {
		int rc = store_ckpt_chunk(s, img, &off, &done, keys);
		if (rc == MDB_MAP_FULL && may_grow) {
			if (store_grow(s) != CLM_OK) {
				return rc; /* at max_db_bytes */
			}
			continue;
		}
		if (rc != 0) {
			return rc;
		}
		if (done == img->entries) {
			break;
		}
	}
	__atomic_store_n(&s->checkpoints, img->checkpoints, __ATOMIC_RELEASE);
	__atomic_store_n(&s->position, img->position, __ATOMIC_RELEASE);
	char path[4096 + 32];
	store_img_path(s, path, sizeof(path), false);
	if (unlink(path) != 0 || fsdir_sync(s->dir) != 0) {
		/* Harmless: the next start deletes it (no flag). */
		log_warn("cannot remove '%s': %s", path, strerror(errno));
	}
	return 0;
}

int
store_ckpt_chunked(store *s, uint64_t position, uint64_t *keys, bool may_grow)
{
	int rc = store_img_write(s, position);
	if (rc != 0) {
		log_error("cannot write the checkpoint image: %s",
		        mdb_strerror(rc));
		return rc;
	}
	char path[4096 + 32];
	store_img_path(s, path, sizeof(path), false);
	struct store_img img;
	const char *why;
	rc = store_img_map(path, &img, &why);
	if (rc != 0) {
		log_error("cannot read back '%s': %s", path,
		        why != NULL ? why : strerror(rc));
		return rc;
	}
	*keys = img.entries;
	rc = store_ckpt_apply(s, &img, may_grow);
	store_img_unmap(&img);
	return rc;
}

/*
 * Reads the counters store_open read before the image moved them (its
 * meta table holds the overlay's).
 */
static clm_err
store_ckpt_counters(store *s, char *err, size_t errlen)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0) {
		snprintf(err, errlen, "cannot read the base's meta: %s",
		        mdb_strerror(rc));
		return CLM_UNAVAILABLE;
	}
	store_txn t = { .s = s, .txn = txn };
	clm_err e = store_meta_get(&t, "next_cid", &s->next_cid);
	if (e == CLM_OK) {
		e = store_meta_get(&t, "next_seq", &s->next_seq);
	}
	if (e == CLM_OK) {
		e = store_meta_get(&t, "event_seq", &s->next_event_seq);
	}
	mdb_txn_abort(txn);
	if (e != CLM_OK) {
		snprintf(err, errlen, "cannot read the counters");
		return e;
	}
	s->next_cid = s->next_cid != 0 ? s->next_cid : 1;
	s->next_seq = s->next_seq != 0 ? s->next_seq : 1;
	s->next_event_seq = s->next_event_seq != 0 ? s->next_event_seq : 1;
	if (s->next_event_seq < s->seq_floor) {
		s->next_event_seq = s->seq_floor;
	}
	return CLM_OK;
}

clm_err
store_ckpt_recover(store *s, char *err, size_t errlen)
{
	char tmp[4096 + 32], path[4096 + 32];
	store_img_path(s, tmp, sizeof(tmp), true);
	store_img_path(s, path, sizeof(path), false);
	if (unlink(tmp) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove '%s': %s", tmp,
		        strerror(errno));
		return CLM_UNAVAILABLE;
	}
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	uint64_t flag = 0;
	if (rc == 0) {
		store_txn t = { .s = s, .txn = txn };
		if (store_meta_get(&t, "ckpt_image", &flag) != CLM_OK) {
			rc = EIO;
		}
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot read the base's meta: %s",
		        mdb_strerror(rc));
		return CLM_UNAVAILABLE;
	}
	if (flag == 0) {
		if (unlink(path) == 0) {
			log_info(
			        "removed '%s', left by a checkpoint that never "
			        "began",
			        path);
			fsdir_sync(s->dir);
		} else if (errno != ENOENT) {
			snprintf(err, errlen, "cannot remove '%s': %s", path,
			        strerror(errno));
			return CLM_UNAVAILABLE;
		}
		return CLM_OK;
	}
	struct store_img img;
	const char *why;
	rc = store_img_map(path, &img, &why);
	if (rc == 0 && img.checkpoints != flag) {
		why = "it is for another checkpoint";
		store_img_unmap(&img);
		rc = EBADMSG;
	}
	if (rc != 0) {
		snprintf(err, errlen,
		        "checkpoint %llu was half applied, and its image '%s' "
		        "cannot be used: %s",
		        (unsigned long long) flag, path,
		        why != NULL ? why : strerror(rc));
		return CLM_DATA_LOSS;
	}
	clm_err e = store_err(s, store_ckpt_apply(s, &img, true),
	        "cannot complete the checkpoint");
	uint64_t entries = img.entries;
	store_img_unmap(&img);
	if (e != CLM_OK) {
		snprintf(err, errlen,
		        "cannot complete checkpoint %llu from '%s': %s",
		        (unsigned long long) flag, path, clm_strerror(e));
		return e;
	}
	log_info("completed checkpoint %llu from '%s' (%llu keys)",
	        (unsigned long long) flag, path, (unsigned long long) entries);
	return store_ckpt_counters(s, err, errlen);
}
