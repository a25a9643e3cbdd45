#include "server.h"

void
server_init(struct server *srv, const struct config *cfg, struct auth *auth,
        struct telemetry *tm, int64_t now_ms)
{
	*srv = (struct server) {
		.cfg = cfg,
		.auth = auth,
		.tm = tm,
		.started_ms = now_ms,
		.journal_desc = "local",
		.limits = {
			.max_id_bytes = (size_t) cfg->max_id_bytes,
			.max_properties = (size_t) cfg->max_properties,
			.max_property_key_bytes =
			        (size_t) cfg->max_property_key_bytes,
			.max_property_value_bytes =
			        (size_t) cfg->max_property_value_bytes,
		},
	};
	struct model_params *mp = &srv->params;
	model_params_default(mp);
	mp->at_risk_ms = cfg->at_risk_days * MODEL_DAY_MS;
	mp->churn_ms = cfg->churn_days * MODEL_DAY_MS;
	mp->billing_issue_ms = cfg->billing_issue_days * MODEL_DAY_MS;
	mp->support_ticket_ms = cfg->support_ticket_days * MODEL_DAY_MS;
	mp->support_tickets = (unsigned) cfg->support_tickets;
	mp->sentiment_window = (unsigned) cfg->sentiment_window;
	mp->negative_sentiment = cfg->negative_sentiment;
	mp->refund_ms = cfg->refund_days * MODEL_DAY_MS;
	mp->weight[MODEL_INACTIVE] = cfg->weight_inactive;
	mp->weight[MODEL_RECENT_BILLING_ISSUE] = cfg->weight_billing_issue;
	mp->weight[MODEL_SUPPORT_TICKETS] = cfg->weight_support_tickets;
	mp->weight[MODEL_NEGATIVE_SENTIMENT] = cfg->weight_negative_sentiment;
	mp->weight[MODEL_RECENT_REFUND] = cfg->weight_recent_refund;
	mp->weight[MODEL_SLOW_ONBOARDING] = cfg->weight_slow_onboarding;
	mp->weight[MODEL_SUBSCRIPTION_CANCELLED] = cfg->weight_cancelled;
}
