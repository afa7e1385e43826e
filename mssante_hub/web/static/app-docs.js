// Documents: the dossier's categories as tabs with counts, a category's documents, one document (the CDA
// narrative as the hub renders it, the PDF as a download, versions), hide from professionals or show again,
// the patient's own documents, and who can see the dossier (block or unblock a professional).
// Every field is written with textContent; the narrative is the hub's fixed-tag HTML (dossier/narrative.py),
// parsed inert by DOMParser as the sanitised mail is (app-mail.js).
"use strict";

import { t } from "./app-i18n.js";

import { $, api, clearMessages, download, el, go, title, when } from "./app-core.js";
import { showOffers } from "./app-profile.js";

const PANES = ["doc-list-pane", "doc-read-pane"];
const REASONS = { care: "Prise en charge (échange récent)", granted: "Autorisé par vous",
                  emergency: "Accès d'urgence", blocked: "Bloqué par vous" };
let categories = [];
let current = null;
let shown = null;  // the category listed, and where its next page starts (null after the last page)

function pane(id) { for (const other of PANES) $(other).hidden = other !== id; }

function tabs(selected) {
  $("doc-tabs").replaceChildren(...categories.map((c) => {
    const link = el("a", "", { href: "#documents/" + c.code });
    link.appendChild(document.createTextNode(c.label + " "));
    link.appendChild(el("span", String(c.count), { class: "tally", "aria-label": `${c.count} document${c.count > 1 ? "s" : ""}` }));
    if (c.code === selected) link.setAttribute("aria-current", "page");
    const li = el("li");
    li.appendChild(link);
    return li;
  }));
}

// The patient's own document is "Vous" (the index holds the space's address as its author: never shown).
function author(item) { return item.own ? t("Vous") : item.authors.join(", ") || item.custodian || ""; }

export function documentItem(item) {
  const li = el("li");
  const link = el("a", "", { href: "#document/" + item.id, class: "message" });
  link.appendChild(el("span", item.title || item.label, { class: "subject", ...(item.title ? { translate: "no" } : {}) }));
  link.appendChild(el("span", author(item), { class: "who" }));
  if (item.hidden_from_professionals) link.appendChild(el("span", "Masqué aux professionnels", { class: "document" }));
  if (item.effective_at) link.appendChild(el("time", when(item.effective_at), { datetime: item.effective_at }));
  li.appendChild(link);
  return li;
}

async function professionals() {
  const data = await api("GET", "dossier/professionals");
  $("doc-pros").replaceChildren(...data.professionals.map((p) => {
    const li = el("li", "", { class: "row" });
    li.appendChild(el("span", p.name || "Professionnel", { class: "who" }));
    li.appendChild(el("span", REASONS[p.reason] || p.reason, { class: "subject" }));
    const blocked = p.reason === "blocked";
    const button = el("button", blocked ? "Débloquer" : "Bloquer", { type: "button",
      "aria-label": (blocked ? "Débloquer " : "Bloquer ") + (p.name || "ce professionnel") });
    button.addEventListener("click", () => {
      api("POST", `dossier/professionals/${encodeURIComponent(p.address)}/${blocked ? "unblock" : "block"}`)
        .then(() => go(location.hash, blocked ? "Le professionnel peut de nouveau voir votre dossier."
                                              : "Ce professionnel ne peut plus voir votre dossier."))
        .catch((error) => { $("error").textContent = error.message; $("error").hidden = false; });
    });
    li.appendChild(button);
    return li;
  }));
  $("doc-pros-empty").hidden = data.professionals.length > 0;
}

export async function showDocuments(code) {
  categories = (await api("GET", "dossier")).categories;
  const category = categories.find((c) => c.code === code) || categories.find((c) => c.count) || categories[0];
  title("Documents");
  tabs(category.code);
  const data = await api("GET", "dossier/documents?category=" + encodeURIComponent(category.code));
  $("doc-list-title").textContent = category.label;
  $("doc-list").replaceChildren(...data.documents.map(documentItem));
  $("doc-list-empty").hidden = data.documents.length > 0;
  listed(category.code, data.next);
  $("doc-upload-category").replaceChildren(...categories.map((c) => {
    const option = el("option", c.label, { value: c.code });
    if (c.code === category.code) option.selected = true;
    return option;
  }));
  await professionals();
  pane("doc-list-pane");
}

function listed(code, next) {
  shown = { code, next };
  $("doc-more").hidden = !next;
}

// "Plus de documents": the next page appended; focus goes to its first document (the button may disappear).
export async function moreDocuments() {
  const page = shown;
  const next = page && page.next;
  if (!next) return;
  page.next = null;  // a second click while this page loads asks for nothing
  const query = `category=${encodeURIComponent(page.code)}&after=${encodeURIComponent(next)}`;
  const data = await api("GET", "dossier/documents?" + query).catch((error) => { page.next = next; throw error; });
  if (shown !== page) return;  // another category was opened meanwhile
  const items = data.documents.map(documentItem);
  $("doc-list").append(...items);
  listed(page.code, data.next);
  if (items.length) items[0].querySelector("a").focus();
}

export async function showDocument(id) {
  const doc = await api("GET", "dossier/documents/" + encodeURIComponent(id));
  if (!categories.length) categories = (await api("GET", "dossier")).categories;
  current = doc;
  title("Document");
  tabs(doc.category);
  $("doc-read-title").textContent = doc.title || t(doc.label);
  $("doc-read-category").textContent = doc.label;
  $("doc-read-date").textContent = when(doc.effective_at || doc.filed_at);
  $("doc-read-authors").textContent = author(doc) || "—";
  $("doc-read-version").textContent = String(doc.version);
  $("doc-read-visibility").textContent = doc.hidden_from_professionals ? "Masqué aux professionnels"
    : "Visible par les professionnels qui peuvent voir votre dossier";
  $("doc-hide").textContent = doc.hidden_from_professionals ? "Rendre visible aux professionnels"
    : "Masquer aux professionnels";
  const html = $("doc-read-html");
  html.replaceChildren();
  if (doc.html) {
    const parsed = new DOMParser().parseFromString(doc.html, "text/html");
    html.replaceChildren(...Array.from(parsed.body.childNodes).map((node) => document.adoptNode(node)));
  }
  html.hidden = !doc.html;
  $("doc-pdf").hidden = !doc.has_pdf && !doc.own;
  $("doc-versions").replaceChildren(...doc.versions.map((v) => {
    const li = el("li");
    const text = `Version ${v.version} du ${when(v.filed_at)}` + (v.state === "current" ? " (actuelle)" : "");
    if (String(v.id) === String(doc.id)) li.textContent = text;
    else li.appendChild(el("a", text, { href: "#document/" + v.id }));
    return li;
  }));
  pane("doc-read-pane");
  await showOffers(doc.id);  // coded sections (IPS-FR, VSM...) the patient may add to the profil médical
}

export async function downloadCurrent() {
  if (current) await download(`dossier/documents/${current.id}/pdf`, `document-${current.id}`);
}

export async function toggleCurrent() {
  if (!current) return;
  const hidden = !current.hidden_from_professionals;
  await api("POST", `dossier/documents/${current.id}/visibility`, { hidden_from_professionals: hidden });
  go(location.hash, hidden ? "Le document est masqué aux professionnels." : "Le document est de nouveau visible.");
}

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error("Lecture du fichier impossible"));
    reader.readAsDataURL(file);
  });
}

export async function upload(event) {
  event.preventDefault();
  clearMessages();
  const file = $("doc-upload-file").files[0];
  if (!file) throw new Error("Choisissez un fichier.");
  const category = $("doc-upload-category").value;
  await api("POST", "dossier/documents", { category, title: $("doc-upload-title").value, filename: file.name,
                                           content_type: file.type, content_base64: await base64Of(file) });
  $("doc-upload-form").reset();
  go("#documents/" + category, "Votre document est ajouté.");
}
