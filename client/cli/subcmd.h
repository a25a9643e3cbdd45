/*
 * subcmd: what the commands of named definitions share (clm segment, clm
 * journey): a table of subcommands, the operands and flags each takes,
 * and the outcome of a delete.
 */
#ifndef CLM_CLI_SUBCMD_H
#define CLM_CLI_SUBCMD_H

#include <stddef.h>

#include "args.h"
#include "cli.h"

/* The most operands a subcommand takes. */
#define SUBCMD_OPS_MAX 2

/* One subcommand: its name and what runs it (argv[0] is its name). */
struct subcmd {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/*
 * subcmd_run runs the subcommand argv[1] of the command cmd ("segment"),
 * one of subs (ended by a NULL name), with argv[1..argc); a missing or
 * unknown one is a usage error that lists them. Returns the exit code.
 */
int subcmd_run(struct cli *cli, int argc, char **argv, const char *cmd,
        const struct subcmd *subs);

/* The operands of a subcommand, as subcmd_args reads them. */
struct subcmd_ops {
	const char *cmd; /* "segment": the command */
	const char *sub; /* "define", ...: the subcommand */
	size_t want;     /* how many it takes, at most SUBCMD_OPS_MAX */
	size_t n;
	char *op[SUBCMD_OPS_MAX];
};

/*
 * subcmd_args parses a subcommand's flags and want operands (argv[0] is
 * its name) of the command cmd into a and o, refusing the flags it does
 * not take: those named in allowed (' '-separated) are the only ones it
 * may be given. Fewer operands than want is "CMD SUB wants WHAT". Returns
 * CLI_OK or CLI_EUSAGE (reported).
 */
int subcmd_args(struct cli *cli, int argc, char **argv, const char *cmd,
        size_t want, const char *what, const char *allowed, struct args *a,
        struct subcmd_ops *o);

/*
 * subcmd_deleted is cli_reply's print for a Delete call's reply m (a
 * DeleteSegmentReply, a DeleteJourneyReply: its "existed") about the
 * definition named by the struct subcmd_ops arg's first operand:
 * "deleted CMD 'NAME'", or "no CMD 'NAME': nothing to delete".
 */
void subcmd_deleted(const ProtobufCMessage *m, const void *arg);

#endif /* CLM_CLI_SUBCMD_H */
