// Historique des accès and Paramètres: the access history in words, notifications, time zone, sessions,
// export, closure and deletion request.
"use strict";

import { $, DEFAULT_ZONE, ZONE_KEY, api, clearMessages, download, el, say, title, when, zone } from "./app-core.js";

const KIND_LABELS = { message: "un nouveau message", document: "un nouveau document", appointment: "un rendez-vous",
                      service: "des nouvelles d'un service connecté", screening: "une invitation de prévention" };
// Metropolitan France and the overseas departments and territories.
const ZONES = [
  ["Europe/Paris", "France métropolitaine (Paris)"], ["America/Guadeloupe", "Guadeloupe"],
  ["America/Martinique", "Martinique"], ["America/Cayenne", "Guyane"], ["Indian/Reunion", "La Réunion"],
  ["Indian/Mayotte", "Mayotte"], ["America/Miquelon", "Saint-Pierre-et-Miquelon"],
  ["Pacific/Noumea", "Nouvelle-Calédonie"], ["Pacific/Tahiti", "Polynésie française (Tahiti)"],
  ["Pacific/Wallis", "Wallis-et-Futuna"],
];

export async function showHistory() {
  const data = await api("GET", "history");
  title("Historique des accès");
  const body = $("history").tBodies[0];
  body.replaceChildren();
  for (const entry of data.history) {
    const row = el("tr");
    for (const text of [when(entry.at), entry.actor, entry.action_label, entry.channel_label, entry.outcome_label]) {
      row.appendChild(el("td", text));
    }
    body.appendChild(row);
  }
}

export async function showSettings() {
  const data = await api("GET", "preferences");
  const personal = await api("GET", "personal-email");
  title("Paramètres");
  $("email-current").textContent = personal.email || "aucune adresse";
  const box = $("preferences");
  box.replaceChildren();
  for (const [kind, on] of Object.entries(data.notifications)) {
    const input = el("input", "", { type: "checkbox", id: "pref-" + kind, name: kind });
    input.checked = on;
    const label = el("label", KIND_LABELS[kind] || kind, { for: "pref-" + kind, class: "check" });
    const line = el("div", "", { class: "check-line" });
    line.append(input, label);
    box.appendChild(line);
  }
  const select = $("zone");
  select.replaceChildren(...ZONES.map(([value, label]) => el("option", label, { value })));
  select.value = ZONES.some(([value]) => value === zone()) ? zone() : DEFAULT_ZONE;
}

export async function savePreferences(event) {
  event.preventDefault();
  clearMessages();
  const notifications = {};
  for (const input of $("preferences").querySelectorAll("input")) notifications[input.name] = input.checked;
  await api("PUT", "preferences", { notifications });
  say("Préférences enregistrées.");
}

export async function changeEmail(event) {
  event.preventDefault();
  clearMessages();
  const data = await api("PUT", "personal-email", { email: $("email-new").value.trim(),
                                                    password: $("email-password").value });
  $("email-password").value = "";
  say(`Un lien de confirmation a été envoyé à ${data.sent_to} : l'adresse changera quand vous l'ouvrirez.`);
}

// The link mailed to the new address: #confirmer-courriel/TOKEN (a fragment: never sent to a server).
export async function confirmEmail(token) {
  const data = await api("POST", "email-confirmation", { token });
  return `Votre adresse de notification est confirmée : ${data.email}.`;
}

export function saveZone(event) {
  event.preventDefault();
  // Kept in this browser only: a display choice, not health data.
  localStorage.setItem(ZONE_KEY, $("zone").value);
  say("Fuseau horaire enregistré.");
}

export async function endSessions(signedOut) {
  clearMessages();
  if (!confirm("Fermer toutes vos sessions, sur tous vos appareils ?")) return;
  await api("DELETE", "sessions");
  signedOut("Vous êtes déconnecté de tous vos appareils.");
}

export async function exportSpace(event) {
  event.preventDefault();
  clearMessages();
  await download("space/export", "export-espace-sante.tar.gpg", "POST",
                 { password: $("export-password").value, passphrase: $("export-passphrase").value });
  $("export-password").value = "";
  say("Archive téléchargée.");
}

export async function closeSpace(event, signedOut) {
  event.preventDefault();
  clearMessages();
  if (!confirm("Fermer votre espace ? Vos données seront archivées.")) return;
  await api("POST", "space/close", { password: $("close-password").value });
  signedOut("Votre espace est fermé.");
}

export async function requestDeletion() {
  clearMessages();
  if (!confirm("Demander la suppression définitive de vos données ?")) return;
  const data = await api("POST", "space/deletion", { password: $("close-password").value });
  say("Suppression demandée : elle aura lieu au plus tard le " + when(data.deletion_due_at) + ".");
}
