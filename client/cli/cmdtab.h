/*
 * cmdtab: the table of clm's commands, and the one source of everything
 * said about them. Each row holds a command's name, its handler, its
 * synopsis, its flags with their help and their kind of value, and its
 * help text; main.c dispatches on it, args.c parses each command's flags
 * by it, and help.c renders it as `clm --help`, `clm COMMAND --help` (=
 * `clm help COMMAND`), the clm(1) man page and the bash completion
 * script, so none of them can drift from another.
 *
 * Text in the table is ASCII (the man page is roff) and is wrapped when
 * printed: a flag's help is one line; a command's text is paragraphs
 * separated by blank lines ("\n\n"), and a paragraph that starts with a
 * space is printed as it is (examples, tables).
 */
#ifndef CLM_CLI_CMDTAB_H
#define CLM_CLI_CMDTAB_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* What completes a flag's value, or a command's first operand. */
enum cmdtab_values {
	CMDTAB_NONE,    /* nothing to offer (an id, a number, a time) */
	CMDTAB_FILE,    /* a file name */
	CMDTAB_WORDS,   /* one of the words of `words` */
	CMDTAB_CHANNEL, /* a clm.v1.Channel, in lowercase */
	CMDTAB_TYPE,    /* a clm.v1.TouchpointType, in lowercase */
	CMDTAB_COMMAND, /* the name of a clm command */
};

/*
 * What a flag's value is to the parser of command lines (args.h), and
 * what it says of a bad one; FLAG and V stand for the flag and the value,
 * and a row's `bad` replaces the message.
 */
enum cmdtab_kind {
	/* As given; the last one counts. */
	CMDTAB_STRING,
	/* Repeatable, up to ARGS_LIST_MAX: "too many FLAG". One a command. */
	CMDTAB_LIST,
	/* A repeatable KEY=VALUE: "FLAG wants KEY=VALUE, got 'V'". */
	CMDTAB_PAIR,
	/* A decimal number: "FLAG: invalid number 'V'"; when max > min, one
	 * in min..max: "FLAG out of range". */
	CMDTAB_NUMBER,
	/* A whole number in min..max: "FLAG wants a number from MIN to MAX,
	 * not 'V'". */
	CMDTAB_INT,
	/* A time as cli_parse_time reads it: "invalid time 'V'". */
	CMDTAB_TIME,
	/* A time not before 1970: "FLAG: invalid time 'V'". */
	CMDTAB_WINDOW,
	/* A value of `values`, CMDTAB_CHANNEL or CMDTAB_TYPE, not below min:
	 * "unknown channel 'V'", "unknown touchpoint type 'V'". */
	CMDTAB_ENUM,
	/* One of `words` (its index): "FLAG wants a, b or c, not 'V'". */
	CMDTAB_WORD,
	/* Handed as it is to the command's args_word_fn. */
	CMDTAB_OWN,
};

struct cmdtab_flag {
	const char *name; /* "--from" */
	const char *arg; /* its value's placeholder ("TIME"), NULL: a switch */
	enum cmdtab_values values;
	const char *words; /* CMDTAB_WORDS: the choices, ' '-separated */
	const char *help;  /* one line, lowercase first */
	/* For the parser (args.c) only: */
	enum cmdtab_kind kind;
	double min, max; /* bounds, see the kind */
	const char *bad; /* NULL, or the message for a bad V: printf FLAG, V */
	const char *missing; /* NULL, or the message when V is missing */
	const char *same_as; /* NULL, or the flag whose value this sets */
};

struct cmdtab_command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary; /* one line for the command list */
	/* The forms of its command line after "clm NAME"; NULL-terminated. */
	const char *const *synopsis;
	/* Its flags; ends with one whose name is NULL (may be NULL). */
	const struct cmdtab_flag *flags;
	const char *text; /* more, after the flags (NULL or "": none) */
	/* What completes its first operand (the word after the name). */
	enum cmdtab_values operand;
	const char *operand_words; /* for CMDTAB_WORDS */
	/*
	 * How args_parse tells its words apart, as each command did before
	 * the table drove its parsing: a flag starts with `dashes` dashes (0:
	 * every word is a flag), but a lone "-" is an operand (standard
	 * input) when the command takes operands. A flag not in the rows is
	 * unknown. When greedy, a known flag that is not a switch and comes
	 * last "needs a value"; otherwise a flag without its value is
	 * unknown, unless its row says `missing`.
	 */
	unsigned char dashes;
	bool greedy;
};

/* A variable of the environment clm reads. */
struct cmdtab_env {
	const char *name;
	const char *help;
};

/* The commands, in the order they are listed. */
extern const struct cmdtab_command cmdtab_commands[];
extern const size_t cmdtab_n_commands;

/* The options before the command; ends with a NULL name. */
extern const struct cmdtab_flag cmdtab_global_flags[];

/* The flags every command takes after its name; ends with a NULL name. */
extern const struct cmdtab_flag cmdtab_common_flags[];

/* The environment variables; ends with a NULL name. */
extern const struct cmdtab_env cmdtab_env[];

/* What clm is, and notes on values common to many commands. */
extern const char cmdtab_description[];
extern const char cmdtab_notes[];

/* The exit codes, one "CODE meaning" a row; ends with a NULL. */
extern const char *const cmdtab_exit_codes[];

/* cmdtab_find returns the command named name, or NULL. */
const struct cmdtab_command *cmdtab_find(const char *name);

/* cmdtab_flag_count is the number of flags of c. */
size_t cmdtab_flag_count(const struct cmdtab_flag *flags);

#endif /* CLM_CLI_CMDTAB_H */
