"""Dashboards, alert rules and log queries, checked against a real cwtsd on a real cwts-sim.

- config/prometheus/cwtsd-alerts.yml passes `promtool check rules`, and its unit tests
  (cwtsd-alerts.test.yml: each alert fires on a broken series, stays quiet on a healthy one) pass
  `promtool test rules`;
- a live scrape of cwtsd passes `promtool check metrics`, and every metric name that the
  dashboard (config/grafana/cwtsd.json) and the rules use is in that scrape: neither can refer to
  a metric the engine does not export;
- every alert has a `for:`, a severity, a summary, a description and a runbook section that exists
  in docs/operations.md;
- the `jq` filters docs/logging.md documents select what they claim from a real engine's log.

promtool comes from Debian's `prometheus` package and jq from `jq` (scripts/lib.sh installs both);
without them these tests are skipped, or fail under $CWTS_REQUIRE_SIM (scripts/test sets it).
"""
import json
import os
import re
import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cwts_bridge
from conftest import ROOT, Engine, wait_until
from test_control import control_address, get

RULES = ROOT / "config" / "prometheus" / "cwtsd-alerts.yml"
RULES_TEST = ROOT / "config" / "prometheus" / "cwtsd-alerts.test.yml"
DASHBOARD = ROOT / "config" / "grafana" / "cwtsd.json"
OPERATIONS = ROOT / "docs" / "operations.md"
LOGGING = ROOT / "docs" / "logging.md"
# Series Prometheus makes itself, not the engine.
PROMETHEUS_OWN = {"up"}


def tool(name, package):
    path = shutil.which(name)
    if path is None:
        why = f"{name} not found: install Debian's `{package}` package (./scripts/setup, scripts/lib.sh)"
        if os.environ.get("CWTS_REQUIRE_SIM"):
            pytest.fail(why)
        pytest.skip(why)
    return path


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


# ---- the rule file, read without a YAML library (the venv has none): one expr per line -------

def rule_blocks():
    """[(kind, name, text)] for each `- alert:` / `- record:` entry of the rule file."""
    text = RULES.read_text()
    starts = [m for m in re.finditer(r"^\s*- (alert|record): (\S+)\s*$", text, re.M)]
    return [(m.group(1), m.group(2), text[m.end():(starts[k + 1].start() if k + 1 < len(starts) else len(text))])
            for k, m in enumerate(starts)]


def rule_exprs():
    exprs = [m.group(1) for m in re.finditer(r"^\s*expr: (.+)$", RULES.read_text(), re.M)]
    assert len(exprs) == len(rule_blocks()) > 10, "one single-line expr per rule"
    return exprs


def dashboard_exprs():
    dash = json.loads(DASHBOARD.read_text())
    exprs = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            exprs.append(t["expr"])
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["definition"])
    return exprs


def metric_names(expr):
    """The engine metric names an expression selects (its own are all cwts_*)."""
    names = set(re.findall(r"\b(cwts_[a-z0-9_]+)\b", expr))
    names |= {n for n in PROMETHEUS_OWN if re.search(rf"\b{n}\{{", expr)}
    return names


# ---- rules --------------------------------------------------------------------------------------

def test_rules_pass_promtool_check_and_their_unit_tests():
    promtool = tool("promtool", "prometheus")
    r = run([promtool, "check", "rules", str(RULES)])
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    r = run([promtool, "test", "rules", RULES_TEST.name], cwd=RULES_TEST.parent)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_every_alert_is_tested_and_says_what_to_do():
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text()))
    operations = OPERATIONS.read_text()
    headings = {h.strip().lower() for h in re.findall(r"^#+ (.+)$", operations, re.M)}
    alerts = [(name, body) for kind, name, body in rule_blocks() if kind == "alert"]
    assert len(alerts) >= 10
    for name, body in alerts:
        assert name in tested, f"{name} has no case in {RULES_TEST.name}"
        assert re.search(r"^\s*for: \d+[smh]\s*$", body, re.M), f"{name}: no for:"
        assert re.search(r"^\s*severity: (critical|warning)\s*$", body, re.M), f"{name}: no severity"
        for key in ("summary", "description"):
            assert re.search(rf"^\s*{key}: \"[^\"]{{15,}}", body, re.M), f"{name}: no {key}"
        runbook = re.search(r"^\s*runbook: \"docs/operations.md#(\S+)\"\s*$", body, re.M)
        assert runbook and runbook.group(1) == name.lower(), f"{name}: runbook"
        assert name.lower() in headings, f"docs/operations.md has no section {name}"
    # The alerts the operator must act on, by the conditions issue 20 names.
    names = {n for n, _ in alerts}
    assert {"CwtsFeedDown", "CwtsBookInvalid", "CwtsVenueBan", "CwtsVenueBackoff",
            "CwtsVenueWeightNearLimit", "CwtsWatchdogNearExpiry", "CwtsForeignOrder",
            "CwtsPositionMismatch", "CwtsEngineNotReady", "CwtsHotThreadStalled"} <= names


def test_dashboard_is_an_importable_grafana_dashboard():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36  # Grafana 9+
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["type"] == "query"
    titles = set()
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        titles.add(panel["title"])
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
            assert metric_names(t["expr"]), t["expr"]
            for name in metric_names(t["expr"]):  # every selector is narrowed to the chosen engines
                assert re.search(rf"\b{name}\{{[^}}]*instance=~\"\$instance\"", t["expr"]), t["expr"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for wanted in ("Ready (/readyz)", "Trading state", "Book validity by symbol", "Publish latency (frame -> shared memory)",
                   "Signals by outcome / s", "Rejects by reason / s", "Venue usage / limit", "Ring occupancy",
                   "Lapped readers", "Market-data frames / s"):
        assert wanted in titles, wanted


# ---- a live scrape --------------------------------------------------------------------------------

def test_live_scrape_passes_promtool_and_has_every_metric_the_dashboard_and_rules_use(engine):
    promtool = tool("promtool", "prometheus")
    port = control_address(engine)["port"]
    # Something in the rings and the reports table first, so their labelled series exist.
    with cwts_bridge.attach(engine.instance, slot=-1) as b:
        q = b.quote("BTCUSDT")
        r = b.wait_report(b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.5, 2)), 5.0)
        assert r is not None and r.reason == "PRICE_BAND"
        assert wait_until(lambda: get(port, "/readyz")[0] == 200, timeout=10)
        status, _, body = get(port, "/metrics")
    assert status == 200
    lint = run([promtool, "check", "metrics"], input=body)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    exported = set()
    for family in text_string_to_metric_families(body):
        exported.add(family.name)
        exported |= {s.name for s in family.samples}  # _total, _bucket, _sum, _count
    exported |= PROMETHEUS_OWN
    used = {}
    for where, exprs in (("config/prometheus/cwtsd-alerts.yml", rule_exprs()),
                         ("config/grafana/cwtsd.json", dashboard_exprs())):
        for expr in exprs:
            for name in metric_names(expr):
                used.setdefault(name, set()).add(where)
    assert len(used) > 25  # the extraction found the names
    missing = {name: sorted(where) for name, where in used.items() if name not in exported}
    assert not missing, f"metrics used but not exported by cwtsd: {missing}"

    # The values the rules divide by and compare with.
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(body) for s in f.samples}
    assert samples[("cwts_ready", ())] == 1
    assert samples[("cwts_venue_limit", (("limit", "request_weight_1m"),))] > 0
    assert samples[("cwts_progress_timeout_seconds", ())] == 2  # systemd.progress_timeout_ms default
    assert samples[("cwts_venue_backoffs_total", (("http_status", "429"),))] == 0


def test_the_name_check_catches_an_unknown_metric():
    assert metric_names('rate(cwts_md_frame_total{instance=~"$instance"}[1m]) > up{job="cwtsd"}') == \
        {"cwts_md_frame_total", "up"}


# ---- jq on a real log ----------------------------------------------------------------------------

def jq(filter_, log, *args, slurp=False):
    r = run([tool("jq", "jq"), "-c"] + (["-s"] if slurp else []) + list(args) + [filter_, str(log)])
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


# The filters exactly as docs/logging.md gives them (the test checks the text is there).
WHY_REJECTED = "select(.slot == $slot and .seq == $seq)"
BY_ORDER = "select(.client_order_id == $cid)"
SENT_RECENTLY = ('select(.event == "order_sent" and (.ts[:19] + "Z" | fromdate) > now - $min * 60)'
                 ' | {ts, slot, seq, client_order_id, symbol, side, qty, price}')
ALERTS = 'select(.event == "alert") | {ts, alert, detail}'
RECOVERY = 'select(.event == "journal_opened")'
VENUE_ERRORS = 'select(.event == "venue_error" or .event == "backoff") | {ts, event, error, http_status, retry_after_s}'
REJECTS_BY_REASON = 'map(select(.event == "signal_rejected")) | group_by(.reason) | map({reason: .[0].reason, signals: length})'
ERRORS = 'select(.level == "error" or .level == "critical")'


def test_documented_jq_filters_answer_their_questions_on_a_real_log(synthetic_sim, tmp_path):
    tool("jq", "jq")
    doc = LOGGING.read_text()
    for f in (WHY_REJECTED, BY_ORDER, SENT_RECENTLY, ALERTS, RECOVERY, VENUE_ERRORS, REJECTS_BY_REASON, ERRORS):
        assert f in doc, f"docs/logging.md does not give: {f}"

    e = Engine(synthetic_sim, tmp_path, overrides={"journal": {"dir": str(tmp_path)}})
    try:
        with cwts_bridge.attach(e.instance, slot=-1) as b:
            slot = b.slot
            q = b.quote("BTCUSDT")
            # 1. Refused by the engine: outside the price band.
            rejected = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.5, 2))
            assert b.wait_report(rejected, 5.0).reason == "PRICE_BAND"
            # 2. Sent, rests on the book.
            resting = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.99, 2))
            new = wait_until(lambda: [r for r in b.reports() if r.seq == resting and r.kind == "NEW"], timeout=5)
            assert new, "the resting order was not acknowledged"
            resting_cid = new[0].client_order_id
            b.cancel(resting)
            assert b.wait_report(resting, 5.0).kind == "CANCELLED"
            # 3. Sent, and the venue bans this IP for it (HTTP 418): backoff, a REJECTED with the
            # venue's code, and the venue_ban alert.
            synthetic_sim.fault({"http_status": 418, "path": "/api/v3/order"})
            banned = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.99, 2))
            r = b.wait_report(banned, 10.0)
            assert r is not None and r.kind == "REJECTED" and r.reason == "RATE_LIMITED", r
        log = e.log_path
        assert wait_until(lambda: '"alert"' in log.read_text() and '"backoff"' in log.read_text(), timeout=10)
    finally:
        assert e.stop() == 0

    # Why was signal (slot, seq) rejected?
    lines = jq(WHY_REJECTED, log, "--argjson", "slot", str(slot), "--argjson", "seq", str(rejected))
    assert [(l["event"], l["reason"]) for l in lines] == [("signal_rejected", "PRICE_BAND")]
    # A sent one: the same filter gives its order_sent line and client order id ...
    lines = jq(WHY_REJECTED, log, "--argjson", "slot", str(slot), "--argjson", "seq", str(banned))
    sent = [l for l in lines if l["event"] == "order_sent"]
    assert len(sent) == 1 and sent[0]["symbol"] == "BTCUSDT"
    banned_cid = sent[0]["client_order_id"]
    # ... and by client order id, what became of it at the venue.
    lines = jq(BY_ORDER, log, "--arg", "cid", banned_cid)
    events = [l["event"] for l in lines]
    assert events[0] == "order_sent" and "order_final" in events, events
    final = [l for l in lines if l["event"] == "order_final"][0]
    assert final["state"] == "REJECTED" and final["venue_code"] != 0, final
    assert all(l["client_order_id"] == banned_cid for l in lines)
    # Orders sent in the last 10 minutes: both sent ones, not the refused one.
    lines = jq(SENT_RECENTLY, log, "--argjson", "min", "10")
    assert sorted(l["client_order_id"] for l in lines) == sorted([resting_cid, banned_cid])
    assert all(set(l) == {"ts", "slot", "seq", "client_order_id", "symbol", "side", "qty", "price"} for l in lines)
    assert jq(SENT_RECENTLY, log, "--argjson", "min", "-10") == []  # a window in the future: none
    # Alerts.
    lines = jq(ALERTS, log)
    assert any(l["alert"] == "venue_ban" and l["detail"] for l in lines), lines
    # The journal's recovery summary at start.
    lines = jq(RECOVERY, log)
    assert len(lines) == 1 and lines[0]["records_read"] == 0 and lines[0]["open_orders_recovered"] == 0
    assert lines[0]["path"].endswith(".journal")
    # What the venue said without an order to pin it on: the 418 and its Retry-After.
    lines = jq(VENUE_ERRORS, log)
    assert any(l["event"] == "backoff" and l["http_status"] == 418 and l["retry_after_s"] > 0 for l in lines), lines
    # Refusals counted by reason (slurped).
    (counts,) = jq(REJECTS_BY_REASON, log, slurp=True)
    assert {"reason": "PRICE_BAND", "signals": 1} in counts
    # Errors only.
    assert all(l["level"] in ("error", "critical") for l in jq(ERRORS, log))


ORDER_STAGES_JQ = 'select(.event == "order_stage") | {stage, orders, p50_ns, p99_ns}'
ORDER_STAGES = ["pickup", "checks", "record", "request", "write_call", "signal_to_write"]


def order_stage_lines(log):
    lines = (json.loads(l) for l in log.read_text().splitlines() if l.strip().startswith("{"))
    return [l for l in lines if l.get("event") == "order_stage"]


def test_order_stages_say_where_each_orders_time_went_and_only_when_asked(synthetic_sim, tmp_path):
    """log.order_stages: at shutdown, one order_stage line per stage of the exec thread's way
    from the signal to the order's write. With one order, each line's percentiles are that order's
    own span, so the four stages up to the write add up to signal -> write to the nanosecond."""
    runs = {}
    for on in (True, False):
        overrides = {"log": {"order_stages": True}} if on else {}
        e = Engine(synthetic_sim, tmp_path, overrides=overrides)
        try:
            with cwts_bridge.attach(e.instance, slot=-1) as b:
                q = b.quote("BTCUSDT")
                seq = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.99, 2), tif="IOC")
                r = b.wait_report(seq, 10.0)
                assert r is not None and r.kind != "REJECTED", r
        finally:
            assert e.stop() == 0
        runs[on] = order_stage_lines(e.log_path)
        if on:
            e_on_log = e.log_path
    assert runs[False] == [], "order stages logged without log.order_stages"
    lines = runs[True]
    assert [l["stage"] for l in lines] == ORDER_STAGES, lines
    span = {}
    for l in lines:
        assert l["component"] == "exec" and l["orders"] == 1, l
        assert l["p50_ns"] == l["p90_ns"] == l["p99_ns"] == l["max_ns"] >= 0, l
        span[l["stage"]] = l["p50_ns"]
    assert span["pickup"] + span["checks"] + span["record"] + span["request"] == span["signal_to_write"]
    assert span["request"] > 0 and span["write_call"] > 0, span
    # The way an operator reads them (docs/logging.md).
    tool("jq", "jq")
    assert ORDER_STAGES_JQ in LOGGING.read_text()
    got = jq(ORDER_STAGES_JQ, e_on_log)
    assert [(l["stage"], l["orders"]) for l in got] == [(s, 1) for s in ORDER_STAGES]
    assert all(set(l) == {"stage", "orders", "p50_ns", "p99_ns"} for l in got)
