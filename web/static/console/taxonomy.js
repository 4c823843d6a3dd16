/* Topics and regions: the boxes in every form, and the admin's list of
 * them. */
import { api } from "./api.js";
import { $, clear, confirmDialog, el, list, picked, say } from "./dom.js";
import { formSubmit } from "./forms.js";

var taxonomy = { topics: [], regions: [] };

// checks fills box with a box for each slug, keeping the ticks it had.
function checks(box, name, slugs) {
  var had = picked(box, name);
  clear(box);
  slugs.forEach(function (s) {
    box.appendChild(el("label", { class: "check" },
      el("input", { type: "checkbox", name: name, value: s }), " " + s));
  });
  tick(box, name, had);
}
export function tick(box, name, values) {
  box.querySelectorAll("input[name='" + name + "']").forEach(function (i) { i.checked = (values || []).indexOf(i.value) >= 0; });
}

export function loadTaxonomy() {
  return api("GET", "/api/v1/topics").then(function (t) {
    taxonomy = { topics: t.topics || [], regions: t.regions || [] };
    document.querySelectorAll("[data-checks]").forEach(function (box) {
      var name = box.getAttribute("data-checks");
      checks(box, name, taxonomy[name]);
    });
  }, function (e) { say("Topics could not be loaded: " + e.message); });
}

export function loadTopics() {
  return api("GET", "/api/v1/topics").then(function (t) {
    [["topic-list", t.topics || [], "topics"], ["region-list", t.regions || [], "regions"]].forEach(function (x) {
      var ul = clear($(x[0]));
      x[1].forEach(function (slug, i) {
        ul.appendChild(el("li", {}, slug + " ", el("button", { type: "button", class: "danger small", "aria-label": "Remove " + slug, onclick: function () {
          confirmDialog("Remove " + slug + "?", "Alerts can no longer use it; readers and partners following it keep their other choices.", "Remove").then(function (ok) {
            if (ok) api("DELETE", "/api/v1/" + x[2] + "/" + encodeURIComponent(slug)).then(function () {
              say("Removed: " + slug);
              loadTaxonomy();
              // Focus goes to the chip now in its place, else the heading.
              return loadTopics().then(function () {
                var bs = $(x[0]).querySelectorAll("button"), b = bs[Math.min(i, bs.length - 1)];
                if (b) b.focus(); else $("topics-title").focus();
              });
            }, function (e) { say(e.message); });
          });
        } }, "\u00d7")));
      });
    });
  }, function (e) { say(e.message); });
}
formSubmit("topic-form", function (f) {
  return ["POST", "/api/v1/topics", { topics: list(f.topics.value), regions: list(f.regions.value) }];
}, function (r, f) { f.reset(); say("Taxonomy updated."); loadTopics(); loadTaxonomy(); });
