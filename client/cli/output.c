/* Helpers shared by the clm commands: errors, JSON, enums and times. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "pbjson.h"

int
cli_connect(struct cli *cli)
{
	if (clm_open_tls(cli->url, cli->timeout_ms, &cli->tls, &cli->conn)
	        != CLM_OK) {
		fprintf(stderr, "clm: %s\n", clm_open_error());
		return CLI_ECONNECT;
	}
	if (cli->token != NULL
	        && clm_set_token(cli->conn, cli->token) != CLM_OK) {
		fprintf(stderr, "clm: out of memory\n");
		return CLI_ECONNECT;
	}
	return CLI_OK;
}

void
cli_print_status(const Clm__V1__Status *st)
{
	fprintf(stderr, "clm: %s: %s\n",
	        clm_errname(clm_err_from_code((int) st->code)), st->message);
	for (size_t i = 0; i < st->n_violations; i++) {
		fprintf(stderr, "  %s: %s\n", st->violations[i]->field,
		        st->violations[i]->description);
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

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
cli_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned) (y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
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
	int64_t days = cli_days_from_civil(y, (unsigned) mo, (unsigned) d);
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
