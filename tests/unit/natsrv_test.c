/*
 * Tests of the NATS cluster fixture (tests/natsrv.c): one node and three
 * answer NATS clients on natsrv_urls; in three, natsrv_leader names the
 * leader of an R3 stream, and after that leader is killed a new one among
 * the others; the killed node comes back on its ports and store.
 */
#include <criterion/criterion.h>
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>

#include "natsrv.h"

static natsrv *cluster;

static void
fini(void)
{
	natsrv_stop(cluster);
	cluster = NULL;
	nats_Close();
}

TestSuite(natsrv, .fini = fini, .timeout = 60);

/* Connects to the comma-separated urls with a bounded timeout (nats.c
 * takes a list, not a comma-separated string); asserts it worked. */
static natsConnection *
connect_to(const char *urls)
{
	char copy[1024];
	const char *list[8];
	int count = 0;
	snprintf(copy, sizeof(copy), "%s", urls);
	for (char *save = NULL, *u = strtok_r(copy, ",", &save);
	        u != NULL && count < 8; u = strtok_r(NULL, ",", &save)) {
		list[count++] = u;
	}
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	cr_assert_eq(natsOptions_Create(&o), NATS_OK);
	cr_assert_eq(natsOptions_SetServers(o, list, count), NATS_OK);
	cr_assert_eq(natsOptions_SetTimeout(o, 5000), NATS_OK);
	natsStatus s = natsConnection_Connect(&nc, o);
	natsOptions_Destroy(o);
	cr_assert_eq(
	        s, NATS_OK, "connect to %s: %s", urls, natsStatus_GetText(s));
	return nc;
}

/* Adds an R<replicas> file stream named name on subjects "name.>". */
static void
add_stream(natsConnection *nc, const char *name, int replicas)
{
	jsCtx *js = NULL;
	jsStreamConfig c;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	char subj[64];
	const char *subjects[1] = { subj };
	snprintf(subj, sizeof(subj), "%s.>", name);
	cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsStreamConfig_Init(&c);
	c.Name = name;
	c.Subjects = subjects;
	c.SubjectsLen = 1;
	c.Storage = js_FileStorage;
	c.Replicas = replicas;
	natsStatus s = js_AddStream(&si, js, &c, NULL, &jerr);
	cr_assert_eq(s, NATS_OK, "add stream: %s (%d)", natsStatus_GetText(s),
	        (int) jerr);
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
}

Test(natsrv, one_node)
{
	cluster = natsrv_start(1, NULL);
	cr_assert_not_null(cluster);
	cr_assert_eq(natsrv_size(cluster), 1);
	cr_assert_str_eq(natsrv_urls(cluster), natsrv_url(cluster, 0));
	cr_assert_gt(natsrv_pid(cluster, 0), 0);
	natsConnection *nc = connect_to(natsrv_urls(cluster));
	add_stream(nc, "ONE", 1);
	cr_assert_eq(natsrv_leader(cluster, "ONE", 5000), 0);
	cr_assert_eq(natsrv_leader(cluster, "NONE", 200), -1);
	natsConnection_Destroy(nc);
}

Test(natsrv, three_nodes_leader_killed)
{
	cluster = natsrv_start(3, NULL);
	cr_assert_not_null(cluster);
	const char *urls = natsrv_urls(cluster);
	cr_assert_eq(strchr(strchr(urls, ',') + 1, ',') != NULL, true);
	natsConnection *nc = connect_to(urls);
	add_stream(nc, "THREE", 3);
	int leader = natsrv_leader(cluster, "THREE", 10000);
	cr_assert(leader >= 0 && leader < 3);

	cr_assert_eq(natsrv_kill9(cluster, leader), 0);
	cr_assert_eq(natsrv_pid(cluster, leader), 0);
	int next = natsrv_leader(cluster, "THREE", 60000); /* loaded: slow */
	cr_assert(next >= 0 && next != leader, "new leader %d (was %d)", next,
	        leader);

	cr_assert_eq(natsrv_restart(cluster, leader), 0);
	cr_assert_gt(natsrv_pid(cluster, leader), 0);
	/* The restarted node answers clients on its own URL again. */
	natsConnection *again = connect_to(natsrv_url(cluster, leader));
	natsConnection_Destroy(again);
	natsConnection_Destroy(nc);
}
