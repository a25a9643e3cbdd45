/*
 * clm catalog FILE: load items and stores, from CSV or NDJSON ("-" reads
 * standard input).
 *
 * NDJSON: one clm.v1.Item (with "itemId") or clm.v1.Store (with "storeId")
 * in proto3 JSON a line. CSV: a header row naming the columns, from
 *   type,id,name,category,price,upgrade_to,lat,lon,radius_m,discount_pct
 * (any order, any subset); `type` is item or store (without it, a row with
 * lat is a store). Fields may be "quoted", with "" for a quote.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pbjson.h"

#define CMD_CATALOG_BATCH 1000
#define CMD_CATALOG_COLS  16

enum cmd_catalog_col {
	COL_TYPE,
	COL_ID,
	COL_NAME,
	COL_CATEGORY,
	COL_PRICE,
	COL_UPGRADE,
	COL_LAT,
	COL_LON,
	COL_RADIUS,
	COL_DISCOUNT,
	COL_N,
};

static const char *const cmd_catalog_cols[COL_N]
        = { "type", "id", "name", "category", "price", "upgrade_to", "lat",
	          "lon", "radius_m", "discount_pct" };

struct cmd_catalog_batch {
	Clm__V1__Item *items[CMD_CATALOG_BATCH];
	Clm__V1__Store *stores[CMD_CATALOG_BATCH];
	size_t n_items, n_stores;
	unsigned long total_items, total_stores;
};

static void
cmd_catalog_free(struct cmd_catalog_batch *b)
{
	for (size_t i = 0; i < b->n_items; i++) {
		protobuf_c_message_free_unpacked(
		        (ProtobufCMessage *) b->items[i], NULL);
	}
	for (size_t i = 0; i < b->n_stores; i++) {
		protobuf_c_message_free_unpacked(
		        (ProtobufCMessage *) b->stores[i], NULL);
	}
	b->n_items = b->n_stores = 0;
}

static int
cmd_catalog_send(struct cli *cli, struct cmd_catalog_batch *b)
{
	if (b->n_items + b->n_stores == 0) {
		return CLI_OK;
	}
	Clm__V1__PutCatalogRequest q = CLM__V1__PUT_CATALOG_REQUEST__INIT;
	q.n_items = b->n_items;
	q.items = b->items;
	q.n_stores = b->n_stores;
	q.stores = b->stores;
	Clm__V1__Response *resp;
	clm_err e = clm_put_catalog(cli->conn, &q, &resp);
	int rc = cli_result(cli, e, resp);
	if (rc == CLI_OK && resp->put_catalog != NULL) {
		b->total_items += resp->put_catalog->items;
		b->total_stores += resp->put_catalog->stores;
	}
	clm_response_free(resp);
	cmd_catalog_free(b);
	return rc;
}

static char *
cmd_catalog_dup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL) {
		fprintf(stderr, "clm: out of memory\n");
		exit(CLI_EUSAGE);
	}
	return d;
}

static int
cmd_catalog_num(const char *s, double *out)
{
	char *end;
	if (*s == '\0') {
		*out = 0;
		return 0;
	}
	*out = strtod(s, &end);
	return *end == '\0' ? 0 : -1;
}

/* Parses a CSV row into the batch; -1 with a message on a bad row. */
static int
cmd_catalog_csv_row(const int *col, char **f, int nf,
        struct cmd_catalog_batch *b, char *err, size_t errlen)
{
	const char *v[COL_N];
	for (int c = 0; c < COL_N; c++) {
		v[c] = col[c] >= 0 && col[c] < nf ? f[col[c]] : "";
	}
	bool store = v[COL_TYPE][0] ? strcmp(v[COL_TYPE], "store") == 0
	                            : v[COL_LAT][0] != '\0';
	if (v[COL_TYPE][0] && !store && strcmp(v[COL_TYPE], "item") != 0) {
		snprintf(err, errlen, "type must be item or store, not '%s'",
		        v[COL_TYPE]);
		return -1;
	}
	double price, lat, lon, radius, discount;
	if (cmd_catalog_num(v[COL_PRICE], &price) != 0
	        || cmd_catalog_num(v[COL_LAT], &lat) != 0
	        || cmd_catalog_num(v[COL_LON], &lon) != 0
	        || cmd_catalog_num(v[COL_RADIUS], &radius) != 0
	        || cmd_catalog_num(v[COL_DISCOUNT], &discount) != 0) {
		snprintf(err, errlen, "a number column holds something else");
		return -1;
	}
	if (store) {
		Clm__V1__Store *s = calloc(1, sizeof(*s));
		Clm__V1__GeoPoint *g = calloc(1, sizeof(*g));
		if (s == NULL || g == NULL) {
			free(s);
			free(g);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		clm__v1__store__init(s);
		clm__v1__geo_point__init(g);
		s->store_id = cmd_catalog_dup(v[COL_ID]);
		s->name = cmd_catalog_dup(v[COL_NAME]);
		g->lat = lat;
		g->lon = lon;
		s->location = g;
		s->radius_m = radius;
		s->discount_pct = discount;
		b->stores[b->n_stores++] = s;
	} else {
		Clm__V1__Item *it = calloc(1, sizeof(*it));
		if (it == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		clm__v1__item__init(it);
		it->item_id = cmd_catalog_dup(v[COL_ID]);
		it->name = cmd_catalog_dup(v[COL_NAME]);
		it->category = cmd_catalog_dup(v[COL_CATEGORY]);
		it->price = price;
		it->upgrade_to = cmd_catalog_dup(v[COL_UPGRADE]);
		b->items[b->n_items++] = it;
	}
	return 0;
}

static int
cmd_catalog_json_row(const char *line, size_t len, struct cmd_catalog_batch *b,
        char *err, size_t errlen)
{
	ProtobufCMessage *m;
	if (pbjson_parse(
	            line, len, &clm__v1__item__descriptor, &m, err, errlen)
	        == 0) {
		b->items[b->n_items++] = (Clm__V1__Item *) m;
		return 0;
	}
	char err2[256];
	if (pbjson_parse(line, len, &clm__v1__store__descriptor, &m, err2,
	            sizeof(err2))
	        == 0) {
		b->stores[b->n_stores++] = (Clm__V1__Store *) m;
		return 0;
	}
	if (strstr(line, "storeId") != NULL
	        || strstr(line, "store_id") != NULL) {
		snprintf(err, errlen, "%s", err2);
	}
	return -1;
}

/* Reads the CSV header into col; returns 0, or -1 (reported). */
static int
cmd_catalog_header(const char *path, char **f, int nf, int *col)
{
	for (int c = 0; c < COL_N; c++) {
		col[c] = -1;
		for (int k = 0; k < nf; k++) {
			if (strcmp(f[k], cmd_catalog_cols[c]) == 0) {
				col[c] = k;
			}
		}
	}
	if (col[COL_ID] < 0) {
		fprintf(stderr, "clm: %s: the header has no 'id' column\n",
		        path);
		return -1;
	}
	return 0;
}

int
cmd_catalog(struct cli *cli, int argc, char **argv)
{
	if (argc != 2) {
		return cli_usage_error(
		        "catalog wants one FILE (CSV or NDJSON, - for stdin)");
	}
	const char *path = argv[1];
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (in == NULL) {
		fprintf(stderr, "clm: cannot read '%s'\n", path);
		return CLI_EUSAGE;
	}
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		if (in != stdin) {
			fclose(in);
		}
		return rc;
	}
	struct cmd_catalog_batch *b = calloc(1, sizeof(*b));
	if (b == NULL) {
		fprintf(stderr, "clm: out of memory\n");
		return CLI_EUSAGE;
	}
	int col[COL_N];
	struct cli_records recs = { .decided = false };
	unsigned long lineno = 0, bad = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while (rc == CLI_OK && (len = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (len > 0 && isspace((unsigned char) line[len - 1])) {
			line[--len] = '\0';
		}
		char err[256] = "";
		char *f[CMD_CATALOG_COLS];
		int nf, ok = -1;
		switch (cli_record(
		        &recs, line, (size_t) len, f, CMD_CATALOG_COLS, &nf)) {
		case CLI_RECORD_BLANK:
			continue;
		case CLI_RECORD_HEADER:
			if (cmd_catalog_header(path, f, nf, col) != 0) {
				rc = CLI_EUSAGE;
			}
			continue;
		case CLI_RECORD_JSON:
			ok = cmd_catalog_json_row(
			        line, (size_t) len, b, err, sizeof(err));
			break;
		case CLI_RECORD_ROW:
			ok = cmd_catalog_csv_row(
			        col, f, nf, b, err, sizeof(err));
			break;
		case CLI_RECORD_MALFORMED:
			snprintf(err, sizeof(err), "malformed CSV row");
			break;
		}
		if (ok != 0) {
			fprintf(stderr, "line %lu: %s\n", lineno,
			        err[0] ? err : "neither an Item nor a Store");
			bad++;
			continue;
		}
		if (b->n_items == CMD_CATALOG_BATCH
		        || b->n_stores == CMD_CATALOG_BATCH) {
			rc = cmd_catalog_send(cli, b);
		}
	}
	if (rc == CLI_OK) {
		rc = cmd_catalog_send(cli, b);
	}
	cmd_catalog_free(b);
	free(line);
	if (in != stdin) {
		fclose(in);
	}
	if (cli->json) {
		printf("{\"position\":\"%llu\",\"items\":%lu,\"stores\":%lu,\"badLines\":%lu}\n",
		        (unsigned long long) clm_last_position(cli->conn),
		        b->total_items, b->total_stores, bad);
	} else {
		printf("loaded %lu items and %lu stores; %lu bad lines\n",
		        b->total_items, b->total_stores, bad);
	}
	free(b);
	if (rc == CLI_OK && bad > 0) {
		rc = CLI_EUSAGE;
	}
	return rc;
}
