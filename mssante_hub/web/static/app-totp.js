// Validation en deux étapes (the TOTP second factor, web/totp_api.py) in Paramètres: set up with the password,
// the key shown once (typed into an authenticator application, or its otpauth:// address), confirmed by a first
// code, then the recovery codes shown once; removed with the password and a code. Sign-in asks for the code.
"use strict";

import { $, api, clearMessages, el, say } from "./app-core.js";

const NS = "http://www.w3.org/2000/svg";
const QUIET = 4;  // modules of white around a QR code, as readers expect

// The QR code of the otpauth:// URI, drawn from the server's rows of modules as one SVG path (no image file).
function qrCode(rows) {
  const size = rows.length + 2 * QUIET;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Code QR de la clé, à lire avec votre application d'authentification");
  svg.setAttribute("class", "qr");
  svg.setAttribute("shape-rendering", "crispEdges");
  const background = document.createElementNS(NS, "rect");
  for (const [name, value] of [["width", size], ["height", size], ["fill", "#fff"]]) background.setAttribute(name, value);
  const path = document.createElementNS(NS, "path");
  let d = "";
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) if (row[x] === "1") d += `M${x + QUIET} ${y + QUIET}h1v1h-1z`;
  });
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.append(background, path);
  return svg;
}

function panes(shown) {
  for (const id of ["totp-start-form", "totp-confirm-form", "totp-codes-pane", "totp-off-form"]) {
    $(id).hidden = !shown.includes(id);
  }
}

export async function showTotp() {
  const state = await api("GET", "totp");
  $("totp-state").textContent = state.enabled
    ? `Activée : un code vous est demandé à chaque connexion. Codes de secours restants : ${state.recovery_codes_left}.`
    : "Désactivée : seul votre mot de passe vous est demandé.";
  panes(state.enabled ? ["totp-off-form"] : ["totp-start-form"]);
}

async function start(event) {
  event.preventDefault();
  clearMessages();
  const made = await api("POST", "totp", { password: $("totp-start-password").value });
  $("totp-start-form").reset();
  $("totp-secret").textContent = made.secret.replace(/(.{4})/g, "$1 ").trim();
  $("totp-uri").value = made.uri;
  $("totp-qr").replaceChildren(qrCode(made.qr));
  panes(["totp-confirm-form"]);
  $("totp-confirm-code").focus();
}

async function confirmCode(event) {
  event.preventDefault();
  clearMessages();
  const done = await api("POST", "totp/confirm", { code: $("totp-confirm-code").value.trim() });
  $("totp-confirm-form").reset();
  $("totp-secret").textContent = "";
  $("totp-uri").value = "";
  $("totp-qr").replaceChildren();
  $("totp-codes").replaceChildren(...done.recovery_codes.map((code) => el("li", code)));
  await showTotp();
  $("totp-codes-pane").hidden = false;
  say("La validation en deux étapes est activée.");
}

async function turnOff(event) {
  event.preventDefault();
  clearMessages();
  await api("DELETE", "totp", { password: $("totp-off-password").value, code: $("totp-off-code").value.trim() });
  $("totp-off-form").reset();
  $("totp-codes").replaceChildren();
  await showTotp();
  say("La validation en deux étapes est désactivée.");
}

export function wire(guarded) {
  $("totp-start-form").addEventListener("submit", guarded(start));
  $("totp-confirm-form").addEventListener("submit", guarded(confirmCode));
  $("totp-off-form").addEventListener("submit", guarded(turnOff));
}
