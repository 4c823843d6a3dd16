/* Stories the feed watcher holds for an editor: send or dismiss. */
import { api } from "./api.js";
import { $, busy, clear, el, emptyRow, focusRow, indexOfRow, isBusy, keepFocus, say, when } from "./dom.js";
import { loadSourceNames, names } from "./names.js";

// heldAction sends or dismisses a held story, then puts focus on the same
// button of the story that takes its place in the list.
function heldAction(h, action, done, button) {
  var tb = $("held"), index = indexOfRow(tb, button);
  if (isBusy(button)) return;
  busy(button, true);
  api("POST", "/api/v1/held/" + encodeURIComponent(h.id) + "/" + action).then(function () {
    say(done + ": " + (h.alert || {}).headline);
    return loadHeld().then(function () { focusRow(tb, index, action, "held-title"); });
  }, function (e) { busy(button, false); button.focus(); say(e.message); });
}

export function loadHeld(quiet) {
  return Promise.all([api("GET", "/api/v1/held"), loadSourceNames()]).then(function (r) {
    var tb = $("held");
    keepFocus(tb, function () { heldRows(tb, r[0].held || []); });
  }, function (e) { if (!quiet) say(e.status === 503 ? "The feed watcher is not running." : e.message); });
}

// heldActions are what an editor does with a held story; editing it
// before sending belongs here, beside Send and Dismiss.
function heldActions(h) {
  var a = h.alert || {};
  return el("td", { class: "actions" },
    el("button", { type: "button", class: "send primary", "aria-label": "Send: " + (a.headline || ""), onclick: function (ev) { heldAction(h, "send", "Sent", ev.currentTarget); } }, "Send"),
    el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss: " + (a.headline || ""), onclick: function (ev) { heldAction(h, "dismiss", "Dismissed", ev.currentTarget); } }, "Dismiss"));
}

// story shows a held story: its headline linked to the story, its
// summary, and what it would be sent with.
function story(h) {
  var a = h.alert || {}, href = /^https?:\/\//.test(a.url || "") ? a.url : "", meta = [];
  if ((a.topics || []).length) meta.push("Topics: " + a.topics.join(", "));
  if ((a.regions || []).length) meta.push("Regions: " + a.regions.join(", "));
  if (a.language) meta.push("Language: " + a.language);
  return el("td", {},
    el(href ? "a" : "span", href ? { class: "headline", href: href, target: "_blank", rel: "noopener" } : { class: "headline" }, a.headline || ""),
    a.summary ? el("p", { class: "hint", text: a.summary }) : null,
    meta.length ? el("p", { class: "meta", text: meta.join(" · ") }) : null,
    h.reason ? el("p", { class: "hint", text: "Held: " + h.reason }) : null);
}

function heldRows(tb, held) {
  clear(tb);
  held.forEach(function (h) {
    var a = h.alert || {};
    tb.appendChild(el("tr", { "data-id": h.id },
      el("td", {}, when(h.held_at)),
      el("td", {}, el("span", { class: "prio prio-" + a.priority, text: a.priority || "" })),
      story(h),
      el("td", { class: "source", text: names.source[h.source_id] || h.source_id || "" }),
      heldActions(h)));
  });
  emptyRow(tb, "No held stories.");
}
