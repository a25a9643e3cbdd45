/*
 * clm experiment: A/B tests (docs/metrics.md, Experiments).
 *   clm experiment define ID --goal TYPE NAME[:WEIGHT] NAME[:WEIGHT]...
 *   clm experiment assign ID CUSTOMER
 *   clm experiment results ID
 */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"

#define CMD_EXPERIMENT_MAX_VARIANTS 64

/* A definition being read: the request and its variants. */
struct cmd_experiment_def {
	Clm__V1__DefineExperimentRequest q;
	Clm__V1__Variant vs[CMD_EXPERIMENT_MAX_VARIANTS];
	Clm__V1__Variant *vp[CMD_EXPERIMENT_MAX_VARIANTS];
};

/* args_word_fn: the ID, then each NAME[:WEIGHT]. */
static int
cmd_experiment_operand(void *arg, const struct cmdtab_flag *f, char *word)
{
	(void) f;
	struct cmd_experiment_def *d = arg;
	Clm__V1__DefineExperimentRequest *q = &d->q;
	if (q->experiment_id[0] == '\0') {
		q->experiment_id = word;
		return CLI_OK;
	}
	if (q->n_variants == CMD_EXPERIMENT_MAX_VARIANTS) {
		return cli_usage_error("too many variants");
	}
	Clm__V1__Variant *v = &d->vs[q->n_variants];
	clm__v1__variant__init(v);
	v->name = word;
	v->weight = 1;
	char *colon = strrchr(word, ':');
	if (colon != NULL) {
		char *end;
		unsigned long w = strtoul(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || *end != '\0'
		        || w > 1000000) {
			return cli_usage_error(
			        "variant '%s': the weight after ':' must be a number from 0 to 1000000",
			        word);
		}
		*colon = '\0';
		v->weight = (uint32_t) w;
	}
	if (v->name[0] == '\0') {
		return cli_usage_error("a variant needs a name before ':'");
	}
	d->vp[q->n_variants++] = v;
	return CLI_OK;
}

/* Prints what was defined: the request arg (the reply m says no more). */
static void
cmd_experiment_defined(const ProtobufCMessage *m, const void *arg)
{
	(void) m;
	const Clm__V1__DefineExperimentRequest *q = arg;
	printf("experiment '%s': goal %s, variants", q->experiment_id,
	        cli_enum_name(
	                &clm__v1__touchpoint_type__descriptor, (int) q->goal));
	for (size_t i = 0; i < q->n_variants; i++) {
		printf("%s %s (weight %u)", i ? "," : "", q->variants[i]->name,
		        q->variants[i]->weight);
	}
	printf("\n");
}

static int
cmd_experiment_define(struct cli *cli, int argc, char **argv)
{
	struct cmd_experiment_def d = {
		.q = CLM__V1__DEFINE_EXPERIMENT_REQUEST__INIT,
	};
	Clm__V1__DefineExperimentRequest *q = &d.q;
	struct args a;
	if (args_parse(&a, cli->cmd, argc, argv, cmd_experiment_operand, &d)
	        != CLI_OK) {
		return CLI_EUSAGE;
	}
	const struct args_value *goal = args_get(&a, "--goal");
	if (q->experiment_id[0] == '\0' || !goal->set || q->n_variants < 2) {
		return cli_usage_error("%s",
		        q->experiment_id[0] == '\0' ? "define needs an ID"
		                : !goal->set
		                ? "define needs --goal TYPE"
		                : "define needs at least two variants (NAME[:WEIGHT])");
	}
	q->goal = (Clm__V1__TouchpointType) goal->n;
	q->variants = d.vp;
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_define_experiment(cli->conn, q, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, cmd_experiment_defined, q);
}

static void
cmd_experiment_assigned(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__AssignReply *r = (const Clm__V1__AssignReply *) m;
	printf("%s\t%s\n", r->variant,
	        r->first_exposure ? "(first exposure)" : "(assigned before)");
}

static int
cmd_experiment_assign(struct cli *cli, int argc, char **argv)
{
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		return cli_usage_error(
		        "assign wants an experiment ID and a CUSTOMER");
	}
	Clm__V1__AssignRequest q = CLM__V1__ASSIGN_REQUEST__INIT;
	q.experiment_id = argv[1];
	q.customer_id = argv[2];
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_assign(cli->conn, &q, &resp);
	cli->write = true;
	return cli_reply(cli, e, resp, cmd_experiment_assigned, NULL);
}

static void
cmd_experiment_table(const ProtobufCMessage *m, const void *arg)
{
	(void) arg;
	const Clm__V1__ExperimentResultsReply *r
	        = (const Clm__V1__ExperimentResultsReply *) m;
	printf("experiment %s\n", r->experiment_id);
	printf("%-16s %9s %9s %8s %9s %8s  %s\n", "variant", "exposed",
	        "converted", "rate", "lift", "p-value", "95% CI of the diff");
	for (size_t i = 0; i < r->n_variants; i++) {
		const Clm__V1__VariantResult *v = r->variants[i];
		printf("%-16s %9llu %9llu %7.2f%%", v->name,
		        (unsigned long long) v->exposed,
		        (unsigned long long) v->converted, v->rate * 100.0);
		if (i == 0) {
			printf(" %9s %8s  %s\n", "-", "-", "(control)");
		} else {
			printf(" %+8.2f%% %8.4f  [%+.2f%%, %+.2f%%]\n",
			        v->lift * 100.0, v->p_value, v->ci_low * 100.0,
			        v->ci_high * 100.0);
		}
	}
}

static int
cmd_experiment_results(struct cli *cli, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		return cli_usage_error("results wants an experiment ID");
	}
	Clm__V1__ExperimentResultsRequest q
	        = CLM__V1__EXPERIMENT_RESULTS_REQUEST__INIT;
	q.experiment_id = argv[1];
	int rc = cli_connect(cli);
	if (rc != CLI_OK) {
		return rc;
	}
	Clm__V1__Response *resp;
	clm_err e = clm_experiment_results(cli->conn, &q, &resp);
	return cli_reply(cli, e, resp, cmd_experiment_table, NULL);
}

int
cmd_experiment(struct cli *cli, int argc, char **argv)
{
	if (argc < 2) {
		return cli_usage_error(
		        "experiment wants define, assign or results");
	}
	const char *sub = argv[1];
	if (strcmp(sub, "define") == 0) {
		return cmd_experiment_define(cli, argc - 1, argv + 1);
	}
	if (strcmp(sub, "assign") == 0) {
		return cmd_experiment_assign(cli, argc - 1, argv + 1);
	}
	if (strcmp(sub, "results") == 0) {
		return cmd_experiment_results(cli, argc - 1, argv + 1);
	}
	return cli_usage_error(
	        "unknown experiment command '%s' (define, assign or results)",
	        sub);
}
