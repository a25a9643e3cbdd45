/*
 * clm-journal-bench: what the journal (server/journal) costs on this disk.
 *
 *   clm-journal-bench DIR [seconds] [replay-entries]
 *
 * DIR must not exist (it is made and removed). Three parts:
 *
 *  1. raw: 20 KB writes, each followed by fdatasync, into a file that
 *     grows, into fallocate'd space, and over blocks written before (a
 *     recycled segment): why the journal recycles segments.
 *  2. commit: the journal with sync, batches of 100 entries of 200 bytes:
 *     first into new segments (the files grow), then in steady state with
 *     a checkpointer that truncates behind every segment switch, so the
 *     switches reuse spares. Entries/s and fdatasyncs (commits)/s.
 *  3. replay: replay-entries (default 3,000,000) entries of 200 bytes
 *     written without sync, then journal_open (which checks every batch)
 *     and journal_read over all of them: first with the segments' page
 *     cache dropped (posix_fadvise, these files only), then warm.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal/journal.h"
#include "util/clock.h"

#define JBENCH_ENTRY   200
#define JBENCH_BATCH   100
#define JBENCH_SEGMENT (16ull << 20)

static double
jbench_secs(int64_t since)
{
	return (double) (clock_mono_ns() - since) / 1e9;
}

static void
jbench_die(const char *what, const char *err)
{
	fprintf(stderr, "clm-journal-bench: %s: %s\n", what, err);
	exit(1);
}

/* 20 KB writes + fdatasync for secs; how: 0 grow, 1 fallocate, 2 reuse. */
static void
jbench_raw(const char *dir, int how, double secs)
{
	static const char *names[] = { "growing file", "fallocate'd file",
		"written-before file" };
	char path[4096];
	static char buf[JBENCH_BATCH * (JBENCH_ENTRY + 16) + 32];
	const off_t span = 64 << 20;
	memset(buf, 'x', sizeof(buf));
	snprintf(path, sizeof(path), "%s/raw", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		jbench_die("open", strerror(errno));
	}
	if (how == 1 && fallocate(fd, 0, 0, span) != 0) {
		jbench_die("fallocate", strerror(errno));
	}
	if (how == 2) {
		for (off_t o = 0; o < span; o += sizeof(buf)) {
			if (pwrite(fd, buf, sizeof(buf), o) < 0) {
				jbench_die("pwrite", strerror(errno));
			}
		}
		fdatasync(fd);
	}
	int64_t t0 = clock_mono_ns();
	long n = 0;
	off_t off = 0;
	while (jbench_secs(t0) < secs && off + (off_t) sizeof(buf) < span) {
		if (pwrite(fd, buf, sizeof(buf), off) < 0
		        || fdatasync(fd) != 0) {
			jbench_die("write", strerror(errno));
		}
		off += sizeof(buf);
		n++;
	}
	double s = jbench_secs(t0);
	printf("raw   %-20s %8.0f fdatasyncs/s (%zu bytes each)\n", names[how],
	        n / s, sizeof(buf));
	close(fd);
	unlink(path);
}

/* Commits one batch and truncates behind it. */
static void
jbench_commit_one(journal *j)
{
	static char data[JBENCH_ENTRY];
	char err[512];
	uint64_t pos = 0;
	for (int i = 0; i < JBENCH_BATCH; i++) {
		journal_append(j, 1, data, sizeof(data), &pos);
	}
	if (journal_commit(j, err, sizeof(err)) != CLM_OK
	        || journal_truncate_before(j, pos + 1, err, sizeof(err))
	                != CLM_OK) {
		jbench_die("warm-up", err);
	}
}

/* Commits batches for secs; with checkpoint, truncates behind switches. */
static void
jbench_commit(journal *j, const char *label, double secs, bool checkpoint)
{
	static char data[JBENCH_ENTRY];
	char err[512];
	memset(data, 'd', sizeof(data));
	int64_t t0 = clock_mono_ns();
	long commits = 0;
	uint64_t first = journal_position(j);
	while (jbench_secs(t0) < secs) {
		uint64_t pos;
		for (int i = 0; i < JBENCH_BATCH; i++) {
			if (journal_append(j, 1, data, sizeof(data), &pos)
			        != CLM_OK) {
				jbench_die("append", "failed");
			}
		}
		if (journal_commit(j, err, sizeof(err)) != CLM_OK) {
			jbench_die("commit", err);
		}
		commits++;
		if (checkpoint
		        && journal_truncate_before(
		                   j, pos + 1, err, sizeof(err))
		                != CLM_OK) {
			jbench_die("truncate", err);
		}
	}
	double s = jbench_secs(t0);
	printf("commit %-19s %8.0f entries/s %6.0f fdatasyncs/s\n", label,
	        (double) (journal_position(j) - first) / s, commits / s);
}

struct jbench_count {
	uint64_t n, bytes;
};

static int
jbench_count(void *arg, const struct journal_entry *e)
{
	struct jbench_count *c = arg;
	c->n++;
	c->bytes += e->len + ((const unsigned char *) e->data)[0];
	return 0;
}

/* Drops the page cache of every file in dir (fadvise, this dir only). */
static void
jbench_drop_cache(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd >= 0) {
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
	if (d != NULL) {
		closedir(d);
	}
}

/* Opens the journal and reads it all, timed; cold: page cache dropped. */
static void
jbench_replay_once(const struct journal_opts *o, uint64_t entries, bool cold)
{
	char err[512];
	journal *j;
	if (cold) {
		jbench_drop_cache(o->dir);
	}
	int64_t t0 = clock_mono_ns();
	if (journal_open(o, &j, err, sizeof(err)) != CLM_OK) {
		jbench_die("reopen", err);
	}
	double open_s = jbench_secs(t0);
	struct jbench_count c = { 0, 0 };
	int64_t t1 = clock_mono_ns();
	if (journal_read(j, 1, jbench_count, &c, err, sizeof(err)) != CLM_OK) {
		jbench_die("read", err);
	}
	double read_s = jbench_secs(t1), all = jbench_secs(t0);
	if (c.n != entries) {
		jbench_die("read", "wrong number of entries");
	}
	printf("replay %s %" PRIu64 " entries (%.0f MB): open %.2f s, read "
	       "%.2f s: %.0f entries/s (%.0f MB/s) open and read together\n",
	        cold ? "cold" : "warm", c.n,
	        (double) entries * (JBENCH_ENTRY + 16) / 1e6, open_s, read_s,
	        (double) c.n / all,
	        (double) entries * (JBENCH_ENTRY + 16) / 1e6 / all);
	journal_close(j);
}

static void
jbench_replay(const char *dir, uint64_t entries)
{
	static char data[JBENCH_ENTRY];
	char err[512];
	memset(data, 'r', sizeof(data));
	struct journal_opts o
	        = { .dir = dir, .segment_bytes = 64ull << 20, .sync = false };
	journal *j;
	if (journal_open(&o, &j, err, sizeof(err)) != CLM_OK) {
		jbench_die("open", err);
	}
	for (uint64_t i = 0; i < entries; i++) {
		uint64_t pos;
		journal_append(j, 2, data, sizeof(data), &pos);
		if (i % 1000 == 999 || i + 1 == entries) {
			if (journal_commit(j, err, sizeof(err)) != CLM_OK) {
				jbench_die("commit", err);
			}
		}
	}
	journal_close(j);
	sync();
	jbench_replay_once(&o, entries, true);
	jbench_replay_once(&o, entries, false);
}

/* Removes the files of dir (flat) and dir. */
static void
jbench_clean(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "clm-journal-bench: cannot remove %s\n", dir);
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr,
		        "usage: clm-journal-bench DIR [seconds] "
		        "[replay-entries]\n");
		return 2;
	}
	const char *dir = argv[1];
	double secs = argc > 2 ? atof(argv[2]) : 5;
	uint64_t entries = argc > 3 ? strtoull(argv[3], NULL, 10) : 3000000;
	if (mkdir(dir, 0700) != 0) {
		jbench_die(dir, strerror(errno));
	}
	for (int how = 0; how < 3; how++) {
		jbench_raw(dir, how, secs);
	}

	char jdir[4096], err[512];
	snprintf(jdir, sizeof(jdir), "%s/commit", dir);
	struct journal_opts o = {
		.dir = jdir, .segment_bytes = JBENCH_SEGMENT, .sync = true
	};
	journal *j;
	if (journal_open(&o, &j, err, sizeof(err)) != CLM_OK) {
		jbench_die("open", err);
	}
	jbench_commit(j, "new segments", secs, false);
	if (journal_truncate_before(
	            j, journal_position(j) + 1, err, sizeof(err))
	        != CLM_OK) {
		jbench_die("truncate", err);
	}
	/* Warm up: past the segment the first part was writing, into
	 * spares. */
	uint64_t warm = journal_position(j)
	        + 3 * JBENCH_SEGMENT / (JBENCH_ENTRY + 16) + 1;
	while (journal_position(j) < warm) {
		jbench_commit_one(j);
	}
	jbench_commit(j, "recycled segments", secs, true);
	journal_close(j);
	jbench_clean(jdir);

	snprintf(jdir, sizeof(jdir), "%s/replay", dir);
	jbench_replay(jdir, entries);
	jbench_clean(dir);
	return 0;
}
