/*
 * A reader whose base snapshot predates a checkpoint's commit into the
 * base and whose overlay snapshot comes right after the overlay was
 * emptied would read the old base over an empty overlay: every write
 * since the previous checkpoint gone. store->generation must already have
 * moved when the emptying becomes visible, so that store_read_begin sees
 * it and begins again (store_overlay.c). Found in review: the bump used
 * to come only after the emptying's commit. Hooks (RTLD_NEXT) hold each
 * side at the exact instants: the reader right after its base renew, the
 * checkpoint right after the emptying's commit.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "overlay_fixture.h"

TestSuite(genrace, .init = ovl_setup, .fini = ovl_teardown, .timeout = 90);

static struct ovl_gate hook = OVL_GATE_INIT;

static unsigned
env_flags(MDB_txn *txn)
{
	unsigned f = 0;
	mdb_env_get_flags(mdb_txn_env(txn), &f);
	return f;
}

/* The reader's base renew: take the base snapshot, then let the
 * checkpoint run until its emptying has committed. */
int
mdb_txn_renew(MDB_txn *txn)
{
	static int (*real)(MDB_txn *);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_txn_renew");
	}
	unsigned f = env_flags(txn);
	int rc = real(txn);
	pthread_mutex_lock(&hook.mu);
	if (hook.armed && hook.state == 0 && !(f & MDB_WRITEMAP)) {
		ovl_gate_set(&hook, 1);
		ovl_gate_wait(&hook, 2);
	}
	pthread_mutex_unlock(&hook.mu);
	return rc;
}

/* The checkpoint's overlay commit (the emptying): commit, then hold
 * before store_ckpt_drop's store_gen_bump. */
int
mdb_txn_commit(MDB_txn *txn)
{
	static int (*real)(MDB_txn *);
	if (real == NULL) {
		*(void **) &real = dlsym(RTLD_NEXT, "mdb_txn_commit");
	}
	unsigned f = env_flags(txn);
	int rc = real(txn);
	pthread_mutex_lock(&hook.mu);
	if (hook.armed && hook.state == 1 && (f & MDB_WRITEMAP)) {
		ovl_gate_set(&hook, 2);
		ovl_gate_wait(&hook, 3);
	}
	pthread_mutex_unlock(&hook.mu);
	return rc;
}

Test(genrace, reader_between_emptying_and_bump)
{
	ovl_race_reader(&hook, "reader between emptying and bump");
}
