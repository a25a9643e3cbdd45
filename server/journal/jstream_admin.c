/*
 * jstream's stream (see jstream.h): finding or creating it, its subject
 * key, and the requests that wait for the server (info, get, purge).
 *
 * The subject key. Every node must hash customer ids with one key, so the
 * key is in the stream, on "<stream>.k", and the first message of that
 * subject is the key. A node reads it with a "next message on subject
 * from position 1" request, which the stream leader answers, so it sees
 * everything acknowledged (a direct get may be answered by a follower
 * that lags). When there is none, the node publishes a random key
 * expecting no message on the subject (Nats-Expected-Last-Subject-
 * Sequence: 0): nats-server 2.9 checks that when it applies the entry, on
 * every replica in the stream's order, so of two nodes racing only one
 * key is ever stored, and the loser, refused with "wrong last sequence",
 * reads the winner's. Either way the node reads the key back from the
 * stream rather than trusting its own.
 *
 * A purge by sequence (`nats stream purge --seq P`, retention) removes
 * the key's entry with the others below P. So a node creates a key only
 * in a stream that never held anything (its last sequence is 0, asked
 * before the key is looked up, so that a key another node stores
 * meanwhile is found): a stream that held entries and has no key lost it,
 * and jstream_open refuses it (a new key would give every customer new
 * subjects, and a Forget would miss the entries under the old ones). And
 * a node that holds the key publishes it again, same bytes, whenever
 * jstream_info (the writer's check, every second) finds the stream's
 * first sequence past the key's entry: the key then outlives such a
 * purge as long as one node runs. The republish expects no message on
 * the subject, as the first one, so racing nodes store it once.
 *
 * Purging a customer. nats-server 2.9.10's file store purges by subject
 * (PurgeEx) by marking the entries deleted in the index only: their bytes
 * stay in the message block files until the whole block goes. An erase
 * (js_EraseMsg) overwrites the entry in the block file with random bytes
 * and syncs it, on every replica. So jstream_purge_key erases the entries
 * one by one, finding each with the same leader-answered "next on
 * subject" request. Not reached: in a replicated stream each replica's
 * raft log ($SYS/_js_/S-*) holds every entry too, until the log is
 * compacted after a snapshot (every 2 to 3 minutes, at 64k entries or
 * 8 MB, and at a clean stop), and a compacted log block is rewritten only
 * once more than half of it is gone. Measured: replicas killed 3 s after
 * an erase still had the content in their raft logs; after a clean stop
 * none had it.
 */
#include "journal/jstream_internal.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define JSTREAM_DUPLICATES_NS (120LL * 1000 * 1000 * 1000)

/* Checks an existing stream's settings against what jstream needs. */
static clm_err
jstream_check_config(
        const jstream *s, const jsStreamConfig *c, char *err, size_t errlen)
{
	char want[JSTREAM_NAME_MAX + 2];
	snprintf(want, sizeof(want), "%s.>", s->stream);
	if (c == NULL) {
		snprintf(err, errlen, "journal stream '%s': no configuration",
		        s->stream);
		return CLM_UNAVAILABLE;
	}
	if (c->SubjectsLen != 1 || strcmp(c->Subjects[0], want) != 0) {
		snprintf(err, errlen,
		        "journal stream '%s' exists with subjects '%s%s', not '%s': use another --journal-stream",
		        s->stream, c->SubjectsLen > 0 ? c->Subjects[0] : "",
		        c->SubjectsLen > 1 ? ",..." : "", want);
		return CLM_FAILED_PRECONDITION;
	}
	if (c->Storage != js_FileStorage) {
		snprintf(err, errlen,
		        "journal stream '%s' exists with memory storage, not file storage",
		        s->stream);
		return CLM_FAILED_PRECONDITION;
	}
	if (c->Retention != js_LimitsPolicy) {
		snprintf(err, errlen,
		        "journal stream '%s' exists with %s retention, not limits",
		        s->stream,
		        c->Retention == js_InterestPolicy ? "interest"
		                                          : "work queue");
		return CLM_FAILED_PRECONDITION;
	}
	return CLM_OK;
}

/*
 * Creates the stream. Returns CLM_OK when it was created, or found
 * created by another node meanwhile; FAILED_PRECONDITION when the servers
 * cannot hold it (too few of them for the replicas); UNAVAILABLE to try
 * again. why gets the reason.
 */
static clm_err
jstream_add_stream(jstream *s, char *why, size_t whylen)
{
	char subj[JSTREAM_NAME_MAX + 2];
	const char *subjects[1] = { subj };
	snprintf(subj, sizeof(subj), "%s.>", s->stream);
	jsStreamConfig c;
	jsStreamConfig_Init(&c);
	c.Name = s->stream;
	c.Subjects = subjects;
	c.SubjectsLen = 1;
	c.Retention = js_LimitsPolicy;
	c.Storage = js_FileStorage;
	c.Replicas = s->replicas;
	c.Duplicates = JSTREAM_DUPLICATES_NS;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_AddStream(&si, s->js, &c, NULL, &jerr);
	jsStreamInfo_Destroy(si);
	if (st == NATS_OK || jerr == JSStreamNameExistErr) {
		return CLM_OK;
	}
	snprintf(why, whylen, "cannot create it with %d replicas: %s",
	        s->replicas, jstream_nats_text(st));
	if (jerr == JSClusterNoPeersErr
	        || jerr == JSStreamReplicasNotSupportedErr
	        || jerr == JSInsufficientResourcesErr) {
		return CLM_FAILED_PRECONDITION;
	}
	return CLM_UNAVAILABLE;
}

clm_err
jstream_ensure_stream(jstream *s, char *err, size_t errlen)
{
	int64_t until = nats_Now() + JSTREAM_OPEN_WAIT_MS;
	char why[256] = "no answer";
	/* Short tries: a stream without a leader yet may not answer. */
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = JSTREAM_RETRY_MS;
	for (;;) {
		jsStreamInfo *si = NULL;
		jsErrCode jerr = 0;
		natsStatus st
		        = js_GetStreamInfo(&si, s->js, s->stream, &jo, &jerr);
		if (st == NATS_OK) {
			clm_err rc = jstream_check_config(
			        s, si->Config, err, errlen);
			bool leader = si->Cluster == NULL
			        || (si->Cluster->Leader != NULL
			                && si->Cluster->Leader[0] != '\0');
			jsStreamInfo_Destroy(si);
			if (rc != CLM_OK || leader) {
				return rc;
			}
			snprintf(why, sizeof(why), "no leader");
		} else if (st == NATS_NOT_FOUND
		        || jerr == JSStreamNotFoundErr) {
			clm_err rc = jstream_add_stream(s, why, sizeof(why));
			if (rc == CLM_FAILED_PRECONDITION) {
				snprintf(err, errlen,
				        "journal stream '%s': %s", s->stream,
				        why);
				return rc;
			}
			if (rc == CLM_OK) {
				continue;
			}
		} else if (st == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr
		        || jerr == JSNotEnabledForAccountErr) {
			snprintf(err, errlen,
			        "journal '%s': JetStream is not enabled (nats-server -js)",
			        s->urls);
			return CLM_UNAVAILABLE;
		} else {
			snprintf(
			        why, sizeof(why), "%s", jstream_nats_text(st));
		}
		if (nats_Now() >= until) {
			snprintf(err, errlen,
			        "journal stream '%s' not ready within %d ms: %s",
			        s->stream, JSTREAM_OPEN_WAIT_MS, why);
			return CLM_UNAVAILABLE;
		}
		nats_Sleep(100);
	}
}

/* The decimal number after "key": in json, or 0 when there is none. */
static uint64_t
jstream_json_u64(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	if (p == NULL) {
		return 0;
	}
	p += strlen(key);
	while (*p == ' ') {
		p++;
	}
	return strtoull(p, NULL, 10);
}

/*
 * The first entry on subject at or after position from: *seq (0 when
 * there is none) and, when buf is set, its data decoded into buf (cap
 * bytes; *len). A STREAM.MSG.GET request with next_by_subj, which the
 * stream leader answers (nats.c 3.4.1 has no call for it); the reply is
 * the server's JSON: {"message": {"subject": .., "seq": N, "data":
 * base64, ..}} or {"error": {"code": 404, "err_code": 10037, ..}}.
 */
static clm_err
jstream_next_on_subject(jstream *s, const char *subject, uint64_t from,
        uint64_t *seq, unsigned char *buf, size_t cap, size_t *len, char *err,
        size_t errlen)
{
	char api[JSTREAM_NAME_MAX + 32], req[JSTREAM_SUBJECT_MAX * 2];
	snprintf(api, sizeof(api), "$JS.API.STREAM.MSG.GET.%s", s->stream);
	int n = snprintf(req, sizeof(req),
	        "{\"seq\":%" PRIu64 ",\"next_by_subj\":\"%s\"}", from,
	        subject);
	/* Only the leader answers; a leader just elected, or one that
	 * just lost its place, may not: ask again within the bound. */
	natsMsg *reply = NULL;
	natsStatus st;
	int64_t until = nats_Now() + JSTREAM_API_WAIT_MS;
	while ((st = natsConnection_Request(
	                &reply, s->nc, api, req, n, JSTREAM_RETRY_MS))
	                != NATS_OK
	        && (st == NATS_TIMEOUT || st == NATS_NO_RESPONDERS)
	        && nats_Now() < until) {
		nats_Sleep(50);
	}
	if (st != NATS_OK) {
		snprintf(err, errlen, "journal stream '%s': reading '%s': %s",
		        s->stream, subject, jstream_nats_text(st));
		return CLM_UNAVAILABLE;
	}
	int rlen = natsMsg_GetDataLength(reply);
	char *json = malloc((size_t) rlen + 1);
	if (json == NULL) {
		natsMsg_Destroy(reply);
		snprintf(err, errlen, "journal stream '%s': out of memory",
		        s->stream);
		return CLM_UNAVAILABLE;
	}
	memcpy(json, natsMsg_GetData(reply), (size_t) rlen);
	json[rlen] = '\0';
	natsMsg_Destroy(reply);
	clm_err rc = CLM_OK;
	*seq = 0;
	const char *msg = strstr(json, "\"message\"");
	if (strstr(json, "\"error\"") != NULL) {
		if (jstream_json_u64(json, "\"err_code\":")
		        != JSNoMessageFoundErr) {
			snprintf(err, errlen,
			        "journal stream '%s': reading '%s': %.200s",
			        s->stream, subject, json);
			rc = CLM_UNAVAILABLE;
		}
	} else if (msg == NULL
	        || (*seq = jstream_json_u64(msg, "\"seq\":")) == 0) {
		snprintf(err, errlen,
		        "journal stream '%s': reading '%s': unexpected reply",
		        s->stream, subject);
		rc = CLM_UNAVAILABLE;
	} else if (buf != NULL) {
		const char *d = strstr(msg, "\"data\":\"");
		const char *e = d != NULL ? strchr(d + 8, '"') : NULL;
		*len = 0;
		if (e != NULL
		        && sodium_base642bin(buf, cap, d + 8,
		                   (size_t) (e - d - 8), NULL, len, NULL,
		                   sodium_base64_VARIANT_ORIGINAL)
		                != 0) {
			snprintf(err, errlen,
			        "journal stream '%s': entry %" PRIu64
			        " on '%s' is not what jstream wrote",
			        s->stream, *seq, subject);
			rc = CLM_FAILED_PRECONDITION;
		}
	}
	free(json);
	return rc;
}

/* The stream's state, as the server tells it. */
static clm_err
jstream_state_get(
        jstream *s, struct jstream_state *out, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetStreamInfo(&si, s->js, s->stream, NULL, &jerr);
	if (st != NATS_OK) {
		snprintf(err, errlen, "journal stream '%s': %s", s->stream,
		        jstream_nats_text(st));
		return CLM_UNAVAILABLE;
	}
	memset(out, 0, sizeof(*out));
	out->first_seq = si->State.FirstSeq;
	out->last_seq = si->State.LastSeq;
	out->entries = si->State.Msgs;
	out->bytes = si->State.Bytes;
	out->replicas = si->Config != NULL ? (int) si->Config->Replicas : 0;
	out->leader = si->Cluster == NULL
	        || (si->Cluster->Leader != NULL
	                && si->Cluster->Leader[0] != '\0');
	jsStreamInfo_Destroy(si);
	return CLM_OK;
}

/*
 * Publishes key on the key's subject expecting no message there (the
 * first key, or this node's again after a purge removed it). Returns
 * CLM_OK also when another node's came first (the caller reads back
 * whose is stored), UNAVAILABLE to try again.
 */
static clm_err
jstream_put_key(jstream *s, const char *subj, const unsigned char *key,
        const char **why)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = JSTREAM_RETRY_MS;
	po.ExpectNoMessage = true;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_Publish(
	        &pa, s->js, subj, key, JSTREAM_KEY_BYTES, &po, &jerr);
	jsPubAck_Destroy(pa);
	if (st == NATS_OK || jerr == JSStreamWrongLastSequenceErr) {
		return CLM_OK;
	}
	*why = jstream_nats_text(st);
	return CLM_UNAVAILABLE;
}

clm_err
jstream_load_key(jstream *s, char *err, size_t errlen)
{
	char subj[JSTREAM_NAME_MAX + 4];
	snprintf(subj, sizeof(subj), "%s.%s", s->stream, JSTREAM_KEY_SUBJECT);
	int64_t until = nats_Now() + JSTREAM_OPEN_WAIT_MS;
	const char *why = "no answer";
	while (nats_Now() < until) {
		unsigned char got[2 * JSTREAM_KEY_BYTES];
		uint64_t seq = 0;
		size_t len = 0;
		/* The state first: a key stored after it is found below. */
		struct jstream_state state;
		clm_err rc = jstream_state_get(s, &state, err, errlen);
		if (rc == CLM_OK) {
			rc = jstream_next_on_subject(s, subj, 1, &seq, got,
			        sizeof(got), &len, err, errlen);
		}
		if (rc != CLM_OK) {
			return rc;
		}
		if (seq != 0) {
			if (len != JSTREAM_KEY_BYTES) {
				snprintf(err, errlen,
				        "journal stream '%s': the subject key on '%s' has %zu bytes, not %u",
				        s->stream, subj, len,
				        JSTREAM_KEY_BYTES);
				return CLM_FAILED_PRECONDITION;
			}
			memcpy(s->key, got, sizeof(s->key));
			sodium_memzero(got, sizeof(got));
			__atomic_store_n(&s->key_seq, seq, __ATOMIC_RELEASE);
			return CLM_OK;
		}
		if (state.last_seq > 0) {
			snprintf(err, errlen,
			        "journal stream '%s': the stream's subject key is gone (entries below %" PRIu64
			        " were purged, '%s' with them): a running clmd node stores it again within seconds, start this one then; with none running, the customers' subjects cannot be rebuilt (docs/cluster.md, \"Retention\")",
			        s->stream, state.first_seq, subj);
			return CLM_FAILED_PRECONDITION;
		}
		/* None yet: store one unless another node just did. Whether
		 * ours was stored or not, the next read tells whose is. */
		unsigned char key[JSTREAM_KEY_BYTES];
		randombytes_buf(key, sizeof(key));
		rc = jstream_put_key(s, subj, key, &why);
		sodium_memzero(key, sizeof(key));
		if (rc != CLM_OK) {
			nats_Sleep(100);
		}
	}
	snprintf(err, errlen,
	        "journal stream '%s': cannot store the subject key on '%s' within %d ms: %s",
	        s->stream, subj, JSTREAM_OPEN_WAIT_MS, why);
	return CLM_UNAVAILABLE;
}

/*
 * Publishes the key again when the stream's first sequence passed its
 * entry (a purge by sequence removed it), and reads back where it is.
 * Failures are tried again at the next call.
 */
static void
jstream_keep_key(jstream *s, uint64_t first_seq)
{
	uint64_t kseq = __atomic_load_n(&s->key_seq, __ATOMIC_ACQUIRE);
	if (kseq == 0 || first_seq <= kseq) {
		return;
	}
	char subj[JSTREAM_NAME_MAX + 4], err[256];
	snprintf(subj, sizeof(subj), "%s.%s", s->stream, JSTREAM_KEY_SUBJECT);
	const char *why = "";
	unsigned char got[2 * JSTREAM_KEY_BYTES];
	uint64_t seq = 0;
	size_t len = 0;
	if (jstream_next_on_subject(s, subj, kseq, &seq, got, sizeof(got),
	            &len, err, sizeof(err))
	        != CLM_OK) {
		return;
	}
	if (seq == 0) {
		if (jstream_put_key(s, subj, s->key, &why) != CLM_OK
		        || jstream_next_on_subject(s, subj, kseq, &seq, got,
		                   sizeof(got), &len, err, sizeof(err))
		                != CLM_OK
		        || seq == 0) {
			log_warn(
			        "journal stream '%s': the subject key's entry was purged and storing it again failed (%s): retried",
			        s->stream, why);
			return;
		}
		log_info(
		        "journal stream '%s': the subject key's entry was purged (entries below %" PRIu64
		        "): stored it again at %" PRIu64,
		        s->stream, first_seq, seq);
	}
	if (len != JSTREAM_KEY_BYTES || sodium_memcmp(got, s->key, len) != 0) {
		log_error(
		        "journal stream '%s': the subject key at %" PRIu64
		        " is not the one this node uses: restart every node (docs/cluster.md, \"Retention\")",
		        s->stream, seq);
	}
	sodium_memzero(got, sizeof(got));
	__atomic_store_n(&s->key_seq, seq, __ATOMIC_RELEASE);
}

clm_err
jstream_info(jstream *s, struct jstream_state *out, char *err, size_t errlen)
{
	clm_err rc = jstream_state_get(s, out, err, errlen);
	if (rc == CLM_OK) {
		jstream_keep_key(s, out->first_seq);
	}
	return rc;
}

/* Whether subj is the subject key's: "<stream>.k". */
static bool
jstream_is_key_subject(const jstream *s, const char *subj)
{
	return subj != NULL && strncmp(subj, s->stream, s->stream_len) == 0
	        && subj[s->stream_len] == '.'
	        && strcmp(subj + s->stream_len + 1, JSTREAM_KEY_SUBJECT) == 0;
}

clm_err
jstream_get(jstream *s, uint64_t seq, void **data, size_t *len, char *err,
        size_t errlen)
{
	natsMsg *msg = NULL;
	jsErrCode jerr = 0;
	natsStatus st = seq == 0
	        ? NATS_NOT_FOUND
	        : js_GetMsg(&msg, s->js, s->stream, seq, NULL, &jerr);
	if (st == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
		return CLM_NOT_FOUND;
	}
	if (st != NATS_OK) {
		snprintf(err, errlen,
		        "journal stream '%s': reading entry %" PRIu64 ": %s",
		        s->stream, seq, jstream_nats_text(st));
		return CLM_UNAVAILABLE;
	}
	if (jstream_is_key_subject(s, natsMsg_GetSubject(msg))) {
		natsMsg_Destroy(msg);
		return CLM_NOT_FOUND; /* not an entry */
	}
	size_t n = (size_t) natsMsg_GetDataLength(msg);
	void *copy = malloc(n > 0 ? n : 1);
	if (copy == NULL) {
		natsMsg_Destroy(msg);
		snprintf(err, errlen, "journal stream '%s': out of memory",
		        s->stream);
		return CLM_UNAVAILABLE;
	}
	if (n > 0) {
		memcpy(copy, natsMsg_GetData(msg), n);
	}
	natsMsg_Destroy(msg);
	*data = copy;
	*len = n;
	return CLM_OK;
}

/* Erases entry seq; CLM_OK also when it is gone already. */
static clm_err
jstream_erase(jstream *s, uint64_t seq, char *err, size_t errlen)
{
	jsErrCode jerr = 0;
	natsStatus st = js_EraseMsg(s->js, s->stream, seq, NULL, &jerr);
	if (st == NATS_OK) {
		return CLM_OK;
	}
	char why[256];
	snprintf(why, sizeof(why), "%s", jstream_nats_text(st));
	void *data = NULL;
	size_t len = 0;
	clm_err rc = jstream_get(s, seq, &data, &len, err, errlen);
	free(data);
	if (rc == CLM_NOT_FOUND) {
		return CLM_OK;
	}
	snprintf(err, errlen,
	        "journal stream '%s': cannot erase entry %" PRIu64 ": %s",
	        s->stream, seq, why);
	return CLM_UNAVAILABLE;
}

clm_err
jstream_purge_slice(jstream *s, const char key[33], uint64_t before,
        uint64_t *from, size_t max, bool *done, char *err, size_t errlen)
{
	size_t klen = strnlen(key, 33);
	if (klen != 2 * JSTREAM_HASH_BYTES
	        || strspn(key, "0123456789abcdef") != klen) {
		snprintf(err, errlen,
		        "journal purge: '%.33s' is not a subject key", key);
		return CLM_INVALID_ARGUMENT;
	}
	char subj[JSTREAM_NAME_MAX + 40];
	snprintf(subj, sizeof(subj), "%s.c.%s", s->stream, key);
	uint64_t at = *from > 0 ? *from : 1;
	for (size_t n = 0;; n++) {
		uint64_t seq = 0;
		clm_err rc = jstream_next_on_subject(
		        s, subj, at, &seq, NULL, 0, NULL, err, errlen);
		if (rc != CLM_OK) {
			*from = at;
			return rc;
		}
		if (seq == 0 || (before > 0 && seq >= before)) {
			*from = at;
			*done = true;
			return CLM_OK;
		}
		if (n >= max) {
			*from = at;
			*done = false;
			return CLM_OK;
		}
		rc = jstream_erase(s, seq, err, errlen);
		if (rc != CLM_OK) {
			*from = at;
			return rc;
		}
		at = seq + 1;
	}
}

clm_err
jstream_purge_key(jstream *s, const char key[33], uint64_t before, char *err,
        size_t errlen)
{
	uint64_t from = 1;
	bool done = false;
	return jstream_purge_slice(
	        s, key, before, &from, SIZE_MAX, &done, err, errlen);
}
