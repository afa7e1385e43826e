"""The webmail JSON API over real HTTP: sign-in, sessions, listing, reading, sending, history, hostile input."""

from __future__ import annotations

import base64
import json
import datetime as dt
import http.client
import socket
import subprocess
import time

from sqlalchemy import func, select, update

from mssante_hub.rules import refusals
from mssante_hub.patients import lifecycle
from mssante_hub.reader import read_folder
from storage.sessions import WebSession
from tests.conftest import TEST_PASSWORD, add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient

PATIENT_PASSWORD = "mot de passe de camille"  # what active_patient sets


def _patient(web_hub, email: str):
    address, account_id = active_patient(web_hub.hub, email)
    return address, account_id, address.partition("@")[0].upper()


def test_sign_in_with_ins_or_address_and_sign_out(web_hub):
    address, _, ins = _patient(web_hub, "signin@courriel.example")
    anonymous = web_hub.client()
    assert anonymous.call("GET", "/api/session").status == 401
    by_ins = anonymous.login(ins, PATIENT_PASSWORD)
    by_address = anonymous.login(address.upper(), PATIENT_PASSWORD)
    me = by_ins.call("GET", "/api/session")
    assert me.status == 200 and me.body["address"] == address and me.body["type"] == "PATIENT"
    assert me.headers["cache-control"] == "no-store" and "twisted" not in me.headers.get("server", "").lower()
    assert by_ins.call("DELETE", "/api/session").status == 204
    assert by_ins.call("GET", "/api/session").status == 401  # that token is gone for good
    assert by_address.call("GET", "/api/session").status == 200  # the other session lives on
    wrong = anonymous.call("POST", "/api/session", {"login": ins, "password": "pas le bon"})
    assert wrong.status == 401 and wrong.error["code"] == "login_failed" and wrong.error["fr"]
    assert anonymous.call("GET", "/api/messages", headers={"Authorization": "Bearer inventé"}).status == 401


def test_the_database_keeps_only_a_hash_of_the_token(web_hub):
    _, _, ins = _patient(web_hub, "hash@courriel.example")
    client = web_hub.client().login(ins, PATIENT_PASSWORD)
    rows = web_hub.hub.read_sync(lambda conn: conn.execute(WebSession.__table__.select()).all())
    assert rows and all(client.token.encode() not in row.token_hash for row in rows)
    for path in web_hub.data_dir.glob("hub.sqlite3*"):  # the database and its WAL
        assert client.token.encode() not in path.read_bytes()


def test_professional_writes_patient_reads_replies_and_history_shows_it(web_hub):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.web", password=TEST_PASSWORD)
    patient, _, ins = _patient(web_hub, "lecture@courriel.example")
    pro = web_hub.client().login(doctor, TEST_PASSWORD)
    sent = pro.send([patient], subject="Résultats d'analyse", body="Vos résultats sont normaux.")
    assert sent.status == 201 and sent.body["delivered"] == [patient] and sent.body["sent_copy"]

    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    listing = me.call("GET", "/api/messages?folder=INBOX")
    assert listing.status == 200
    [item] = listing.body["messages"]
    assert item["subject"] == "Résultats d'analyse" and doctor in item["from"] and not item["seen"]
    opened = me.call("GET", f"/api/messages/{item['id']}")
    assert opened.status == 200 and opened.body["text"].strip() == "Vos résultats sont normaux."

    reply = me.send([doctor], subject="Re: Résultats d'analyse", body="Merci docteur",
                    in_reply_to=opened.body["message_id"])
    assert reply.status == 201, reply.body
    assert [m.summary["subject"] for m in read_folder(hub, doctor)] == ["Re: Résultats d'analyse"]
    sent_box = me.call("GET", "/api/messages?folder=Sent").body["messages"]
    assert [m["subject"] for m in sent_box] == ["Re: Résultats d'analyse"] and sent_box[0]["seen"]

    history = me.call("GET", "/api/history").body["history"]
    actions = [(e["actor"], e["action"], e["outcome"]) for e in history]
    assert ("Dr Web", "deliver", "ok") in actions  # the professional's message, by name
    assert any(a == "read" for _, a, _ in actions) and any(a == "login" for _, a, _ in actions)


def test_another_holders_message_is_not_found(web_hub):
    doctor = add_professional(web_hub.hub, "dr.autre", password=TEST_PASSWORD)
    first, _, first_ins = _patient(web_hub, "premier@courriel.example")
    second, _, second_ins = _patient(web_hub, "second@courriel.example")
    # One message to both: each holds a key to the same body, yet sees only its own mailbox's copy.
    send(web_hub.hub, doctor, [first, second], subject="Commun")
    one = web_hub.client().login(first_ins, PATIENT_PASSWORD)
    two = web_hub.client().login(second_ins, PATIENT_PASSWORD)
    [mine] = one.call("GET", "/api/messages").body["messages"]
    assert two.call("GET", f"/api/messages/{mine['id']}").status == 404
    assert one.call("GET", f"/api/messages/{mine['id']}").status == 200
    assert one.call("GET", "/api/messages/99999999").status == 404


def test_refusals_carry_the_smtp_words_in_french_and_english(web_hub):
    doctor = add_professional(web_hub.hub, "dr.inconnu", password=None)
    _, _, ins = _patient(web_hub, "refus@courriel.example")
    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    refused = me.send([doctor])
    reason = refusals.PATIENT_NOT_A_CONTACT
    assert refused.status == 403
    assert refused.error == {"code": reason.status, "fr": reason.fr, "en": reason.en}
    assert me.call("GET", "/api/messages?folder=Sent").body["messages"] == []  # a refusal files nothing


def test_patient_attachment_types_over_the_api(web_hub):
    doctor = add_professional(web_hub.hub, "dr.pj", password=None)
    patient, _, ins = _patient(web_hub, "pj@courriel.example")
    send(web_hub.hub, doctor, [patient], subject="Envoyez-moi l'ordonnance")
    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    pdf = {"filename": "ordonnance.pdf", "content_type": "application/pdf",
           "content_base64": base64.b64encode(b"%PDF-1.4 ordonnance").decode()}
    exe = {"filename": "outil.exe", "content_type": "application/octet-stream",
           "content_base64": base64.b64encode(b"MZ...").decode()}
    assert me.send([doctor], attachments=[pdf]).status == 201
    refused = me.send([doctor], attachments=[exe])
    assert refused.status == 422 and refused.error["code"] == refusals.PATIENT_ATTACHMENT_TYPE.status
    [received] = [m for m in read_folder(web_hub.hub, doctor)]
    assert b"ordonnance.pdf" in received.raw


def test_closure_ends_sessions_even_after_reopening(web_hub):
    _, _, ins = _patient(web_hub, "fermeture@courriel.example")
    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    assert me.call("GET", "/api/messages").status == 200
    lifecycle.close_space(web_hub.hub, ins, actor="holder")
    assert me.call("GET", "/api/messages").status == 401
    lifecycle.reopen_space(web_hub.hub, ins, actor="holder", new_password="nouveau mot de passe")
    assert me.call("GET", "/api/messages").status == 401
    assert web_hub.client().login(ins, "nouveau mot de passe").call("GET", "/api/messages").status == 200


def test_an_idle_session_lapses(web_hub):
    _, account_id, ins = _patient(web_hub, "inactif@courriel.example")
    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    # web.session_idle_minutes is 120 by default (issue 15: a session ends after 2 hours idle).
    past_idle = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=121)

    def age(conn):
        conn.execute(update(WebSession).where(WebSession.account_id == account_id).values(last_seen_at=past_idle))

    web_hub.hub.committer.run(age)
    assert me.call("GET", "/api/session").status == 401


def test_hostile_requests_are_refused_and_the_listener_keeps_serving(web_hub):
    doctor = add_professional(web_hub.hub, "dr.hostile", password=TEST_PASSWORD)
    pro = web_hub.client().login(doctor, TEST_PASSWORD)
    port = web_hub.port
    assert pro.call("POST", "/api/messages", raw=b"{not json", headers={"Content-Type": "application/json"}
                    ).status == 400
    assert pro.call("POST", "/api/messages", raw=b"to=x", headers={"Content-Type": "text/plain"}).status == 415
    deep = b"[" * 10_000 + b"]" * 10_000
    assert pro.call("POST", "/api/messages", raw=deep, headers={"Content-Type": "application/json"}).status == 400
    injected = pro.send([doctor], subject="Bonjour\r\nBcc: espion@ailleurs.test")
    assert injected.status == 422 and injected.error["code"] == "invalid_field"
    assert pro.send(["pas une adresse"]).status == 422
    assert pro.call("GET", "/api/nothing").status == 404
    assert pro.call("PUT", "/api/messages").status == 405

    # A declared 2 GB body is answered 413 at once, before any of it is read.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Authorization: Bearer " + pro.token.encode() + b"\r\nContent-Length: 2000000000\r\n\r\n")
        assert raw.recv(200).startswith(b"HTTP/1.1 413")
    # A chunked body (no declared length) is cut off at the cap too: curl, a real client.
    big = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked",
         "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {pro.token}",
         "--data-binary", "@-", f"http://127.0.0.1:{port}/api/messages"],
        input=b"x" * (3 * 1024 * 1024), capture_output=True, timeout=60)
    assert big.stdout in (b"413", b"000"), big.stdout  # 000: curl saw the close while still sending
    assert pro.send([doctor], subject="Toujours là").status == 201


def test_health_check_still_answers(web_hub):
    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=10)
    connection.request("GET", "/healthz")
    assert connection.getresponse().status == 200


def test_reading_marks_seen_and_delete_goes_to_trash_then_away(web_hub):
    doctor = add_professional(web_hub.hub, "dr.corbeille", password=None)
    patient, account_id, ins = _patient(web_hub, "corbeille@courriel.example")
    send(web_hub.hub, doctor, [patient], subject="À jeter")
    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    [item] = me.call("GET", "/api/messages").body["messages"]
    assert not item["seen"]
    assert me.call("GET", f"/api/messages/{item['id']}").status == 200
    [item] = me.call("GET", "/api/messages").body["messages"]
    assert item["seen"]  # the flag an IMAP client would set, in the store
    assert me.call("DELETE", f"/api/messages/{item['id']}").status == 204
    assert me.call("GET", "/api/messages").body["messages"] == []
    [trashed] = me.call("GET", "/api/messages?folder=Trash").body["messages"]
    assert trashed["subject"] == "À jeter"
    assert me.call("DELETE", f"/api/messages/{trashed['id']}").status == 204
    assert me.call("GET", "/api/messages?folder=Trash").body["messages"] == []
    assert me.call("DELETE", f"/api/messages/{trashed['id']}").status == 404
    history = me.call("GET", "/api/history").body["history"]
    assert [e["outcome"] for e in history if e["action"] == "delete"] == ["deleted", "trashed"]


def test_a_large_chunked_body_never_touches_a_temporary_file(web_hub):
    """Twisted would spool this body to an unlinked temporary file; ours stays in memory."""
    import os

    doctor = add_professional(web_hub.hub, "dr.memoire", password=TEST_PASSWORD)
    pro = web_hub.client().login(doctor, TEST_PASSWORD)
    body = json.dumps({"to": [doctor], "subject": "Gros", "body": "MARQUEUR-SECRET " * 20_000}).encode()
    half = len(body) // 2
    pid = web_hub.running.process.pid

    def spooled() -> list[str]:
        found = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.endswith("(deleted)"):
                found.append(target)
        return found

    with socket.create_connection(("127.0.0.1", web_hub.port), timeout=30) as raw:
        raw.sendall(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Authorization: Bearer " + pro.token.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        raw.sendall(b"%x\r\n%s\r\n" % (half, body[:half]))
        time.sleep(1.0)  # the hub holds half a body now
        assert spooled() == []
        raw.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - half, body[half:]))
        assert raw.recv(100).startswith(b"HTTP/1.1 201")
    for path in web_hub.data_dir.rglob("*"):  # database, WAL, keys, settings: the body is sealed everywhere
        if path.is_file():
            assert b"MARQUEUR-SECRET" not in path.read_bytes(), path


def test_many_slow_uploads_cannot_exhaust_memory(web_hub):
    """Bodies held at once are capped across the listener (web.max_buffered_bytes in this module: 3 MiB)."""
    doctor = add_professional(web_hub.hub, "dr.lent", password=TEST_PASSWORD)
    pro = web_hub.client().login(doctor, TEST_PASSWORD)
    chunk = b"x" * (1024 * 1024 + 512 * 1024)  # 1.5 MiB each: two fit in the budget, the third does not
    held = []
    try:
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", web_hub.port), timeout=30)
            raw.sendall(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Authorization: Bearer " + pro.token.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + b"%x\r\n%s\r\n" % (len(chunk), chunk))
            held.append(raw)
        # The uploads arrive interleaved: whichever crosses the budget is refused, the others wait for more.
        answers = []
        for raw in held:
            raw.settimeout(3)
            try:
                answers.append(raw.recv(100)[:12])
            except TimeoutError:
                answers.append(b"(waiting)")
        assert sorted(answers) == [b"(waiting)", b"(waiting)", b"HTTP/1.1 503"], answers
        for raw in held:
            raw.close()
        time.sleep(0.5)  # the hub sees the uploads go and gives their budget back
        assert pro.send([doctor], subject="Encore là").status == 201
    finally:
        for raw in held:
            raw.close()


def test_attachments_download_as_files_only_for_their_holder(web_hub):
    doctor = add_professional(web_hub.hub, "dr.piece", password=None)
    patient, _, ins = _patient(web_hub, "piece@courriel.example")
    other, _, other_ins = _patient(web_hub, "pasmoi@courriel.example")
    report = b"%PDF-1.4 compte rendu " + bytes(range(256))
    send(web_hub.hub, doctor, [patient], subject="CR", attachments=[
        ("compte rendu\u00e9\"/../x.pdf", "application/pdf", report), ("page.html", "text/html", b"<script>1</script>")])
    me = web_hub.client().login(ins, PATIENT_PASSWORD)
    [item] = me.call("GET", "/api/messages").body["messages"]
    listed = me.call("GET", f"/api/messages/{item['id']}").body["attachments"]
    assert [a["size"] for a in listed] == [len(report), len(b"<script>1</script>")]
    connection = http.client.HTTPConnection("127.0.0.1", web_hub.port, timeout=30)
    for index, expected in ((0, report), (1, b"<script>1</script>")):
        connection.request("GET", f"/api/messages/{item['id']}/attachments/{index}",
                           headers={"Authorization": f"Bearer {me.token}"})
        answer = connection.getresponse()
        assert answer.status == 200 and answer.read() == expected
        # Never rendered by the browser in the webmail's origin, whatever the sender called it.
        assert answer.getheader("content-type") == "application/octet-stream"
        disposition = answer.getheader("content-disposition")
        assert disposition.startswith("attachment;") and "/" not in disposition and disposition.count('"') == 2
    assert me.call("GET", f"/api/messages/{item['id']}/attachments/2").status == 404
    stranger = web_hub.client().login(other_ins, PATIENT_PASSWORD)
    assert stranger.call("GET", f"/api/messages/{item['id']}/attachments/0").status == 404
    assert other  # a space of its own, with nothing of this message


def test_a_sent_message_is_one_body_in_the_recipients_folders_and_the_senders_sent(web_hub):
    """One message, one body, encrypted once: the recipient's copy and the Sent copy share it."""
    from storage.models import Blob, Folder, Message

    hub = web_hub.hub
    doctor = add_professional(hub, "dr.unique", password=TEST_PASSWORD)
    patient, _, _ = _patient(web_hub, "unique@courriel.example")
    before = hub.read_sync(lambda conn: conn.execute(select(func.count()).select_from(Blob)).scalar_one())
    pro = web_hub.client().login(doctor, TEST_PASSWORD)
    sent = pro.send([patient], subject="Un seul corps", body="Une fois.")
    assert sent.status == 201 and sent.body["sent_copy"]
    after = hub.read_sync(lambda conn: conn.execute(select(func.count()).select_from(Blob)).scalar_one())
    assert after == before + 1

    def placed(conn):
        return conn.execute(select(Folder.name, Message.blob_id).join(Folder, Folder.id == Message.folder_id)
                            .where(Message.blob_id == select(Message.blob_id).order_by(Message.id.desc())
                                   .limit(1).scalar_subquery())).all()

    rows = hub.read_sync(placed)
    assert sorted(name for name, _ in rows) == ["INBOX", "Sent"] and len({blob for _, blob in rows}) == 1
