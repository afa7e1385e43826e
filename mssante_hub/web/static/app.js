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
  for (const id of ["list-view", "read-view", "compose-view", "history-view", "preferences-view", "space-view"]) {
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
  message.attachments.forEach((part, index) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "download";
    button.textContent = `${part.filename || "pièce jointe"} (${part.content_type}, ${part.size} octets)`;
    button.addEventListener("click", () => download(`messages/${id}/attachments/${index}`, part.filename).catch(fail));
    item.appendChild(button);
    list.appendChild(item);
  });
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
  const files = Array.from($("compose-files").files);
  if (files.length) {
    body.attachments = await Promise.all(files.map(async (file) => ({
      filename: file.name, content_type: file.type || "application/octet-stream", content_base64: await base64Of(file),
    })));
  }
  await api("POST", "messages", body);
  $("compose-files").value = "";
  await openFolder("Sent");
  say("Message envoyé.");
}

// A download needs the bearer header, so it is fetched, then handed to the browser as a file (never displayed).
async function download(path, filename, method = "GET", body = undefined) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("/api/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new Error(data && data.error ? data.error.fr : "Erreur " + response.status);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename || "piece-jointe";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error("Lecture du fichier impossible"));
    reader.readAsDataURL(file);
  });
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

async function activate(event) {
  event.preventDefault();
  clearMessages();
  await api("POST", "activation", { ins: $("activate-ins").value.trim(), code: $("activate-code").value.trim(),
                                    password: $("activate-password").value });
  $("login").value = $("activate-ins").value.trim();
  $("activate-password").value = "";
  say("Votre espace est activé. Connectez-vous avec votre nouveau mot de passe.");
}

async function object() {
  clearMessages();
  if (!confirm("Votre espace et tout ce qu'il contient seront supprimés. Confirmer l'opposition ?")) return;
  await api("POST", "objection", { ins: $("activate-ins").value.trim(), code: $("activate-code").value.trim() });
  say("Votre opposition est enregistrée : votre espace a été supprimé.");
}

async function exportSpace(event) {
  event.preventDefault();
  clearMessages();
  await download("space/export", "export-espace-sante.tar.gpg", "POST",
                 { password: $("export-password").value, passphrase: $("export-passphrase").value });
  $("export-password").value = "";
  say("Archive téléchargée.");
}

async function closeSpace(event) {
  event.preventDefault();
  clearMessages();
  if (!confirm("Fermer votre espace ? Vos données seront archivées.")) return;
  await api("POST", "space/close", { password: $("close-password").value });
  signedOut();
  say("Votre espace est fermé.");
}

async function requestDeletion() {
  clearMessages();
  if (!confirm("Demander la suppression définitive de vos données ?")) return;
  const data = await api("POST", "space/deletion", { password: $("close-password").value });
  say("Suppression demandée : elle aura lieu au plus tard le " + when(data.deletion_due_at) + ".");
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
  $("nav-space").addEventListener("click", () => { clearMessages(); show("space-view"); });
  $("activate-form").addEventListener("submit", (event) => activate(event).catch(fail));
  $("object").addEventListener("click", () => object().catch(fail));
  $("export-form").addEventListener("submit", (event) => exportSpace(event).catch(fail));
  $("close-form").addEventListener("submit", (event) => closeSpace(event).catch(fail));
  $("request-deletion").addEventListener("click", () => requestDeletion().catch(fail));
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
