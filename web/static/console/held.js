/* Stories the feed watcher holds for an editor: edit, send or dismiss. */
import { api } from "./api.js";
import { $, busy, clear, el, emptyRow, focusRow, indexOfRow, isBusy, keepFocus, list, say, time, when } from "./dom.js";
import { focusInvalid, showErrors } from "./forms.js";
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
    // A refresh waits while an editor is changing a story.
    if ($("held-edit")) return;
    keepFocus(tb, function () { heldRows(tb, r[0].held || []); });
  }, function (e) { if (!quiet) say(e.status === 503 ? "The feed watcher is not running." : e.message); });
}

// field is one labelled input of the edit form.
function field(name, label, value, attrs) {
  var id = "held-edit-" + name, input = el(attrs && attrs.rows ? "textarea" : "input", Object.assign({ id: id, name: name, autocomplete: "off" }, attrs || {}));
  input.value = value || "";
  return el("div", { class: "field" }, el("label", { for: id, text: label }), input);
}

// closeEdit removes the edit form, if one is open, and then puts focus on
// the Edit button of its story (after the list is reloaded, when reload
// is given).
function closeEdit(reload) {
  var f = $("held-edit");
  if (!f) return Promise.resolve();
  var row = f.closest("tr"), id = row.getAttribute("data-edit");
  row.remove();
  return (reload ? loadHeld() : Promise.resolve()).then(function () {
    var b = $("held").querySelector("tr[data-id='" + CSS.escape(id) + "'] .edit");
    if (b) b.focus();
  });
}

// editHeld opens, under the story's row, a form for its headline, summary,
// link, topics and regions; saving checks them as an alert and keeps the
// story held, to be sent as edited.
function editHeld(h, row) {
  closeEdit(false);
  var a = h.alert || {};
  var f = el("form", { id: "held-edit", class: "card", novalidate: "", "aria-label": "Edit held story" },
    el("ul", { class: "errors", "aria-live": "polite" }),
    field("headline", "Headline", a.headline, { maxlength: "140", required: "" }),
    field("summary", "Summary", a.summary, { rows: "3", maxlength: "400" }),
    field("url", "Story URL", a.url, { type: "url", required: "", placeholder: "https://" }),
    field("topics", "Topics (comma-separated)", (a.topics || []).join(", ")),
    field("regions", "Regions (comma-separated; none means everywhere)", (a.regions || []).join(", ")),
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary", text: "Save" }),
      el("button", { type: "button", class: "cancel", text: "Cancel", onclick: function () { closeEdit(false); } })));
  f.addEventListener("keydown", function (ev) { if (ev.key === "Escape") closeEdit(false); });
  f.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {
      headline: f.elements.headline.value, summary: f.elements.summary.value, url: f.elements.url.value,
      topics: list(f.elements.topics.value), regions: list(f.elements.regions.value)
    };
    api("PATCH", "/api/v1/held/" + encodeURIComponent(h.id), body).then(function (saved) {
      return closeEdit(true).then(function () { say("Saved: " + saved.alert.headline); });
    }, function (e) { showErrors(f, e); focusInvalid(f); });
  });
  var tr = el("tr", { class: "held-edit", "data-edit": h.id }, el("td", { colspan: String(row.cells.length) }, f));
  row.parentNode.insertBefore(tr, row.nextSibling);
  f.elements.headline.focus();
}

// heldActions are what an editor does with a held story: change it, send
// it, or dismiss it.
function heldActions(h) {
  var a = h.alert || {};
  return el("td", { class: "actions" },
    el("button", { type: "button", class: "edit", "aria-label": "Edit: " + (a.headline || ""), onclick: function (ev) { editHeld(h, ev.currentTarget.closest("tr")); } }, "Edit"),
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
    el("p", { class: "meta story-id", text: "Story " + (h.story_id || "") + (h.published_at ? " · version of " + time(h.published_at) : "") + (h.edited ? " · edited" : "") }),
    h.reason ? el("p", { class: "hint reason", text: h.reason.replace(/^held: /, "Held: ") }) : null);
}

function heldRows(tb, held) {
  clear(tb);
  held.forEach(function (h) {
    var a = h.alert || {};
    tb.appendChild(el("tr", { "data-id": h.id },
      el("td", {}, when(h.held_at)),
      el("td", {}, el("span", { class: "prio prio-" + a.priority, text: a.priority || "" })),
      story(h),
      el("td", { class: "source", text: names.source[h.source_id] || h.source_name || h.source_id || "" }),
      heldActions(h)));
  });
  emptyRow(tb, "No held stories.");
}
