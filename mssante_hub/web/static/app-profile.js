// Profil médical (GET/POST/PUT/DELETE /api/profile, docs/profile.md): history, allergies, treatments,
// vaccinations, measures (weight and blood pressure also drawn over time, app-chart.js), and entourage et
// volontés (the trusted person and emergency contacts, advance directives, the position on organ donation).
// Each entry is a FHIR R4 resource that the page builds from a short form and reads back; add, edit, delete,
// hide from professionals. Every value is written with textContent (an entry is the patient's own text, but
// a representative's or an offer's all the same: never HTML).
"use strict";

import { pick, t } from "./app-i18n.js";

import { $, api, clearMessages, el, go, title, zone } from "./app-core.js";
import { lineChart } from "./app-chart.js";

const SELF = { reference: "Patient/self" };
const LOINC = "http://loinc.org";
const UCUM = "http://unitsofmeasure.org";
// The hub's own codes for the roles of the entourage (docs/web.md): no national code system is used yet.
const ROLE_SYSTEM = "urn:mssante-hub:entourage";
const ROLES = { "personne-de-confiance": "Personne de confiance", "contact-urgence": "Contact en cas d'urgence" };
const MEASURES = {
  weight: { code: "29463-7", label: "Poids", unit: "kg" },
  height: { code: "8302-2", label: "Taille", unit: "cm" },
  pressure: { code: "85354-9", label: "Tension artérielle", unit: "mm[Hg]" },
};
const SYSTOLIC = "8480-6", DIASTOLIC = "8462-4";
const ALWAYS_SHOWN = new Set(["DocumentReference"]);  // profile/entries.py ALWAYS_SHOWN_KINDS
// The groups of the page, in order; `entourage` ones go under "Entourage et volontés".
const GROUPS = [
  { kind: "Condition", title: "Antécédents", add: "Ajouter un antécédent", text: "Antécédent (maladie, opération)",
    date: "Depuis le (facultatif)" },
  { kind: "AllergyIntolerance", title: "Allergies", add: "Ajouter une allergie", text: "Allergie ou intolérance",
    date: "Constatée le (facultatif)" },
  { kind: "MedicationStatement", title: "Traitements", add: "Ajouter un traitement", text: "Médicament",
    date: "Depuis le (facultatif)" },
  { kind: "Immunization", title: "Vaccinations", add: "Ajouter une vaccination", text: "Vaccin",
    date: "Date de la vaccination" },
  { kind: "Observation", title: "Mesures", add: "Ajouter une mesure", date: "Date de la mesure" },
  { kind: "RelatedPerson", title: "Personne de confiance et contacts d'urgence", add: "Ajouter un proche",
    entourage: true },
  { kind: "DocumentReference", title: "Directives anticipées", add: "Écrire mes directives anticipées",
    date: "Écrites le", entourage: true },
  { kind: "Consent", title: "Don d'organes", add: "Indiquer ma position sur le don d'organes", date: "Le",
    entourage: true },
];
const FIELDS = ["pf-text-row", "pf-date-row", "pf-dosage-row", "pf-note-row", "pf-measure-row", "pf-value-row",
                "pf-pressure-row", "pf-person-row", "pf-position-row", "pf-directives-row"];
const SHOWN = {
  Condition: ["pf-text-row", "pf-date-row", "pf-note-row"],
  AllergyIntolerance: ["pf-text-row", "pf-date-row", "pf-note-row"],
  MedicationStatement: ["pf-text-row", "pf-dosage-row", "pf-date-row", "pf-note-row"],
  Immunization: ["pf-text-row", "pf-date-row", "pf-note-row"],
  Observation: ["pf-measure-row", "pf-value-row", "pf-pressure-row", "pf-date-row"],
  RelatedPerson: ["pf-person-row"],
  DocumentReference: ["pf-directives-row", "pf-date-row"],
  Consent: ["pf-position-row", "pf-date-row"],
};
let editing = null;  // {kind, id (null when adding), original (the resource edited)}
// The fields the form writes, per kind of free-text entry; an edit keeps the others of the original (an entry
// added from a document has a clinical status, categories...), and keeps its coded concept while its words are
// left as they were.
const OWNED = {
  Condition: ["code", "onsetDateTime", "note"], AllergyIntolerance: ["code", "recordedDate", "note"],
  MedicationStatement: ["medicationCodeableConcept", "effectiveDateTime", "dosage", "note", "status"],
  Immunization: ["vaccineCode", "occurrenceDateTime", "note", "status"],
};

function group(kind) { return GROUPS.find((g) => g.kind === kind); }
function today() { return new Intl.DateTimeFormat("en-CA", { timeZone: zone() }).format(new Date()); }
function day(value) {
  if (!value) return "";
  const [y, m, d] = value.slice(0, 10).split("-");
  return d && m && y ? `${d}/${m}/${y}` : value;
}
function concept(value) { return value ? (value.text || (value.coding || []).map((c) => c.display).find(Boolean) || "") : ""; }
function note(resource) { return (resource.note || []).map((n) => n.text).filter(Boolean).join(" "); }
function number(value) { return String(value).replace(".", ","); }
function parsed(text) { return Number(String(text).trim().replace(",", ".")); }
function text(base64) {
  try { return new TextDecoder().decode(Uint8Array.from(atob(base64 || ""), (c) => c.charCodeAt(0))); }
  catch (error) { return ""; }
}
function base64(value) {
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function measureOf(resource) {
  const code = ((resource.code || {}).coding || []).map((c) => c.code);
  return Object.keys(MEASURES).find((name) => code.includes(MEASURES[name].code)) || null;
}
function component(resource, code) {
  const found = (resource.component || []).find((c) => ((c.code || {}).coding || []).some((k) => k.code === code));
  return found && found.valueQuantity ? found.valueQuantity.value : null;
}

// What a list item says of an entry: [main line, details].
function describe(entry) {
  const r = entry.resource || {};
  switch (r.resourceType) {
    case "Observation": {
      const measure = measureOf(r);
      if (measure === "pressure") {
        return [`Tension artérielle : ${number(component(r, SYSTOLIC))}/${number(component(r, DIASTOLIC))} mmHg`,
                day(r.effectiveDateTime)];
      }
      const q = r.valueQuantity || {};
      return [`${concept(r.code) || "Mesure"} : ${number(q.value)} ${q.unit || ""}`.trim(), day(r.effectiveDateTime)];
    }
    case "MedicationStatement":
      return [concept(r.medicationCodeableConcept),
              [((r.dosage || [])[0] || {}).text, r.effectiveDateTime && "depuis le " + day(r.effectiveDateTime),
               note(r)].filter(Boolean).join(" · ")];
    case "RelatedPerson": {
      const name = (r.name || [])[0] || {};
      const role = (r.relationship || []).flatMap((c) => c.coding || []).find((c) => c.system === ROLE_SYSTEM);
      const link = (r.relationship || []).map((c) => c.text).find(Boolean);
      const phone = ((r.telecom || []).find((t) => t.system === "phone") || {}).value;
      return [[...(name.given || []), name.family].filter(Boolean).join(" ") || name.text || "Proche",
              [role ? ROLES[role.code] || role.display : "", link, phone].filter(Boolean).join(" · ")];
    }
    case "DocumentReference":
      return ["Mes directives anticipées", [day(r.date), text((((r.content || [])[0] || {}).attachment || {}).data)]
        .filter(Boolean).join(" · ")];
    case "Consent":
      return [((r.provision || {}).type === "deny") ? "Je refuse le don de mes organes"
                                                     : "J'accepte le don de mes organes", day(r.dateTime)];
    default:
      return [entry.display || concept(r.code) || concept(r.vaccineCode) || entry.label,
              [day(entry.date), note(r)].filter(Boolean).join(" · ")];
  }
}

function entryItem(entry) {
  const [main, details] = describe(entry);
  const li = el("li", "", { class: "entry" });
  const body = el("div", "", { class: "entry-text" });
  body.appendChild(el("span", main, { class: "subject" }));
  if (details) body.appendChild(el("span", details, { class: "note" }));
  // Advance directives are shown to every professional with access, and under emergency access, whatever the
  // patient hides (docs/profile.md): the page says so and offers no "Masquer" that would not hold.
  const always = ALWAYS_SHOWN.has(entry.kind);
  if (always) body.appendChild(el("span", "Toujours visibles par les professionnels qui ont accès à votre dossier, y compris en urgence", { class: "note always-shown" }));
  else if (entry.hidden_from_professionals) body.appendChild(el("span", "Masqué aux professionnels", { class: "document" }));
  li.appendChild(body);
  const actions = el("div", "", { class: "actions" });
  actions.appendChild(el("a", "Modifier", { href: "#profil/modifier/" + entry.id, class: "button",
                                            "aria-label": "Modifier : " + main }));
  const hide = el("button", entry.hidden_from_professionals ? "Rendre visible" : "Masquer",
                  { type: "button", "aria-label": (entry.hidden_from_professionals ? "Rendre visible aux professionnels : "
                                                                                     : "Masquer aux professionnels : ") + main });
  hide.addEventListener("click", () => act(async () => {
    await api("POST", `profile/${entry.id}/visibility`, { hidden_from_professionals: !entry.hidden_from_professionals });
    go("#profil", entry.hidden_from_professionals ? "L'entrée est de nouveau visible par les professionnels."
                                                  : "L'entrée est masquée aux professionnels.");
  }));
  const remove = el("button", "Supprimer", { type: "button", "aria-label": "Supprimer : " + main });
  remove.addEventListener("click", () => act(async () => {
    if (!confirm(t("Supprimer définitivement cette entrée et ses versions précédentes ?"))) return;
    await api("DELETE", "profile/" + entry.id);
    go("#profil", "L'entrée est supprimée.");
  }));
  if (always) actions.append(remove); else actions.append(hide, remove);
  li.appendChild(actions);
  return li;
}

function act(work) {
  Promise.resolve().then(work).catch((error) => { $("error").textContent = error.message; $("error").hidden = false; });
}

// The weight and blood pressure over time, from the measures' entries.
function charts(entries) {
  const points = { weight: [], systolic: [], diastolic: [] };
  for (const entry of entries) {
    const r = entry.resource || {};
    if (r.resourceType !== "Observation" || !r.effectiveDateTime) continue;
    const at = new Date(r.effectiveDateTime.length === 10 ? r.effectiveDateTime + "T12:00:00Z" : r.effectiveDateTime);
    const shown = day(r.effectiveDateTime);
    const measure = measureOf(r);
    if (measure === "weight" && r.valueQuantity) points.weight.push({ at, value: r.valueQuantity.value, day: shown });
    if (measure === "pressure") {
      const [high, low] = [component(r, SYSTOLIC), component(r, DIASTOLIC)];
      if (high !== null) points.systolic.push({ at, value: high, day: shown });
      if (low !== null) points.diastolic.push({ at, value: low, day: shown });
    }
  }
  $("chart-weight").replaceChildren(lineChart([{ label: "Poids", unit: "kg", points: points.weight }],
                                              "Évolution du poids (kg)"));
  $("chart-weight-figure").hidden = !points.weight.length;
  $("chart-pressure").replaceChildren(lineChart([
    { label: "Systolique", unit: "mmHg", points: points.systolic },
    { label: "Diastolique", unit: "mmHg", points: points.diastolic }], "Évolution de la tension artérielle (mmHg)"));
  $("chart-pressure-figure").hidden = !points.systolic.length && !points.diastolic.length;
}

export async function showProfile(action, id) {
  if (action === "ajouter" || action === "modifier") return showForm(action, id);
  title("Profil médical");
  const data = await api("GET", "profile");
  const sections = [];
  let entourage = false;
  for (const g of GROUPS) {
    if (g.entourage && !entourage) {
      entourage = true;
      sections.push(el("h2", "Entourage et volontés", { class: "part" }));
    }
    const section = el("section", "", { class: "profile-group", "aria-labelledby": "pg-" + g.kind });
    section.appendChild(el(g.entourage ? "h3" : "h2", g.title, { id: "pg-" + g.kind }));
    const mine = data.entries.filter((e) => e.kind === g.kind);
    if (g.kind === "Observation") section.appendChild($("profile-charts"));
    if (mine.length) {
      const list = el("ul", "", { class: "entries", id: "entries-" + g.kind });
      list.append(...mine.sort((a, b) => String(b.date).localeCompare(String(a.date))).map(entryItem));
      section.appendChild(list);
    } else {
      section.appendChild(el("p", "Rien d'indiqué pour l'instant.", { class: "note" }));
    }
    section.appendChild(el("p", "", {})).appendChild(el("a", g.add, { href: "#profil/ajouter/" + g.kind }));
    sections.push(section);
  }
  $("profile-groups").replaceChildren(...sections);
  charts(data.entries);
  $("profile-form").hidden = true;
  $("profile-list-pane").hidden = false;
}

function show(kind) {
  for (const row of FIELDS) $(row).hidden = !SHOWN[kind].includes(row);
  const g = group(kind);
  if (g.text) $("pf-text-label").textContent = g.text;
  if (g.date) $("pf-date-label").textContent = g.date;
  if (kind === "Observation") {
    const pressure = $("pf-measure").value === "pressure";
    $("pf-value-row").hidden = pressure;
    $("pf-pressure-row").hidden = !pressure;
    $("pf-value-label").textContent = `Valeur (${MEASURES[$("pf-measure").value].unit})`;
  }
  $("pf-text").required = !$("pf-text-row").hidden;
  $("pf-family").required = !$("pf-person-row").hidden;
  $("pf-date").required = ["Immunization", "Observation"].includes(kind);
}

// The form, filled from the entry's resource when editing.
async function showForm(action, id) {
  let kind = id, resource = null;
  if (action === "modifier") {
    const entry = await api("GET", "profile/" + encodeURIComponent(id));
    kind = entry.kind;
    resource = entry.resource || {};
  }
  const g = group(kind);
  if (!g) return go("#profil");
  editing = { kind, id: action === "modifier" ? id : null, original: resource };
  title(action === "modifier" ? "Modifier une entrée du profil médical" : "Ajouter au profil médical");
  $("profile-form").reset();
  $("pf-title").textContent = action === "modifier" ? "Modifier : " + g.title : g.add;
  $("pf-submit").textContent = action === "modifier" ? "Enregistrer la modification" : "Ajouter";
  $("pf-date").value = today();
  if (resource) fill(kind, resource);
  show(kind);
  $("profile-list-pane").hidden = true;
  $("profile-form").hidden = false;
  $("pf-title").focus();
}

function fill(kind, r) {
  const set = (id, value) => { if (value !== undefined && value !== null) $(id).value = String(value); };
  set("pf-note", note(r));
  switch (kind) {
    case "Observation": {
      const measure = measureOf(r) || "weight";
      set("pf-measure", measure);
      set("pf-date", (r.effectiveDateTime || "").slice(0, 10));
      if (measure === "pressure") { set("pf-systolic", component(r, SYSTOLIC)); set("pf-diastolic", component(r, DIASTOLIC)); }
      else set("pf-value", number((r.valueQuantity || {}).value));
      break;
    }
    case "RelatedPerson": {
      const name = (r.name || [])[0] || {};
      set("pf-family", name.family || name.text || "");
      set("pf-given", (name.given || []).join(" "));
      const role = (r.relationship || []).flatMap((c) => c.coding || []).find((c) => c.system === ROLE_SYSTEM);
      if (role && ROLES[role.code]) set("pf-role", role.code);
      set("pf-relation", (r.relationship || []).map((c) => c.text).find(Boolean) || "");
      set("pf-phone", ((r.telecom || []).find((t) => t.system === "phone") || {}).value || "");
      break;
    }
    case "DocumentReference":
      set("pf-directives", text((((r.content || [])[0] || {}).attachment || {}).data));
      set("pf-date", (r.date || "").slice(0, 10));
      break;
    case "Consent":
      set("pf-position", (r.provision || {}).type === "deny" ? "deny" : "permit");
      set("pf-date", (r.dateTime || "").slice(0, 10));
      break;
    case "MedicationStatement":
      set("pf-text", concept(r.medicationCodeableConcept));
      set("pf-dosage", ((r.dosage || [])[0] || {}).text || "");
      set("pf-date", (r.effectiveDateTime || "").slice(0, 10));
      break;
    case "Immunization":
      set("pf-text", concept(r.vaccineCode));
      set("pf-date", (r.occurrenceDateTime || "").slice(0, 10));
      break;
    default:
      set("pf-text", concept(r.code));
      set("pf-date", (r.onsetDateTime || r.recordedDate || "").slice(0, 10));
  }
}

function positive(id, label) {
  const value = parsed($(id).value);
  if (!Number.isFinite(value) || value <= 0 || value > 1000) throw new Error(`${label} : un nombre positif est attendu.`);
  return value;
}

// The FHIR resource the form describes.
function resourceOf(kind) {
  const words = $("pf-text").value.trim(), when = $("pf-date").value, remark = $("pf-note").value.trim();
  const notes = remark ? { note: [{ text: remark }] } : {};
  switch (kind) {
    case "Condition":
      return { resourceType: kind, subject: SELF, code: { text: words }, ...(when && { onsetDateTime: when }), ...notes };
    case "AllergyIntolerance":
      return { resourceType: kind, patient: SELF, code: { text: words }, ...(when && { recordedDate: when }), ...notes };
    case "MedicationStatement": {
      const dosage = $("pf-dosage").value.trim();
      return { resourceType: kind, status: "active", subject: SELF, medicationCodeableConcept: { text: words },
               ...(when && { effectiveDateTime: when }), ...(dosage && { dosage: [{ text: dosage }] }), ...notes };
    }
    case "Immunization":
      return { resourceType: kind, status: "completed", patient: SELF, vaccineCode: { text: words },
               occurrenceDateTime: when, ...notes };
    case "Observation": {
      const name = $("pf-measure").value, m = MEASURES[name];
      const code = { coding: [{ system: LOINC, code: m.code, display: m.label }], text: m.label };
      const base = { resourceType: kind, status: "final", subject: SELF, code, effectiveDateTime: when };
      const quantity = (value) => ({ value, unit: m.unit === "mm[Hg]" ? "mmHg" : m.unit, system: UCUM, code: m.unit });
      if (name !== "pressure") return { ...base, valueQuantity: quantity(positive("pf-value", "Valeur")) };
      return { ...base, component: [
        { code: { coding: [{ system: LOINC, code: SYSTOLIC, display: "Systolique" }] },
          valueQuantity: quantity(positive("pf-systolic", "Systolique")) },
        { code: { coding: [{ system: LOINC, code: DIASTOLIC, display: "Diastolique" }] },
          valueQuantity: quantity(positive("pf-diastolic", "Diastolique")) }] };
    }
    case "RelatedPerson": {
      const role = $("pf-role").value, link = $("pf-relation").value.trim(), phone = $("pf-phone").value.trim();
      const given = $("pf-given").value.trim();
      const relationship = [{ coding: [{ system: ROLE_SYSTEM, code: role, display: ROLES[role] }] }];
      if (link) relationship.push({ text: link });
      return { resourceType: kind, patient: SELF, relationship,
               name: [{ family: $("pf-family").value.trim(), ...(given && { given: given.split(/\s+/) }) }],
               ...(phone && { telecom: [{ system: "phone", value: phone }] }) };
    }
    case "DocumentReference": {
      const written = $("pf-directives").value.trim();
      if (!written) throw new Error("Écrivez vos directives anticipées.");
      return { resourceType: kind, status: "current", subject: SELF, ...(when && { date: when + "T12:00:00+00:00" }),
               type: { coding: [{ system: LOINC, code: "75320-2", display: "Directives anticipées" }] },
               content: [{ attachment: { contentType: "text/plain; charset=utf-8", data: base64(written) } }] };
    }
    case "Consent":
      return { resourceType: kind, status: "active", patient: SELF, ...(when && { dateTime: when }),
               scope: { coding: [{ system: "http://terminology.hl7.org/CodeSystem/consentscope", code: "adr",
                                   display: "Don d'organes" }], text: "Don d'organes" },
               category: [{ coding: [{ system: LOINC, code: "59284-0", display: "Consentement" }] }],
               provision: { type: $("pf-position").value === "deny" ? "deny" : "permit" } };
    default:
      throw new Error("Type d'entrée inconnu.");
  }
}

function kept(kind, built, original) {
  if (!original || !OWNED[kind]) return built;
  const merged = { ...original };
  for (const field of OWNED[kind]) delete merged[field];
  const conceptField = OWNED[kind][0];
  const before = original[conceptField];
  if (before && concept(before) === concept(built[conceptField])) built[conceptField] = before;
  delete merged.id;
  delete merged.meta;
  return { ...merged, ...built };
}

export async function save(event) {
  event.preventDefault();
  clearMessages();
  if (!editing) return;
  const resource = kept(editing.kind, resourceOf(editing.kind), editing.original);
  if (editing.id) await api("PUT", "profile/" + encodeURIComponent(editing.id), resource);
  else await api("POST", "profile", resource);
  const added = !editing.id;
  editing = null;
  go("#profil", added ? "L'entrée est ajoutée à votre profil médical." : "L'entrée est modifiée.");
}

// Offers listed, each added on request (`accept`, then a badge); one already added shows the badge. Nothing is
// added by itself.
function offerItems(list, offers, accept) {
  list.replaceChildren(...offers.map((offer) => {
    const r = offer.resource || {};
    const what = concept(r.code) || concept(r.vaccineCode) || concept(r.medicationCodeableConcept) || offer.label;
    const li = el("li", "", { class: "entry" });
    const body = el("div", "", { class: "entry-text" });
    body.append(el("span", what, { class: "subject" }), el("span", offer.label, { class: "note" }));
    const done = () => el("span", "Ajouté à votre profil", { class: "badge" });
    if (offer.added) {
      li.append(body, done());
      return li;
    }
    const add = el("button", "Ajouter à mon profil", { type: "button", "aria-label": `Ajouter à mon profil : ${what}` });
    add.addEventListener("click", () => act(async () => {
      clearMessages();
      await accept(offer);
      add.replaceWith(done());
      $("notice").textContent = `« ${what} » est ajouté à votre profil médical.`;
      $("notice").hidden = false;
    }));
    li.append(body, add);
    return li;
  }));
}

// What a dossier document offers as entries (GET /api/profile/offers/DOC): shown in the document's view
// (app-docs.js); an offer added is the patient's own entry (POST /api/profile).
export async function showOffers(documentId) {
  $("doc-offers").hidden = true;
  let offers = [];
  try { offers = (await api("GET", "profile/offers/" + encodeURIComponent(documentId))).offers; }
  catch (error) { return; }  // a document without coded sections, or none the patient may read: nothing offered
  offerItems($("doc-offers-list"), offers, (offer) => api("POST", "profile", offer.resource));
  $("doc-offers").hidden = offers.length === 0;
}

// What a professional's FHIR JSON attachments offer (GET /api/profile/offers/messages/ID), in the message's view
// (app-mail.js); an offer accepted is filed with the professional as its source.
export async function showMessageOffers(messageId, offered) {
  $("read-offers").hidden = true;
  if (!offered) return;
  let found;
  try { found = await api("GET", "profile/offers/messages/" + encodeURIComponent(messageId)); }
  catch (error) { return; }  // not a professional's message: nothing offered
  $("read-offers-source").textContent = found.offers.length ? `Proposé par ${found.source_name}.` : "";
  offerItems($("read-offers-list"), found.offers, (offer) =>
    api("POST", `profile/offers/messages/${encodeURIComponent(messageId)}/${offer.index}`));
  const refused = found.notice ? pick(found.notice) : found.refused.length
    ? `${found.refused.length} élément(s) des pièces jointes n'ont pas pu être repris.` : "";
  $("read-offers-refused").textContent = refused;
  $("read-offers-refused").hidden = !refused;
  $("read-offers").hidden = false;
}

export function wire(guarded) {
  $("profile-form").addEventListener("submit", guarded(save));
  $("pf-measure").addEventListener("change", () => { if (editing) show(editing.kind); });
  $("pf-cancel").addEventListener("click", () => go("#profil"));
}
