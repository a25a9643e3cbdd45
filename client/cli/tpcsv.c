/* Touchpoints from CSV rows; see tpcsv.h. */
#include "tpcsv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum tpcsv_field {
	TPCSV_EVENT_ID,
	TPCSV_CUSTOMER_ID,
	TPCSV_ANONYMOUS_ID,
	TPCSV_TYPE,
	TPCSV_CHANNEL,
	TPCSV_OCCURRED_AT_MS,
	TPCSV_OCCURRED_AT,
	TPCSV_ITEM_ID,
	TPCSV_VALUE,
	TPCSV_CURRENCY,
	TPCSV_DURATION_S,
	TPCSV_SENTIMENT,
	TPCSV_LAT,
	TPCSV_LON,
	TPCSV_CAMPAIGN,
	TPCSV_EVENT_NAME,
	TPCSV_NFIELDS,
	TPCSV_PROP = TPCSV_NFIELDS,
};

static const char *const tpcsv_names[TPCSV_NFIELDS] = { "event_id",
	"customer_id", "anonymous_id", "type", "channel", "occurred_at_ms",
	"occurred_at", "item_id", "value", "currency", "duration_s",
	"sentiment", "lat", "lon", "campaign", "event_name" };

int
tpcsv_header(
        struct tpcsv *h, char *const *names, int n, char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (n > TPCSV_MAX_COLS) {
		snprintf(err, errlen, "the header has %d columns, at most %d",
		        n, TPCSV_MAX_COLS);
		return -1;
	}
	bool seen[TPCSV_NFIELDS] = { false };
	for (int k = 0; k < n; k++) {
		h->ncols = k + 1;
		if (strncmp(names[k], "prop.", 5) == 0) {
			if (names[k][5] == '\0') {
				snprintf(err, errlen,
				        "column %d: 'prop.' needs a key",
				        k + 1);
				return -1;
			}
			for (int j = 0; j < k; j++) {
				if (h->field[j] == TPCSV_PROP
				        && strcmp(h->prop[j], names[k] + 5)
				                == 0) {
					snprintf(err, errlen,
					        "column '%s' appears twice",
					        names[k]);
					return -1;
				}
			}
			h->field[k] = TPCSV_PROP;
			if ((h->prop[k] = strdup(names[k] + 5)) == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			continue;
		}
		char name[64];
		cli_csv_name(names[k], name, sizeof(name));
		int f = 0;
		while (f < TPCSV_NFIELDS
		        && strcmp(name, tpcsv_names[f]) != 0) {
			f++;
		}
		if (f == TPCSV_NFIELDS) {
			snprintf(err, errlen,
			        "unknown column '%s' (a Touchpoint field such as customer_id, or prop.KEY)",
			        names[k]);
			return -1;
		}
		if (seen[f]) {
			snprintf(err, errlen, "column '%s' appears twice",
			        names[k]);
			return -1;
		}
		seen[f] = true;
		h->field[k] = f;
	}
	if (seen[TPCSV_OCCURRED_AT] && seen[TPCSV_OCCURRED_AT_MS]) {
		snprintf(err, errlen,
		        "give occurred_at or occurred_at_ms, not both");
		return -1;
	}
	if (seen[TPCSV_LAT] != seen[TPCSV_LON]) {
		snprintf(err, errlen, "lat and lon go together");
		return -1;
	}
	if (!seen[TPCSV_CUSTOMER_ID] && !seen[TPCSV_ANONYMOUS_ID]) {
		snprintf(err, errlen,
		        "the header needs customer_id or anonymous_id");
		return -1;
	}
	if (!seen[TPCSV_TYPE]) {
		snprintf(err, errlen, "the header needs a type column");
		return -1;
	}
	h->has_lat = seen[TPCSV_LAT];
	h->has_lon = seen[TPCSV_LON];
	return 0;
}

void
tpcsv_fini(struct tpcsv *h)
{
	for (int k = 0; k < h->ncols; k++) {
		free(h->prop[k]);
		h->prop[k] = NULL;
	}
	h->ncols = 0;
}

static int
tpcsv_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0' && errno == 0 ? 0 : -1;
}

static int
tpcsv_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < lo || v > hi) {
		return -1;
	}
	*out = v;
	return 0;
}

/* Sets one field of tp from a non-empty cell; -1 with err on a bad one. */
static int
tpcsv_cell(Clm__V1__Touchpoint *tp, int field, const char *v, char *err,
        size_t errlen)
{
	const char *name = tpcsv_names[field];
	char **str = NULL;
	double d;
	long long n;
	int e;
	switch (field) {
	case TPCSV_EVENT_ID:
		str = &tp->event_id;
		break;
	case TPCSV_CUSTOMER_ID:
		str = &tp->customer_id;
		break;
	case TPCSV_ANONYMOUS_ID:
		str = &tp->anonymous_id;
		break;
	case TPCSV_ITEM_ID:
		str = &tp->item_id;
		break;
	case TPCSV_CURRENCY:
		str = &tp->currency;
		break;
	case TPCSV_CAMPAIGN:
		str = &tp->campaign;
		break;
	case TPCSV_EVENT_NAME:
		str = &tp->event_name;
		break;
	case TPCSV_TYPE:
		if (cli_enum_parse(
		            &clm__v1__touchpoint_type__descriptor, v, &e)
		        != 0) {
			snprintf(err, errlen,
			        "type: unknown touchpoint type '%s'", v);
			return -1;
		}
		tp->type = (Clm__V1__TouchpointType) e;
		return 0;
	case TPCSV_CHANNEL:
		if (cli_enum_parse(&clm__v1__channel__descriptor, v, &e)
		        != 0) {
			snprintf(err, errlen, "channel: unknown channel '%s'",
			        v);
			return -1;
		}
		tp->channel = (Clm__V1__Channel) e;
		return 0;
	case TPCSV_OCCURRED_AT_MS:
		if (tpcsv_int(v, INT64_MIN, INT64_MAX, &n) != 0) {
			snprintf(err, errlen,
			        "occurred_at_ms: not a number of ms '%s'", v);
			return -1;
		}
		tp->occurred_at_ms = n;
		return 0;
	case TPCSV_OCCURRED_AT:
		if (cli_parse_time(v, &tp->occurred_at_ms) != 0) {
			snprintf(err, errlen,
			        "occurred_at: not an ISO 8601 time or unix ms '%s'",
			        v);
			return -1;
		}
		return 0;
	case TPCSV_DURATION_S:
		if (tpcsv_int(v, 0, UINT32_MAX, &n) != 0) {
			snprintf(err, errlen,
			        "duration_s: not a number of seconds '%s'", v);
			return -1;
		}
		tp->duration_s = (uint32_t) n;
		return 0;
	default: /* value, sentiment, lat, lon */
		if (tpcsv_double(v, &d) != 0) {
			snprintf(
			        err, errlen, "%s: not a number '%s'", name, v);
			return -1;
		}
		if (field == TPCSV_VALUE) {
			tp->value = d;
		} else if (field == TPCSV_SENTIMENT) {
			tp->sentiment = (float) d;
		} else if (field == TPCSV_LAT) {
			tp->location->lat = d;
		} else {
			tp->location->lon = d;
		}
		return 0;
	}
	if ((*str = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Adds the property key=v to tp; -1 with err when memory runs out. */
static int
tpcsv_prop(Clm__V1__Touchpoint *tp, const char *key, const char *v, size_t max,
        char *err, size_t errlen)
{
	if (tp->properties == NULL
	        && (tp->properties = calloc(max, sizeof(*tp->properties)))
	                == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	Clm__V1__Touchpoint__PropertiesEntry *pe = malloc(sizeof(*pe));
	if (pe == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	clm__v1__touchpoint__properties_entry__init(pe);
	tp->properties[tp->n_properties++] = pe;
	if ((pe->key = strdup(key)) == NULL
	        || (pe->value = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
tpcsv_row(const struct tpcsv *h, char *const *f, int nf,
        Clm__V1__Touchpoint **out, char *err, size_t errlen)
{
	if (nf != h->ncols) {
		snprintf(err, errlen, "%d fields, the header has %d", nf,
		        h->ncols);
		return -1;
	}
	Clm__V1__Touchpoint *tp = malloc(sizeof(*tp));
	if (tp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	clm__v1__touchpoint__init(tp);
	/* A location only when this row has lat or lon. */
	bool located = false;
	for (int k = 0; k < nf && h->has_lat; k++) {
		located |= (h->field[k] == TPCSV_LAT
		                   || h->field[k] == TPCSV_LON)
		        && f[k][0] != '\0';
	}
	if (located) {
		tp->location = malloc(sizeof(*tp->location));
		if (tp->location == NULL) {
			clm__v1__touchpoint__free_unpacked(tp, NULL);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		clm__v1__geo_point__init(tp->location);
	}
	size_t nprops = 0;
	for (int k = 0; k < nf; k++) {
		nprops += h->field[k] == TPCSV_PROP && f[k][0] != '\0';
	}
	for (int k = 0; k < nf; k++) {
		if (f[k][0] == '\0') {
			continue;
		}
		int rv = h->field[k] == TPCSV_PROP
		        ? tpcsv_prop(tp, h->prop[k], f[k], nprops, err, errlen)
		        : tpcsv_cell(tp, h->field[k], f[k], err, errlen);
		if (rv != 0) {
			clm__v1__touchpoint__free_unpacked(tp, NULL);
			return -1;
		}
	}
	if (located) {
		bool lat = false, lon = false;
		for (int k = 0; k < nf; k++) {
			lat |= h->field[k] == TPCSV_LAT && f[k][0] != '\0';
			lon |= h->field[k] == TPCSV_LON && f[k][0] != '\0';
		}
		if (lat != lon) {
			clm__v1__touchpoint__free_unpacked(tp, NULL);
			snprintf(err, errlen, "lat and lon go together");
			return -1;
		}
	}
	*out = tp;
	return 0;
}
