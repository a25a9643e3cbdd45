/* Helpers shared by the clm commands: errors, JSON, enums and times. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "civil.h"
#include "cli.h"
#include "pbjson.h"

int
cli_connect(struct cli *cli)
{
	clm_err e = clm_open_tls(
	        cli->url, cli->timeout_ms, &cli->tls, &cli->conn);
	bool scheme = strncmp(cli->url, "tcp://", 6) == 0
	        || strncmp(cli->url, "tls+tcp://", 10) == 0
	        || strncmp(cli->url, "ipc://", 6) == 0;
	if (e == CLM_INVALID_ARGUMENT && !scheme) {
		/*
		 * Not a URL clmd can listen on (http://: the dashboard's). A
		 * known scheme whose host does not resolve is not a usage
		 * error: nng says EADDRINVAL for both, and the reason is
		 * printed below.
		 */
		return cli_usage_error(
		        "invalid --url '%s': use tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc://PATH",
		        cli->url);
	}
	if (e != CLM_OK) {
		fprintf(stderr, "clm: %s\n", clm_open_error());
		return CLI_ECONNECT;
	}
	if (cli->token != NULL
	        && clm_set_token(cli->conn, cli->token) != CLM_OK) {
		fprintf(stderr, "clm: out of memory\n");
		return CLI_ECONNECT;
	}
	clm_set_min_position(cli->conn, cli->min_position);
	return CLI_OK;
}

/* Whether text holds "field: description" of violation v. */
static bool
cli_status_says(const char *text, const Clm__V1__FieldViolation *v)
{
	size_t fn = strlen(v->field);
	if (fn == 0) {
		return false; /* strstr would match everywhere, the end too */
	}
	for (const char *p = strstr(text, v->field); p != NULL;
	        p = strstr(p + 1, v->field)) {
		if (strncmp(p + fn, ": ", 2) == 0
		        && strncmp(p + fn + 2, v->description,
		                   strlen(v->description))
		                == 0) {
			return true;
		}
	}
	return false;
}

void
cli_print_status(const Clm__V1__Status *st)
{
	fprintf(stderr, "clm: %s: %s\n",
	        clm_errname(clm_err_from_code((int) st->code)), st->message);
	/* The message often is the first violation: each is said once. */
	for (size_t i = 0; i < st->n_violations; i++) {
		if (!cli_status_says(st->message, st->violations[i])) {
			fprintf(stderr, "  %s: %s\n", st->violations[i]->field,
			        st->violations[i]->description);
		}
	}
}

int
cli_result(struct cli *cli, clm_err e, const Clm__V1__Response *resp)
{
	if (resp == NULL) {
		fprintf(stderr, "clm: %s\n", clm_last_error(cli->conn));
		return CLI_ECONNECT;
	}
	if (e == CLM_OK) {
		return CLI_OK;
	}
	if (resp->status != NULL) {
		cli_print_status(resp->status);
	} else {
		fprintf(stderr, "clm: %s\n", clm_strerror(e));
	}
	return CLI_ESERVER;
}

int
cli_reply(struct cli *cli, clm_err e, Clm__V1__Response *resp,
        void (*print)(const ProtobufCMessage *result, const void *arg),
        const void *arg)
{
	int rc = cli_result(cli, e, resp);
	const ProtobufCMessage *result = NULL;
	if (rc == CLI_OK) {
		/* The oneof's case is the number of the member it selects. */
		const ProtobufCFieldDescriptor *f
		        = protobuf_c_message_descriptor_get_field(
		                &clm__v1__response__descriptor,
		                (unsigned) resp->result_case);
		if (f != NULL) {
			memcpy(&result, (const char *) resp + f->offset,
			        sizeof(result));
		}
	}
	if (result != NULL && cli->json && cli->write) {
		cli_print_json_at(result, resp->position);
	} else if (result != NULL && cli->json) {
		cli_print_json(result);
	} else if (result != NULL) {
		print(result, arg);
	}
	clm_response_free(resp);
	return rc;
}

void
cli_print_json(const ProtobufCMessage *msg)
{
	char *text;
	if (pbjson_print(msg, 0, &text) != 0) {
		fprintf(stderr, "clm: out of memory\n");
		return;
	}
	puts(text);
	free(text);
}

void
cli_print_json_at(const ProtobufCMessage *msg, uint64_t position)
{
	char *text;
	if (pbjson_print(msg, 0, &text) != 0) {
		fprintf(stderr, "clm: out of memory\n");
		return;
	}
	/* text is one object: "{}" or "{MEMBERS}". */
	printf("{\"position\":\"%llu\"%s%s\n", (unsigned long long) position,
	        strcmp(text, "{}") == 0 ? "" : ",", text + 1);
	free(text);
}

const char *
cli_enum_name(const ProtobufCEnumDescriptor *d, int value)
{
	const ProtobufCEnumValue *v
	        = protobuf_c_enum_descriptor_get_value(d, value);
	return v ? v->name : "?";
}

int
cli_enum_parse(const ProtobufCEnumDescriptor *d, const char *s, int *out)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s != '\0' && *end == '\0') {
		if (protobuf_c_enum_descriptor_get_value(d, (int) n) == NULL) {
			return -1;
		}
		*out = (int) n;
		return 0;
	}
	char name[64];
	size_t len = strlen(s);
	if (len >= sizeof(name)) {
		return -1;
	}
	for (size_t i = 0; i <= len; i++) {
		name[i] = s[i] == '-' ? '_'
		                      : (char) toupper((unsigned char) s[i]);
	}
	const ProtobufCEnumValue *v
	        = protobuf_c_enum_descriptor_get_value_by_name(d, name);
	if (v == NULL) {
		return -1;
	}
	*out = v->value;
	return 0;
}

void
cli_fmt_time(int64_t ms, char buf[40])
{
	if (ms == 0) {
		strcpy(buf, "-");
		return;
	}
	time_t s = (time_t) (ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 40 - n, ".%03dZ", (int) (ms % 1000));
}

int
cli_parse_time(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0) {
		*out = v;
		return 0;
	}
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) {
		return -1;
	}
	const char *p = s + n;
	if (*p == 'T' || *p == ' ') {
		int m2 = 0;
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m2) != 3) {
			return -1;
		}
		p += 1 + m2;
		if (*p == '.') {
			int digits = 0;
			p++;
			while (isdigit((unsigned char) *p)) {
				if (digits < 3) {
					ms = ms * 10 + (*p - '0');
				}
				digits++;
				p++;
			}
			while (digits < 3) {
				ms *= 10;
				digits++;
			}
		}
		if (*p == 'Z') {
			p++;
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23
	        || mi > 59 || sec > 60) {
		return -1;
	}
	int64_t days = civil_to_days(y, mo, d);
	*out = ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + ms;
	return 0;
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("clm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (see clm help)\n", stderr);
	va_end(ap);
	return CLI_EUSAGE;
}

void
cli_fmt_date(int64_t ms, char buf[32])
{
	time_t s = (time_t) (cli_day_floor(ms) / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, 32, "%Y-%m-%d", &tm);
}

int64_t
cli_day_floor(int64_t ms)
{
	int64_t d = ms / 86400000;
	if (ms % 86400000 < 0) {
		d--;
	}
	return d * 86400000;
}

int64_t
cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True when the locale variable's value names the UTF-8 codeset. */
static bool
cli_utf8_name(const char *v)
{
	if (v == NULL) {
		return false;
	}
	for (; *v != '\0'; v++) {
		if ((v[0] == 'u' || v[0] == 'U')
		        && (v[1] == 't' || v[1] == 'T')
		        && (v[2] == 'f' || v[2] == 'F')) {
			const char *p = v + 3;
			p += *p == '-';
			if (p[0] == '8') {
				return true;
			}
		}
	}
	return false;
}

bool
cli_utf8_tty(int fd)
{
	if (!isatty(fd)) {
		return false;
	}
	/* The first one set wins, as in setlocale(LC_CTYPE, ""). */
	const char *names[] = { "LC_ALL", "LC_CTYPE", "LANG" };
	for (size_t i = 0; i < 3; i++) {
		const char *v = getenv(names[i]);
		if (v != NULL && v[0] != '\0') {
			return cli_utf8_name(v);
		}
	}
	return false;
}

void
cli_bar(FILE *out, double frac, int width, bool unicode)
{
	if (!(frac > 0)) {
		frac = 0;
	}
	if (frac > 1) {
		frac = 1;
	}
	/* Eighths of a cell: U+2588 full block, U+258F..U+2589 the rest. */
	static const char *const eighths[8] = { "", "\u258f", "\u258e",
		"\u258d", "\u258c", "\u258b", "\u258a", "\u2589" };
	int cells = 0;
	if (unicode) {
		long e = (long) (frac * width * 8 + 0.5);
		for (; e >= 8; e -= 8) {
			fputs("\u2588", out);
			cells++;
		}
		if (e > 0) {
			fputs(eighths[e], out);
			cells++;
		}
	} else {
		cells = (int) (frac * width + 0.5);
		for (int i = 0; i < cells; i++) {
			putc('#', out);
		}
	}
	for (; cells < width; cells++) {
		putc(' ', out);
	}
}
