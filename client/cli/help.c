/*
 * help: the command table as plain help, roff, bash and JSON (help.h).
 *
 * Plain help is wrapped to HELP_WIDTH columns at spaces; in a synopsis a
 * bracketed group ("[--lat N --lon N]") is never split. The man page
 * leaves the filling to roff and only escapes what roff would read as a
 * request or an escape. The bash script is generated whole: a function
 * that finds the command in the words typed so far, counts its operands
 * (skipping the values of its flags), and completes the word at the
 * cursor from the flag before it or from the command's row.
 */
#include "help.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonstr.h"

#define HELP_FLAG_COL 24 /* widest flag column before help wraps under */

/*
 * Finds the next word of text at *p: skips blanks, sets *w and *n, moves
 * *p past it. With brackets, spaces inside [...] belong to the word.
 * Returns false at the end.
 */
static bool
help_word(const char **p, bool brackets, const char **w, size_t *n)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\n') {
		s++;
	}
	if (*s == '\0') {
		*p = s;
		return false;
	}
	const char *e = s;
	int depth = 0;
	while (*e != '\0' && (depth > 0 || (*e != ' ' && *e != '\n'))) {
		if (brackets && *e == '[') {
			depth++;
		} else if (brackets && *e == ']' && depth > 0) {
			depth--;
		}
		e++;
	}
	*w = s;
	*n = (size_t) (e - s);
	*p = e;
	return true;
}

static void
help_spaces(FILE *out, int n)
{
	for (int i = 0; i < n; i++) {
		fputc(' ', out);
	}
}

/*
 * Prints the words of text (len bytes) from column col (the cursor is
 * there already), wrapping to indent; the first word of each line gets no
 * space before it. Returns the column after the last word.
 */
static int
help_wrap(FILE *out, const char *text, size_t len, int col, int indent,
        bool brackets)
{
	char *copy = strndup(text, len);
	if (copy == NULL) {
		fwrite(text, 1, len, out);
		return col + (int) len;
	}
	const char *p = copy, *w;
	size_t n;
	bool first = true; /* of the text, or of a line: no space before */
	while (help_word(&p, brackets, &w, &n)) {
		if (!first && col + 1 + (int) n > HELP_WIDTH) {
			fputc('\n', out);
			help_spaces(out, indent);
			col = indent;
			first = true;
		}
		if (!first) {
			fputc(' ', out);
			col++;
		}
		first = false;
		fwrite(w, 1, n, out);
		col += (int) n;
	}
	free(copy);
	return col;
}

/*
 * Calls fn for each paragraph of text (separated by "\n\n"), with whether
 * it is verbatim (starts with a space).
 */
static void
help_paragraphs(const char *text,
        void (*fn)(void *arg, const char *p, size_t len, bool verbatim,
                bool first),
        void *arg)
{
	const char *p = text;
	bool first = true;
	while (*p != '\0') {
		const char *end = strstr(p, "\n\n");
		size_t len = end ? (size_t) (end - p) : strlen(p);
		if (len > 0) {
			fn(arg, p, len, p[0] == ' ', first);
			first = false;
		}
		p += len;
		while (*p == '\n') {
			p++;
		}
	}
}

static void
help_plain_paragraph(
        void *arg, const char *p, size_t len, bool verbatim, bool first)
{
	FILE *out = arg;
	if (!first) {
		fputc('\n', out);
	}
	if (verbatim) {
		fwrite(p, 1, len, out);
	} else {
		help_wrap(out, p, len, 0, 0, false);
	}
	fputc('\n', out);
}

/* The flag's left column: "--from TIME". */
static void
help_flag_left(const struct cmdtab_flag *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", f->name, f->arg ? " " : "",
	        f->arg ? f->arg : "");
}

static void
help_flag_list(FILE *out, const struct cmdtab_flag *flags)
{
	int width = 0;
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		char left[64];
		help_flag_left(&flags[i], left, sizeof(left));
		int n = (int) strlen(left);
		if (n > width && n <= HELP_FLAG_COL) {
			width = n;
		}
	}
	int indent = 2 + width + 2;
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		char left[64];
		help_flag_left(&flags[i], left, sizeof(left));
		fprintf(out, "  %s", left);
		int col = 2 + (int) strlen(left);
		if (col > indent - 2) {
			fputc('\n', out);
			col = 0;
		}
		help_spaces(out, indent - col);
		help_wrap(out, flags[i].help, strlen(flags[i].help), indent,
		        indent, false);
		fputc('\n', out);
	}
}

/* Prints "PREFIX" then each synopsis form of c, wrapped under its args. */
static void
help_synopsis(FILE *out, const struct cmdtab_command *c)
{
	for (size_t i = 0; c->synopsis[i] != NULL; i++) {
		const char *pre = i == 0 ? "usage: " : "       ";
		int col = fprintf(out, "%sclm %s", pre, c->name);
		const char *form = c->synopsis[i];
		if (form[0] != '\0') {
			fputc(' ', out);
			col++;
			help_wrap(out, form, strlen(form), col, col, true);
		}
		fputc('\n', out);
	}
}

void
help_command(FILE *out, const struct cmdtab_command *c)
{
	help_synopsis(out, c);
	fprintf(out, "\n%s\n", c->summary);
	if (cmdtab_flag_count(c->flags) > 0) {
		fputc('\n', out);
		help_flag_list(out, c->flags);
	}
	if (c->text != NULL && c->text[0] != '\0') {
		fputc('\n', out);
		help_paragraphs(c->text, help_plain_paragraph, out);
	}
}

/*
 * Writes form, with every run of optional flag groups ("[--x N]") after
 * the required words folded into one "[FLAGS]", into buf.
 */
static void
help_short_form(const char *form, char *buf, size_t len)
{
	const char *p = form, *w;
	size_t n, used = 0;
	bool folded = false;
	buf[0] = '\0';
	while (help_word(&p, true, &w, &n)) {
		bool flag = n > 3 && strncmp(w, "[--", 3) == 0;
		if (flag && folded) {
			continue;
		}
		used += (size_t) snprintf(buf + used, len - used, "%s%.*s",
		        used ? " " : "", flag ? 7 : (int) n,
		        flag ? "[FLAGS]" : w);
		folded = flag;
		if (used >= len) {
			return;
		}
	}
}

void
help_usage(FILE *out)
{
	fprintf(out,
	        "usage: clm [--url URL] [--token T] [--json] [--timeout MS] COMMAND [ARGS]\n\n");
	help_wrap(out, cmdtab_description, strlen(cmdtab_description), 0, 0,
	        false);
	fprintf(out, "\n\noptions:\n");
	help_flag_list(out, cmdtab_global_flags);
	fprintf(out, "\ncommands:\n");
	const int name_w = 11, indent = 2 + name_w + 3;
	for (size_t i = 0; i < cmdtab_n_commands; i++) {
		const struct cmdtab_command *c = &cmdtab_commands[i];
		fprintf(out, "  %-*s %s\n", name_w, c->name, c->summary);
		for (size_t k = 0; c->synopsis[k] != NULL; k++) {
			const char *form = c->synopsis[k];
			if (form[0] == '\0') {
				continue;
			}
			char line[256];
			snprintf(line, sizeof(line), "clm %s %s", c->name,
			        form);
			if (indent + (int) strlen(line) > HELP_WIDTH) {
				char s[256];
				help_short_form(form, s, sizeof(s));
				snprintf(line, sizeof(line), "clm %s %s",
				        c->name, s);
			}
			help_spaces(out, indent);
			help_wrap(out, line, strlen(line), indent, indent + 4,
			        true);
			fputc('\n', out);
		}
	}
	fputc('\n', out);
	help_wrap(out, cmdtab_notes, strlen(cmdtab_notes), 0, 0, false);
	fprintf(out, "\n\nexit codes:\n");
	for (size_t i = 0; cmdtab_exit_codes[i] != NULL; i++) {
		const char *row = cmdtab_exit_codes[i];
		fprintf(out, "  %c  ", row[0]);
		help_wrap(out, row + 2, strlen(row + 2), 5, 5, false);
		fputc('\n', out);
	}
}

/* ------------------------------------------------------------------ */
/* The man page.                                                       */

/*
 * Writes n bytes of s escaped for roff text. bol: s starts a line (a '.'
 * or '\'' there would be read as a request). Newlines become spaces
 * unless keep_newlines.
 */
static void
help_roff(FILE *out, const char *s, size_t n, bool bol, bool keep_newlines)
{
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '\n' && !keep_newlines) {
			ch = ' ';
		}
		if (bol && (ch == '.' || ch == '\'')) {
			fputs("\\&", out);
		}
		bol = ch == '\n';
		switch (ch) {
		case '\\':
			fputs("\\e", out);
			break;
		case '-':
			fputs("\\-", out);
			break;
		default:
			fputc(ch, out);
		}
	}
}

static void
help_roff_str(FILE *out, const char *s)
{
	help_roff(out, s, strlen(s), true, false);
}

/* Whether s[i] starts a placeholder: a word of capitals, digits and _. */
static size_t
help_placeholder(const char *s, size_t i)
{
	if (!isupper((unsigned char) s[i])
	        || (i > 0 && isalnum((unsigned char) s[i - 1]))) {
		return 0;
	}
	size_t k = i;
	while (isupper((unsigned char) s[k]) || isdigit((unsigned char) s[k])
	        || s[k] == '_') {
		k++;
	}
	return islower((unsigned char) s[k]) ? 0 : k - i;
}

/*
 * Writes a synopsis form: placeholders in italics, spaces inside brackets
 * unbreakable (so roff never splits "[--lat N --lon N]").
 */
static void
help_roff_form(FILE *out, const char *form)
{
	int depth = 0;
	for (size_t i = 0; form[i] != '\0';) {
		size_t ph = help_placeholder(form, i);
		if (ph > 0) {
			fputs("\\fI", out);
			help_roff(out, form + i, ph, false, false);
			fputs("\\fR", out);
			i += ph;
			continue;
		}
		if (form[i] == '[') {
			depth++;
		} else if (form[i] == ']' && depth > 0) {
			depth--;
		}
		if (form[i] == ' ' && depth > 0) {
			fputs("\\ ", out);
		} else {
			help_roff(out, form + i, 1, i == 0, false);
		}
		i++;
	}
}

static void
help_man_paragraph(
        void *arg, const char *p, size_t len, bool verbatim, bool first)
{
	FILE *out = arg;
	(void) first;
	if (verbatim) {
		/* Indented by .RS instead of the first line's spaces. */
		size_t strip = strspn(p, " ");
		fputs(".PP\n.RS 4\n.nf\n", out);
		const char *end = p + len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t) (end - p));
			const char *eol = nl ? nl : end;
			for (size_t k = 0; k < strip && p < eol && *p == ' ';
			        k++) {
				p++;
			}
			help_roff(out, p, (size_t) (eol - p), true, false);
			fputc('\n', out);
			p = nl ? nl + 1 : end;
		}
		fputs(".fi\n.RE\n", out);
	} else {
		fputs(".PP\n", out);
		help_roff(out, p, len, true, false);
		fputc('\n', out);
	}
}

static void
help_man_flags(FILE *out, const struct cmdtab_flag *flags)
{
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		fputs(".TP\n\\fB", out);
		help_roff(out, flags[i].name, strlen(flags[i].name), false,
		        false);
		fputs("\\fR", out);
		if (flags[i].arg != NULL) {
			fputc(' ', out);
			help_roff_form(out, flags[i].arg);
		}
		fputc('\n', out);
		help_roff_str(out, flags[i].help);
		fputc('\n', out);
	}
}

void
help_man(FILE *out)
{
	char date[32] = "";
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde != NULL && sde[0] != '\0') {
		time_t t = (time_t) strtoll(sde, NULL, 10);
		struct tm tm;
		if (gmtime_r(&t, &tm) != NULL) {
			strftime(date, sizeof(date), "%Y-%m-%d", &tm);
		}
	}
	fprintf(out,
	        ".\\\" clm(1): generated by `clm help --man` from the command table\n"
	        ".\\\" of clm (client/cli/cmdtab.c). Do not edit.\n"
	        ".TH CLM 1 \"%s\" \"clm %s\" \"clm manual\"\n"
	        ".SH NAME\n"
	        "clm \\- the command\\-line client of clmd, the customer\\-lifecycle engine\n"
	        ".SH SYNOPSIS\n"
	        ".B clm\n"
	        "[\\fIOPTIONS\\fR]\n"
	        ".I COMMAND\n"
	        "[\\fIARGS\\fR]\n"
	        ".SH DESCRIPTION\n",
	        date, CLM_VERSION);
	help_roff_str(out, cmdtab_description);
	fputs("\n.PP\n", out);
	help_roff_str(out, cmdtab_notes);
	fputs("\n.SH OPTIONS\nThese go before the command; --json may also follow it.\n",
	        out);
	help_man_flags(out, cmdtab_global_flags);
	fputs(".SH COMMANDS\nEvery command also takes:\n", out);
	help_man_flags(out, cmdtab_common_flags);
	for (size_t i = 0; i < cmdtab_n_commands; i++) {
		const struct cmdtab_command *c = &cmdtab_commands[i];
		/* Neither hyphenated nor stretched: it is a command line. */
		fprintf(out, ".SS %s\n.PP\n.nh\n.ad l\n", c->name);
		for (size_t k = 0; c->synopsis[k] != NULL; k++) {
			if (k > 0) {
				fputs(".br\n", out);
			}
			fprintf(out, "\\fBclm %s\\fR", c->name);
			if (c->synopsis[k][0] != '\0') {
				fputc(' ', out);
				help_roff_form(out, c->synopsis[k]);
			}
			fputc('\n', out);
		}
		fputs(".ad\n.hy\n.PP\n", out);
		help_roff_str(out, c->summary);
		fputc('\n', out);
		help_man_flags(out, c->flags);
		if (c->text != NULL && c->text[0] != '\0') {
			help_paragraphs(c->text, help_man_paragraph, out);
		}
	}
	fputs(".SH ENVIRONMENT\n", out);
	for (size_t i = 0; cmdtab_env[i].name != NULL; i++) {
		fprintf(out, ".TP\n.B %s\n", cmdtab_env[i].name);
		help_roff_str(out, cmdtab_env[i].help);
		fputc('\n', out);
	}
	fputs(".SH EXIT STATUS\n", out);
	for (size_t i = 0; cmdtab_exit_codes[i] != NULL; i++) {
		const char *row = cmdtab_exit_codes[i];
		const char *sp = strchr(row, ' ');
		fprintf(out, ".TP\n.B %.*s\n", (int) (sp - row), row);
		help_roff_str(out, sp + 1);
		fputc('\n', out);
	}
	fputs(".SH SEE ALSO\n"
	      "\\fBclmd \\-\\-help\\fR for the server's settings; in the clm sources, docs/api.md (the calls and the lifecycle model), docs/metrics.md, docs/operations.md and docs/deploy.md.\n",
	        out);
}

/* ------------------------------------------------------------------ */
/* The bash completion script.                                         */

/* Prints the lowercase names of d's values but the first (UNSPECIFIED). */
static void
help_bash_enum(FILE *out, const ProtobufCEnumDescriptor *d)
{
	bool first = true;
	for (unsigned i = 0; i < d->n_values; i++) {
		if (d->values[i].value == 0) {
			continue;
		}
		fputs(first ? "" : " ", out);
		first = false;
		for (const char *s = d->values[i].name; *s != '\0'; s++) {
			fputc(tolower((unsigned char) *s), out);
		}
	}
}

/* Prints a bash statement completing $cur from values. */
static void
help_bash_values(FILE *out, enum cmdtab_values values, const char *words)
{
	switch (values) {
	case CMDTAB_NONE:
		fputs(":", out);
		break;
	case CMDTAB_FILE:
		fputs("_clm_files", out);
		break;
	case CMDTAB_WORDS:
		fprintf(out, "_clm_words '%s'", words);
		break;
	case CMDTAB_CHANNEL:
		fputs("_clm_words '", out);
		help_bash_enum(out, &clm__v1__channel__descriptor);
		fputs("'", out);
		break;
	case CMDTAB_TYPE:
		fputs("_clm_words '", out);
		help_bash_enum(out, &clm__v1__touchpoint_type__descriptor);
		fputs("'", out);
		break;
	case CMDTAB_COMMAND:
		fputs("_clm_words '", out);
		for (size_t i = 0; i < cmdtab_n_commands; i++) {
			fprintf(out, "%s%s", i ? " " : "",
			        cmdtab_commands[i].name);
		}
		fputs("'", out);
		break;
	}
}

/* Whether any of flags takes a value. */
static bool
help_bash_has_values(const struct cmdtab_flag *flags)
{
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		if (flags[i].arg != NULL) {
			return true;
		}
	}
	return false;
}

/* Prints "a|b|c" of the flags that take a value; false if there is none. */
static bool
help_bash_value_flags(FILE *out, const struct cmdtab_flag *flags)
{
	bool any = false;
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		if (flags[i].arg != NULL) {
			fprintf(out, "%s%s", any ? "|" : "", flags[i].name);
			any = true;
		}
	}
	return any;
}

/* Prints the names of flags, space-separated. */
static void
help_bash_flag_names(FILE *out, const struct cmdtab_flag *flags, bool space)
{
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		fprintf(out, "%s%s", space || i ? " " : "", flags[i].name);
	}
}

/*
 * The case arms completing the value of each flag of flags: one arm for
 * the values with nothing to offer, one per flag for the others.
 */
static void
help_bash_flag_values(
        FILE *out, const struct cmdtab_flag *flags, const char *tab)
{
	bool any = false; /* flags whose value has nothing to offer */
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		if (flags[i].arg == NULL || flags[i].values != CMDTAB_NONE) {
			continue;
		}
		fprintf(out, "%s%s", any ? "|" : tab, flags[i].name);
		any = true;
	}
	if (any) {
		fputs(") return ;;\n", out);
	}
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		if (flags[i].arg == NULL || flags[i].values == CMDTAB_NONE) {
			continue;
		}
		fprintf(out, "%s%s) ", tab, flags[i].name);
		help_bash_values(out, flags[i].values, flags[i].words);
		fputs("; return ;;\n", out);
	}
}

void
help_bash(FILE *out)
{
	fprintf(out,
	        "# bash completion for clm %s, generated by `clm completion bash` from the\n"
	        "# same table as `clm --help`. Load it with\n"
	        "#   source <(clm completion bash)\n"
	        "# or save it as /usr/share/bash-completion/completions/clm.\n"
	        "\n"
	        "_clm_words()\n"
	        "{\n"
	        "\tlocal IFS=$' \\t\\n'\n"
	        "\tCOMPREPLY=($(compgen -W \"$1\" -- \"$cur\"))\n"
	        "}\n"
	        "\n"
	        "_clm_files()\n"
	        "{\n"
	        "\tlocal IFS=$'\\n'\n"
	        "\tcompopt -o filenames 2>/dev/null\n"
	        "\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n"
	        "}\n"
	        "\n"
	        "# Whether flag $2 of command $1 takes a value.\n"
	        "_clm_takes_value()\n"
	        "{\n"
	        "\tcase $1 in\n",
	        CLM_VERSION);
	for (size_t i = 0; i < cmdtab_n_commands; i++) {
		const struct cmdtab_command *c = &cmdtab_commands[i];
		if (!help_bash_has_values(c->flags)) {
			continue;
		}
		fprintf(out, "\t%s)\n\t\tcase $2 in\n\t\t", c->name);
		help_bash_value_flags(out, c->flags);
		fputs(") return 0 ;;\n\t\tesac\n\t\t;;\n", out);
	}
	fputs("\tesac\n"
	      "\treturn 1\n"
	      "}\n"
	      "\n"
	      "_clm()\n"
	      "{\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev= cmd= w i nops=0\n"
	      "\tCOMPREPLY=()\n"
	      "\t((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tif [[ -z $cmd ]]; then\n"
	      "\t\t\tcase $w in\n"
	      "\t\t\t",
	        out);
	help_bash_value_flags(out, cmdtab_global_flags);
	fputs(") ((i++)) ;;\n"
	      "\t\t\t-*) ;;\n"
	      "\t\t\t*) cmd=$w ;;\n"
	      "\t\t\tesac\n"
	      "\t\telif _clm_takes_value \"$cmd\" \"$w\"; then\n"
	      "\t\t\t((i++))\n"
	      "\t\telif [[ $w != -* || $w == - ]]; then\n"
	      "\t\t\t((nops++))\n"
	      "\t\tfi\n"
	      "\tdone\n"
	      "\tif [[ -z $cmd ]]; then\n"
	      "\t\tcase $prev in\n",
	        out);
	help_bash_flag_values(out, cmdtab_global_flags, "\t\t");
	fputs("\t\tesac\n\t\tif [[ $cur == -* ]]; then\n\t\t\t_clm_words '",
	        out);
	help_bash_flag_names(out, cmdtab_global_flags, false);
	fputs("'\n\t\telse\n\t\t\t", out);
	help_bash_values(out, CMDTAB_COMMAND, NULL);
	fputs("\n\t\tfi\n\t\treturn\n\tfi\n\tcase $cmd in\n", out);
	for (size_t i = 0; i < cmdtab_n_commands; i++) {
		const struct cmdtab_command *c = &cmdtab_commands[i];
		fprintf(out, "\t%s)\n", c->name);
		if (help_bash_has_values(c->flags)) {
			fputs("\t\tcase $prev in\n", out);
			help_bash_flag_values(out, c->flags, "\t\t");
			fputs("\t\tesac\n", out);
		}
		fputs("\t\tif [[ $cur == -* ]]; then\n\t\t\t_clm_words '",
		        out);
		help_bash_flag_names(out, c->flags, false);
		help_bash_flag_names(out, cmdtab_common_flags,
		        cmdtab_flag_count(c->flags) > 0);
		fputs("'\n", out);
		if (c->operand != CMDTAB_NONE) {
			fputs("\t\telif ((nops == 0)); then\n\t\t\t", out);
			help_bash_values(out, c->operand, c->operand_words);
			fputc('\n', out);
		}
		fputs("\t\tfi\n\t\t;;\n", out);
	}
	fputs("\tesac\n"
	      "}\n"
	      "\n"
	      "complete -F _clm clm\n",
	        out);
}

/* ------------------------------------------------------------------ */
/* JSON.                                                               */

/* jsonstr's sink for a stdio stream. */
static void
help_json_put(void *arg, const char *s, size_t n)
{
	fwrite(s, 1, n, arg);
}

/* s as a JSON string (our help texts: UTF-8, newlines, no other controls). */
static void
help_json_str(FILE *out, const char *s)
{
	jsonstr_write(s, strlen(s), JSONSTR_SHORT_ESCAPES, help_json_put, out);
}

static void
help_json_flags(FILE *out, const struct cmdtab_flag *flags)
{
	fputc('[', out);
	for (size_t i = 0; flags != NULL && flags[i].name != NULL; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		help_json_str(out, flags[i].name);
		if (flags[i].arg != NULL) {
			fputs(",\"arg\":", out);
			help_json_str(out, flags[i].arg);
		}
		fputs(",\"help\":", out);
		help_json_str(out, flags[i].help);
		fputc('}', out);
	}
	fputc(']', out);
}

static void
help_json_command(FILE *out, const struct cmdtab_command *c)
{
	fputs("{\"name\":", out);
	help_json_str(out, c->name);
	fputs(",\"summary\":", out);
	help_json_str(out, c->summary);
	fputs(",\"synopsis\":[", out);
	for (size_t k = 0; c->synopsis[k] != NULL; k++) {
		char line[512];
		snprintf(line, sizeof(line), "clm %s%s%s", c->name,
		        c->synopsis[k][0] ? " " : "", c->synopsis[k]);
		fputs(k ? "," : "", out);
		help_json_str(out, line);
	}
	fputs("],\"flags\":", out);
	help_json_flags(out, c->flags);
	fputs(",\"text\":", out);
	help_json_str(out, c->text ? c->text : "");
	fputc('}', out);
}

void
help_json(FILE *out, const struct cmdtab_command *c)
{
	if (c != NULL) {
		help_json_command(out, c);
		fputc('\n', out);
		return;
	}
	fputs("{\"commands\":[", out);
	for (size_t i = 0; i < cmdtab_n_commands; i++) {
		fputs(i ? "," : "", out);
		help_json_command(out, &cmdtab_commands[i]);
	}
	fputs("],\"globalFlags\":", out);
	help_json_flags(out, cmdtab_global_flags);
	fputs(",\"commonFlags\":", out);
	help_json_flags(out, cmdtab_common_flags);
	fputs(",\"environment\":[", out);
	for (size_t i = 0; cmdtab_env[i].name != NULL; i++) {
		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		help_json_str(out, cmdtab_env[i].name);
		fputs(",\"help\":", out);
		help_json_str(out, cmdtab_env[i].help);
		fputc('}', out);
	}
	fputs("],\"exitCodes\":[", out);
	for (size_t i = 0; cmdtab_exit_codes[i] != NULL; i++) {
		fputs(i ? "," : "", out);
		help_json_str(out, cmdtab_exit_codes[i]);
	}
	fputs("]}\n", out);
}
