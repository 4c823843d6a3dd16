/* Sent alerts, with delivery figures, corrections and retractions. */
import { api } from "./api.js";
import { $, clear, confirmDialog, el, emptyRow, keepFocus, newKey, say, when } from "./dom.js";
import { focusInvalid, showErrors } from "./forms.js";
import { names } from "./names.js";
import { stopPolling } from "./views.js";

var sentNext = "";
function delivery(d) {
  var names = { websocket: "WebSocket", sse: "SSE", webhook: "Webhooks", webpush: "Web Push" }, out = [];
  Object.keys(names).forEach(function (c) {
    var s = d && d[c];
    if (!s) return;
    var t = names[c] + ": " + s.reached + " reached";
    if (s.updates) t += ", " + s.updates + (s.updates === 1 ? " update" : " updates") + " delivered";
    if (s.retractions) t += ", " + s.retractions + (s.retractions === 1 ? " retraction" : " retractions") + " delivered";
    if (s.failed) t += ", " + s.failed + " failed";
    if (s.pending) t += ", " + s.pending + " pending";
    if (s.expired) t += ", " + s.expired + " expired";
    if (s.removed) t += ", " + s.removed + " removed (gone)";
    if (s.median_ms != null) t += " · median " + Math.round(s.median_ms) + " ms, p99 " + Math.round(s.p99_ms) + " ms";
    out.push(el("li", { text: t }));
  });
  if (!out.length) out.push(el("li", { text: "no deliveries yet" }));
  var ul = el("ul", { class: "delivery" });
  out.forEach(function (li) { ul.appendChild(li); });
  return ul;
}

function sentRow(a) {
  var actions = el("td", { class: "actions" });
  names.alert[a.id] = a.headline;
  if (!a.retracted) {
    actions.appendChild(el("button", { type: "button", class: "correct", "aria-label": "Correct: " + a.headline, onclick: function () { correct(a); } }, "Correct"));
    actions.appendChild(el("button", { type: "button", class: "retract danger", "aria-label": "Retract: " + a.headline, onclick: function () { retract(a); } }, "Retract"));
  } else {
    actions.appendChild(el("span", { class: "tag", text: "retracted" }));
  }
  return el("tr", { "data-id": a.id, class: a.retracted ? "retracted" : "" },
    el("td", {}, when(a.published_at)),
    el("td", {}, el("span", { class: "prio prio-" + a.priority, text: a.priority })),
    el("td", {}, el("span", { class: "headline", text: a.headline }), a.updated_at && !a.retracted ? el("span", { class: "tag", text: "corrected" }) : null),
    el("td", {}, delivery(a.delivery)),
    actions);
}

export function loadSent(quiet, more) {
  var q = "/api/v1/alerts?limit=20" + (more && sentNext ? "&before=" + encodeURIComponent(sentNext) : "");
  return api("GET", q).then(function (r) {
    var tb = $("sent");
    keepFocus(tb, function () {
      if (!more) clear(tb);
      (r.alerts || []).forEach(function (a) { tb.appendChild(sentRow(a)); });
      emptyRow(tb, "No alerts yet.");
    });
    sentNext = r.next || "";
    $("sent-more").hidden = !sentNext;
  }, function (e) { if (!quiet) say(e.message); });
}
$("sent-more").addEventListener("click", function () { stopPolling(); loadSent(false, true); });

function retract(a) {
  confirmDialog("Retract this alert?", "\u201c" + a.headline + "\u201d disappears from readers' screens and partners get alert.retracted. This cannot be undone.", "Retract")
    .then(function (ok) {
      if (!ok) return;
      api("POST", "/api/v1/alerts/" + encodeURIComponent(a.id) + "/retract", undefined, { "Idempotency-Key": newKey() })
        .then(function () { say("Retracted: " + a.headline); loadSent(); }, function (e) { say(e.message); });
    });
}

var correcting = null;
function correct(a) {
  correcting = a;
  $("correct-headline").value = a.headline;
  $("correct-summary").value = a.summary || "";
  $("correct-url").value = a.url;
  showErrors($("correct-form"), null);
  $("correct").showModal();
}
$("correct-form").addEventListener("submit", function (ev) {
  if (ev.submitter && ev.submitter.value !== "save") return;
  ev.preventDefault();
  var f = $("correct-form"), a = correcting;
  api("POST", "/api/v1/alerts/" + encodeURIComponent(a.id) + "/update", {
    headline: $("correct-headline").value.trim(), summary: $("correct-summary").value.trim(), url: $("correct-url").value.trim()
  }).then(function () {
    $("correct").close();
    say("Correction sent: " + $("correct-headline").value.trim());
    loadSent();
  }, function (e) { showErrors(f, e); focusInvalid(f); });
});
