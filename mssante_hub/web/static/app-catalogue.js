// Services: the catalogue of referenced services (docs/catalogue.md), a theme filter, each service with what
// it is for and the patient's consent: connect it with the kinds of data it may send, change them, approve its
// new version before the date, or disconnect it. Every field is written with textContent; the service's links
// are https:// only (the hub refuses any other when the catalogue is loaded).
"use strict";

import { field, t } from "./app-i18n.js";

import { $, api, el, go, title, when } from "./app-core.js";

const STATUS = { online: "En ligne", offline: "Hors ligne", dereferenced: "Déréférencé", suspended: "Suspendu" };
const STATE = {
  active: "Connecté", reapproval_needed: "Nouvelle version à approuver", lapsed: "Accord expiré : à renouveler",
  unavailable: "Service indisponible",
};
const LINKS = { site: "Site du service", privacy: "Politique de confidentialité", terms: "Conditions d'utilisation" };
let theme = "";

function consentLine(service) {
  const consent = service.consent;
  if (!consent) return service.data_exchange ? "Non connecté" : "Ce service n'échange pas de données avec votre espace";
  let line = STATE[consent.state] || consent.state;
  if (consent.state === "reapproval_needed" && consent.reapprove_by) line += " avant le " + when(consent.reapprove_by);
  return line;
}

function scopesForm(service, number) {
  const form = el("form", "", { class: "catalogue-consent" });
  const fieldset = el("fieldset");
  fieldset.appendChild(el("legend", "Ce que le service peut vous transmettre"));
  const granted = new Set(service.consent ? service.consent.scopes : []);
  for (const offered of service.scopes) {
    const id = `scope-${number}-${offered.scope}`;
    const box = el("input", "", { type: "checkbox", id, value: offered.scope });
    box.checked = !service.consent || granted.has(offered.scope);
    const row = el("div", "", { class: "check-line" });
    row.appendChild(box);
    row.appendChild(el("label", field(offered, "label"), { for: id, class: "check" }));
    fieldset.appendChild(row);
  }
  form.appendChild(fieldset);
  const state = service.consent ? service.consent.state : "";
  const label = !service.consent ? "Connecter ce service"
    : state === "active" ? "Enregistrer les autorisations" : "Approuver la nouvelle version";
  const actions = el("div", "", { class: "actions" });
  actions.appendChild(el("button", label, { type: "submit", "aria-label": `${label} : ${service.name}` }));
  if (service.consent) {
    const off = el("button", "Déconnecter ce service", { type: "button",
                                                         "aria-label": `Déconnecter ${service.name}` });
    off.addEventListener("click", () => disconnect(service).catch(shown));
    actions.appendChild(off);
  }
  form.appendChild(actions);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const scopes = [...form.querySelectorAll("input[type=checkbox]")].filter((b) => b.checked).map((b) => b.value);
    connect(service, scopes).catch(shown);
  });
  return form;
}

function shown(error) { $("error").textContent = error.message; $("error").hidden = false; }

async function connect(service, scopes) {
  if (!scopes.length) throw new Error("Choisissez au moins un type de données.");
  const answer = await api("POST", `catalogue/${encodeURIComponent(service.id)}/consent`, { scopes });
  go(location.hash, answer.outcome === "granted" ? `${service.name} est connecté à votre espace.`
    : answer.outcome === "reapproved" ? `Nouvelle version de ${service.name} approuvée.`
      : `Autorisations de ${service.name} enregistrées.`);
}

async function disconnect(service) {
  if (!confirm(t(`Déconnecter ${service.name} ? Il ne pourra plus rien vous transmettre.`))) return;
  await api("DELETE", `catalogue/${encodeURIComponent(service.id)}/consent`);
  go(location.hash, `${service.name} est déconnecté de votre espace.`);
}

function serviceItem(service, number) {
  const item = el("li");
  const article = el("article", "", { "aria-labelledby": `service-${number}` });
  article.appendChild(el("h2", service.name, { id: `service-${number}` }));
  const facts = el("dl", "", { class: "headers" });
  const fact = (name, value) => { if (!value) return; facts.appendChild(el("dt", name)); facts.appendChild(el("dd", value)); };
  fact("Éditeur", service.editor);
  fact("Finalités", service.purposes.join(", "));
  fact("Thèmes", service.themes.join(", "));
  fact("État", `${STATUS[service.status] || service.status}, version ${service.version}`);
  fact("Mon accord", consentLine(service));
  article.appendChild(facts);
  if (service.description) article.appendChild(el("p", service.description));
  const links = Object.entries(service.urls).filter(([, url]) => url.startsWith("https://"));
  if (links.length) {
    const line = el("p");
    links.forEach(([name, url], index) => {
      if (index) line.appendChild(document.createTextNode(" · "));
      line.appendChild(el("a", LINKS[name] || name, { href: url, rel: "noopener noreferrer", target: "_blank" }));
    });
    article.appendChild(line);
  }
  if (service.status === "online" && service.data_exchange && service.scopes.length) {
    article.appendChild(scopesForm(service, number));
  } else if (service.consent) {
    const off = el("button", "Déconnecter ce service", { type: "button", "aria-label": `Déconnecter ${service.name}` });
    off.addEventListener("click", () => disconnect(service).catch(shown));
    article.appendChild(off);
  }
  item.appendChild(article);
  return item;
}

export async function showServices() {
  title("Services");
  const all = (await api("GET", "catalogue")).services;
  const themes = [...new Set(all.flatMap((s) => s.themes))].sort((a, b) => a.localeCompare(b, "fr"));
  const select = $("catalogue-theme");
  select.replaceChildren(el("option", "Tous les thèmes", { value: "" }),
                         ...themes.map((t) => el("option", t, { value: t })));
  if (!themes.includes(theme)) theme = "";
  select.value = theme;
  select.onchange = () => { theme = select.value; showServices().catch(shown); };
  const listed = theme ? (await api("GET", "catalogue?theme=" + encodeURIComponent(theme))).services : all;
  $("catalogue-list").replaceChildren(...listed.map(serviceItem));
  $("catalogue-empty").hidden = listed.length > 0;
}
