/*
 * clm help [COMMAND] | --man, and clm completion bash: the command table
 * rendered by help.c.
 */
#include <string.h>

#include "args.h"
#include "cli.h"
#include "help.h"

/* args_word_fn: the one COMMAND, looked up at once. */
static int
cmd_help_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	const struct cmdtab_command **c = arg;
	if (*c != NULL) {
		return cli_usage_error("help takes one command");
	}
	if ((*c = cmdtab_find(word)) == NULL) {
		return cli_usage_error("unknown command '%s'", word);
	}
	return CLI_OK;
}

int
cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct cmdtab_command *c = NULL;
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_help_operand, &c)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	bool man = args_get(&a, "--man")->set;
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
