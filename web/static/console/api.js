/* The console's calls to the JSON API, with the session cookie and the
 * CSRF token of the signed-in session. */

// session is the signed-in editor (me, as GET /editor/session answers) and
// the CSRF token every change must carry; both empty when signed out.
export const session = { csrf: "", me: null };

// unauthorized is called when the API says the session has ended.
var unauthorized = function () {};

// onUnauthorized sets what happens when a call finds the session ended.
export function onUnauthorized(fn) { unauthorized = fn; }

// api calls the JSON API with the session cookie and the CSRF token. A
// failed call rejects with an Error carrying status and body.
export function api(method, path, body, headers) {
  var h = { "X-CSRF-Token": session.csrf };
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
        if (r.status === 401 && path.indexOf("/editor/session") !== 0) unauthorized();
        throw err;
      });
    });
}
