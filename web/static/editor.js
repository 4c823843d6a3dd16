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
  function time(s, withDate) {
    var d = new Date(s);
    if (isNaN(d)) return "";
    return withDate ? d.toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }
  function count(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function say(text) { $("flash-status").textContent = text; }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + Math.random().toString(16).slice(2);
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

  // showErrors lists a 400's fields in ul and marks the inputs of form.
  function showErrors(form, ul, err) {
    clear(ul);
    form.querySelectorAll("[aria-invalid]").forEach(function (i) { i.removeAttribute("aria-invalid"); });
    if (!err) return;
    var fields = (err.body && err.body.fields) || [];
    if (!fields.length) { ul.appendChild(el("li", { text: err.message })); return; }
    fields.forEach(function (f) {
      ul.appendChild(el("li", { text: f.field + " " + f.problem }));
      var input = form.querySelector("[name='" + f.field.replace(/[^a-z_]/g, "") + "']");
      if (input) input.setAttribute("aria-invalid", "true");
    });
  }

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
    if (view === "sent" || view === "held" || view === "scheduled" || view === "sources") {
      poller = setInterval(function () { if (!document.hidden) loaders[view](true); }, 3000);
    }
    if (focus) $("view-" + view).querySelector("h1").focus();
  }

  document.querySelectorAll(".tabs button").forEach(function (b) {
    b.addEventListener("click", function () { say(""); show(b.getAttribute("data-view"), true); });
  });

  // ---- compose: preview, audience, send ----

  var form = $("compose-form"), taxonomy = { topics: [], regions: [] }, idemKey = newKey(), force = false;

  function checks(box, name, slugs, checked) {
    clear(box);
    slugs.forEach(function (s) {
      box.appendChild(el("label", { class: "check" },
        el("input", { type: "checkbox", name: name, value: s }), " " + s));
    });
    (checked || []).forEach(function (s) {
      var i = box.querySelector("input[value='" + s + "']");
      if (i) i.checked = true;
    });
  }

  function loadTaxonomy() {
    return api("GET", "/api/v1/topics").then(function (t) {
      taxonomy = { topics: t.topics || [], regions: t.regions || [] };
      var d = draft();
      checks($("topics"), "topics", taxonomy.topics, d.topics);
      checks($("regions"), "regions", taxonomy.regions, d.regions);
    }, function (e) { say("Topics could not be loaded: " + e.message); });
  }

  function draft() {
    var pick = function (name) {
      return Array.prototype.map.call(form.querySelectorAll("input[name=" + name + "]:checked"), function (i) { return i.value; });
    };
    var prio = form.querySelector("input[name=priority]:checked");
    var a = {
      headline: $("headline").value.trim(),
      summary: $("summary").value.trim(),
      url: $("url").value.trim(),
      topics: pick("topics"),
      regions: pick("regions"),
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

  // banner builds the same markup as the reader widget (flashwire.js), styled
  // by the same flashwire.css.
  function banner(a) {
    var p = LABELS[a.priority] ? a.priority : "normal";
    var when = new Date();
    var href = /^https?:\/\//.test(a.url || "") ? a.url : "";
    var body = el("div", { class: "fw-body" },
      el("p", { class: "fw-kicker" }, el("span", { class: "fw-label", text: LABELS[p] }), " ",
        el("time", { class: "fw-time", datetime: when.toISOString(), text: when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) })),
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
    if (!a.headline || !a.url || !a.topics.length) {
      out.textContent = "Fill in the headline, URL and at least one topic to see who it reaches.";
      return;
    }
    delete a.send_at;
    api("POST", "/api/v1/alerts?dry_run=true", a).then(function (r) {
      if (seq !== audienceSeq) return;
      var n = r.audience || {}, parts = [];
      parts.push(n.online == null ? "readers online: unknown" : onlineText(n.online, n.online_instances));
      if (n.readers != null) parts.push(count(n.readers, "stored reader", "stored readers"));
      if (n.partners != null) parts.push(count(n.partners, "partner", "partners"));
      out.textContent = "Reaches " + parts.join(" · ");
      out.setAttribute("data-online", n.online == null ? "" : String(n.online));
      showErrors(form, $("compose-errors"), null);
    }, function (e) {
      if (seq !== audienceSeq) return;
      out.textContent = "Not sendable yet: " + ((e.body && e.body.fields) || []).map(function (f) { return f.field + " " + f.problem; }).join("; ");
      if (!(e.body && e.body.fields)) out.textContent = e.message;
    });
  }

  form.addEventListener("input", preview);
  form.addEventListener("change", preview);
  form.addEventListener("reset", function () { setTimeout(function () { idemKey = newKey(); preview(); showErrors(form, $("compose-errors"), null); }, 0); });

  function send() {
    var a = draft();
    if (force) a.force = true;
    var btn = $("send");
    btn.disabled = true;
    api("POST", "/api/v1/alerts", a, { "Idempotency-Key": idemKey }).then(function (r) {
      idemKey = newKey();
      force = false;
      form.reset();
      if (r.send_at) {
        say("Scheduled for " + time(r.send_at, true) + ": " + r.alert.headline);
        show("scheduled", true);
      } else {
        say("Sent: " + r.headline);
        show("sent", true);
      }
    }, function (e) {
      showErrors(form, $("compose-errors"), e.status === 409 || e.status === 429 ? null : e);
      if (e.status === 409 && e.body && e.body.existing) {
        var x = e.body.existing;
        $("duplicate-text").textContent = "The same story went out at " + time(x.published_at) + ": \u201c" + x.headline + "\u201d.";
        $("duplicate").hidden = false;
        $("send-anyway").focus();
      } else if (e.status === 429) {
        $("compose-errors").appendChild(el("li", { text: "Too soon after the last alert: non-flash alerts need a gap. Try again in " + (e.retryAfter || "a few") + " seconds, or send as flash." }));
      } else if (e.status !== 400) {
        $("compose-errors").appendChild(el("li", { text: e.message }));
      }
    }).then(function () { btn.disabled = false; });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var a = draft();
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

  var sentNext = "";
  function delivery(d) {
    var names = { websocket: "WebSocket", sse: "SSE", webhook: "Webhooks" }, out = [];
    Object.keys(names).forEach(function (c) {
      var s = d && d[c];
      if (!s) return;
      var t = names[c] + ": " + s.reached + " reached";
      if (s.failed) t += ", " + s.failed + " failed";
      if (s.pending) t += ", " + s.pending + " pending";
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
    if (!a.retracted) {
      actions.appendChild(el("button", { type: "button", class: "correct", onclick: function () { correct(a); } }, "Correct"));
      actions.appendChild(el("button", { type: "button", class: "retract danger", onclick: function () { retract(a); } }, "Retract"));
    } else {
      actions.appendChild(el("span", { class: "tag", text: "retracted" }));
    }
    return el("tr", { "data-id": a.id, class: a.retracted ? "retracted" : "" },
      el("td", {}, el("time", { datetime: a.published_at, text: time(a.published_at) })),
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
        if (!tb.children.length) tb.appendChild(el("tr", {}, el("td", { colspan: "5", text: "No alerts yet." })));
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
    showErrors($("correct-form"), $("correct-form").querySelector(".errors"), null);
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
    }, function (e) { showErrors(f, f.querySelector(".errors"), e); });
  });

  // ---- scheduled ----

  function loadScheduled(quiet) {
    return api("GET", "/api/v1/alerts/scheduled").then(function (r) {
      var tb = clear($("scheduled"));
      (r.scheduled || []).forEach(function (s) {
        tb.appendChild(el("tr", { "data-id": s.id },
          el("td", { text: time(s.send_at, true) }),
          el("td", {}, el("span", { class: "prio prio-" + s.alert.priority, text: s.alert.priority })),
          el("td", { text: s.alert.headline }),
          el("td", { text: s.created_by || "" }),
          el("td", { class: "actions" }, el("button", { type: "button", class: "danger", onclick: function () {
            api("DELETE", "/api/v1/alerts/scheduled/" + encodeURIComponent(s.id)).then(function () { say("Cancelled: " + s.alert.headline); loadScheduled(); }, function (e) { say(e.message); });
          } }, "Cancel"))));
      });
      if (!tb.children.length) tb.appendChild(el("tr", {}, el("td", { colspan: "5", text: "Nothing scheduled." })));
    }, function (e) { if (!quiet) say(e.message); });
  }

  // ---- held stories ----

  // heldAction sends or dismisses a held story, then puts focus on the same
  // button of the story that takes its place in the list.
  function heldAction(h, action, done, button) {
    var tb = $("held"), index = Array.prototype.indexOf.call(tb.querySelectorAll("tr[data-id]"), button.closest("tr"));
    button.disabled = true;
    api("POST", "/api/v1/held/" + encodeURIComponent(h.id) + "/" + action).then(function () {
      say(done + ": " + (h.alert || {}).headline);
      return loadHeld().then(function () { focusRow(tb, index, action, "held-title"); });
    }, function (e) { button.disabled = false; button.focus(); say(e.message); });
  }

  function loadHeld(quiet) {
    return api("GET", "/api/v1/held").then(function (r) {
      var tb = $("held");
      keepFocus(tb, function () { heldRows(tb, r.held || []); });
    }, function (e) { if (!quiet) say(e.status === 503 ? "The feed watcher is not running." : e.message); });
  }

  function heldRows(tb, held) {
    clear(tb);
    held.forEach(function (h) {
      var a = h.alert || {};
      tb.appendChild(el("tr", { "data-id": h.id },
        el("td", { text: time(h.held_at) }),
        el("td", {}, el("span", { class: "prio prio-" + a.priority, text: a.priority || "" })),
        el("td", {}, el("span", { class: "headline", text: a.headline || "" }), a.summary ? el("p", { class: "hint", text: a.summary }) : null,
          h.reason ? el("p", { class: "hint", text: "Held: " + h.reason }) : null),
        el("td", { text: h.source_id || "" }),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "send", "aria-label": "Send: " + (a.headline || ""), onclick: function (ev) { heldAction(h, "send", "Sent", ev.currentTarget); } }, "Send"),
          el("button", { type: "button", class: "dismiss quiet", "aria-label": "Dismiss: " + (a.headline || ""), onclick: function (ev) { heldAction(h, "dismiss", "Dismissed", ev.currentTarget); } }, "Dismiss"))));
    });
    if (!tb.children.length) tb.appendChild(el("tr", {}, el("td", { colspan: "5", text: "No held stories." })));
  }

  // ---- audit ----

  var auditNext = "";
  function loadAudit(quiet, more) {
    var q = "/api/v1/audit?limit=50" + (more && auditNext ? "&before=" + encodeURIComponent(auditNext) : "");
    return api("GET", q).then(function (r) {
      var tb = $("audit");
      if (!more) clear(tb);
      (r.entries || []).forEach(function (e) {
        tb.appendChild(el("tr", {},
          el("td", { text: time(e.at, true) }), el("td", { text: e.token_name }),
          el("td", { text: e.action }), el("td", { text: e.target || "" }), el("td", { text: String(e.status) })));
      });
      auditNext = r.next || "";
      $("audit-more").hidden = !auditNext;
    }, function (e) { if (!quiet) say(e.message); });
  }
  $("audit-more").addEventListener("click", function () { loadAudit(false, true); });

  // ---- admin: partners, sources, topics, tokens ----

  function formSubmit(id, build, done) {
    var f = $(id);
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var req = build(f);
      api(req[0], req[1], req[2]).then(function (r) {
        showErrors(f, f.querySelector(".errors"), null);
        f.reset();
        done(r, f);
      }, function (e) {
        showErrors(f, f.querySelector(".errors"), e);
        // Take a keyboard user to the first field at fault, its text
        // selected so that typing replaces it.
        var bad = f.querySelector("[aria-invalid=true]");
        if (bad) { bad.focus(); if (bad.select) bad.select(); }
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

  // partnerRows fills tb; a state or delete button that had focus keeps it
  // across the refresh (see keepFocus).
  function partnerRows(tb, partners) {
    partners.forEach(function (p) {
      var next = p.state === "active" ? "paused" : "active", verb = next === "active" ? "Resume" : "Pause";
      tb.appendChild(el("tr", { "data-id": p.id },
        el("td", { class: "name", text: p.name }), el("td", { text: p.url }),
        el("td", { text: (p.topics || []).join(", ") || "all" }),
        el("td", { class: "partner-state", text: p.state + (p.disabled_reason ? " (" + p.disabled_reason + ")" : "") }),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "state", "aria-label": verb + ": " + p.name, onclick: function () {
            api("PATCH", "/api/v1/partners/" + encodeURIComponent(p.id), { state: next }).then(function () {
              say((next === "active" ? "Resumed: " : "Paused: ") + p.name);
              return loadPartners();
            }, function (e) { say(e.message); });
          } }, verb),
          el("button", { type: "button", class: "delete danger", "aria-label": "Delete: " + p.name, onclick: function (ev) {
            var index = Array.prototype.indexOf.call(tb.querySelectorAll("tr[data-id]"), ev.currentTarget.closest("tr"));
            confirmDialog("Delete partner?", p.name + " stops receiving webhooks.", "Delete").then(function (ok) {
              if (ok) api("DELETE", "/api/v1/partners/" + encodeURIComponent(p.id)).then(function () {
                say("Deleted: " + p.name);
                return loadPartners().then(function () { focusRow(tb, index, "delete", "partners-title"); });
              }, function (e) { say(e.message); });
            });
          } }, "Delete"))));
    });
    if (!tb.children.length) tb.appendChild(el("tr", {}, el("td", { colspan: "5", text: "No partners yet." })));
  }

  function loadPartners() {
    return api("GET", "/api/v1/partners").then(function (r) {
      var tb = $("partners");
      keepFocus(tb, function () { partnerRows(clear(tb), r.partners || []); });
    }, function (e) { say(e.message); });
  }
  formSubmit("partner-form", function (f) {
    return ["POST", "/api/v1/partners", { name: f.name.value.trim(), url: f.url.value.trim(), topics: list(f.topics.value), min_priority: f.min_priority.value, contact: f.contact.value.trim() }];
  }, function (r, f) {
    if (r.secret) showSecret(f, "Partner " + r.name + " added: copy its signing secret now, it is not shown again.", r.secret);
    else say("Partner added: " + r.name);
    loadPartners();
  });

  // health says how a source's polls go: its last success and, when the
  // latest poll failed, its error.
  function health(st) {
    var out = el("ul", { class: "delivery health" });
    if (st.last_success) out.appendChild(el("li", { class: "ok", text: "last success " + time(st.last_success) }));
    if (st.last_error) out.appendChild(el("li", { class: "failing", text: "failing since " + time(st.last_error_at) + ": " + st.last_error }));
    if (!out.children.length) out.appendChild(el("li", { text: "not polled yet" }));
    return out;
  }

  function loadSources(quiet) {
    return api("GET", "/api/v1/sources").then(function (r) {
      var tb = $("sources");
      keepFocus(tb, function () { sourceRows(clear(tb), r.sources || []); });
    }, function (e) { if (!quiet) say(e.status === 503 ? "The feed watcher is not running." : e.message); });
  }

  function sourceRows(tb, sources) {
    sources.forEach(function (s) {
      var st = s.state || {};
      tb.appendChild(el("tr", { "data-id": s.id },
        el("td", { text: s.url }), el("td", { text: s.mode }), el("td", { text: s.schedule }),
        el("td", {}, health(st)),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "mode", onclick: function () {
            api("PATCH", "/api/v1/sources/" + encodeURIComponent(s.id), { mode: s.mode === "hold" ? "auto" : "hold" }).then(loadSources, function (e) { say(e.message); });
          } }, s.mode === "hold" ? "Send automatically" : "Hold for editors"),
          el("button", { type: "button", class: "delete danger", onclick: function () {
            confirmDialog("Delete source?", s.url + " is no longer polled.", "Delete").then(function (ok) {
              if (ok) api("DELETE", "/api/v1/sources/" + encodeURIComponent(s.id)).then(loadSources, function (e) { say(e.message); });
            });
          } }, "Delete"))));
    });
    if (!tb.children.length) tb.appendChild(el("tr", {}, el("td", { colspan: "5", text: "No sources yet." })));
  }
  formSubmit("source-form", function (f) {
    return ["POST", "/api/v1/sources", { url: f.url.value.trim(), mode: f.mode.value, topics: list(f.topics.value), schedule: f.schedule.value.trim() }];
  }, function () { say("Source added."); loadSources(); });

  function loadTopics() {
    return api("GET", "/api/v1/topics").then(function (t) {
      [["topic-list", t.topics || [], "topics"], ["region-list", t.regions || [], "regions"]].forEach(function (x) {
        var ul = clear($(x[0]));
        x[1].forEach(function (slug, i) {
          ul.appendChild(el("li", {}, slug + " ", el("button", { type: "button", class: "quiet small", "aria-label": "Remove " + slug, onclick: function () {
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
  }, function () { say("Taxonomy updated."); loadTopics(); loadTaxonomy(); });

  function loadTokens() {
    return api("GET", "/api/v1/tokens").then(function (r) {
      var tb = clear($("tokens"));
      (r.tokens || []).forEach(function (t) {
        tb.appendChild(el("tr", { "data-id": t.id },
          el("td", { text: t.name }), el("td", { text: t.role }), el("td", { text: time(t.created_at, true) }),
          el("td", { class: "actions" }, el("button", { type: "button", class: "revoke danger", "aria-label": "Revoke: " + t.name, onclick: function (ev) {
            var index = Array.prototype.indexOf.call(tb.querySelectorAll("tr[data-id]"), ev.currentTarget.closest("tr"));
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
    showSecret(f, "Token " + r.name + " created: copy it now, it is not shown again.", r.token);
    loadTokens();
  });

  // ---- start ----

  preview();
  api("GET", "/editor/session").then(signedIn, signedOut);
})();
