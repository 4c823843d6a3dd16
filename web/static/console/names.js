/* Names the console knows by id (alert headlines, partners, sources,
 * tokens), to show names where the API gives ids. */
import { api, session } from "./api.js";
import { feedName } from "./dom.js";

// names holds what the console knows by id, to name an audit entry's
// target and a held story's source: headlines of sent alerts, partners,
// sources and tokens. The lists that load them fill them as they go.
export const names = { alert: {}, partner: {}, source: {}, token: {} };

// sourcesForbidden is set once the API refuses the source list: an editor
// may not list sources, and the lists then show ids.
var sourcesForbidden = false;

// loadSourceNames fills names.source, for the lists that show sources by
// id; it stays empty for an editor, who may not list sources.
export function loadSourceNames() {
  if (sourcesForbidden) return Promise.resolve(names.source);
  return api("GET", "/api/v1/sources").then(function (r) {
    (r.sources || []).forEach(function (s) { names.source[s.id] = feedName(s.url); });
    return names.source;
  }, function (e) {
    if (e.status === 403) sourcesForbidden = true;
    return names.source;
  });
}

// loadNames fills every list the signed-in editor may read.
export function loadNames() {
  var admin = session.me && session.me.role === "admin", asks = [api("GET", "/api/v1/alerts?limit=100").then(function (r) {
    (r.alerts || []).forEach(function (a) { names.alert[a.id] = a.headline; });
  })];
  if (admin) {
    asks.push(api("GET", "/api/v1/partners").then(function (r) { (r.partners || []).forEach(function (p) { names.partner[p.id] = p.name; }); }));
    asks.push(api("GET", "/api/v1/tokens").then(function (r) { (r.tokens || []).forEach(function (t) { names.token[t.id] = t.name; }); }));
    asks.push(loadSourceNames());
  }
  // A list that cannot be read leaves ids in place of names.
  return Promise.all(asks.map(function (p) { return p.catch(function () {}); }));
}

// forgetNames empties every list: what one token could read is not for the
// next one to see.
export function forgetNames() {
  Object.keys(names).forEach(function (kind) { names[kind] = {}; });
  sourcesForbidden = false;
}
