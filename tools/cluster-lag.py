#!/usr/bin/python3
"""Apply lag between two clmd nodes of a cluster (issue 16), for
tools/cluster-bench.sh.

    cluster-lag.py URL_A URL_B OUT [--until-file F] [--count N]

Over and over: Track one touchpoint through node A (its reply's position
P and the moment the reply arrived, t_ack), then ask node B for
ServerStatus with min_position = P (t_seen: when B's reply arrived, which
it sends only once it has applied P). The lag of one probe is t_seen -
t_ack: how long after A acknowledged a write B shows it, plus one round
trip to B. The round trip alone is measured too (ServerStatus on B
without min_position right after) and printed, so it can be subtracted.

Runs until the file given by --until-file exists (then prints the
summary into OUT and exits), or for --count probes. Uses the Python
client from client/python (put it on PYTHONPATH).
"""
import argparse
import os
import sys
import time

import clm


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url_a")
    ap.add_argument("url_b")
    ap.add_argument("out")
    ap.add_argument("--until-file")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--label", default="")
    o = ap.parse_args()
    a = clm.Client(o.url_a, timeout=30)
    b = clm.Client(o.url_b, timeout=30)
    lag, rtt, errors = [], [], 0
    n = 0
    nonce = "%d-%d" % (os.getpid(), int(time.time()))
    while True:
        if o.until_file and os.path.exists(o.until_file):
            break
        if o.count and n >= o.count:
            break
        n += 1
        try:
            resp = a.call(track={"touchpoints": [{
                "event_id": "lag-%s-%d" % (nonce, n),
                "customer_id": "lag-probe-%d" % (n % 100),
                "type": "PAGE_VIEW"}]}, deadline_ms=10000)
            t_ack = time.monotonic()
            b.call(server_status={}, min_position=resp.position,
                   deadline_ms=10000)
            t_seen = time.monotonic()
            b.call(server_status={})
            t_rtt = time.monotonic()
        except Exception as e:  # ClmError, a lost connection
            errors += 1
            print("cluster-lag: %s" % e, file=sys.stderr)
            time.sleep(0.1)
            continue
        lag.append((t_seen - t_ack) * 1000.0)
        rtt.append((t_rtt - t_seen) * 1000.0)
        time.sleep(0.01)
    with open(o.out, "w") as f:
        f.write("%s probes %d, errors %d; lag ms p50 %.2f p99 %.2f max %.2f; "
                "B's round trip alone ms p50 %.2f p99 %.2f\n"
                % (o.label, len(lag), errors, pct(lag, 50), pct(lag, 99),
                   max(lag) if lag else float("nan"), pct(rtt, 50),
                   pct(rtt, 99)))
    a.close()
    b.close()


if __name__ == "__main__":
    main()
