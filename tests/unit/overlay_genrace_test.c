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

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool armed;
	int state; /* 1: ckpt may go; 2: drop committed, before bump; 3: go */
} hook = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 };

static void
hook_wait(int want)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	while (hook.state < want) {
		if (pthread_cond_timedwait(&hook.cv, &hook.mu, &ts) != 0) {
			break;
		}
	}
}

static void
hook_set(int s)
{
	hook.state = s;
	pthread_cond_broadcast(&hook.cv);
}

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
		hook_set(1);
		hook_wait(2);
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
		hook_set(2);
		hook_wait(3);
	}
	pthread_mutex_unlock(&hook.mu);
	return rc;
}

struct ck {
	store *s;
	clm_err e;
};

static void *
ck_main(void *arg)
{
	struct ck *c = arg;
	pthread_mutex_lock(&hook.mu);
	hook_wait(1);
	pthread_mutex_unlock(&hook.mu);
	struct store_ckpt_stats st;
	c->e = store_checkpoint(c->s, 1, &st);
	return NULL;
}

Test(genrace, reader_between_emptying_and_bump)
{
	struct ovl_pair p;
	ovl_pair_open(&p, 5, 64 * MIB);
	for (int step = 0; step < 40; step++) {
		ovl_pair_txn(&p, step, false);
	}
	store_reader *r;
	store_txn *t;
	cr_assert_eq(store_reader_new(p.b, &r), CLM_OK);
	cr_assert_eq(store_read_begin(r, &t), CLM_OK); /* so the next renews */
	store_read_end(t);
	struct ck c = { .s = p.b, .e = CLM_INTERNAL };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, ck_main, &c), 0);
	pthread_mutex_lock(&hook.mu);
	hook.armed = true;
	pthread_mutex_unlock(&hook.mu);
	clm_err e = store_read_begin(r, &t);
	pthread_mutex_lock(&hook.mu);
	int state = hook.state;
	pthread_mutex_unlock(&hook.mu);
	char *got = e == CLM_OK ? ovl_dump(t, true) : NULL;
	if (e == CLM_OK) {
		store_read_end(t);
	}
	pthread_mutex_lock(&hook.mu);
	hook.armed = false;
	hook_set(3);
	pthread_mutex_unlock(&hook.mu);
	pthread_join(th, NULL);
	store_reader_free(r);
	cr_assert_eq(e, CLM_OK);
	cr_assert_eq(state, 2, "the hooks did not line up (state %d)", state);
	cr_assert_eq(c.e, CLM_OK);
	char *want = ovl_dump_committed(p.a, true);
	ovl_expect_same(want, got, "reader between emptying and bump", 0);
	free(want);
	free(got);
	store_close(p.a);
	store_close(p.b);
}
