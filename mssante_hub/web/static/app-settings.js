// Historique des accès and Paramètres: the access history in words, notifications, time zone, sessions,
// export, closure and deletion request.
"use strict";

import { field, t } from "./app-i18n.js";

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

// Who acted, as the server sorts them (web/history_filters.py).
const ACTOR_KINDS = [["holder", "Vous"], ["professional", "Professionnels de santé"],
                     ["representative", "Représentant légal"], ["service", "Le service"]];
let actionOptions = null;

// The filters go to the server (GET /api/history?actor=&action=&from=&to=&tz=): days in the patient's zone.
function historyQuery() {
  const query = new URLSearchParams({ limit: "500", tz: zone() });
  for (const [name, id] of [["actor", "filter-actor"], ["action", "filter-action"], ["from", "filter-from"],
                            ["to", "filter-to"]]) {
    if ($(id).value) query.set(name, $(id).value);
  }
  return query;
}

function options(select, pairs, all) {
  const kept = select.value;
  select.replaceChildren(el("option", all, { value: "" }), ...pairs.map(([v, text]) => el("option", text, { value: v })));
  select.value = pairs.some(([v]) => v === kept) ? kept : "";
}

export async function renderHistory() {
  const data = await api("GET", "history?" + historyQuery());
  const body = $("history").tBodies[0];
  body.replaceChildren();
  for (const entry of data.history) {
    const row = el("tr");
    for (const text of [when(entry.at), field(entry, "actor"), field(entry, "action_label"), field(entry, "channel_label"),
                       field(entry, "outcome_label")]) {
      row.appendChild(el("td", text));
    }
    body.appendChild(row);
  }
  const n = data.history.length;
  $("history-count").textContent = `${n} opération${n > 1 ? "s" : ""} affichée${n > 1 ? "s" : ""}`;
}

export async function showHistory() {
  title("Historique des accès");
  options($("filter-actor"), ACTOR_KINDS, "Tous");
  if (actionOptions === null) {  // the actions met in the newest entries, by key (one label, or both)
    const labels = new Map();
    for (const e of (await api("GET", "history?limit=500")).history) {
      labels.set(e.action, [...new Set([...(labels.get(e.action) || []), e.action_label])]);
    }
    actionOptions = [...labels].map(([key, words]) => [key, words.sort().join(" / ")])
      .sort((a, b) => a[1].localeCompare(b[1], "fr"));
  }
  options($("filter-action"), actionOptions, "Toutes");
  await renderHistory();
}

// The server's CSV (web/history_filters.py): the filters shown, formula-like cells prefixed with an apostrophe.
export async function exportHistory() {
  clearMessages();
  await download("history.csv?" + historyQuery(), "historique-des-acces.csv");
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
  if (!confirm(t("Fermer toutes vos sessions, sur tous vos appareils ?"))) return;
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
  if (!confirm(t("Fermer votre espace ? Vos données seront archivées."))) return;
  await api("POST", "space/close", { password: $("close-password").value });
  signedOut("Votre espace est fermé.");
}

export async function requestDeletion() {
  clearMessages();
  if (!confirm(t("Demander la suppression définitive de vos données ?"))) return;
  const data = await api("POST", "space/deletion", { password: $("close-password").value });
  say("Suppression demandée : elle aura lieu au plus tard le " + when(data.deletion_due_at) + ".");
}
