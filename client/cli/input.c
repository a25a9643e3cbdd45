/*
 * Line and CSV input of the clm commands (catalog, import, spend). CSV is
 * one record a line, fields separated by commas, optionally "quoted" with
 * "" for a quote; a quoted field cannot span lines.
 * And which JSON lines are an export's customer line (track, import).
 */
#include <ctype.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "pbjson.h"

int
cli_csv_split(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		if (n == max) {
			return -1;
		}
		char *out = p;
		fields[n++] = out;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0') {
					return -1; /* unterminated quote */
				}
				if (*p == '"' && p[1] == '"') {
					*out++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*out++ = *p++;
				}
			}
			if (*p != ',' && *p != '\0') {
				return -1;
			}
		} else {
			while (*p != ',' && *p != '\0') {
				*out++ = *p++;
			}
		}
		char sep = *p;
		*out = '\0';
		if (sep == '\0') {
			return n;
		}
		p++;
	}
}

void
cli_csv_name(const char *in, char *out, size_t len)
{
	size_t o = 0;
	unsigned char prev = 0;
	while (*in == ' ' || *in == '\t') {
		in++;
	}
	for (; *in != '\0' && o + 2 < len; in++) {
		unsigned char ch = (unsigned char) *in;
		if (isupper(ch)) {
			/* eventId -> event_id, but ID -> id */
			if (islower(prev) || isdigit(prev)) {
				out[o++] = '_';
			}
			out[o++] = (char) tolower(ch);
		} else {
			out[o++] = (char) ch;
		}
		prev = ch;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t')) {
		o--;
	}
	out[o] = '\0';
}

enum cli_record
cli_record(struct cli_records *r, char *line, size_t len, char **f, int max,
        int *nf)
{
	if (len == 0) {
		return CLI_RECORD_BLANK;
	}
	if (!r->decided) {
		r->json = line[0] == '{';
		r->decided = true;
	}
	if (r->json) {
		return CLI_RECORD_JSON;
	}
	*nf = cli_csv_split(line, f, max);
	if (*nf < 0) {
		return CLI_RECORD_MALFORMED;
	}
	if (!r->header) {
		r->header = true;
		return CLI_RECORD_HEADER;
	}
	return CLI_RECORD_ROW;
}

long
cli_read_line(FILE *in, char **line, size_t *cap, unsigned long *lineno,
        unsigned long long *bytes)
{
	ssize_t len = getline(line, cap, in);
	if (len < 0) {
		return -1;
	}
	if (bytes != NULL) {
		*bytes += (unsigned long long) len;
	}
	char *s = *line;
	if (++*lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		memmove(s, s + 3, (size_t) len - 2);
		len -= 3;
	}
	while (len > 0 && isspace((unsigned char) s[len - 1])) {
		s[--len] = '\0';
	}
	return (long) len;
}

bool
cli_is_customer_line(const char *line, size_t len)
{
	ProtobufCMessage *m;
	char err[8];
	if (pbjson_parse(line, len, &clm__v1__customer__descriptor, &m, err,
	            sizeof(err))
	        != 0) {
		return false;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return true;
}
