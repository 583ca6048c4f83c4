// tenantry console: plain JavaScript modules over the public HTTP API. The only
// dependencies are the vendored Markdown renderer and sanitiser (markdown.js). Tokens
// live in this tab only (memory, mirrored to sessionStorage so a reload keeps the
// session); DOM updates use text nodes and elements, never markup strings. This module
// holds the session, the routing between views and the navigation by role.

import {
  $, announce, auth, loadTokens, setTokens, clearTokens, APIError, problemError, apiJSON, showError, clearError,
  session, state, loaders, roleNames,
} from "./core.js";
import { resetChat } from "./chat.js";
import "./workspace.js";
import "./platform.js";

// ---------------------------------------------------------------- session and views



const tenantAdmin = (me) => Boolean(me.tenant) && (me.role === "tenant_admin" || me.role === "platform_admin");
const platformAdmin = (me) => me.role === "platform_admin";

// can says which views a user may open; the navigation shows only those.
const can = {
  chat: (me) => Boolean(me.tenant),
  documents: tenantAdmin,
  users: tenantAdmin,
  apikeys: tenantAdmin,
  settings: tenantAdmin,
  usage: tenantAdmin,
  audit: tenantAdmin,
  tenants: platformAdmin,
  tenant: platformAdmin,
  allusers: platformAdmin,
  platformusage: platformAdmin,
  platformaudit: platformAdmin,
  account: () => true,
};


function homeView(me) {
  if (can.chat(me)) return "chat";
  if (can.tenants(me)) return "tenants";
  return "chat";
}

function showView(name, focus = true) {
  for (const s of document.querySelectorAll("main > section.view")) s.hidden = s.id !== `view-${name}`;
  const navName = name === "tenant" ? "tenants" : name;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === navName) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  state.view = name;
  const title = $(`#view-${name} h1`);
  document.title = `${title ? title.textContent : "tenantry"} · tenantry console`;
  if (focus && title) title.focus();
  if (loaders[name]) loaders[name]();
}

function route(focus = true) {
  if (!state.me) { showView("login", focus); return; }
  // #tenant/{id} opens one tenant's configuration.
  const [view, ...rest] = location.hash.slice(1).split("/");
  let name = view || homeView(state.me);
  state.arg = decodeURIComponent(rest.join("/"));
  if (!(name in can) || (name === "tenant" && !state.arg)) name = homeView(state.me);
  if (!can[name](state.me) && name !== "chat") name = "forbidden";
  showView(name, focus);
}

function renderIdentity(me) {
  $("#who-email").textContent = me.email;
  $("#who-role").textContent = roleNames[me.role] || me.role;
  $("#who-tenant").textContent = me.tenant ? `${me.tenant.name} (${me.tenant.id})` : "no tenant";
  $("#whoami").hidden = false;
  $("#nav").hidden = false;
  for (const a of document.querySelectorAll("#nav a")) a.parentElement.hidden = !can[a.dataset.view](me);
  for (const group of document.querySelectorAll("#nav ul")) {
    const empty = [...group.children].every((li) => li.hidden);
    group.hidden = empty;
    group.previousElementSibling.hidden = empty;
  }
  $("#no-tenant").hidden = Boolean(me.tenant);
  $(".chat-layout").hidden = !me.tenant;
  $("#users-tenant").textContent = me.tenant ? me.tenant.name : "";
}

async function startSession(focus) {
  state.me = await apiJSON("/users/me");
  renderIdentity(state.me);
  route(focus);
}

session.ended = sessionEnded;

function sessionEnded(message) {
  clearTokens();
  state.me = null;
  resetChat();
  $("#whoami").hidden = true;
  $("#nav").hidden = true;
  showView("login");
  if (message) showError($("#login-form .error"), new Error(message));
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget;
  const box = $(".error", form);
  clearError(box);
  const button = $("button", form);
  button.disabled = true;
  try {
    const res = await fetch("/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)),
      cache: "no-store",
    });
    if (!res.ok) throw await problemError(res);
    setTokens(await res.json());
    form.reset();
    history.replaceState(null, "", location.pathname); // a new session starts at its home view
    await startSession(true);
    announce(`Logged in as ${state.me.email}`);
  } catch (err) {
    showError(box, err);
    $("#login-password").focus();
  } finally {
    button.disabled = false;
  }
});

$("#logout").addEventListener("click", async () => {
  const token = auth.refresh;
  if (token) {
    // Revoking ends the refresh token's whole family on the server; a failure still
    // logs out here (the access token expires on its own).
    await fetch("/auth/revoke", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token }),
      cache: "no-store",
    }).then((res) => res.arrayBuffer()).catch(() => {});
  }
  sessionEnded("");
  announce("Logged out");
});

window.addEventListener("hashchange", () => route(true));

// ---------------------------------------------------------------- start

loadTokens();
if (auth.access || auth.refresh) {
  startSession(false).catch((err) => {
    if (!(err instanceof APIError && err.status === 401)) sessionEnded(err.message);
  });
} else {
  showView("login", false);
}
