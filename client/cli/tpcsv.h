/*
 * Touchpoints from CSV rows (clm import). The header names the columns,
 * each a Touchpoint field in snake_case or lowerCamelCase:
 *   event_id customer_id anonymous_id type channel occurred_at_ms
 *   occurred_at (ISO 8601 or unix ms) item_id value currency duration_s
 *   sentiment lat lon campaign event_name
 * and prop.KEY for the property KEY. An empty cell leaves its field unset.
 * (order_items, a list, has no column: NDJSON carries it.)
 */
#ifndef CLM_CLI_TPCSV_H
#define CLM_CLI_TPCSV_H

#include <stddef.h>

#include "cli.h"

/* The most columns a header may have. */
#define TPCSV_MAX_COLS 64

struct tpcsv {
	int ncols;
	int field[TPCSV_MAX_COLS];  /* enum tpcsv_field of each column */
	char *prop[TPCSV_MAX_COLS]; /* the KEY of a prop.KEY column */
	bool has_lat, has_lon;
};

/*
 * tpcsv_header reads the header's n column names. Returns 0, or -1 with a
 * message in err (an unknown or repeated column, lat without lon, ...).
 * Release h with tpcsv_fini either way.
 */
int tpcsv_header(
        struct tpcsv *h, char *const *names, int n, char *err, size_t errlen);

/*
 * tpcsv_row makes a new Touchpoint (release with
 * clm__v1__touchpoint__free_unpacked) from one row's nf fields. Returns 0,
 * or -1 with the reason in err ("type: unknown touchpoint type 'X'").
 */
int tpcsv_row(const struct tpcsv *h, char *const *f, int nf,
        Clm__V1__Touchpoint **out, char *err, size_t errlen);

/* tpcsv_fini releases what tpcsv_header allocated. */
void tpcsv_fini(struct tpcsv *h);

#endif /* CLM_CLI_TPCSV_H */
