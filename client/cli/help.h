/*
 * help: renders the command table (cmdtab.h) for people and tools: the
 * command list of `clm --help`, one command's help, the clm(1) man page,
 * the bash completion script, and the table as JSON. Nothing here knows a
 * command by name; everything comes from the table.
 */
#ifndef CLM_CLI_HELP_H
#define CLM_CLI_HELP_H

#include <stdio.h>

#include "cmdtab.h"

/* The width help text is wrapped to. */
#define HELP_WIDTH 79

/*
 * help_usage prints `clm --help`: the global options, each command with
 * its summary and its shortest synopsis, the notes and the exit codes.
 */
void help_usage(FILE *out);

/*
 * help_command prints the help of c, as `clm help NAME` and `clm NAME
 * --help` show it: the synopsis, the summary, the flags and the text.
 */
void help_command(FILE *out, const struct cmdtab_command *c);

/*
 * help_man prints the clm(1) manual page in roff (man macros). Its date is
 * that of $SOURCE_DATE_EPOCH when set (reproducible builds), else left
 * empty.
 */
void help_man(FILE *out);

/*
 * help_bash prints a bash completion script for clm: commands, global
 * options, each command's flags, the values of flags that take channels,
 * touchpoint types, files or fixed words, and first operands.
 */
void help_bash(FILE *out);

/*
 * help_json prints c as one JSON object on one line, or with c NULL the
 * whole table: {"commands":[...],"globalFlags":[...],"environment":[...],
 * "exitCodes":[...]}.
 */
void help_json(FILE *out, const struct cmdtab_command *c);

#endif /* CLM_CLI_HELP_H */
