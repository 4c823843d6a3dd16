/* The audit log: who did what, in the console's words. */
import { api } from "./api.js";
import { $, clear, el, say, when } from "./dom.js";
import { loadNames, names } from "./names.js";

// AUDIT words the audit log's routes: what was done, and to what kind of
// thing its target names.
var AUDIT = {
  "POST /api/v1/alerts": ["Sent an alert", "alert"],
  "POST /api/v1/alerts/{id}/update": ["Corrected an alert", "alert"],
  "POST /api/v1/alerts/{id}/retract": ["Retracted an alert", "alert"],
  "DELETE /api/v1/alerts/scheduled/{id}": ["Cancelled a scheduled alert"],
  "PATCH /api/v1/held/{id}": ["Edited a held story"],
  "POST /api/v1/held/{id}/send": ["Sent a held story"],
  "POST /api/v1/held/{id}/dismiss": ["Dismissed a held story"],
  "POST /api/v1/tokens": ["Created a token", "token"],
  "DELETE /api/v1/tokens/{id}": ["Revoked a token", "token"],
  "POST /api/v1/partners": ["Added a partner", "partner"],
  "PATCH /api/v1/partners/{id}": ["Changed a partner", "partner"],
  "DELETE /api/v1/partners/{id}": ["Deleted a partner", "partner"],
  "POST /api/v1/partners/{id}/deliveries/{delivery}/replay": ["Sent a webhook again", "partner"],
  "POST /api/v1/partners/{id}/replay": ["Sent webhooks again", "partner"],
  "POST /api/v1/partners/{id}/test": ["Sent a test ping", "partner"],
  "POST /api/v1/partners/{id}/secret/rotate": ["Rotated a signing secret", "partner"],
  "POST /api/v1/partners/{id}/secret/revoke-previous": ["Revoked a previous signing secret", "partner"],
  "POST /api/v1/sources": ["Added a feed source", "source"],
  "PATCH /api/v1/sources/{id}": ["Changed a feed source", "source"],
  "DELETE /api/v1/sources/{id}": ["Deleted a feed source", "source"],
  "POST /api/v1/topics": ["Added topics or regions"],
  "DELETE /api/v1/topics/{slug}": ["Removed a topic", "slug"],
  "DELETE /api/v1/regions/{slug}": ["Removed a region", "slug"],
  "POST /editor/session": ["Signed in to the console"],
  "DELETE /editor/session": ["Signed out of the console"]
};

function auditRow(e) {
  var what = AUDIT[e.action] || [e.action], target = e.target || "", id = target.split("/")[0], name = "";
  if (what[1] === "slug") name = target;
  else if (what[1]) name = names[what[1]][id] || "";
  var action = e.action === "POST /api/v1/alerts" && e.status === 202 ? "Scheduled an alert" : what[0];
  var ok = e.status < 300;
  return el("tr", {},
    el("td", {}, when(e.at)), el("td", { text: e.token_name }),
    el("td", { class: "action", text: action }),
    el("td", { class: "target" }, name || target, name && name !== target ? el("span", { class: "meta", text: " " + id }) : null),
    el("td", { class: ok ? "" : "failing", text: ok ? "done" : (e.status < 500 ? "refused" : "failed") + " (" + e.status + ")" }));
}

var auditNext = "";
export function loadAudit(quiet, more) {
  var q = "/api/v1/audit?limit=50" + (more && auditNext ? "&before=" + encodeURIComponent(auditNext) : "");
  return Promise.all([api("GET", q), more ? null : loadNames()]).then(function (r) {
    var tb = $("audit");
    if (!more) clear(tb);
    (r[0].entries || []).forEach(function (e) { tb.appendChild(auditRow(e)); });
    auditNext = r[0].next || "";
    $("audit-more").hidden = !auditNext;
  }, function (e) { if (!quiet) say(e.message); });
}
$("audit-more").addEventListener("click", function () { loadAudit(false, true); });
