// A partner endpoint for Flashwire webhooks, in Node.js with no framework.
//
// It verifies each message's Standard Webhooks signature over the raw body
// with the standardwebhooks package, drops repeats by webhook-id, answers
// 204 at once and does the site's own work afterwards.
//
//   npm ci
//   FLASHWIRE_SECRET=whsec_... PORT=9000 node server.js
//
// Register http(s)://YOUR-HOST:9000/flashwire as the partner URL. Every
// message prints one line: "accepted ID TYPE ALERT", "duplicate ID" or
// "rejected REASON".
import http from "node:http";
import { Webhook } from "standardwebhooks";

const secret = process.env.FLASHWIRE_SECRET;
if (!secret) {
  console.error("set FLASHWIRE_SECRET to the partner's signing secret (whsec_...)");
  process.exit(2);
}
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 9000);
const maxBody = 1 << 20;
// How long a webhook-id is remembered: retries and replays come within days.
const keepIds = 3 * 24 * 3600 * 1000;

const wh = new Webhook(secret);
// webhook-id -> when first accepted. A site with several servers keeps
// these in its database instead.
const seen = new Map();

function remember(id) {
  const now = Date.now();
  for (const [old, at] of seen) {
    if (now - at < keepIds) break; // insertion order: the oldest come first
    seen.delete(old);
  }
  seen.set(id, now);
}

// handle is the site's own work, done after answering.
function handle(msg) {
  switch (msg.type) {
    case "alert.published":
    case "alert.updated":
      // Show or replace the banner for msg.data.id with msg.data.headline.
      break;
    case "alert.retracted":
      // Take down whatever was shown for msg.data.id.
      break;
    default:
      // "ping" and any event type added later: nothing to do.
      break;
  }
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/flashwire") {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > maxBody) {
      console.log("rejected body over 1 MiB");
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    // Verify the exact bytes received, before parsing them.
    const body = Buffer.concat(chunks).toString("utf8");
    let msg;
    try {
      msg = wh.verify(body, req.headers);
    } catch (err) {
      console.log(`rejected ${err.message}`);
      res.writeHead(401).end();
      return;
    }
    const id = req.headers["webhook-id"];
    if (seen.has(id)) {
      console.log(`duplicate ${id}`);
      res.writeHead(204).end();
      return;
    }
    remember(id);
    console.log(`accepted ${id} ${msg.type} ${msg.data && msg.data.id ? msg.data.id : "-"}`);
    res.writeHead(204).end();
    setImmediate(() => handle(msg));
  });
});

server.listen(port, host, () => console.log(`listening on http://${host}:${port}/flashwire`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
