// The patient's webmail: a thin page over the JSON API (docs/web.md).
// Every piece of message content is written with textContent, never parsed as HTML,
// and the page's CSP forbids inline scripts: a hostile message cannot run code here.
"use strict";

const TOKEN_KEY = "mssante-hub-token";
const FOLDER_TITLES = { INBOX: "Messages reçus", Sent: "Messages envoyés", Trash: "Corbeille" };
const ACTION_LABELS = {
  "login": "Connexion", "logout": "Déconnexion", "read": "Lecture d'un message", "deliver": "Message reçu",
  "send": "Message envoyé", "delete": "Suppression d'un message", "dossier.access": "Accès au dossier",
  "document.integrate": "Document ajouté", "patient.provision": "Création de l'espace",
  "patient.activate": "Activation de l'espace", "patient.object": "Opposition", "patient.close": "Fermeture",
  "patient.reopen": "Réouverture", "patient.deletion_request": "Demande de suppression",
  "patient.export": "Export des données", "notify": "Notification envoyée", "code.refused": "Code refusé",
  "account.create": "Création du compte",
};
const OUTCOME_LABELS = { ok: "réussi", refused: "refusé", throttled: "bloqué (trop d'essais)",
                         trashed: "mis à la corbeille", deleted: "supprimé définitivement", queued: "en cours d'envoi" };
const KIND_LABELS = { message: "un nouveau message", document: "un nouveau document", appointment: "un rendez-vous",
                      service: "des nouvelles d'un service connecté", screening: "une invitation de prévention" };

const $ = (id) => document.getElementById(id);
let currentFolder = "INBOX";
let currentMessage = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path, body) {
  const headers = {};
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("/api/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && path !== "session") {
    signedOut();
    throw new Error("Votre session a expiré, reconnectez-vous.");
  }
  if (!response.ok) {
    throw new Error(data && data.error ? data.error.fr : "Erreur " + response.status);
  }
  return data;
}

function say(text) { $("error").hidden = true; $("notice").textContent = text; $("notice").hidden = !text; }
function fail(error) { $("notice").hidden = true; $("error").textContent = error.message; $("error").hidden = false; }
function clearMessages() { $("notice").hidden = true; $("error").hidden = true; }

function show(view) {
  for (const id of ["list-view", "read-view", "compose-view", "history-view", "preferences-view"]) {
    $(id).hidden = id !== view;
  }
}

function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
function when(iso) { return new Date(iso).toLocaleString("fr-FR"); }

function signedOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app-view").hidden = true;
  $("who").hidden = true;
  $("login-view").hidden = false;
}

async function signedIn() {
  const me = await api("GET", "session");
  $("who-address").textContent = me.address;
  $("who").hidden = false;
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  await openFolder("INBOX");
}

async function openFolder(folder) {
  currentFolder = folder;
  const data = await api("GET", "messages?folder=" + encodeURIComponent(folder));
  $("list-title").textContent = FOLDER_TITLES[folder] || folder;
  const body = $("list").tBodies[0];
  body.replaceChildren();
  for (const item of data.messages) {
    const row = document.createElement("tr");
    row.dataset.id = item.id;
    if (!item.seen) row.className = "unseen";
    cell(row, item.from);
    cell(row, item.subject || "(sans objet)");
    cell(row, when(item.date));
    row.addEventListener("click", () => openMessage(item.id).catch(fail));
    body.appendChild(row);
  }
  $("list-empty").hidden = data.messages.length > 0;
  show("list-view");
}

async function openMessage(id) {
  clearMessages();
  const message = await api("GET", "messages/" + id);
  currentMessage = { id, ...message };
  $("read-subject").textContent = message.subject || "(sans objet)";
  $("read-from").textContent = message.from;
  $("read-to").textContent = message.to;
  $("read-date").textContent = when(message.date);
  $("read-text").textContent = message.text;
  const list = $("read-attachments");
  list.replaceChildren();
  for (const part of message.attachments) {
    const item = document.createElement("li");
    item.textContent = `${part.filename || "pièce jointe"} (${part.content_type}, ${part.size} octets)`;
    list.appendChild(item);
  }
  show("read-view");
}

function compose(to = "", subject = "", inReplyTo = "") {
  clearMessages();
  $("compose-to").value = to;
  $("compose-subject").value = subject;
  $("compose-body").value = "";
  $("compose-reply-to").value = inReplyTo;
  show("compose-view");
}

function replyAddress(from) {
  const inside = /<([^>]+)>/.exec(from);
  return inside ? inside[1] : from.trim();
}

async function send(event) {
  event.preventDefault();
  const to = $("compose-to").value.split(/[,;]/).map((a) => a.trim()).filter(Boolean);
  const body = { to, subject: $("compose-subject").value, body: $("compose-body").value };
  if ($("compose-reply-to").value) body.in_reply_to = $("compose-reply-to").value;
  await api("POST", "messages", body);
  await openFolder("Sent");
  say("Message envoyé.");
}

async function showHistory() {
  clearMessages();
  const data = await api("GET", "history");
  const body = $("history").tBodies[0];
  body.replaceChildren();
  for (const entry of data.history) {
    const row = document.createElement("tr");
    cell(row, when(entry.at));
    cell(row, entry.actor);
    cell(row, ACTION_LABELS[entry.action] || entry.action);
    cell(row, OUTCOME_LABELS[entry.outcome] || entry.outcome);
    body.appendChild(row);
  }
  show("history-view");
}

async function showPreferences() {
  clearMessages();
  const data = await api("GET", "preferences");
  const box = $("preferences");
  box.replaceChildren();
  for (const [kind, on] of Object.entries(data.notifications)) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.name = kind;
    input.checked = on;
    label.appendChild(input);
    label.append(" " + (KIND_LABELS[kind] || kind));
    box.appendChild(label);
  }
  show("preferences-view");
}

async function savePreferences(event) {
  event.preventDefault();
  const notifications = {};
  for (const input of $("preferences").querySelectorAll("input")) notifications[input.name] = input.checked;
  await api("PUT", "preferences", { notifications });
  say("Préférences enregistrées.");
}

function wire() {
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearMessages();
    api("POST", "session", { login: $("login").value, password: $("password").value })
      .then((data) => { sessionStorage.setItem(TOKEN_KEY, data.token); $("password").value = ""; return signedIn(); })
      .catch(fail);
  });
  $("logout").addEventListener("click", () => { api("DELETE", "session").catch(() => null).finally(signedOut); });
  for (const button of document.querySelectorAll("nav [data-folder]")) {
    button.addEventListener("click", () => { clearMessages(); openFolder(button.dataset.folder).catch(fail); });
  }
  $("nav-compose").addEventListener("click", () => compose());
  $("nav-history").addEventListener("click", () => showHistory().catch(fail));
  $("nav-preferences").addEventListener("click", () => showPreferences().catch(fail));
  $("compose-form").addEventListener("submit", (event) => send(event).catch(fail));
  $("preferences-form").addEventListener("submit", (event) => savePreferences(event).catch(fail));
  $("reply").addEventListener("click", () => {
    const subject = currentMessage.subject.startsWith("Re:") ? currentMessage.subject : "Re: " + currentMessage.subject;
    compose(replyAddress(currentMessage.from), subject, currentMessage.message_id);
  });
  $("delete").addEventListener("click", () => {
    api("DELETE", "messages/" + currentMessage.id)
      .then(() => openFolder(currentFolder)).then(() => say("Message supprimé.")).catch(fail);
  });
  if (token()) signedIn().catch(() => signedOut());
}

document.addEventListener("DOMContentLoaded", wire);
