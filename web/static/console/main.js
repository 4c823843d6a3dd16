/* Flashwire editor console. Plain JavaScript modules, no build step. Data
 * from the API is only ever put into the page with textContent, never as
 * HTML. This module signs in and out and starts the console. */
import { api, onUnauthorized, session } from "./api.js";
import { preview } from "./compose.js";
import { $ } from "./dom.js";
import { forgetNames } from "./names.js";
import { closePartner } from "./partners.js";
import { loadTaxonomy } from "./taxonomy.js";
import { show, stopPolling } from "./views.js";

function signedIn(info) {
  session.csrf = info.csrf_token; session.me = info;
  $("signin-view").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who").textContent = info.name + " (" + info.role + ")";
  $("who").title = $("who").textContent;
  $("signout").hidden = false;
  document.querySelectorAll("[data-admin]").forEach(function (b) { b.hidden = info.role !== "admin"; });
  loadTaxonomy();
  // The sign-in button that had focus is gone: start at the heading.
  show("compose", true);
}

function signedOut() {
  session.csrf = ""; session.me = null;
  stopPolling();
  // A secret shown once must not outlive the session that made it.
  document.querySelectorAll(".secret-box").forEach(function (b) { b.hidden = true; b.querySelector("input").value = ""; });
  closePartner(false);
  // What one token could read is not for the next one to see.
  forgetNames();
  $("app").hidden = true;
  $("who").hidden = true;
  $("signout").hidden = true;
  $("signin-view").hidden = false;
  $("token").focus();
}

$("signin-form").addEventListener("submit", function (ev) {
  ev.preventDefault();
  var st = $("signin-status");
  st.textContent = "Signing in…";
  api("POST", "/editor/session", { token: $("token").value }).then(function (info) {
    $("token").value = "";
    st.textContent = "";
    signedIn(info);
  }, function (e) {
    st.textContent = e.status === 401 ? "That token is not valid." : e.message;
    $("token").focus();
  });
});

$("signout").addEventListener("click", function () {
  api("DELETE", "/editor/session").then(signedOut, signedOut);
});

onUnauthorized(signedOut);
preview();
api("GET", "/editor/session").then(signedIn, signedOut);
