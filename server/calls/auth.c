#include "calls/auth.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_TOKEN_MAX  256
#define AUTH_TOKENS_MAX 64

struct auth {
	char tokens[AUTH_TOKENS_MAX][AUTH_TOKEN_MAX + 1];
	size_t len[AUTH_TOKENS_MAX];
	size_t n;
};

int
auth_load(const char *path, struct auth **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read auth token file '%s': %s",
		        path, strerror(errno));
		return -1;
	}
	struct auth *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char line[1024];
	int lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *p = line, *end = line + strlen(line);
		while (p < end && isspace((unsigned char) *p)) {
			p++;
		}
		while (end > p && isspace((unsigned char) end[-1])) {
			end--;
		}
		if (p == end || *p == '#') {
			continue;
		}
		size_t n = (size_t) (end - p);
		if (n > AUTH_TOKEN_MAX || a->n == AUTH_TOKENS_MAX) {
			snprintf(err, errlen,
			        "%s:%d: tokens are at most %d bytes, at most %d of them",
			        path, lineno, AUTH_TOKEN_MAX, AUTH_TOKENS_MAX);
			fclose(f);
			auth_free(a);
			return -1;
		}
		memcpy(a->tokens[a->n], p, n);
		a->len[a->n++] = n;
	}
	fclose(f);
	if (a->n == 0) {
		snprintf(err, errlen, "auth token file '%s' holds no token",
		        path);
		auth_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

void
auth_free(struct auth *a)
{
	if (a == NULL) {
		return;
	}
	/* Volatile writes so the wipe is not optimised away. */
	volatile unsigned char *p = (volatile unsigned char *) a;
	for (size_t i = 0; i < sizeof(*a); i++) {
		p[i] = 0;
	}
	free(a);
}

bool
auth_check(const struct auth *a, const char *token, size_t tlen)
{
	unsigned match = 0;
	for (size_t k = 0; k < a->n; k++) {
		/*
		 * Compare every byte of the stored token, reading the offered
		 * one only within its length: the loop depends on stored
		 * lengths alone. The lengths are compared too, so a token
		 * with anything after a stored one is not that one.
		 */
		unsigned diff = (unsigned) (tlen ^ a->len[k]);
		for (size_t i = 0; i < a->len[k]; i++) {
			unsigned char c
			        = i < tlen ? (unsigned char) token[i] : 0;
			diff |= (unsigned) (c
			        ^ (unsigned char) a->tokens[k][i]);
		}
		match |= (diff == 0);
	}
	return match != 0;
}
