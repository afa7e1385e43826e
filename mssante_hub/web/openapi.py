"""The OpenAPI 3 description of the webmail's JSON API, served at /api/openapi.json.

Written by hand, beside the routes: tests/web/test_openapi.py compares its paths
and methods with the routes the running server registers (web/api.py's table),
and calls each described operation on a served hub, so neither can drift.
"""

from __future__ import annotations

from typing import Any

from mssante_hub.web import dossier_api
from mssante_hub.web.history import ACTIONS
from mssante_hub.web.history_filters import ACTOR_KINDS

TITLE = "mssante-hub webmail API"
VERSION = "1"

# The route names of web/api.py's table -> the path each is reached at.
ROUTE_PATHS = {"message": "/api/messages/{id}", "attachment": "/api/messages/{id}/attachments/{index}"}


def route_path(name: str) -> str:
    return ROUTE_PATHS.get(name, f"/api/{name}")


# The names web/dossier_api.py's "*" segments take here, by the segment before them.
DOSSIER_PARAMETERS = {"documents": "{id}", "professionals": "{address}"}


def dossier_path(shape: tuple[str, ...]) -> str:
    """The OpenAPI path of one of DossierApi.routes()'s shapes."""
    parts = [DOSSIER_PARAMETERS[shape[i - 1]] if part == "*" else part for i, part in enumerate(shape)]
    return "/".join(["/api/dossier", *parts])


# The names web/profile_api.py's "*" segments take here, by the segment before them.
PROFILE_PARAMETERS = {"offers": "{document}", "messages": "{message}", "{message}": "{offer}"}


def profile_path(shape: tuple[str, ...]) -> str:
    """The OpenAPI path of one of ProfileApi.routes()'s shapes."""
    parts: list[str] = []
    for part in shape:
        parts.append(PROFILE_PARAMETERS.get(parts[-1] if parts else "", "{id}") if part == "*" else part)
    return "/".join(["/api/profile", *parts])


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_S, _I, _B = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_STRINGS = {"type": "array", "items": _S}
_INTS = {"type": "array", "items": _I}
_ERRORS = {str(code): {"description": text, **_json(_ref("Error"))} for code, text in (
    (400, "malformed request"), (401, "no session or session expired"), (403, "refused"), (404, "not found"),
    (413, "too large"), (415, "not JSON"), (422, "invalid field or refused message"), (429, "throttled"),
    (503, "temporarily unavailable"))}


def _op(summary: str, ok: int, answer: dict[str, Any] | None, *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, public: bool = False, binary: str = "") -> dict[str, Any]:
    responses: dict[str, Any] = dict(_ERRORS)
    if binary:
        responses[str(ok)] = {"description": summary, "content": {binary: {"schema": {"type": "string",
                                                                                         "format": "binary"}}}}
    elif answer is None:
        responses[str(ok)] = {"description": summary}
    else:
        responses[str(ok)] = {"description": summary, **_json(answer)}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, **_json(body)}
    if params:
        operation["parameters"] = params
    if public:
        operation["security"] = []
    return operation


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}


# web/history_filters.py: who acted, an action key (web/history.ACTIONS), days included in the zone tz.
_HISTORY_FILTERS = [
    _query("actor", {"type": "string", "maxLength": 200, "examples": list(ACTOR_KINDS)}),  # a kind, or a name
    _query("action", {"enum": sorted(ACTIONS)}),
    _query("from", {"type": "string", "format": "date"}), _query("to", {"type": "string", "format": "date"}),
    _query("tz", {"type": "string", "maxLength": 64, "default": "Europe/Paris"}),
]
_LISTED = _obj({"id": _I, "uid": _I, "date": _TIME, "size": _I, "seen": _B, "from": _S, "from_name": _S,
                "to_names": _STRINGS, "subject": _S, "document": _S, "attachments": _B, "contact": _S})
_SESSION = _obj({"address": _S, "type": _S, "expires_at": _TIME, "name": _S})
_PASSWORD = _obj({"password": _S}, ("password",))
_CODE = _obj({"ins": _S, "code": _S}, ("ins", "code"))
_PREFS = _obj({"notifications": {"type": "object", "additionalProperties": _B}})
_BANNER = _obj({"fr": _S, "en": _S})
_AGENDA_ITEM = _obj({"id": _I, "kind": _S, "start": _TIME, "end": _TIME, "tz": _S, "title": _S, "place": _S,
                     "professional": _S, "specialty": _S, "status": _S, "partstat": _S, "sequence": _I,
                     "all_day": _B, "recurring": _B})
_PREVENTION = _obj({"id": _S, "kind": _S, "title": _S, "title_en": _S, "text": _S, "text_en": _S,
                    "window_start": {"type": "string", "format": "date"},
                    "window_end": {"type": "string", "format": "date"}, "status": _S})
_ADDRESS = {"name": "address", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 320}}
_DOCUMENT = _obj({"id": _I, "category": _S, "label": _S, "title": _S, "type_code": _S,
                  "effective_at": {"type": ["string", "null"], "format": "date-time"}, "filed_at": _TIME,
                  "authors": _STRINGS, "custodian": _S, "version": _I, "state": {"enum": ["current", "replaced"]},
                  "confidentiality": _STRINGS, "hidden_from_professionals": _B, "has_pdf": _B, "own": _B,
                  "signature": {"type": ["string", "null"], "enum": ["verified", "invalid", None],
                                "description": "the PGP/MIME signature of the message that carried it"}})
_BLOCKED = _obj({"address": _S, "blocked": _B, "granted": _B})
_GP = _obj({"address": {"type": ["string", "null"]}})

_ENTRY_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
_PROFILE_ENTRY = _obj({"id": _S, "kind": _S, "label": _S, "code": _S, "display": _S, "date": _S, "source": _S,
                       "source_name": _S,
                       "filed_at": _TIME, "hidden_from_professionals": _B, "resource": {"type": "object"}})
# The catalogue (web/catalogue_api.py, docs/catalogue.md).
_SCOPE = {"type": "string", "enum": ["documents", "agenda", "measures", "messages"]}
_SERVICE_ID = {"name": "id", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"}}
_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_SERVICE = _obj({"id": _S, "name": _S, "editor": _S, "description": _S,
                 "urls": {"type": "object", "additionalProperties": _S}, "purposes": _STRINGS, "themes": _STRINGS,
                 "status": {"enum": ["online", "offline", "dereferenced", "suspended"]}, "data_exchange": _B,
                 "version": _S, "scopes": {"type": "array", "items": _obj({"scope": _SCOPE, "label": _S,
                                                                           "label_en": _S})},
                 "consent": {"type": ["object", "null"], "properties": {
                     "state": {"enum": ["active", "reapproval_needed", "lapsed", "unavailable"]},
                     "scopes": {"type": "array", "items": _SCOPE}, "approved_version": _S,
                     "granted_at": _TIME, "reapprove_by": _NULL_TIME}}})

PATHS: dict[str, dict[str, Any]] = {
    "/api/session": {
        "post": _op("Sign in", 201, _obj({"token": _S, **_SESSION["properties"]}),
                    body=_obj({"login": _S, "password": _S, "otp": _S}, ("login", "password")), public=True),
        "get": _op("Who is signed in", 200, _SESSION),
        "delete": _op("Sign out", 204, None),
    },
    "/api/totp": {
        "get": _op("Whether the second factor (TOTP) is on, and the recovery codes left", 200,
                   _obj({"enabled": _B, "recovery_codes_left": _I})),
        "post": _op("A new TOTP secret, pending until a first code confirms it; qr: the URI's QR code as rows of "
                    "0/1 modules", 201, _obj({"secret": _S, "uri": _S, "qr": {"type": "array", "items": _S}}),
                    body=_obj({"password": _S}, ("password",))),
        "delete": _op("Remove the second factor (password and a current or recovery code)", 204, None,
                      body=_obj({"password": _S, "code": _S}, ("password", "code"))),
    },
    "/api/totp/confirm": {"post": _op("Enable the pending secret with a first code; the recovery codes, once", 200,
                                      _obj({"recovery_codes": {"type": "array", "items": _S}}),
                                      body=_obj({"code": _S}, ("code",)))},
    "/api/sessions": {"delete": _op("Sign out everywhere: every session of the account ends", 204, None)},
    "/api/folders": {"get": _op("Folders", 200, _obj({"folders": {"type": "array", "items": _obj(
        {"name": _S, "special_use": {"type": ["string", "null"]}})}}))},
    "/api/messages": {
        "get": _op("Messages of a folder, newest first", 200, _obj({"folder": _S, "messages": {
            "type": "array", "items": _LISTED}}), params=[_query("folder", _S),
                                                         _query("limit", {"type": "integer", "minimum": 1,
                                                                          "maximum": 200}),
                                                         _query("before", {"type": "integer", "minimum": 1})]),
        "post": _op("Send a message (the patient rules apply)", 201,
                    _obj({"message_id": _S, "delivered": _STRINGS, "queued": _STRINGS, "sent_copy": _B}),
                    body=_obj({"to": _STRINGS, "cc": _STRINGS, "subject": _S, "body": _S, "in_reply_to": _S,
                               "attachments": {"type": "array", "items": _obj(
                                   {"filename": _S, "content_type": _S, "content_base64": _S},
                                   ("filename", "content_base64"))}}, ("to",))),
    },
    "/api/messages/{id}": {
        "get": _op("One message (sets \\Seen)", 200, _obj({
            "folder": _S, "date": _TIME, "from": _S, "from_name": _S, "from_profession": _S, "from_structure": _S,
            "to": _S, "to_names": _STRINGS, "cc": _S,
            "cc_names": _STRINGS, "reply_to": _S, "subject": _S, "document": _S, "document_ids": _INTS, "message_id": _S, "text": _S,
            "html": {"type": "string", "description": "sanitised HTML of an HTML-only message"},
            "remote_content_blocked": _B,
            "attachments": {"type": "array", "items": _obj({"filename": _S, "content_type": _S, "size": _I})},
            "conversation": {"type": ["object", "null"], "properties": {
                "reply_to": _S, "name": _S, "can_reply": _B, "ended": _B, "banner": _BANNER}}}),
            params=[_path("id")]),
        "delete": _op("To the bin; from the bin, deleted for good", 204, None, params=[_path("id")]),
    },
    "/api/messages/{id}/attachments/{index}": {
        "get": _op("One attachment, as a download", 200, None, params=[_path("id"), _path("index")],
                   binary="application/octet-stream")},
    "/api/history": {"get": _op("Access history, in words", 200, _obj({"history": {"type": "array", "items": _obj({
        "at": _TIME, "action": _S, "outcome": _S, "actor": _S, "actor_en": _S, "action_label": _S,
        "action_label_en": _S, "outcome_label": _S, "outcome_label_en": _S, "channel_label": _S,
        "channel_label_en": _S})}}), params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                                             *_HISTORY_FILTERS, _query("format", {"enum": ["json", "csv"]})])},

    "/api/history.csv": {"get": _op("Access history as CSV (UTF-8 with BOM, ';', formula-like cells prefixed "
                                    "with ')", 200, None, binary="text/csv", params=[
                                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}),
                                        *_HISTORY_FILTERS])},
    "/api/home": {"get": _op("Accueil: what is new", 200, _obj({"unread": _I, "messages": _I, "latest_unread": {
        "type": "array", "items": _LISTED}}))},
    "/api/conversations": {"get": _op("Conversations by professional", 200, _obj({"conversations": {
        "type": "array", "items": _obj({"contact": _S, "senders": _STRINGS, "name": _S, "profession": _S,
                                        "structure": _S, "pharmacy": _B,
                                        "ended": _B, "can_write": _B, "unread": _I,
                                        "last_at": {"type": ["string", "null"], "format": "date-time"},
                                        "banner": _BANNER})}}))},
    "/api/recipients": {"get": _op("Whom the signed-in patient may write to now", 200, _obj({
        "restricted": _B, "recipients": {"type": "array", "items": _obj({"contact": _S, "name": _S,
                                                                         "profession": _S, "structure": _S,
                                                                         "pharmacy": _B})},
        "attachment_types": _STRINGS, "attachment_budget_bytes": {"type": ["integer", "null"]},
        "attachment_errors": _obj({"type": _S, "size": _S})}))},
    "/api/activation": {"post": _op("Activate a space with the code from the letter", 201, _obj({"address": _S}),
                                    body=_obj({"ins": _S, "code": _S, "password": _S}, ("ins", "code", "password")),
                                    public=True)},
    "/api/objection": {"post": _op("Object to the space: deleted at once", 200, _obj({"deleted": _B}), body=_CODE,
                                   public=True)},
    "/api/space/close": {"post": _op("Close the space", 200, _obj({"closed": _B}), body=_PASSWORD)},
    "/api/space/deletion": {"post": _op("Ask for the space's deletion", 200, _obj({"deletion_due_at": _TIME}),
                                        body=_PASSWORD)},
    "/api/space/export": {"post": _op("Export the space as an OpenPGP archive", 200, None,
                                      body=_obj({"password": _S, "passphrase": _S, "public_key": _S},
                                                ("password",)), binary="application/pgp-encrypted")},
    "/api/preferences": {"get": _op("Notification preferences", 200, _PREFS),
                         "put": _op("Change notification preferences", 200, _PREFS, body=_PREFS)},
    "/api/personal-email": {
        "get": _op("The personal e-mail address notifications go to", 200, _obj({"email": _S})),
        "put": _op("Change it: a confirmation link is mailed to the new address", 202, _obj({"sent_to": _S}),
                   body=_obj({"email": _S, "password": _S}, ("email", "password"))),
    },
    "/api/email-confirmation": {"post": _op("Confirm a new personal e-mail address with the link's token", 200,
                                            _obj({"email": _S}), body=_obj({"token": _S}, ("token",)),
                                            public=True)},
    "/api/openapi.json": {"get": _op("This description", 200, {"type": "object"}, public=True)},
    # The agenda (web/agenda_api.py, docs/agenda.md).
    "/api/agenda": {
        "get": _op("Agenda occurrences in a range, earliest first, and the prevention campaigns for the patient",
                   200, _obj({"from": _TIME, "to": _TIME, "items": {"type": "array", "items": _AGENDA_ITEM},
                              "prevention": {"type": "array", "items": _PREVENTION}, "truncated": _B,
                              "next": {"type": ["string", "null"],
                                       "description": "when truncated: pass as `after` for the next page"}}),
                   params=[_query("from", {"type": "string", "description": "ISO 8601 date or date-time"}),
                           _query("to", {"type": "string", "description": "ISO 8601 date or date-time"}),
                           _query("limit", {"type": "integer", "minimum": 1,
                                            "description": "page size; agenda.max_listed (the default) at most"}),
                           _query("after", {"type": "string", "description": "the `next` of the previous page"})]),
        "post": _op("An appointment or reminder of the patient's own", 201, _obj({"id": _I, "kind": _S}),
                    body=_obj({"kind": {"type": "string", "enum": ["own", "reminder"]}, "title": _S,
                               "start": _TIME, "end": _TIME, "place": _S, "note": _S}, ("title", "start"))),
    },
    "/api/agenda/{id}": {"get": _op("One agenda item", 200, _obj({
        **_AGENDA_ITEM["properties"], "description": _S, "organizer": _S, "state": _S, "filed_at": _TIME,
        "message": {"type": ["integer", "null"]}, "source_message": {"type": ["integer", "null"]},
        "can_reply": _B}), params=[_path("id")])},
    "/api/agenda/{id}/reply": {"post": _op("Answer the organiser (an iMIP REPLY through the delivery path)", 200,
                                           _obj({"id": _I, "partstat": _S, "delivered": _STRINGS,
                                                 "queued": _STRINGS}),
                                           body=_obj({"partstat": {"type": "string",
                                                                   "enum": ["ACCEPTED", "DECLINED"]}},
                                                     ("partstat",)), params=[_path("id")])},
    "/api/agenda/prevention/{id}": {"post": _op("The patient's status in a prevention campaign", 200,
                                                _obj({"id": _S, "status": _S}),
                                                body=_obj({"status": {"type": "string", "enum": [
                                                    "to_plan", "done", "not_done"]}}, ("status",)),
                                                params=[{"name": "id", "in": "path", "required": True,
                                                         "schema": {"type": "string", "maxLength": 64}}])},
    "/api/agenda/feed": {
        "get": _op("Whether the private ICS feed is active (never its token)", 200,
                   _obj({"active": _B, "created_at": {"type": ["string", "null"], "format": "date-time"}})),
        "post": _op("A new feed token, shown once (the previous one stops working)", 201,
                    _obj({"token": _S, "url": _S})),
        "delete": _op("Revoke the feed: its URL answers 404", 204, None),
    },
    "/api/catalogue": {"get": _op("The catalogue of services, each with the patient's consent (a theme filters)",
                                  200, _obj({"services": {"type": "array", "items": _SERVICE},
                                             "theme": {"type": ["string", "null"]}}),
                                  params=[_query("theme", {"type": "string", "maxLength": 200})])},
    "/api/catalogue/{id}/consent": {
        "post": _op("Connect the service with these scopes, change them, or approve its new version", 200,
                    _obj({"outcome": {"enum": ["granted", "changed", "reapproved"]}, **_SERVICE["properties"]}),
                    body=_obj({"scopes": {"type": "array", "items": _SCOPE, "minItems": 1}}, ("scopes",)),
                    params=[_SERVICE_ID]),
        "delete": _op("Revoke the consent: the service may send nothing more", 204, None, params=[_SERVICE_ID]),
    },
    "/api/profiles": {"get": _op("The own space, then the spaces the signed-in legal representative manages "
                                 "(ids for X-Space)", 200, _obj({"profiles": {"type": "array", "items": _obj({
                                     "id": _I, "address": _S, "name": _S, "own": _B,
                                     "kind": {"type": ["string", "null"], "enum": ["minor", "protected_adult",
                                                                                   None]}})}}))},
    "/api/dossier": {"get": _op("Dossier categories: code, French label, count", 200, _obj({"categories": {
        "type": "array", "items": _obj({"code": _S, "label": _S, "count": _I})}}))},
    "/api/dossier/recent": {"get": _op(f"Documents filed in the last {dossier_api.RECENT_DAYS} days, the latest "
                                       f"filed first (at most {dossier_api.RECENT_SHOWN}): Accueil", 200, _obj({
        "since": _TIME, "days": _I, "documents": {"type": "array", "items": _DOCUMENT}}))},
    "/api/dossier/documents": {
        "get": _op("A page of documents, newest first (effective date, else filing date; then id)", 200, _obj({
            "category": {"type": ["string", "null"]}, "documents": {"type": "array", "items": _DOCUMENT},
            "next": {"type": ["string", "null"], "description": "pass as `after` for the next page; null: the last"}}),
            params=[_query("category", _S),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": dossier_api.MAX_PAGE,
                                     "default": dossier_api.DEFAULT_PAGE, "description": "page size"}),
                    _query("after", {"type": "string", "description": "the `next` of the previous page (opaque)"})]),
        "post": _op("Add the patient's own document (PDF, JPEG or PNG)", 201, _obj({"id": _I, "category": _S}),
                    body=_obj({"category": _S, "title": _S, "filename": _S, "content_type": _S,
                               "content_base64": _S}, ("category", "title", "content_type", "content_base64"))),
    },
    "/api/dossier/documents/{id}": {"get": _op("One document: metadata, inert HTML of the CDA narrative, versions",
                                               200, _obj({**_DOCUMENT["properties"], "html": _S,
                                                          "source_message": {"type": ["integer", "null"]},
                                                          "versions": {"type": "array", "items": _obj(
                                                              {"id": _I, "version": _I, "state": _S,
                                                               "filed_at": _TIME})}}),
                                               params=[_path("id")])},
    "/api/dossier/documents/{id}/pdf": {"get": _op("The document's PDF (or the patient's own image), as a "
                                                   "download", 200, None, params=[_path("id")],
                                                   binary="application/pdf")},
    "/api/dossier/documents/{id}/visibility": {"post": _op("Hide the document (every version) from professionals, "
                                                           "or show it again", 200,
                                                           _obj({"id": _I, "hidden_from_professionals": _B}),
                                                           body=_obj({"hidden_from_professionals": _B},
                                                                     ("hidden_from_professionals",)),
                                                           params=[_path("id")])},
    "/api/dossier/professionals": {"get": _op("Who can see the dossier, and why", 200, _obj({"professionals": {
        "type": "array", "items": _obj({"address": _S, "name": _S, "reason": _S,
                                        "last_exchange": {"type": ["string", "null"], "format": "date-time"}})}}))},
    "/api/dossier/professionals/{address}/block": {"post": _op("Block a professional from the dossier", 200,
                                                               _BLOCKED, params=[_ADDRESS])},
    "/api/dossier/professionals/{address}/unblock": {"post": _op("Unblock a professional, or withdraw a grant", 200,
                                                                 _BLOCKED, params=[_ADDRESS])},
    "/api/dossier/professionals/{address}/grant": {"post": _op("Open the dossier to a professional outside the "
                                                               "care window", 200, _BLOCKED, params=[_ADDRESS])},
    "/api/dossier/general-practitioner": {
        "get": _op("The declared general practitioner (médecin traitant)", 200, _GP),
        "put": _op("Declare it: a PER mailbox of this hub; MASQUE_PS documents are not hidden from them", 200, _GP,
                   body=_obj({"address": _S}, ("address",))),
        "delete": _op("No general practitioner declared any more", 204, None),
    },
    "/api/profile": {
        "get": _op("The profil médical's current entries, newest first (each with its FHIR resource)", 200,
                   _obj({"entries": {"type": "array", "items": _PROFILE_ENTRY}})),
        "post": _op("Add an entry: a FHIR R4 resource (Condition, AllergyIntolerance, MedicationStatement, "
                    "Immunization, Observation, RelatedPerson, Consent, DocumentReference); 422 names where it is "
                    "invalid", 201, _obj({"id": _S, "kind": _S}), body={"type": "object"}),
    },
    "/api/profile/{id}/visibility": {"post": _op("Hide the entry (every version) from professionals, or show it "
                                                 "again (advance directives: recorded, yet always shown)", 200,
                                                 _obj({"id": _S, "hidden_from_professionals": _B,
                                                       "shown_to_professionals": _B}),
                                                 body=_obj({"hidden_from_professionals": _B},
                                                           ("hidden_from_professionals",)), params=[_ENTRY_ID])},
    "/api/profile/offers/{document}": {"get": _op(
        "The entries a dossier document's coded sections (IPS-FR, VSM) offer, each to add by POST /api/profile",
        200, _obj({"document": _I, "offers": {"type": "array", "items": _obj({"kind": _S, "label": _S,
                                                                               "resource": {"type": "object"}})}}),
        params=[_path("document")])},
    "/api/profile/offers/messages/{message}": {"get": _op(
        "The entries a professional's FHIR JSON attachments (a resource or a Bundle) offer, each to accept by "
        "POST .../{offer}; 404 unless a professional sent this message", 200,
        _obj({"message": _I, "source": _S, "source_name": _S,
              "offers": {"type": "array", "items": _obj({"index": _I, "kind": _S, "label": _S, "attachment": _S,
                                                         "added": _B, "resource": {"type": "object"}})},
              "refused": {"type": "array", "items": _obj({"attachment": _S, "reason": _S})},
              "notice": _obj({"fr": _S, "en": _S})}), params=[_path("message")])},
    "/api/profile/offers/messages/{message}/{offer}": {"post": _op(
        "Accept one offer: filed as an entry of source professional; 409 if already added", 201,
        _obj({"id": _S, "kind": _S, "source": _S}), params=[_path("message"), _path("offer")])},
    "/api/profile/bundle": {"get": _op("The profile as a FHIR Bundle of type collection", 200,
                                       {"type": "object"})},
    "/api/profile/{id}": {
        "get": _op("One entry, its resource and its versions", 200, _obj({**_PROFILE_ENTRY["properties"], "versions": {
            "type": "array", "items": _obj({"filed_at": _TIME, "state": _S})}}), params=[_ENTRY_ID]),
        "put": _op("A new version of the entry (same resource type)", 200, _obj({"id": _S, "kind": _S}),
                   body={"type": "object"}, params=[_ENTRY_ID]),
        "delete": _op("Delete the entry and every version of it", 204, None, params=[_ENTRY_ID]),
    },
}

# X-Space (web/spaces.py): every signed-in operation but the holder's own acts may run on a dependant's space.
X_SPACE = {"name": "X-Space", "in": "header", "required": False, "schema": {"type": "string",
                                                                            "pattern": "^[0-9]{1,18}$"},
           "description": "act on this dependant's space (an id from /api/profiles); 404 if not one of yours"}
_OWN_ONLY = {("/api/session", "post"), ("/api/session", "get"), ("/api/session", "delete"), ("/api/profiles", "get"),
             ("/api/sessions", "delete"), ("/api/space/close", "post"), ("/api/space/deletion", "post"),
             ("/api/space/export", "post"), ("/api/personal-email", "put"), ("/api/totp", "get"),
             ("/api/totp", "post"), ("/api/totp", "delete"), ("/api/totp/confirm", "post")}
# format=csv answers the history as /api/history.csv does.
PATHS["/api/history"]["get"]["responses"]["200"]["content"]["text/csv"] = {"schema": {"type": "string",
                                                                                      "format": "binary"}}
for _path_name, _operations in PATHS.items():
    for _method, _operation in _operations.items():
        if (_path_name, _method) not in _OWN_ONLY and _operation.get("security") != []:
            _operation["parameters"] = [*_operation.get("parameters", []), X_SPACE]

DESCRIPTION: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": TITLE, "version": VERSION,
             "description": "The patient's webmail API (docs/web.md). Errors are {\"error\": {code, fr, en}}."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": _obj({"error": _obj({"code": _S, "fr": _S, "en": _S}, ("code", "fr", "en"))},
                                  ("error",))},
    },
}
