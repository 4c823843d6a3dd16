/* Scheduled alerts, and cancelling one. */
import { api } from "./api.js";
import { $, clear, confirmDialog, el, emptyRow, focusRow, indexOfRow, keepFocus, say, when } from "./dom.js";

export function loadScheduled(quiet) {
  return api("GET", "/api/v1/alerts/scheduled").then(function (r) {
    var tb = $("scheduled");
    keepFocus(tb, function () {
      clear(tb);
      (r.scheduled || []).forEach(function (s) {
        tb.appendChild(el("tr", { "data-id": s.id },
          el("td", {}, when(s.send_at)),
          el("td", {}, el("span", { class: "prio prio-" + s.alert.priority, text: s.alert.priority })),
          el("td", { text: s.alert.headline }),
          el("td", { text: s.created_by || "" }),
          el("td", { class: "actions" }, el("button", { type: "button", class: "cancel danger", "aria-label": "Cancel: " + s.alert.headline, onclick: function (ev) {
            var index = indexOfRow(tb, ev.currentTarget);
            confirmDialog("Cancel this scheduled alert?", "\u201c" + s.alert.headline + "\u201d will not go out.", "Cancel the alert").then(function (ok) {
              if (ok) api("DELETE", "/api/v1/alerts/scheduled/" + encodeURIComponent(s.id)).then(function () {
                say("Cancelled: " + s.alert.headline);
                return loadScheduled().then(function () { focusRow(tb, index, "cancel", "scheduled-title"); });
              }, function (e) { say(e.message); });
            });
          } }, "Cancel"))));
      });
      emptyRow(tb, "Nothing scheduled.");
    });
  }, function (e) { if (!quiet) say(e.message); });
}
