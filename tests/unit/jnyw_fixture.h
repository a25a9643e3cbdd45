/*
 * jnyw_fixture: the writer-level fixture of the journeys' unit tests
 * (jny_write_test.c, jny_fix_test.c): a store on a temp dir,
 * the writer's segments and journeys, writes through the calls' prepare
 * steps applied as the writer applies them (one transaction per job, each
 * at an instant the test chooses), and fires as the writer makes them
 * (jw_due, then the job journey_fire_job makes). So the clock plays no
 * part. F is the fixture's state (one test at a time).
 */
#ifndef CLM_TEST_JNYW_FIXTURE_H
#define CLM_TEST_JNYW_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clm/v1/store.pb-c.h"
#include "config.h"
#include "server.h"
#include "store/store.h"
#include "util/arena.h"
#include "write/writer.h"

/* 2026-11-01T10:00:00Z. */
#define T0   1793527200000LL
#define MIN  (60 * 1000LL)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

struct jfx {
	char dir[256];
	struct config cfg;
	struct server srv;
	store *st;
	struct segw *segs;
	struct jw *jny;
	struct ingest_cache *cache;
	struct agg_visits *visits;
	arena scratch;
	arena a;
	/* The JOURNEY_MESSAGE events of the fires, in order. */
	Clm__V1__LifecycleEvent *msgs[1024];
	size_t n_msgs;
	/* The events of the last job applied. */
	Clm__V1__LifecycleEvent **events;
	size_t n_events;
};

extern struct jfx F;

/* jfx_init readies F on a new temp dir named after tag; jfx_fini ends it. */
void jfx_init(const char *tag);
void jfx_fini(void);

/*
 * Applies job alone at now_ms in txn as the writer does (writer.c);
 * returns the apply's error (the transaction is then aborted).
 */
clm_err jfx_try(writer_job *job, int64_t now_ms, store_txn *txn);

/* Applies job alone at now_ms (the map grown when it fills). */
void jfx_apply(writer_job *job, int64_t now_ms);

/* Runs the prepare step of json's write call at now_ms and applies it. */
void jfx_write(const char *json, int64_t now_ms);

/* Tracks one touchpoint of customer at at_ms, applied at at_ms. */
void jfx_track(const char *customer, const char *type, const char *item,
        int64_t at_ms);

/* Defines (or redefines) the journey of json as DefineJourney applies. */
uint32_t jfx_define(const char *json, int64_t now_ms);

/* Deletes the journey called name as DeleteJourney applies. */
void jfx_delete(const char *name, uint32_t id);

/* The due timers at now_ms as the writer takes them (all of them). */
Clm__V1__JourneyFire *jfx_due(int64_t now_ms);

/* Applies fire f at now_ms as the writer's fire job. */
void jfx_fire_entry(const Clm__V1__JourneyFire *f, int64_t now_ms);

/* Fires what is due at now_ms; returns how many messages it sent. */
size_t jfx_fire(int64_t now_ms);

/* The counters of journey id (n_steps steps), in F.a. */
Clm__V1__JourneyStats *jfx_stats(uint32_t id, size_t n_steps);

/* The earliest timer (0: none). */
int64_t jfx_first_due(void);

/* Whether a touchpoint with event_id is stored. */
bool jfx_event_exists(const char *event_id);

/* customer's state in journey id, or NULL (in F.a). */
Clm__V1__JourneyState *jfx_state(const char *customer, uint32_t id);

/* Asserts journey id's entered, active, exited and completed. */
void jfx_assert_stats(uint32_t id, size_t n_steps, uint64_t entered,
        uint64_t active, uint64_t exited, uint64_t completed);

/* Runs the segments' background steps at now_ms as writer_segment_step. */
void jfx_seg_steps(int64_t now_ms);

#endif /* CLM_TEST_JNYW_FIXTURE_H */
