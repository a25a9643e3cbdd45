/*
 * What the integration tests that drive the clm CLI or need input files
 * share (the cli_*, dashboard_*, access, errors tests and others; every
 * integration test links it): run clm and keep its output, and write a
 * small file. These assert with Criterion: call them from inside a test.
 */
#ifndef CLM_IT_CLI_RUN_H
#define CLM_IT_CLI_RUN_H

#include "harness.h"

/* What one clm run printed; free with cli_output_free. */
struct cli_output {
	char *out, *err;
	int rc; /* exit code, see run_cli */
};

/* cli_run runs clm with argv (see run_cli) and stdin text in (or NULL). */
struct cli_output cli_run(const char *const argv[], const char *in);
void cli_output_free(struct cli_output *o);

/*
 * test_file writes text to dir/name and returns its path, from a ring of
 * eight static buffers (valid until eight more calls).
 */
const char *test_file(const char *dir, const char *name, const char *text);

/*
 * cli_json_unposition takes the "position" member off the front of a line
 * of `clm --json` output, in place ({"position":"N",REST} becomes {REST},
 * {"position":"N"} becomes {}), as a write command and `clm status` print
 * it before the reply message's members. Returns N, or -1 (text
 * unchanged) when the line does not start with one.
 */
long long cli_json_unposition(char *text);

#endif /* CLM_IT_CLI_RUN_H */
