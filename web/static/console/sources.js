/* Feed sources: the list with each source's health, and the form that
 * adds or edits one. */
import { api } from "./api.js";
import { $, clear, confirmDialog, count, el, emptyRow, feedName, focusRow, indexOfRow, keepFocus, list, picked, say, time } from "./dom.js";
import { formSubmit, showErrors } from "./forms.js";
import { names } from "./names.js";
import { tick } from "./taxonomy.js";

// health says how a source's polls go: when it last worked, its last
// error, what it found, and when it runs next.
function health(st) {
  var out = el("ul", { class: "delivery health" });
  if (st.last_success) out.appendChild(el("li", { class: "ok", text: "last success " + time(st.last_success) }));
  if (st.last_error) out.appendChild(el("li", { class: "failing", text: "failing since " + time(st.last_error_at) + (st.failures > 1 ? " (" + st.failures + " times)" : "") + ": " + st.last_error }));
  if (!st.last_success && !st.last_error) out.appendChild(el("li", { text: "not polled yet" }));
  out.appendChild(el("li", { class: "seen", text: count(st.items_seen || 0, "item", "items") + " in the feed · " + count(st.alerts_made || 0, "alert", "alerts") + " made" }));
  if (time(st.next_run)) out.appendChild(el("li", { class: "next", text: "next run " + time(st.next_run) }));
  return out;
}

var editing = null; // the source the form edits, null when it adds one

export function loadSources(quiet) {
  return api("GET", "/api/v1/sources").then(function (r) {
    var tb = $("sources");
    keepFocus(tb, function () { sourceRows(clear(tb), r.sources || []); });
  }, function (e) { if (!quiet) say(e.status === 503 ? "The feed watcher is not running." : e.message); });
}

function sourceRows(tb, sources) {
  sources.forEach(function (s) {
    var st = s.state || {}, name = feedName(s.url);
    names.source[s.id] = name;
    tb.appendChild(el("tr", { "data-id": s.id },
      el("td", { class: "feed" }, el("span", { class: "url", text: s.url }),
        el("p", { class: "meta", text: s.format + " · topics " + (s.topics || []).join(", ") + ((s.regions || []).length ? " · regions " + s.regions.join(", ") : "") + " · max age " + s.max_age + (s.link_template ? " · links " + s.link_template : "") })),
      el("td", { text: s.mode === "hold" ? "held for an editor" : "sent automatically" }), el("td", { text: s.schedule }),
      el("td", {}, health(st)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "stories", "aria-label": "Recent stories: " + name, onclick: function () { showStories(s, name); } }, "Stories"),
        el("button", { type: "button", class: "edit", "aria-label": "Edit: " + name, onclick: function () { editSource(s); } }, "Edit"),
        el("button", { type: "button", class: "mode", "aria-label": (s.mode === "hold" ? "Send automatically: " : "Hold for editors: ") + name, onclick: function () {
          api("PATCH", "/api/v1/sources/" + encodeURIComponent(s.id), { mode: s.mode === "hold" ? "auto" : "hold" }).then(function () { loadSources(); }, function (e) { say(e.message); });
        } }, s.mode === "hold" ? "Send automatically" : "Hold for editors"),
        el("button", { type: "button", class: "delete danger", "aria-label": "Delete: " + name, onclick: function (ev) {
          var index = indexOfRow(tb, ev.currentTarget);
          confirmDialog("Delete source?", s.url + " is no longer polled.", "Delete").then(function (ok) {
            if (ok) api("DELETE", "/api/v1/sources/" + encodeURIComponent(s.id)).then(function () {
              say("Deleted: " + name);
              return loadSources().then(function () { focusRow(tb, index, "delete", "sources-title"); });
            }, function (e) { say(e.message); });
          });
        } }, "Delete"))));
  });
  emptyRow(tb, "No sources yet.");
}

var storiesOf = null; // the source whose recent stories show, null when none

// showStories lists what became of a source's recent stories, below the
// sources, and takes focus there.
function showStories(s, name) {
  api("GET", "/api/v1/sources/" + encodeURIComponent(s.id) + "/stories").then(function (r) {
    var tb = clear($("source-stories-list"));
    storiesOf = s;
    (r.stories || []).forEach(function (o) {
      tb.appendChild(el("tr", { "data-id": o.story_id, class: "outcome-" + o.outcome },
        el("td", {}, el("time", { datetime: o.at, text: time(o.at) })),
        el("td", { class: "outcome", text: o.outcome }),
        el("td", {}, el("span", { class: "headline", text: o.headline || o.story_id }),
          el("p", { class: "meta", text: "Story " + o.story_id + (o.version_at ? " · version of " + time(o.version_at) : "") + (o.alert_id ? " · alert " + o.alert_id : "") })),
        el("td", { class: "reason", text: o.reason || "" })));
    });
    emptyRow(tb, "No stories seen yet.");
    $("source-stories-title").textContent = "Recent stories of " + name;
    $("source-stories").hidden = false;
    $("source-stories-title").focus();
  }, function (e) { say(e.message); });
}
$("source-stories-close").addEventListener("click", function () {
  var s = storiesOf;
  storiesOf = null;
  $("source-stories").hidden = true;
  var b = s && document.querySelector("#sources tr[data-id='" + CSS.escape(s.id) + "'] .stories");
  if (b) b.focus(); else $("sources-title").focus();
});

function sourceBody(f) {
  var cats = {}, urgency = f["breaking.max_urgency"].value.trim();
  f.category_topics.value.split("\n").forEach(function (line) {
    var kv = line.split("=");
    if (kv.length === 2 && kv[0].trim()) cats[kv[0].trim()] = kv[1].trim();
  });
  var b = {
    url: f.url.value.trim(), format: f.format.value, mode: f.mode.value, schedule: f.schedule.value.trim(),
    topics: picked(f, "topics"), regions: picked(f, "regions"), language: f.language.value.trim(),
    max_age: f.max_age.value.trim(), category_topics: cats,
    name: f.elements.name.value.trim(), link_template: f.link_template.value.trim(),
    breaking: { labels: list(f["breaking.labels"].value), title_prefixes: list(f["breaking.title_prefixes"].value) }
  };
  if (urgency !== "") b.breaking.max_urgency = Number(urgency);
  return b;
}

function editSource(s) {
  var f = $("source-form"), br = s.breaking || {};
  editing = s;
  showErrors(f, null);
  f.url.value = s.url; f.format.value = s.format; f.mode.value = s.mode; f.schedule.value = s.schedule;
  tick(f, "topics", s.topics); tick(f, "regions", s.regions);
  f.language.value = s.language || ""; f.max_age.value = s.max_age || "";
  f.elements.name.value = s.name || ""; f.link_template.value = s.link_template || "";
  f["breaking.labels"].value = (br.labels || []).join(", ");
  f["breaking.title_prefixes"].value = (br.title_prefixes || []).join(", ");
  f["breaking.max_urgency"].value = br.max_urgency == null ? "" : br.max_urgency;
  f.category_topics.value = Object.keys(s.category_topics || {}).map(function (k) { return k + " = " + s.category_topics[k]; }).join("\n");
  $("source-form-title").textContent = "Edit " + feedName(s.url);
  $("source-save").textContent = "Save changes";
  $("source-cancel").hidden = false;
  $("source-form-title").focus();
}

function stopEditing() {
  var s = editing, f = $("source-form");
  editing = null;
  f.reset();
  showErrors(f, null);
  $("source-form-title").textContent = "Add a source";
  $("source-save").textContent = "Add source";
  $("source-cancel").hidden = true;
  var b = s && document.querySelector("#sources tr[data-id='" + CSS.escape(s.id) + "'] .edit");
  if (b) b.focus();
}
$("source-cancel").addEventListener("click", stopEditing);

formSubmit("source-form", function (f) {
  return editing ? ["PATCH", "/api/v1/sources/" + encodeURIComponent(editing.id), sourceBody(f)] : ["POST", "/api/v1/sources", sourceBody(f)];
}, function (s, f) {
  say((editing ? "Source saved: " : "Source added: ") + feedName(s.url));
  if (editing) stopEditing(); else f.reset();
  loadSources();
});
