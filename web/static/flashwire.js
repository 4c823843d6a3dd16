/* Flashwire reader widget: breaking-news banners for any page, embedded as
 * <script src="https://SERVICE/static/flashwire.js" data-topics="world" async>.
 * No framework, no build step. Its data- attributes: README.md, "Reader
 * widget"; the protocol: docs/protocol.md. */
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector("script[src*='flashwire.js']");
  if (!me || window.flashwire) return; // one widget per page
  window.flashwire = true;

  var root = new URL("../", me.src); // the script lives in the service's /static/
  var opt = me.dataset;
  var PING_MS = 25000; // idle time before a ping, below common proxy timeouts
  var DEAD_MS = 10000; // no answer this long after a ping: the connection is dead
  var BASE_MS = 1000, CAP_MS = 30000; // backoff: full jitter in [0, min(CAP, BASE*2^n))
  var WS_TRIES = 3; // WebSocket attempts that never said hello before using SSE
  var MAX_AGE = 3 * 3600e3; // alerts older than this are news, not breaking news
  var MAX_SHOWN = 3;
  var LABELS = { flash: "Breaking", urgent: "Urgent", normal: "News" };

  function list(s) {
    return (s || "").split(",").map(function (x) { return x.trim(); }).filter(Boolean);
  }
  // The page's filters, by their query parameter names.
  var want = { topics: list(opt.topics), regions: list(opt.regions), lang: list(opt.lang) };
  var minPriority = opt.minPriority || "";

  // Keys carry the service host: a site may embed two services.
  var KEY = "flashwire:" + root.host + ":";
  function get(k) { try { return localStorage.getItem(KEY + k); } catch (e) { return null; } }
  function put(k, v) { try { localStorage.setItem(KEY + k, v); } catch (e) { /* private mode */ } }

  function prefsPath() { return "readers/" + readerId() + "/preferences"; }
  function readerId() {
    var id = get("reader");
    if (!/^[0-9a-f]{32}$/.test(id || "")) {
      id = Array.prototype.map.call(crypto.getRandomValues(new Uint8Array(16)), function (b) {
        return (b | 256).toString(16).slice(1);
      }).join("");
      put("reader", id);
    }
    return id;
  }

  // Event ids are "ms-seq"; newer(a, b) says a comes after b.
  function newer(a, b) {
    if (!b) return true;
    var x = String(a).split("-"), y = String(b).split("-");
    return +x[0] !== +y[0] ? +x[0] > +y[0] : +(x[1] || 0) > +(y[1] || 0);
  }
  var lastId = /^\d+-\d+$/.test(get("last_id") || "") ? get("last_id") : "";
  function mark(id) {
    if (id && newer(id, lastId)) { lastId = id; put("last_id", id); }
  }

  function query() {
    var q = new URLSearchParams();
    if (get("saved")) q.set("reader", readerId());
    else {
      for (var k in want) if (want[k].length) q.set(k, want[k].join(","));
      if (minPriority) q.set("min_priority", minPriority);
    }
    if (lastId) q.set("last_id", lastId);
    return q.toString();
  }

  // The connection: WebSocket first, SSE after repeated failures.

  var ws = null, es = null, timer = 0, pingTimer = 0, deadTimer = 0;
  var attempt = 0, wsFails = 0, sse = !window.WebSocket, box;

  // state shows on the root element what the connection is doing.
  function state(s, transport) {
    box.setAttribute("data-state", s);
    if (transport) box.setAttribute("data-transport", transport);
  }

  function parse(s) { try { return JSON.parse(s); } catch (e) { return null; } }

  function connect() {
    drop();
    if (navigator.onLine === false) return state("offline"); // "online" reconnects
    if (sse) return openSSE();
    state("connecting", "ws");
    var url = new URL("ws?" + query(), root);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    var sock = ws = new WebSocket(url.href), hello = false;
    sock.onopen = function () { alive(sock); };
    sock.onmessage = function (ev) {
      if (sock !== ws) return;
      alive(sock);
      var f = parse(ev.data);
      if (f && f.type === "hello") { hello = true; wsFails = 0; }
      if (f) frame(f);
    };
    sock.onclose = function (ev) {
      if (sock !== ws) return;
      ws = null;
      if (!hello && ++wsFails >= WS_TRIES) {
        sse = !!window.EventSource;
        recheck();
      }
      var hint = ev.code === 1012 && parse(ev.reason);
      retry(hint && hint.retry_ms >= 0 ? Math.min(hint.retry_ms, 300000) : -1);
    };
  }

  // alive notes traffic on sock and pings it after PING_MS of silence: a
  // browser cannot see WebSocket ping frames, and a dead network is silent.
  function alive(sock) {
    clearTimeout(pingTimer);
    clearTimeout(deadTimer);
    pingTimer = setTimeout(function () {
      try { sock.send('{"type":"ping"}'); } catch (e) { /* closing */ }
      deadTimer = setTimeout(function () { if (sock === ws) retry(-1); }, DEAD_MS);
    }, PING_MS);
  }

  function openSSE() {
    state("connecting", "sse");
    var src = es = new EventSource(new URL("events?" + query(), root).href);
    ["hello", "alert", "update", "retract"].forEach(function (t) {
      src.addEventListener(t, function (ev) {
        var f = src === es && parse(ev.data);
        if (f) frame(f);
      });
    });
    src.onerror = function () {
      if (src !== es) return;
      // The browser retries by itself with Last-Event-ID unless it gave up.
      if (src.readyState !== 2) return state("connecting");
      recheck();
      retry(-1);
    };
  }

  // recheck forgets saved preferences the service no longer has: the page's
  // filters apply again, over WebSockets, which were not at fault.
  function recheck() {
    if (get("saved")) api("GET", prefsPath()).catch(function (e) {
      if (e.status === 404) { put("saved", ""); sse = !window.WebSocket; wsFails = 0; }
    });
  }

  // drop closes the current connection without triggering a retry.
  function drop() {
    [timer, pingTimer, deadTimer].forEach(clearTimeout);
    if (ws) { ws.onclose = null; try { ws.close(); } catch (e) { /* already closed */ } }
    if (es) es.close();
    ws = es = null;
  }

  function retry(ms) {
    drop();
    state("waiting");
    if (ms < 0) ms = Math.random() * Math.min(CAP_MS, BASE_MS * Math.pow(2, attempt++));
    timer = setTimeout(connect, ms);
  }

  function frame(f) {
    if (f.type === "hello") {
      attempt = 0;
      state("open");
      // Without a cursor (or with one the log no longer keeps) start from now.
      if (!lastId || f.recovered === false) mark(f.last_id);
      return;
    }
    if (f.seq) {
      if (!newer(f.seq, lastId)) return; // seen already: a resume overlaps
      mark(f.seq);
    }
    if (f.type === "alert") show(f.alert, false);
    else if (f.type === "update") show(f.alert, true);
    else if (f.type === "retract") remove(f.id);
    else if (f.type === "error") console.warn("flashwire: " + f.error);
  }

  // The banners.

  var stack, shown = {}; // alert id -> banner element

  function el(tag, cls, text, attrs) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text; // never HTML
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }

  function webURL(u) {
    try {
      var x = new URL(u);
      return /^https?:$/.test(x.protocol) ? x.href : "";
    } catch (e) { return ""; }
  }

  function show(a, update) {
    if (!a || !a.id) return;
    var b = shown[a.id];
    if (update ? !b : b || Date.now() - Date.parse(a.published_at) > MAX_AGE) return;
    if (!b) {
      b = shown[a.id] = el("div", "", null, { "data-id": a.id, role: "alert", "aria-live": "assertive", "aria-atomic": "true" });
      var x = el("button", "fw-close", "\u00d7", { type: "button", "aria-label": "Dismiss alert" });
      x.addEventListener("click", function () { remove(a.id); });
      stack.insertBefore(add(b, el("div"), x), stack.firstChild);
      while (stack.children.length > MAX_SHOWN) remove(stack.lastChild.getAttribute("data-id"));
    }
    var p = LABELS[a.priority] ? a.priority : "normal", body = el("div", "fw-body"), kick = el("p", "fw-kicker");
    b.className = "fw-banner fw-" + p;
    add(kick, el("span", "fw-label", LABELS[p] + (update ? " \u00b7 Updated" : "")));
    var when = new Date(a.updated_at || a.published_at);
    if (!isNaN(when)) {
      add(kick, document.createTextNode(" "), el("time", "fw-time",
        when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }), { datetime: when.toISOString() }));
    }
    var href = webURL(a.url);
    add(body, kick, add(el("p", "fw-headline"), el(href ? "a" : "span", "fw-link", a.headline || "", href ? { href: href } : {})),
      a.summary && el("p", "fw-summary", a.summary));
    b.replaceChild(body, b.firstChild); // in place: the banner keeps its spot
  }

  // remove takes a banner away; when focus was in it (the reader dismissed
  // it from the keyboard) focus goes to the next banner or the settings.
  function remove(id) {
    var b = shown[id];
    if (!b) return;
    delete shown[id];
    var had = b.contains(document.activeElement);
    b.remove();
    var next = had && (stack.querySelector(".fw-close") || (toggle.hidden ? null : toggle));
    if (next) next.focus();
  }

  // The settings: topics and quiet hours, saved as the reader's preferences.

  var toggle, panel, form, status;

  function api(method, path, body) {
    return fetch(new URL("api/v1/" + path, root).href, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.ok) return j;
        var e = new Error((j.fields || []).map(function (f) { return f.field + " " + f.problem; }).join("; ") || j.error || "HTTP " + r.status);
        e.status = r.status;
        throw e;
      });
    });
  }

  // title turns a slug such as "middle-east" into "Middle east".
  function title(s) { return s.charAt(0).toUpperCase() + s.slice(1).replace(/-/g, " "); }

  // field is a labelled input: a box before its text, a time after it.
  function field(type, name, value, text) {
    var i = el("input", "", null, { type: type, name: name, value: value }), box = type === "checkbox";
    return add(el("label", "fw-field"), box && i, document.createTextNode(box ? " " + text : text + " "), !box && i);
  }

  function openPanel() {
    if (!panel.hidden) return;
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    status.textContent = "Loading\u2026";
    var prefs = get("saved") ? api("GET", prefsPath()).catch(function () { return null; }) : null;
    Promise.all([api("GET", "topics").catch(function () { return {}; }), prefs]).then(function (r) {
      fill(r[0].topics && r[0].topics.length ? r[0].topics : want.topics, r[1]);
      status.textContent = "";
      var first = form.querySelector("input");
      // The reader asked for the panel: focus may move into it.
      if (first && !panel.hidden && !panel.contains(document.activeElement)) first.focus();
    });
  }

  function closePanel(back) {
    if (panel.hidden) return;
    var had = panel.contains(document.activeElement);
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    if (back || had) toggle.focus();
  }

  function fill(topics, p) {
    var chosen = p ? p.topics || [] : want.topics;
    var set = form.querySelector(".fw-topics");
    set.textContent = "";
    add(set, el("legend", "", "Topics"));
    topics.forEach(function (t) {
      add(set, field("checkbox", "topic", t, title(t))).lastChild.firstChild.checked = chosen.indexOf(t) >= 0;
    });
    add(set, el("p", "fw-hint", "None ticked: every topic."));
    var q = p && p.quiet_hours, f = form.elements;
    f.quiet.checked = !!q;
    f.start.value = q && q.start || "22:00";
    f.end.value = q && q.end || "07:00";
    f.flash.checked = q ? !!q.allow_flash : true;
  }

  function save(ev) {
    ev.preventDefault();
    var f = form.elements, topics = [];
    form.querySelectorAll("input[name=topic]").forEach(function (i) { if (i.checked) topics.push(i.value); });
    var body = { topics: topics, regions: want.regions, languages: want.lang };
    if (minPriority) body.min_priority = minPriority;
    if (f.quiet.checked) {
      body.quiet_hours = {
        start: f.start.value, end: f.end.value, allow_flash: f.flash.checked,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"
      };
    }
    status.textContent = "Saving\u2026";
    api("PUT", prefsPath(), body).then(function () {
      put("saved", "1");
      status.textContent = "Saved. Alerts now follow your choices.";
      attempt = 0;
      connect(); // resumes from last_id with the new preferences
    }, function (e) {
      status.textContent = "Not saved: " + e.message;
    });
  }

  function buildPanel() {
    toggle = el("button", "fw-toggle", "News alerts", { type: "button", "aria-expanded": "false", "aria-controls": "fw-panel" });
    toggle.hidden = opt.settings === "off";
    toggle.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(true); });
    var no = el("button", "fw-cancel", "Close", { type: "button" });
    no.addEventListener("click", function () { closePanel(true); });
    status = el("p", "fw-status", null, { role: "status" });
    form = add(el("form", "fw-form"), el("fieldset", "fw-topics"),
      add(el("fieldset"), el("legend", "", "Quiet hours"),
        field("checkbox", "quiet", "1", "Mute alerts during these hours"),
        field("time", "start", "22:00", "From"), field("time", "end", "07:00", "to"),
        field("checkbox", "flash", "1", "Still show flash alerts")),
      add(el("div", "fw-actions"), el("button", "fw-save", "Save", { type: "submit" }), no), status);
    form.addEventListener("submit", save);
    panel = add(el("div", "fw-panel", null, { id: "fw-panel", role: "dialog", "aria-labelledby": "fw-title" }),
      el("h2", "fw-title", "Breaking-news alerts", { id: "fw-title" }), form);
    panel.hidden = true;
  }

  function start() {
    var css = el("link", "", null, { rel: "stylesheet", href: new URL("flashwire.css", me.src).href });
    stack = el("div", "fw-stack");
    buildPanel();
    box = add(el("div", "fw-root"), stack, panel, toggle);
    box.hidden = true; // until styled, so nothing shows unstyled
    css.onload = css.onerror = function () { box.hidden = false; };
    add(document.head, css);
    add(document.body, box);

    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      if (!panel.hidden) closePanel(false);
      else if (stack.firstChild) remove(stack.firstChild.getAttribute("data-id"));
      else return;
      e.preventDefault();
    });
    window.addEventListener("online", function () { attempt = 0; connect(); });
    window.addEventListener("offline", function () { drop(); state("offline"); });
    window.addEventListener("pagehide", drop); // lets the page into the back/forward cache
    window.addEventListener("pageshow", function (e) { if (e.persisted) connect(); });
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
