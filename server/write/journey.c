/*
 * The writer's journeys (write/journey.h): definitions, entries, exits at
 * writes, timers, ForgetCustomer and the collection of due timers. The
 * steps themselves run in journey_run.c (jw_fire).
 *
 * A customer's place in a journey is its CustomerRecord's JourneyState;
 * an active state has exactly one timer in `jny_due`, at due_ms: the
 * earlier of step_due_ms (its next step) and the instant its exit may
 * become true with time alone. Counters move in the same transaction as
 * the state they count.
 */
#include "write/journey_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/risk.h"
#include "store/segment.h"
#include "util/log.h"

struct jw *
jw_new(const struct model_params *mp)
{
	struct jw *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		return NULL;
	}
	w->mp = *mp;
	w->stale = true;
	w->next_ms = INT64_MAX;
	arena_init(&w->a);
	arena_init(&w->ev);
	arena_init(&w->fa);
	return w;
}

static void
jw_clear(struct jw *w)
{
	for (size_t i = 0; i < w->n; i++) {
		jny_free(w->defs[i].d);
	}
	free(w->defs);
	w->defs = NULL;
	w->n = 0;
	w->types = 0;
	w->stage = w->risk = w->segment = false;
}

void
jw_free(struct jw *w)
{
	if (w == NULL) {
		return;
	}
	jw_clear(w);
	arena_fini(&w->a);
	arena_fini(&w->ev);
	arena_fini(&w->fa);
	free(w);
}

void
jw_invalidate(struct jw *w)
{
	if (w != NULL) {
		w->stale = true;
	}
}

int64_t
jw_take_next(struct jw *w)
{
	if (w == NULL) {
		return INT64_MAX;
	}
	int64_t t = w->next_ms;
	w->next_ms = INT64_MAX;
	return t;
}

struct jw_loading {
	struct jw *w;
	size_t cap;
	clm_err err;
};

/* Widens jd's needs by those of x. */
static void
jw_needs(struct jw_def *jd, const segx *x)
{
	if (x == NULL) {
		return;
	}
	struct segx_needs n;
	segx_needs(x, &n);
	if (n.counts && n.max_window_ms > jd->window_ms) {
		jd->window_ms = n.max_window_ms;
	}
	jd->onboarding = jd->onboarding || n.onboarding;
}

static int
jw_load_fn(void *arg, Clm__V1__JourneyRecord *rec)
{
	struct jw_loading *l = arg;
	struct jw *w = l->w;
	if (w->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct jw_def *v = realloc(w->defs, cap * sizeof(*v));
		if (v == NULL) {
			l->err = CLM_RESOURCE_EXHAUSTED;
			return 1;
		}
		w->defs = v;
		l->cap = cap;
	}
	struct jw_def *jd = &w->defs[w->n];
	memset(jd, 0, sizeof(*jd));
	struct jny_error perr;
	clm_err e = jny_parse(
	        rec->definition, strlen(rec->definition), &jd->d, &perr);
	if (e == CLM_INVALID_ARGUMENT) {
		/* Checked when defined: only a change of language gets here.
		 */
		log_error(
		        "journey '%s': stored definition does not parse: %s; it runs nothing",
		        rec->name, perr.msg);
		return 0;
	}
	if (e != CLM_OK) {
		l->err = e;
		return 1;
	}
	jd->id = rec->id;
	const struct jny_def *d = jd->d;
	jw_needs(jd, d->exit);
	for (size_t k = 0; k < d->n_steps; k++) {
		jw_needs(jd, d->steps[k].cond);
	}
	if (d->trigger == JNY_TRIGGER_EVENT && d->value > 0 && d->value < 64) {
		w->types |= (uint64_t) 1 << d->value;
	}
	w->stage = w->stage || d->trigger == JNY_TRIGGER_STAGE;
	w->risk = w->risk || d->trigger == JNY_TRIGGER_RISK;
	w->segment = w->segment || d->trigger == JNY_TRIGGER_SEGMENT;
	w->n++;
	return 0;
}

static int
jw_by_id(const void *x, const void *y)
{
	const struct jw_def *a = x, *b = y;
	return a->id < b->id ? -1 : a->id > b->id;
}

clm_err
jw_load(struct jw *w, store_txn *txn)
{
	if (!w->stale) {
		return CLM_OK;
	}
	jw_clear(w);
	struct jw_loading l = { w, 0, CLM_OK };
	arena_reset(&w->a);
	clm_err e = store_journeys_each(txn, &w->a, jw_load_fn, &l);
	arena_reset(&w->a);
	if (e == CLM_OK) {
		e = l.err;
	}
	if (e != CLM_OK) {
		jw_clear(w);
		return e;
	}
	if (w->n > 0) {
		qsort(w->defs, w->n, sizeof(*w->defs), jw_by_id);
	}
	w->stale = false;
	return CLM_OK;
}

const struct jw_def *
jw_def(const struct jw *w, uint32_t id)
{
	size_t lo = 0, hi = w->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->defs[mid].id == id) {
			return &w->defs[mid];
		}
		if (w->defs[mid].id < id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

Clm__V1__JourneyState *
jw_state(const Clm__V1__CustomerRecord *rec, uint32_t id)
{
	for (size_t i = 0; i < rec->n_journeys; i++) {
		if (rec->journeys[i]->journey == id) {
			return rec->journeys[i];
		}
	}
	return NULL;
}

clm_err
jw_cond(struct jw *w, store_txn *txn, const struct jw_def *jd, const segx *x,
        const Clm__V1__CustomerRecord *rec, const struct model_profile *p,
        const struct model_params *mp, int64_t entry_ms, int64_t now_ms,
        bool *holds, int64_t *next_ms)
{
	*holds = false;
	*next_ms = INT64_MAX;
	if (x == NULL) {
		return CLM_OK;
	}
	struct risk_onboarding onb = { 0 };
	if (jd->onboarding) {
		clm_err e = store_onboarding_median(
		        txn, &onb.known, &onb.twice_median_ms);
		if (e != CLM_OK) {
			return e;
		}
	}
	arena_reset(&w->ev);
	struct segment_eval ev;
	segment_eval_init(&ev, txn, rec, &w->ev, jd->window_ms);
	ev.entry_ms = entry_ms;
	return segment_eval(&ev, x, p, mp, jd->onboarding ? &onb : NULL,
	        now_ms, holds, next_ms);
}

clm_err
jw_timer(struct jw *w, store_txn *txn, const char *customer_id,
        Clm__V1__JourneyState *st, int64_t due_ms)
{
	if (st->due_ms == due_ms) {
		return CLM_OK;
	}
	clm_err e = CLM_OK;
	if (st->due_ms != 0) {
		e = store_jdue_del(txn, st->due_ms, st->journey, customer_id);
	}
	if (e == CLM_OK && due_ms != 0) {
		e = store_jdue_put(txn, due_ms, st->journey, customer_id);
		w->next_ms = jw_min(w->next_ms, due_ms);
	}
	st->due_ms = due_ms;
	return e;
}

clm_err
jw_note(struct jw *w, struct writer_batch *b, struct profile *pr,
        const Clm__V1__Touchpoint *tp, int64_t at_ms, arena *a)
{
	if (w == NULL || pr->rec->anonymous) {
		return CLM_OK;
	}
	clm_err e = jw_load(w, b->txn);
	if (e != CLM_OK) {
		return e;
	}
	int type = (int) tp->type;
	if (type <= 0 || type >= 64 || !((w->types >> type) & 1)) {
		return CLM_OK;
	}
	/*
	 * A journey's own messages trigger no journey (docs/journeys.md
	 * "Triggers"): a MESSAGE_SENT journey would otherwise enter again
	 * from the message of its last step, for ever.
	 */
	if (type == CLM__V1__TOUCHPOINT_TYPE__MESSAGE_SENT
	        && strncmp(tp->event_id, "jny:", 4) == 0) {
		return CLM_OK;
	}
	for (size_t i = 0; i < w->n; i++) {
		const struct jny_def *d = w->defs[i].d;
		if (d->trigger != JNY_TRIGGER_EVENT || d->value != type
		        || at_ms < b->now_ms - d->max_lateness_ms) {
			continue;
		}
		if (d->trigger_name != NULL
		        && strcmp(d->trigger_name, tp->event_name) != 0) {
			continue;
		}
		struct profile_trigger *v = arena_grow(a, pr->jny_pending,
		        pr->n_jny_pending, &pr->cap_jny_pending, sizeof(*v));
		if (v == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		pr->jny_pending = v;
		const char *item = arena_strdup(a, tp->item_id);
		if (item == NULL) {
			return CLM_RESOURCE_EXHAUSTED;
		}
		v[pr->n_jny_pending++]
		        = (struct profile_trigger) { w->defs[i].id, at_ms,
			          item };
	}
	return CLM_OK;
}

/* Adds a state for journey id to rec (arena a). */
static Clm__V1__JourneyState *
jw_state_add(Clm__V1__CustomerRecord *rec, uint32_t id, arena *a)
{
	Clm__V1__JourneyState **v
	        = arena_alloc(a, (rec->n_journeys + 1) * sizeof(*v));
	Clm__V1__JourneyState *st = arena_alloc(a, sizeof(*st));
	if (v == NULL || st == NULL) {
		return NULL;
	}
	clm__v1__journey_state__init(st);
	st->journey = id;
	if (rec->n_journeys > 0) {
		memcpy(v, rec->journeys, rec->n_journeys * sizeof(*v));
	}
	v[rec->n_journeys++] = st;
	rec->journeys = v;
	return st;
}

/*
 * Enters the customer of pr into jd at at_ms with item, unless the
 * reentry rule or the exit at the entry says no. *dirty when it did.
 */
static clm_err
jw_enter(struct jw *w, struct writer_batch *b, struct profile *pr,
        const struct jw_def *jd, int64_t at_ms, const char *item, arena *a,
        bool *dirty)
{
	const struct jny_def *d = jd->d;
	Clm__V1__CustomerRecord *rec = pr->rec;
	Clm__V1__JourneyState *st = jw_state(rec, jd->id);
	if (st != NULL && st->active) {
		return CLM_OK; /* nothing restarts */
	}
	if (st != NULL && st->entries > 0) {
		/* The same entry derived again, or an older one: nothing. */
		if (at_ms <= st->entered_ms
		        || d->reentry == JNY_REENTRY_ONCE) {
			return CLM_OK;
		}
		if (d->reentry == JNY_REENTRY_AFTER
		        && at_ms - st->entered_ms < d->reentry_ms) {
			return CLM_OK;
		}
	}
	int64_t now = b->now_ms > at_ms ? b->now_ms : at_ms;
	bool holds;
	int64_t next;
	clm_err e = jw_cond(w, b->txn, jd, d->exit, rec, &pr->p, &w->mp, at_ms,
	        now, &holds, &next);
	if (e != CLM_OK || holds) {
		return e;
	}
	if (st == NULL && (st = jw_state_add(rec, jd->id, a)) == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	char *it = arena_strdup(a, item != NULL ? item : "");
	if (it == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	st->active = true;
	st->entered_ms = at_ms;
	st->step = 0;
	st->entries++;
	st->item = it;
	st->step_due_ms = at_ms + d->steps[0].wait_ms;
	st->due_ms = 0;
	*dirty = true;
	e = jw_timer(w, b->txn, rec->customer_id, st,
	        jw_min(st->step_due_ms, next));
	if (e == CLM_OK) {
		e = store_jstat_add(b->txn, jd->id, STORE_JSTAT_ENTERED, 0, 1);
	}
	if (e == CLM_OK) {
		e = store_jstat_add(b->txn, jd->id, STORE_JSTAT_ACTIVE, 0, 1);
	}
	if (e == CLM_OK) {
		e = store_jstat_add(b->txn, jd->id, STORE_JSTAT_WAITING, 0, 1);
	}
	return e;
}

/* Whether ev (of the customer) triggers d, and its instant. */
static bool
jw_triggers(const struct jny_def *d, const Clm__V1__LifecycleEvent *ev)
{
	switch (ev->kind) {
	case CLM__V1__LIFECYCLE_EVENT_KIND__STAGE_CHANGED:
		return d->trigger == JNY_TRIGGER_STAGE
		        && d->value == (int) ev->to_stage;
	case CLM__V1__LIFECYCLE_EVENT_KIND__RISK_SIGNAL:
		return d->trigger == JNY_TRIGGER_RISK
		        && d->value == (int) ev->reason;
	case CLM__V1__LIFECYCLE_EVENT_KIND__SEGMENT_ENTERED:
		return d->trigger == JNY_TRIGGER_SEGMENT
		        && d->trigger_name != NULL
		        && strcmp(d->trigger_name, ev->segment) == 0;
	default:
		return false;
	}
}

clm_err
jw_exit_state(struct jw *w, store_txn *txn, const char *customer_id,
        const struct jw_def *jd, Clm__V1__JourneyState *st)
{
	st->active = false;
	clm_err e = jw_timer(w, txn, customer_id, st, 0);
	if (e == CLM_OK) {
		e = store_jstat_add(txn, jd->id, STORE_JSTAT_ACTIVE, 0, -1);
	}
	if (e == CLM_OK) {
		e = store_jstat_add(txn, jd->id, STORE_JSTAT_EXITED, 0, 1);
	}
	if (e == CLM_OK) {
		e = store_jstat_add(
		        txn, jd->id, STORE_JSTAT_WAITING, st->step, -1);
	}
	return e;
}

/*
 * Checks the exits of the journeys rec is active in at b->now_ms, moving
 * their timers to when the exit may change by time alone.
 */
static clm_err
jw_exits(struct jw *w, struct writer_batch *b, struct profile *pr, bool *dirty)
{
	Clm__V1__CustomerRecord *rec = pr->rec;
	for (size_t i = 0; i < rec->n_journeys; i++) {
		Clm__V1__JourneyState *st = rec->journeys[i];
		const struct jw_def *jd = jw_def(w, st->journey);
		if (!st->active || jd == NULL || jd->d->exit == NULL) {
			continue;
		}
		bool holds;
		int64_t next;
		clm_err e = jw_cond(w, b->txn, jd, jd->d->exit, rec, &pr->p,
		        &w->mp, st->entered_ms, b->now_ms, &holds, &next);
		if (e == CLM_OK && holds) {
			e = jw_exit_state(w, b->txn, rec->customer_id, jd, st);
			*dirty = true;
		} else if (e == CLM_OK) {
			int64_t due = jw_min(st->step_due_ms, next);
			*dirty = *dirty || due != st->due_ms;
			e = jw_timer(w, b->txn, rec->customer_id, st, due);
		}
		if (e != CLM_OK) {
			return e;
		}
	}
	return CLM_OK;
}

/* Drops rec's states of journeys that are gone (deleted). */
static void
jw_prune(struct jw *w, Clm__V1__CustomerRecord *rec, bool *dirty)
{
	size_t k = 0;
	for (size_t i = 0; i < rec->n_journeys; i++) {
		if (jw_def(w, rec->journeys[i]->journey) != NULL) {
			rec->journeys[k++] = rec->journeys[i];
		}
	}
	if (k != rec->n_journeys) {
		rec->n_journeys = k;
		*dirty = true;
	}
}

/*
 * jw_customer's work; exits false: no exit checks (a background step's
 * entries: exits are decided by journaled writes and fires only, so that
 * every node of a cluster decides them alike).
 */
static clm_err
jw_customer_in(struct jw *w, struct writer_batch *b, writer_job *job,
        struct profile *pr, size_t ev_from, arena *a, bool exits, bool *dirty)
{
	*dirty = false;
	if (w == NULL || pr->rec->anonymous) {
		return CLM_OK;
	}
	clm_err e = jw_load(w, b->txn);
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__CustomerRecord *rec = pr->rec;
	jw_prune(w, rec, dirty);
	/* Exits first: a trigger of this write may enter again. */
	if (exits) {
		e = jw_exits(w, b, pr, dirty);
	}
	for (size_t i = 0; i < pr->n_jny_pending && e == CLM_OK; i++) {
		const struct profile_trigger *t = &pr->jny_pending[i];
		const struct jw_def *jd = jw_def(w, t->journey);
		if (jd != NULL) {
			e = jw_enter(
			        w, b, pr, jd, t->at_ms, t->item, a, dirty);
		}
	}
	pr->n_jny_pending = 0;
	if (!(w->stage || w->risk || w->segment) || job == NULL) {
		return e;
	}
	for (size_t k = ev_from; k < job->n_events && e == CLM_OK; k++) {
		const Clm__V1__LifecycleEvent *ev = job->events[k];
		if (strcmp(ev->customer_id, rec->customer_id) != 0) {
			continue;
		}
		for (size_t i = 0; i < w->n && e == CLM_OK; i++) {
			if (jw_triggers(w->defs[i].d, ev)) {
				e = jw_enter(w, b, pr, &w->defs[i], ev->at_ms,
				        "", a, dirty);
			}
		}
	}
	return e;
}

clm_err
jw_customer(struct jw *w, struct writer_batch *b, writer_job *job,
        struct profile *pr, size_t ev_from, arena *a, bool *dirty)
{
	return jw_customer_in(w, b, job, pr, ev_from, a, true, dirty);
}

/* The customers a background step's entries were handled for. */
struct jw_seen {
	const char **ids; /* open addressing; NULL: a free slot */
	size_t mask;
};

/* Marks id seen; false when it was already. */
static bool
jw_seen_add(struct jw_seen *s, const char *id)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	for (const char *c = id; *c != '\0'; c++) {
		h = (h ^ (unsigned char) *c) * 1099511628211ULL;
	}
	for (size_t i = (size_t) h & s->mask;; i = (i + 1) & s->mask) {
		if (s->ids[i] == NULL) {
			s->ids[i] = id;
			return true;
		}
		if (strcmp(s->ids[i], id) == 0) {
			return false;
		}
	}
}

clm_err
jw_segment_entries(
        struct jw *w, struct writer_batch *b, writer_job *job, size_t ev_from)
{
	if (w == NULL) {
		return CLM_OK;
	}
	clm_err e = jw_load(w, b->txn);
	if (e != CLM_OK || !w->segment || ev_from >= job->n_events) {
		return e;
	}
	/* Twice the events' slots, at least: never full. */
	struct jw_seen seen = { 0 };
	size_t slots = 16;
	while (slots < 2 * (job->n_events - ev_from)) {
		slots *= 2;
	}
	seen.ids = arena_zalloc(job->arena, slots * sizeof(*seen.ids));
	seen.mask = slots - 1;
	if (seen.ids == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	for (size_t k = ev_from; k < job->n_events && e == CLM_OK; k++) {
		const Clm__V1__LifecycleEvent *ev = job->events[k];
		bool wanted = false;
		for (size_t i = 0; i < w->n && !wanted; i++) {
			wanted = jw_triggers(w->defs[i].d, ev);
		}
		/*
		 * Once per customer: its first event that triggers a
		 * journey brings its later ones (jw_customer_in reads the
		 * events from k on).
		 */
		if (!wanted || !jw_seen_add(&seen, ev->customer_id)) {
			continue;
		}
		arena_reset(&w->fa);
		struct profile *pr;
		e = profile_load(
		        b->txn, ev->customer_id, false, false, &w->fa, &pr);
		if (e == CLM_NOT_FOUND) {
			e = CLM_OK;
			continue;
		}
		bool dirty = false;
		if (e == CLM_OK) {
			e = jw_customer_in(
			        w, b, job, pr, k, &w->fa, false, &dirty);
		}
		if (e == CLM_OK && dirty) {
			e = store_customer_put(b->txn, pr->rec, true);
		}
	}
	return e;
}

/* store_jmsgs_forget's callback: a pending hook of journey is gone. */
struct jw_forgetting {
	store_txn *txn;
	clm_err err;
};

static void
jw_hook_gone(void *arg, uint32_t journey)
{
	struct jw_forgetting *f = arg;
	if (f->err == CLM_OK) {
		f->err = store_jstat_add(
		        f->txn, journey, STORE_JSTAT_HOOK_PENDING, 0, -1);
	}
}

clm_err
jw_forget(struct jw *w, struct writer_batch *b,
        const Clm__V1__CustomerRecord *rec)
{
	if (w == NULL) {
		return CLM_OK;
	}
	clm_err e = jw_load(w, b->txn);
	for (size_t i = 0; i < rec->n_journeys && e == CLM_OK; i++) {
		Clm__V1__JourneyState *st = rec->journeys[i];
		if (!st->active) {
			continue;
		}
		e = store_jdue_del(
		        b->txn, st->due_ms, st->journey, rec->customer_id);
		if (e != CLM_OK || jw_def(w, st->journey) == NULL) {
			continue;
		}
		e = store_jstat_add(
		        b->txn, st->journey, STORE_JSTAT_ACTIVE, 0, -1);
		if (e == CLM_OK) {
			e = store_jstat_add(b->txn, st->journey,
			        STORE_JSTAT_REMOVED, 0, 1);
		}
		if (e == CLM_OK) {
			e = store_jstat_add(b->txn, st->journey,
			        STORE_JSTAT_WAITING, st->step, -1);
		}
	}
	struct jw_forgetting f = { b->txn, CLM_OK };
	if (e == CLM_OK) {
		e = store_jmsgs_forget(
		        b->txn, rec->customer_id, NULL, jw_hook_gone, &f);
	}
	return e == CLM_OK ? f.err : e;
}

struct jw_collect {
	struct jw *w;
	store_txn *txn;
	arena *a;
	Clm__V1__JourneyFireItem **items;
	size_t n, cap, max;
	bool more;
	clm_err err;
};

static int
jw_due_fn(void *arg, int64_t due_ms, uint32_t journey, const char *customer_id)
{
	struct jw_collect *c = arg;
	if (c->n == c->max) {
		c->more = true;
		return 1;
	}
	Clm__V1__JourneyFireItem **v
	        = arena_grow(c->a, c->items, c->n, &c->cap, sizeof(*v));
	Clm__V1__JourneyFireItem *it = arena_alloc(c->a, sizeof(*it));
	char *id = arena_strdup(c->a, customer_id);
	if (v == NULL || it == NULL || id == NULL) {
		c->err = CLM_RESOURCE_EXHAUSTED;
		return 1;
	}
	c->items = v;
	clm__v1__journey_fire_item__init(it);
	it->journey = journey;
	it->customer_id = id;
	it->due_ms = due_ms;
	it->step = JW_DROP;
	Clm__V1__CustomerRecord *rec;
	clm_err e = jw_def(c->w, journey) == NULL
	        ? CLM_NOT_FOUND
	        : store_customer_get(c->txn, customer_id, false, c->a, &rec);
	const Clm__V1__JourneyState *st = NULL;
	if (e == CLM_OK) {
		st = jw_state(rec, journey);
	} else if (e == CLM_DATA_LOSS) {
		/* Dropped (it->step JW_DROP), not failing every fire. */
		log_warn(
		        "journeys: customer %s of journey %s does not decode; "
		        "its step is dropped",
		        customer_id, jw_def(c->w, journey)->d->name);
	} else if (e != CLM_NOT_FOUND) {
		c->err = e;
		return 1;
	}
	if (st != NULL && st->active && st->due_ms == due_ms) {
		it->entered_ms = st->entered_ms;
		it->step = st->step;
		it->item = arena_strdup(c->a, st->item);
		if (it->item == NULL) {
			c->err = CLM_RESOURCE_EXHAUSTED;
			return 1;
		}
	}
	v[c->n++] = it;
	return 0;
}

clm_err
jw_due(struct jw *w, store_txn *txn, int64_t now_ms, size_t max, arena *a,
        Clm__V1__JourneyFire **out, bool *more)
{
	*more = false;
	*out = NULL;
	clm_err e = jw_load(w, txn);
	if (e != CLM_OK) {
		return e;
	}
	Clm__V1__JourneyFire *f = arena_alloc(a, sizeof(*f));
	if (f == NULL) {
		return CLM_RESOURCE_EXHAUSTED;
	}
	clm__v1__journey_fire__init(f);
	struct jw_collect c = { .w = w, .txn = txn, .a = a, .max = max };
	e = store_jdue_each(txn, now_ms, max + 1, jw_due_fn, &c);
	if (e == CLM_OK) {
		e = c.err;
	}
	if (e != CLM_OK) {
		return e;
	}
	f->items = c.items;
	f->n_items = c.n;
	*out = f;
	*more = c.more;
	return CLM_OK;
}
