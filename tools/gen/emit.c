/*
 * emit: clm-gen's output. A buffered writer of hand-made JSON (every number
 * printed is an integer count of cents, hundredths or 1e-5 degrees, so no
 * printf of a double decides a byte), and the lines it writes: touchpoints
 * (clm.v1.Touchpoint), the catalog (clm.v1.Item, then clm.v1.Store) and the
 * daily spend (clm.v1.Spend), all in proto3 JSON.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define GEN_OUT_CAP  (1u << 20)
#define GEN_LINE_MAX 1024 /* no line we write is longer */

static const char *const gen_type_names[GEN_N_TYPES] = {
	"TOUCHPOINT_TYPE_UNSPECIFIED",
	"AD_IMPRESSION",
	"AD_CLICK",
	"SITE_VISIT",
	"PAGE_VIEW",
	"CONTENT_VIEW",
	"SOCIAL_MENTION",
	"SIGNUP",
	"PRICING_VIEW",
	"DEMO_REQUEST",
	"ADD_TO_CART",
	"REMOVE_FROM_CART",
	"CHECKOUT_STARTED",
	"PURCHASE",
	"REFUND",
	"REFERRAL",
	"REVIEW",
	"EMAIL_OPEN",
	"EMAIL_CLICK",
	"APP_OPEN",
	"MESSAGE_SENT",
	"SUPPORT_TICKET",
	"BILLING_ISSUE",
	"ONBOARDING_COMPLETED",
	"USAGE_LIMIT_REACHED",
	"STORE_VISIT",
	"CANCELLATION",
	"FEEDBACK",
};

static const char *const gen_channel_names[GEN_N_CHANNELS] = {
	"CHANNEL_UNSPECIFIED",
	"DIRECT",
	"PAID_ADS",
	"ORGANIC_SEARCH",
	"ORGANIC_SOCIAL",
	"EMAIL",
	"APP_NOTIFICATION",
	"IN_APP",
	"LIVE_CHAT",
	"REFERRAL_LINK",
	"STORE",
	"SUPPORT",
	"SMS",
};

/* The channels that get a Spend line per day (--spend). */
static const enum gen_channel gen_spend_channels[]
        = { PAID_ADS, ORGANIC_SOCIAL, EMAIL };

static const char *const gen_paths[8] = { "/", "/features", "/products",
	"/blog", "/docs", "/about", "/faq", "/account" };
static const char *const gen_topics[5]
        = { "login", "shipping", "bug", "how-to", "billing" };
static const char *const gen_billing_reasons[3]
        = { "card_declined", "card_expired", "insufficient_funds" };
static const char *const gen_cancel_reasons[4]
        = { "too_expensive", "not_using", "switched", "missing_feature" };
static const char *const gen_limits[3] = { "api_calls", "seats", "storage" };

static void
gen_out_flush(struct gen_out *o)
{
	if (o->len > 0 && o->err == 0
	        && fwrite(o->buf, 1, o->len, o->f) != o->len) {
		o->err = errno != 0 ? errno : EIO;
	}
	o->len = 0;
}

static void
gen_out_mem(struct gen_out *o, const char *s, size_t n)
{
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void
gen_out_str(struct gen_out *o, const char *s)
{
	gen_out_mem(o, s, strlen(s));
}

static void
gen_out_char(struct gen_out *o, char ch)
{
	o->buf[o->len++] = ch;
}

/* An unsigned integer, left-padded with zeros to at least width digits. */
static void
gen_out_uint(struct gen_out *o, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n < width) {
		tmp[n++] = '0';
	}
	while (n > 0) {
		o->buf[o->len++] = tmp[--n];
	}
}

static void
gen_out_int(struct gen_out *o, int64_t v)
{
	if (v < 0) {
		gen_out_char(o, '-');
		gen_out_uint(o, (uint64_t) 0 - (uint64_t) v, 1);
	} else {
		gen_out_uint(o, (uint64_t) v, 1);
	}
}

/*
 * v / 10^places as a JSON number without trailing zeros, as proto3 JSON
 * prints doubles: 4990 with 2 places is 49.9, 5000 is 50.
 */
static void
gen_out_fixed(struct gen_out *o, int64_t v, int places)
{
	uint64_t scale = 1;
	for (int i = 0; i < places; i++) {
		scale *= 10;
	}
	uint64_t a = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
	if (v < 0) {
		gen_out_char(o, '-');
	}
	gen_out_uint(o, a / scale, 1);
	uint64_t frac = a % scale;
	if (frac == 0) {
		return;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		places--;
	}
	gen_out_char(o, '.');
	gen_out_uint(o, frac, places);
}

/* Ends a line; flushes when the buffer could not take another one. */
static void
gen_out_endline(struct gen_out *o)
{
	gen_out_char(o, '\n');
	o->lines++;
	if (o->len > GEN_OUT_CAP - GEN_LINE_MAX) {
		gen_out_flush(o);
	}
}

int
gen_out_open(struct gen_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->buf = malloc(GEN_OUT_CAP);
	if (o->buf == NULL) {
		fprintf(stderr, "clm-gen: out of memory\n");
		return -1;
	}
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	o->f = fopen(path, "w");
	if (o->f == NULL) {
		fprintf(stderr, "clm-gen: cannot create '%s': %s\n", path,
		        strerror(errno));
		free(o->buf);
		o->buf = NULL;
		return -1;
	}
	return 0;
}

/* Flushes and closes; returns 0, or -1 after saying what failed. */
int
gen_out_close(struct gen_out *o)
{
	if (o->buf == NULL) {
		return 0;
	}
	gen_out_flush(o);
	if (fflush(o->f) != 0 && o->err == 0) {
		o->err = errno != 0 ? errno : EIO;
	}
	if (o->f != stdout && fclose(o->f) != 0 && o->err == 0) {
		o->err = errno != 0 ? errno : EIO;
	}
	free(o->buf);
	o->buf = NULL;
	if (o->err != 0) {
		fprintf(stderr, "clm-gen: cannot write '%s': %s\n",
		        strcmp(o->path, "-") == 0 ? "stdout" : o->path,
		        strerror(o->err));
		return -1;
	}
	return 0;
}
static void
gen_write_event(struct gen *g, struct gen_cust *c, struct gen_out *o,
        const struct gen_event *e, bool first)
{
	gen_out_str(o, "{\"eventId\":\"g");
	gen_out_uint(o, g->seed, 1);
	gen_out_char(o, '-');
	gen_out_uint(o, ++g->counter, 6);
	gen_out_str(o, "\",\"customerId\":\"c");
	gen_out_uint(o, c->idx, 6);
	gen_out_str(o, "\",\"type\":\"");
	gen_out_str(o, gen_type_names[e->type]);
	gen_out_char(o, '"');
	/*
	 * Some touchpoints come without a channel (a tracker that did not know
	 * it). Never the first, so the acquisition channel stays meaningful.
	 */
	enum gen_channel ch = (enum gen_channel) e->channel;
	if (!first && gen_chance(&c->r, 0.03)) {
		ch = NO_CHANNEL;
	}
	if (ch != NO_CHANNEL) {
		gen_out_str(o, ",\"channel\":\"");
		gen_out_str(o, gen_channel_names[ch]);
		gen_out_char(o, '"');
	}
	gen_out_str(o, ",\"occurredAtMs\":\"");
	gen_out_int(o, e->t);
	gen_out_char(o, '"');
	if (e->item != 0) {
		gen_out_str(o, ",\"itemId\":\"sku-");
		gen_out_uint(o, (uint64_t) e->item, 1);
		gen_out_char(o, '"');
	}
	if (e->value != 0) {
		gen_out_str(o, ",\"value\":");
		gen_out_fixed(o, e->value, 2);
		gen_out_str(o, ",\"currency\":\"USD\"");
	}
	if (e->duration_s != 0) {
		gen_out_str(o, ",\"durationS\":");
		gen_out_uint(o, e->duration_s, 1);
	}
	if (e->sentiment != 0) {
		gen_out_str(o, ",\"sentiment\":");
		gen_out_fixed(o, e->sentiment, 2);
	}
	if (e->located) {
		gen_out_str(o, ",\"location\":{\"lat\":");
		gen_out_fixed(o, e->lat, 5);
		gen_out_str(o, ",\"lon\":");
		gen_out_fixed(o, e->lon, 5);
		gen_out_char(o, '}');
	}
	if (e->campaign && ch != NO_CHANNEL) {
		char name[40];
		gen_campaign(gen_floor_div(e->t, GEN_DAY_MS), ch, name,
		        sizeof(name));
		if (name[0] != '\0') {
			gen_out_str(o, ",\"campaign\":\"");
			gen_out_str(o, name);
			gen_out_char(o, '"');
		}
	}
	switch ((enum gen_prop) e->prop) {
	case PROP_NONE:
		break;
	case PROP_PATH:
		gen_out_str(o, ",\"properties\":{\"path\":\"");
		gen_out_str(o, gen_paths[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_PRODUCT:
		gen_out_str(o, ",\"properties\":{\"path\":\"/products/sku-");
		gen_out_uint(o, (uint64_t) e->item, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_CONTENT:
		gen_out_str(o, ",\"properties\":{\"contentId\":\"post-");
		gen_out_uint(o, e->arg, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_ORDER:
		gen_out_str(o, ",\"properties\":{\"orderId\":\"o");
		gen_out_uint(o, c->idx, 6);
		gen_out_char(o, '-');
		gen_out_uint(o, e->arg, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_TOPIC:
		gen_out_str(o, ",\"properties\":{\"topic\":\"");
		gen_out_str(o, gen_topics[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_BILLING:
		gen_out_str(o, ",\"properties\":{\"reason\":\"");
		gen_out_str(o, gen_billing_reasons[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_STORE:
		gen_out_str(o, ",\"properties\":{\"storeId\":\"store-");
		gen_out_uint(o, e->arg, 1);
		gen_out_str(o, "\"}");
		break;
	case PROP_CANCEL:
		gen_out_str(o, ",\"properties\":{\"reason\":\"");
		gen_out_str(o, gen_cancel_reasons[e->arg]);
		gen_out_str(o, "\"}");
		break;
	case PROP_LIMIT:
		gen_out_str(o, ",\"properties\":{\"limit\":\"");
		gen_out_str(o, gen_limits[e->arg]);
		gen_out_str(o, "\"}");
		break;
	}
	gen_out_char(o, '}');
	gen_out_endline(o);
}

/* Generates customer idx and writes its touchpoints. */
void
gen_customer(
        struct gen *g, struct gen_cust *c, uint64_t idx, struct gen_out *o)
{
	memset(c, 0, offsetof(struct gen_cust, ev));
	c->g = g;
	c->idx = idx;
	gen_rng_init(&c->r, g->seed, STREAM_CUSTOMER, idx);
	gen_journey(c);
	gen_sort(c);
	bool bought = false;
	for (int i = 0; i < c->n; i++) {
		const struct gen_event *e = &c->ev[i];
		gen_write_event(g, c, o, e, i == 0);
		g->type_count[e->type]++;
		bought |= e->type == PURCHASE;
	}
	g->buyers += bought;
	if (c->n > 0) {
		if (g->min_t == 0 || c->ev[0].t < g->min_t) {
			g->min_t = c->ev[0].t;
		}
		if (c->ev[c->n - 1].t > g->max_t) {
			g->max_t = c->ev[c->n - 1].t;
		}
	}
}

void
gen_write_catalog(const struct gen *g, struct gen_out *o)
{
	for (uint32_t k = 1; k <= g->items; k++) {
		struct gen_item it;
		gen_item_get(g, k, &it);
		gen_out_str(o, "{\"itemId\":\"sku-");
		gen_out_uint(o, k, 1);
		gen_out_str(o, "\",\"name\":\"");
		gen_out_str(o, it.adjective);
		gen_out_char(o, ' ');
		gen_out_str(o, it.noun);
		gen_out_str(o, "\",\"category\":\"");
		gen_out_str(o, it.category);
		gen_out_str(o, "\",\"price\":");
		gen_out_fixed(o, it.price, 2);
		if (it.upgrade_to != 0) {
			gen_out_str(o, ",\"upgradeTo\":\"sku-");
			gen_out_uint(o, it.upgrade_to, 1);
			gen_out_char(o, '"');
		}
		gen_out_char(o, '}');
		gen_out_endline(o);
	}
	/* The stores that STORE_VISITs name, for GEO_OFFER. */
	for (int i = 0; i < GEN_N_CITIES; i++) {
		gen_out_str(o, "{\"storeId\":\"store-");
		gen_out_uint(o, (uint64_t) i + 1, 1);
		gen_out_str(o, "\",\"name\":\"");
		gen_out_str(o, gen_cities[i].name);
		gen_out_str(o, "\",\"location\":{\"lat\":");
		gen_out_fixed(o, gen_cities[i].lat, 5);
		gen_out_str(o, ",\"lon\":");
		gen_out_fixed(o, gen_cities[i].lon, 5);
		gen_out_str(o, "},\"radiusM\":500,\"discountPct\":");
		gen_out_uint(o, i % 2 == 0 ? 10 : 15, 1);
		gen_out_char(o, '}');
		gen_out_endline(o);
	}
}

/*
 * Daily spend per paid channel, in line with the traffic that channel
 * brings (gen_day_weight): a fixed daily budget plus a cost per acquired
 * customer, with noise, doubled for ads over Black Friday.
 */
void
gen_write_spend(const struct gen *g, struct gen_out *o)
{
	for (int64_t day = g->first_day; day <= g->last_day; day++) {
		double per_day = (double) g->customers * gen_day_weight(g, day)
		        / g->weight_sum;
		for (size_t i = 0; i < sizeof(gen_spend_channels)
		                / sizeof(gen_spend_channels[0]);
		        i++) {
			enum gen_channel ch = gen_spend_channels[i];
			struct gen_rng r;
			gen_rng_init(&r, g->seed, STREAM_SPEND,
			        (uint64_t) day * 16 + (uint64_t) ch);
			double cents;
			switch (ch) {
			case PAID_ADS:
				cents = 2500 + per_day * 0.28 * 450;
				break;
			case ORGANIC_SOCIAL:
				cents = 1000 + per_day * 0.14 * 0.4 * 300;
				break;
			default:
				cents = 1500 + per_day * 30;
				break;
			}
			if (ch != EMAIL && gen_black_friday(day)) {
				cents *= 2;
			}
			cents *= 0.8 + 0.4 * gen_unit(&r);
			char name[40];
			gen_campaign(day, ch, name, sizeof(name));
			gen_out_str(o, "{\"channel\":\"");
			gen_out_str(o, gen_channel_names[ch]);
			gen_out_str(o, "\",\"dayMs\":\"");
			gen_out_int(o, day * GEN_DAY_MS);
			gen_out_str(o, "\",\"amount\":");
			gen_out_fixed(o, (int64_t) cents, 2);
			gen_out_str(
			        o, ",\"currency\":\"USD\",\"campaign\":\"");
			gen_out_str(o, name);
			gen_out_str(o, "\"}");
			gen_out_endline(o);
		}
	}
}
