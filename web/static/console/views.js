/* The console's views: which one shows, and the poll that refreshes it. */
import { loadAudit } from "./audit.js";
import { $, say } from "./dom.js";
import { loadHeld } from "./held.js";
import { loadPartners } from "./partners.js";
import { loadScheduled } from "./scheduled.js";
import { loadSent } from "./sent.js";
import { loadSources } from "./sources.js";
import { loadTopics } from "./taxonomy.js";
import { loadTokens } from "./tokens.js";

var poller = 0;
var loaders = {
  compose: function () {}, sent: loadSent, scheduled: loadScheduled, held: loadHeld, audit: loadAudit,
  partners: loadPartners, sources: loadSources, topics: loadTopics, tokens: loadTokens
};
var POLLED = { sent: 1, held: 1, scheduled: 1, sources: 1, partners: 1 };

export function stopPolling() { clearInterval(poller); poller = 0; }

export function show(view, focus) {
  document.querySelectorAll(".view").forEach(function (s) { s.hidden = s.id !== "view-" + view; });
  document.querySelectorAll(".tabs button").forEach(function (b) {
    if (b.getAttribute("data-view") === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  stopPolling();
  loaders[view]();
  if (POLLED[view]) {
    poller = setInterval(function () { if (!document.hidden) loaders[view](true); }, 3000);
  }
  if (focus) $("view-" + view).querySelector("h1").focus();
}

document.querySelectorAll(".tabs button").forEach(function (b) {
  b.addEventListener("click", function () { say(""); show(b.getAttribute("data-view"), true); });
});
