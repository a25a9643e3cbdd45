/*
 * What overlay_test and overlay_ckpt_test share: two stores, A without an
 * overlay and B with one, given the same writes, and everything a reader
 * of either can observe dumped as text to compare.
 */
#ifndef CLM_UNIT_OVERLAY_FIXTURE_H
#define CLM_UNIT_OVERLAY_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"
#include "store/store.h"

#define N_KNOWN 10 /* customer ids k0..k9 */
#define N_ANON  6  /* anonymous ids a0..a5 */
#define N_CID   6  /* touchpoint cids 1..6 */
#define N_EVENT 16
#define N_ITEM  5
#define N_AGG   12 /* counter keys: kind 1..4, 3 keys each */
#define N_BLOB  3  /* sketch keys: kind 9 */
#define NONE    (-1)
#define MIB     (1024 * 1024)

/* The two data dirs of a test (A's and B's), made by ovl_setup. */
extern char ovl_dir_a[64], ovl_dir_b[64];

/* The suite's .init and .fini: make and remove the two dirs. */
void ovl_setup(void);
void ovl_teardown(void);

/* ovl_open opens a store on dir; overlay 0: none, else its map size. */
store *ovl_open(const char *dir, int64_t max_db, uint64_t overlay);

/* splitmix64, and a number below n from it. */
uint64_t ovl_rng_next(uint64_t *s);
unsigned ovl_rng_below(uint64_t *s, unsigned n);

/*
 * ovl_dump writes everything a reader of t can observe (profiles paged,
 * touchpoints of every cid over three ranges, events, aliases, the
 * onboarding median, popularity and co-purchases, the catalog, the
 * aggregates scanned and read, spend, experiments, claims; with_stats,
 * store_stats' counts) as text into a malloc'd string.
 * ovl_dump_committed does it in a fresh reader of s.
 */
char *ovl_dump(store_txn *t, bool with_stats);
char *ovl_dump_committed(store *s, bool with_stats);

/* A store_touch_fn appending " at/seq:packed hex" to the FILE * arg. */
int ovl_dump_touch_fn(
        void *arg, int64_t at_ms, uint64_t seq, const Clm__V1__Touchpoint *tp);

/* Asserts two dumps equal, showing the first line that differs. */
void ovl_expect_same(
        const char *want, const char *got, const char *ctx, int step);

/* Dumps both transactions, or fresh readers of both stores, and compares. */
void ovl_compare_txns(
        store_txn *ta, store_txn *tb, bool stats, const char *ctx, int step);
void ovl_compare_committed(
        store *a, store *b, bool stats, const char *ctx, int step);

/* Two stores, the onboarding times the test gave (model), the random state. */
struct ovl_pair {
	store *a, *b;
	int64_t onb[N_CID + 1];      /* in the open transaction */
	int64_t onb_done[N_CID + 1]; /* as committed */
	uint64_t rng;
	uint64_t pos;       /* the last checkpoint's position */
	uint64_t fresh_seq; /* store_touchpoint_add's seqs, above any other */
	uint64_t staged;    /* the background checkpoint's position */
};

/* ovl_pair_open opens A (no overlay) and B (overlay of overlay bytes). */
void ovl_pair_open(struct ovl_pair *p, uint64_t seed, uint64_t overlay);

/* Checkpoints B at the next position. */
void ovl_pair_checkpoint(struct ovl_pair *p);

/*
 * Takes B's background checkpoint one step on: freezes the overlay at the
 * next position, runs it into the base, or releases it.
 */
void ovl_pair_stage(struct ovl_pair *p);

/*
 * ovl_pair_txn runs one write transaction of up to 12 random operations
 * on both stores (every table, gets and scans compared as they go),
 * sometimes compares everything inside it (without store_stats), commits
 * or (one in eight) aborts both, then compares fresh readers of both.
 * With ckpt, B is checkpointed first one time in ten.
 */
void ovl_pair_txn(struct ovl_pair *p, int step, bool ckpt);

/*
 * A gate the race tests' LMDB hooks (RTLD_NEXT wrappers in each test
 * executable) and their threads meet at: a state that only grows (1: the
 * checkpoint may go; 2: it stands where the hook holds it; 3: it may go
 * on), armed while a race is staged. ovl_gate_wait waits, at most 20 s,
 * until the state is at least want; ovl_gate_set moves it. Both with
 * g->mu held.
 */
struct ovl_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool armed;
	int state;
};
#define OVL_GATE_INIT                                                         \
	{                                                                     \
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0 \
	}
void ovl_gate_wait(struct ovl_gate *g, int want);
void ovl_gate_set(struct ovl_gate *g, int state);

/*
 * ovl_race_reader stages a reader against a checkpoint: a pair after 40
 * random transactions, a reader begun once (so that its next begin
 * renews, where the hooks sit), a thread that checkpoints B once g's
 * state is 1, and the reader's next store_read_begin with g armed. The
 * hooks must take the state to 2 during that begin and hold the
 * checkpoint there until 3. Then what the reader saw must equal A's
 * committed state (counts included), and the checkpoint must succeed.
 */
void ovl_race_reader(struct ovl_gate *g, const char *what);

/*
 * ovl_fill is one write transaction putting a sketch numbered i of vlen
 * bytes (at most 4096) ; ovl_fill_grow the same on a store without an
 * overlay, growing its map as needed. ovl_fill_until_full fills b's
 * overlay with sketches of 2000 bytes, a getting the same, until a write
 * fails (asserted RESOURCE_EXHAUSTED with store_overlay_full), and
 * returns the number that failed.
 */
clm_err ovl_fill(store *s, unsigned i, size_t vlen);
clm_err ovl_fill_grow(store *s, unsigned i, size_t vlen);
unsigned ovl_fill_until_full(store *a, store *b);

#endif /* CLM_UNIT_OVERLAY_FIXTURE_H */
