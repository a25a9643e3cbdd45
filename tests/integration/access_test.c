/*
 * Access control: auth tokens, exposure rules, TLS with required client
 * certificates, and the IPC socket's permissions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_run.h"
#include "harness.h"

static void
access_fini(void)
{
	harness_fini();
}

TestSuite(access, .fini = access_fini, .timeout = 60);

static Clm__V1__Response *
access_call(clm_conn *c, const char *token, Clm__V1__Request *req)
{
	req->auth_token = (char *) (token ? token : "");
	Clm__V1__Response *resp = NULL;
	clm_err e = clm_call(c, req, &resp);
	cr_assert_eq(e, CLM_OK, "no reply: %s", clm_errname(e));
	cr_assert_not_null(resp->status);
	return resp;
}

Test(access, tokens_guard_every_call)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(
	        dir, "tokens", "# clm tokens\n\n  alpha-123  \nbeta-456\n");
	struct clmd_proc p;
	const char *args[] = { "--auth-token-file", tokens, NULL };
	cr_assert_eq(clmd_start(&p, NULL, args), 0);
	clm_conn *c;
	cr_assert_eq(clm_open(p.url, 5000, &c), CLM_OK);

	Clm__V1__Touchpoint tp = CLM__V1__TOUCHPOINT__INIT;
	tp.customer_id = "guarded";
	tp.event_id = "guarded-1";
	tp.type = CLM__V1__TOUCHPOINT_TYPE__SITE_VISIT;
	Clm__V1__Touchpoint *tps[] = { &tp };
	Clm__V1__TrackRequest tr = CLM__V1__TRACK_REQUEST__INIT;
	tr.n_touchpoints = 1;
	tr.touchpoints = tps;
	Clm__V1__Request req = CLM__V1__REQUEST__INIT;
	req.call_case = CLM__V1__REQUEST__CALL_TRACK;
	req.track = &tr;

	/* No token, a wrong one, a prefix, a longer one: refused, not applied.
	 */
	const char *bad[] = { NULL, "", "alpha-12", "alpha-1234", "ALPHA-123",
		"beta-456 " };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Clm__V1__Response *resp = access_call(c, bad[i], &req);
		cr_assert_eq(resp->status->code,
		        CLM__V1__CODE__UNAUTHENTICATED, "token '%s' got %d",
		        bad[i] ? bad[i] : "(none)", resp->status->code);
		cr_assert_eq(
		        resp->result_case, CLM__V1__RESPONSE__RESULT__NOT_SET);
		clm_response_free(resp);
	}
	/* Even a call that is not built, or one that is malformed inside. */
	Clm__V1__Request unset = CLM__V1__REQUEST__INIT;
	Clm__V1__Response *resp = access_call(c, "nope", &unset);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__UNAUTHENTICATED);
	clm_response_free(resp);

	/* Both configured tokens work; the write was applied once. */
	resp = access_call(c, "alpha-123", &req);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__OK, "%s",
	        resp->status->message);
	cr_assert_eq(resp->track->accepted, 1);
	clm_response_free(resp);
	resp = access_call(c, "beta-456", &req);
	cr_assert_eq(resp->status->code, CLM__V1__CODE__OK);
	cr_assert_eq(resp->track->duplicates, 1);
	clm_response_free(resp);

	/* The CLI passes --token. */
	char *out = NULL, *err = NULL;
	const char *noarg[] = { "customer", "guarded", NULL };
	cr_assert_eq(run_cli(noarg, NULL, &out, &err), 1);
	cr_assert(strstr(err, "UNAUTHENTICATED") != NULL, "%s", err);
	free(out);
	free(err);
	const char *witharg[]
	        = { "--token", "beta-456", "customer", "guarded", NULL };
	cr_assert_eq(run_cli(witharg, NULL, &out, &err), 0, "%s", err);
	cr_assert(strstr(out, "REACH") != NULL, "%s", out);
	free(out);
	free(err);
	clm_close(c);
	cr_assert_eq(clmd_stop(&p), 0);
}

Test(access, token_file_problems_stop_the_start)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *empty = test_file(dir, "empty", "# nothing\n\n");
	char *out = NULL, *err = NULL;
	const char *a1[]
	        = { "clmd", "--data", dir, "--auth-token-file", empty, NULL };
	cr_assert_neq(run_cmd(CLMD_BIN, a1, NULL, 10000, &out, &err), 0);
	cr_assert(strstr(err, "no token") != NULL, "%s", err);
	free(out);
	free(err);
	const char *a2[] = { "clmd", "--data", dir, "--auth-token-file",
		"/nonexistent/tokens", NULL };
	cr_assert_neq(run_cmd(CLMD_BIN, a2, NULL, 10000, &out, &err), 0);
	cr_assert(
	        strstr(err, "cannot read auth token file") != NULL, "%s", err);
	free(out);
	free(err);
}

Test(access, non_loopback_needs_a_guard)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	const char *tokens = test_file(dir, "tokens", "t0k3n\n");
	char url[64];
	snprintf(url, sizeof(url), "tcp://0.0.0.0:%d", harness_free_port());
	char *out = NULL, *err = NULL;
	/* Without tokens: refused. */
	const char *a1[] = { "clmd", "--data", dir, "--listen", url,
		"--events", "none", NULL };
	cr_assert_neq(run_cmd(CLMD_BIN, a1, NULL, 10000, &out, &err), 0);
	cr_assert(strstr(err, "loopback") != NULL, "%s", err);
	free(out);
	free(err);
	/* With tokens the requests may be exposed, but not the events. */
	char eurl[64];
	snprintf(eurl, sizeof(eurl), "tcp://0.0.0.0:%d", harness_free_port());
	const char *a2[] = { "clmd", "--data", dir, "--listen", url,
		"--events", eurl, "--auth-token-file", tokens, NULL };
	cr_assert_neq(run_cmd(CLMD_BIN, a2, NULL, 10000, &out, &err), 0);
	cr_assert(strstr(err, eurl) != NULL, "%s", err);
	free(out);
	free(err);
	struct clmd_proc p;
	const char *args[]
	        = { "--listen", url, "--auth-token-file", tokens, NULL };
	cr_assert_eq(clmd_start(&p, NULL, args), 0, "guarded 0.0.0.0 refused");
	cr_assert_eq(clmd_stop(&p), 0);
}

static void
access_openssl(const char *dir, const char *script)
{
	char *out = NULL, *err = NULL;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s", dir, script);
	const char *argv[] = { "sh", "-c", cmd, NULL };
	int rc = run_cmd("/bin/sh", argv, NULL, 60000, &out, &err);
	cr_assert_eq(rc, 0, "openssl failed: %s", err);
	free(out);
	free(err);
}

Test(access, tls_requires_a_client_certificate)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	/* A CA, a server and a client it signed, and a rogue self-signed. */
	access_openssl(dir,
	        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=clm-test-ca 2>/dev/null && for n in server client; do openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=localhost 2>/dev/null && openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.crt -days 2 2>/dev/null && cat $n.crt $n.key > $n.pem || exit 1; done && openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.crt -days 2 -subj /CN=localhost 2>/dev/null && cat rogue.crt rogue.key > rogue.pem");
	char server[96], ca[96], client[96], rogue[96], url[64];
	snprintf(server, sizeof(server), "%s/server.pem", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(client, sizeof(client), "%s/client.pem", dir);
	snprintf(rogue, sizeof(rogue), "%s/rogue.pem", dir);
	/* Any address: required client certificates guard it. */
	snprintf(
	        url, sizeof(url), "tls+tcp://0.0.0.0:%d", harness_free_port());
	struct clmd_proc p;
	const char *args[] = { "--listen", url, "--tls-cert-file", server,
		"--tls-ca-file", ca, NULL };
	cr_assert_eq(clmd_start(&p, NULL, args), 0);
	char lurl[64];
	snprintf(lurl, sizeof(lurl), "tls+tcp://localhost:%s",
	        strrchr(url, ':') + 1);

	struct clm_tls good = { .ca_file = ca, .cert_file = client };
	clm_conn *c;
	cr_assert_eq(clm_open_tls(lurl, 5000, &good, &c), CLM_OK, "%s",
	        clm_open_error());
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	clm_response_free(resp);
	clm_close(c);

	struct clm_tls none = { .ca_file = ca };
	cr_assert_neq(clm_open_tls(lurl, 3000, &none, &c), CLM_OK,
	        "a client without a certificate got in");
	struct clm_tls bad = { .ca_file = ca, .cert_file = rogue };
	cr_assert_neq(clm_open_tls(lurl, 3000, &bad, &c), CLM_OK,
	        "a client with a self-signed certificate got in");
	/* And the client checks the server too. */
	struct clm_tls noca = { .ca_file = NULL, .cert_file = client };
	cr_assert_neq(clm_open_tls(lurl, 3000, &noca, &c), CLM_OK,
	        "the server's certificate was not verified");
	cr_assert_eq(clmd_stop(&p), 0);
}

Test(access, ipc_socket_is_owner_only)
{
	char dir[32];
	cr_assert_eq(harness_tmpdir(dir), 0);
	char sock[128], url[160];
	snprintf(sock, sizeof(sock), "%s/run/clmd.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", sock);
	struct clmd_proc p;
	const char *args[] = { "--listen", url, NULL };
	cr_assert_eq(clmd_start(&p, NULL, args), 0);
	struct stat st;
	char run[96];
	snprintf(run, sizeof(run), "%s/run", dir);
	cr_assert_eq(stat(run, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "dir mode %o",
	        (unsigned) (st.st_mode & 0777));
	cr_assert_eq(stat(sock, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "socket mode %o",
	        (unsigned) (st.st_mode & 0777));
	clm_conn *c;
	cr_assert_eq(clm_open(url, 5000, &c), CLM_OK);
	Clm__V1__Response *resp = NULL;
	cr_assert_eq(clm_server_status(c, &resp), CLM_OK);
	clm_response_free(resp);
	clm_close(c);
	cr_assert_eq(clmd_stop(&p), 0);
}
