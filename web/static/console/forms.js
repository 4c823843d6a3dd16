/* Forms: the API's field errors in the console's words, marked on the
 * inputs at fault, and secrets the API shows only once. */
import { api } from "./api.js";
import { $, clear, el, named, time } from "./dom.js";

// REQUIRED says what to do about a required field left empty.
var REQUIRED = {
  headline: "Write a headline.", url: "Add the link.", topics: "Tick at least one topic.",
  name: "Give it a name.", since: "Choose the time to send again from."
};

// fieldLabel is the visible name of a form's field: its label or, for a
// group of boxes, its legend, without the hints beside it.
function fieldLabel(f, field) {
  var i = named(f, field)[0], lab = null;
  if (i) lab = i.type === "checkbox" || i.type === "radio" ? i.closest("fieldset").querySelector("legend") : f.querySelector("label[for='" + i.id + "']");
  if (!lab) return field.replace(/[._]/g, " ");
  var c = lab.cloneNode(true);
  c.querySelectorAll(".opt, .count").forEach(function (x) { x.remove(); });
  return c.textContent.trim();
}

// words turns the API's problem with a field into a sentence an editor
// acts on, naming the field as the form does.
export function words(f, field, problem) {
  var label = fieldLabel(f, field), m;
  if (/is required|needs at least one|name at least one/.test(problem)) return REQUIRED[field] || label + ": fill this in.";
  if ((m = /characters; at most (\d+)/.exec(problem))) return label + " is too long: at most " + m[1] + " characters.";
  if ((m = /has \d+ \w+; at most (\d+)/.exec(problem))) return label + ": choose at most " + m[1] + ".";
  if ((m = /^"(.*)" maps to "(.*)"/.exec(problem))) return "The category \u201c" + m[1] + "\u201d maps to \u201c" + m[2] + "\u201d, which is not a topic: add the topic first or choose another.";
  if ((m = /^"(.*)" is not a known (topic|region)/.exec(problem))) return "The " + m[2] + " \u201c" + m[1] + "\u201d no longer exists: reload the page to see the current list.";
  if (/not a slug/.test(problem)) return label + " may hold only lower-case letters, digits and dashes, such as middle-east.";
  if (/URL|http/.test(problem)) return label + " must be a full web address starting with https://.";
  if (/BCP 47/.test(problem)) return label + " must be a language code such as en, fr or pt-BR.";
  if (/in the past/.test(problem)) return "The send time has passed: clear it to send now, or choose a later time.";
  if ((m = /more than (\d+) days ahead/.exec(problem))) return "The send time is too far ahead: at most " + m[1] + " days from now.";
  if (/placeholder|brace/.test(problem)) return label + " needs placeholders such as {id}, {guid} or {slug} and no others.";
  if (/more often than once every/.test(problem)) return label + " polls too often: at most once a second.";
  if (/cron schedule/.test(problem)) return label + " is not understood: use a cron line such as */5 * * * * or @every 30s.";
  if (/duration/.test(problem)) return label + " must be a length of time such as 2h or 30m.";
  if (/in the future|RFC 3339/.test(problem)) return label + " must be a date and time in the past.";
  if (/0 \(off\) or 1 to 9/.test(problem)) return label + " must be 0 (off) or from 1 to 9.";
  if (/empty/.test(problem)) return label + " must not hold an empty entry.";
  if (/is not one of/.test(problem)) return label + ": choose one of the choices offered.";
  return label + ": " + problem.replace(/"/g, "\u201c") + ".";
}

// describe adds (or, with off, removes) id to what describes input.
function describe(input, id, off) {
  var d = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x && x !== id; });
  if (!off) d.push(id);
  if (d.length) input.setAttribute("aria-describedby", d.join(" "));
  else input.removeAttribute("aria-describedby");
}

// showErrors lists err's fields in the form's summary, in the console's
// words, and marks every input at fault (each box of a group) with
// aria-invalid and the sentence beside it, tied by aria-describedby.
export function showErrors(f, err) {
  var ul = clear(f.querySelector(".errors"));
  f.querySelectorAll("[aria-invalid]").forEach(function (i) { i.removeAttribute("aria-invalid"); });
  f.querySelectorAll(".invalid").forEach(function (g) { g.classList.remove("invalid"); });
  f.querySelectorAll(".field-error").forEach(function (m) {
    f.querySelectorAll("[aria-describedby~='" + m.id + "']").forEach(function (i) { describe(i, m.id, true); });
    m.remove();
  });
  if (!err) return;
  var fields = err.fields || (err.body && err.body.fields) || [];
  if (!fields.length) { ul.appendChild(el("li", { text: err.message })); return; }
  fields.forEach(function (x) {
    var text = words(f, x.field, x.problem), inputs = named(f, x.field);
    ul.appendChild(el("li", { text: text }));
    if (!inputs.length) return;
    var group = inputs[0].type === "checkbox" || inputs[0].type === "radio" ? inputs[0].closest("fieldset") : null;
    var id = f.id + "-" + x.field.replace(/\W/g, "-") + "-error", m = $(id);
    if (!m) {
      m = el("span", { class: "field-error", id: id });
      (group || inputs[0].closest(".field") || inputs[0].parentNode).appendChild(m);
    }
    m.textContent = (m.textContent ? m.textContent + " " : "") + text;
    if (group) group.classList.add("invalid");
    inputs.forEach(function (i) { i.setAttribute("aria-invalid", "true"); describe(i, id); });
  });
}

// focusInvalid takes a keyboard user to the form's first field at fault,
// its text selected so that typing replaces it.
export function focusInvalid(f) {
  var bad = f.querySelector("[aria-invalid=true]");
  if (!bad) return false;
  bad.focus();
  if (bad.select && bad.type !== "checkbox" && bad.type !== "radio") bad.select();
  return true;
}

export function formSubmit(id, build, done) {
  var f = $(id);
  f.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var req = build(f);
    if (!req) return;
    api(req[0], req[1], req[2]).then(function (r) {
      showErrors(f, null);
      done(r, f);
    }, function (e) {
      showErrors(f, e);
      focusInvalid(f);
    });
  });
}

// showSecret shows a secret the API returns only once in the form's
// read-only field and moves focus there with it selected, so that the
// keyboard copies it at once; the Copy button next to it does the same.
export function showSecret(f, note, secret) {
  var box = f.querySelector(".secret-box"), input = box.querySelector("input");
  box.querySelector(".status").textContent = note;
  input.value = secret;
  box.hidden = false;
  input.focus();
  input.select();
}
document.querySelectorAll(".secret-box .copy").forEach(function (b) {
  b.addEventListener("click", function () {
    var box = b.closest(".secret-box"), input = box.querySelector("input"), copied = false;
    input.select();
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    box.querySelector(".status").textContent = copied ? "Copied to the clipboard." : "Press Ctrl+C to copy the selected secret.";
    if (!copied) input.focus();
  });
});
