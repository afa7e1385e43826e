// Validation en deux étapes (the TOTP second factor, web/totp_api.py) in Paramètres: set up with the password,
// the key shown once (typed into an authenticator application, or its otpauth:// address), confirmed by a first
// code, then the recovery codes shown once; removed with the password and a code. Sign-in asks for the code.
"use strict";

import { $, api, clearMessages, el, say } from "./app-core.js";

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
