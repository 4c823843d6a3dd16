/* Compose: the preview as readers see it, the audience, and sending. */
import { api } from "./api.js";
import { $, busy, clear, confirmDialog, count, el, isBusy, list, newKey, picked, say, time } from "./dom.js";
import { focusInvalid, showErrors, words } from "./forms.js";
import { show } from "./views.js";

var LABELS = { flash: "Breaking", urgent: "Urgent", normal: "News" };

var form = $("compose-form"), idemKey = newKey(), force = false;

function draft() {
  var prio = form.querySelector("input[name=priority]:checked");
  var a = {
    headline: $("headline").value.trim(),
    summary: $("summary").value.trim(),
    url: $("url").value.trim(),
    topics: picked(form, "topics"),
    regions: picked(form, "regions"),
    language: $("language").value.trim(),
    priority: prio ? prio.value : "normal"
  };
  if ($("image_url").value.trim()) a.image_url = $("image_url").value.trim();
  if ($("send_at").value) {
    var at = new Date($("send_at").value);
    if (!isNaN(at)) a.send_at = at.toISOString();
  }
  return a;
}

// missing finds, before asking the server, what an alert cannot go
// without, in the API's terms.
function missing(a) {
  var out = [];
  if (!a.headline) out.push({ field: "headline", problem: "is required" });
  if (!a.url) out.push({ field: "url", problem: "is required" });
  else if (!/^https?:\/\/\S+$/i.test(a.url)) out.push({ field: "url", problem: "must be an http or https URL" });
  if (!a.topics.length) out.push({ field: "topics", problem: "needs at least one topic" });
  return out;
}

// banner builds the same markup as the reader widget (flashwire.js), styled
// by the same flashwire.css.
function banner(a) {
  var p = LABELS[a.priority] ? a.priority : "normal";
  var now = new Date();
  var href = /^https?:\/\//.test(a.url || "") ? a.url : "";
  var body = el("div", { class: "fw-body" },
    el("p", { class: "fw-kicker" }, el("span", { class: "fw-label", text: LABELS[p] }), " ",
      el("time", { class: "fw-time", datetime: now.toISOString(), text: now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) })),
    el("p", { class: "fw-headline" }, el(href ? "a" : "span", href ? { class: "fw-link", href: href, tabindex: "-1" } : { class: "fw-link" }, a.headline || "Headline")),
    a.summary ? el("p", { class: "fw-summary", text: a.summary }) : null);
  return el("div", { class: "fw-banner fw-" + p },
    body, el("button", { type: "button", class: "fw-close", tabindex: "-1", "aria-hidden": "true", text: "\u00d7" }));
}

var audienceTimer = 0, audienceSeq = 0;
export function preview() {
  var a = draft();
  $("headline-count").textContent = $("headline").value.length + "/140";
  $("summary-count").textContent = $("summary").value.length + "/400";
  clear($("preview-stack")).appendChild(banner(a));
  $("duplicate").hidden = true;
  force = false;
  clearTimeout(audienceTimer);
  audienceTimer = setTimeout(audience, 400);
}

// onlineText says how many readers are online now and, when some instances
// did not answer in time, that the figure is partial.
function onlineText(n, inst) {
  var text = (n === 1 ? "1 reader" : n.toLocaleString("en") + " readers") + " online now";
  if (inst && inst.answered < inst.expected) text += " (" + inst.answered + " of " + inst.expected + " instances answered)";
  return text;
}

function audience() {
  var a = draft(), seq = ++audienceSeq, out = $("audience");
  if (missing(a).length) {
    out.textContent = "Fill in the headline, the story's link and at least one topic to see who it reaches.";
    return;
  }
  delete a.send_at;
  api("POST", "/api/v1/alerts?dry_run=true", a).then(function (r) {
    if (seq !== audienceSeq) return;
    var n = r.audience || {}, parts = [];
    parts.push(n.online == null ? "readers online: unknown" : onlineText(n.online, n.online_instances));
    if (n.readers != null) parts.push(count(n.readers, "stored reader", "stored readers"));
    if (n.push) parts.push(count(n.push, "push subscription", "push subscriptions"));
    if (n.partners != null) parts.push(count(n.partners, "partner", "partners"));
    out.textContent = "Reaches " + parts.join(" · ");
    out.setAttribute("data-online", n.online == null ? "" : String(n.online));
    showErrors(form, null);
  }, function (e) {
    if (seq !== audienceSeq) return;
    var fields = (e.body && e.body.fields) || [];
    out.textContent = fields.length ? "Not sendable yet: " + fields.map(function (f) { return words(form, f.field, f.problem); }).join(" ") : e.message;
  });
}

form.addEventListener("input", preview);
form.addEventListener("change", preview);
form.addEventListener("reset", function () { setTimeout(function () { idemKey = newKey(); preview(); showErrors(form, null); }, 0); });

export function send() {
  var a = draft(), btn = $("send");
  if (force) a.force = true;
  busy(btn, true);
  api("POST", "/api/v1/alerts", a, { "Idempotency-Key": idemKey }).then(function (r) {
    idemKey = newKey();
    force = false;
    form.reset();
    if (r.send_at) {
      say("Scheduled for " + time(r.send_at) + ": " + r.alert.headline);
      show("scheduled", true);
    } else {
      say("Sent: " + r.headline);
      show("sent", true);
    }
  }, function (e) {
    var list = $("compose-errors");
    showErrors(form, e.status === 400 ? e : null);
    if (e.status === 409 && e.body && e.body.existing) {
      var x = e.body.existing;
      $("duplicate-text").textContent = "The same story went out at " + time(x.published_at) + ": \u201c" + x.headline + "\u201d.";
      $("duplicate").hidden = false;
      $("send-anyway").focus();
    } else if (e.status === 429) {
      list.appendChild(el("li", { text: "Too soon after the last alert: non-flash alerts need a gap. Try again in " + (e.retryAfter || "a few") + " seconds, or send as flash." }));
    } else if (e.status !== 400) {
      list.appendChild(el("li", { text: e.message }));
    }
    focusInvalid(form);
  }).then(function () { busy(btn, false); });
}

form.addEventListener("submit", function (ev) {
  ev.preventDefault();
  if (isBusy($("send"))) return;
  var a = draft(), bad = missing(a);
  showErrors(form, bad.length ? { fields: bad } : null);
  if (focusInvalid(form)) return;
  if (a.priority !== "flash") { send(); return; }
  var reach = $("audience").textContent;
  confirmDialog("Send a flash alert?", "\u201c" + a.headline + "\u201d goes out as BREAKING to everyone who follows its topics. " + reach + ".", "Send flash")
    .then(function (ok) { if (ok) send(); });
});

$("send-anyway").addEventListener("click", function () {
  force = true;
  $("duplicate").hidden = true;
  form.requestSubmit();
});
