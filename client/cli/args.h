/*
 * args: a command's flags and operands, parsed as its cmdtab rows declare
 * them (cmdtab.h), so that a flag is declared once: the row gives its
 * name, whether it takes a value and its kind, which is also how a bad
 * value is told. The words are read in order and the first error is
 * reported (cli_usage_error) as it is found; operands, and the values of
 * CMDTAB_OWN flags, go to the command's callback in the same pass, so
 * that it reports its own errors in that order too.
 */
#ifndef CLM_CLI_ARGS_H
#define CLM_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmdtab.h"

#define ARGS_FLAGS_MAX 24 /* flags of one command */
#define ARGS_LIST_MAX  64 /* values of one repeatable flag */

/*
 * The value of one flag, zero (and str "") when it was not given. When it
 * was given more than once, the last one counts, but for the repeatable
 * kinds.
 */
struct args_value {
	bool set;
	char *str;  /* as given (in argv) */
	int64_t n;  /* CMDTAB_INT, _TIME, _WINDOW, _ENUM; CMDTAB_WORD: index */
	double num; /* CMDTAB_NUMBER */
	/* CMDTAB_LIST: count values in items; CMDTAB_PAIR: count keys in
	 * items, and their values in values (both split in argv). */
	size_t count;
	char **items, **values;
};

struct args {
	const struct cmdtab_flag *flags;
	struct args_value v[ARGS_FLAGS_MAX]; /* v[i] is of flags[i] */
	/* Each repeatable flag's own values (a command may have several). */
	char *items[ARGS_FLAGS_MAX][ARGS_LIST_MAX];
	char *values[ARGS_FLAGS_MAX][ARGS_LIST_MAX];
};

/*
 * An args_word_fn receives each operand (f NULL) and the value of each
 * flag f of kind CMDTAB_OWN, as they come; it returns CLI_OK, or reports
 * the problem and returns CLI_EUSAGE.
 */
typedef int args_word_fn(void *arg, const struct cmdtab_flag *f, char *word);

/*
 * args_parse reads argv[1..argc) (argv[0] is the command's name) as
 * command c declares it into a. word (may be NULL: then the command takes
 * no operand, and one is reported as "NAME takes no argument 'W'") gets
 * the operands and CMDTAB_OWN values. Returns CLI_OK, or CLI_EUSAGE
 * after reporting the first problem. The values point into argv, which
 * PAIR flags modify; a must stay where it is while they are used.
 */
int args_parse(struct args *a, const struct cmdtab_command *c, int argc,
        char **argv, args_word_fn *word, void *arg);

/*
 * args_get returns the value of the flag named name (which must be one of
 * the command's: asserted).
 */
const struct args_value *args_get(const struct args *a, const char *name);

/*
 * args_geo reads the command's --lat and --lon, which go together: *out
 * is geo holding them when both were given, NULL when neither. Returns
 * CLI_OK, or reports that they go together and returns CLI_EUSAGE.
 */
int args_geo(
        const struct args *a, Clm__V1__GeoPoint *geo, Clm__V1__GeoPoint **out);

/*
 * args_window reads the command's --from and --to into *from and *to (0
 * when not given) and checks that, when both are, they are on different
 * days, from first. Returns CLI_OK, or reports and returns CLI_EUSAGE.
 */
int args_window(const struct args *a, int64_t *from, int64_t *to);

#endif /* CLM_CLI_ARGS_H */
