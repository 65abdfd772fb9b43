// The demo page's logic; also the browser e2e test's handle (window.demo).
import { connect } from "/client/office-router-client.js";

const $ = (s) => document.querySelector(s);
const config = await (await fetch("/demo/config.json")).json();
const routers = Object.fromEntries(config.routers.map((r) => [r.name, r.url]));
for (const [name, url] of Object.entries(routers)) {
  const o = document.createElement("option");
  o.value = name;
  o.textContent = `${name} (${url})`;
  $("#router").append(o);
}

const state = { status: "idle", welcomes: [], presence: new Map(), events: [], messages: [], rejected: [] };
let conn;
let lastAccess;
let reuseOnce = false;
/** The role the dev identity provider puts in this page's next sessions (setRole). */
let sessionRole;

function log(line) {
  const div = document.createElement("div");
  div.textContent = `${new Date().toLocaleTimeString()}  ${line}`;
  $("#log").prepend(div);
}

function renderPresence() {
  $("#presence").replaceChildren(
    ...[...state.presence].map(([user, role]) => {
      const li = document.createElement("li");
      li.innerHTML = '<span class="dot"></span>';
      li.append(`${user} (${role})`);
      return li;
    }),
  );
}

async function post(path, body, token) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${json.error}`);
  return json;
}

/** Shows the router of this tab in the page and its title: tabs on different routers are in different worlds. */
function showRouter(name, user, org) {
  state.router = name;
  $("#router-in-use").textContent = `${name} (${routers[name]})`;
  document.title = `${user}@${org} via ${name} · office-router demo`;
}

function start({ user, org, role = "member", router = config.routers[0].name }) {
  conn?.close();
  sessionRole = role;
  state.presence.clear();
  const base = routers[router];
  showRouter(router, user, org);
  // The app's requestAccess: here the dev identity provider stands in for the user's session.
  const requestAccess = async () => {
    if (reuseOnce && lastAccess) {
      reuseOnce = false;
      return lastAccess; // already used: the router refuses it as replayed
    }
    const { accessToken } = await post("/dev/session", { userId: user, orgId: org, role: sessionRole });
    const access = await post("/api/v1/cloudflare/request-access", null, accessToken);
    access.url = base + new URL(access.url).pathname; // the router chosen on the page
    lastAccess = access;
    return access;
  };
  conn = connect({
    requestAccess,
    onStatus: (s, d) => {
      state.status = s;
      $("#status").textContent = s + (d.reason ? ` (${d.reason})` : d.code ? ` (${d.code})` : "") + (d.retryInMs ? `, retry in ${d.retryInMs} ms` : "");
    },
    onRejected: (reason) => {
      state.rejected.push(reason);
      log(`handshake refused: ${reason}`);
    },
    onWelcome: (w) => {
      state.welcomes.push(w);
      state.presence = new Map(w.presence.map((p) => [p.userId, p.role]));
      renderPresence();
      log(`welcome ${w.userId} in ${w.orgId} as ${w.role}`);
    },
    onPresence: (p) => {
      state.events.push(`${p.event} ${p.userId}`);
      if (p.event === "join") state.presence.set(p.userId, p.role);
      else state.presence.delete(p.userId);
      renderPresence();
      log(`${p.userId} ${p.event === "join" ? "joined" : "left"}`);
    },
    onMessage: (m) => {
      state.messages.push({ from: m.from, data: m.data, direct: !!m.direct });
      log(`${m.from}${m.direct ? " (direct)" : ""}: ${JSON.stringify(m.data)}`);
    },
    onEvent: (e) => log(`backend event: ${JSON.stringify(e.data)}`),
    onError: (e) => log(`error: ${e.code}`),
  });
}

window.demo = {
  state,
  connect: (params) => {
    window.demo.last = params;
    start(params);
  },
  broadcast: (data) => conn.broadcast(data),
  direct: (to, data) => conn.direct(to, data),
  disconnect: () => conn?.close(),
  /**
   * A role change at the identity provider, as an admin's demotion would be: the socket keeps
   * its role until the backend disconnects it with 4001; the fresh token then carries this one.
   */
  setRole: (role) => {
    sessionRole = role;
  },
  /** Drops the socket and makes the next attempt reuse the last token (refused: replayed). */
  reconnectWithUsedToken: () => {
    reuseOnce = true;
    const { user, org, role, router } = window.demo.last;
    start({ user, org, role, router });
  },
};

$("#connect").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  window.demo.last = Object.fromEntries(f);
  start(window.demo.last);
});
$("#disconnect").addEventListener("click", () => conn?.close());
$("#send").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = e.target.text.value.trim();
  if (!text || !conn) return;
  try {
    conn.broadcast(text);
    log(`me: ${JSON.stringify(text)}`);
    e.target.text.value = "";
  } catch (err) {
    log(String(err));
  }
});
