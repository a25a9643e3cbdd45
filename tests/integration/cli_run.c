#include "cli_run.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cli_output
cli_run(const char *const argv[], const char *in)
{
	struct cli_output o = { NULL, NULL, -1 };
	o.rc = run_cli(argv, in, &o.out, &o.err);
	cr_assert_not_null(o.out, "clm did not run");
	cr_assert_not_null(o.err, "clm did not run");
	return o;
}

void
cli_output_free(struct cli_output *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

long long
cli_json_unposition(char *text)
{
	const char *key = "{\"position\":\"";
	size_t k = strlen(key);
	if (strncmp(text, key, k) != 0) {
		return -1;
	}
	char *end;
	long long n = strtoll(text + k, &end, 10);
	if (end == text + k || *end != '"') {
		return -1;
	}
	end++;
	if (*end == ',') {
		end++;
	}
	memmove(text + 1, end, strlen(end) + 1);
	return n;
}

const char *
test_file(const char *dir, const char *name, const char *text)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *path = paths[next++ % 8];
	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	cr_assert(fputs(text, f) >= 0, "cannot write %s", path);
	cr_assert_eq(fclose(f), 0, "cannot write %s", path);
	return path;
}
