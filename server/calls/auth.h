/*
 * auth: the tokens of --auth-token-file. When any are configured, every
 * request must carry one of them in Request.auth_token, or it gets
 * UNAUTHENTICATED before any handler runs.
 */
#ifndef CLM_AUTH_H
#define CLM_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth;

/*
 * auth_load reads path: one token a line, blank lines and lines starting
 * with '#' skipped, surrounding whitespace trimmed. A file without any token
 * is an error (it would lock everybody out, or nobody). Returns 0, or -1
 * with a one-line reason in err.
 */
int auth_load(const char *path, struct auth **out, char *err, size_t errlen);

/* auth_free releases the tokens (wiping them); NULL is a no-op. */
void auth_free(struct auth *a);

/*
 * auth_check tells whether token[0..len) is one of the tokens: the same
 * bytes and the same length (a token may not be NUL-terminated, and bytes
 * after a NUL count). It compares in constant time: the time taken
 * depends on the number and the lengths of the configured tokens, never
 * on how much of a token matched.
 */
bool auth_check(const struct auth *a, const char *token, size_t len);

#endif /* CLM_AUTH_H */
