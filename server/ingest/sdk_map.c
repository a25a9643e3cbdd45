/*
 * sdk_map: the event-name table (docs/ingest.md, "Event names"): the
 * built-in names, then the lines of the user's file, as one sorted array
 * of normalized names searched by bisection. Immutable once built.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/sdk_internal.h"

/* Longest event name a table line may hold, and longest line. */
#define SDK_MAP_MAX_NAME 255
#define SDK_MAP_MAX_LINE 1024

struct sdk_map_entry {
	char *name; /* normalized */
	int type;   /* a TouchpointType, or SDK_MAP_IGNORE */
	int line;   /* in the user's file; 0 for a built-in name */
};

struct sdk_map {
	struct sdk_map_entry *e;
	size_t n;
};

#define T(x) CLM__V1__TOUCHPOINT_TYPE__##x

/* Segment's e-commerce spec v2, its B2B SaaS, email and mobile lifecycle
 * events, and PostHog's own $ events. */
static const struct {
	const char *name;
	int type;
} sdk_map_builtin[] = {
	{ "order completed", T(PURCHASE) },
	{ "order refunded", T(REFUND) },
	{ "product added", T(ADD_TO_CART) },
	{ "product removed", T(REMOVE_FROM_CART) },
	{ "checkout started", T(CHECKOUT_STARTED) },
	{ "product viewed", T(CONTENT_VIEW) },
	{ "product clicked", T(CONTENT_VIEW) },
	{ "product list viewed", T(CONTENT_VIEW) },
	{ "product reviewed", T(REVIEW) },
	{ "promotion viewed", T(AD_IMPRESSION) },
	{ "promotion clicked", T(AD_CLICK) },
	{ "signed up", T(SIGNUP) },
	{ "account created", T(SIGNUP) },
	{ "account deleted", T(CANCELLATION) },
	{ "subscription cancelled", T(CANCELLATION) },
	{ "trial ended", T(USAGE_LIMIT_REACHED) },
	{ "invite sent", T(REFERRAL) },
	{ "demo requested", T(DEMO_REQUEST) },
	{ "email opened", T(EMAIL_OPEN) },
	{ "email link clicked", T(EMAIL_CLICK) },
	{ "application opened", T(APP_OPEN) },
	{ "$pageview", T(PAGE_VIEW) },
	{ "$screen", T(PAGE_VIEW) },
	{ "survey sent", T(FEEDBACK) },
	{ "$pageleave", SDK_MAP_IGNORE },
	{ "$autocapture", SDK_MAP_IGNORE },
	{ "$rageclick", SDK_MAP_IGNORE },
	{ "$dead_click", SDK_MAP_IGNORE },
	{ "$feature_flag_called", SDK_MAP_IGNORE },
	{ "$feature_view", SDK_MAP_IGNORE },
	{ "$feature_interaction", SDK_MAP_IGNORE },
	{ "$web_vitals", SDK_MAP_IGNORE },
	{ "$exception", SDK_MAP_IGNORE },
	{ "$opt_in", SDK_MAP_IGNORE },
	{ "$groupidentify", SDK_MAP_IGNORE },
	{ "$snapshot", SDK_MAP_IGNORE },
	{ "survey shown", SDK_MAP_IGNORE },
	{ "survey dismissed", SDK_MAP_IGNORE },
};

#undef T

/*
 * Normalizes s[0..n) into buf (SDK_MAP_MAX_NAME + 1 bytes): ASCII letters
 * lowercased, '_' read as ' '. False when s is too long.
 */
static bool
sdk_map_norm(const char *s, size_t n, char *buf)
{
	if (n > SDK_MAP_MAX_NAME) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch >= 'A' && ch <= 'Z') {
			ch = (char) (ch - 'A' + 'a');
		} else if (ch == '_') {
			ch = ' ';
		}
		buf[i] = ch;
	}
	buf[n] = '\0';
	return true;
}

/* Orders by name, then by line, so the last line of a name comes last. */
static int
sdk_map_cmp(const void *x, const void *y)
{
	const struct sdk_map_entry *a = x, *b = y;
	int c = strcmp(a->name, b->name);
	return c != 0 ? c : (a->line > b->line) - (a->line < b->line);
}

static bool
sdk_map_push(struct sdk_map *m, size_t *cap, const char *name, size_t n,
        int type, int line)
{
	char buf[SDK_MAP_MAX_NAME + 1];
	if (!sdk_map_norm(name, n, buf)) {
		return false;
	}
	if (m->n == *cap) {
		size_t ncap = *cap == 0 ? 64 : *cap * 2;
		struct sdk_map_entry *e = realloc(m->e, ncap * sizeof(*e));
		if (e == NULL) {
			return false;
		}
		m->e = e;
		*cap = ncap;
	}
	char *copy = strdup(buf);
	if (copy == NULL) {
		return false;
	}
	m->e[m->n++] = (struct sdk_map_entry) { copy, type, line };
	return true;
}

/* Reads a type name of a line: a TouchpointType name or IGNORE. */
static bool
sdk_map_type(const char *s, int *type)
{
	if (strcasecmp(s, "IGNORE") == 0) {
		*type = SDK_MAP_IGNORE;
		return true;
	}
	const ProtobufCEnumDescriptor *d
	        = &clm__v1__touchpoint_type__descriptor;
	for (unsigned i = 0; i < d->n_values; i++) {
		if (strcasecmp(d->values[i].name, s) == 0
		        && d->values[i].value != 0) {
			*type = d->values[i].value;
			return true;
		}
	}
	return false;
}

static char *
sdk_map_trim(char *s, char **end)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) {
		e--;
	}
	*e = '\0';
	*end = e;
	return s;
}

/*
 * Reads the user's file into m. Lines: "NAME = TYPE" (split at the last
 * '='), or "NAME<tab>TYPE" (at the last tab) when there is no '='; blank
 * lines and lines starting with '#' are skipped.
 */
static clm_err
sdk_map_read(struct sdk_map *m, size_t *cap, const char *path, char *err,
        size_t errlen)
{
	char line[SDK_MAP_MAX_LINE + 3]; /* the line, its newline and NUL */
	int lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "cannot open sdk_event_map '%s': %s",
		        path, strerror(errno));
		return CLM_INVALID_ARGUMENT;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end, *name, *type, *sep;
		size_t len = strlen(line);
		bool nl = len > 0 && line[len - 1] == '\n';
		int t;

		lineno++;
		if (nl) {
			line[--len] = '\0';
		}
		if (len > SDK_MAP_MAX_LINE || (!nl && !feof(f))) {
			snprintf(err, errlen,
			        "%s:%d: line longer than %d bytes", path,
			        lineno, SDK_MAP_MAX_LINE);
			goto fail;
		}
		name = sdk_map_trim(line, &end);
		if (name[0] == '\0' || name[0] == '#') {
			continue;
		}
		sep = strrchr(name, '=');
		if (sep == NULL) {
			sep = strrchr(name, '\t');
		}
		if (sep == NULL) {
			snprintf(err, errlen,
			        "%s:%d: expected 'Event Name = TYPE' (or a tab between them)",
			        path, lineno);
			goto fail;
		}
		*sep = '\0';
		type = sdk_map_trim(sep + 1, &end);
		name = sdk_map_trim(name, &end);
		if (name[0] == '\0') {
			snprintf(err, errlen,
			        "%s:%d: no event name before '%s'", path,
			        lineno, type);
			goto fail;
		}
		if (!validate_utf8(name, (size_t) (end - name), true)) {
			snprintf(err, errlen,
			        "%s:%d: the event name is not printable UTF-8",
			        path, lineno);
			goto fail;
		}
		if ((size_t) (end - name) > SDK_MAP_MAX_NAME) {
			snprintf(err, errlen,
			        "%s:%d: event name longer than %d bytes", path,
			        lineno, SDK_MAP_MAX_NAME);
			goto fail;
		}
		if (!sdk_map_type(type, &t)) {
			snprintf(err, errlen,
			        "%s:%d: unknown type '%s': a TouchpointType name (PURCHASE, PAGE_VIEW, CUSTOM, ...) or IGNORE",
			        path, lineno, type);
			goto fail;
		}
		if (!sdk_map_push(
		            m, cap, name, (size_t) (end - name), t, lineno)) {
			fclose(f);
			return CLM_RESOURCE_EXHAUSTED;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read sdk_event_map '%s': %s",
		        path, strerror(errno));
		goto fail;
	}
	fclose(f);
	return CLM_OK;
fail:
	fclose(f);
	return CLM_INVALID_ARGUMENT;
}

clm_err
sdk_map_load(const char *path, struct sdk_map **out, char *err, size_t errlen)
{
	struct sdk_map *m = calloc(1, sizeof(*m));
	size_t cap = 0,
	       nb = sizeof(sdk_map_builtin) / sizeof(sdk_map_builtin[0]);
	clm_err e = CLM_OK;

	if (m == NULL) {
		snprintf(err, errlen, "out of memory loading the event table");
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t i = 0; i < nb; i++) {
		const char *name = sdk_map_builtin[i].name;
		if (!sdk_map_push(m, &cap, name, strlen(name),
		            sdk_map_builtin[i].type, 0)) {
			e = CLM_RESOURCE_EXHAUSTED;
			goto fail;
		}
	}
	if (path != NULL && path[0] != '\0') {
		e = sdk_map_read(m, &cap, path, err, errlen);
		if (e != CLM_OK) {
			goto fail;
		}
	}
	qsort(m->e, m->n, sizeof(*m->e), sdk_map_cmp);
	/* A name twice in the file is a mistake worth a refusal. */
	for (size_t i = 1; i < m->n; i++) {
		if (m->e[i - 1].line > 0
		        && strcmp(m->e[i - 1].name, m->e[i].name) == 0) {
			snprintf(err, errlen,
			        "%s:%d: '%s' is already mapped on line %d",
			        path, m->e[i].line, m->e[i].name,
			        m->e[i - 1].line);
			e = CLM_INVALID_ARGUMENT;
			goto fail;
		}
	}
	/* One entry per name: the file's line wins over the built-in. */
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (k > 0 && strcmp(m->e[k - 1].name, m->e[i].name) == 0) {
			free(m->e[k - 1].name);
			m->e[k - 1] = m->e[i];
		} else {
			m->e[k++] = m->e[i];
		}
	}
	m->n = k;
	*out = m;
	return CLM_OK;
fail:
	if (e == CLM_RESOURCE_EXHAUSTED) {
		snprintf(err, errlen, "out of memory loading the event table");
	}
	sdk_map_free(m);
	return e;
}

void
sdk_map_free(struct sdk_map *m)
{
	if (m == NULL) {
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].name);
	}
	free(m->e);
	free(m);
}

int
sdk_event_type(const struct sdk_map *m, const char *name)
{
	char buf[SDK_MAP_MAX_NAME + 1];
	size_t lo = 0, hi = m->n;

	if (!sdk_map_norm(name, strlen(name), buf)) {
		return CLM__V1__TOUCHPOINT_TYPE__CUSTOM;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->e[mid].name, buf);
		if (c == 0) {
			return m->e[mid].type;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return CLM__V1__TOUCHPOINT_TYPE__CUSTOM;
}
