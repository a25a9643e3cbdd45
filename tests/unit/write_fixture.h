/*
 * What replay_test and ingest_cache_test share: requests decoded from
 * JSON as rpc decodes them, stores opened for tests, and two closed
 * stores compared byte for byte in every database.
 */
#ifndef CLM_UNIT_WRITE_FIXTURE_H
#define CLM_UNIT_WRITE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "clm/v1/clm.pb-c.h"
#include "store/store.h"
#include "util/arena.h"
#include "write/writer.h"

/* The request of json, decoded into a as rpc decodes one off the wire. */
Clm__V1__Request *wfx_request(arena *a, const char *json);

/*
 * wfx_store_open opens a store on dir for a test (no fsync, a 64 MiB map
 * growing to max_db bytes) and asserts it worked.
 */
store *wfx_store_open(const char *dir, size_t max_db);

/*
 * wfx_stores_compare asserts that the stores in dir_a and dir_b (closed)
 * hold the same named databases with the same records, byte for byte,
 * but for the keys skip_meta of database "meta" (a NULL-terminated list,
 * or NULL: none), which may differ or be missing; returns how many
 * records were compared.
 */
size_t wfx_stores_compare(
        const char *dir_a, const char *dir_b, const char *const *skip_meta);

/*
 * wfx_apply_job applies job alone in one write transaction of st at
 * now_ms, as the writer does (visitors folded, events numbered), and
 * asserts every step worked.
 */
void wfx_apply_job(store *st, writer_job *job, int64_t now_ms);

#endif /* CLM_UNIT_WRITE_FIXTURE_H */
