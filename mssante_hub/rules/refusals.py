"""Why the hub refuses a message: one named constant per reason.

Each carries the SMTP reply code and enhanced status code (RFC 3463) that the SMTP
front doors send, and the text in French then English that every front door shows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    code: int
    status: str  # enhanced status code, RFC 3463
    fr: str
    en: str

    @property
    def text(self) -> str:
        return f"{self.fr} / {self.en}"

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class Refusal(Exception):
    """A message, or one recipient of it, is refused for a stated reason."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.code} {reason.status} {reason.text}" + (f" ({detail})" if detail else ""))

    def __reduce__(self):
        # Refusals cross process boundaries (the prepare pool): rebuild from reason and detail.
        return (Refusal, (self.reason, self.detail))


MESSAGE_TOO_BIG = Reason(552, "5.3.4", "Message trop volumineux", "Message too big")
HEADER_TOO_BIG = Reason(552, "5.3.4", "En-têtes trop volumineux", "Header section too big")
TOO_MANY_HEADERS = Reason(552, "5.3.4", "Trop de champs d'en-tête", "Too many header fields")
LINE_TOO_LONG = Reason(500, "5.5.2", "Ligne trop longue", "Line too long")
HEADER_NOT_UTF8 = Reason(554, "5.6.0", "En-tête non UTF-8", "Header bytes are not valid UTF-8")
MALFORMED_HEADER = Reason(554, "5.6.0", "En-tête mal formé", "Malformed header field")
MALFORMED_MIME = Reason(554, "5.6.0", "Structure MIME invalide", "Malformed MIME structure")
TOO_MANY_PARTS = Reason(554, "5.6.0", "Trop de parties MIME", "Too many MIME parts")
MISSING_FROM = Reason(554, "5.6.0", "Champ From absent", "Missing From header field")
BARE_LINE_ENDING = Reason(550, "5.6.0", "Fin de ligne nue (LF ou CR seul) refusée",
                          "Bare LF or CR line ending refused")
NO_RECIPIENTS = Reason(554, "5.5.1", "Aucun destinataire", "No valid recipients")
TOO_MANY_RECIPIENTS = Reason(452, "4.5.3", "Trop de destinataires", "Too many recipients")
UNKNOWN_RECIPIENT = Reason(550, "5.1.1", "Destinataire inconnu", "Unknown recipient")
MAILBOX_UNAVAILABLE = Reason(550, "5.2.1", "Boîte aux lettres indisponible", "Mailbox unavailable")
OUTSIDE_TRUST_SPACE = Reason(550, "5.7.1", "Destinataire hors de l'espace de confiance MSSanté",
                             "Recipient outside the MSSante trust space")
AUTHOR_NOT_ALLOWED = Reason(550, "5.7.1", "L'expéditeur affiché (From, Sender) n'est pas une adresse de votre compte",
                            "The From or Sender address is not one this account may send as")
TEMPORARY_FAILURE = Reason(451, "4.3.0", "Erreur temporaire, réessayez plus tard", "Temporary failure, try again later")

# --- Patient messaging rules (docs/domain.md §5; issue 5) ---
PATIENT_TO_PATIENT = Reason(550, "5.7.1", "Un patient ne peut pas écrire à un autre patient",
                            "A patient cannot write to another patient")
PATIENT_NOT_A_CONTACT = Reason(550, "5.7.1", "Vous ne pouvez écrire qu'à un professionnel qui vous a écrit",
                               "You may only write to a professional who wrote to you first")
PATIENT_CONVERSATION_ENDED = Reason(550, "5.7.1", "Ce professionnel a mis fin à vos échanges",
                                    "This professional has ended the conversation")
PATIENT_ATTACHMENT_TYPE = Reason(554, "5.6.1",
                                 "Type de document non autorisé (jpg, jpeg, png, tiff, pdf, txt, rtf, doc)",
                                 "Attachment type not allowed (jpg, jpeg, png, tiff, pdf, txt, rtf, doc)")
# docs/domain.md §6.2: a document masked to professionals is never sent to a professional's mailbox.
DOCUMENT_MASKED_TO_PROFESSIONALS = Reason(554, "5.7.1",
                                          "Document masqué aux professionnels : ne peut être adressé à un "
                                          "professionnel", "A document masked to professionals cannot be sent "
                                          "to a professional")
PATIENT_ATTACHMENTS_TOO_BIG = Reason(552, "5.3.4", "La taille du ou des documents dépasse la limite autorisée",
                                     "The attached documents exceed the allowed size")
PATIENT_SPACE_CLOSED = Reason(550, "5.2.1", "Espace santé du patient fermé", "Patient space closed")
PATIENT_UNKNOWN = Reason(550, "5.1.1", "Patient inconnu", "Unknown patient")
PATIENT_SENDER_NOT_ALLOWED = Reason(550, "5.7.1", "Un patient n'écrit que depuis son espace santé",
                                    "A patient writes only from their own health space")

# --- Appointments (iMIP, RFC 6047) to a patient's agenda (docs/agenda.md) ---
CALENDAR_INVALID = Reason(554, "5.6.0", "Rendez-vous (iCalendar) invalide", "Invalid iCalendar appointment")
CALENDAR_TOO_BIG = Reason(552, "5.3.4", "Rendez-vous (iCalendar) trop volumineux",
                          "iCalendar appointment too large")
CALENDAR_TOO_MANY_EVENTS = Reason(552, "5.3.4", "Trop d'événements dans le calendrier",
                                  "Too many events in the calendar")
CALENDAR_RECURRENCE_REFUSED = Reason(554, "5.6.0", "Récurrence refusée : elle doit être bornée (COUNT ou UNTIL), "
                                     "au plus quotidienne", "Recurrence refused: it must be bounded (COUNT or "
                                     "UNTIL), at most daily")
CALENDAR_TOO_MANY_OCCURRENCES = Reason(552, "5.3.4", "Trop d'occurrences de rendez-vous",
                                       "Too many appointment occurrences")

# --- Catalogue services pushing to a patient under consent (docs/catalogue.md) ---
SERVICE_NOT_ONLINE = Reason(550, "5.7.1", "Ce service du catalogue n'est pas en ligne (hors ligne, suspendu ou "
                            "déréférencé)", "This catalogue service is not online (offline, suspended or "
                            "dereferenced)")
SERVICE_NO_DATA_EXCHANGE = Reason(550, "5.7.1", "Ce service du catalogue n'échange pas de données avec les "
                                  "espaces santé", "This catalogue service exchanges no data with health spaces")
SERVICE_NOT_CONNECTED = Reason(550, "5.7.1", "Le patient n'a pas connecté ce service à son espace santé",
                               "The patient has not connected this service to their health space")
SERVICE_CONSENT_LAPSED = Reason(550, "5.7.1", "L'accord du patient à ce service a expiré : la nouvelle version "
                                "n'a pas été approuvée à temps", "The patient's consent to this service has "
                                "lapsed: the new version was not approved in time")
SERVICE_SCOPE_NOT_CONSENTED = Reason(554, "5.7.1", "Le patient n'a pas autorisé ce service à lui transmettre ce "
                                     "type de données", "The patient has not allowed this service to send this "
                                     "kind of data")
SERVICE_MEASURE_INVALID = Reason(554, "5.6.0", "Mesure refusée : une ressource FHIR Observation valide est "
                                 "attendue", "Measure refused: a valid FHIR Observation resource is expected")
