#include "store/record.h"

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
	strncpy(p->last_item, r->last_item, MODEL_ITEM_MAX);
	p->last_item[MODEL_ITEM_MAX] = '\0';
	p->last_item_ms = r->last_item_ms;
	p->last_item_seq = r->last_item_seq;
	p->last_usage_limit_ms = r->last_usage_limit_ms;
	p->last_feedback_ms = r->last_feedback_ms;
	p->last_email_open_ms = r->last_email_open_ms;
	for (size_t i = 0; i < r->n_email_open_ms && i < MODEL_OPENS_MAX;
	        i++) {
		p->email_open_ms[p->n_email_opens++] = r->email_open_ms[i];
	}
	for (size_t i = 0; i < r->n_messages; i++) {
		const Clm__V1__MessageEntry *m = r->messages[i];
		int ch = (int) m->channel;
		if (ch < 0 || ch >= MODEL_N_CHANNELS
		        || p->n_messages[ch] == MODEL_MSG_PER_CHANNEL) {
			continue;
		}
		/* Stored latest first per channel, so order is kept. */
		struct model_message *mm
		        = &p->messages[ch][p->n_messages[ch]++];
		mm->at_ms = m->at_ms;
		mm->seq = m->seq;
		mm->kind = (int) m->kind;
	}
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
	r->last_item = arena_strdup(a, p->last_item);
	if (r->last_item == NULL) {
		return -1;
	}
	r->last_item_ms = p->last_item_ms;
	r->last_item_seq = p->last_item_seq;
	r->last_usage_limit_ms = p->last_usage_limit_ms;
	r->last_feedback_ms = p->last_feedback_ms;
	r->last_email_open_ms = p->last_email_open_ms;
	r->n_email_open_ms = p->n_email_opens;
	r->email_open_ms = NULL;
	if (p->n_email_opens > 0) {
		r->email_open_ms
		        = arena_alloc(a, p->n_email_opens * sizeof(int64_t));
		if (r->email_open_ms == NULL) {
			return -1;
		}
		memcpy(r->email_open_ms, p->email_open_ms,
		        p->n_email_opens * sizeof(int64_t));
	}
	size_t nm = 0;
	for (int ch = 0; ch < MODEL_N_CHANNELS; ch++) {
		nm += p->n_messages[ch];
	}
	r->n_messages = 0;
	r->messages = NULL;
	if (nm > 0) {
		r->messages = arena_alloc(a, nm * sizeof(*r->messages));
		Clm__V1__MessageEntry *me = arena_alloc(a, nm * sizeof(*me));
		if (r->messages == NULL || me == NULL) {
			return -1;
		}
		for (int ch = 0; ch < MODEL_N_CHANNELS; ch++) {
			for (size_t i = 0; i < p->n_messages[ch]; i++) {
				Clm__V1__MessageEntry *e = &me[r->n_messages];
				clm__v1__message_entry__init(e);
				e->channel = (Clm__V1__Channel) ch;
				e->kind = (Clm__V1__RecommendationKind) p
				                  ->messages[ch][i]
				                  .kind;
				e->at_ms = p->messages[ch][i].at_ms;
				e->seq = p->messages[ch][i].seq;
				r->messages[r->n_messages++] = e;
			}
		}
	}
	return 0;
}
