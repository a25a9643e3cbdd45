/*
 * The journey workload's parts (docs/journeys.md): ten journeys of varied
 * triggers, conditions and waits, defined between two track-batch runs so
 * the cost of noting triggers and entering customers at write time is
 * the ratio of the two; and the firing rate: every customer entered into
 * one more journey by a PURCHASE, its step an hour later, then clmd's
 * test clock moved past that hour so all of them are due at once, and
 * the steps counted as they run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "clm/client.h"

/*
 * The ten: bench-jny-00 .. bench-jny-09. Triggers on the types
 * track-batch writes (page views, visits, carts, purchases) enter its
 * customers; every wait is a day or more, so none runs in the bench and
 * the test clock's hour does not reach them.
 */
static const char *const bench_jny_defs[BENCH_JOURNEYS] = {
	"{\"name\": \"bench-jny-00\", \"trigger\": {\"event\": \"ADD_TO_CART\"},"
	" \"exit\": \"count(PURCHASE, since_entry) >= 1\", \"steps\": ["
	"{\"wait\": \"2d\", \"send\": {\"kind\": \"CART_REMINDER\", \"action\": \"cart_reminder\", \"channel\": \"EMAIL\"}},"
	"{\"wait\": \"1d\", \"if\": \"count(EMAIL_OPEN, since_entry) = 0\","
	" \"send\": {\"kind\": \"CART_REMINDER\", \"action\": \"cart_followup\", \"channel\": \"SMS\"}, \"when_capped\": \"skip\"}]}",
	"{\"name\": \"bench-jny-01\", \"trigger\": {\"event\": \"PAGE_VIEW\"}, \"reentry\": \"30d\","
	" \"exit\": \"count(ADD_TO_CART, since_entry) >= 1\", \"steps\": ["
	"{\"wait\": \"2d\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"browse_nudge\", \"channel\": \"APP_NOTIFICATION\"}}]}",
	"{\"name\": \"bench-jny-02\", \"trigger\": {\"event\": \"SITE_VISIT\"}, \"reentry\": \"once\", \"steps\": ["
	"{\"wait\": \"3d\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"welcome\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-03\", \"trigger\": {\"event\": \"PURCHASE\"}, \"reentry\": \"once\", \"steps\": ["
	"{\"wait\": \"2d\", \"send\": {\"kind\": \"LOYALTY_REWARD\", \"action\": \"thank_you\", \"channel\": \"EMAIL\"}},"
	"{\"wait\": \"7d\", \"if\": \"referrals = 0\","
	" \"send\": {\"kind\": \"REFERRAL_INCENTIVE\", \"action\": \"referral_ask\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-04\", \"trigger\": {\"event\": \"PURCHASE\"}, \"exit\": \"referrals >= 1\", \"steps\": ["
	"{\"wait\": \"1d\", \"if\": \"purchases >= 3\","
	" \"send\": {\"kind\": \"REFERRAL_INCENTIVE\", \"action\": \"referral_ask\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-05\", \"trigger\": {\"segment\": \"bench-jny-quiet\"}, \"reentry\": \"90d\","
	" \"exit\": \"count(PURCHASE, since_entry) >= 1\", \"steps\": ["
	"{\"wait\": \"1d\", \"send\": {\"kind\": \"WIN_BACK\", \"action\": \"we_miss_you\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-06\", \"trigger\": {\"risk\": \"RECENT_BILLING_ISSUE\"}, \"reentry\": \"7d\", \"steps\": ["
	"{\"wait\": \"1d\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"update_payment\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-07\", \"trigger\": {\"stage\": \"RETENTION\"}, \"steps\": ["
	"{\"wait\": \"2d\", \"send\": {\"kind\": \"UPSELL\", \"action\": \"upgrade\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-08\", \"trigger\": {\"event\": \"CUSTOM\", \"name\": \"trial_started\"}, \"steps\": ["
	"{\"wait\": \"1d\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"trial_tips\", \"channel\": \"EMAIL\"}}]}",
	"{\"name\": \"bench-jny-09\", \"trigger\": {\"event\": \"SIGNUP\"}, \"steps\": ["
	"{\"wait\": \"2d\", \"send\": {\"kind\": \"NEXT_BEST_ACTION\", \"action\": \"onboarding\", \"channel\": \"EMAIL\"}},"
	"{\"wait\": \"5d\", \"send\": {\"kind\": \"FEEDBACK_REQUEST\", \"action\": \"how_is_it\", \"channel\": \"EMAIL\"}}]}",
};

/* The journey of the firing rate: a PURCHASE, an hour, one message. */
#define BENCH_JNY_FIRE "bench-jny-fire"
static const char bench_jny_fire_def[]
        = "{\"name\": \"" BENCH_JNY_FIRE
          "\", \"trigger\": {\"event\": \"PURCHASE\"},"
          " \"steps\": [{\"wait\": \"1h\", \"send\": {\"kind\": \"LOYALTY_REWARD\","
          " \"action\": \"bench_fire\", \"channel\": \"EMAIL\"}, \"when_capped\": \"skip\"}]}";
#define BENCH_JNY_HOUR_MS 3600000LL

/* How long the firing may take before the bench gives up. */
#define BENCH_JNY_WAIT_S 1800.0

/* Defines the journey def on c. Returns 0, or -1 (said on stderr). */
static int
bench_journey_put(clm_conn *c, const char *def)
{
	Clm__V1__DefineJourneyRequest q
	        = CLM__V1__DEFINE_JOURNEY_REQUEST__INIT;
	q.definition = (char *) def;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_define_journey(c, &q, &resp);
	clm_response_free(resp);
	if (e != CLM_OK) {
		fprintf(stderr, "clm-bench: cannot define journey %.40s: %s\n",
		        def, clm_last_error(c));
		return -1;
	}
	return 0;
}

int
bench_journeys_define(const char *url)
{
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		fprintf(stderr, "clm-bench: %s\n", clm_open_error());
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < BENCH_JOURNEYS && rc == 0; i++) {
		rc = bench_journey_put(c, bench_jny_defs[i]);
	}
	clm_close(c);
	return rc;
}

void
bench_journeys_clear(const char *url)
{
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		return;
	}
	char name[32];
	for (int i = 0; i <= BENCH_JOURNEYS; i++) {
		Clm__V1__DeleteJourneyRequest q
		        = CLM__V1__DELETE_JOURNEY_REQUEST__INIT;
		if (i == BENCH_JOURNEYS) {
			snprintf(name, sizeof(name), "%s", BENCH_JNY_FIRE);
		} else {
			snprintf(name, sizeof(name), "bench-jny-%02d", i);
		}
		q.name = name;
		Clm__V1__Response *resp = NULL;
		clm_delete_journey(c, &q, &resp);
		clm_response_free(resp);
	}
	clm_close(c);
}

/*
 * The statistics of the fire journey: its customers in it (*active) and
 * its step's runs (*fired: sent or skipped). Returns 0, or -1 (said on
 * stderr).
 */
static int
bench_fire_stats(
        clm_conn *c, uint64_t *active, uint64_t *fired, uint64_t *sent)
{
	Clm__V1__GetJourneyRequest q = CLM__V1__GET_JOURNEY_REQUEST__INIT;
	q.name = BENCH_JNY_FIRE;
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_get_journey(c, &q, &resp);
	if (e != CLM_OK || resp->get_journey == NULL
	        || resp->get_journey->journey == NULL) {
		fprintf(stderr, "clm-bench: cannot read journey %s: %s\n",
		        BENCH_JNY_FIRE, clm_last_error(c));
		clm_response_free(resp);
		return -1;
	}
	const Clm__V1__JourneyStats *s = resp->get_journey->journey->stats;
	*active = *fired = *sent = 0;
	if (s != NULL) {
		*active = s->active;
		for (size_t i = 0; i < s->n_steps; i++) {
			const Clm__V1__JourneyStepStats *st = s->steps[i];
			*fired += st->sent + st->skipped_condition
			        + st->skipped_capped + st->skipped_late;
			*sent += st->sent;
		}
	}
	clm_response_free(resp);
	return 0;
}

/*
 * Tracks one PURCHASE now for each of the customers bench-0 .. on c, in
 * calls of 1,000. Returns 0, or -1 (said on stderr).
 */
static int
bench_fire_enter(clm_conn *c, int customers)
{
	enum { BATCH = 1000 };
	Clm__V1__Touchpoint *tps = calloc(BATCH, sizeof(*tps));
	Clm__V1__Touchpoint **ptr = calloc(BATCH, sizeof(*ptr));
	char(*ids)[2][40] = calloc(BATCH, sizeof(*ids));
	int rc = tps != NULL && ptr != NULL && ids != NULL ? 0 : -1;
	for (int i = 0; i < customers && rc == 0;) {
		size_t n = 0;
		for (; n < BATCH && i < customers; n++, i++) {
			Clm__V1__Touchpoint *tp = &tps[n];
			clm__v1__touchpoint__init(tp);
			snprintf(ids[n][0], 40, "bench-%d", i);
			snprintf(ids[n][1], 40, "bench-jny-fire-%d", i);
			tp->customer_id = ids[n][0];
			tp->event_id = ids[n][1];
			tp->type = CLM__V1__TOUCHPOINT_TYPE__PURCHASE;
			tp->channel = CLM__V1__CHANNEL__EMAIL;
			tp->item_id = "sku-1";
			tp->value = 20;
			ptr[n] = tp;
		}
		Clm__V1__Response *resp = NULL;
		if (clm_track(c, ptr, n, &resp) != CLM_OK) {
			fprintf(stderr, "clm-bench: track: %s\n",
			        clm_last_error(c));
			rc = -1;
		}
		clm_response_free(resp);
	}
	if (tps == NULL || ptr == NULL || ids == NULL) {
		fprintf(stderr, "clm-bench: out of memory\n");
	}
	free(tps);
	free(ptr);
	free(ids);
	return rc;
}

/* Writes ms into the test clock file path (a new file renamed over). */
static int
bench_clock_set(const char *path, long long ms)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		perror("clm-bench: test clock");
		return -1;
	}
	fprintf(f, "%lld\n", ms);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		perror("clm-bench: test clock");
		return -1;
	}
	return 0;
}

int
bench_journey_fire(const char *url, const char *clock_file, int customers,
        pid_t clmd, struct bench_fire *out)
{
	memset(out, 0, sizeof(*out));
	clm_conn *c;
	if (clm_open(url, 60000, &c) != CLM_OK) {
		fprintf(stderr, "clm-bench: %s\n", clm_open_error());
		return -1;
	}
	int rc = bench_journey_put(c, bench_jny_fire_def);
	double t0 = bench_now();
	if (rc == 0) {
		rc = bench_fire_enter(c, customers);
	}
	out->enter_s = bench_now() - t0;
	uint64_t active = 0, fired = 0, sent = 0;
	if (rc == 0) {
		rc = bench_fire_stats(c, &active, &fired, &sent);
	}
	out->active = active;
	if (rc == 0 && active == 0) {
		fprintf(stderr, "clm-bench: nobody entered %s\n",
		        BENCH_JNY_FIRE);
		rc = -1;
	}
	/* Everyone due at once: an hour and a second later. */
	if (rc == 0) {
		rc = bench_clock_set(clock_file, BENCH_JNY_HOUR_MS + 1000);
	}
	t0 = bench_now();
	double cpu0 = clmd > 0 ? bench_cpu(clmd) : 0;
	double first = 0, last_t = t0, last_n = 0;
	/* active falls as customers complete: the target is the first. */
	while (rc == 0 && fired < out->active) {
		if (bench_now() - t0 > BENCH_JNY_WAIT_S) {
			fprintf(stderr,
			        "clm-bench: %llu of %llu steps ran in %.0f s\n",
			        (unsigned long long) fired,
			        (unsigned long long) out->active,
			        BENCH_JNY_WAIT_S);
			rc = -1;
			break;
		}
		bench_sleep(0.05);
		rc = bench_fire_stats(c, &active, &fired, &sent);
		double now = bench_now();
		if (fired > 0 && first == 0) {
			first = now - t0;
		}
		/* The best second: the rate once firing is under way. */
		if (now - last_t >= 1.0) {
			double r = ((double) fired - last_n) / (now - last_t);
			out->peak_s = r > out->peak_s ? r : out->peak_s;
			last_t = now;
			last_n = (double) fired;
		}
	}
	out->fire_s = bench_now() - t0;
	out->cpu_s = clmd > 0 ? bench_cpu(clmd) - cpu0 : 0;
	out->first_s = first;
	out->fired = fired;
	out->sent = sent;
	clm_close(c);
	return rc;
}
