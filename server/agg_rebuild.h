/* agg_rebuild: recompute the aggregates from profiles and touchpoints. */
#ifndef CLM_AGG_REBUILD_H
#define CLM_AGG_REBUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "clm/error.h"
#include "store.h"

/* The layout of the aggregates this clmd keeps (meta "agg_version"). */
#define AGG_VERSION 1

/*
 * agg_rebuild recomputes every aggregate when the stored ones are not of
 * AGG_VERSION (or always, with force), counting the profiles it went
 * through in *customers (0 when nothing was needed). For the start of
 * clmd, before the writer thread exists.
 */
clm_err agg_rebuild(store *s, bool force, size_t *customers);

#endif /* CLM_AGG_REBUILD_H */
