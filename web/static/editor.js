/* Flashwire editor console. Plain JavaScript, no build step. Data from the
 * API is only ever put into the page with textContent, never as HTML. */
(function () {
  "use strict";

  var csrf = "", me = null;
  var LABELS = { flash: "Breaking", urgent: "Urgent", normal: "News" };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs) {
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
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function list(s) { return (s || "").split(",").map(function (x) { return x.trim(); }).filter(Boolean); }
  // time shows an instant with its date, in the editor's time zone; the
  // zero time of an unset field shows as nothing.
  function time(s) {
    var d = new Date(s);
    if (isNaN(d) || d.getFullYear() < 1970) return "";
    return d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function when(s) { return el("time", { datetime: s || "", text: time(s) }); }
  function count(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function say(text) { $("flash-status").textContent = text; }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }
  // picked lists the values of the ticked boxes named name in f.
  function picked(f, name) {
    return Array.prototype.map.call(f.querySelectorAll("input[name='" + name + "']:checked"), function (i) { return i.value; });
  }
  function named(f, name) { return f.querySelectorAll("[name='" + CSS.escape(name) + "']"); }
  // feedName names a feed source by its address without the scheme.
  function feedName(u) {
    try { var x = new URL(u); return x.host + x.pathname.replace(/\/$/, "") + x.search; } catch (e) { return u; }
  }
  function indexOfRow(tb, button) {
    return Array.prototype.indexOf.call(tb.querySelectorAll("tr[data-id]"), button.closest("tr"));
  }

  // api calls the JSON API with the session cookie and the CSRF token. A
  // failed call rejects with an Error carrying status and body.
  function api(method, path, body, headers) {
    var h = { "X-CSRF-Token": csrf };
    if (body !== undefined) h["Content-Type"] = "application/json";
    for (var k in headers || {}) h[k] = headers[k];
    // no-cache: the public topic list may be cached for a minute, but the
    // console must show a removal at once.
    return fetch(path, { method: method, credentials: "same-origin", cache: "no-cache", headers: h, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = t ? JSON.parse(t) : {}; } catch (e) { j = {}; }
          if (r.ok) return j;
          var err = new Error(j.error || "HTTP " + r.status);
          err.status = r.status; err.body = j; err.retryAfter = r.headers.get("Retry-After");
          if (r.status === 401 && path.indexOf("/editor/session") !== 0) signedOut();
          throw err;
        });
      });
  }

  // ---- errors in the console's words ----

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
  function words(f, field, problem) {
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
  function showErrors(f, err) {
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
  function focusInvalid(f) {
    var bad = f.querySelector("[aria-invalid=true]");
    if (!bad) return false;
    bad.focus();
    if (bad.select && bad.type !== "checkbox" && bad.type !== "radio") bad.select();
    return true;
  }

  // busy marks a button as working without disabling it: a disabled
  // button would drop the keyboard's focus to the page.
  function busy(b, on) {
    if (on) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
  }
  function isBusy(b) { return b.getAttribute("aria-disabled") === "true"; }

  // keepFocus rebuilds a list's tbody with rebuild and, when keyboard focus
  // was on a control in one of its rows, puts it back on the same control of
  // the same row: the lists refresh every few seconds under the editor's
  // hands. When that control is gone (a retracted alert has no buttons),
  // focus goes to the list's heading rather than the top of the page.
  function keepFocus(tb, rebuild) {
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
  function focusRow(tb, index, cls, heading) {
    var rows = tb.querySelectorAll("tr[data-id]");
    var row = rows[Math.min(index, rows.length - 1)];
    var b = row && row.querySelector("." + cls);
    if (b) b.focus(); else $(heading).focus();
  }

  // emptyRow says a list is empty, across all its columns.
  function emptyRow(tb, text) {
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

  // ---- confirm dialog ----

  function confirmDialog(title, text, yes) {
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

  // ---- signing in ----

  function signedIn(info) {
    csrf = info.csrf_token; me = info;
    $("signin-view").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    $("who").textContent = info.name + " (" + info.role + ")";
    $("who").title = $("who").textContent;
    $("signout").hidden = false;
    document.querySelectorAll("[data-admin]").forEach(function (b) { b.hidden = info.role !== "admin"; });
    loadTaxonomy();
    // The sign-in button that had focus is gone: start at the heading.
    show("compose", true);
  }

  function signedOut() {
    csrf = ""; me = null;
    stopPolling();
    // A secret shown once must not outlive the session that made it.
    document.querySelectorAll(".secret-box").forEach(function (b) { b.hidden = true; b.querySelector("input").value = ""; });
    closePartner(false);
    // What one token could read is not for the next one to see.
    [headlines, sourceNames, names.partner, names.token].forEach(function (m) { for (var k in m) delete m[k]; });
    sourcesForbidden = false;
    $("app").hidden = true;
    $("who").hidden = true;
    $("signout").hidden = true;
    $("signin-view").hidden = false;
    $("token").focus();
  }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var st = $("signin-status");
    st.textContent = "Signing in…";
    api("POST", "/editor/session", { token: $("token").value }).then(function (info) {
      $("token").value = "";
      st.textContent = "";
      signedIn(info);
    }, function (e) {
      st.textContent = e.status === 401 ? "That token is not valid." : e.message;
      $("token").focus();
    });
  });

  $("signout").addEventListener("click", function () {
    api("DELETE", "/editor/session").then(signedOut, signedOut);
  });

  // ---- views ----

  var current = "", poller = 0;
  var loaders = {
    compose: function () {}, sent: loadSent, scheduled: loadScheduled, held: loadHeld, audit: loadAudit,
    partners: loadPartners, sources: loadSources, topics: loadTopics, tokens: loadTokens
  };
  var POLLED = { sent: 1, held: 1, scheduled: 1, sources: 1, partners: 1 };

  function stopPolling() { clearInterval(poller); poller = 0; }

  function show(view, focus) {
    current = view;
    document.querySelectorAll(".view").forEach(function (s) { s.hidden = s.id !== "view-" + view; });
    document.querySelectorAll(".tabs button").forEach(function (b) {
      if (b.getAttribute("data-view") === view) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    });
    stopPolling();
    loaders[view]();
    if (POLLED[view]) {
      poller = setInterval(function () { if (!document.hidden) loaders[view](true); }, 3000);
    }
    if (focus) $("view-" + view).querySelector("h1").focus();
  }

  document.querySelectorAll(".tabs button").forEach(function (b) {
    b.addEventListener("click", function () { say(""); show(b.getAttribute("data-view"), true); });
  });

  // ---- the taxonomy: boxes for topics and regions in every form ----

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
  function tick(box, name, values) {
    box.querySelectorAll("input[name='" + name + "']").forEach(function (i) { i.checked = (values || []).indexOf(i.value) >= 0; });
  }

  function loadTaxonomy() {
    return api("GET", "/api/v1/topics").then(function (t) {
      taxonomy = { topics: t.topics || [], regions: t.regions || [] };
      document.querySelectorAll("[data-checks]").forEach(function (box) {
        var name = box.getAttribute("data-checks");
        checks(box, name, taxonomy[name]);
      });
    }, function (e) { say("Topics could not be loaded: " + e.message); });
  }

  // ---- compose: preview, audience, send ----

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
  function preview() {
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

  function send() {
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

  // ---- sent alerts, with delivery figures, corrections and retractions ----

  var sentNext = "", headlines = {}; // alert id -> headline, for the audit log
  function delivery(d) {
    var names = { websocket: "WebSocket", sse: "SSE", webhook: "Webhooks", webpush: "Web Push" }, out = [];
    Object.keys(names).forEach(function (c) {
      var s = d && d[c];
      if (!s) return;
      var t = names[c] + ": " + s.reached + " reached";
      if (s.failed) t += ", " + s.failed + " failed";
      if (s.pending) t += ", " + s.pending + " pending";
      if (s.expired) t += ", " + s.expired + " expired";
      if (s.removed) t += ", " + s.removed + " removed (gone)";
      if (s.median_ms != null) t += " · median " + Math.round(s.median_ms) + " ms, p99 " + Math.round(s.p99_ms) + " ms";
      out.push(el("li", { text: t }));
    });
    if (!out.length) out.push(el("li", { text: "no deliveries yet" }));
    var ul = el("ul", { class: "delivery" });
    out.forEach(function (li) { ul.appendChild(li); });
    return ul;
  }

  function sentRow(a) {
    var actions = el("td", { class: "actions" });
    headlines[a.id] = a.headline;
    if (!a.retracted) {
      actions.appendChild(el("button", { type: "button", class: "correct", "aria-label": "Correct: " + a.headline, onclick: function () { correct(a); } }, "Correct"));
      actions.appendChild(el("button", { type: "button", class: "retract danger", "aria-label": "Retract: " + a.headline, onclick: function () { retract(a); } }, "Retract"));
    } else {
      actions.appendChild(el("span", { class: "tag", text: "retracted" }));
    }
    return el("tr", { "data-id": a.id, class: a.retracted ? "retracted" : "" },
      el("td", {}, when(a.published_at)),
      el("td", {}, el("span", { class: "prio prio-" + a.priority, text: a.priority })),
      el("td", {}, el("span", { class: "headline", text: a.headline }), a.updated_at && !a.retracted ? el("span", { class: "tag", text: "corrected" }) : null),
      el("td", {}, delivery(a.delivery)),
      actions);
  }

  function loadSent(quiet, more) {
    var q = "/api/v1/alerts?limit=20" + (more && sentNext ? "&before=" + encodeURIComponent(sentNext) : "");
    return api("GET", q).then(function (r) {
      var tb = $("sent");
      keepFocus(tb, function () {
        if (!more) clear(tb);
        (r.alerts || []).forEach(function (a) { tb.appendChild(sentRow(a)); });
        emptyRow(tb, "No alerts yet.");
      });
      sentNext = r.next || "";
      $("sent-more").hidden = !sentNext;
    }, function (e) { if (!quiet) say(e.message); });
  }
  $("sent-more").addEventListener("click", function () { stopPolling(); loadSent(false, true); });

  function retract(a) {
    confirmDialog("Retract this alert?", "\u201c" + a.headline + "\u201d disappears from readers' screens and partners get alert.retracted. This cannot be undone.", "Retract")
      .then(function (ok) {
        if (!ok) return;
        api("POST", "/api/v1/alerts/" + encodeURIComponent(a.id) + "/retract", undefined, { "Idempotency-Key": newKey() })
          .then(function () { say("Retracted: " + a.headline); loadSent(); }, function (e) { say(e.message); });
      });
  }

  var correcting = null;
  function correct(a) {
    correcting = a;
    $("correct-headline").value = a.headline;
    $("correct-summary").value = a.summary || "";
    $("correct-url").value = a.url;
    showErrors($("correct-form"), null);
    $("correct").showModal();
  }
  $("correct-form").addEventListener("submit", function (ev) {
    if (ev.submitter && ev.submitter.value !== "save") return;
    ev.preventDefault();
    var f = $("correct-form"), a = correcting;
    api("POST", "/api/v1/alerts/" + encodeURIComponent(a.id) + "/update", {
      headline: $("correct-headline").value.trim(), summary: $("correct-summary").value.trim(), url: $("correct-url").value.trim()
    }).then(function () {
      $("correct").close();
      say("Correction sent: " + $("correct-headline").value.trim());
      loadSent();
    }, function (e) { showErrors(f, e); focusInvalid(f); });
  });

  // ---- scheduled ----

  function loadScheduled(quiet) {
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

  // ---- held stories ----

  // sourceNames maps a feed source's id to its name, for the lists that
  // show sources by id; it stays empty for an editor, who may not list
  // sources, and those lists show the id.
  var sourceNames = {}, sourcesForbidden = false;
  function loadSourceNames() {
    if (sourcesForbidden) return Promise.resolve(sourceNames);
    return api("GET", "/api/v1/sources").then(function (r) {
      (r.sources || []).forEach(function (s) { sourceNames[s.id] = feedName(s.url); });
      return sourceNames;
    }, function (e) {
      if (e.status === 403) sourcesForbidden = true;
      return sourceNames;
    });
  }

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

  function loadHeld(quiet) {
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
        el("td", { class: "source", text: sourceNames[h.source_id] || h.source_id || "" }),
        heldActions(h)));
    });
    emptyRow(tb, "No held stories.");
  }

  // ---- audit ----

  // AUDIT words the audit log's routes: what was done, and to what kind of
  // thing its target names.
  var AUDIT = {
    "POST /api/v1/alerts": ["Sent an alert", "alert"],
    "POST /api/v1/alerts/{id}/update": ["Corrected an alert", "alert"],
    "POST /api/v1/alerts/{id}/retract": ["Retracted an alert", "alert"],
    "DELETE /api/v1/alerts/scheduled/{id}": ["Cancelled a scheduled alert"],
    "POST /api/v1/held/{id}/send": ["Sent a held story"],
    "POST /api/v1/held/{id}/dismiss": ["Dismissed a held story"],
    "POST /api/v1/tokens": ["Created a token", "token"],
    "DELETE /api/v1/tokens/{id}": ["Revoked a token", "token"],
    "POST /api/v1/partners": ["Added a partner", "partner"],
    "PATCH /api/v1/partners/{id}": ["Changed a partner", "partner"],
    "DELETE /api/v1/partners/{id}": ["Deleted a partner", "partner"],
    "POST /api/v1/partners/{id}/deliveries/{delivery}/replay": ["Sent a webhook again", "partner"],
    "POST /api/v1/partners/{id}/replay": ["Sent webhooks again", "partner"],
    "POST /api/v1/partners/{id}/test": ["Sent a test ping", "partner"],
    "POST /api/v1/partners/{id}/secret/rotate": ["Rotated a signing secret", "partner"],
    "POST /api/v1/partners/{id}/secret/revoke-previous": ["Revoked a previous signing secret", "partner"],
    "POST /api/v1/sources": ["Added a feed source", "source"],
    "PATCH /api/v1/sources/{id}": ["Changed a feed source", "source"],
    "DELETE /api/v1/sources/{id}": ["Deleted a feed source", "source"],
    "POST /api/v1/topics": ["Added topics or regions"],
    "DELETE /api/v1/topics/{slug}": ["Removed a topic", "slug"],
    "DELETE /api/v1/regions/{slug}": ["Removed a region", "slug"],
    "POST /editor/session": ["Signed in to the console"],
    "DELETE /editor/session": ["Signed out of the console"]
  };

  // names holds what the console knows by id, to name an audit entry's
  // target: headlines of sent alerts, partners, sources and tokens.
  var names = { alert: headlines, partner: {}, source: sourceNames, token: {} };
  function loadNames() {
    var admin = me && me.role === "admin", asks = [api("GET", "/api/v1/alerts?limit=100").then(function (r) {
      (r.alerts || []).forEach(function (a) { headlines[a.id] = a.headline; });
    })];
    if (admin) {
      asks.push(api("GET", "/api/v1/partners").then(function (r) { (r.partners || []).forEach(function (p) { names.partner[p.id] = p.name; }); }));
      asks.push(api("GET", "/api/v1/tokens").then(function (r) { (r.tokens || []).forEach(function (t) { names.token[t.id] = t.name; }); }));
      asks.push(loadSourceNames());
    }
    // A list that cannot be read leaves ids in place of names.
    return Promise.all(asks.map(function (p) { return p.catch(function () {}); }));
  }

  function auditRow(e) {
    var what = AUDIT[e.action] || [e.action], target = e.target || "", id = target.split("/")[0], name = "";
    if (what[1] === "slug") name = target;
    else if (what[1]) name = names[what[1]][id] || "";
    var action = e.action === "POST /api/v1/alerts" && e.status === 202 ? "Scheduled an alert" : what[0];
    var ok = e.status < 300;
    return el("tr", {},
      el("td", {}, when(e.at)), el("td", { text: e.token_name }),
      el("td", { class: "action", text: action }),
      el("td", { class: "target" }, name || target, name && name !== target ? el("span", { class: "meta", text: " " + id }) : null),
      el("td", { class: ok ? "" : "failing", text: ok ? "done" : (e.status < 500 ? "refused" : "failed") + " (" + e.status + ")" }));
  }

  var auditNext = "";
  function loadAudit(quiet, more) {
    var q = "/api/v1/audit?limit=50" + (more && auditNext ? "&before=" + encodeURIComponent(auditNext) : "");
    return Promise.all([api("GET", q), more ? null : loadNames()]).then(function (r) {
      var tb = $("audit");
      if (!more) clear(tb);
      (r[0].entries || []).forEach(function (e) { tb.appendChild(auditRow(e)); });
      auditNext = r[0].next || "";
      $("audit-more").hidden = !auditNext;
    }, function (e) { if (!quiet) say(e.message); });
  }
  $("audit-more").addEventListener("click", function () { loadAudit(false, true); });

  // ---- admin: forms and secrets ----

  function formSubmit(id, build, done) {
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
  function showSecret(f, note, secret) {
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

  // ---- partners ----

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

  function loadPartners(quiet) {
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

  function closePartner(back) {
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

  // ---- sources ----

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

  function loadSources(quiet) {
    return api("GET", "/api/v1/sources").then(function (r) {
      var tb = $("sources");
      keepFocus(tb, function () { sourceRows(clear(tb), r.sources || []); });
    }, function (e) { if (!quiet) say(e.status === 503 ? "The feed watcher is not running." : e.message); });
  }

  function sourceRows(tb, sources) {
    sources.forEach(function (s) {
      var st = s.state || {}, name = feedName(s.url);
      sourceNames[s.id] = name;
      tb.appendChild(el("tr", { "data-id": s.id },
        el("td", { class: "feed" }, el("span", { class: "url", text: s.url }),
          el("p", { class: "meta", text: s.format + " · topics " + (s.topics || []).join(", ") + ((s.regions || []).length ? " · regions " + s.regions.join(", ") : "") + " · max age " + s.max_age })),
        el("td", { text: s.mode === "hold" ? "held for an editor" : "sent automatically" }), el("td", { text: s.schedule }),
        el("td", {}, health(st)),
        el("td", { class: "actions" },
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

  // ---- topics and tokens ----

  function loadTopics() {
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

  function loadTokens() {
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

  // ---- start ----

  preview();
  api("GET", "/editor/session").then(signedIn, signedOut);
})();
