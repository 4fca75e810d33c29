#!/usr/bin/env python3
"""Checks a scrape of hnvmfd's /metrics with Prometheus' own exposition parser
(python3-prometheus-client) and compares the I/O counters of one host with what the test did.

usage: check_metrics.py FILE HOSTNQN READS WRITES READ_BYTES WRITE_BYTES ERRORS_SCT ERRORS_SC ERRORS [DASHBOARD]
Exits 0 when the text parses, follows the naming conventions, and the host's counters match;
with DASHBOARD (contrib/grafana/hnvmf-dashboard.json), every metric its queries use exists."""
import json
import re
import sys
from prometheus_client.parser import text_string_to_metric_families


def fail(msg):
    print("check_metrics: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    path, host = sys.argv[1], sys.argv[2]
    reads, writes, rbytes, wbytes, sct, sc, nerr = sys.argv[3:10]
    text = open(path, encoding="utf-8").read()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for f in fams.values():
        if not f.name.startswith("hnvmf_"):
            fail(f"{f.name}: not in the hnvmf_ namespace")
        if f.type == "counter" and f"# TYPE {f.name}_total counter" not in text:
            fail(f"{f.name}: a counter not named ..._total")
        if f.type == "histogram":
            if not f.name.endswith("_seconds"):
                fail(f"{f.name}: a latency histogram not in seconds")
            series = {}
            for s in f.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                part = s.name[len(f.name):]  # _bucket, _sum, _count
                series.setdefault(key, {}).setdefault(part, []).append((s.labels.get("le"), s.value))
            for key, parts in series.items():
                buckets = parts["_bucket"]
                if buckets[-1][0] != "+Inf":
                    fail(f"{f.name}{key}: no +Inf bucket")
                values = [v for _, v in buckets]
                if values != sorted(values):
                    fail(f"{f.name}{key}: buckets not cumulative")
                if values[-1] != parts["_count"][0][1]:
                    fail(f"{f.name}{key}: +Inf bucket != count")

    def total(fam, suffix, **want):
        n = 0
        for s in fams[fam].samples:
            if s.name == fam + suffix and s.labels.get("host") == host and all(
                    s.labels.get(k) == v for k, v in want.items()):
                n += s.value
        return int(n)

    checks = [
        ("reads", total("hnvmf_commands", "_total", op="read"), int(reads)),
        ("writes", total("hnvmf_commands", "_total", op="write"), int(writes)),
        ("read bytes", total("hnvmf_bytes", "_total", op="read"), int(rbytes)),
        ("write bytes", total("hnvmf_bytes", "_total", op="write"), int(wbytes)),
        ("errors", total("hnvmf_command_errors", "_total", sct=sct, sc=sc), int(nerr)),
        ("latency count", total("hnvmf_command_latency_seconds", "_count"), int(reads) + int(writes)),
        ("arrivals", total("hnvmf_arrivals", "_total"), int(reads) + int(writes)),
    ]
    for what, got, want in checks:
        if got != want:
            fail(f"host {host}: {what} {got}, expected {want}")
    for fam in ("hnvmf_queues", "hnvmf_auth_failures", "hnvmf_pqm_servers", "hnvmf_tenant_iops",
                "hnvmf_dam_grants"):
        if fam not in fams:
            fail(f"{fam} missing")
    if len(sys.argv) > 10:
        names = set()
        for f in fams.values():
            names.update(s.name for s in f.samples)
        for panel in json.load(open(sys.argv[10], encoding="utf-8"))["panels"]:
            for t in panel["targets"]:
                for m in re.findall(r"hnvmf_[a-z0-9_]+", t["expr"]):
                    if m not in names:
                        fail(f"dashboard panel '{panel['title']}': {m} is not exported")
    print("check_metrics: ok")


main()
