// Documents: the dossier's categories as tabs with counts, each category's documents, one document (the
// hub's safe HTML of the CDA narrative, the PDF as a download, its versions), hiding it from professionals
// and showing it again, and who can see the dossier (block / unblock). Over /api/dossier (docs/dossier.md).
// Every piece of content is written with textContent; the narrative HTML (fixed tags, no attribute, built by
// the hub: dossier/narrative.py) is parsed inert by DOMParser, under a CSP without inline script.
"use strict";

import { $, api, clearMessages, download, el, say, title, when } from "./app-core.js";

const PANES = ["documents-list-pane", "document-pane", "access-pane"];
const STATES = { current: "Version en vigueur", replaced: "Remplacée par une version plus récente",
                 deprecated: "Remplacée par une version plus récente", withdrawn: "Retirée" };
const REASONS = { care: "Vous suit (échange récent)", granted: "Accès que vous avez autorisé",
                  emergency: "Accès en urgence", blocked: "Bloqué par vous" };
let categories = [];
let currentDocument = null;

function pane(id, tab) {
  for (const other of PANES) $(other).hidden = other !== id;
  for (const link of document.querySelectorAll("#document-tabs a")) {
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
}

async function tabs() {
  const data = await api("GET", "dossier");
  categories = data.categories;
  const list = $("document-tabs-list");
  list.replaceChildren();
  for (const category of categories) {
    const link = el("a", category.label + " ", { href: "#documents/" + category.code, "data-tab": category.code });
    link.appendChild(el("span", String(category.count), { class: "tally",
                                                          "aria-label": `${category.count} document${category.count > 1 ? "s" : ""}` }));
    list.appendChild(el("li")).appendChild(link);
  }
  const access = el("a", "Qui peut voir mon dossier", { href: "#documents/acces", "data-tab": "acces" });
  list.appendChild(el("li")).appendChild(access);
}

function documentItem(item) {
  const li = el("li");
  const link = el("a", "", { href: "#document/" + item.id, class: "message" });
  link.appendChild(el("span", item.title || "(sans titre)", { class: "subject" }));
  link.appendChild(el("span", item.authors.join(", ") || item.custodian || (item.own ? "Ajouté par vous" : ""),
                      { class: "who" }));
  if (item.hidden_from_professionals) link.appendChild(el("span", "Masqué aux professionnels", { class: "masked" }));
  if (item.has_pdf || item.own) link.appendChild(el("span", "PDF", { class: "attachment" }));
  if (item.effective_at) link.appendChild(el("time", when(item.effective_at), { datetime: item.effective_at }));
  li.appendChild(link);
  return li;
}

// #documents or #documents/CODE: the first category with documents (or the first) when none is named.
export async function showDocuments(code) {
  await tabs();
  if (code === "acces") return showAccess();
  const chosen = categories.find((c) => c.code === code) || categories.find((c) => c.count > 0) || categories[0];
  const data = await api("GET", "dossier/documents?category=" + encodeURIComponent(chosen.code));
  title("Documents");
  $("documents-list-title").textContent = chosen.label;
  $("documents-list").replaceChildren(...data.documents.map(documentItem));
  $("documents-empty").hidden = data.documents.length > 0;
  pane("documents-list-pane", chosen.code);
}

export async function showDocument(id) {
  await tabs();
  const shown = await api("GET", "dossier/documents/" + encodeURIComponent(id));
  currentDocument = shown;
  title("Document");
  $("document-title").textContent = shown.title || "(sans titre)";
  $("document-category").textContent = shown.label;
  $("document-date").textContent = when(shown.effective_at) || "—";
  $("document-authors").textContent = shown.authors.join(", ") || (shown.own ? "Vous" : "—");
  $("document-custodian").textContent = shown.custodian || "—";
  $("document-version").textContent = `${shown.version} (${STATES[shown.state] || shown.state})`;
  $("document-visibility").textContent = shown.hidden_from_professionals
    ? "Masqué aux professionnels de santé" : "Visible par les professionnels qui vous suivent";
  const body = $("document-html");
  body.replaceChildren();
  if (shown.html) {
    const parsed = new DOMParser().parseFromString(shown.html, "text/html");
    body.replaceChildren(...Array.from(parsed.body.childNodes).map((node) => document.adoptNode(node)));
  }
  body.hidden = !shown.html;
  $("document-pdf").hidden = !(shown.has_pdf || shown.own);  // the patient's own file is served there too
  $("document-hide").textContent = shown.hidden_from_professionals
    ? "Rendre visible aux professionnels" : "Masquer aux professionnels";
  const versions = $("document-versions");
  versions.replaceChildren(...shown.versions.map((v) => {
    const li = el("li");
    const text = `Version ${v.version}, ajoutée le ${when(v.filed_at)}`;
    if (v.id === shown.id) li.appendChild(el("span", text + " (affichée)"));
    else li.appendChild(el("a", text, { href: "#document/" + v.id }));
    return li;
  }));
  $("document-back").setAttribute("href", "#documents/" + shown.category);
  pane("document-pane", shown.category);
}

export async function toggleHidden() {
  clearMessages();
  const hide = !currentDocument.hidden_from_professionals;
  await api("POST", `dossier/documents/${currentDocument.id}/visibility`, { hidden_from_professionals: hide });
  await showDocument(String(currentDocument.id));
  say(hide ? "Document masqué aux professionnels de santé." : "Document de nouveau visible par les professionnels.");
}

export async function downloadPdf() {
  clearMessages();
  await download(`dossier/documents/${currentDocument.id}/pdf`, `document-${currentDocument.id}.pdf`);
}

async function showAccess() {
  const data = await api("GET", "dossier/professionals");
  title("Qui peut voir mon dossier");
  const body = $("access-table").tBodies[0];
  body.replaceChildren();
  for (const pro of data.professionals) {
    const row = el("tr");
    row.appendChild(el("td", pro.name));
    row.appendChild(el("td", REASONS[pro.reason] || pro.reason));
    row.appendChild(el("td", pro.last_exchange ? when(pro.last_exchange) : "—"));
    const cell = el("td");
    const blocked = pro.reason === "blocked";
    const button = el("button", blocked ? "Débloquer" : "Bloquer", {
      type: "button", "aria-label": `${blocked ? "Débloquer" : "Bloquer"} ${pro.name}` });
    button.addEventListener("click", () => {
      setBlocked(pro, !blocked).catch((error) => { $("error").textContent = error.message; $("error").hidden = false; });
    });
    cell.appendChild(button);
    row.appendChild(cell);
    body.appendChild(row);
  }
  $("access-empty").hidden = data.professionals.length > 0;
  pane("access-pane", "acces");
}

async function setBlocked(pro, block) {
  clearMessages();
  await api("POST", `dossier/professionals/${encodeURIComponent(pro.address)}/${block ? "block" : "unblock"}`);
  await showAccess();
  say(block ? `${pro.name} ne peut plus voir votre dossier.` : `${pro.name} peut de nouveau voir votre dossier s'il vous suit.`);
}
