// The webmail's two languages: French first and by default, English through the switch in the header.
// The pages are written in French. This module translates what they show as they show it: every text node
// and labelling attribute added or changed (a MutationObserver) whose whole text is a string of the pages
// (app-i18n-en.js) is replaced by its English. Patient content (subjects, names, titles) sits under
// translate="no" where the pages mark it, and is otherwise left alone unless it equals a whole page string.
// API answers carry both languages ({fr, en}, *_en fields): pick() and the pages choose the patient's.
"use strict";

import { EN, EN_PATTERNS } from "./app-i18n-en.js";

export const LANG_KEY = "mssante-hub-lang";
const LOCALES = { fr: "fr-FR", en: "en-GB" };
const ATTRIBUTES = ["placeholder", "aria-label", "title", "alt"];
const SKIPPED = new Set(["SCRIPT", "STYLE", "TEXTAREA", "PRE"]);

export function lang() { return localStorage.getItem(LANG_KEY) === "en" ? "en" : "fr"; }
export function locale() { return LOCALES[lang()]; }

function escaped(text) { return text.replace(/[.*+?^$()|[\]\\]/g, "\\$&"); }

// "Vous avez {0} nouveaux messages." -> /^Vous avez (.+?) nouveaux messages\.$/ and its English template.
const PATTERNS = EN_PATTERNS.map(([french, english]) => [
  new RegExp("^" + escaped(french).replace(/\\?\{(\d)\\?\}/g, "(.+?)") + "$", "s"), english]);

function english(text) {
  const found = EN[text];
  if (found !== undefined) return found;
  for (const [pattern, template] of PATTERNS) {
    const parts = text.match(pattern);
    if (parts) return template.replace(/\{(\d)\}/g, (_, i) => { const part = parts[+i + 1]; return EN[part] ?? part; });
  }
  // Facts the pages join with " · " (a dose, a date, a note): each that is a string of the pages.
  if (text.includes(" · ")) {
    const pieces = text.split(" · "), done = pieces.map((piece) => english(piece) ?? piece);
    if (done.some((piece, i) => piece !== pieces[i])) return done.join(" · ");
  }
  return undefined;
}

// The English of one string of the pages (the French itself when none, or when the patient reads French).
export function t(text) {
  if (lang() !== "en") return text;
  return english(text) ?? text;
}

// A {fr, en} pair from the API, in the patient's language.
export function pick(pair) { return pair ? (lang() === "en" && pair.en ? pair.en : pair.fr) : ""; }

// A field of an API answer that also comes as field_en.
export function field(item, name) { return lang() === "en" && item[name + "_en"] ? item[name + "_en"] : item[name]; }

function translatedText(data) {
  const core = data.replace(/\s+/g, " ").trim();
  if (!core) return null;
  const found = english(core);
  if (found === undefined || found === core) return null;
  const lead = data.match(/^\s*/)[0], trail = data.match(/\s*$/)[0];
  return (lead ? " " : "") + found + (trail ? " " : "");
}

function kept(node) {
  const parent = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
  return !parent || SKIPPED.has(parent.tagName) || parent.closest("[translate=no]") !== null;
}

function textNode(node) {
  if (kept(node)) return;
  const changed = translatedText(node.data);
  if (changed !== null) node.data = changed;
}

function attributes(element) {
  if (kept(element)) return;
  for (const name of ATTRIBUTES) {
    const value = element.getAttribute(name);
    const changed = value ? translatedText(value) : null;
    if (changed !== null) element.setAttribute(name, changed.trim());
  }
}

function translateTree(root) {
  if (root.nodeType === Node.TEXT_NODE) return textNode(root);
  if (root.nodeType !== Node.ELEMENT_NODE || kept(root)) return;
  attributes(root);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeType === Node.TEXT_NODE) textNode(node); else attributes(node);
  }
}

function showSwitch() {
  const button = document.getElementById("lang-switch");
  if (!button) return;
  const other = lang() === "en" ? "fr" : "en";
  button.textContent = other === "en" ? "English" : "Français";
  button.setAttribute("lang", other);
  button.setAttribute("translate", "no");
  button.setAttribute("aria-label", other === "en" ? "Read the site in English" : "Lire le site en français");
  button.addEventListener("click", () => {
    localStorage.setItem(LANG_KEY, other);
    location.reload();  // the pages are drawn again in the chosen language, the session (sessionStorage) kept
  });
}

// Called once, before the pages draw anything.
export function start() {
  document.documentElement.setAttribute("lang", lang());
  showSwitch();
  if (lang() !== "en") return;
  translateTree(document.documentElement);
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "characterData") textNode(change.target);
      else if (change.type === "attributes") attributes(change.target);
      else for (const node of change.addedNodes) translateTree(node);
    }
  }).observe(document.documentElement, {
    subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ATTRIBUTES,
  });
}
