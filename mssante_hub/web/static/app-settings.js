// Historique des accès and Paramètres: the access history in words, notifications, time zone, sessions,
// export, closure and deletion request.
"use strict";

import { $, DEFAULT_ZONE, ZONE_KEY, api, clearMessages, download, el, say, title, when, zone } from "./app-core.js";

const KIND_LABELS = { message: "un nouveau message", document: "un nouveau document", appointment: "un rendez-vous",
                      service: "des nouvelles d'un service connecté", screening: "une invitation de prévention",
                      access: "un accès d'un professionnel à mon dossier",
                      reminder: "un rappel de rendez-vous la veille" };
// Metropolitan France and the overseas departments and territories.
const ZONES = [
  ["Europe/Paris", "France métropolitaine (Paris)"], ["America/Guadeloupe", "Guadeloupe"],
  ["America/Martinique", "Martinique"], ["America/Cayenne", "Guyane"], ["Indian/Reunion", "La Réunion"],
  ["Indian/Mayotte", "Mayotte"], ["America/Miquelon", "Saint-Pierre-et-Miquelon"],
  ["Pacific/Noumea", "Nouvelle-Calédonie"], ["Pacific/Tahiti", "Polynésie française (Tahiti)"],
  ["Pacific/Wallis", "Wallis-et-Futuna"],
];

let historyEntries = [];

// Filters over the newest entries (up to the API's 500), in the page: who, what, from and to (local dates).
function localDay(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone() }).format(new Date(iso));  // YYYY-MM-DD
}

function filteredHistory() {
  const actor = $("filter-actor").value, action = $("filter-action").value;
  const from = $("filter-from").value, to = $("filter-to").value;
  return historyEntries.filter((e) => (!actor || e.actor === actor) && (!action || e.action_label === action)
    && (!from || localDay(e.at) >= from) && (!to || localDay(e.at) <= to));
}

function options(select, values, all) {
  const kept = select.value;
  select.replaceChildren(el("option", all, { value: "" }), ...values.map((v) => el("option", v, { value: v })));
  select.value = values.includes(kept) ? kept : "";
}

export function renderHistory() {
  const body = $("history").tBodies[0];
  body.replaceChildren();
  const shown = filteredHistory();
  for (const entry of shown) {
    const row = el("tr");
    for (const text of [when(entry.at), entry.actor, entry.action_label, entry.channel_label, entry.outcome_label]) {
      row.appendChild(el("td", text));
    }
    body.appendChild(row);
  }
  $("history-count").textContent = `${shown.length} opération${shown.length > 1 ? "s" : ""} affichée${shown.length > 1 ? "s" : ""}`;
}

export async function showHistory() {
  const data = await api("GET", "history?limit=500");
  title("Historique des accès");
  historyEntries = data.history;
  options($("filter-actor"), [...new Set(historyEntries.map((e) => e.actor))].sort(), "Tous");
  options($("filter-action"), [...new Set(historyEntries.map((e) => e.action_label))].sort(), "Toutes");
  renderHistory();
}

// A spreadsheet must not read a cell as a formula (CSV injection): such cells start with an apostrophe.
function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return '"' + text.replace(/"/g, '""') + '"';
}

export function exportHistory() {
  const lines = [["Date", "Qui", "Action", "Moyen", "Résultat"].map(csvCell).join(";")];
  for (const e of filteredHistory()) {
    lines.push([e.at, e.actor, e.action_label, e.channel_label, e.outcome_label].map(csvCell).join(";"));
  }
  const blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = el("a", "", { href: url, download: "historique-des-acces.csv" });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
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
