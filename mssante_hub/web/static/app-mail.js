// Accueil and Messagerie: what is new, conversations by professional, folders, reading, writing.
"use strict";

import { pick, t } from "./app-i18n.js";

import { $, api, clearMessages, download, el, fail, go, sizeText, title, when } from "./app-core.js";
import { documentItem } from "./app-docs.js";
import { showMessageOffers } from "./app-profile.js";

const FOLDERS = { recus: ["INBOX", "Messages reçus"], envoyes: ["Sent", "Messages envoyés"],
                  corbeille: ["Trash", "Corbeille"] };
const PANES = ["conversations-pane", "list-pane", "read-pane", "compose-pane"];
const HOME_AGENDA_DAYS = 731; // how far ahead Accueil looks for the next appointment (the API allows 5 years)
let conversations = [];
let currentMessage = null;
let currentFolderTab = "recus";
let rules = null;

function pane(id, tab) {
  for (const other of PANES) $(other).hidden = other !== id;
  for (const link of document.querySelectorAll("#mail-view [data-tab]")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
}

// What the hub knows of a local professional beside the name (profession, structure); "" for anyone else.
function about(item) { return [item.profession, item.structure].filter(Boolean).join(" · "); }

// One message as a link: reachable with Tab, opened with Enter (or a click).
function messageItem(item, folder) {
  const li = el("li");
  const link = el("a", "", { href: "#message/" + item.id, class: "message" + (item.seen ? "" : " unread") });
  const who = folder === "INBOX" ? item.from_name : "À " + (item.to_names.join(", ") || "—");
  if (!item.seen) link.appendChild(el("span", "Non lu", { class: "badge" }));
  link.appendChild(el("span", who, { class: "who" }));
  link.appendChild(el("span", item.subject || "(sans objet)", { class: "subject", ...(item.subject ? { translate: "no" } : {}) }));
  if (item.document) link.appendChild(el("span", "Document : " + item.document, { class: "document" }));
  if (item.attachments) link.appendChild(el("span", "Pièce jointe", { class: "attachment" }));
  link.appendChild(el("time", when(item.date), { datetime: item.date }));
  li.appendChild(link);
  return li;
}

export async function showHome() {
  const data = await api("GET", "home");
  title("Accueil");
  $("home-summary").textContent = data.unread === 0 ? "Aucun nouveau message."
    : data.unread === 1 ? "Vous avez 1 nouveau message." : `Vous avez ${data.unread} nouveaux messages.`;
  $("home-list").replaceChildren(...data.latest_unread.map((item) => messageItem(item, "INBOX")));
  showUnread(data.unread);
  // Documents filed lately, the next appointment and the prevention items still to plan (titles only, never in
  // the tab title), asked at once; a failure of one leaves the rest of Accueil shown.
  const day = (offset) => new Date(Date.now() + offset * 864e5).toISOString().slice(0, 10);
  const [recent, agenda] = await Promise.all([
    api("GET", "dossier/recent").catch(() => null),
    api("GET", `agenda?from=${day(0)}&to=${day(HOME_AGENDA_DAYS)}`).catch(() => null)]);
  $("home-documents").replaceChildren(...(recent ? recent.documents.map(documentItem) : []));
  $("home-documents-empty").hidden = !recent || recent.documents.length > 0;
  const next = agenda && agenda.items.find((item) => new Date(item.start) > new Date() && item.status !== "CANCELLED"
    && item.kind !== "reminder");
  $("home-next").textContent = !agenda ? "" : next ? `Prochain rendez-vous : ${next.title}, ${when(next.start)}`
    : "Aucun rendez-vous à venir.";
  const toPlan = agenda ? agenda.prevention.filter((item) => item.status === "to_plan") : [];
  $("home-plan").replaceChildren(...toPlan.map((item) => el("li", "À planifier : " + item.title)));
}

export function showUnread(count) {
  $("menu-unread").textContent = count ? `${count} non lu${count > 1 ? "s" : ""}` : "";
  $("menu-unread").hidden = !count;
}

export async function showConversations() {
  const data = await api("GET", "conversations");
  conversations = data.conversations;
  title("Messagerie");
  const list = $("conversations");
  list.replaceChildren();
  conversations.forEach((item, index) => {
    const li = el("li");
    const link = el("a", "", { href: "#conversation/" + index, class: "conversation" + (item.unread ? " unread" : "") });
    link.appendChild(el("span", item.name, { class: "who" }));
    if (about(item)) link.appendChild(el("span", about(item), { class: "about", translate: "no" }));
    if (item.unread) link.appendChild(el("span", `${item.unread} non lu${item.unread > 1 ? "s" : ""}`, { class: "badge" }));
    if (item.ended) link.appendChild(el("span", pick(item.banner), { class: "ended" }));
    if (item.last_at) link.appendChild(el("time", when(item.last_at), { datetime: item.last_at }));
    li.appendChild(link);
    list.appendChild(li);
  });
  $("conversations-empty").hidden = conversations.length > 0;
  pane("conversations-pane", "messagerie");
}

async function listInto(folder, heading, keep) {
  const data = await api("GET", "messages?folder=" + encodeURIComponent(folder));
  const items = data.messages.filter(keep);
  $("list-title").textContent = heading;
  $("list").replaceChildren(...items.map((item) => messageItem(item, folder)));
  $("list-empty").hidden = items.length > 0;
  return items;
}

export async function showFolder(tab) {
  const [folder, heading] = FOLDERS[tab] || FOLDERS.recus;
  currentFolderTab = tab in FOLDERS ? tab : "recus";
  title("Messagerie");
  $("list-banner").hidden = true;
  $("list-write").hidden = true;
  await listInto(folder, heading, () => true);
  pane("list-pane", currentFolderTab);
}

export async function showConversation(index) {
  if (!conversations.length) conversations = (await api("GET", "conversations")).conversations;
  const item = conversations[Number(index)];
  if (!item) return showConversations();
  title("Messagerie");
  await listInto("INBOX", "Échanges avec " + item.name, (m) => item.senders.includes(m.contact));
  $("list-banner").textContent = item.ended ? pick(item.banner) : "";
  $("list-banner").hidden = !item.ended;
  $("list-write").hidden = !item.can_write;
  $("list-write-link").href = "#nouveau/" + index;
  pane("list-pane", "messagerie");
}

export async function showMessage(id) {
  const message = await api("GET", "messages/" + id);
  currentMessage = { id, ...message };
  title("Message");
  $("read-subject").textContent = message.subject || t("(sans objet)");
  const details = about({ profession: message.from_profession, structure: message.from_structure });
  $("read-from").textContent = details ? `${message.from_name} (${details})` : message.from_name;
  $("read-to").textContent = message.to_names.join(", ");
  $("read-date").textContent = when(message.date);
  // The document a covering message filed is named, with a link to it in Documents when the patient may see it.
  const ids = message.document_ids || [];
  $("read-document").replaceChildren(ids.length
    ? el("a", message.document, { href: "#document/" + ids[0] }) : document.createTextNode(message.document || ""));
  $("read-document").hidden = $("read-document-label").hidden = !message.document;
  $("read-text").textContent = message.text;
  $("read-text").hidden = !message.text;
  const html = $("read-html");
  html.replaceChildren();
  if (message.html) {
    // Sanitised by the server (nh3); parsed by DOMParser, whose documents never run script, then adopted.
    const parsed = new DOMParser().parseFromString(message.html, "text/html");
    html.replaceChildren(...Array.from(parsed.body.childNodes).map((node) => document.adoptNode(node)));
  }
  html.hidden = !message.html;
  $("read-remote").hidden = !message.remote_content_blocked;
  const conversation = message.conversation;
  $("read-banner").textContent = conversation && conversation.ended ? pick(conversation.banner) : "";
  $("read-banner").hidden = !(conversation && conversation.ended);
  $("reply").hidden = !(conversation && conversation.can_reply);
  const list = $("read-attachments");
  list.replaceChildren();
  message.attachments.forEach((part, index) => {
    const button = el("button", `${part.filename || "pièce jointe"} (${sizeText(part.size)})`,
                      { type: "button", class: "download" });
    button.addEventListener("click", () => download(`messages/${id}/attachments/${index}`, part.filename).catch(fail));
    const item = el("li");
    item.appendChild(button);
    list.appendChild(item);
  });
  $("read-attachments-title").hidden = message.attachments.length === 0;
  await showMessageOffers(id, message.profile_offers);  // a professional's FHIR JSON: entries to add
  pane("read-pane", message.folder === "Sent" ? "envoyes" : message.folder === "Trash" ? "corbeille" : "recus");
  $("read-subject").setAttribute("tabindex", "-1");
  $("read-subject").focus();
}

async function loadRules() {
  rules = await api("GET", "recipients");
  return rules;
}

export async function showCompose(index, subject = "", inReplyTo = "", to = "") {
  await loadRules();
  if (!conversations.length && rules.restricted) conversations = (await api("GET", "conversations")).conversations;
  title("Nouveau message");
  const select = $("compose-to-select");
  select.replaceChildren(...rules.recipients.map((r) => el("option", about(r) ? `${r.name} (${about(r)})` : r.name,
                                                                 { value: r.contact, translate: "no" })));
  const restricted = rules.restricted;
  for (const id of ["compose-to-select", "compose-to-select-label"]) $(id).hidden = !restricted;
  for (const id of ["compose-to", "compose-to-label"]) $(id).hidden = restricted;
  const wanted = to || (index !== undefined && conversations[Number(index)] ? conversations[Number(index)].contact : "");
  if (wanted && restricted) select.value = wanted;
  if (!restricted) $("compose-to").value = to;
  $("compose-none").hidden = !(restricted && rules.recipients.length === 0);
  $("compose-form").hidden = restricted && rules.recipients.length === 0;
  $("compose-files-hint").textContent = restricted
    ? `(${rules.attachment_types.join(", ")} ; ${sizeText(rules.attachment_budget_bytes)} au plus)` : "";
  $("compose-subject").value = subject;
  $("compose-body").value = "";
  $("compose-reply-to").value = inReplyTo;
  pane("compose-pane", "nouveau");
}

export function replyToCurrent() {
  const subject = currentMessage.subject.startsWith("Re:") ? currentMessage.subject : "Re: " + currentMessage.subject;
  return showCompose(undefined, subject, currentMessage.message_id, currentMessage.conversation.reply_to);
}

function checkAttachments(files) {
  if (!rules || !rules.restricted) return;
  let total = 0;
  for (const file of files) {
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    if (!rules.attachment_types.includes(extension)) throw new Error(rules.attachment_errors.type);
    total += file.size;
  }
  if (total > rules.attachment_budget_bytes) throw new Error(rules.attachment_errors.size);
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error("Lecture du fichier impossible"));
    reader.readAsDataURL(file);
  });
}

export async function send(event) {
  event.preventDefault();
  clearMessages();
  const to = rules && rules.restricted ? [$("compose-to-select").value]
    : $("compose-to").value.split(/[,;]/).map((a) => a.trim()).filter(Boolean);
  const body = { to, subject: $("compose-subject").value, body: $("compose-body").value };
  if ($("compose-reply-to").value) body.in_reply_to = $("compose-reply-to").value;
  const files = Array.from($("compose-files").files);
  checkAttachments(files);
  if (files.length) {
    body.attachments = await Promise.all(files.map(async (file) => ({
      filename: file.name, content_type: file.type || "application/octet-stream", content_base64: await base64Of(file),
    })));
  }
  await api("POST", "messages", body);
  $("compose-files").value = "";
  go("#messagerie/envoyes", "Message envoyé.");
}

export async function deleteCurrent() {
  await api("DELETE", "messages/" + currentMessage.id);
  const back = currentMessage.folder === "Trash" ? "corbeille" : currentMessage.folder === "Sent" ? "envoyes" : "recus";
  go("#messagerie/" + back,
     currentMessage.folder === "Trash" ? "Message supprimé définitivement." : "Message mis à la corbeille.");
}
