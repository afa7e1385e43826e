// Agenda (GET/POST /api/agenda..., docs/agenda.md): upcoming and past appointments, accepting or declining an
// invitation (the hub sends the professional an iMIP REPLY), the patient's own appointments and reminders,
// prevention items to plan, and the private ICS feed's address (made anew, or switched off). Times are shown in
// the patient's zone (Europe/Paris unless chosen otherwise); what they type is taken in that zone too.
// Every field is written with textContent.
"use strict";

import { locale } from "./app-i18n.js";

import { $, api, clearMessages, el, go, title, zone } from "./app-core.js";

const PAST_DAYS = 365, AHEAD_DAYS = 730;
const STATUS = { CONFIRMED: "Confirmé", TENTATIVE: "À confirmer", CANCELLED: "Annulé" };
const PARTSTAT = { "NEEDS-ACTION": "Votre réponse est attendue", ACCEPTED: "Vous avez accepté",
                   DECLINED: "Vous avez décliné" };
const KIND = { own: "Rendez-vous personnel", reminder: "Rappel" };
const PREVENTION = [["to_plan", "À planifier"], ["done", "Fait"], ["not_done", "Je ne le ferai pas"]];

function isoDay(date) { return new Intl.DateTimeFormat("en-CA", { timeZone: zone() }).format(date); }
function longWhen(iso, allDay) {
  const options = allDay ? { dateStyle: "full" } : { dateStyle: "full", timeStyle: "short" };
  return new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone() }).format(new Date(iso));
}
function shortDay(iso) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "long", timeZone: "UTC" }).format(new Date(iso + "T00:00:00Z"));
}

// The offset of `zoneName` at the instant `utc` (milliseconds), in minutes east of UTC.
function offsetAt(utc, zoneName) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: zoneName, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: "2-digit" }).formatToParts(new Date(utc)).map((p) => [p.type, p.value]));
  const local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return Math.round((local - utc) / 60000);
}

// A wall-clock date and time in the patient's zone, as ISO 8601 with its offset.
export function zonedIso(day, time, zoneName = zone()) {
  const [y, m, d] = day.split("-").map(Number), [h, mi] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, h, mi);
  let offset = offsetAt(wall, zoneName);
  offset = offsetAt(wall - offset * 60000, zoneName);  // again at the instant itself (the day clocks change)
  const instant = new Date(wall - offset * 60000);
  const sign = offset >= 0 ? "+" : "-", abs = Math.abs(offset);
  const pad = (n) => String(n).padStart(2, "0");
  const local = new Date(instant.getTime() + offset * 60000);
  return `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T` +
         `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function failed(error) { $("error").textContent = error.message; $("error").hidden = false; }

function answerButton(item, partstat, text, back = "#agenda") {
  const button = el("button", text, { type: "button", "data-partstat": partstat, "aria-label": `${text} : ${item.title}, ${longWhen(item.start)}` });
  button.addEventListener("click", () => {
    clearMessages();
    api("POST", `agenda/${item.id}/reply`, { partstat })
      .then(() => go(back, partstat === "ACCEPTED"
        ? "Vous avez accepté le rendez-vous : le professionnel en est informé."
        : "Vous avez décliné le rendez-vous : le professionnel en est informé."))
      .catch(failed);
  });
  return button;
}

function itemRow(item, upcoming) {
  const li = el("li", "", { class: "entry" + (item.status === "CANCELLED" ? " cancelled" : "") });
  const body = el("div", "", { class: "entry-text" });
  body.appendChild(el("time", longWhen(item.start, item.all_day), { datetime: item.start }));
  body.appendChild(el("a", item.title || "Rendez-vous", { class: "subject", href: "#rendez-vous/" + item.id }));
  const who = [item.professional, item.specialty].filter(Boolean).join(" · ");
  if (who) body.appendChild(el("span", who, { class: "who" }));
  if (item.place) body.appendChild(el("span", item.place, { class: "note" }));
  const marks = [KIND[item.kind], item.kind === "appointment" ? STATUS[item.status] : "",
                 item.kind === "appointment" && item.status !== "CANCELLED" ? PARTSTAT[item.partstat] : "",
                 item.recurring ? "Rendez-vous régulier" : ""].filter(Boolean);
  body.appendChild(el("span", marks.join(" · "), { class: "note" }));
  li.appendChild(body);
  if (upcoming && item.kind === "appointment" && item.status !== "CANCELLED") {
    const actions = el("div", "", { class: "actions" });
    if (item.partstat !== "ACCEPTED") actions.appendChild(answerButton(item, "ACCEPTED", "Accepter"));
    if (item.partstat !== "DECLINED") actions.appendChild(answerButton(item, "DECLINED", "Décliner"));
    li.appendChild(actions);
  }
  return li;
}

function preventionRow(item) {
  const li = el("li", "", { class: "entry" });
  const body = el("div", "", { class: "entry-text" });
  body.appendChild(el("span", item.title, { class: "subject" }));
  if (item.text) body.appendChild(el("span", item.text, { class: "note" }));
  body.appendChild(el("span", `À faire entre le ${shortDay(item.window_start)} et le ${shortDay(item.window_end)}`,
                      { class: "note" }));
  li.appendChild(body);
  const id = "prevention-" + item.id.replace(/[^A-Za-z0-9_-]/g, "_");
  const form = el("div", "", { class: "actions" });
  form.appendChild(el("label", "Où en êtes-vous ?", { for: id, class: "inline" }));
  const select = el("select", "", { id });
  for (const [value, text] of PREVENTION) {
    const option = el("option", text, { value });
    if (value === item.status) option.selected = true;
    select.appendChild(option);
  }
  select.addEventListener("change", () => {
    clearMessages();
    api("POST", "agenda/prevention/" + encodeURIComponent(item.id), { status: select.value })
      .then(() => go("#agenda", "C'est noté."))
      .catch(failed);
  });
  form.appendChild(select);
  li.appendChild(form);
  return li;
}

async function feed() {
  const state = await api("GET", "agenda/feed");
  $("feed-state").textContent = state.active
    ? `Un lien est actif depuis le ${longWhen(state.created_at)}. En créer un nouveau désactive l'ancien.`
    : "Aucun lien actif : votre agenda n'est lu par aucune autre application.";
  $("feed-create").textContent = state.active ? "Créer un nouveau lien" : "Créer le lien";
  $("feed-revoke").hidden = !state.active;
}

function statusText(item) {
  return [KIND[item.kind], item.kind === "appointment" ? STATUS[item.status] : "",
          item.kind === "appointment" && item.status !== "CANCELLED" ? PARTSTAT[item.partstat] : ""]
    .filter(Boolean).join(" · ");
}

// One item: its fields, its description, the answer buttons when it expects one, the covering message.
export async function showItem(id) {
  const item = await api("GET", "agenda/" + encodeURIComponent(id));
  title("Rendez-vous");
  $("agenda-item-title").textContent = item.title || "Rendez-vous";
  const end = item.end && !item.all_day
    ? " – " + new Intl.DateTimeFormat(locale(), { timeStyle: "short", timeZone: zone() }).format(new Date(item.end)) : "";
  $("agenda-item-when").textContent = longWhen(item.start, item.all_day) + end;
  $("agenda-item-who").textContent = [item.professional, item.specialty].filter(Boolean).join(" · ") || "—";
  $("agenda-item-place").textContent = item.place || "—";
  $("agenda-item-status").textContent = statusText(item) || "—";
  $("agenda-item-description").textContent = item.description || "";
  $("agenda-item-description").hidden = !item.description;
  const actions = [];
  if (item.can_reply && new Date(item.end || item.start) >= new Date()) {
    if (item.partstat !== "ACCEPTED") actions.push(answerButton(item, "ACCEPTED", "Accepter", "#rendez-vous/" + item.id));
    if (item.partstat !== "DECLINED") actions.push(answerButton(item, "DECLINED", "Décliner", "#rendez-vous/" + item.id));
  }
  $("agenda-item-actions").replaceChildren(...actions);
  $("agenda-item-message").hidden = !item.source_message;
  if (item.source_message) $("agenda-item-message-link").href = "#message/" + item.source_message;
  $("agenda-list-pane").hidden = true;
  $("agenda-item-pane").hidden = false;
}

export async function showAgenda() {
  title("Agenda");
  $("agenda-item-pane").hidden = true;
  $("agenda-list-pane").hidden = false;
  const now = new Date();
  const from = isoDay(new Date(now.getTime() - PAST_DAYS * 86400000));
  const to = isoDay(new Date(now.getTime() + AHEAD_DAYS * 86400000));
  const data = await api("GET", `agenda?from=${from}&to=${to}`);
  const upcoming = data.items.filter((i) => new Date(i.end || i.start) >= now);
  const past = data.items.filter((i) => new Date(i.end || i.start) < now).reverse();
  $("agenda-upcoming").replaceChildren(...upcoming.map((i) => itemRow(i, true)));
  $("agenda-upcoming-empty").hidden = upcoming.length > 0;
  $("agenda-past").replaceChildren(...past.map((i) => itemRow(i, false)));
  $("agenda-past-empty").hidden = past.length > 0;
  const planned = data.prevention;
  $("agenda-prevention").replaceChildren(...planned.map(preventionRow));
  $("agenda-prevention-empty").hidden = planned.length > 0;
  if (!$("ag-date").value) $("ag-date").value = isoDay(now);
  $("feed-new").hidden = true;
  $("feed-url").value = "";
  await feed();
}

export async function addOwn(event) {
  event.preventDefault();
  clearMessages();
  const start = zonedIso($("ag-date").value, $("ag-time").value);
  const end = new Date(new Date(start).getTime() + Number($("ag-duration").value) * 60000).toISOString();
  const kind = $("ag-kind").value;
  await api("POST", "agenda", { kind, title: $("ag-title").value.trim(), start, end,
                                place: $("ag-place").value.trim(), note: $("ag-note").value.trim() });
  $("agenda-form").reset();
  go("#agenda", kind === "reminder" ? "Le rappel est ajouté à votre agenda." : "Le rendez-vous est ajouté à votre agenda.");
}

async function newFeed() {
  clearMessages();
  const made = await api("POST", "agenda/feed");
  await feed();
  $("feed-url").value = new URL(made.url, location.origin).href;
  $("feed-new").hidden = false;
  $("feed-url").focus();
  $("feed-url").select();
}

async function revokeFeed() {
  clearMessages();
  await api("DELETE", "agenda/feed");
  go("#agenda", "Le lien de votre agenda est désactivé.");
}

export function wire(guarded) {
  $("agenda-form").addEventListener("submit", guarded(addOwn));
  $("feed-create").addEventListener("click", guarded(newFeed));
  $("feed-revoke").addEventListener("click", guarded(revokeFeed));
}
