/*
 * clm help [COMMAND] | --man, and clm completion bash: the command table
 * rendered by help.c.
 */
#include <string.h>

#include "cli.h"
#include "help.h"

int
cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct cmdtab_command *c = NULL;
	bool man = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--man") == 0) {
			man = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return cli_usage_error("unknown flag '%s'", argv[i]);
		} else if (c != NULL) {
			return cli_usage_error("help takes one command");
		} else if ((c = cmdtab_find(argv[i])) == NULL) {
			return cli_usage_error(
			        "unknown command '%s'", argv[i]);
		}
	}
	if (man && c != NULL) {
		return cli_usage_error(
		        "help takes a command or --man, not both");
	}
	if (man) {
		help_man(stdout);
	} else if (cli->json) {
		help_json(stdout, c);
	} else if (c != NULL) {
		help_command(stdout, c);
	} else {
		help_usage(stdout);
	}
	return CLI_OK;
}

int
cmd_completion(struct cli *cli, int argc, char **argv)
{
	(void) cli;
	if (argc != 2) {
		return cli_usage_error("completion wants a shell: bash");
	}
	if (strcmp(argv[1], "bash") != 0) {
		return cli_usage_error(
		        "no completion for '%s': only bash", argv[1]);
	}
	help_bash(stdout);
	return CLI_OK;
}
