/* Flashwire reader widget: breaking-news banners for any page, embedded as
 * <script src="https://SERVICE/static/flashwire.js" data-topics="world" async>.
 * No framework, no build step. It stays one file on purpose: a news site
 * adds one script tag and pays one request (TestWidgetSize keeps it within
 * its budget, minified and gzipped). Its data- attributes, placement and
 * translations: README.md, "Reader widget"; the protocol: docs/protocol.md. */
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
  var RANK = { normal: 1, urgent: 2, flash: 3 };

  // The widget's words. A site adds or overrides languages by setting
  // window.FlashwireWords = {ar: {...}} before the script runs; missing
  // words fall back to English.
  var WORDS = {
    en: {
      flash: "Breaking", urgent: "Urgent", normal: "News", updated: "Updated", dismiss: "Dismiss alert",
      toggle: "News alerts", title: "Breaking-news alerts", topics: "Topics", anyTopic: "None ticked: every topic.",
      regions: "Regions", anyRegion: "None ticked: everywhere.", langs: "Languages", anyLang: "None ticked: every language.",
      min: "Alerts to show", minAll: "All alerts", minUrgent: "Urgent and breaking news", minFlash: "Breaking news only",
      pause: "Pause alerts", pauseNone: "Not paused", p1: "For 1 hour", p8: "For 8 hours", p24: "For 24 hours", pausedUntil: "Paused until {t}",
      quiet: "Quiet hours", mute: "Mute alerts during these hours", from: "From", to: "to", allowFlash: "Still show breaking news",
      save: "Save", close: "Close", loading: "Loading\u2026", saving: "Saving\u2026", saved: "Saved. Alerts now follow your choices.",
      failed: "Not saved. Please try again in a moment.", more: "+{n} more", fewer: "Show fewer",
      skip: "Skip to the latest news alert", region: "Breaking news",
      push: "Notifications", pushGet: "Get notifications", pushStop: "Turn off notifications",
      pushOn: "On: alerts reach this browser even when this site is closed.", pushOff: "Off.",
      pushBlocked: "Blocked in this browser\u2019s settings.", pushFailed: "Notifications could not be turned on."
    },
    fr: {
      flash: "Dernière minute", urgent: "Urgent", normal: "Info", updated: "Mis à jour", dismiss: "Fermer l\u2019alerte",
      toggle: "Alertes info", title: "Alertes de dernière minute", topics: "Thèmes", anyTopic: "Aucun coché\u00a0: tous les thèmes.",
      regions: "Régions", anyRegion: "Aucune cochée\u00a0: partout.", langs: "Langues", anyLang: "Aucune cochée\u00a0: toutes les langues.",
      min: "Alertes à afficher", minAll: "Toutes les alertes", minUrgent: "Urgentes et dernière minute", minFlash: "Dernière minute uniquement",
      pause: "Suspendre les alertes", pauseNone: "Pas de pause", p1: "Pendant 1 heure", p8: "Pendant 8 heures", p24: "Pendant 24 heures", pausedUntil: "En pause jusqu\u2019à {t}",
      quiet: "Heures de silence", mute: "Couper les alertes pendant ces heures", from: "De", to: "à", allowFlash: "Toujours afficher la dernière minute",
      save: "Enregistrer", close: "Fermer", loading: "Chargement\u2026", saving: "Enregistrement\u2026", saved: "Enregistré. Les alertes suivent désormais vos choix.",
      failed: "Échec de l\u2019enregistrement. Réessayez dans un instant.", more: "+{n} autres", fewer: "Afficher moins",
      skip: "Aller à la dernière alerte", region: "Dernière minute",
      push: "Notifications", pushGet: "Recevoir les notifications", pushStop: "Désactiver les notifications",
      pushOn: "Activées\u00a0: les alertes arrivent même site fermé.", pushOff: "Désactivées.",
      pushBlocked: "Bloquées dans les réglages du navigateur.", pushFailed: "Impossible d’activer les notifications."
    },
    de: {
      flash: "Eilmeldung", urgent: "Dringend", normal: "Nachricht", updated: "Aktualisiert", dismiss: "Meldung schließen",
      toggle: "Eilmeldungen", title: "Eilmeldungen einstellen", topics: "Themen", anyTopic: "Nichts angehakt: alle Themen.",
      regions: "Regionen", anyRegion: "Nichts angehakt: überall.", langs: "Sprachen", anyLang: "Nichts angehakt: alle Sprachen.",
      min: "Angezeigte Meldungen", minAll: "Alle Meldungen", minUrgent: "Dringende und Eilmeldungen", minFlash: "Nur Eilmeldungen",
      pause: "Meldungen pausieren", pauseNone: "Nicht pausiert", p1: "Für 1 Stunde", p8: "Für 8 Stunden", p24: "Für 24 Stunden", pausedUntil: "Pausiert bis {t}",
      quiet: "Ruhezeiten", mute: "In dieser Zeit keine Meldungen", from: "Von", to: "bis", allowFlash: "Eilmeldungen trotzdem zeigen",
      save: "Speichern", close: "Schließen", loading: "Wird geladen\u2026", saving: "Wird gespeichert\u2026", saved: "Gespeichert. Die Meldungen folgen jetzt Ihrer Auswahl.",
      failed: "Nicht gespeichert. Bitte versuchen Sie es gleich noch einmal.", more: "+{n} weitere", fewer: "Weniger anzeigen",
      skip: "Zur neuesten Eilmeldung springen", region: "Eilmeldungen",
      push: "Benachrichtigungen", pushGet: "Benachrichtigungen erhalten", pushStop: "Benachrichtigungen ausschalten",
      pushOn: "An: Meldungen kommen auch bei geschlossener Seite.", pushOff: "Aus.",
      pushBlocked: "In den Browser-Einstellungen blockiert.", pushFailed: "Benachrichtigungen ließen sich nicht einschalten."
    },
    es: {
      flash: "Última hora", urgent: "Urgente", normal: "Noticia", updated: "Actualizada", dismiss: "Cerrar alerta",
      toggle: "Alertas de noticias", title: "Alertas de última hora", topics: "Temas", anyTopic: "Ninguno marcado: todos los temas.",
      regions: "Regiones", anyRegion: "Ninguna marcada: en todas partes.", langs: "Idiomas", anyLang: "Ninguno marcado: todos los idiomas.",
      min: "Alertas que mostrar", minAll: "Todas las alertas", minUrgent: "Urgentes y de última hora", minFlash: "Solo última hora",
      pause: "Pausar alertas", pauseNone: "Sin pausa", p1: "Durante 1 hora", p8: "Durante 8 horas", p24: "Durante 24 horas", pausedUntil: "En pausa hasta las {t}",
      quiet: "Horas de silencio", mute: "Silenciar las alertas en este horario", from: "De", to: "a", allowFlash: "Mostrar igualmente la última hora",
      save: "Guardar", close: "Cerrar", loading: "Cargando\u2026", saving: "Guardando\u2026", saved: "Guardado. Las alertas siguen ahora tus preferencias.",
      failed: "No se ha guardado. Inténtalo de nuevo en un momento.", more: "+{n} más", fewer: "Mostrar menos",
      skip: "Ir a la última alerta", region: "Última hora",
      push: "Notificaciones", pushGet: "Recibir notificaciones", pushStop: "Desactivar notificaciones",
      pushOn: "Activadas: las alertas llegan aunque el sitio esté cerrado.", pushOff: "Desactivadas.",
      pushBlocked: "Bloqueadas en los ajustes del navegador.", pushFailed: "No se han podido activar las notificaciones."
    },
    ru: {
      flash: "Срочно", urgent: "Важно", normal: "Новости", updated: "Обновлено", dismiss: "Закрыть уведомление",
      toggle: "Уведомления", title: "Уведомления о срочных новостях", topics: "Темы", anyTopic: "Ничего не отмечено: все темы.",
      regions: "Регионы", anyRegion: "Ничего не отмечено: все регионы.", langs: "Языки", anyLang: "Ничего не отмечено: все языки.",
      min: "Какие уведомления показывать", minAll: "Все", minUrgent: "Важные и срочные", minFlash: "Только срочные",
      pause: "Приостановить уведомления", pauseNone: "Не приостанавливать", p1: "На 1 час", p8: "На 8 часов", p24: "На 24 часа", pausedUntil: "Приостановлено до {t}",
      quiet: "Тихие часы", mute: "Не показывать уведомления в это время", from: "С", to: "до", allowFlash: "Срочные новости показывать всегда",
      save: "Сохранить", close: "Закрыть", loading: "Загрузка\u2026", saving: "Сохранение\u2026", saved: "Сохранено. Теперь уведомления приходят по вашему выбору.",
      failed: "Не удалось сохранить. Попробуйте ещё раз чуть позже.", more: "ещё {n}", fewer: "Свернуть",
      skip: "Перейти к последней срочной новости", region: "Срочные новости",
      push: "Уведомления браузера", pushGet: "Получать уведомления", pushStop: "Отключить уведомления",
      pushOn: "Включены: новости приходят, даже когда сайт закрыт.", pushOff: "Выключены.",
      pushBlocked: "Заблокированы в настройках браузера.", pushFailed: "Не удалось включить уведомления."
    },
    uk: {
      flash: "Терміново", urgent: "Важливо", normal: "Новини", updated: "Оновлено", dismiss: "Закрити сповіщення",
      toggle: "Сповіщення", title: "Сповіщення про термінові новини", topics: "Теми", anyTopic: "Нічого не позначено: усі теми.",
      regions: "Регіони", anyRegion: "Нічого не позначено: усі регіони.", langs: "Мови", anyLang: "Нічого не позначено: усі мови.",
      min: "Які сповіщення показувати", minAll: "Усі", minUrgent: "Важливі й термінові", minFlash: "Лише термінові",
      pause: "Призупинити сповіщення", pauseNone: "Не призупиняти", p1: "На 1 годину", p8: "На 8 годин", p24: "На 24 години", pausedUntil: "Призупинено до {t}",
      quiet: "Тихі години", mute: "Не показувати сповіщення в цей час", from: "З", to: "до", allowFlash: "Термінові новини показувати завжди",
      save: "Зберегти", close: "Закрити", loading: "Завантаження\u2026", saving: "Збереження\u2026", saved: "Збережено. Тепер сповіщення відповідають вашому вибору.",
      failed: "Не вдалося зберегти. Спробуйте ще раз трохи згодом.", more: "ще {n}", fewer: "Згорнути",
      skip: "Перейти до останньої термінової новини", region: "Термінові новини",
      push: "Сповіщення браузера", pushGet: "Отримувати сповіщення", pushStop: "Вимкнути сповіщення",
      pushOn: "Увімкнено: новини надходять, навіть коли сайт закрито.", pushOff: "Вимкнено.",
      pushBlocked: "Заблоковано в налаштуваннях браузера.", pushFailed: "Не вдалося ввімкнути сповіщення."
    },
    fa: {
      flash: "فوری", urgent: "مهم", normal: "خبر", updated: "به‌روز شد", dismiss: "بستن هشدار",
      toggle: "هشدارهای خبری", title: "هشدارهای خبر فوری", topics: "موضوع‌ها", anyTopic: "هیچ‌کدام انتخاب نشده: همهٔ موضوع‌ها.",
      regions: "منطقه‌ها", anyRegion: "هیچ‌کدام انتخاب نشده: همه‌جا.", langs: "زبان‌ها", anyLang: "هیچ‌کدام انتخاب نشده: همهٔ زبان‌ها.",
      min: "کدام هشدارها نمایش داده شوند", minAll: "همهٔ هشدارها", minUrgent: "مهم و فوری", minFlash: "فقط خبرهای فوری",
      pause: "توقف موقت هشدارها", pauseNone: "بدون توقف", p1: "به مدت ۱ ساعت", p8: "به مدت ۸ ساعت", p24: "به مدت ۲۴ ساعت", pausedUntil: "متوقف تا {t}",
      quiet: "ساعت‌های سکوت", mute: "در این ساعت‌ها هشداری نشان نده", from: "از", to: "تا", allowFlash: "خبرهای فوری همچنان نمایش داده شوند",
      save: "ذخیره", close: "بستن", loading: "در حال بارگذاری\u2026", saving: "در حال ذخیره\u2026", saved: "ذخیره شد. هشدارها از این پس مطابق انتخاب شما هستند.",
      failed: "ذخیره نشد. لطفاً کمی بعد دوباره امتحان کنید.", more: "+{n} مورد دیگر", fewer: "نمایش کمتر",
      skip: "رفتن به آخرین خبر فوری", region: "خبر فوری",
      push: "اعلان‌های مرورگر", pushGet: "دریافت اعلان‌ها", pushStop: "خاموش کردن اعلان‌ها",
      pushOn: "روشن: هشدارها حتی وقتی سایت بسته است می‌رسند.", pushOff: "خاموش.",
      pushBlocked: "در تنظیمات مرورگر مسدود شده است.", pushFailed: "روشن کردن اعلان‌ها ممکن نشد."
    }
  };
  // Each built-in language by its own name, for the settings.
  var NAMES = { en: "English", fr: "Français", de: "Deutsch", es: "Español", ru: "Русский", uk: "Українська", fa: "فارسی" };
  var extra = window.FlashwireWords || {};
  for (var w in extra) WORDS[w] = extra[w];
  // The language: data-ui-lang, else the page's, else English.
  var lang = (opt.uiLang || document.documentElement.lang || "en").toLowerCase();
  var base = lang.split("-")[0];
  if (!WORDS[base]) lang = base = "en";
  var rtl = /^(ar|fa|he|ur|ps|ckb|yi|dv)$/.test(base);
  function t(k, n) {
    var s = WORDS[base][k] || WORDS.en[k];
    return n == null ? s : s.replace(/\{[nt]\}/, n);
  }
  function clock(d) { return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }); }

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
  // filters apply again, over WebSockets, which were not at fault. It also
  // asks why connecting fails, which a browser hides from scripts, and
  // reports a refusal of the page's own attributes (400: a topic or region
  // the service does not know) on the console for the site's developers.
  function recheck() {
    if (get("saved")) api("GET", prefsPath()).catch(function (e) {
      if (e.status === 404) { put("saved", ""); sse = !window.WebSocket; wsFails = 0; }
    });
    var ask = new AbortController();
    fetch(new URL("events?" + query(), root).href, { signal: ask.signal }).then(function (r) {
      if (r.status !== 400) return ask.abort();
      return r.json().then(function (j) {
        console.error("flashwire: the service refused this page's settings: " +
          (j.fields || []).map(function (f) { return f.field + " " + f.problem; }).join("; "), j.fields);
      });
    }).catch(function () { /* offline, or the stream it opened was closed */ });
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

  var stack, more, skip, said, shown = {}; // alert id -> banner element
  var small = window.matchMedia("(max-width: 37.5em)"), expanded = false;

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

  // banners lists the banners newest first.
  function banners() { return Array.prototype.slice.call(stack.querySelectorAll(".fw-banner")); }

  function show(a, update) {
    if (!a || !a.id) return;
    var b = shown[a.id];
    if (update ? !b : b || Date.now() - Date.parse(a.published_at) > MAX_AGE) return;
    if (!b) {
      b = shown[a.id] = el("div", "", null, { "data-id": a.id, role: "alert", "aria-live": "assertive", "aria-atomic": "true", tabindex: "-1" });
      var x = el("button", "fw-close", "\u00d7", { type: "button", "aria-label": t("dismiss") });
      x.addEventListener("click", function () { remove(a.id); });
      stack.insertBefore(add(b, el("div"), x), stack.firstChild);
    }
    var p = RANK[a.priority] ? a.priority : "normal", body = el("div", "fw-body"), kick = el("p", "fw-kicker");
    b.className = "fw-banner fw-" + p;
    b.rank = RANK[p];
    add(kick, el("span", "fw-label", t(p) + (update ? " \u00b7 " + t("updated") : "")));
    var when = new Date(a.updated_at || a.published_at);
    if (!isNaN(when)) add(kick, document.createTextNode(" "), el("time", "fw-time", clock(when), { datetime: when.toISOString() }));
    var href = webURL(a.url);
    add(body, kick, add(el("p", "fw-headline"), el(href ? "a" : "span", "fw-link", a.headline || "", href ? { href: href } : {})),
      a.summary && el("p", "fw-summary", a.summary));
    b.replaceChild(body, b.firstChild); // in place: the banner keeps its spot
    if (!update) evict();
    layout();
    // A banner the compact view keeps folded is still announced.
    if (b.hidden) said.textContent = t(p) + ": " + (a.headline || "");
  }

  // evict keeps at most MAX_SHOWN banners, taking away the oldest of the
  // least urgent: a flash alert is never pushed out by a lesser one.
  function evict() {
    var bs = banners();
    while (bs.length > MAX_SHOWN) {
      var out = bs[bs.length - 1];
      for (var i = bs.length - 1; i >= 0; i--) if (bs[i].rank < out.rank) out = bs[i];
      bs.splice(bs.indexOf(out), 1);
      remove(out.getAttribute("data-id"));
    }
  }

  // lead is the banner the compact view shows: the newest of the most urgent.
  function lead() {
    return banners().reduce(function (l, b) { return !l || b.rank > l.rank ? b : l; }, null);
  }

  // newest is the banner a keyboard reaches first: the newest shown.
  function newest() { return small.matches && !expanded ? lead() : banners()[0]; }

  // layout folds the stack on small screens to its lead banner and a
  // count of the others, then keeps it off the focused element.
  function layout() {
    var bs = banners(), top = lead(), fold = small.matches && !expanded;
    bs.forEach(function (b) { b.hidden = fold && b !== top; });
    more.hidden = !small.matches || bs.length < 2;
    more.textContent = expanded ? t("fewer") : t("more", (bs.length - 1).toLocaleString(lang));
    more.setAttribute("aria-expanded", String(expanded));
    var at = fold && top ? top.nextSibling : null, had = document.activeElement === more;
    if (top && (more.parentNode !== stack || more.nextSibling !== at && at !== more)) {
      stack.insertBefore(more, at);
      if (had) more.focus(); // moving it took focus away
    }
    skip.hidden = !bs.length;
    place();
  }

  // remove takes a banner away; when focus was in it (the reader dismissed
  // it from the keyboard) focus goes to the next banner or the settings.
  function remove(id) {
    var b = shown[id];
    if (!b) return;
    delete shown[id];
    var had = b.contains(document.activeElement);
    b.remove();
    if (stack.querySelectorAll(".fw-banner").length < 2) expanded = false;
    layout();
    var next = had && (stack.querySelector(".fw-banner:not([hidden]) .fw-close") || (toggle.hidden ? null : toggle));
    if (next) next.focus();
  }

  // Placement. data-position puts the banners at the top (the default) or
  // the bottom of the window; data-offset keeps them clear of the site's
  // own bar there (a CSS length, or a selector of the bar: its edge is
  // followed as the page scrolls); data-host puts them inline in an
  // element of the site instead. A floating stack never covers the focused
  // element: it moves to the other edge, else folds, else steps aside until
  // focus moves on.

  function find(sel) { try { return sel && document.querySelector(sel); } catch (e) { return null; } }
  var position = opt.position === "bottom" ? "bottom" : "top", host = find(opt.host);
  var length = opt.offset && CSS.supports("top", opt.offset), bar = !host && !length && find(opt.offset);

  // offset is the distance, in CSS terms, from the chosen edge.
  function offset() {
    if (!bar) return length ? opt.offset : "0px";
    var r = bar.getBoundingClientRect(), h = window.innerHeight;
    return Math.max(0, Math.min(h, position === "top" ? r.bottom : h - r.top)) + "px";
  }

  function covers(a) {
    var r = a.getBoundingClientRect();
    return banners().some(function (b) {
      var s = b.getBoundingClientRect();
      return !b.hidden && s.height && r.top < s.bottom && s.top < r.bottom && r.left < s.right && s.left < r.right;
    });
  }

  function place() {
    if (host) return;
    var a = document.activeElement, flip = position === "top" ? "bottom" : "top";
    stack.removeAttribute("data-yield");
    edge(position, offset());
    if (!a || a === document.body || box.contains(a) || a === skip || !covers(a)) return;
    edge(flip, "0px");
    if (!covers(a)) return;
    stack.setAttribute("data-yield", "fold");
    if (covers(a)) stack.setAttribute("data-yield", "aside");
  }

  function edge(e, off) {
    box.setAttribute("data-edge", e);
    stack.style.setProperty("--fw-offset", off);
  }

  var queued = 0;
  function later() {
    if (!queued) queued = requestAnimationFrame(function () { queued = 0; place(); });
  }

  // The settings: topics, regions, languages, priority, a pause and quiet
  // hours, saved as the reader's preferences.

  var toggle, panel, form, status, prefs = null;

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

  function choice(name, label, options) {
    var s = el("select", "", null, { name: name });
    options.forEach(function (o) { add(s, el("option", "", o[1], { value: o[0] })); });
    return add(el("label", "fw-field fw-choice"), document.createTextNode(label + " "), s);
  }

  // boxes fills the fieldset of name with a box for each of values, ticked
  // when in chosen.
  function boxes(name, legend, hint, values, chosen, text) {
    var set = form.querySelector(".fw-" + name);
    set.textContent = "";
    add(set, el("legend", "", legend));
    values.forEach(function (v) {
      add(set, field("checkbox", name, v, text(v))).lastChild.firstChild.checked = chosen.indexOf(v) >= 0;
    });
    add(set, el("p", "fw-hint", hint));
  }

  function openPanel() {
    if (!panel.hidden) return;
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    status.textContent = t("loading");
    if (pushBox) pushCheck();
    var saved = get("saved") ? api("GET", prefsPath()).catch(function () { return null; }) : null;
    Promise.all([api("GET", "topics").catch(function () { return {}; }), saved]).then(function (r) {
      fill(r[0], r[1]);
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

  function fill(tax, p) {
    prefs = p;
    var topics = tax.topics && tax.topics.length ? tax.topics : want.topics;
    var regions = tax.regions && tax.regions.length ? tax.regions : want.regions;
    var langs = Object.keys(NAMES);
    want.lang.concat(p && p.languages || []).forEach(function (l) { if (langs.indexOf(l) < 0) langs.push(l); });
    boxes("topic", t("topics"), t("anyTopic"), topics, p ? p.topics || [] : want.topics, title);
    boxes("region", t("regions"), t("anyRegion"), regions, p ? p.regions || [] : want.regions, title);
    boxes("lang", t("langs"), t("anyLang"), langs, p ? p.languages || [] : want.lang, function (l) { return NAMES[l] || l; });
    var f = form.elements, q = p && p.quiet_hours, until = p && Date.parse(p.paused_until);
    f.min.value = (p ? p.min_priority : minPriority) || "normal";
    var keep = f.pause.querySelector("[value=keep]");
    keep.hidden = !(until > Date.now());
    if (!keep.hidden) keep.textContent = t("pausedUntil", new Date(until).toLocaleString(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" }));
    f.pause.value = keep.hidden ? "0" : "keep";
    f.quiet.checked = !!q;
    f.start.value = q && q.start || "22:00";
    f.end.value = q && q.end || "07:00";
    f.flash.checked = q ? !!q.allow_flash : true;
    quiet();
  }

  // quiet turns the quiet-hours times on and off with their box.
  function quiet() {
    var f = form.elements;
    f.start.disabled = f.end.disabled = f.flash.disabled = !f.quiet.checked;
  }

  function ticked(name) {
    return Array.prototype.map.call(form.querySelectorAll("input[name=" + name + "]:checked"), function (i) { return i.value; });
  }

  function save(ev) {
    ev.preventDefault();
    var f = form.elements, pause = f.pause.value;
    var body = { topics: ticked("topic"), regions: ticked("region"), languages: ticked("lang"), min_priority: f.min.value };
    if (pause === "keep") body.paused_until = prefs.paused_until;
    else if (+pause) body.paused_until = new Date(Date.now() + pause * 3600e3).toISOString();
    if (f.quiet.checked) {
      body.quiet_hours = {
        start: f.start.value, end: f.end.value, allow_flash: f.flash.checked,
        tz: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"
      };
    }
    status.textContent = t("saving");
    api("PUT", prefsPath(), body).then(function (p) {
      prefs = p;
      put("saved", "1");
      status.textContent = t("saved");
      attempt = 0;
      connect(); // resumes from last_id with the new preferences
    }, function (e) {
      console.warn("flashwire: " + e.message);
      status.textContent = t("failed");
    });
  }

  // Web Push: offered in the panel when the page names its service worker
  // (data-push-worker) and the browser can; the browser asks for
  // permission only when the reader clicks.
  var canPush = opt.pushWorker && "serviceWorker" in navigator && "PushManager" in window && window.Notification;
  var pushBox, pushSaid, pushBtn;

  function registration() { return navigator.serviceWorker.getRegistration(new URL(opt.pushWorker, location.href).href); }

  function pushState(on) {
    var blocked = Notification.permission === "denied";
    pushBox.setAttribute("data-push", blocked ? "blocked" : on ? "on" : "off");
    pushSaid.textContent = t(blocked ? "pushBlocked" : on ? "pushOn" : "pushOff");
    pushBtn.textContent = t(on ? "pushStop" : "pushGet");
    pushBtn.hidden = blocked;
  }

  function pushCheck(said) {
    registration().then(function (r) { return r && r.pushManager.getSubscription(); }).then(function (s) {
      pushState(!!s);
      if (said && !s && Notification.permission !== "denied") pushSaid.textContent = said;
    });
  }

  function pushToggle() {
    var path = "readers/" + readerId() + "/push";
    pushBtn.disabled = true;
    var done = function (e) { pushBtn.disabled = false; pushCheck(e && t("pushFailed")); };
    if (pushBox.getAttribute("data-push") === "on") {
      return registration().then(function (r) { return r.pushManager.getSubscription(); }).then(function (s) {
        return s && api("DELETE", path, { endpoint: s.endpoint }).catch(function () {}).then(function () { return s.unsubscribe(); });
      }).then(function () { done(); }, function () { done(); });
    }
    Notification.requestPermission().then(function (p) {
      if (p !== "granted") throw new Error(p);
      // A reader who never saved settings subscribes with the page's.
      return get("saved") || api("PUT", prefsPath(), { topics: want.topics, regions: want.regions, languages: want.lang, min_priority: minPriority })
        .then(function () { put("saved", "1"); });
    }).then(function () {
      return Promise.all([navigator.serviceWorker.register(opt.pushWorker).then(function () { return navigator.serviceWorker.ready; }), api("GET", "push/key")]);
    }).then(function (r) {
      r[0].active.postMessage({ type: "flashwire-config", service: root.href.replace(/\/$/, ""), reader: readerId() });
      return r[0].pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: r[1].public_key });
    }).then(function (s) { return api("POST", path, s.toJSON()); }).then(function () { done(); }, function (e) {
      console.warn("flashwire: " + e.message);
      done(e);
    });
  }

  function buildPanel() {
    toggle = el("button", "fw-toggle", t("toggle"), { type: "button", "aria-expanded": "false", "aria-controls": "fw-panel" });
    toggle.hidden = opt.settings === "off";
    toggle.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(true); });
    var no = el("button", "fw-cancel", t("close"), { type: "button" });
    no.addEventListener("click", function () { closePanel(true); });
    status = el("p", "fw-status", null, { role: "status" });
    form = add(el("form", "fw-form"), el("fieldset", "fw-topic"), el("fieldset", "fw-region"), el("fieldset", "fw-lang"),
      add(el("div", "fw-choices"),
        choice("min", t("min"), [["normal", t("minAll")], ["urgent", t("minUrgent")], ["flash", t("minFlash")]]),
        choice("pause", t("pause"), [["keep", ""], ["0", t("pauseNone")], ["1", t("p1")], ["8", t("p8")], ["24", t("p24")]])),
      add(el("fieldset"), el("legend", "", t("quiet")),
        field("checkbox", "quiet", "1", t("mute")),
        field("time", "start", "22:00", t("from")), field("time", "end", "07:00", t("to")),
        field("checkbox", "flash", "1", t("allowFlash"))),
      add(el("div", "fw-actions"), el("button", "fw-save", t("save"), { type: "submit" }), no), status);
    form.addEventListener("submit", save);
    form.elements.quiet.addEventListener("change", quiet);
    if (canPush) {
      pushSaid = el("p", "fw-hint", null, { role: "status" });
      pushBtn = el("button", "fw-push-toggle", t("pushGet"), { type: "button" });
      pushBtn.addEventListener("click", pushToggle);
      pushBox = add(el("fieldset", "fw-push"), el("legend", "", t("push")), pushBtn, pushSaid);
    }
    panel = add(el("div", "fw-panel", null, { id: "fw-panel", role: "dialog", "aria-labelledby": "fw-title" }),
      el("h2", "fw-title", t("title"), { id: "fw-title" }), pushBox, form);
    panel.hidden = true;
  }

  // rootEl is an element the widget's styles apply in, in its language.
  function rootEl(cls) { return el("div", "fw-root" + cls, null, { lang: lang, dir: rtl ? "rtl" : "ltr" }); }

  function start() {
    var css = el("link", "", null, { rel: "stylesheet", href: new URL("flashwire.css", me.src).href });
    stack = el("div", "fw-stack", null, { role: "region", "aria-label": t("region") });
    more = el("button", "fw-more", null, { type: "button" });
    more.addEventListener("click", function () { expanded = !expanded; layout(); });
    said = el("p", "fw-said", null, { role: "status" });
    // The skip link waits at the top of the page, for keyboard users,
    // while there are banners; it shows when focused.
    skip = el("a", "fw-skip", t("skip"), { href: "#" });
    skip.addEventListener("click", function (e) {
      e.preventDefault();
      var b = newest();
      if (b) b.focus();
    });
    buildPanel();
    box = add(rootEl(""), panel, toggle, said);
    box.setAttribute("data-position", position);
    box.setAttribute("data-settings", toggle.hidden ? "off" : "on");
    var holder = box;
    if (host) add(host, holder = rootEl(" fw-inline"));
    holder.insertBefore(stack, holder.firstChild);
    box.hidden = holder.hidden = true; // until styled, so nothing shows unstyled
    css.onload = css.onerror = function () { box.hidden = holder.hidden = false; place(); };
    add(document.head, css);
    add(document.body, box);
    document.body.insertBefore(add(rootEl(" fw-top"), skip), document.body.firstChild);
    layout();

    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      var b = newest();
      if (!panel.hidden) closePanel(false);
      else if (b) remove(b.getAttribute("data-id"));
      else return;
      e.preventDefault();
    });
    document.addEventListener("focusin", later);
    window.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later);
    if (small.addEventListener) small.addEventListener("change", layout);
    window.addEventListener("online", function () { attempt = 0; connect(); });
    window.addEventListener("offline", function () { drop(); state("offline"); });
    window.addEventListener("pagehide", drop); // lets the page into the back/forward cache
    window.addEventListener("pageshow", function (e) { if (e.persisted) connect(); });
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
