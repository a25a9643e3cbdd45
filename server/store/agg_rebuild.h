/* agg_rebuild: recompute the aggregates from profiles and touchpoints. */
#ifndef CLM_AGG_REBUILD_H
#define CLM_AGG_REBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "clm/error.h"
#include "store/store.h"

/*
 * The layouts of the aggregates this clmd keeps: the customers'
 * contributions (meta "agg_version") and the touchpoints' counters
 * (meta "agg_touch_version").
 */
#define AGG_VERSION       1
#define AGG_TOUCH_VERSION 1

/*
 * agg_rebuild recomputes each part of the aggregates whose stored version
 * is not this clmd's (both, with force), counting the profiles it went
 * through in *customers (0 when nothing was needed). For the start of
 * clmd, before the writer thread exists.
 */
clm_err agg_rebuild(store *s, bool force, size_t *customers);

#endif /* CLM_AGG_REBUILD_H */
