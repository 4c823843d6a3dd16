/* DOM helpers the console's views share: building elements, dates and counts,
 * focus across list refreshes, busy buttons and the confirm dialog. */

export function $(id) { return document.getElementById(id); }
export function el(tag, attrs) {
  var e = document.createElement(tag);
  for (var k in attrs || {}) {
    if (k === "text") e.textContent = attrs[k];
    else if (k === "class") e.className = attrs[k];
    else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), attrs[k]);
    else e.setAttribute(k, attrs[k]);
  }
  for (var i = 2; i < arguments.length; i++) {
    var c = arguments[i];
    if (c == null || c === false) continue;
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}
export function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
export function list(s) { return (s || "").split(",").map(function (x) { return x.trim(); }).filter(Boolean); }
// time shows an instant with its date, in the editor's time zone; the
// zero time of an unset field shows as nothing.
export function time(s) {
  var d = new Date(s);
  if (isNaN(d) || d.getFullYear() < 1970) return "";
  return d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}
export function when(s) { return el("time", { datetime: s || "", text: time(s) }); }
export function count(n, one, many) { return n + " " + (n === 1 ? one : many); }
export function say(text) { $("flash-status").textContent = text; }
export function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return String(Date.now()) + Math.random().toString(16).slice(2);
}
// picked lists the values of the ticked boxes named name in f.
export function picked(f, name) {
  return Array.prototype.map.call(f.querySelectorAll("input[name='" + name + "']:checked"), function (i) { return i.value; });
}
export function named(f, name) { return f.querySelectorAll("[name='" + CSS.escape(name) + "']"); }
// feedName names a feed source by its address without the scheme.
export function feedName(u) {
  try { var x = new URL(u); return x.host + x.pathname.replace(/\/$/, "") + x.search; } catch (e) { return u; }
}
export function indexOfRow(tb, button) {
  return Array.prototype.indexOf.call(tb.querySelectorAll("tr[data-id]"), button.closest("tr"));
}

// busy marks a button as working without disabling it: a disabled
// button would drop the keyboard's focus to the page.
export function busy(b, on) {
  if (on) b.setAttribute("aria-disabled", "true");
  else b.removeAttribute("aria-disabled");
}
export function isBusy(b) { return b.getAttribute("aria-disabled") === "true"; }

// keepFocus rebuilds a list's tbody with rebuild and, when keyboard focus
// was on a control in one of its rows, puts it back on the same control of
// the same row: the lists refresh every few seconds under the editor's
// hands. When that control is gone (a retracted alert has no buttons),
// focus goes to the list's heading rather than the top of the page.
export function keepFocus(tb, rebuild) {
  var a = document.activeElement, row = a && tb.contains(a) && a.closest("tr[data-id]");
  var id = row && row.getAttribute("data-id"), cls = row && a.classList[0];
  rebuild();
  if (!id) return;
  var again = tb.querySelector("tr[data-id='" + CSS.escape(id) + "'] " + (cls ? "." + CSS.escape(cls) : "button"));
  if (again) again.focus();
  else tb.closest(".view").querySelector("h1").focus();
}

// focusRow moves focus, once a row has left tb, to the same control of the
// row now in its place (or the last row), else to the view's heading, so
// a keyboard user is never dropped at the top of the page.
export function focusRow(tb, index, cls, heading) {
  var rows = tb.querySelectorAll("tr[data-id]");
  var row = rows[Math.min(index, rows.length - 1)];
  var b = row && row.querySelector("." + cls);
  if (b) b.focus(); else $(heading).focus();
}

// emptyRow says a list is empty, across all its columns.
export function emptyRow(tb, text) {
  if (!tb.querySelector("tr")) tb.appendChild(el("tr", {}, el("td", { colspan: String(tb.closest("table").querySelectorAll("th").length), text: text })));
}

// Narrow screens show each table row as a card: each cell is labelled
// with its column's heading (see editor.css).
function labelCells() {
  document.querySelectorAll("table.list").forEach(function (tbl) {
    var heads = Array.prototype.map.call(tbl.querySelectorAll("thead th"), function (th) { return th.textContent; });
    tbl.querySelectorAll("tbody td:not([data-label]):not([colspan])").forEach(function (td) {
      td.setAttribute("data-label", heads[td.cellIndex] || "");
    });
  });
}
new MutationObserver(labelCells).observe($("app"), { childList: true, subtree: true });

export function confirmDialog(title, text, yes) {
  var d = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  d.returnValue = "";
  var back = document.activeElement;
  return new Promise(function (resolve) {
    d.addEventListener("close", function done() {
      d.removeEventListener("close", done);
      if (back && back.focus) back.focus();
      resolve(d.returnValue === "yes");
    });
    d.showModal();
  });
}
