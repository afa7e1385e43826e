"""The access history as the patient reads it: French (and English) labels, never raw keys or addresses.

The audit trail (mssante_hub/audit.py) stores stable keys (`imap.login_failed`,
`operator`, an address); this module turns each entry into words a patient
understands: who (a name, "Vous", or a human label for the service's own
people and jobs), what, how (which door) and with what outcome. The holder's
own sent message is filed in their Sent folder as a `deliver` trace whose actor
is the holder: it is shown as a message sent, not received.
"""

from __future__ import annotations

from typing import Any

from mssante_hub.audit import AccessEntry
from mssante_hub.web.people import UNKNOWN_SENDER
from mssante_hub.web.rendering import iso

YOU = ("Vous", "You")
# Actors that are the service itself, never a person the patient knows by name.
SERVICE_ACTORS = {
    "operator": ("L'équipe d'exploitation du service", "The service's operations team"),
    "daily-job": ("Traitement automatique quotidien", "Daily automatic job"),
    "notify": ("Service de notification", "Notification service"),
    "init": ("Installation du service", "Service set-up"),
    "ics-feed": ("Votre lien d'agenda privé (ICS)", "Your private agenda link (ICS)"),
}
# audit.ActorType values of the service's own actors, whatever name they traced.
SERVICE_TYPES = {"OPERATOR": SERVICE_ACTORS["operator"], "SYSTEM": ("Le service Mon espace santé", "The service")}
REPRESENTATIVE = ("Votre représentant légal", "Your legal representative")
SOMEONE_WITH_YOUR_LOGIN = ("Une personne utilisant votre identifiant", "Someone using your login")
ACTIONS = {
    "login": ("Connexion", "Sign-in"),
    "logout": ("Déconnexion", "Sign-out"),
    "imap.login": ("Connexion par un logiciel de messagerie", "Sign-in from a mail client"),
    "imap.login_failed": ("Connexion refusée (logiciel de messagerie)", "Mail client sign-in refused"),
    "auth.success": ("Connexion pour envoyer des messages", "Sign-in to send mail"),
    "auth.failure": ("Connexion refusée (envoi de messages)", "Sign-in to send mail refused"),
    "imap.shared_access": ("Accès à un dossier partagé", "Shared folder accessed"),
    "read": ("Lecture d'un message", "Message read"),
    "deliver": ("Message reçu", "Message received"),
    "send": ("Message envoyé", "Message sent"),
    "delete": ("Suppression d'un message", "Message deleted"),
    "conversation.end": ("Fin des échanges", "Conversation ended"),
    "dossier.access": ("Accès au dossier", "Dossier accessed"),
    "document.integrate": ("Document ajouté", "Document added"),
    "dossier.emergency": ("Accès d'urgence au dossier (bris de glace)", "Emergency access to the dossier"),
    "dossier.mask": ("Visibilité d'un document pour les professionnels", "A document's visibility to professionals"),
    "dossier.block": ("Accès d'un professionnel au dossier", "A professional's access to the dossier"),
    "dossier.gp": ("Médecin traitant déclaré", "General practitioner declared"),
    "profile.read": ("Consultation du profil médical", "Medical profile read"),
    "profile.change": ("Modification du profil médical", "Medical profile changed"),
    "account.totp": ("Validation en deux étapes", "Two-step verification"),
    "patient.provision": ("Création de l'espace", "Space created"),
    "patient.activate": ("Activation de l'espace", "Space activated"),
    "patient.object": ("Opposition à l'espace", "Objection to the space"),
    "patient.close": ("Fermeture de l'espace", "Space closed"),
    "patient.reopen": ("Réouverture de l'espace", "Space reopened"),
    "patient.deletion_request": ("Demande de suppression", "Deletion requested"),
    "patient.delete": ("Suppression de l'espace", "Space deleted"),
    "patient.export": ("Export des données", "Data exported"),
    "notify": ("Notification envoyée", "Notification sent"),
    "patient.email_change": ("Adresse de notification confirmée", "Notification address confirmed"),
    "code.refused": ("Code provisoire refusé", "Activation code refused"),
    "account.create": ("Création du compte", "Account created"),
    "mailbox.inactive_warn": ("Avertissement d'inactivité", "Inactivity warning"),
    "mailbox.suspend": ("Suspension pour inactivité", "Suspended for inactivity"),
    "representative.add": ("Représentant légal ajouté", "Legal representative added"),
    "representative.remove": ("Fin de la représentation légale", "Legal representation ended"),
    "keys.rotate": ("Renouvellement des clés de chiffrement", "Encryption keys renewed"),
    "agenda.file": ("Rendez-vous reçu dans l'agenda", "Appointment received in the agenda"),
    "agenda.access": ("Consultation de l'agenda", "Agenda viewed"),
    "agenda.change": ("Modification de l'agenda", "Agenda changed"),
    "catalogue.read": ("Consultation du catalogue de services", "Catalogue of services viewed"),
    "catalogue.consent": ("Accord donné à un service du catalogue", "Consent to a catalogue service"),
    "catalogue.reapproval": ("Nouvelle version d'un service : accord à renouveler",
                             "New version of a service: consent to renew"),
    "catalogue.lapse": ("Fin de l'accès d'un service", "A service's access ended"),
    "catalogue.push": ("Envoi d'un service connecté", "Sent by a connected service"),
}
SENT_COPY = ("Message envoyé", "Message sent")
OTHER_ACTION = ("Autre opération", "Other operation")
OUTCOMES = {
    "ok": ("réussi", "succeeded"), "refused": ("refusé", "refused"),
    "throttled": ("bloqué (trop d'essais)", "blocked (too many attempts)"),
    "trashed": ("mis à la corbeille", "moved to the bin"), "deleted": ("supprimé définitivement", "deleted"),
    "queued": ("en cours d'envoi", "being sent"), "pending": ("en attente", "pending"),
    "new": ("ajouté", "added"), "update": ("mis à jour", "updated"), "cancel": ("annulé", "cancelled"),
    "stale": ("ignoré (version ancienne)", "ignored (older version)"),
    "not-owner": ("ignoré (autre expéditeur)", "ignored (another sender)"),
    "accepted": ("accepté", "accepted"), "declined": ("décliné", "declined"),
    "regenerated": ("nouveau lien", "new link"), "revoked": ("lien révoqué", "link revoked"),
    "added": ("ajouté", "added"), "replaced": ("modifié", "changed"),
    "hidden": ("masqué aux professionnels", "hidden from professionals"),
    "shown": ("visible des professionnels", "shown to professionals"),
    "set_up": ("préparée", "set up"), "enabled": ("activée", "enabled"), "disabled": ("désactivée", "disabled"),
    "granted": ("service connecté", "service connected"), "reapproved": ("nouvelle version approuvée",
                                                                          "new version approved"),
    "changed": ("autorisations modifiées", "permissions changed"),
    "withdrawn": ("accord retiré", "consent withdrawn"),
    "lapsed": ("accord expiré", "consent lapsed"), "suspended": ("service suspendu", "service suspended"),
    "dereferenced": ("service déréférencé", "service dereferenced"),
}
CHANNELS = {
    "web": ("Messagerie web", "Webmail"), "imap": ("Logiciel de messagerie (IMAP)", "Mail client (IMAP)"),
    "submission": ("Logiciel de messagerie (envoi)", "Mail client (submission)"),
    "mx": ("Espace de confiance MSSanté", "MSSanté trust space"), "internal": ("Le service", "The service"),
    "filing": ("Messagerie web", "Webmail"),
}
LOGIN_ACTIONS = frozenset({"login", "imap.login", "imap.login_failed", "auth.success", "auth.failure"})


def labelled(entry: AccessEntry, holder_id: int, holder_address: str,
             contact_names: dict[str, str]) -> dict[str, Any]:
    """One history line in words (entry.actor is the raw actor, entry.actor_name its account's name)."""
    actor_address = entry.actor.lower()
    holder = actor_address in (holder_address.lower(), f"ins-holder:{holder_id}")
    if entry.actor_type == "REPRESENTATIVE":  # audit.ActorType.REPRESENTATIVE: acting on this space
        name = entry.actor_name if entry.actor_name and "@" not in entry.actor_name else ""
        who = (f"{REPRESENTATIVE[0]} ({name})", f"{REPRESENTATIVE[1]} ({name})") if name else REPRESENTATIVE
    elif holder and entry.action in LOGIN_ACTIONS and entry.outcome != "ok":
        who = SOMEONE_WITH_YOUR_LOGIN  # a failed attempt is not the holder's doing until proven
    elif holder:
        who = YOU
    elif actor_address in SERVICE_ACTORS:
        who = SERVICE_ACTORS[actor_address]
    elif entry.actor_type in SERVICE_TYPES:
        who = SERVICE_TYPES[entry.actor_type]
    elif entry.actor_name and entry.actor_name != actor_address and "@" not in entry.actor_name:
        who = (entry.actor_name, entry.actor_name)
    elif actor_address in contact_names:
        who = (contact_names[actor_address], contact_names[actor_address])
    else:
        who = (UNKNOWN_SENDER, "Unidentified sender")
    what = SENT_COPY if holder and entry.action == "deliver" else ACTIONS.get(entry.action, OTHER_ACTION)
    outcome = OUTCOMES.get(entry.outcome, (entry.outcome, entry.outcome))
    channel = CHANNELS.get(entry.door, ("", ""))
    return {"at": iso(entry.at), "action": entry.action, "outcome": entry.outcome,
            "actor": who[0], "actor_en": who[1], "action_label": what[0], "action_label_en": what[1],
            "outcome_label": outcome[0], "outcome_label_en": outcome[1],
            "channel_label": channel[0], "channel_label_en": channel[1]}


MAX_SCANNED = 5000  # a filtered history looks at this many newest entries (within the dates) at most
