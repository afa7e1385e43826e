"""What an operator watches (issue 16): /metrics scraped from a served hub after real SMTP and IMAP traffic,
parsed with prometheus-client's own parser; the JSON activity log parsed line by line, a session's trace id
followed to its delivery, and no marker of the messages' content in it."""

from __future__ import annotations

import imaplib
import json
import smtplib
import ssl
import time
import urllib.request
import uuid

from prometheus_client.parser import text_string_to_metric_families

from mssante_hub.config import Config
from mssante_hub.directory.whitelist import install
from tests.smtp.support import whitelist_xml
from mssante_hub.hub import Hub
from tests.conftest import TEST_PASSWORD, add_professional, make_data_dir
from tests.support.mail import make_message
from tests.support.served import served

JSON_KEYS = {"time", "level", "logger", "pid", "trace", "message"}


def unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def scrape(port: int) -> dict[str, list]:
    """name -> samples (prometheus_client.samples.Sample: name, labels, value)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain")
        text = answer.read().decode()
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict, name: str, **labels) -> float:
    found = [s.value for s in samples.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    return sum(found)


def prepare(tmp_path, **settings):
    data_dir = make_data_dir(tmp_path)
    config = Config.load(data_dir)
    config.set("mx.trusted_networks", ["127.0.0.0/8"])
    config.set("limits.max_header_fields", 12)  # a message with more is refused by delivery (a refusal counted)
    config.set("relay.routes", ["confrere.test=127.0.0.1:9"])  # nothing listens there: a temporary outcome
    config.set("relay.retry_schedule_s", [3600])
    for key, val in settings.items():
        config.set(key.replace("__", "."), val)
    config.save()
    listed = tmp_path / "liste.xml"  # the other operator's domain is in the trust space
    listed.write_bytes(whitelist_xml([("confrere.test", "CN=mx.confrere.test,O=Confrere")]))
    install(listed, config.path_setting("mx.whitelist_file"))
    with Hub.open(data_dir) as hub:
        reader = add_professional(hub, "dr.metrique")
    return data_dir, reader


def traffic(server, reader: str, run: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.port("mx"), timeout=30) as client:
        for n in range(3):
            client.sendmail("dpi@chu.example", [reader],
                            make_message("dpi@chu.example", reader, f"Objet SUBJ{run}{n}", f"Texte BODY{run}{n}"))
        crowded = make_message("dpi@chu.example", reader, f"Objet SUBJ{run}x", f"BODY{run}x").decode()
        crowded = "".join(f"X-Champ-{i}: {i}\r\n" for i in range(20)) + crowded
        try:
            client.sendmail("dpi@chu.example", [reader], crowded.encode())
            raise AssertionError("a message over limits.max_header_fields was accepted")
        except smtplib.SMTPDataError:
            pass
    with smtplib.SMTP("127.0.0.1", server.port("submission"), timeout=30) as client:
        client.starttls(context=unverified())
        client.login(reader, TEST_PASSWORD)
        client.sendmail(reader, ["confrere@confrere.test"],
                        make_message(reader, "confrere@confrere.test", f"Avis SUBJ{run}r", f"Texte BODY{run}r"))


def test_metrics_after_real_traffic_parse_and_count_what_happened(tmp_path):
    data_dir, reader = prepare(tmp_path)
    run = uuid.uuid4().hex[:10].upper()
    with served(data_dir, ["mx", "submission", "imaps", "web"]) as server:
        traffic(server, reader, run)
        imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=unverified(), timeout=30)
        imap.login(reader, TEST_PASSWORD)
        imap.select("INBOX")
        imap.fetch("1:*", "(FLAGS)")
        imap.uid("FETCH", "1:*", "(UID)")
        imap.noop()
        deadline = time.monotonic() + 30
        while True:  # the relay worker is woken by the delivery; its attempt fails (nothing on port 9)
            samples = scrape(server.port("web"))
            if value(samples, "mssante_hub_relay_outcomes_total", outcome="temporary") >= 1:
                break
            assert time.monotonic() < deadline, "no relay outcome counted"
            time.sleep(0.1)
        assert value(samples, "mssante_hub_imap_sessions") == 1
        imap.logout()
        assert server.stop() == 0
    assert value(samples, "mssante_hub_deliveries_total", door="mx") == 3
    assert value(samples, "mssante_hub_deliveries_total", door="submission") == 1
    assert value(samples, "mssante_hub_refusals_total", door="mx", reason="TOO_MANY_HEADERS") == 1
    assert value(samples, "mssante_hub_commit_batch_size_count") >= 1
    assert value(samples, "mssante_hub_commit_batch_size_sum") >= 4
    assert value(samples, "mssante_hub_commit_seconds_count") >= 1
    assert value(samples, "mssante_hub_imap_command_seconds_count", command="SELECT") == 1
    assert value(samples, "mssante_hub_imap_command_seconds_count", command="FETCH") == 2  # UID FETCH is FETCH
    assert value(samples, "mssante_hub_imap_command_seconds_count", command="LOGIN") == 1
    assert value(samples, "mssante_hub_relay_queue_depth") == 1  # still queued, retried in an hour
    assert value(samples, "mssante_hub_relay_queue_oldest_seconds") > 0
    assert value(samples, "mssante_hub_smtp_sessions") == 0
    assert value(samples, "mssante_hub_worker_up") == 1


def test_metrics_on_their_own_listener_and_not_on_the_web(tmp_path):
    data_dir, _ = prepare(tmp_path, metrics__listen="127.0.0.1:0")
    with served(data_dir, ["web", "metrics"]) as server:  # --listen metrics= moves it (port 0 here)
        samples = scrape(server.port("metrics"))
        assert "mssante_hub_deliveries_total" in {n.removesuffix("_created") for n in samples} or \
            "mssante_hub_relay_queue_depth" in samples
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port('web')}/metrics", timeout=30)
            raise AssertionError("/metrics is on the web listener too")
        except urllib.error.HTTPError as refused:
            assert refused.code == 404


def test_json_log_one_object_a_line_traced_and_without_content(tmp_path):
    data_dir, reader = prepare(tmp_path, log__level="debug")
    run = uuid.uuid4().hex[:10].upper()
    with served(data_dir, ["mx", "submission", "imaps"], extra_args=("--log-format", "json")) as server:
        traffic(server, reader, run)
        imap = imaplib.IMAP4_SSL("127.0.0.1", server.port("imaps"), ssl_context=unverified(), timeout=30)
        imap.login(reader, TEST_PASSWORD)
        imap.select("INBOX")
        imap.logout()
        deadline = time.monotonic() + 30
        while "relay item" not in server.log():
            assert time.monotonic() < deadline, "the relay did not try"
            time.sleep(0.05)
        assert server.stop() == 0
        log = server.log()
    events = [json.loads(line) for line in log.splitlines()]  # every line is one JSON object
    assert events and all(set(e) == JSON_KEYS for e in events)
    assert run not in log and TEST_PASSWORD not in log
    opened = [e for e in events if e["message"].startswith("session opened on mx")]
    delivered = [e for e in events if e["message"].startswith("delivered on mx: id ")]
    assert len(opened) == 1 and len(delivered) == 3
    assert opened[0]["trace"].startswith("smtp-") and {e["trace"] for e in delivered} == {opened[0]["trace"]}
    refused = [e for e in events if e["message"].startswith("refused on mx")]
    assert [e["trace"] for e in refused] == [opened[0]["trace"]]
    relayed = next(e for e in events if e["message"].startswith("delivered on submission"))
    message_id = relayed["message"].split("id ", 1)[1].split(",", 1)[0]
    assert [e for e in events if e["message"].startswith("relay item") and f"(message {message_id})" in e["message"]]
    imap_lines = [e for e in events if e["logger"] == "mssante_hub.imap" and "IMAP session" in e["message"]]
    assert imap_lines and all(e["trace"].startswith("imap-") for e in imap_lines)
    assert len({e["trace"] for e in imap_lines}) == 1
    assert {e["pid"] for e in events} == {server.process.pid}
