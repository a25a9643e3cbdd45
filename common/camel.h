/*
 * camel: the camelCase spelling protoc gives a snake_case .proto name,
 * which proto3 JSON uses for field names (customer_id -> customerId) and
 * protoc for map entry types (properties -> PropertiesEntry). pbjson
 * prints, matches and quotes names through it. Pure, safe from any thread;
 * nothing here allocates.
 *
 * The rule is protoc's ToJsonName: each '_' is dropped and the letter after
 * it upper-cased; only ASCII a-z change case; everything else is copied.
 * So "a__b" is "aB", a trailing '_' vanishes, and "x_1" is "x1".
 */
#ifndef CLM_CAMEL_H
#define CLM_CAMEL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * A struct camel walks the camelCase spelling of a name one character at a
 * time; it borrows the name, which must outlive it.
 */
struct camel {
	const char *p; /* the rest of the snake_case name */
	bool up;       /* upper-case the next letter */
};

/*
 * camel_init starts c at the beginning of snake (NUL-terminated). With
 * upper_first the first letter is upper-cased too (UpperCamelCase).
 */
void camel_init(struct camel *c, const char *snake, bool upper_first);

/*
 * camel_next returns the next character of the spelling and moves past
 * it, or '\0' at the end (and again on every later call).
 */
char camel_next(struct camel *c);

/*
 * camel_prefix tells whether the spelling of snake (upper_first as for
 * camel_init) is a prefix of s[0..n): it returns the spelling's length
 * when it is, or SIZE_MAX when it is not. So camel_prefix(...) == n means
 * s is exactly the spelling.
 */
size_t camel_prefix(
        const char *snake, bool upper_first, const char *s, size_t n);

/*
 * camel_copy writes the lowerCamelCase spelling of snake into dst, size
 * bytes (size > 0), cut short when it does not fit, and always
 * NUL-terminated. Returns the number of characters written.
 */
size_t camel_copy(char *dst, size_t size, const char *snake);

#endif /* CLM_CAMEL_H */
