#!/usr/bin/env python3
"""Interop test: transports and connections of the Python client
(client/python, package clm) against real clmds (tests/interop/pyclmd.py).

A restart of clmd under a live Client and Watcher (the call waiting is
resent, the watcher reconnects); a second clmd that listens on ipc:// only
(calls and events) with an auth token, and on tls+tcp:// with client
certificates when openssl is there; connection errors (a closed port, a
missing socket, REQ and PUB mixed up, bad URLs). The setup tracks the
journey of tests/integration/stages.c for alice over TCP, the
customer the other transports must give too.
"""

import os
import shutil
import subprocess
import sys
import threading
import time

# pyclmd makes the client (client/python) importable: clm from there.
from pyclmd import (TMP, T1, Clmd, check, check_journey_customer, clm, drain,
                    expect, expect_eq, expect_raises, free_port, journey,
                    main, pb, probe, read_until, same_customer,
                    track_journey, wait_live)


def setup(ctx):
    ctx.watch = ctx.close_later(clm.watch(ctx.srv.events_url,
                                          prefix="stage/"))
    wait_live(ctx.c, ctx.watch, "probe")
    ctx.alice = track_journey(ctx.c, "alice")


@check
def restart_under_a_live_client_and_watcher(ctx):
    c, w = ctx.c, ctx.watch
    before = c.status()
    last = c.track(customer_id="rs-0", type="PAGE_VIEW",
                   occurred_at_ms=T1).changes[0].seq
    # rs-0 is the marker: what w has not read yet (alice's journey, late
    # probes) comes before its event (pyclmd.drain).
    expect(read_until(w, "rs-0") is not None, "no event of rs-0")
    expect_eq(ctx.srv.stop(), 0, "clmd exit status")
    # The restart happens while a call is waiting: it reconnects, resends.
    # (clmd is started from the main thread: PR_SET_PDEATHSIG fires when
    # the thread that started it ends.)
    result = []

    def call():
        try:
            result.append(c.status(timeout=15))
        except Exception as e:  # noqa: BLE001 - reported below
            result.append(e)

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.5)
    try:
        ctx.srv.start()
    finally:
        t.join()
    st = result[0] if result else None
    if expect(isinstance(st, pb.StatusReply), "status across the restart: "
              "%r", st):
        expect_eq((st.customers, st.touchpoints),
                  (before.customers + 1, before.touchpoints + 1),
                  "counts after restart")
    # The watcher reconnected too: probe until an event arrives, drain to a
    # marker (a probe's event may come late); then the next change is the
    # next event, with the replied seq, after rs-0's.
    ok = False
    for i in range(40):
        probe(c, "rs-%d" % (i + 1), T1)
        if w.recv(0.25) is not None:
            ok = True
            break
    expect(ok, "the watcher did not reconnect")
    if ok and drain(c, w, "rs-marker"):
        r = c.track(customer_id="rs-next", type="PAGE_VIEW",
                    occurred_at_ms=T1)
        got = w.recv(10)
        if expect(got is not None, "no event of rs-next"):
            expect_eq(got[1].seq, r.changes[0].seq, "seq of the event")
            expect(r.changes[0].seq > last, "seq %d after %d",
                   r.changes[0].seq, last)
    expect(w.reconnects >= 1, "reconnects %d", w.reconnects)
    check_journey_customer(c.customer("alice"), "alice after restart")


# ---------------------------------------------------------------------------
# The second clmd: ipc:// only (calls and events), with a token; TLS.


def make_certs(d):
    """A CA, a server and a client certificate it signed (openssl)."""
    sh = (
        "set -e; cd '%s'; "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem"
        " -days 2 -subj /CN=clm-test-ca 2>/dev/null; "
        "for n in server client; do "
        "openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr"
        " -subj /CN=localhost 2>/dev/null; "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > $n.ext; "
        "openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key"
        " -CAcreateserial -out $n.crt -days 2 -extfile $n.ext 2>/dev/null; "
        "cat $n.crt $n.key > $n.pem; done" % d)
    return subprocess.run(["sh", "-c", sh], capture_output=True,
                          timeout=30).returncode == 0


@check
def ipc_calls_and_events_with_a_token(ctx):
    d = os.path.join(TMP, "ipc-sockets")
    os.makedirs(d, mode=0o700)
    tokens = os.path.join(TMP, "tokens")
    with open(tokens, "w") as f:
        f.write("s3cret\n")
    os.chmod(tokens, 0o600)
    listen = ["ipc://%s/rpc.sock" % d]
    extra = ["--auth-token-file", tokens]
    certs = os.path.join(TMP, "certs")
    os.makedirs(certs)
    tls_port = None
    if shutil.which("openssl") and make_certs(certs):
        tls_port = free_port()
        listen.append("tls+tcp://127.0.0.1:%d" % tls_port)
        extra += ["--tls-cert-file", os.path.join(certs, "server.pem"),
                  "--tls-ca-file", os.path.join(certs, "ca.pem")]
    else:
        print("  (no openssl: tls+tcp:// not checked)")
    srv = Clmd("ipc", listen=listen, events="ipc://%s/events.sock" % d,
               extra=extra).start({"token": "s3cret"})
    ctx.ipc_srv = srv
    c = clm.Client(srv.url, token="s3cret")
    w = clm.watch(srv.events_url, prefix="stage/", timeout=3)
    try:
        expect(c.status().version != "", "status over ipc")
        expect_raises("UNAUTHENTICATED",
                      lambda: clm.Client(srv.url).status(), "no token")
        expect_raises("UNAUTHENTICATED",
                      lambda: clm.Client(srv.url, token="wrong").status(),
                      "wrong token")
        wait_live(c, w, "ipc-probe")
        replied = []
        for tp in journey("ipc-alice"):
            replied.extend(c.track(tp).changes)
        expect_eq(len(replied), 5, "changes over ipc")
        for want in replied:
            got = w.recv(10)
            if not expect(got is not None, "no ipc event seq %d", want.seq):
                break
            expect_eq(got[0], "stage/" + clm.Stage(want.to_stage).name,
                      "ipc topic")
            expect_eq(got[1].seq, want.seq, "ipc seq")
        cu = c.customer("ipc-alice")
        check_journey_customer(cu, "ipc-alice")
        expect(same_customer(cu, ctx.alice), "ipc-alice differs from alice")
        e = expect_raises("INVALID_ARGUMENT", lambda: c.track(
            customer_id="ipc-x", type="PAGE_VIEW", sentiment=5.0),
            "sentiment over ipc")
        if e:
            expect(e.violation("touchpoints[0].sentiment"),
                   "violations %s", e.violations)
        if tls_port:
            ctx_ok = clm.tls_context(os.path.join(certs, "ca.pem"),
                                     os.path.join(certs, "client.pem"))
            t = clm.Client("tls+tcp://localhost:%d" % tls_port, tls=ctx_ok,
                           token="s3cret")
            expect_eq(clm.Stage(t.customer("ipc-alice").stage).name,
                      "ADVOCACY", "over tls")
            t.close()
            no_cert = clm.tls_context(os.path.join(certs, "ca.pem"))
            try:
                clm.Client("tls+tcp://127.0.0.1:%d" % tls_port, tls=no_cert,
                           token="s3cret", timeout=3).status()
                expect(False, "a client without a certificate got in")
            except clm.ConnectionError:
                pass
    finally:
        w.close()
        c.close()
        expect_eq(srv.stop(), 0, "ipc clmd exit status")


@check
def connection_errors(ctx):
    port = free_port()
    t = time.monotonic()
    try:
        clm.Client("tcp://127.0.0.1:%d" % port).status()
        expect(False, "connected to a closed port")
    except clm.ConnectionError as e:
        expect(time.monotonic() - t < 2, "took %.1fs", time.monotonic() - t)
        expect_eq(e.code_name, "UNAVAILABLE", "code")
        expect(isinstance(e, clm.ClmError), "not a ClmError")
        expect(isinstance(e, ConnectionError), "not a builtin ConnectionError")
    try:
        clm.Client("ipc://%s/none.sock" % TMP).status()
        expect(False, "connected to a missing ipc socket")
    except clm.ConnectionError:
        pass
    # The REQ side refuses the PUB socket, and the other way round.
    for fn in (lambda: clm.Client(ctx.srv.events_url).status(),
               lambda: clm.watch(ctx.srv.url)):
        try:
            fn()
            expect(False, "a REQ/PUB mix-up was not noticed")
        except clm.ProtocolError as e:
            expect("expected" in str(e), "message %s", e)
    for bad in ("http://x", "tcp://nohost", "ipc://"):
        try:
            clm.Client(bad)
            expect(False, "%s accepted", bad)
        except ValueError:
            pass


if __name__ == "__main__":
    sys.exit(main(setup))
