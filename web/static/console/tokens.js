/* API tokens: the list, revoking one and creating one. */
import { api } from "./api.js";
import { $, clear, confirmDialog, el, focusRow, indexOfRow, say, when } from "./dom.js";
import { formSubmit, showSecret } from "./forms.js";
import { names } from "./names.js";

export function loadTokens() {
  return api("GET", "/api/v1/tokens").then(function (r) {
    var tb = clear($("tokens"));
    (r.tokens || []).forEach(function (t) {
      names.token[t.id] = t.name;
      tb.appendChild(el("tr", { "data-id": t.id },
        el("td", { text: t.name }), el("td", { text: t.role }), el("td", {}, when(t.created_at)),
        el("td", { class: "actions" }, el("button", { type: "button", class: "revoke danger", "aria-label": "Revoke: " + t.name, onclick: function (ev) {
          var index = indexOfRow(tb, ev.currentTarget);
          confirmDialog("Revoke token?", "\u201c" + t.name + "\u201d stops working at once, and its console sessions end.", "Revoke").then(function (ok) {
            if (ok) api("DELETE", "/api/v1/tokens/" + encodeURIComponent(t.id)).then(function () {
              say("Revoked: " + t.name);
              return loadTokens().then(function () { focusRow(tb, index, "revoke", "tokens-title"); });
            }, function (e) { say(e.message); });
          });
        } }, "Revoke"))));
    });
  }, function (e) { say(e.message); });
}
formSubmit("token-form", function (f) {
  return ["POST", "/api/v1/tokens", { name: f.name.value.trim(), role: f.role.value }];
}, function (r, f) {
  f.reset();
  showSecret(f, "Token " + r.name + " created: copy it now, it is not shown again.", r.token);
  loadTokens();
});
