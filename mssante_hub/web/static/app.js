// The patient's space: sign-in, activation, and the router between Accueil, Messagerie, Historique and
// Paramètres (docs/web.md). Every view has its own address (#accueil, #messagerie/recus, #message/12...), so
// the browser's back button and keyboard links work; a view's title never names a sender or a subject.
"use strict";

import { start as startLanguage, t } from "./app-i18n.js";

import { $, TOKEN_KEY, api, space, clearMessages, fail, go, say, takeNotice, title, whenSignedOut } from "./app-core.js";
import * as agenda from "./app-agenda.js";
import * as catalogue from "./app-catalogue.js";
import * as docs from "./app-docs.js";
import * as mail from "./app-mail.js";
import * as profile from "./app-profile.js";
import * as settings from "./app-settings.js";
import * as spaces from "./app-spaces.js";
import * as totp from "./app-totp.js";

const VIEWS = ["login-view", "home-view", "mail-view", "documents-view", "profile-view", "agenda-view",
               "catalogue-view", "profiles-view", "history-view", "settings-view"];
let me = null;

function view(id, section) {
  for (const other of VIEWS) $(other).hidden = other !== id;
  for (const link of document.querySelectorAll("#menu [data-section]")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function signedOut(notice = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  spaces.forget();
  $("menu").hidden = true;
  $("who").hidden = true;
  $("space-banner").hidden = true;
  view("login-view", "");
  title("Connexion");
  if (history.replaceState) history.replaceState(null, "", location.pathname);
  if (notice) say(notice);
}

async function route() {
  clearMessages();
  if (location.hash.startsWith("#confirmer-courriel/")) {
    const token = location.hash.slice("#confirmer-courriel/".length);
    if (history.replaceState) history.replaceState(null, "", location.pathname);  // the token leaves the address
    let notice = "", problem = null;
    try { notice = await settings.confirmEmail(token); } catch (error) { problem = error; }
    await route();
    if (problem) fail(problem); else say(notice);
    return;
  }
  if (!sessionStorage.getItem(TOKEN_KEY)) return signedOut();
  if (!me) await signedIn();
  const [section, argument] = location.hash.replace(/^#/, "").split("/");
  switch (section) {
    case "messagerie":
      view("mail-view", "messagerie");
      await (argument ? mail.showFolder(argument) : mail.showConversations());
      break;
    case "conversation":
      view("mail-view", "messagerie");
      await mail.showConversation(argument);
      break;
    case "message":
      view("mail-view", "messagerie");
      await mail.showMessage(argument);
      break;
    case "nouveau":
      view("mail-view", "messagerie");
      await mail.showCompose(argument);
      break;
    case "documents":
      view("documents-view", "documents");
      await docs.showDocuments(argument);
      break;
    case "document":
      view("documents-view", "documents");
      await docs.showDocument(argument);
      break;
    case "profil":
      view("profile-view", "profil");
      await profile.showProfile(argument, location.hash.split("/")[2]);
      break;
    case "agenda":
      view("agenda-view", "agenda");
      await agenda.showAgenda();
      break;
    case "rendez-vous":
      view("agenda-view", "agenda");
      await agenda.showItem(argument);
      break;
    case "profils":
      view("profiles-view", "profils");
      await spaces.showProfiles();
      break;
    case "services":
      view("catalogue-view", "services");
      await catalogue.showServices();
      break;
    case "historique":
      view("history-view", "historique");
      await settings.showHistory();
      break;
    case "parametres":
      view("settings-view", "parametres");
      await settings.showSettings();
      if (!space()) await totp.showTotp();  // the holder's own (403 in a dependant's space)
      break;
    default:
      view("home-view", "accueil");
      await mail.showHome();
  }
  const notice = takeNotice();
  if (notice) say(notice);
}

async function signedIn() {
  me = await api("GET", "session");
  // A patient's space has no display name: the header never shows an address.
  $("who-name").textContent = me.name ? "Espace de " + me.name : "Connecté à votre espace";
  $("who").hidden = false;
  $("menu").hidden = false;
  await spaces.load();  // a legal representative: the spaces they act in, and the banner saying whose
}

function guarded(handler) {
  return (event) => { Promise.resolve(handler(event)).catch(fail); };
}

async function signIn(event) {
  event.preventDefault();
  clearMessages();
  const otp = $("login-otp-row").hidden ? undefined : $("login-otp").value.trim();
  let data;
  try {
    data = await api("POST", "session", { login: $("login").value, password: $("password").value, otp });
  } catch (error) {
    if (error.code === "otp_required" || error.code === "otp_failed") {  // the second factor (app-totp.js)
      $("login-otp-row").hidden = false;
      $("login-otp").required = true;
      $("login-otp").value = "";
      $("login-otp").focus();
    }
    throw error;
  }
  sessionStorage.setItem(TOKEN_KEY, data.token);
  $("password").value = "";
  $("login-otp").value = "";
  $("login-otp").required = false;
  $("login-otp-row").hidden = true;
  me = null;
  go("#accueil");
}

async function activate(event) {
  event.preventDefault();
  clearMessages();
  await api("POST", "activation", { ins: $("activate-ins").value.trim(), code: $("activate-code").value.trim(),
                                    password: $("activate-password").value });
  $("login").value = $("activate-ins").value.trim();
  $("activate-password").value = "";
  say("Votre espace est activé. Connectez-vous avec votre nouveau mot de passe.");
}

async function object() {
  clearMessages();
  if (!confirm(t("Votre espace et tout ce qu'il contient seront supprimés. Confirmer l'opposition ?"))) return;
  await api("POST", "objection", { ins: $("activate-ins").value.trim(), code: $("activate-code").value.trim() });
  say("Votre opposition est enregistrée : votre espace a été supprimé.");
}

function wire() {
  startLanguage();
  whenSignedOut(signedOut);
  $("login-form").addEventListener("submit", guarded(signIn));
  $("activate-form").addEventListener("submit", guarded(activate));
  $("object").addEventListener("click", guarded(object));
  $("logout").addEventListener("click", () => {
    api("DELETE", "session").catch(() => null).finally(() => signedOut("Vous êtes déconnecté."));
  });
  $("compose-form").addEventListener("submit", guarded(mail.send));
  $("reply").addEventListener("click", guarded(mail.replyToCurrent));
  $("delete").addEventListener("click", guarded(mail.deleteCurrent));
  $("doc-pdf").addEventListener("click", guarded(docs.downloadCurrent));
  $("doc-hide").addEventListener("click", guarded(docs.toggleCurrent));
  $("doc-more").addEventListener("click", guarded(docs.moreDocuments));
  $("doc-upload-form").addEventListener("submit", guarded(docs.upload));
  profile.wire(guarded);
  agenda.wire(guarded);
  spaces.wire();
  totp.wire(guarded);
  $("preferences-form").addEventListener("submit", guarded(settings.savePreferences));
  $("zone-form").addEventListener("submit", settings.saveZone);
  $("email-form").addEventListener("submit", guarded(settings.changeEmail));
  for (const id of ["filter-actor", "filter-action", "filter-from", "filter-to"]) {
    $(id).addEventListener("change", guarded(settings.renderHistory));
  }
  $("history-filters").addEventListener("submit", (event) => event.preventDefault());
  $("history-csv").addEventListener("click", guarded(settings.exportHistory));
  $("end-sessions").addEventListener("click", guarded(() => settings.endSessions(signedOut)));
  $("export-form").addEventListener("submit", guarded(settings.exportSpace));
  $("close-form").addEventListener("submit", guarded((event) => settings.closeSpace(event, signedOut)));
  $("request-deletion").addEventListener("click", guarded(settings.requestDeletion));
  // The skip link moves the focus only: its "#main" is not a view.
  document.querySelector("a.skip").addEventListener("click", (event) => { event.preventDefault(); $("main").focus(); });
  window.addEventListener("hashchange", () => { route().catch(fail); });
  route().catch(fail);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
else wire();
