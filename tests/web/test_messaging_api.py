"""The messaging side of the JSON API over real HTTP: names, documents, safe HTML, times, history words,
conversations and the list of whom a patient may write to (the rules of rules/policy.py), sign-out
everywhere, session idle time.
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import update

from mssante_hub.rules import policy
from tests.conftest import add_professional
from tests.patients.helpers import send
from tests.patients.test_notify import active_patient
from tests.web.browser import PATIENT_PASSWORD
from tests.web.conftest import REMOTE_DOMAIN
from storage import sessions as session_repo

OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00")
TRUST_SPACE_SENDER = "labo@chu-api.test"


def _signed_in(web_hub, email: str):
    patient, account_id = active_patient(web_hub.hub, email)
    return patient, account_id, web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)


def test_listing_and_reading_name_people_and_documents_with_offset_times(web_hub):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.api.noms", password=None)
    patient, _, me = _signed_in(web_hub, "api-noms@courriel.example")
    send(hub, doctor, [patient], subject="Bonjour", from_name="Faux Nom")
    send(hub, TRUST_SPACE_SENDER, [patient], from_name="Laboratoire API",
         subject="XDM/1.0/DDM+CR-BIO PETIT Camille 04/03/1985",
         attachments=[("IHE_XDM.zip", "application/zip", b"PK\x03\x04")])
    listed = me.call("GET", "/api/messages").body["messages"]
    by_name = {m["from_name"]: m for m in listed}
    assert set(by_name) == {"Dr Api Noms", "Laboratoire API"}
    document = by_name["Laboratoire API"]
    assert document["subject"] == "CR-BIO PETIT Camille 04/03/1985" and document["document"] == "CR-BIO"
    assert document["attachments"] is True and by_name["Dr Api Noms"]["attachments"] is False
    assert all(OFFSET.fullmatch(m["date"]) for m in listed)
    opened = me.call("GET", f"/api/messages/{document['id']}").body
    assert opened["from_name"] == "Laboratoire API" and opened["to_names"] == ["Vous"]
    assert opened["subject"] == "CR-BIO PETIT Camille 04/03/1985" and OFFSET.fullmatch(opened["date"])
    session = me.call("GET", "/api/session").body
    assert OFFSET.fullmatch(session["expires_at"]) and session["name"] == "Camille PETIT"


def test_an_html_only_message_is_sanitised_by_the_server(web_hub):
    hub = web_hub.hub
    patient, _, me = _signed_in(web_hub, "api-html@courriel.example")
    message = EmailMessage()
    message["From"] = f"Laboratoire API <{TRUST_SPACE_SENDER}>"
    message["To"] = patient
    message["Subject"] = "HTML"
    message.set_content('<p onmouseover="x()">Texte <b>gras</b></p><img src="https://suivi.test/p.gif">'
                        '<script>alert(1)</script><a href="javascript:alert(1)">lien</a>', subtype="html")
    send(hub, TRUST_SPACE_SENDER, [patient], raw=bytes(message))
    [listed] = me.call("GET", "/api/messages").body["messages"]
    opened = me.call("GET", f"/api/messages/{listed['id']}").body
    assert opened["text"] == "" and "<b>gras</b>" in opened["html"]
    for bad in ("<img", "<script", "alert", "onmouseover", "javascript:", "suivi.test"):
        assert bad not in opened["html"], bad
    assert opened["remote_content_blocked"] is True


def test_history_is_in_words_with_no_raw_keys(web_hub):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.api.histoire", password=None)
    patient, _, me = _signed_in(web_hub, "api-histoire@courriel.example")
    send(hub, doctor, [patient], subject="Question")
    assert me.send([doctor], subject="Re: Question").status == 201
    history = me.call("GET", "/api/history").body["history"]
    assert all(OFFSET.fullmatch(e["at"]) for e in history)
    actors = {e["actor"] for e in history}
    assert "operator" not in actors and not any("@" in a for a in actors)
    lines = {(e["actor"], e["action_label"]) for e in history}
    assert ("Vous", "Message envoyé") in lines and ("Vous", "Message reçu") not in lines
    assert ("Dr Api Histoire", "Message reçu") in lines
    assert ("L'équipe d'exploitation du service", "Création de l'espace") in lines


def test_history_filters_on_the_server(web_hub):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.api.filtre", password=None)
    patient, _, me = _signed_in(web_hub, "api-filtre@courriel.example")
    send(hub, doctor, [patient], subject="Question")
    everything = me.call("GET", "/api/history").body["history"]
    from_doctor = me.call("GET", "/api/history?actor=Dr%20Api%20Filtre").body["history"]
    assert from_doctor and {e["actor"] for e in from_doctor} == {"Dr Api Filtre"}
    assert len(from_doctor) < len(everything)
    logins = me.call("GET", "/api/history?action=login").body["history"]
    assert logins and {e["action"] for e in logins} == {"login"}
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    assert len(me.call("GET", f"/api/history?from={today}&to={today}").body["history"]) == len(everything)
    later = today + dt.timedelta(days=1)
    assert me.call("GET", f"/api/history?from={later}").body["history"] == []
    assert me.call("GET", f"/api/history?to={today - dt.timedelta(days=1)}").body["history"] == []
    assert me.call("GET", "/api/history?from=hier").status == 400


def test_conversations_and_recipients_follow_the_rules(web_hub):
    hub = web_hub.hub
    open_one = add_professional(hub, "dr.api.ouvert", password=None)
    ended = add_professional(hub, "dr.api.fini", password=None)
    never = add_professional(hub, "dr.api.jamais", password=None)
    patient, account_id, me = _signed_in(web_hub, "api-regles@courriel.example")
    listed_remote, unlisted_remote = f"secretariat@{REMOTE_DOMAIN}", "secretariat@hors-liste.test"
    send(hub, listed_remote, [patient], subject="Convocation", from_name="Clinique de l'autre opérateur")
    send(hub, unlisted_remote, [patient], subject="Convocation", from_name="Hors liste blanche")
    send(hub, open_one, [patient], subject="Suivi")
    send(hub, ended, [patient], subject="Suivi")
    send(hub, ended, [patient], subject="[FIN]")
    conversations = {c["name"]: c for c in me.call("GET", "/api/conversations").body["conversations"]}
    assert set(conversations) == {"Dr Api Ouvert", "Dr Api Fini", "Clinique de l'autre opérateur",
                                  "Hors liste blanche"}
    assert not conversations["Hors liste blanche"]["can_write"]
    assert conversations["Dr Api Fini"]["ended"] and not conversations["Dr Api Fini"]["can_write"]
    assert conversations["Dr Api Fini"]["banner"]["fr"] == "«Dr Api Fini» a mis fin à vos échanges"
    assert conversations["Dr Api Ouvert"]["unread"] == 1 and conversations["Dr Api Ouvert"]["can_write"]
    rules = me.call("GET", "/api/recipients").body
    offered = [r["contact"] for r in rules["recipients"]]
    assert sorted(offered) == sorted([open_one, listed_remote])
    # Exactly the list the rule of policy.check allows: each offered is accepted, the others refused.
    allowed = hub.read_sync(lambda conn: policy.writable_contacts(conn, hub, account_id))
    assert [c.address for c in allowed] == offered
    for address in offered:
        assert me.send([address]).status == 201, address
    for address in (ended, never, unlisted_remote):
        assert me.send([address]).status == 403
    assert rules["attachment_types"] == sorted(policy.PATIENT_ATTACHMENT_EXTENSIONS)
    assert rules["attachment_errors"]["size"] == "La taille du ou des documents dépasse la limite autorisée"
    home = me.call("GET", "/api/home").body
    assert home["unread"] == 5 and len(home["latest_unread"]) == 5


def test_sign_out_everywhere_ends_every_session(web_hub):
    patient, _, me = _signed_in(web_hub, "api-partout@courriel.example")
    other = web_hub.client().login(patient.partition("@")[0], PATIENT_PASSWORD)
    assert other.call("GET", "/api/session").status == 200
    assert me.call("DELETE", "/api/sessions").status == 204
    assert other.call("GET", "/api/session").status == 401
    assert me.call("GET", "/api/session").status == 401


def test_a_session_lasts_two_hours_idle(web_hub):
    hub = web_hub.hub
    patient, account_id, me = _signed_in(web_hub, "api-inactif@courriel.example")

    def idle_for(minutes: int) -> None:
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)
        hub.committer.run(lambda conn: conn.execute(update(session_repo.WebSession).where(
            session_repo.WebSession.account_id == account_id).values(last_seen_at=since)))

    idle_for(100)  # over the old 30 minutes, under 2 hours: still signed in
    assert me.call("GET", "/api/session").status == 200
    idle_for(121)
    assert me.call("GET", "/api/session").status == 401


def test_the_reply_goes_to_the_reply_to_contact_even_with_a_comma_in_its_name(web_hub):
    hub = web_hub.hub
    doctor = add_professional(hub, "dr.api.renvoi", password=None)
    desk = add_professional(hub, "secretariat.api", type="ORG", password=None)
    patient, _, me = _signed_in(web_hub, "api-renvoi@courriel.example")
    send(hub, doctor, [patient], subject="Rendez-vous", headers={"Reply-To": f'"Secrétariat, cardiologie" <{desk}>'})
    [listed] = me.call("GET", "/api/messages").body["messages"]
    conversation = me.call("GET", f"/api/messages/{listed['id']}").body["conversation"]
    assert conversation["reply_to"] == desk and conversation["can_reply"] and conversation["name"] == "Dr Api Renvoi"
    assert [r["contact"] for r in me.call("GET", "/api/recipients").body["recipients"]] == [desk]
    assert me.send([desk], subject="Re: Rendez-vous").status == 201
