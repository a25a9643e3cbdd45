/*
 * args: a command's words parsed by its cmdtab rows (see args.h).
 *
 * One pass over the words, in order: each is an operand or a flag
 * (cmdtab_command.dashes), a flag is looked up in the command's rows, a
 * switch is set, and a value is converted by the row's kind at once, so
 * the first problem on the command line is the one reported. Every
 * message about a bad value is in args_bad.
 */
#include "args.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The row named name among flags, or NULL. */
static const struct cmdtab_flag *
args_find(const struct cmdtab_flag *flags, const char *name)
{
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		if (strcmp(flags[i].name, name) == 0) {
			return &flags[i];
		}
	}
	return NULL;
}

const struct args_value *
args_get(const struct args *a, const char *name)
{
	const struct cmdtab_flag *f = args_find(a->flags, name);
	assert(f != NULL); /* a name of the command's rows */
	return &a->v[f - a->flags];
}

/* Where the value of f goes: its own, or that of the flag it is. */
static struct args_value *
args_slot(struct args *a, const struct cmdtab_flag *f)
{
	if (f->same_as != NULL) {
		f = args_find(a->flags, f->same_as);
		assert(f != NULL);
	}
	return &a->v[f - a->flags];
}

/* The enum of a CMDTAB_ENUM flag. */
static const ProtobufCEnumDescriptor *
args_enum(const struct cmdtab_flag *f)
{
	assert(f->values == CMDTAB_CHANNEL || f->values == CMDTAB_TYPE);
	return f->values == CMDTAB_CHANNEL
	        ? &clm__v1__channel__descriptor
	        : &clm__v1__touchpoint_type__descriptor;
}

/* The index of v among the ' '-separated words, or -1. */
static int64_t
args_word_index(const char *words, const char *v)
{
	size_t len = strlen(v);
	int64_t i = 0;
	for (const char *w = words; *w != '\0'; i++) {
		size_t n = strcspn(w, " ");
		if (n == len && strncmp(w, v, n) == 0) {
			return i;
		}
		w += n + (w[n] == ' ');
	}
	return -1;
}

/* Reports v, not one of f's words: "--by wants day, week or month, ...". */
static int
args_bad_word(const struct cmdtab_flag *f, const char *v)
{
	char list[256] = "";
	size_t len = 0;
	for (const char *w = f->words; *w != '\0' && len < sizeof(list);) {
		size_t n = strcspn(w, " ");
		const char *next = w + n + (w[n] == ' ');
		const char *sep = len == 0 ? ""
		        : *next == '\0'    ? " or "
		                           : ", ";
		len += (size_t) snprintf(list + len, sizeof(list) - len,
		        "%s%.*s", sep, (int) n, w);
		w = next;
	}
	return cli_usage_error("%s wants %s, not '%s'", f->name, list, v);
}

/*
 * Reports the bad value v of f: the row's own message (a format of the
 * flag's name and the value), else its kind's. Returns CLI_EUSAGE.
 */
static int
args_bad(const struct cmdtab_flag *f, const char *v)
{
	if (f->bad != NULL) {
		return cli_usage_error(f->bad, f->name, v);
	}
	switch (f->kind) {
	case CMDTAB_PAIR:
		return cli_usage_error(
		        "%s wants KEY=VALUE, got '%s'", f->name, v);
	case CMDTAB_NUMBER:
		return cli_usage_error("%s: invalid number '%s'", f->name, v);
	case CMDTAB_INT:
		return cli_usage_error(
		        "%s wants a number from %ld to %ld, not '%s'", f->name,
		        (long) f->min, (long) f->max, v);
	case CMDTAB_TIME:
		return cli_usage_error("invalid time '%s'", v);
	case CMDTAB_WINDOW:
		return cli_usage_error("%s: invalid time '%s'", f->name, v);
	case CMDTAB_ENUM:
		return cli_usage_error(f->values == CMDTAB_CHANNEL
		                ? "unknown channel '%s'"
		                : "unknown touchpoint type '%s'",
		        v);
	case CMDTAB_WORD:
		return args_bad_word(f, v);
	default:
		return cli_usage_error("invalid %s '%s'", f->name, v);
	}
}

/* Converts v by f's kind; returns CLI_OK, or reports and CLI_EUSAGE. */
static int
args_convert(struct args *a, const struct cmdtab_flag *f, char *v)
{
	struct args_value *x = args_slot(a, f);
	char *end;
	int e = 0;
	bool ok = true;
	switch (f->kind) {
	case CMDTAB_STRING:
	case CMDTAB_OWN:
		break;
	case CMDTAB_LIST:
	case CMDTAB_PAIR: {
		char *eq = strchr(v, '=');
		if (f->kind == CMDTAB_PAIR && eq == NULL) {
			return args_bad(f, v);
		}
		if (x->count == ARGS_LIST_MAX) {
			return cli_usage_error("too many %s", f->name);
		}
		size_t slot = (size_t) (x - a->v);
		if (f->kind == CMDTAB_PAIR) {
			*eq = '\0';
			a->values[slot][x->count] = eq + 1;
			x->values = a->values[slot];
		}
		a->items[slot][x->count++] = v;
		x->items = a->items[slot];
		break;
	}
	case CMDTAB_NUMBER:
		x->num = strtod(v, &end);
		ok = *v != '\0' && *end == '\0';
		if (ok && f->max > f->min
		        && (x->num < f->min || x->num > f->max)) {
			return cli_usage_error("%s out of range", f->name);
		}
		break;
	case CMDTAB_INT:
		errno = 0;
		x->n = strtol(v, &end, 10);
		ok = *v != '\0' && *end == '\0' && errno == 0
		        && x->n >= (long) f->min && x->n <= (long) f->max;
		break;
	case CMDTAB_TIME:
	case CMDTAB_WINDOW:
		ok = cli_parse_time(v, &x->n) == 0
		        && (f->kind == CMDTAB_TIME || x->n >= 0);
		break;
	case CMDTAB_ENUM:
		ok = cli_enum_parse(args_enum(f), v, &e) == 0 && e >= f->min;
		x->n = e;
		break;
	case CMDTAB_WORD:
		x->n = args_word_index(f->words, v);
		ok = x->n >= 0;
		break;
	}
	if (!ok) {
		return args_bad(f, v);
	}
	x->set = true;
	x->str = v;
	return CLI_OK;
}

/*
 * Whether w is a flag of c (cmdtab_command.dashes); operands: whether c
 * takes any, which makes a lone "-" one.
 */
static bool
args_is_flag(const struct cmdtab_command *c, const char *w, bool operands)
{
	if (c->dashes == 0) {
		return true;
	}
	if (w[0] != '-') {
		return false;
	}
	if (c->dashes == 2) {
		return w[1] == '-';
	}
	return w[1] != '\0' || !operands;
}

int
args_parse(struct args *a, const struct cmdtab_command *c, int argc,
        char **argv, args_word_fn *word, void *arg)
{
	size_t n = cmdtab_flag_count(c->flags);
	assert(n <= ARGS_FLAGS_MAX);
	memset(a, 0, sizeof(*a));
	a->flags = c->flags;
	for (size_t k = 0; k < n; k++) {
		/* "" as protobuf-c's defaults are: never written to. */
		a->v[k].str = (char *) "";
	}
	for (int i = 1; i < argc; i++) {
		char *w = argv[i];
		int rc;
		if (!args_is_flag(c, w, word != NULL)) {
			rc = word != NULL
			        ? word(arg, NULL, w)
			        : cli_usage_error("%s takes no argument '%s'",
			                argv[0], w);
			if (rc != CLI_OK) {
				return rc;
			}
			continue;
		}
		const struct cmdtab_flag *f = args_find(c->flags, w);
		if (f != NULL && f->arg == NULL) {
			args_slot(a, f)->set = true;
			continue;
		}
		char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (f == NULL) {
			return cli_usage_error("unknown flag '%s'", w);
		}
		if (v == NULL && f->missing != NULL) {
			return cli_usage_error("%s", f->missing);
		}
		if (c->greedy && v == NULL) {
			return cli_usage_error("%s needs a value", w);
		}
		if (v == NULL) {
			return cli_usage_error("unknown flag '%s'", w);
		}
		i++;
		assert(f->kind != CMDTAB_OWN || word != NULL);
		rc = f->kind == CMDTAB_OWN ? word(arg, f, v)
		                           : args_convert(a, f, v);
		if (rc != CLI_OK) {
			return rc;
		}
	}
	return CLI_OK;
}

int
args_geo(const struct args *a, Clm__V1__GeoPoint *geo, Clm__V1__GeoPoint **out)
{
	const struct args_value *lat = args_get(a, "--lat");
	const struct args_value *lon = args_get(a, "--lon");
	if (lat->set != lon->set) {
		return cli_usage_error("--lat and --lon go together");
	}
	clm__v1__geo_point__init(geo);
	geo->lat = lat->num;
	geo->lon = lon->num;
	*out = lat->set ? geo : NULL;
	return CLI_OK;
}

int
args_window(const struct args *a, int64_t *from, int64_t *to)
{
	*from = args_get(a, "--from")->n;
	*to = args_get(a, "--to")->n;
	if (*from != 0 && *to != 0
	        && cli_day_floor(*from) >= cli_day_floor(*to)) {
		return cli_usage_error("--from must be a day before --to");
	}
	return CLI_OK;
}
