/*
 * journal_recover: opening a journal's directory and recovering it (the
 * rules at the top of journal.c): listing the segments, checking them one
 * by one, cutting a torn or unsynced tail, refusing corrupt synced data.
 */
#include "journal/journal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* Set in what journal_later_batch returns when it found a batch. */
#define JOURNAL_FOUND 0x100u

/*
 * Looks past off (where the log stopped) in a mapping of a segment of
 * incarnation inc for a batch of that incarnation whose first position is
 * past expected and whose flags include need: data written after what
 * stopped the log. Only a batch whose checksums are right for inc counts:
 * stale batches of a recycled segment carry an older incarnation, and
 * entry data cannot carry one (the incarnation is random and never leaves
 * the segment header).
 * Returns its flags | JOURNAL_FOUND when found, 0 when not.
 */
static uint32_t
journal_later_batch(const struct journal_map *m, uint64_t off, uint64_t inc,
        uint64_t expected, uint32_t need)
{
	for (uint64_t o = off + 8; o + JOURNAL_HDR <= m->size; o += 8) {
		struct journal_batch b;
		const unsigned char *h = m->p + o;
		/* Header first: other bytes are skipped without reading
		 * what follows them. */
		if (journal_get32(h) == JOURNAL_BATCH_MAGIC
		        && journal_get32(h + 28) == journal_batch_hcrc(inc, h)
		        && journal_get64(h + 8) > expected
		        && journal_batch_at(m->p, m->size, o, inc, &b)
		                == JOURNAL_VALID
		        && b.first > expected && (b.flags & need) == need) {
			return b.flags | JOURNAL_FOUND;
		}
	}
	return 0;
}

/*
 * Whether segment i says it holds synced data: its header's flag, or a
 * batch of its incarnation anywhere in it with the flag. CLM_OK and
 * *synced set, or journal_fail's errors.
 */
static clm_err
journal_seg_synced(
        journal *j, size_t i, bool *synced, char *err, size_t errlen)
{
	char path[4096];
	struct journal_map m;
	journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
	clm_err rc = journal_map_open(path, &m, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	uint64_t first, inc;
	uint32_t flags;
	if (!journal_seg_check(m.p, m.size, &first, &flags, &inc)) {
		*synced = true; /* corrupt: not ours to delete */
	} else {
		*synced = (flags & JOURNAL_SYNCED) != 0
		        || (journal_later_batch(&m, JOURNAL_HDR - 8, inc, 0,
		                    JOURNAL_SYNCED)
		                   & JOURNAL_SYNCED)
		                != 0;
	}
	journal_map_close(&m);
	return CLM_OK;
}

/* Cuts segment i at off (a torn or unsynced tail): truncate and sync. */
static clm_err
journal_cut(journal *j, size_t i, uint64_t off, const char *why, char *err,
        size_t errlen)
{
	char path[4096];
	journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t) off) != 0 || fdatasync(fd) != 0) {
		clm_err rc = journal_fail(errno, err, errlen, "cut", path);
		if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	close(fd);
	log_warn("journal '%s': %s at offset %" PRIu64 ": cut there (position "
	         "%" PRIu64 " on was never acknowledged)",
	        path, why, off, j->next);
	j->segs[i].end = off;
	return CLM_OK;
}

/*
 * Deletes the segments after i (an unsynced tail in os mode); CLM_DATA_LOSS
 * and nothing deleted when one of them says it holds synced data.
 */
static clm_err
journal_cut_after(journal *j, size_t i, char *err, size_t errlen)
{
	for (size_t k = i + 1; k < j->nsegs; k++) {
		bool synced;
		clm_err rc = journal_seg_synced(j, k, &synced, err, errlen);
		if (rc != CLM_OK) {
			return rc;
		}
		if (synced) {
			char path[4096];
			journal_path(j, j->segs[i].first, "jnl", path,
			        sizeof(path));
			return journal_loss(path, j->segs[i].end, j->next,
			        "the log stops here, and synced entries with "
			        "later positions follow in a later segment",
			        err, errlen);
		}
	}
	while (j->nsegs > i + 1) {
		char path[4096];
		journal_path(j, j->segs[j->nsegs - 1].first, "jnl", path,
		        sizeof(path));
		if (unlink(path) != 0) {
			return journal_fail(
			        errno, err, errlen, "delete", path);
		}
		log_warn("journal '%s': after the end of the log: deleted",
		        path);
		j->nsegs--;
	}
	return CLM_OK;
}

/*
 * Reads segment i from its header on: its valid batches set j->next and
 * segs[i].end; where they stop, the rules at the top of this file decide
 * between the end of the segment, a cut tail (*stop set: the log ends here)
 * and CLM_DATA_LOSS.
 */
static clm_err
journal_scan_seg(journal *j, size_t i, bool *stop, char *err, size_t errlen)
{
	char path[4096];
	struct journal_map m;
	journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
	clm_err rc = journal_map_open(path, &m, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	uint64_t first, inc;
	uint32_t flags;
	if (m.size >= JOURNAL_HDR && journal_get32(m.p) == JOURNAL_SEG_MAGIC
	        && journal_get32(m.p + 4) > JOURNAL_VERSION) {
		snprintf(err, errlen,
		        "journal '%s' has format version %u; this clmd reads up to %u: use a newer clmd",
		        path, (unsigned) journal_get32(m.p + 4),
		        (unsigned) JOURNAL_VERSION);
		journal_map_close(&m);
		return CLM_FAILED_PRECONDITION;
	}
	if (!journal_seg_check(m.p, m.size, &first, &flags, &inc)
	        || first != j->segs[i].first) {
		journal_map_close(&m);
		return journal_loss(path, 0, j->next,
		        "the segment header is invalid", err, errlen);
	}
	j->segs[i].inc = inc;
	uint64_t off = JOURNAL_HDR;
	struct journal_batch b;
	enum journal_found f;
	while ((f = journal_batch_at(m.p, m.size, off, inc, &b))
	                == JOURNAL_VALID
	        && b.first == j->next) {
		j->next += b.count;
		off += b.size;
	}
	j->segs[i].end = off;
	/* What stopped the log: a gap, or something after the stop. */
	uint32_t later = 0;
	if (f == JOURNAL_VALID && b.first > j->next) {
		later = b.flags | JOURNAL_FOUND;
	} else {
		later = journal_later_batch(&m, off, inc, j->next, 0);
	}
	journal_map_close(&m);
	const char *what = f == JOURNAL_BAD ? "an invalid batch"
	        : f == JOURNAL_ZEROS        ? "unwritten space"
	        : b.first > j->next         ? "a gap in the positions"
	                                    : "stale batches";
	if (later == 0 && i + 1 < j->nsegs && j->segs[i + 1].first > j->next) {
		/* The next segment's header carries its writer's mode. */
		char next[4096];
		journal_path(
		        j, j->segs[i + 1].first, "jnl", next, sizeof(next));
		struct journal_map nm;
		if ((rc = journal_map_open(next, &nm, err, errlen))
		        != CLM_OK) {
			return rc;
		}
		uint64_t nfirst, ninc;
		uint32_t nflags = 0;
		if (!journal_seg_check(
		            nm.p, nm.size, &nfirst, &nflags, &ninc)) {
			nflags = JOURNAL_SYNCED; /* corrupt: judged there */
		}
		journal_map_close(&nm);
		later = nflags | JOURNAL_FOUND;
	}
	if (later & JOURNAL_SYNCED) {
		char why[128];
		snprintf(why, sizeof(why),
		        "%s, and synced entries with later positions follow",
		        what);
		return journal_loss(path, off, j->next, why, err, errlen);
	}
	if (later != 0) {
		*stop = true;
		/* Later segments go first (refused when one holds synced
		 * data): this one is cut only when they are gone. */
		if ((rc = journal_cut_after(j, i, err, errlen)) != CLM_OK) {
			return rc;
		}
		return journal_cut(j, i, off, what, err, errlen);
	}
	if (f == JOURNAL_BAD) {
		return journal_cut(j, i, off, "a torn batch", err, errlen);
	}
	return CLM_OK;
}

/* Lists DIR: segments into j->segs (sorted), spares; removes .tmp files. */
static clm_err
journal_list(journal *j, char *err, size_t errlen)
{
	DIR *d = opendir(j->dir);
	if (d == NULL) {
		return journal_fail(errno, err, errlen, "list", j->dir);
	}
	struct dirent *e;
	clm_err rc = CLM_OK;
	while (rc == CLM_OK && (e = readdir(d)) != NULL) {
		const char *ext = e->d_name + 20;
		uint64_t first = 0;
		size_t k = 0;
		for (; k < 20 && e->d_name[k] >= '0' && e->d_name[k] <= '9';
		        k++) {
			first = first * 10 + (uint64_t) (e->d_name[k] - '0');
		}
		if (k < 20 || *ext != '.') {
			continue; /* not ours */
		}
		ext++;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", j->dir, e->d_name);
		if (strcmp(ext, "jnl") == 0) {
			rc = journal_segs_push(j, first, 0);
		} else if (strcmp(ext, "spare") == 0
		        && j->nspares < JOURNAL_SPARES) {
			j->spares[j->nspares++] = first;
		} else if (strcmp(ext, "spare") == 0
		        || strcmp(ext, "tmp") == 0) {
			if (unlink(path) != 0) {
				rc = journal_fail(
				        errno, err, errlen, "delete", path);
			}
		}
	}
	closedir(d);
	if (rc != CLM_OK) {
		return rc;
	}
	/* Few segments (the journal is truncated behind checkpoints). */
	for (size_t a = 1; a < j->nsegs; a++) {
		struct journal_seg s = j->segs[a];
		size_t b = a;
		for (; b > 0 && j->segs[b - 1].first > s.first; b--) {
			j->segs[b] = j->segs[b - 1];
		}
		j->segs[b] = s;
	}
	return CLM_OK;
}

clm_err
journal_mkdir(const char *dir, char *err, size_t errlen)
{
	/* The parent is synced even when DIR exists: an earlier run may
	 * have died between its mkdir and the fsync. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return journal_fail(errno, err, errlen, "create", dir);
	}
	char parent[4096];
	snprintf(parent, sizeof(parent), "%s", dir);
	size_t n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/') {
		parent[--n] = '\0'; /* "a/b/" is in "a" too */
	}
	char *slash = strrchr(parent, '/');
	if (slash == NULL) {
		snprintf(parent, sizeof(parent), ".");
	} else if (slash == parent) {
		parent[1] = '\0';
	} else {
		*slash = '\0';
	}
	int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		clm_err rc = journal_fail(errno, err, errlen, "sync", parent);
		if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	close(fd);
	return CLM_OK;
}

clm_err
journal_recover(journal *j, char *err, size_t errlen)
{
	clm_err rc = journal_list(j, err, errlen);
	if (rc != CLM_OK) {
		return rc;
	}
	bool dropped = false;
	/* Segments followed by one starting at or before base + 1 are
	 * checkpointed: a truncate the last run did not finish. */
	while (j->nsegs > 1 && j->segs[1].first <= j->base + 1) {
		if ((rc = journal_drop(j, 0, true, err, errlen)) != CLM_OK) {
			return rc;
		}
		dropped = true;
	}
	if (j->nsegs > 0 && j->segs[0].first > j->base + 1) {
		char path[4096];
		journal_path(j, j->segs[0].first, "jnl", path, sizeof(path));
		snprintf(err, errlen,
		        "journal starts at %" PRIu64
		        ", the view is at %" PRIu64
		        ": entries in between are lost ('%s')",
		        j->segs[0].first, j->base, path);
		return CLM_DATA_LOSS;
	}
	j->next = j->nsegs > 0 ? j->segs[0].first : j->base + 1;
	bool stop = false;
	for (size_t i = 0; i < j->nsegs && !stop; i++) {
		if (j->segs[i].first < j->next) {
			char path[4096];
			journal_path(j, j->segs[i].first, "jnl", path,
			        sizeof(path));
			return journal_loss(path, 0, j->next,
			        "its first position overlaps the segment "
			        "before",
			        err, errlen);
		}
		if ((rc = journal_scan_seg(j, i, &stop, err, errlen))
		        != CLM_OK) {
			return rc;
		}
	}
	if (j->next <= j->base) {
		/* Everything is checkpointed; keep no gap before base + 1. */
		while (j->nsegs > 0) {
			if ((rc = journal_drop(j, 0, true, err, errlen))
			        != CLM_OK) {
				return rc;
			}
			dropped = true;
		}
		j->next = j->base + 1;
	}
	if (dropped && (rc = journal_sync_dir(j, err, errlen)) != CLM_OK) {
		return rc;
	}
	/* With sync, batches are flagged synced from now on: everything
	 * before them must be on disk first, also what an earlier run wrote
	 * without sync into segments before the last. */
	for (size_t i = 0; j->sync && i + 1 < j->nsegs; i++) {
		char path[4096];
		journal_path(j, j->segs[i].first, "jnl", path, sizeof(path));
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fdatasync(fd) != 0) {
			rc = journal_fail(errno, err, errlen, "sync", path);
			if (fd >= 0) {
				close(fd);
			}
			return rc;
		}
		close(fd);
	}
	if (j->nsegs > 0) {
		char path[4096];
		journal_path(j, j->segs[j->nsegs - 1].first, "jnl", path,
		        sizeof(path));
		j->fd = open(path, O_RDWR | O_CLOEXEC);
		if (j->fd < 0 || (j->sync && fdatasync(j->fd) != 0)) {
			return journal_fail(errno, err, errlen, "open", path);
		}
	}
	return journal_sync_dir(j, err, errlen);
}
