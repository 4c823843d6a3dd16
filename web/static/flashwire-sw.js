// Flashwire's service worker: shows breaking-news alerts pushed while no
// page of the site is open. A news site hosts a one-line worker on its own
// origin that imports this file (docs/webpush.md):
//
//   importScripts("https://flashwire.example/static/flashwire-sw.js");
//
// The widget tells it where the service is and which reader it serves (a
// "flashwire-config" message, kept in Cache Storage), which it needs only
// to subscribe again when the browser replaces the subscription.
(function () {
  "use strict";
  var CONFIG = "/__flashwire/config";

  function config() {
    return caches.open("flashwire").then(function (c) {
      return c.match(CONFIG);
    }).then(function (r) {
      return r ? r.json() : {};
    }).catch(function () { return {}; });
  }

  function saveConfig(cfg) {
    return caches.open("flashwire").then(function (c) {
      return c.put(CONFIG, new Response(JSON.stringify(cfg), { headers: { "Content-Type": "application/json" } }));
    });
  }

  function close(tag) {
    return self.registration.getNotifications({ tag: tag }).then(function (ns) {
      ns.forEach(function (n) { n.close(); });
    });
  }

  // A push carries {type: alert|update|retract, id, headline, summary,
  // url, image, priority, published_at}. The tag is the alert id, so a
  // correction replaces the notification and a retraction finds it.
  self.addEventListener("push", function (event) {
    var msg = {};
    try { msg = event.data ? event.data.json() : {}; } catch (e) { return; }
    if (!msg.id) { return; }
    if (msg.type === "retract") {
      event.waitUntil(close(msg.id));
      return;
    }
    var opts = self.flashwireOptions || {};
    var link = /^https?:\/\//.test(msg.url || "") ? msg.url : "";
    event.waitUntil(self.registration.showNotification(msg.headline || "Breaking news", {
      body: msg.summary || "",
      icon: opts.icon || undefined,
      image: /^https:\/\//.test(msg.image || "") ? msg.image : undefined,
      tag: msg.id,
      renotify: msg.type !== "update",
      requireInteraction: msg.priority === "flash",
      timestamp: Date.parse(msg.published_at) || Date.now(),
      data: { url: link, id: msg.id }
    }));
  });

  // A click opens the story, in the tab that already shows it if any.
  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var url = (event.notification.data || {}).url;
    if (!url) { return; }
    event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && "focus" in list[i]) { return list[i].focus(); }
      }
      return self.clients.openWindow(url);
    }));
  });

  self.addEventListener("message", function (event) {
    var d = event.data || {};
    if (d.type === "flashwire-config" && typeof d.service === "string" && typeof d.reader === "string") {
      event.waitUntil(saveConfig({ service: d.service, reader: d.reader }));
    }
  });

  // The browser replaced the subscription (keys rotated, or expired):
  // subscribe again with Flashwire's key, store the new one, drop the old.
  self.addEventListener("pushsubscriptionchange", function (event) {
    event.waitUntil(config().then(function (cfg) {
      if (!cfg.service || !cfg.reader) { return; }
      var base = cfg.service + "/api/v1/readers/" + encodeURIComponent(cfg.reader) + "/push";
      var renewed = event.newSubscription ? Promise.resolve(event.newSubscription) :
        fetch(cfg.service + "/api/v1/push/key").then(function (r) { return r.json(); }).then(function (k) {
          return self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: k.public_key });
        });
      return renewed.then(function (sub) {
        return fetch(base, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(sub) });
      }).then(function () {
        if (event.oldSubscription) {
          return fetch(base, { method: "DELETE", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ endpoint: event.oldSubscription.endpoint }) });
        }
      });
    }));
  });
})();
