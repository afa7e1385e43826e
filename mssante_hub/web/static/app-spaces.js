// Profils: a legal representative (docs/web.md, "Spaces") acts in their own space or in each dependant's.
// The chosen space is kept in the tab's sessionStorage (SPACE_KEY) and sent by every API call as X-Space
// (app-core.js); a banner always says whose space the pages show. The holder's own acts (notification address,
// sign out everywhere, export, closure) stay the holder's: hidden in a dependant's space (the API refuses
// them there, 403 holder_only).
"use strict";

import { $, SPACE_KEY, api, clearMessages, el, go, space, title } from "./app-core.js";

const KINDS = { minor: "enfant mineur", protected_adult: "majeur protégé" };
let listed = [];

function nameOf(profile) { return profile.name || (profile.own ? "vous" : "votre proche"); }
export function current() {
  return listed.find((p) => String(p.id) === space()) || listed.find((p) => p.own) || null;
}

function render() {
  const here = current();
  const representative = listed.length > 1;
  $("menu-profiles").hidden = !representative;
  $("space-banner").hidden = !representative;
  const elsewhere = Boolean(here && !here.own);
  for (const node of document.querySelectorAll("[data-holder-only]")) node.hidden = elsewhere;
  $("holder-only-note").hidden = !elsewhere;
  $("space-banner").classList.toggle("dependant", elsewhere);
  if (here) $("who-name").textContent = here.name ? "Espace de " + here.name : "Connecté à votre espace";
  if (!representative || !here) return;
  $("space-banner-text").textContent = elsewhere
    ? `Vous êtes dans l'espace de ${nameOf(here)} (${KINDS[here.kind] || "personne représentée"}, dont vous êtes le représentant légal).`
    : `Vous êtes dans votre espace${here.name ? " (" + here.name + ")" : ""}.`;
  $("space-back").hidden = !elsewhere;
}

// After sign-in: the spaces this account may act in. A space chosen earlier but no longer linked is dropped.
export async function load() {
  listed = (await api("GET", "profiles")).profiles;
  if (space() && !listed.some((p) => !p.own && String(p.id) === space())) sessionStorage.removeItem(SPACE_KEY);
  render();
}

export function forget() { listed = []; sessionStorage.removeItem(SPACE_KEY); }

export function switchTo(profile) {
  clearMessages();
  if (profile.own) sessionStorage.removeItem(SPACE_KEY);
  else sessionStorage.setItem(SPACE_KEY, String(profile.id));
  render();
  go("#accueil", profile.own ? "Vous êtes de retour dans votre espace."
                             : `Vous êtes maintenant dans l'espace de ${nameOf(profile)}.`);
}

export async function showProfiles() {
  title("Profils");
  await load();
  const here = current();
  $("profiles-list").replaceChildren(...listed.map((profile) => {
    const li = el("li", "", { class: "entry" });
    const body = el("div", "", { class: "entry-text" });
    body.appendChild(el("span", profile.own ? `Mon espace${profile.name ? " (" + profile.name + ")" : ""}`
                                            : nameOf(profile), { class: "subject" }));
    const kind = KINDS[profile.kind] || "personne représentée";
    body.appendChild(el("span", profile.own ? "Titulaire" : `${kind} : vous êtes son représentant légal`,
                        { class: "note" }));
    li.appendChild(body);
    if (here && here.id === profile.id) {
      li.appendChild(el("span", "Espace affiché", { class: "badge" }));
    } else {
      const button = el("button", profile.own ? "Revenir à mon espace" : "Aller dans l'espace de " + nameOf(profile),
                        { type: "button" });
      button.addEventListener("click", () => switchTo(profile));
      li.appendChild(button);
    }
    return li;
  }));
}

export function wire() {
  $("space-back").addEventListener("click", () => {
    const own = listed.find((p) => p.own);
    if (own) switchTo(own);
  });
}
