"use strict";
// The page never sees a token: the server sets them as HttpOnly cookies and
// the browser sends them. Every call is same-origin; the server refuses
// unsafe requests from other origins (403).
const $ = (id) => document.getElementById(id);
let exp = 0, timer = null, refreshing = false;

function log(text, cls) {
  const li = document.createElement("li");
  li.textContent = new Date().toLocaleTimeString() + "  " + text;
  if (cls) li.className = cls;
  $("log").prepend(li);
}

function describe(r) {
  if (r.data && typeof r.data === "object") return r.data.error_description || r.data.error || "";
  return "";
}

async function call(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (e) { data = text; } }
  return { status: resp.status, data };
}

// api calls a route that needs the session; on a 401 it refreshes once
// through the refresh cookie (POST /refreshToken with no body) and retries.
async function api(method, path, body, quiet) {
  const r = await call(method, path, body);
  if (r.status !== 401) return r;
  if (!quiet) log(`${method} ${path}: 401 (${describe(r)}): refreshing through the refresh cookie`, "warn");
  const f = await call("POST", "/refreshToken");
  if (f.status !== 200) {
    log(quiet ? "no session yet: register or log in" : `POST /refreshToken: ${f.status} (${describe(f)}): log in again`, quiet ? "" : "warn");
    signedOut();
    return r;
  }
  log(`POST /refreshToken: 200, a new pair in new cookies; the access token lives ${f.data.expiresIn} s`, "ok");
  const again = await call(method, path, body);
  log(`${method} ${path} again: ${again.status}`, again.status < 300 ? "ok" : "warn");
  return again;
}

async function loadMe(quiet) {
  const r = await api("GET", "/me", undefined, quiet);
  if (r.status !== 200) return false;
  signedIn(r.data);
  await loadDevices();
  return true;
}

function signedIn(data) {
  $("signin").hidden = true;
  $("me").hidden = false;
  $("devices").hidden = false;
  $("who").textContent = data.claims.id;
  $("views").textContent = data.views;
  $("claims").textContent = JSON.stringify(data.claims, null, 2);
  exp = data.claims.exp;
  tick();
}

function signedOut() {
  clearTimeout(timer);
  $("signin").hidden = false;
  $("me").hidden = true;
  $("devices").hidden = true;
  $("device-rows").replaceChildren();
}

// tick counts the access token down; a second after it expired (its cookie
// went with it) it calls /me, which refreshes.
async function tick() {
  clearTimeout(timer);
  const left = Math.round(exp - Date.now() / 1000);
  if (left > -1) {
    $("expiry").textContent = left > 0 ? `expires in ${left} s, and its cookie with it` : "expired";
    timer = setTimeout(tick, 1000);
    return;
  }
  if (refreshing) return;
  refreshing = true;
  $("expiry").textContent = "expired: the next call refreshes it through the refresh cookie";
  log("the access token expired; calling /me", "warn");
  try { await loadMe(false); } finally { refreshing = false; }
}

function when(t) { return t ? new Date(t).toLocaleString() : "-"; }

async function loadDevices() {
  const r = await api("GET", "/sessions");
  if (r.status !== 200) return;
  const rows = r.data.sessions.map((s) => {
    const tr = document.createElement("tr");
    const device = s.meta ? `${s.meta.userAgent || "?"} from ${s.meta.ip || "?"}` : "-";
    for (const text of [s.session + (s.current ? " (this one)" : ""), device, when(s.createdAt), when(s.lastSeen), when(s.expiresAt)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.textContent = "end this session";
    b.className = "danger";
    b.dataset.session = s.session;
    b.onclick = () => endSession(s.session, s.current);
    td.append(b);
    tr.append(td);
    return tr;
  });
  $("device-rows").replaceChildren(...rows);
}

async function endSession(session, current) {
  const r = await api("POST", "/revokeSession", { session });
  log(`POST /revokeSession ${session}: ${r.status}`, r.status === 204 ? "ok" : "warn");
  if (current) { signedOut(); return; }
  await loadDevices();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const path = ev.submitter ? ev.submitter.dataset.path : "/authorize";
  const r = await call("POST", path, { account: $("account").value, password: $("password").value });
  if (r.status !== 200) { log(`POST ${path}: ${r.status} (${describe(r)})`, "warn"); return; }
  $("password").value = "";
  log(`POST ${path}: 200; the pair is in HttpOnly cookies; the access token lives ${r.data.expiresIn} s`, "ok");
  await loadMe(false);
});

$("reload").onclick = () => loadMe(false);

$("logout").onclick = async () => {
  const r = await api("POST", "/logout");
  log(`POST /logout: ${r.status}; this session ended and its cookies are cleared`, r.status === 204 ? "ok" : "warn");
  signedOut();
};

$("logout-all").onclick = async () => {
  const r = await api("POST", "/logoutAll");
  log(`POST /logoutAll: ${r.status}; ${r.data && r.data.revoked} sessions ended`, r.status === 200 ? "ok" : "warn");
  signedOut();
};

loadMe(true);
