/*
 * clm-gen (tools/gen/), the journey generator, run as a program: the
 * output is a pure function of the arguments, every line is a Touchpoint in
 * proto3 JSON inside [end - days, end), event ids are unique, every customer
 * has a touchpoint, --spend covers every day, --catalog lists the items the
 * touchpoints name, and bad usage exits 2. No clmd is started.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef CLM_GEN_BIN
#error "CLM_GEN_BIN must be defined (absolute path of clm-gen)"
#endif

#define DAY_MS 86400000LL
/* --end 2025-06-01 is 2025-06-01T00:00:00Z: in the past, so never refused. */
#define END_DATE "2025-06-01"
#define END_MS   1748736000000LL
#define GEN_MS   20000 /* run_cmd timeout */

TestSuite(gen, .fini = harness_fini, .timeout = 60);

/* Runs clm-gen with the NULL-terminated args; stdout and stderr kept. */
struct run {
	int rc;
	char *out, *err;
};

static struct run
gen(const char *const *args)
{
	const char *argv[32] = { "clm-gen" };
	int n = 1;
	for (; args[n - 1] != NULL; n++) {
		cr_assert_lt(n, 31, "too many arguments");
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	struct run r = { -1, NULL, NULL };
	r.rc = run_cmd(CLM_GEN_BIN, argv, NULL, GEN_MS, &r.out, &r.err);
	cr_assert_not_null(r.out);
	cr_assert_not_null(r.err);
	return r;
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* ---- a small JSON checker ---- */

/*
 * One top-level member of the object on a line: its key, and its value's
 * text (for a string, without the quotes; no escapes are expected in what
 * clm-gen writes).
 */
struct member {
	const char *key, *val;
	size_t key_len, val_len;
	bool is_string;
};

#define MAX_MEMBERS 32

static void
skip_ws(const char **p, const char *end)
{
	while (*p < end
	        && (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')) {
		(*p)++;
	}
}

static bool
json_string(const char **p, const char *end)
{
	if (*p >= end || **p != '"') {
		return false;
	}
	for ((*p)++; *p < end; (*p)++) {
		unsigned char ch = (unsigned char) **p;
		if (ch == '"') {
			(*p)++;
			return true;
		}
		if (ch < 0x20) {
			return false;
		}
		if (ch == '\\') {
			(*p)++;
			if (*p >= end || strchr("\"\\/bfnrtu", **p) == NULL) {
				return false;
			}
		}
	}
	return false;
}

static bool
digits(const char **p, const char *end)
{
	const char *s = *p;
	while (*p < end && **p >= '0' && **p <= '9') {
		(*p)++;
	}
	return *p > s;
}

static bool
json_number(const char **p, const char *end)
{
	if (*p < end && **p == '-') {
		(*p)++;
	}
	if (*p < end && **p == '0') {
		(*p)++;
	} else if (!digits(p, end)) {
		return false;
	}
	if (*p < end && **p == '.') {
		(*p)++;
		if (!digits(p, end)) {
			return false;
		}
	}
	if (*p < end && (**p == 'e' || **p == 'E')) {
		(*p)++;
		if (*p < end && (**p == '+' || **p == '-')) {
			(*p)++;
		}
		if (!digits(p, end)) {
			return false;
		}
	}
	return true;
}

static bool json_value(
        const char **p, const char *end, int depth, struct member *m, int *nm);

/* An object; its members are recorded in m (when not NULL). */
static bool
json_object(
        const char **p, const char *end, int depth, struct member *m, int *nm)
{
	if (depth > 16 || *p >= end || **p != '{') {
		return false;
	}
	(*p)++;
	skip_ws(p, end);
	if (*p < end && **p == '}') {
		(*p)++;
		return true;
	}
	for (;;) {
		skip_ws(p, end);
		const char *key = *p;
		if (!json_string(p, end)) {
			return false;
		}
		size_t key_len = (size_t) (*p - key) - 2;
		skip_ws(p, end);
		if (*p >= end || **p != ':') {
			return false;
		}
		(*p)++;
		skip_ws(p, end);
		const char *val = *p;
		if (!json_value(p, end, depth + 1, NULL, NULL)) {
			return false;
		}
		if (m != NULL) {
			if (*nm == MAX_MEMBERS) {
				return false;
			}
			struct member *x = &m[(*nm)++];
			x->key = key + 1;
			x->key_len = key_len;
			x->is_string = *val == '"';
			x->val = x->is_string ? val + 1 : val;
			x->val_len
			        = (size_t) (*p - val) - (x->is_string ? 2 : 0);
		}
		skip_ws(p, end);
		if (*p < end && **p == ',') {
			(*p)++;
			continue;
		}
		if (*p < end && **p == '}') {
			(*p)++;
			return true;
		}
		return false;
	}
}

static bool
json_value(
        const char **p, const char *end, int depth, struct member *m, int *nm)
{
	if (*p >= end) {
		return false;
	}
	switch (**p) {
	case '{':
		return json_object(p, end, depth, m, nm);
	case '[':
		(*p)++;
		skip_ws(p, end);
		if (*p < end && **p == ']') {
			(*p)++;
			return true;
		}
		for (;;) {
			skip_ws(p, end);
			if (!json_value(p, end, depth + 1, NULL, NULL)) {
				return false;
			}
			skip_ws(p, end);
			if (*p < end && **p == ',') {
				(*p)++;
				continue;
			}
			if (*p < end && **p == ']') {
				(*p)++;
				return true;
			}
			return false;
		}
	case '"':
		return json_string(p, end);
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = { "true", "false", "null" };
		for (int i = 0; i < 3; i++) {
			size_t n = strlen(words[i]);
			if ((size_t) (end - *p) >= n
			        && strncmp(*p, words[i], n) == 0) {
				*p += n;
				return true;
			}
		}
		return false;
	}
	default:
		return json_number(p, end);
	}
}

/* Parses a line as exactly one JSON object; fills m and *nm. */
static bool
parse_line(const char *s, size_t len, struct member *m, int *nm)
{
	const char *p = s, *end = s + len;
	*nm = 0;
	if (!json_object(&p, end, 0, m, nm)) {
		return false;
	}
	skip_ws(&p, end);
	return p == end;
}

static const struct member *
find(const struct member *m, int nm, const char *key)
{
	size_t n = strlen(key);
	for (int i = 0; i < nm; i++) {
		if (m[i].key_len == n && strncmp(m[i].key, key, n) == 0) {
			return &m[i];
		}
	}
	return NULL;
}

/* A string member's value as a new C string, or NULL when not a string. */
static char *
str_of(const struct member *m, int nm, const char *key)
{
	const struct member *x = find(m, nm, key);
	if (x == NULL || !x->is_string) {
		return NULL;
	}
	char *s = malloc(x->val_len + 1);
	cr_assert_not_null(s);
	memcpy(s, x->val, x->val_len);
	s[x->val_len] = '\0';
	return s;
}

/* An int64 member written as a JSON string of digits; false otherwise. */
static bool
int64_of(const struct member *m, int nm, const char *key, int64_t *v)
{
	char *s = str_of(m, nm, key);
	if (s == NULL || s[0] == '\0'
	        || strspn(s, "0123456789") != strlen(s)) {
		free(s);
		return false;
	}
	*v = strtoll(s, NULL, 10);
	free(s);
	return true;
}

/* Calls fn on every line of text (without its newline). */
static size_t
each_line(
        const char *text, void (*fn)(const char *, size_t, void *), void *arg)
{
	size_t n = 0;
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "the last line has no newline");
		fn(p, (size_t) (nl - p), arg);
		n++;
		p = nl + 1;
	}
	return n;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* How many distinct strings v[0..n) holds (sorts v). */
static size_t
distinct(char **v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_str);
	size_t d = 0;
	for (size_t i = 0; i < n; i++) {
		d += i == 0 || strcmp(v[i], v[i - 1]) != 0;
	}
	return d;
}

/* ---- tests ---- */

Test(gen, same_arguments_same_bytes)
{
	static const char *const args[] = { "--seed", "7", "--customers",
		"300", "--days", "30", "--end", END_DATE, "--quiet", NULL };
	struct run a = gen(args), b = gen(args);
	cr_assert_eq(a.rc, 0, "exit %d, stderr '%s'", a.rc, a.err);
	cr_assert_eq(b.rc, 0, "exit %d, stderr '%s'", b.rc, b.err);
	cr_assert_gt(strlen(a.out), 1000, "almost no output");
	cr_assert_eq(strlen(a.out), strlen(b.out), "lengths differ");
	cr_assert(strcmp(a.out, b.out) == 0, "two runs differ");
	cr_assert_str_empty(a.err, "--quiet, but stderr '%s'", a.err);
	run_free(&a);
	run_free(&b);

	/* --out FILE holds the same bytes as standard output. */
	char dir[32], path[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(path, sizeof(path), "%s/out.ndjson", dir);
	const char *const to_file[]
	        = { "--seed", "7", "--customers", "300", "--days", "30",
		          "--end", END_DATE, "--quiet", "--out", path, NULL };
	a = gen(args);
	b = gen(to_file);
	cr_assert_eq(b.rc, 0, "exit %d, stderr '%s'", b.rc, b.err);
	cr_assert_str_empty(b.out);
	char *file = harness_read_file(path);
	cr_assert_not_null(file);
	cr_assert(strcmp(a.out, file) == 0, "--out differs from stdout");
	free(file);
	run_free(&a);
	run_free(&b);
}

Test(gen, other_seed_other_output)
{
	static const char *const s1[] = { "--seed", "1", "--customers", "100",
		"--end", END_DATE, "--quiet", NULL };
	static const char *const s2[] = { "--seed", "2", "--customers", "100",
		"--end", END_DATE, "--quiet", NULL };
	struct run a = gen(s1), b = gen(s2);
	cr_assert_eq(a.rc, 0, "exit %d, stderr '%s'", a.rc, a.err);
	cr_assert_eq(b.rc, 0, "exit %d, stderr '%s'", b.rc, b.err);
	cr_assert(strcmp(a.out, b.out) != 0, "seeds 1 and 2 gave one output");
	cr_assert(strstr(a.out, "\"eventId\":\"g1-") != NULL);
	cr_assert(strstr(b.out, "\"eventId\":\"g2-") != NULL);
	run_free(&a);
	run_free(&b);
}

/* What touchpoint lines are checked against, and what they held. */
struct tp_check {
	int64_t from, to; /* the window */
	char **event_ids, **customers, **customer_times;
	size_t n, cap;
	size_t buyers_lines; /* PURCHASE lines */
};

static void
tp_line(const char *s, size_t len, void *arg)
{
	struct tp_check *c = arg;
	struct member m[MAX_MEMBERS];
	int nm;
	cr_assert(parse_line(s, len, m, &nm), "not a JSON object: '%.*s'",
	        (int) len, s);
	char *id = str_of(m, nm, "eventId");
	char *customer = str_of(m, nm, "customerId");
	char *type = str_of(m, nm, "type");
	int64_t at;
	cr_assert_not_null(id, "no eventId: '%.*s'", (int) len, s);
	cr_assert_not_null(customer, "no customerId: '%.*s'", (int) len, s);
	cr_assert_not_null(type, "no type: '%.*s'", (int) len, s);
	cr_assert(type[0] != '\0'
	                && strcmp(type, "TOUCHPOINT_TYPE_UNSPECIFIED") != 0,
	        "bad type: '%.*s'", (int) len, s);
	cr_assert(int64_of(m, nm, "occurredAtMs", &at),
	        "occurredAtMs is not an int64 string: '%.*s'", (int) len, s);
	cr_assert(at >= c->from && at < c->to,
	        "occurredAtMs %lld outside [%lld, %lld): '%.*s'",
	        (long long) at, (long long) c->from, (long long) c->to,
	        (int) len, s);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 4096;
		c->event_ids = realloc(c->event_ids, c->cap * sizeof(char *));
		c->customers = realloc(c->customers, c->cap * sizeof(char *));
		c->customer_times
		        = realloc(c->customer_times, c->cap * sizeof(char *));
		cr_assert(c->event_ids && c->customers && c->customer_times);
	}
	char *ct = malloc(strlen(customer) + 24);
	cr_assert_not_null(ct);
	sprintf(ct, "%s@%lld", customer, (long long) at);
	c->event_ids[c->n] = id;
	c->customers[c->n] = customer;
	c->customer_times[c->n] = ct;
	c->n++;
	free(type);
}

static void
tp_check_free(struct tp_check *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->event_ids[i]);
		free(c->customers[i]);
		free(c->customer_times[i]);
	}
	free(c->event_ids);
	free(c->customers);
	free(c->customer_times);
}

static void
check_touchpoints(const char *end_arg, int64_t end_ms, const char *days,
        const char *customers)
{
	const char *const args[] = { "--seed", "11", "--customers", customers,
		"--days", days, "--end", end_arg, NULL };
	struct run r = gen(args);
	cr_assert_eq(r.rc, 0, "exit %d, stderr '%s'", r.rc, r.err);
	cr_assert(strstr(r.err, "touchpoints") != NULL,
	        "no summary on stderr: '%s'", r.err);
	struct tp_check c;
	memset(&c, 0, sizeof(c));
	c.to = end_ms;
	c.from = end_ms - atoll(days) * DAY_MS;
	size_t lines = each_line(r.out, tp_line, &c);
	cr_assert_gt(lines, 0);
	cr_assert_eq(distinct(c.event_ids, c.n), c.n, "event ids repeat");
	cr_assert_eq(distinct(c.customers, c.n), (size_t) atoll(customers),
	        "customers with touchpoints != --customers");
	cr_assert_eq(distinct(c.customer_times, c.n), c.n,
	        "a customer has two touchpoints at one ms");
	tp_check_free(&c);
	run_free(&r);
}

Test(gen, every_line_is_a_touchpoint_in_the_window)
{
	check_touchpoints(END_DATE, END_MS, "30", "500");
	/* An end in unix ms, not at midnight, and a one-day span. */
	check_touchpoints("1748781296789", 1748781296789LL, "1", "200");
}

Test(gen, every_type_appears_and_a_third_buy)
{
	static const char *const args[] = { "--seed", "3", "--customers",
		"2000", "--end", END_DATE, "--quiet", NULL };
	struct run r = gen(args);
	cr_assert_eq(r.rc, 0, "exit %d, stderr '%s'", r.rc, r.err);
	static const char *const types[] = { "AD_IMPRESSION", "AD_CLICK",
		"SITE_VISIT", "PAGE_VIEW", "CONTENT_VIEW", "SOCIAL_MENTION",
		"SIGNUP", "PRICING_VIEW", "DEMO_REQUEST", "ADD_TO_CART",
		"REMOVE_FROM_CART", "CHECKOUT_STARTED", "PURCHASE", "REFUND",
		"REFERRAL", "REVIEW", "EMAIL_OPEN", "EMAIL_CLICK", "APP_OPEN",
		"SUPPORT_TICKET", "BILLING_ISSUE", "ONBOARDING_COMPLETED",
		"USAGE_LIMIT_REACHED", "STORE_VISIT", "CANCELLATION",
		"FEEDBACK" };
	char want[64];
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(want, sizeof(want), "\"type\":\"%s\"", types[i]);
		cr_expect(strstr(r.out, want) != NULL, "no %s", types[i]);
	}
	static const char *const channels[] = { "PAID_ADS", "ORGANIC_SEARCH",
		"ORGANIC_SOCIAL", "EMAIL", "REFERRAL_LINK", "DIRECT" };
	for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
		snprintf(
		        want, sizeof(want), "\"channel\":\"%s\"", channels[i]);
		cr_expect(strstr(r.out, want) != NULL, "no %s", channels[i]);
	}
	cr_expect(strstr(r.out, "\"sentiment\":0.25") != NULL);
	cr_expect(strstr(r.out, "\"sentiment\":-0.25") != NULL);
	cr_expect(strstr(r.out, "\"sentiment\":-") != NULL);

	/* Lines without a channel; customers that buy (about a third). */
	size_t no_channel = 0, purchases = 0, buyers = 0;
	char last_buyer[32] = "";
	for (const char *p = r.out; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		size_t len = (size_t) (nl - p);
		char line[1024];
		cr_assert_lt(len, sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		no_channel += strstr(line, "\"channel\":") == NULL;
		if (strstr(line, "\"type\":\"PURCHASE\"") != NULL) {
			purchases++;
			cr_expect(strstr(line, "\"value\":") != NULL
			                && strstr(line, "\"itemId\":\"sku-")
			                        != NULL,
			        "purchase without value or item: %s", line);
			/* A customer's lines are together. */
			const char *cid = strstr(line, "\"customerId\":\"");
			cr_assert_not_null(cid);
			char id[32];
			cr_assert_eq(
			        sscanf(cid, "\"customerId\":\"%31[^\"]", id),
			        1);
			if (strcmp(id, last_buyer) != 0) {
				buyers++;
				snprintf(last_buyer, sizeof(last_buyer), "%s",
				        id);
			}
		}
		p = nl + 1;
	}
	cr_expect_gt(no_channel, 0, "every line has a channel");
	cr_expect_gt(purchases, buyers, "nobody bought twice");
	cr_expect(buyers >= 2000 * 25 / 100 && buyers <= 2000 * 45 / 100,
	        "%zu of 2000 customers bought", buyers);
	run_free(&r);
}

struct spend_check {
	int64_t first_day, days;
	bool seen[3][64];
};

static void
spend_line(const char *s, size_t len, void *arg)
{
	static const char *const channels[3]
	        = { "PAID_ADS", "ORGANIC_SOCIAL", "EMAIL" };
	struct spend_check *c = arg;
	struct member m[MAX_MEMBERS];
	int nm;
	cr_assert(parse_line(s, len, m, &nm), "not a JSON object: '%.*s'",
	        (int) len, s);
	char *ch = str_of(m, nm, "channel");
	cr_assert_not_null(ch, "no channel: '%.*s'", (int) len, s);
	int k = -1;
	for (int i = 0; i < 3; i++) {
		if (strcmp(ch, channels[i]) == 0) {
			k = i;
		}
	}
	cr_assert_geq(k, 0, "unexpected channel: '%.*s'", (int) len, s);
	free(ch);
	int64_t day_ms;
	cr_assert(int64_of(m, nm, "dayMs", &day_ms), "bad dayMs: '%.*s'",
	        (int) len, s);
	cr_assert_eq(day_ms % DAY_MS, 0, "dayMs not at 00:00 UTC");
	int64_t d = day_ms / DAY_MS - c->first_day;
	cr_assert(d >= 0 && d < c->days, "day outside the span: '%.*s'",
	        (int) len, s);
	c->seen[k][d] = true;
	const struct member *amount = find(m, nm, "amount");
	cr_assert(amount != NULL && !amount->is_string
	                && strtod(amount->val, NULL) > 0,
	        "bad amount: '%.*s'", (int) len, s);
	char *campaign = str_of(m, nm, "campaign");
	cr_assert(campaign != NULL && campaign[0] != '\0', "no campaign");
	free(campaign);
}

static void
check_spend(const char *end_arg, int64_t end_ms, const char *days)
{
	char dir[32], path[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(path, sizeof(path), "%s/spend.ndjson", dir);
	const char *const args[] = { "--customers", "50", "--days", days,
		"--end", end_arg, "--spend", path, "--quiet", NULL };
	struct run r = gen(args);
	cr_assert_eq(r.rc, 0, "exit %d, stderr '%s'", r.rc, r.err);
	char *text = harness_read_file(path);
	cr_assert_not_null(text, "no %s", path);
	struct spend_check c;
	memset(&c, 0, sizeof(c));
	int64_t start = end_ms - atoll(days) * DAY_MS;
	c.first_day = start / DAY_MS;
	c.days = (end_ms - 1) / DAY_MS - c.first_day + 1;
	cr_assert_leq(c.days, 64);
	size_t lines = each_line(text, spend_line, &c);
	cr_expect_eq(lines, (size_t) (3 * c.days));
	for (int k = 0; k < 3; k++) {
		for (int64_t d = 0; d < c.days; d++) {
			cr_expect(c.seen[k][d], "channel %d has no day %lld",
			        k, (long long) d);
		}
	}
	free(text);
	run_free(&r);
}

Test(gen, spend_covers_every_day)
{
	check_spend(END_DATE, END_MS, "30");
	/* Not at midnight: two days touch three UTC days. */
	check_spend("1748781296789", 1748781296789LL, "2");
}

static void
catalog_line(const char *s, size_t len, void *arg)
{
	size_t *items = arg;
	struct member m[MAX_MEMBERS];
	int nm;
	cr_assert(parse_line(s, len, m, &nm), "not a JSON object: '%.*s'",
	        (int) len, s);
	char *id = str_of(m, nm, "itemId");
	if (id == NULL) {
		cr_assert_not_null(find(m, nm, "storeId"),
		        "neither item nor store: '%.*s'", (int) len, s);
		return;
	}
	(*items)++;
	char want[32];
	snprintf(want, sizeof(want), "sku-%zu", *items);
	cr_expect_str_eq(id, want, "items out of order");
	free(id);
	const struct member *price = find(m, nm, "price");
	cr_assert(price != NULL && strtod(price->val, NULL) > 0, "no price");
	cr_assert_not_null(find(m, nm, "name"));
	cr_assert_not_null(find(m, nm, "category"));
}

Test(gen, catalog_has_the_items_bought)
{
	char dir[32], path[64];
	cr_assert_eq(harness_tmpdir(dir), 0);
	snprintf(path, sizeof(path), "%s/catalog.ndjson", dir);
	const char *const args[] = { "--customers", "300", "--items", "20",
		"--end", END_DATE, "--quiet", "--catalog", path, NULL };
	struct run r = gen(args);
	cr_assert_eq(r.rc, 0, "exit %d, stderr '%s'", r.rc, r.err);
	char *text = harness_read_file(path);
	cr_assert_not_null(text);
	size_t items = 0;
	each_line(text, catalog_line, &items);
	cr_expect_eq(items, 20);
	free(text);
	/* Every item a touchpoint names is in the catalog. */
	for (const char *p = r.out; (p = strstr(p, "\"itemId\":\"sku-"));) {
		p += strlen("\"itemId\":\"sku-");
		long k = strtol(p, NULL, 10);
		cr_assert(k >= 1 && k <= 20, "item sku-%ld not in catalog", k);
	}
	run_free(&r);
}

Test(gen, bad_usage_exits_2)
{
	static const char *const bad[][6] = {
		{ "--customers", "0", NULL },
		{ "--customers", "many", NULL },
		{ "--days", "-3", NULL },
		{ "--seed", NULL },
		{ "--bogus", NULL },
		{ "stray", NULL },
		{ "--end", "2025-02-30", NULL },
		{ "--end", "yesterday", NULL },
		{ "--end", "2999-01-01", NULL },
		{ "--end", "2000-01-05", "--days", "10", NULL },
		{ "--quiet=yes", NULL },
		{ "--items", "0", NULL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run r = gen(bad[i]);
		cr_expect_eq(r.rc, 2, "'%s %s': exit %d, stderr '%s'",
		        bad[i][0], bad[i][1] ? bad[i][1] : "", r.rc, r.err);
		cr_expect_str_empty(
		        r.out, "'%s': output on a usage error", bad[i][0]);
		cr_expect(strstr(r.err, "clm-gen: ") != NULL,
		        "'%s': no message, stderr '%s'", bad[i][0], r.err);
		run_free(&r);
	}
	static const char *const help[] = { "--help", NULL };
	struct run r = gen(help);
	cr_expect_eq(r.rc, 0);
	cr_expect(strstr(r.out, "usage: clm-gen") != NULL, "'%s'", r.out);
	run_free(&r);
}
