#include "record.h"

#include <string.h>

void
record_to_profile(const Clm__V1__CustomerRecord *r, struct model_profile *p)
{
	model_profile_init(p);
	p->purchases = r->purchases;
	p->refunds = r->refunds;
	p->referrals = r->referrals;
	p->purchase_micros = r->purchase_micros;
	p->refund_micros = r->refund_micros;
	p->first_seen_ms = r->first_seen_ms;
	p->last_seen_ms = r->last_seen_ms;
	p->first_seen_seq = r->first_seen_seq;
	p->first_purchase_ms = r->first_purchase_ms;
	p->first_purchase_seq = r->first_purchase_seq;
	p->second_purchase_ms = r->second_purchase_ms;
	p->last_purchase_ms = r->last_purchase_ms;
	p->first_referral_ms = r->first_referral_ms;
	p->last_engaged_ms = r->last_engaged_ms;
	p->engaged_after_purchase_ms = r->engaged_after_purchase_ms;
	p->acquisition_channel = (int) r->acquisition_channel;
	p->conversion_channel = (int) r->conversion_channel;
	for (size_t i = 0; i < r->n_touch_counts && i < MODEL_N_TYPES; i++) {
		p->touch_counts[i] = r->touch_counts[i];
	}
	for (size_t i = 0; i < r->n_cart && p->n_cart < MODEL_CART_MAX; i++) {
		struct model_cart_entry *e = &p->cart[p->n_cart++];
		strncpy(e->item_id, r->cart[i]->item_id, MODEL_ITEM_MAX);
		e->item_id[MODEL_ITEM_MAX] = '\0';
		e->added_ms = r->cart[i]->added_ms;
		e->removed_ms = r->cart[i]->removed_ms;
	}
	p->cart_cleared_ms = r->cart_cleared_ms;
	p->last_add_to_cart_ms = r->last_add_to_cart_ms;
	p->last_billing_issue_ms = r->last_billing_issue_ms;
	for (size_t i = 0; i < r->n_ticket_ms && i < MODEL_TICKETS_MAX; i++) {
		p->ticket_ms[p->n_tickets++] = r->ticket_ms[i];
	}
	for (size_t i = 0; i < r->n_sentiments && i < MODEL_SENTIMENTS_MAX;
	        i++) {
		struct model_sentiment *s = &p->sentiments[p->n_sentiments++];
		s->at_ms = r->sentiments[i]->at_ms;
		s->seq = r->sentiments[i]->seq;
		s->value = r->sentiments[i]->value;
	}
	p->last_refund_ms = r->last_refund_ms;
	p->last_cancellation_ms = r->last_cancellation_ms;
	p->first_signup_ms = r->first_signup_ms;
	p->first_onboarding_ms = r->first_onboarding_ms;
}

int
record_from_profile(
        const struct model_profile *p, Clm__V1__CustomerRecord *r, arena *a)
{
	r->purchases = p->purchases;
	r->refunds = p->refunds;
	r->referrals = p->referrals;
	r->purchase_micros = p->purchase_micros;
	r->refund_micros = p->refund_micros;
	r->first_seen_ms = p->first_seen_ms;
	r->last_seen_ms = p->last_seen_ms;
	r->first_seen_seq = p->first_seen_seq;
	r->first_purchase_ms = p->first_purchase_ms;
	r->first_purchase_seq = p->first_purchase_seq;
	r->second_purchase_ms = p->second_purchase_ms;
	r->last_purchase_ms = p->last_purchase_ms;
	r->first_referral_ms = p->first_referral_ms;
	r->last_engaged_ms = p->last_engaged_ms;
	r->engaged_after_purchase_ms = p->engaged_after_purchase_ms;
	r->acquisition_channel = (Clm__V1__Channel) p->acquisition_channel;
	r->conversion_channel = (Clm__V1__Channel) p->conversion_channel;
	/* Trailing zero counts need not be stored. */
	size_t n = MODEL_N_TYPES;
	while (n > 0 && p->touch_counts[n - 1] == 0) {
		n--;
	}
	r->n_touch_counts = n;
	r->touch_counts = NULL;
	if (n > 0) {
		r->touch_counts = arena_alloc(a, n * sizeof(uint64_t));
		if (r->touch_counts == NULL) {
			return -1;
		}
		memcpy(r->touch_counts, p->touch_counts, n * sizeof(uint64_t));
	}
	r->n_cart = p->n_cart;
	r->cart = NULL;
	if (p->n_cart > 0) {
		r->cart = arena_alloc(a, p->n_cart * sizeof(*r->cart));
		Clm__V1__CartEntry *ents
		        = arena_alloc(a, p->n_cart * sizeof(*ents));
		if (r->cart == NULL || ents == NULL) {
			return -1;
		}
		for (size_t i = 0; i < p->n_cart; i++) {
			clm__v1__cart_entry__init(&ents[i]);
			ents[i].item_id = arena_strdup(a, p->cart[i].item_id);
			if (ents[i].item_id == NULL) {
				return -1;
			}
			ents[i].added_ms = p->cart[i].added_ms;
			ents[i].removed_ms = p->cart[i].removed_ms;
			r->cart[i] = &ents[i];
		}
	}
	r->cart_cleared_ms = p->cart_cleared_ms;
	r->last_add_to_cart_ms = p->last_add_to_cart_ms;
	r->last_billing_issue_ms = p->last_billing_issue_ms;
	r->n_ticket_ms = p->n_tickets;
	r->ticket_ms = NULL;
	if (p->n_tickets > 0) {
		r->ticket_ms = arena_alloc(a, p->n_tickets * sizeof(int64_t));
		if (r->ticket_ms == NULL) {
			return -1;
		}
		memcpy(r->ticket_ms, p->ticket_ms,
		        p->n_tickets * sizeof(int64_t));
	}
	r->n_sentiments = p->n_sentiments;
	r->sentiments = NULL;
	if (p->n_sentiments > 0) {
		r->sentiments = arena_alloc(
		        a, p->n_sentiments * sizeof(*r->sentiments));
		Clm__V1__SentimentEntry *se
		        = arena_alloc(a, p->n_sentiments * sizeof(*se));
		if (r->sentiments == NULL || se == NULL) {
			return -1;
		}
		for (size_t i = 0; i < p->n_sentiments; i++) {
			clm__v1__sentiment_entry__init(&se[i]);
			se[i].at_ms = p->sentiments[i].at_ms;
			se[i].seq = p->sentiments[i].seq;
			se[i].value = p->sentiments[i].value;
			r->sentiments[i] = &se[i];
		}
	}
	r->last_refund_ms = p->last_refund_ms;
	r->last_cancellation_ms = p->last_cancellation_ms;
	r->first_signup_ms = p->first_signup_ms;
	r->first_onboarding_ms = p->first_onboarding_ms;
	return 0;
}
