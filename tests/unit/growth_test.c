/*
 * Map growth under concurrent readers: LMDB remaps the file when the map
 * grows, so store_grow must hold readers off (the store's rwlock) or a
 * reader in the old mapping would fault. Readers hammer the store while
 * the writer fills a 64 KiB map that has to double many times.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "testdir.h"

#define GROWTH_RECORDS 3000
#define GROWTH_READERS 4

struct growth_shared {
	store *st;
	_Atomic bool stop;
	_Atomic int committed; /* records known to be committed */
	_Atomic long reads;
	_Atomic int failures;
};

static void
growth_id(char *buf, size_t n, int i)
{
	snprintf(buf, n, "growth-customer-%06d", i);
}

static void *
growth_reader(void *arg)
{
	struct growth_shared *g = arg;
	store_reader *r;
	if (store_reader_new(g->st, &r) != CLM_OK) {
		atomic_fetch_add(&g->failures, 1);
		return NULL;
	}
	arena a;
	arena_init(&a);
	unsigned seed = 12345;
	while (!atomic_load(&g->stop)) {
		int known = atomic_load(&g->committed);
		store_txn *txn;
		if (store_read_begin(r, &txn) != CLM_OK) {
			atomic_fetch_add(&g->failures, 1);
			break;
		}
		for (int k = 0; k < 20 && known > 0; k++) {
			seed = seed * 1103515245u + 12345u;
			int i = (int) (seed % (unsigned) known);
			char id[64];
			growth_id(id, sizeof(id), i);
			Clm__V1__CustomerRecord *rec;
			clm_err e
			        = store_customer_get(txn, id, false, &a, &rec);
			if (e != CLM_OK || rec->cid != (uint64_t) i + 1) {
				atomic_fetch_add(&g->failures, 1);
			}
			atomic_fetch_add(&g->reads, 1);
		}
		store_read_end(txn);
		arena_reset(&a);
	}
	arena_fini(&a);
	store_reader_free(r);
	return NULL;
}

Test(growth, readers_survive_many_remaps, .timeout = 60)
{
	char dir[64];
	testdir_make(dir, sizeof(dir), "growth");
	struct store_opts o = { .dir = dir,
		.nosync = true,
		.map_bytes = 64 * 1024,
		.max_db_bytes = 256LL * 1024 * 1024,
		.max_readers = 64 };
	char err[256];
	struct growth_shared g = { 0 };
	cr_assert_eq(
	        store_open(&o, &g.st, err, sizeof(err)), CLM_OK, "%s", err);

	pthread_t th[GROWTH_READERS];
	for (int i = 0; i < GROWTH_READERS; i++) {
		cr_assert_eq(
		        pthread_create(&th[i], NULL, growth_reader, &g), 0);
	}
	int grows = 0, grows_read = 0; /* grows with data to read after */
	char pad[700];
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int base = 0; base < GROWTH_RECORDS; base += 100) {
		/* The writer's protocol: on a full map abort, grow, redo. */
		for (;;) {
			store_txn *txn;
			cr_assert_eq(store_write_begin(g.st, &txn), CLM_OK);
			clm_err e = CLM_OK;
			for (int i = base; i < base + 100 && e == CLM_OK;
			        i++) {
				char id[64];
				growth_id(id, sizeof(id), i);
				Clm__V1__CustomerRecord rec
				        = CLM__V1__CUSTOMER_RECORD__INIT;
				rec.customer_id = id;
				rec.cid = (uint64_t) i + 1;
				rec.last_item = pad; /* bulk, to fill pages */
				e = store_customer_put(txn, &rec, false);
			}
			if (e == CLM_OK) {
				e = store_write_commit(txn);
			} else {
				store_write_abort(txn);
			}
			if (e == CLM_OK) {
				break;
			}
			cr_assert_eq(e, CLM_RESOURCE_EXHAUSTED, "%s",
			        clm_errname(e));
			cr_assert(store_map_full(g.st));
			cr_assert_eq(store_grow(g.st), CLM_OK);
			grows++;
			/*
			 * Let the readers work in the new mapping before the
			 * next grow, whatever the scheduler (ASan, a loaded
			 * machine): a reader stuck for 10 s fails the test.
			 */
			if (atomic_load(&g.committed) == 0) {
				continue; /* nothing to read yet */
			}
			int r0 = atomic_load(&g.reads);
			for (int ms = 0;
			        atomic_load(&g.reads) < r0 + 50 && ms < 10000;
			        ms++) {
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
			}
			cr_assert_geq(atomic_load(&g.reads), r0 + 50,
			        "readers made no progress after grow %d",
			        grows);
			grows_read++;
		}
		atomic_store(&g.committed, base + 100);
	}
	atomic_store(&g.stop, true);
	for (int i = 0; i < GROWTH_READERS; i++) {
		pthread_join(th[i], NULL);
	}
	cr_expect_geq(grows, 5, "the map grew only %d times", grows);
	cr_expect_geq(grows_read, 3, "readers read across %d grows only",
	        grows_read);
	cr_expect_eq(atomic_load(&g.failures), 0, "%d reads failed",
	        atomic_load(&g.failures));
	store_close(g.st);
	testdir_remove(dir);
}
