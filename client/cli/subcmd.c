/* subcmd: the subcommands of clm segment and clm journey (subcmd.h). */
#include "subcmd.h"

#include <string.h>

/*
 * The names of subs as a sentence's list, "a, b or c", into buf (len
 * bytes; cut short, not overrun, when it does not fit).
 */
static void
subcmd_list(const struct subcmd *subs, char *buf, size_t len)
{
	size_t n = 0, at = 0;
	while (subs[n].name != NULL) {
		n++;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int w = snprintf(
		        buf + at, len - at, "%s%s", sep, subs[i].name);
		at += w > 0 ? (size_t) w : 0;
	}
}

int
subcmd_run(struct cli *cli, int argc, char **argv, const char *cmd,
        const struct subcmd *subs)
{
	char list[256];
	subcmd_list(subs, list, sizeof(list));
	if (argc < 2) {
		return cli_usage_error("%s wants %s", cmd, list);
	}
	const char *sub = argv[1];
	for (size_t i = 0; subs[i].name != NULL; i++) {
		if (strcmp(sub, subs[i].name) == 0) {
			return subs[i].run(cli, argc - 1, argv + 1);
		}
	}
	return cli_usage_error("unknown %s command '%s' (%s)", cmd, sub, list);
}

/* args_word_fn: the operands, in order. */
static int
subcmd_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	struct subcmd_ops *o = arg;
	if (o->n == o->want) {
		return cli_usage_error("%s %s: unexpected argument '%s'",
		        o->cmd, o->sub, word);
	}
	o->op[o->n++] = word;
	return CLI_OK;
}

int
subcmd_args(struct cli *cli, int argc, char **argv, const char *cmd,
        size_t want, const char *what, const char *allowed, struct args *a,
        struct subcmd_ops *o)
{
	*o = (struct subcmd_ops) { .cmd = cmd, .sub = argv[0], .want = want };
	if (args_parse(a, cli->cmd, argc, argv, subcmd_operand, o) != CLI_OK) {
		return CLI_EUSAGE;
	}
	for (size_t i = 0; a->flags[i].name != NULL; i++) {
		const char *name = a->flags[i].name;
		const char *p = strstr(allowed, name);
		size_t len = strlen(name);
		bool ok = p != NULL && (p[len] == ' ' || p[len] == '\0');
		if (a->v[i].set && !ok) {
			return cli_usage_error(
			        "%s %s takes no %s", cmd, o->sub, name);
		}
	}
	if (o->n < want) {
		return cli_usage_error("%s %s wants %s", cmd, o->sub, what);
	}
	return CLI_OK;
}

void
subcmd_deleted(const ProtobufCMessage *m, const void *arg)
{
	const struct subcmd_ops *o = arg;
	const ProtobufCFieldDescriptor *f
	        = protobuf_c_message_descriptor_get_field_by_name(
	                m->descriptor, "existed");
	protobuf_c_boolean existed = 0;
	if (f != NULL && f->type == PROTOBUF_C_TYPE_BOOL) {
		memcpy(&existed, (const char *) m + f->offset,
		        sizeof(existed));
	}
	if (existed) {
		printf("deleted %s '%s'\n", o->cmd, o->op[0]);
	} else {
		printf("no %s '%s': nothing to delete\n", o->cmd, o->op[0]);
	}
}
