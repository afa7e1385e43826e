// Shared pieces of the patient's pages: the API client, messages to the user, dates, element building.
// Message content is written with textContent; the only HTML inserted is the server-sanitised HTML of an
// HTML-only mail (web/rendering.py), parsed inert by DOMParser, under a CSP without inline script.
"use strict";

import { lang, locale, pick, t } from "./app-i18n.js";

export const TOKEN_KEY = "mssante-hub-token";
export const ZONE_KEY = "mssante-hub-zone";
// The space the pages act on when a legal representative chose a dependant's (app-spaces.js): sent as X-Space.
export const SPACE_KEY = "mssante-hub-space";
export const DEFAULT_ZONE = "Europe/Paris";
export const SITE = "Mon espace santé";

export const $ = (id) => document.getElementById(id);

export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function space() { return sessionStorage.getItem(SPACE_KEY); }

let onSignedOut = () => {};
export function whenSignedOut(callback) { onSignedOut = callback; }

export class ApiFailure extends Error {
  constructor(message, status, code = "") { super(message); this.status = status; this.code = code; }
}

export async function api(method, path, body) {
  const headers = {};
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (space()) headers["X-Space"] = space();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("/api/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && path !== "session") {
    onSignedOut(t("Votre session a expiré, reconnectez-vous."));
    const expired = new ApiFailure(t("Votre session a expiré, reconnectez-vous."), 401);
    expired.expired = true;
    throw expired;
  }
  if (!response.ok) {
    throw new ApiFailure(data && data.error ? pick(data.error) : t("Erreur") + " " + response.status, response.status,
                         data && data.error ? data.error.code : "");
  }
  return data;
}

// A download needs the bearer header, so it is fetched, then handed to the browser as a file (never displayed).
export async function download(path, filename, method = "GET", body = undefined) {
  const headers = { Authorization: "Bearer " + token() };
  if (space()) headers["X-Space"] = space();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch("/api/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiFailure(data && data.error ? pick(data.error) : t("Erreur") + " " + response.status, response.status);
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

export function say(text) { $("error").hidden = true; $("notice").textContent = text; $("notice").hidden = !text; }
export function fail(error) {
  if (error instanceof ApiFailure && error.expired) return;  // already said by the sign-out it caused
  $("notice").hidden = true;
  $("error").textContent = error.message;
  $("error").hidden = false;
}
export function clearMessages() { $("notice").hidden = true; $("error").hidden = true; }

export function zone() {
  const chosen = localStorage.getItem(ZONE_KEY);
  return chosen || DEFAULT_ZONE;
}

// The API sends ISO 8601 with an offset; shown in the patient's zone (Europe/Paris unless chosen otherwise).
export function when(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "short", timeZone: zone() })
    .format(new Date(iso));
}

// An element with text (never HTML) and attributes.
export function el(tag, text = "", attributes = {}) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

export function title(section) { document.title = section ? `${t(section)} – ${SITE}` : SITE; }

const SIZE_UNITS = { fr: [" Mo", " Ko", " octets"], en: [" MB", " KB", " bytes"] };
export function sizeText(bytes) {
  const [mega, kilo, unit] = SIZE_UNITS[lang()];
  const number = (value, digits) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
  if (bytes >= 1024 * 1024) return number(bytes / 1024 / 1024, 1) + mega;
  if (bytes >= 1024) return number(Math.round(bytes / 1024), 0) + kilo;
  return bytes + unit;
}

// Navigate, and say something once the new view is shown (the router clears old messages first).
let pendingNotice = "";
export function go(hash, notice = "") {
  pendingNotice = notice;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
export function takeNotice() { const notice = pendingNotice; pendingNotice = ""; return notice; }
