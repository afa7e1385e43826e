"""Every SMTP reply the front doors send, defined once (code, enhanced status code, text).

Texts a person may read (refusals of the trust space) are in French, then English.
Refusals raised by delivery carry their own code and text (mssante_hub.refusals);
:func:`from_reason` turns them into a reply line.
"""

from __future__ import annotations

from mssante_hub.rules import refusals
from mssante_hub.rules.refusals import Reason

# Greeting and session
SERVICE_CLOSING = "221 2.0.0 Au revoir / Bye"
READY_TLS = "220 2.0.0 Prêt pour TLS / Ready to start TLS"
OK = "250 2.0.0 OK"
ACCEPTED = "250 2.0.0 Message accepté / Message accepted: {id}"
SENDER_OK = "250 2.1.0 Expéditeur accepté / Sender OK"
RECIPIENT_OK = "250 2.1.5 Destinataire accepté / Recipient OK"
START_DATA = "354 Terminez par <CR><LF>.<CR><LF> / End data with <CR><LF>.<CR><LF>"
AUTH_OK = "235 2.7.0 Authentification réussie / Authentication successful"
TOO_MANY_SESSIONS = "421 4.7.0 Trop de sessions depuis votre adresse / Too many sessions from your address"
TOO_MANY_FAILED_LOGINS = "421 4.7.0 Trop d'échecs d'authentification, réessayez plus tard / Too many failed logins"
AUTH_BUSY = ("454 4.7.0 Trop de connexions en cours pour cet identifiant, réessayez / "
             "Too many logins in progress, try again shortly")
TLS_FAILED = "454 4.7.0 Échec de la négociation TLS / TLS not available"

# Syntax and sequence (RFC 5321 §4.2.4)
SYNTAX_MAIL = "501 5.5.4 Syntaxe : MAIL FROM:<adresse> [paramètres] / Syntax: MAIL FROM:<address> [parameters]"
SYNTAX_RCPT = "501 5.5.4 Syntaxe : RCPT TO:<adresse> [paramètres] / Syntax: RCPT TO:<address> [parameters]"
SYNTAX_EHLO = "501 5.5.4 Syntaxe : EHLO nom / Syntax: EHLO hostname"
TLS_ALREADY = "503 5.5.1 TLS déjà actif / TLS already active"
SYNTAX_DATA = "501 5.5.4 Syntaxe : DATA / Syntax: DATA"
BAD_ADDRESS = "553 5.1.3 Adresse mal formée / Malformed address"
BAD_PARAMETER = "501 5.5.4 Paramètre invalide / Invalid parameter"
UNKNOWN_PARAMETER = "555 5.5.4 Paramètre non reconnu / Parameter not recognized"
NESTED_MAIL = "503 5.5.1 MAIL déjà donné / Nested MAIL command"
NEED_MAIL = "503 5.5.1 MAIL requis d'abord / Need MAIL command"
NEED_RCPT = "503 5.5.1 RCPT requis d'abord / Need RCPT command"
NEED_EHLO = "503 5.5.1 EHLO requis d'abord / Send EHLO first"
NEED_STARTTLS = "530 5.7.0 STARTTLS requis d'abord / Must issue a STARTTLS command first"
SMTPUTF8_WITHOUT_EHLO = "555 5.6.7 SMTPUTF8 demande EHLO / SMTPUTF8 needs EHLO"
ADDRESS_NOT_ASCII = "553 5.6.7 Adresse non ASCII sans SMTPUTF8 / Non-ASCII address without SMTPUTF8"

# Sizes and limits
SIZE_EXCEEDED = "552 5.3.4 Message trop volumineux / Message size exceeds fixed maximum message size"
DESTINATION_SIZE_EXCEEDED = (
    "552 5.3.4 Message trop volumineux pour ce destinataire / Message too big for this destination")

# Authentication (RFC 4954)
AUTH_NEEDS_TLS = "538 5.7.11 Chiffrement requis avant l'authentification / Encryption required for AUTH"
AUTH_REQUIRED = "530 5.7.0 Authentification requise / Authentication required"
AUTH_FAILED = "535 5.7.8 Identifiants invalides / Authentication credentials invalid"
AUTH_ALREADY = "503 5.5.1 Déjà authentifié / Already authenticated"
AUTH_UNKNOWN_MECHANISM = "504 5.5.4 Mécanisme inconnu / Unrecognized authentication type"
AUTH_BAD_BASE64 = "501 5.5.2 Base64 invalide / Cannot decode base64"
AUTH_CANCELLED = "501 5.7.0 Authentification annulée / Authentication cancelled"
AUTH_NO_CERTIFICATE = "535 5.7.8 Aucun certificat client valide / No valid client certificate"

# Trust space and relaying
NOT_OWNER = ("553 5.7.1 Cette adresse d'expéditeur ne vous appartient pas / "
             "Sender address does not belong to the authenticated account")
RELAY_DENIED = "554 5.7.1 Relais interdit / Relaying denied"
NOT_LOCAL_RECIPIENT = "550 5.1.1 Destinataire inconnu ici / No such local recipient"
REMOTE_NOT_WHITELISTED = ("550 5.7.1 Domaine hors de l'espace de confiance MSSanté / "
                          "Domain is not in the MSSante trust space")
SENDER_DOMAIN_NOT_WHITELISTED = ("550 5.7.1 Domaine expéditeur absent de la liste blanche / "
                                 "Sender domain is not on the whitelist")
NO_CLIENT_CERTIFICATE = ("550 5.7.1 Certificat client requis (TLS mutuel) / "
                         "Client certificate required (mutual TLS)")
CERTIFICATE_EXPIRED = "550 5.7.1 Certificat client expiré / Client certificate expired"
CERTIFICATE_REVOKED = "550 5.7.1 Certificat client révoqué / Client certificate revoked"
CERTIFICATE_NOT_YET_VALID = "550 5.7.1 Certificat client pas encore valide / Client certificate not yet valid"
DN_NOT_LISTED = ("550 5.7.1 DN du certificat non inscrit pour ce domaine / "
                 "Certificate subject DN is not listed for this domain")

# Failures of our own
DATA_TOO_SLOW = "451 4.4.2 Message reçu trop lentement / DATA took too long, closing"
BUSY_IN_FLIGHT = ("452 4.3.1 Serveur occupé par d'autres messages, réessayez plus tard / "
                  "Insufficient system resources, try again later")
UNKNOWN_COMMAND = "500 5.5.1 Commande non reconnue / Command not recognized"

# Session hygiene (Postfix's smtpd_junk_command_limit and smtpd_hard_error_limit)
TOO_MANY_COMMANDS = ("421 4.7.0 Trop de commandes sans message, fermeture / "
                     "Too many commands without mail, closing connection")
TOO_MANY_ERRORS = "421 4.7.0 Trop d'erreurs, fermeture / Too many errors, closing connection"
TIMEOUT = "421 4.4.2 Délai d'inactivité dépassé, fermeture / Timeout exceeded, closing connection"
TOO_MANY_UNKNOWN_COMMANDS = "502 5.5.1 Trop de commandes inconnues / Too many unrecognized commands, goodbye"

# Replies aiosmtpd composes itself, given our codes and words (see AIOSMTPD below)
COMMAND_TOO_LONG = "500 5.5.2 Ligne de commande trop longue / Command line too long"
SYNTAX_ERROR = "500 5.5.2 Erreur de syntaxe / Syntax error"
NOT_ASCII = "500 5.5.2 Commande non ASCII / Strict ASCII mode"
TLS_REQUIRED_FIRST = "530 5.7.0 STARTTLS requis d'abord / Must issue a STARTTLS command first"
INSECURE_REFUSED = "554 5.7.0 Commande refusée, sécurité insuffisante / Command refused due to lack of security"
SYNTAX_HELO = "501 5.5.4 Syntaxe : HELO nom / Syntax: HELO hostname"
NO_ARGUMENTS = "501 5.5.4 Cette commande ne prend pas d'argument / This command takes no argument"
AUTH_SYNTAX = "501 5.5.4 Syntaxe : AUTH mécanisme [réponse] / Syntax: AUTH mechanism [initial-response]"
HELP = "214 2.0.0 Voir RFC 5321 / See RFC 5321"
VRFY_DISABLED = "502 5.5.1 VRFY désactivé / VRFY command is disabled"
EXPN_DISABLED = "502 5.5.1 EXPN désactivé / EXPN command is disabled"

# Every reply above, for the QA test that checks codes against RFC 3463.
ALL: dict[str, str] = {name: value for name, value in dict(globals()).items()
                       if name.isupper() and isinstance(value, str) and value[:3].isdigit()}

# aiosmtpd's own texts (1.4.6) -> ours, so that every reply carries an enhanced status code.
AIOSMTPD: dict[str, str] = {
    "500 Command line too long": COMMAND_TOO_LONG,
    "500 Error: bad syntax": SYNTAX_ERROR,
    "500 Error: strict ASCII mode": NOT_ASCII,
    "554 Command refused due to lack of security": INSECURE_REFUSED,
    "530 Must issue a STARTTLS command first": TLS_REQUIRED_FIRST,
    "502 5.5.1 Too many unrecognized commands, goodbye.": TOO_MANY_UNKNOWN_COMMANDS,
    "503 Error: send HELO first": NEED_EHLO,
    "503 Error: send EHLO first": NEED_EHLO,
    "501 Syntax: HELO hostname": SYNTAX_HELO,
    "501 Syntax: EHLO hostname": SYNTAX_EHLO,
    "501 Syntax: QUIT": NO_ARGUMENTS,
    "501 Syntax: RSET": NO_ARGUMENTS,
    "501 Syntax: STARTTLS": NO_ARGUMENTS,
    "501 Syntax: DATA": SYNTAX_DATA,
    "454 TLS not available": TLS_FAILED,
    "220 Ready to start TLS": READY_TLS,
    "221 Bye": SERVICE_CLOSING,
    "250 OK": OK,
    "503 Already authenticated": AUTH_ALREADY,
    "501 Not enough value": AUTH_SYNTAX,
    "501 Too many values": AUTH_SYNTAX,
    "501 5.7.0 Auth aborted": AUTH_CANCELLED,
    "501 5.5.2 Can't decode base64": AUTH_BAD_BASE64,
    "535 5.7.8 Authentication credentials invalid": AUTH_FAILED,
    "504 5.5.4 Unrecognized authentication type": AUTH_UNKNOWN_MECHANISM,
    "502 EXPN not implemented": EXPN_DISABLED,
}


def with_status_code(reply: str, hostname: str) -> str:
    """The reply with an enhanced status code (RFC 2034): ours for aiosmtpd's texts, else the class's x.0.0.

    The greeting and the answers to HELO/EHLO carry none (RFC 2034 §3), nor do 3xx replies.
    """
    if reply[4:5].isdigit() and reply[5:6] == ".":
        return AIOSMTPD.get(reply, reply)
    mapped = AIOSMTPD.get(reply)
    if mapped is not None:
        return mapped
    if reply.startswith('500 Error: command "'):
        return UNKNOWN_COMMAND
    code = reply[:3]
    if reply[3:4] != " " or code[0] not in "245" or code == "220" or reply == f"250 {hostname}":
        return reply
    return f"{code} {code[0]}.0.0 {reply[4:]}"


def from_reason(reason: Reason, detail: str = "") -> str:
    """The reply line for a delivery refusal."""
    return f"{reason.code} {reason.status} {reason.text}" + (f" ({detail})" if detail else "")


def code(reply: str) -> int:
    return int(reply[:3])


# Replies that are also refusals of delivery: derived from rules/refusals.py, never spelt twice.
TOO_MANY_RECIPIENTS = from_reason(refusals.TOO_MANY_RECIPIENTS)
LINE_TOO_LONG = from_reason(refusals.LINE_TOO_LONG)
BARE_LINE_ENDING = from_reason(refusals.BARE_LINE_ENDING)
TEMPORARY_FAILURE = from_reason(refusals.TEMPORARY_FAILURE)
