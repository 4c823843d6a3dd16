/* Partners: the list, and one partner's page with its delivery log,
 * replays, secret rotation and settings. */
import { api } from "./api.js";
import { $, clear, confirmDialog, count, el, emptyRow, focusRow, indexOfRow, keepFocus, list, picked, say, time, when } from "./dom.js";
import { focusInvalid, formSubmit, showErrors, showSecret } from "./forms.js";
import { names } from "./names.js";
import { tick } from "./taxonomy.js";

// Both partner forms (add, and a partner's settings) hold the same
// fields, made from one template with ids under prefix.
function partnerFields(f, prefix) {
  var frag = $("partner-fields").content.cloneNode(true);
  frag.querySelectorAll("[data-id]").forEach(function (i) { i.id = prefix + i.getAttribute("data-id"); });
  frag.querySelectorAll("[data-for]").forEach(function (l) { l.htmlFor = prefix + l.getAttribute("data-for"); });
  f.insertBefore(frag, f.querySelector(".errors"));
}
partnerFields($("partner-form"), "partner-");
partnerFields($("partner-edit"), "edit-");

function partnerBody(f) {
  return {
    name: f.name.value.trim(), url: f.url.value.trim(), topics: picked(f, "topics"), regions: picked(f, "regions"),
    languages: list(f.languages.value), min_priority: f.min_priority.value, events: picked(f, "events"), contact: f.contact.value.trim()
  };
}

// receives sums up what a partner is sent.
function receives(p) {
  var parts = [(p.topics || []).length ? p.topics.join(", ") : "every topic"];
  if ((p.regions || []).length) parts.push(p.regions.join(", "));
  if ((p.languages || []).length) parts.push(p.languages.join(", "));
  if (p.min_priority && p.min_priority !== "normal") parts.push(p.min_priority + " and above");
  if ((p.events || []).length && p.events.length < 3) parts.push(p.events.join(", "));
  return parts.join(" · ");
}

function stateText(p) { return p.state + (p.disabled_reason ? " (" + p.disabled_reason + ")" : ""); }

// partnerRows fills tb; a state or delete button that had focus keeps it
// across the refresh (see keepFocus).
function partnerRows(tb, partners) {
  partners.forEach(function (p) {
    names.partner[p.id] = p.name;
    var next = p.state === "active" ? "paused" : "active", verb = next === "active" ? (p.state === "disabled" ? "Re-enable" : "Resume") : "Pause";
    tb.appendChild(el("tr", { "data-id": p.id },
      el("td", { class: "name", text: p.name }), el("td", { text: p.url }),
      el("td", { text: receives(p) }),
      el("td", { class: "partner-state", text: stateText(p) }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "manage", "aria-label": "Manage: " + p.name, onclick: function () { openPartner(p.id); } }, "Manage"),
        el("button", { type: "button", class: "state", "aria-label": verb + ": " + p.name, onclick: function () {
          setPartnerState(p, next).then(loadPartners);
        } }, verb),
        el("button", { type: "button", class: "delete danger", "aria-label": "Delete: " + p.name, onclick: function (ev) {
          var index = indexOfRow(tb, ev.currentTarget);
          confirmDialog("Delete partner?", p.name + " stops receiving webhooks, and its delivery log goes.", "Delete").then(function (ok) {
            if (ok) api("DELETE", "/api/v1/partners/" + encodeURIComponent(p.id)).then(function () {
              say("Deleted: " + p.name);
              if (partner && partner.id === p.id) closePartner(false);
              return loadPartners().then(function () { focusRow(tb, index, "delete", "partners-title"); });
            }, function (e) { say(e.message); });
          });
        } }, "Delete"))));
  });
  emptyRow(tb, "No partners yet.");
}

function setPartnerState(p, state) {
  return api("PATCH", "/api/v1/partners/" + encodeURIComponent(p.id), { state: state }).then(function (q) {
    say((state === "active" ? (p.state === "disabled" ? "Re-enabled: " : "Resumed: ") : "Paused: ") + p.name);
    if (partner && partner.id === p.id) fillPartner(q);
  }, function (e) { say(e.message); });
}

export function loadPartners(quiet) {
  // A refresh under the editor's hands updates the delivery log only.
  if (quiet) return partner ? loadDeliveries(true) : Promise.resolve();
  return api("GET", "/api/v1/partners").then(function (r) {
    var tb = $("partners");
    keepFocus(tb, function () { partnerRows(clear(tb), r.partners || []); });
  }, function (e) { say(e.message); });
}
formSubmit("partner-form", function (f) { return ["POST", "/api/v1/partners", partnerBody(f)]; }, function (r, f) {
  f.reset();
  if (r.secret) showSecret(f, "Partner " + r.name + " added: copy its signing secret now, it is not shown again.", r.secret);
  else say("Partner added: " + r.name);
  loadPartners();
});

// The partner page: its state, delivery log, replays, secret and
// settings, under the list.
var partner = null, delivOffset = 0, DELIV_PAGE = 20;

function fillPartner(p) {
  partner = p;
  var f = $("partner-edit");
  $("partner-detail-title").textContent = "Partner: " + p.name;
  $("partner-state").textContent = "State: " + stateText(p) + " · added " + time(p.created_at) + (p.contact ? " · contact " + p.contact : "");
  $("partner-enable").hidden = p.state !== "disabled";
  f.name.value = p.name; f.url.value = p.url; f.languages.value = (p.languages || []).join(", ");
  f.min_priority.value = p.min_priority || "normal"; f.contact.value = p.contact || "";
  tick(f, "topics", p.topics); tick(f, "regions", p.regions); tick(f, "events", p.events);
}

function openPartner(id) {
  return api("GET", "/api/v1/partners/" + encodeURIComponent(id)).then(function (p) {
    $("partner-detail").hidden = false;
    $("partner-status").textContent = "";
    showErrors($("partner-edit"), null);
    $("rotate-form").querySelector(".secret-box").hidden = true;
    fillPartner(p);
    delivOffset = 0;
    $("partner-detail-title").focus();
    return loadDeliveries();
  }, function (e) { say(e.message); });
}

export function closePartner(back) {
  var id = partner && partner.id;
  partner = null;
  $("partner-detail").hidden = true;
  $("rotated-secret").value = "";
  var b = back && document.querySelector("#partners tr[data-id='" + CSS.escape(id || "") + "'] .manage");
  if (b) b.focus();
}
$("partner-close").addEventListener("click", function () { closePartner(true); });

function outcome(x) {
  var text = { delivered: "delivered", retry: "will retry", failed: "gave up", disabled: "partner disabled" }[x.outcome] || x.outcome;
  if (x.next_attempt_at) text += " at " + time(x.next_attempt_at);
  return text;
}

function loadDeliveries(quiet) {
  var p = partner;
  if (!p) return Promise.resolve();
  return api("GET", "/api/v1/partners/" + encodeURIComponent(p.id) + "/deliveries?offset=" + delivOffset + "&limit=" + DELIV_PAGE).then(function (r) {
    if (partner !== p) return;
    var tb = $("deliveries"), atts = r.attempts || [];
    keepFocus(tb, function () {
      clear(tb);
      atts.forEach(function (x) {
        tb.appendChild(el("tr", { "data-id": x.delivery_id + "-" + x.attempt },
          el("td", {}, when(x.at)), el("td", { text: x.type }), el("td", { text: String(x.attempt) }),
          el("td", { text: (x.status ? "HTTP " + x.status : "no answer") + " in " + Math.round(x.latency_ms) + " ms" + (x.error ? ": " + x.error : "") }),
          el("td", { class: x.outcome === "delivered" ? "" : "failing", text: outcome(x) }),
          el("td", { class: "actions" }, el("button", { type: "button", class: "replay", "aria-label": "Send again: " + x.type + " of " + time(x.at), onclick: function () {
            api("POST", "/api/v1/partners/" + encodeURIComponent(p.id) + "/deliveries/" + encodeURIComponent(x.delivery_id) + "/replay").then(function () {
              $("partner-status").textContent = "Sent again: " + x.type + " of " + time(x.at) + ".";
              loadDeliveries();
            }, function (e) { $("partner-status").textContent = e.message; });
          } }, "Send again"))));
      });
      emptyRow(tb, delivOffset ? "No older attempts." : "Nothing sent to this partner yet.");
    });
    var shown = atts.length ? (delivOffset + 1) + "\u2013" + (delivOffset + atts.length) + " of " + r.total : "none of " + r.total;
    $("deliveries-summary").textContent = "Attempts, newest first: " + shown + "." + (r.parked ? " " + count(r.parked, "delivery waits", "deliveries wait") + " while the partner is not active." : "");
    $("deliveries-newer").hidden = delivOffset === 0;
    $("deliveries-older").hidden = r.next_offset == null;
  }, function (e) { if (!quiet) $("partner-status").textContent = e.status === 503 ? "Webhook delivery is not running on this server." : e.message; });
}
// Paging keeps focus on the button pressed, or the one left when it goes.
function page(by, other) {
  return function (ev) {
    delivOffset = Math.max(0, delivOffset + by * DELIV_PAGE);
    var b = ev.currentTarget;
    loadDeliveries().then(function () { (b.hidden ? $(other) : b).focus(); });
  };
}
$("deliveries-older").addEventListener("click", page(1, "deliveries-newer"));
$("deliveries-newer").addEventListener("click", page(-1, "deliveries-older"));

$("partner-ping").addEventListener("click", function () {
  api("POST", "/api/v1/partners/" + encodeURIComponent(partner.id) + "/test").then(function () {
    $("partner-status").textContent = "Test ping queued: its answer shows in the delivery log.";
    delivOffset = 0;
    loadDeliveries();
  }, function (e) { $("partner-status").textContent = e.message; });
});
$("partner-enable").addEventListener("click", function () {
  setPartnerState(partner, "active").then(function () {
    $("partner-status").textContent = "Re-enabled: deliveries resume.";
    $("partner-ping").focus();
    loadPartners();
  });
});

formSubmit("replay-form", function (f) {
  var at = new Date(f.since.value);
  if (!f.since.value || isNaN(at)) {
    showErrors(f, { fields: [{ field: "since", problem: "is required" }] });
    focusInvalid(f);
    return null;
  }
  return ["POST", "/api/v1/partners/" + encodeURIComponent(partner.id) + "/replay", { since: at.toISOString() }];
}, function (r) {
  $("partner-status").textContent = count(r.queued, "delivery", "deliveries") + " queued to be sent again, " + r.per_second + " a second.";
  loadDeliveries();
});

$("rotate-form").addEventListener("submit", function (ev) {
  ev.preventDefault();
  var f = ev.currentTarget, keep = f.keep_previous_for, p = partner;
  confirmDialog("Rotate the signing secret?", p.name + " must switch to the new secret; the old one keeps signing for " + keep.selectedOptions[0].textContent + ".", "Rotate").then(function (ok) {
    if (!ok) return;
    api("POST", "/api/v1/partners/" + encodeURIComponent(p.id) + "/secret/rotate", { keep_previous_for: keep.value }).then(function (r) {
      showErrors(f, null);
      showSecret(f, "New secret for " + p.name + ": copy it now, it is not shown again." +
        (r.previous_valid_until ? " The old one signs until " + time(r.previous_valid_until) + "." : " The old one has stopped."), r.secret);
    }, function (e) { showErrors(f, e); });
  });
});
$("revoke-previous").addEventListener("click", function () {
  var p = partner;
  confirmDialog("Revoke the previous secret?", "Webhooks to " + p.name + " stop carrying a signature from the old secret at once.", "Revoke").then(function (ok) {
    if (ok) api("POST", "/api/v1/partners/" + encodeURIComponent(p.id) + "/secret/revoke-previous").then(function () {
      $("partner-status").textContent = "The previous secret no longer signs.";
    }, function (e) { $("partner-status").textContent = e.message; });
  });
});

formSubmit("partner-edit", function (f) { return ["PATCH", "/api/v1/partners/" + encodeURIComponent(partner.id), partnerBody(f)]; }, function (p) {
  fillPartner(p);
  $("partner-status").textContent = "Saved: " + p.name + ".";
  say("Partner changed: " + p.name);
  loadPartners();
});
