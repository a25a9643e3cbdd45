/*
 * Warming the base view (store.h, store_warm_start): a thread reads
 * DATA/data.mdb's used pages in file order into the page cache, while the
 * start-up replay and the first reads go on.
 *
 * Why: after a reboot (a power cut's recovery above all) the page cache
 * is empty, and the replay's and readers' B-tree lookups each wait for a
 * random read of the disk: on this VM a replay of 685k touchpoints over a
 * million customers took 13.9-18.0 s cold against 9.0-10.6 s warm. Read
 * in file order alongside it, the view is in the page cache long before
 * the replay needs most of it, and the cold replay took 9.4-12.0 s
 * (docs/performance.md, "Warming the view"). LMDB's own read-ahead is no
 * help: lookups touch single pages all over the file.
 *
 * Only a view that fits in half of the memory available is read (a larger
 * one would push itself out again, and the host's other programs too),
 * and a view already in the page cache costs a pass of memory copies
 * (about 0.15 s per GB here). The thread only reads the file: nothing it
 * does can change what the store holds. store_close stops it between two
 * reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/thread.h"

/* Bytes per read: large enough for the disk, small enough to stop soon. */
#define WARM_CHUNK (1u << 20)

/* MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read. */
static uint64_t
store_mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (f == NULL) {
		return 0;
	}
	char line[128];
	uint64_t kib = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1) {
			break;
		}
	}
	fclose(f);
	return kib * 1024;
}

static void *
store_warm_main(void *arg)
{
	store *s = arg;
	unsigned char *buf = malloc(WARM_CHUNK);
	if (buf == NULL) {
		log_info("store: not warming the view: out of memory");
		return NULL;
	}
	int64_t t0 = clock_mono_ns();
	uint64_t off = 0;
	while (off < s->warm_bytes
	        && !__atomic_load_n(&s->warm_stop, __ATOMIC_ACQUIRE)) {
		uint64_t n = s->warm_bytes - off;
		n = n < WARM_CHUNK ? n : WARM_CHUNK;
		ssize_t got = pread(s->warm_fd, buf, (size_t) n, (off_t) off);
		if (got < 0 && errno == EINTR) {
			continue;
		}
		if (got <= 0) {
			break; /* an error, or the end: nothing lost */
		}
		off += (uint64_t) got;
	}
	free(buf);
	int64_t ms = (clock_mono_ns() - t0) / 1000000;
	if (off == s->warm_bytes) {
		log_info("store: warmed the view's %" PRIu64 " MB in %" PRId64
		         " ms",
		        off >> 20, ms);
	} else {
		log_info("store: stopped warming the view after %" PRIu64
		         " of %" PRIu64 " MB (%" PRId64 " ms)",
		        off >> 20, s->warm_bytes >> 20, ms);
	}
	__atomic_store_n(&s->warm_done, off, __ATOMIC_RELEASE);
	return NULL;
}

bool
store_warm_start(store *s)
{
	MDB_envinfo info;
	MDB_stat ms;
	if (s->warm_running || mdb_env_info(s->env, &info) != 0
	        || mdb_env_stat(s->env, &ms) != 0
	        || mdb_env_get_fd(s->env, &s->warm_fd) != 0) {
		return false;
	}
	uint64_t used = (uint64_t) (info.me_last_pgno + 1) * ms.ms_psize;
	uint64_t avail = store_mem_available();
	if (avail == 0) {
		log_info(
		        "store: not warming the view: cannot read MemAvailable "
		        "in /proc/meminfo");
		return false;
	}
	if (used > avail / 2) {
		log_info("store: not warming the view: its %" PRIu64
		         " MB exceed half of the %" PRIu64
		         " MB of memory available",
		        used >> 20, avail >> 20);
		return false;
	}
	s->warm_bytes = used;
	s->warm_stop = false;
	s->warm_done = 0;
	/* Said first: the thread's own line may follow at once. */
	log_info("store: warming the view's %" PRIu64
	         " MB into the page cache in the background",
	        used >> 20);
	if (thread_start(&s->warm_thread, store_warm_main, s, "clm:warm")
	        != 0) {
		log_info("store: not warming the view: no thread");
		return false;
	}
	s->warm_running = true;
	return true;
}

uint64_t
store_warm_wait(store *s)
{
	if (!s->warm_running) {
		return 0;
	}
	pthread_join(s->warm_thread, NULL);
	s->warm_running = false;
	return __atomic_load_n(&s->warm_done, __ATOMIC_ACQUIRE);
}

void
store_warm_stop(store *s)
{
	__atomic_store_n(&s->warm_stop, true, __ATOMIC_RELEASE);
	(void) store_warm_wait(s);
}
