/* camel: snake_case to camelCase, as protoc spells JSON names (camel.h). */
#include "camel.h"

#include <stdint.h>

void
camel_init(struct camel *c, const char *snake, bool upper_first)
{
	c->p = snake;
	c->up = upper_first;
}

char
camel_next(struct camel *c)
{
	for (; *c->p != '\0'; c->p++) {
		char ch = *c->p;

		if (ch == '_') {
			c->up = true;
			continue;
		}
		if (c->up && ch >= 'a' && ch <= 'z') {
			ch = (char) (ch - 'a' + 'A');
		}
		c->up = false;
		c->p++;
		return ch;
	}
	return '\0';
}

size_t
camel_prefix(const char *snake, bool upper_first, const char *s, size_t n)
{
	struct camel c;
	size_t k = 0;
	char ch;

	camel_init(&c, snake, upper_first);
	while ((ch = camel_next(&c)) != '\0') {
		if (k >= n || s[k] != ch) {
			return SIZE_MAX;
		}
		k++;
	}
	return k;
}

size_t
camel_copy(char *dst, size_t size, const char *snake)
{
	struct camel c;
	size_t k = 0;
	char ch;

	camel_init(&c, snake, false);
	while (k + 1 < size && (ch = camel_next(&c)) != '\0') {
		dst[k++] = ch;
	}
	dst[k] = '\0';
	return k;
}
