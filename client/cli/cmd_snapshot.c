/*
 * clm snapshot FILE [--data DIR]: a consistent, compacted copy of a clmd
 * node's base view (DIR/data.mdb) with its journal position, to start a new
 * node from (docs/operations.md "Snapshots"). It reads the data directory
 * on this host, beside a running clmd, and talks to no server: the copy is
 * store/store_snapshot.c's, the one place outside clmd that knows the
 * store's layout (meta "journal_pos").
 */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "jsonstr.h"
#include "store/store_snapshot.h"

/* clmd's default --data (server/config.c). */
#define CMD_SNAPSHOT_DATA "./clm-data"

/* jsonstr's output: a FILE *. */
static void
cmd_snapshot_put(void *arg, const char *s, size_t n)
{
	fwrite(s, 1, n, arg);
}

/* The one operand, FILE. */
static int
cmd_snapshot_word(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	const char **file = arg;
	if (*file != NULL) {
		return cli_usage_error("snapshot takes one FILE");
	}
	*file = word;
	return CLI_OK;
}

int
cmd_snapshot(struct cli *cli, int argc, char **argv)
{
	const char *file = NULL;
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_snapshot_word, &file)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	if (file == NULL || strcmp(file, "-") == 0) {
		return cli_usage_error("snapshot wants a FILE to write");
	}
	const struct args_value *d = args_get(&a, "--data");
	const char *dir = d->set ? d->str : CMD_SNAPSHOT_DATA;
	struct store_snapshot_info info;
	char err[512];
	if (store_snapshot(dir, file, &info, err, sizeof(err)) != CLM_OK) {
		fprintf(stderr, "clm: %s\n", err);
		return CLI_ESERVER;
	}
	if (cli->json) {
		printf("{\"file\":");
		jsonstr_write(file, strlen(file), 0, cmd_snapshot_put, stdout);
		printf(",\"position\":\"%llu\",\"bytes\":\"%llu\"}\n",
		        (unsigned long long) info.position,
		        (unsigned long long) info.bytes);
	} else {
		printf("snapshot %s at position %llu (%llu bytes)\n", file,
		        (unsigned long long) info.position,
		        (unsigned long long) info.bytes);
	}
	return CLI_OK;
}
