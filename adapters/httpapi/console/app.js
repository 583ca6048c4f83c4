// tenantry console: plain JavaScript over the public HTTP API, no dependencies.
// Tokens live in this tab only (memory, mirrored to sessionStorage so a reload keeps
// the session); every DOM update uses text nodes, never markup strings.

const $ = (sel, root = document) => root.querySelector(sel);

// el builds an element: attributes (on* keys become listeners) and children
// (strings become text nodes; null and false are skipped).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function announce(text) {
  const a = $("#announce");
  a.textContent = "";
  setTimeout(() => { a.textContent = text; }, 50);
}

// ---------------------------------------------------------------- API client

const STORE_KEY = "tenantry.console.tokens";
const auth = { access: "", refresh: "" };

function loadTokens() {
  try {
    const t = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
    auth.access = t.access || "";
    auth.refresh = t.refresh || "";
  } catch { /* a damaged entry is a logged-out tab */ }
}

function setTokens(body) {
  auth.access = body.access_token || "";
  if (body.refresh_token) auth.refresh = body.refresh_token;
  try { sessionStorage.setItem(STORE_KEY, JSON.stringify(auth)); } catch { /* storage off: memory only */ }
}

function clearTokens() {
  auth.access = auth.refresh = "";
  try { sessionStorage.removeItem(STORE_KEY); } catch { /* nothing stored */ }
}

class APIError extends Error {
  constructor(message, status, fields = [], requestID = "") {
    super(message);
    this.status = status;
    this.fields = fields;
    this.requestID = requestID;
  }
}

// problemError reads an RFC 9457 problem (or an OAuth error) into an APIError whose
// message is the server's detail.
async function problemError(res) {
  let message = `${res.status} ${res.statusText || "error"}`;
  let fields = [];
  try {
    const p = await res.json();
    message = p.detail || p.error_description || p.title || p.error || message;
    if (Array.isArray(p.errors)) fields = p.errors.map((e) => `${e.field}: ${e.message}`);
  } catch { /* not JSON: keep the status line */ }
  return new APIError(message, res.status, fields, res.headers.get("X-Request-ID") || "");
}

let refreshing = null;

// refreshTokens trades the refresh token for new tokens once, however many requests
// are waiting for it.
function refreshTokens() {
  if (!auth.refresh) return Promise.resolve(false);
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await fetch("/auth/token", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: auth.refresh }),
          cache: "no-store",
        });
        if (!res.ok) return false;
        setTokens(await res.json());
        return true;
      } catch {
        return false;
      } finally {
        setTimeout(() => { refreshing = null; }, 0);
      }
    })();
  }
  return refreshing;
}

// api sends one request with the access token; a 401 refreshes the tokens and retries
// once, and a session that cannot be refreshed returns to the login form. opts.json is
// sent as JSON (opts.type overrides the media type), opts.body as is.
async function api(path, opts = {}, retried = false) {
  const headers = new Headers(opts.headers || {});
  if (auth.access) headers.set("Authorization", `Bearer ${auth.access}`);
  let body = opts.body;
  if (opts.json !== undefined) {
    headers.set("Content-Type", opts.type || "application/json");
    body = JSON.stringify(opts.json);
  }
  const res = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal, cache: "no-store" });
  if (res.status === 401) {
    if (!retried && (await refreshTokens())) return api(path, opts, true);
    const err = await problemError(res);
    sessionEnded("Your session has ended. Please log in again.");
    throw err;
  }
  if (!res.ok) throw await problemError(res);
  return res;
}

async function apiJSON(path, opts) {
  const res = await api(path, opts);
  return res.status === 204 ? null : res.json();
}

// showError fills a form's or view's error box with the detail and any field errors.
function showError(box, err) {
  if (!box) return;
  box.replaceChildren(err.message || String(err));
  if (err.fields && err.fields.length) box.append(el("ul", {}, err.fields.map((f) => el("li", {}, f))));
  box.hidden = false;
}

function clearError(box) {
  if (box) { box.hidden = true; box.replaceChildren(); }
}

// ---------------------------------------------------------------- session and views

const state = { me: null, view: "" };

const roleNames = { member: "Member", tenant_admin: "Tenant admin", platform_admin: "Platform admin" };

const can = {
  chat: (me) => Boolean(me.tenant),
  documents: (me) => Boolean(me.tenant) && (me.role === "tenant_admin" || me.role === "platform_admin"),
  users: (me) => Boolean(me.tenant) && (me.role === "tenant_admin" || me.role === "platform_admin"),
  tenants: (me) => me.role === "platform_admin",
};

const loaders = {};

function homeView(me) {
  if (can.chat(me)) return "chat";
  if (can.tenants(me)) return "tenants";
  return "chat";
}

function showView(name, focus = true) {
  for (const s of document.querySelectorAll("main > section.view")) s.hidden = s.id !== `view-${name}`;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
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
  let name = location.hash.slice(1) || homeView(state.me);
  if (!(name in can)) name = homeView(state.me);
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
  $("#no-tenant").hidden = Boolean(me.tenant);
  $(".chat-layout").hidden = !me.tenant;
  $("#users-tenant").textContent = me.tenant ? me.tenant.name : "";
}

async function startSession(focus) {
  state.me = await apiJSON("/users/me");
  renderIdentity(state.me);
  route(focus);
}

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

// ---------------------------------------------------------------- chat

const chat = { conversation: "", controller: null };

// sseParser splits a text/event-stream into events as the bytes arrive, per the HTML
// standard: CRLF, LF or CR end a line, a blank line ends an event, ":" lines are
// comments, one space after the field's colon is dropped.
function sseParser(onEvent) {
  let buf = "";
  let event = "";
  let data = [];
  const line = (l) => {
    if (l === "") {
      if (data.length) onEvent(event || "message", data.join("\n"));
      event = "";
      data = [];
      return;
    }
    if (l.startsWith(":")) return;
    const i = l.indexOf(":");
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? "" : l.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  };
  return (chunk) => {
    buf += chunk;
    const re = /\r\n|\r|\n/g;
    let start = 0;
    let m;
    while ((m = re.exec(buf)) !== null) {
      if (m[0] === "\r" && m.index === buf.length - 1) break; // maybe half of a CRLF
      line(buf.slice(start, m.index));
      start = re.lastIndex;
    }
    buf = buf.slice(start);
  };
}

function resetChat() {
  if (chat.controller) chat.controller.abort();
  chat.conversation = "";
  $("#messages").replaceChildren();
  $("#chat-empty").hidden = false;
  markCurrentConversation();
}

function scrollMessages() {
  const list = $("#messages");
  list.scrollTop = list.scrollHeight;
}

let passageSeq = 0;

// renderSources lists a reply's sources as buttons; each opens its passage below the
// row of buttons.
function renderSources(msg, sources) {
  const old = $(".sources", msg);
  if (old) old.remove();
  if (!sources || !sources.length) return;
  const passages = el("div", { class: "passages" });
  const items = sources.map((s, i) => {
    const id = `passage-${++passageSeq}`;
    const passage = el("blockquote", { class: "passage", id, hidden: true },
      el("span", { class: "meta" }, `[${i + 1}] ${s.title} · passage ${s.chunk + 1} · relevance ${Number(s.score).toFixed(2)}`),
      s.text);
    passages.append(passage);
    const button = el("button", {
      type: "button", class: "source-btn", "aria-expanded": "false", "aria-controls": id, "data-source": i + 1,
      onclick: () => toggleSource(button, passage),
    }, `[${i + 1}] ${s.title}`);
    return el("li", {}, button);
  });
  msg.append(el("div", { class: "sources" }, el("h3", {}, "Sources"), el("ol", {}, items), passages));
}

function toggleSource(button, passage) {
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  passage.hidden = !open;
}

// appendCited appends text, turning its [n] citation markers into buttons that open
// source n.
function appendCited(target, msg, text) {
  for (const part of text.split(/(\[\d+\])/)) {
    const m = /^\[(\d+)\]$/.exec(part);
    const button = m && $(`.source-btn[data-source="${m[1]}"]`, msg);
    if (!button) { if (part) target.append(part); continue; }
    target.append(el("button", {
      type: "button", class: "cite", "aria-label": `Show source ${m[1]}`,
      onclick: () => {
        if (button.getAttribute("aria-expanded") !== "true") button.click();
        button.focus();
      },
    }, part));
  }
}

// renderAnswerText shows a finished answer: "> " lines as quotations, [n] markers as
// links to their sources.
function renderAnswerText(msg, text) {
  const target = $(".text", msg);
  target.replaceChildren();
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line.startsWith("> ")) {
      const quote = el("span", { class: "quote" });
      appendCited(quote, msg, line.slice(2));
      target.append(quote);
      return;
    }
    appendCited(target, msg, line);
    if (i < lines.length - 1 && !(lines[i + 1] || "").startsWith("> ")) target.append("\n");
  });
}

function addMessage(role, text) {
  $("#chat-empty").hidden = true;
  const msg = el("li", { class: `msg ${role}` },
    el("p", { class: "who" }, role === "user" ? "You" : "Assistant"),
    el("p", { class: "text" }, text));
  $("#messages").append(msg);
  scrollMessages();
  return msg;
}

function renderMessages(messages) {
  $("#messages").replaceChildren();
  $("#chat-empty").hidden = messages.length > 0;
  for (const m of messages) {
    const msg = addMessage(m.role === "user" ? "user" : "assistant", m.content);
    if (m.role !== "user") {
      msg.dataset.state = m.incomplete ? "incomplete" : "done";
      renderSources(msg, m.sources);
      renderAnswerText(msg, m.content);
      if (m.incomplete) msg.append(el("p", { class: "note" }, "This answer was interrupted."));
    }
  }
}

function setStreaming(on) {
  $("#chat-send").disabled = on;
  $("#chat-stop").hidden = !on;
  $("#chat-input").readOnly = on;
}

async function sendMessage(text) {
  const form = $("#chat-form");
  clearError($(".error", form));
  addMessage("user", text);
  const msg = addMessage("assistant", "");
  msg.dataset.state = "streaming";
  msg.setAttribute("aria-busy", "true");
  const textNode = $(".text", msg);
  let answer = "";
  let sources = [];
  let finished = false;
  chat.controller = new AbortController();
  setStreaming(true);
  const fail = (message) => {
    msg.dataset.state = "error";
    msg.append(el("p", { class: "error" }, message));
  };
  try {
    const body = { message: text };
    if (chat.conversation) body.conversation_id = chat.conversation;
    const res = await api("/chat/stream", { method: "POST", json: body, signal: chat.controller.signal, headers: { Accept: "text/event-stream" } });
    const push = sseParser((event, data) => {
      let v;
      try { v = JSON.parse(data); } catch { return; }
      if (event === "sources") {
        sources = v.sources || [];
        renderSources(msg, sources);
      } else if (event === "token") {
        answer += v.delta || "";
        textNode.textContent = answer;
        scrollMessages();
      } else if (event === "done") {
        finished = true;
        chat.conversation = v.conversation_id || chat.conversation;
      } else if (event === "error") {
        finished = true;
        fail(v.detail || v.title || "The answer failed.");
      }
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      push(value);
    }
    if (!finished) fail("The connection closed before the answer was complete.");
  } catch (err) {
    if (err.name === "AbortError") msg.append(el("p", { class: "note" }, "Stopped."));
    else if (answer === "" && msg.dataset.state === "streaming" && !(err instanceof APIError && err.status === 401)) {
      msg.remove();
      showError($(".error", form), err);
    } else if (!(err instanceof APIError && err.status === 401)) fail(err.message);
  } finally {
    chat.controller = null;
    setStreaming(false);
    if (msg.isConnected) {
      if (msg.dataset.state === "streaming") msg.dataset.state = "done";
      msg.setAttribute("aria-busy", "false");
      if (answer) renderAnswerText(msg, answer);
      announce(msg.dataset.state === "done" ? `Answer complete${sources.length ? `, ${sources.length} sources` : ""}.` : "The answer did not complete.");
    }
    scrollMessages();
    if (state.me) loadConversations();
  }
}

$("#chat-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!text || chat.controller) return;
  input.value = "";
  sendMessage(text).finally(() => input.focus());
});

$("#chat-input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("#chat-form").requestSubmit();
  }
});

$("#chat-stop").addEventListener("click", () => { if (chat.controller) chat.controller.abort(); });

function markCurrentConversation() {
  for (const b of document.querySelectorAll("#conv-list button")) {
    if (b.dataset.id === chat.conversation) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
}

async function loadConversations() {
  const box = $("#conv-panel .error");
  try {
    const list = await apiJSON("/conversations?limit=50");
    clearError(box);
    $("#conv-list").replaceChildren(...list.items.map((c) => el("li", {},
      el("button", { type: "button", "data-id": c.id, title: c.title, onclick: () => openConversation(c.id) }, c.title || "Untitled"))));
    if (!list.items.length) $("#conv-list").append(el("li", { class: "empty" }, "None yet."));
    markCurrentConversation();
  } catch (err) {
    showError(box, err);
  }
}

async function openConversation(id) {
  if (chat.controller) return;
  try {
    const conv = await apiJSON(`/conversations/${encodeURIComponent(id)}`);
    chat.conversation = conv.id;
    renderMessages(conv.messages);
    markCurrentConversation();
    closeConversationPanel();
    announce(`Opened conversation ${conv.title}`);
    $("#chat-input").focus();
  } catch (err) {
    showError($("#conv-panel .error"), err);
  }
}

function closeConversationPanel() {
  $("#conv-panel").classList.remove("open");
  $("#conv-toggle").setAttribute("aria-expanded", "false");
}

$("#conv-new").addEventListener("click", () => {
  resetChat();
  closeConversationPanel();
  $("#chat-input").focus();
});

$("#conv-toggle").addEventListener("click", () => {
  const open = !$("#conv-panel").classList.contains("open");
  $("#conv-panel").classList.toggle("open", open);
  $("#conv-toggle").setAttribute("aria-expanded", String(open));
});

loaders.chat = () => { if (state.me && state.me.tenant) loadConversations(); };

// ---------------------------------------------------------------- paged tables

// pagedTable loads a list endpoint 50 items at a time into a tbody, with a "Show more"
// button while more may exist.
function pagedTable({ path, rows, more, error, empty, row }) {
  const limit = 50;
  let offset = 0;
  async function load(reset) {
    if (reset) offset = 0;
    try {
      const sep = path.includes("?") ? "&" : "?";
      const list = await apiJSON(`${path}${sep}limit=${limit}&offset=${offset}`);
      clearError(error);
      const trs = list.items.map(row);
      if (reset) rows.replaceChildren(...trs);
      else rows.append(...trs);
      offset += list.items.length;
      more.hidden = list.items.length < limit;
      if (empty) empty.hidden = offset > 0;
    } catch (err) {
      showError(error, err);
    }
  }
  more.addEventListener("click", () => load(false));
  return load;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function formatDate(s) {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// submitForm runs action on submit with the button disabled and errors shown in the
// form's error box.
function submitForm(form, action) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = $(".error", form);
    const button = $("button[type=submit]", form);
    clearError(box);
    button.disabled = true;
    try {
      await action(new FormData(form));
      form.reset();
    } catch (err) {
      showError(box, err);
    } finally {
      button.disabled = false;
    }
  });
}

// ---------------------------------------------------------------- documents

const loadDocuments = pagedTable({
  path: "/documents", rows: $("#doc-rows"), more: $("#doc-more"), error: $("#doc-error"), empty: $("#doc-empty"),
  row: (d) => el("tr", {},
    el("td", {}, d.title),
    el("td", { class: "num" }, d.chunks),
    el("td", { class: "num" }, formatBytes(d.bytes)),
    el("td", {}, formatDate(d.created_at)),
    el("td", { class: "actions" }, el("button", {
      type: "button", class: "danger small", "aria-label": `Delete ${d.title}`,
      onclick: async (ev) => {
        if (!confirm(`Delete “${d.title}”? Its passages stop being used in answers.`)) return;
        const button = ev.currentTarget;
        button.disabled = true;
        try {
          await api(`/documents/${encodeURIComponent(d.id)}`, { method: "DELETE" });
          announce(`Deleted ${d.title}`);
          await loadDocuments(true);
          $("#documents-title").focus();
        } catch (err) {
          showError($("#doc-error"), err);
          button.disabled = false;
        }
      },
    }, "Delete"))),
});
loaders.documents = () => loadDocuments(true);

submitForm($("#upload-form"), async (fd) => {
  if (!fd.get("title")) fd.delete("title");
  const doc = await apiJSON("/documents", { method: "POST", body: fd });
  announce(`Added ${doc.title}, ${doc.chunks} passages`);
  await loadDocuments(true);
});

submitForm($("#paste-form"), async (fd) => {
  const doc = await apiJSON("/documents", { method: "POST", json: { title: fd.get("title"), text: fd.get("text") } });
  announce(`Added ${doc.title}, ${doc.chunks} passages`);
  await loadDocuments(true);
});

// ---------------------------------------------------------------- users

function roleSelect(u) {
  const id = `role-${u.id}`;
  const select = el("select", { id, "aria-label": `Role of ${u.email}` },
    ["member", "tenant_admin"].map((r) => el("option", { value: r, selected: r === u.role }, roleNames[r])));
  const save = el("button", {
    type: "button", class: "secondary small", disabled: true,
    onclick: () => patchUser(u, { role: select.value }, `${u.email} is now ${roleNames[select.value]}`),
  }, "Save role");
  select.addEventListener("change", () => { save.disabled = select.value === u.role; });
  return el("div", { class: "inline" }, select, save);
}

async function patchUser(u, patch, done) {
  try {
    await api(`/tenant/users/${encodeURIComponent(u.id)}`, { method: "PATCH", json: patch, type: "application/merge-patch+json" });
    announce(done);
    await loadUsers(true);
  } catch (err) {
    showError($("#user-error"), err);
  }
}

const loadUsers = pagedTable({
  path: "/tenant/users", rows: $("#user-rows"), more: $("#user-more"), error: $("#user-error"),
  row: (u) => {
    const self = state.me && u.id === state.me.id;
    return el("tr", {},
      el("td", {}, u.email, self ? " (you)" : ""),
      el("td", {}, u.role === "platform_admin" || self ? roleNames[u.role] || u.role : roleSelect(u)),
      el("td", { class: u.disabled ? "status-disabled" : "status-active" }, u.disabled ? "Disabled" : "Active"),
      el("td", { class: "actions" }, self ? "" : el("button", {
        type: "button", class: u.disabled ? "secondary small" : "danger small",
        "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.email}`,
        onclick: () => patchUser(u, { disabled: !u.disabled }, `${u.email} ${u.disabled ? "enabled" : "disabled"}`),
      }, u.disabled ? "Enable" : "Disable")));
  },
});
loaders.users = () => loadUsers(true);

submitForm($("#user-form"), async (fd) => {
  const u = await apiJSON("/tenant/users", {
    method: "POST", json: { email: fd.get("email"), password: fd.get("password"), role: fd.get("role") },
  });
  announce(`Added ${u.email}`);
  await loadUsers(true);
});

// ---------------------------------------------------------------- tenants

const loadTenants = pagedTable({
  path: "/admin/tenants", rows: $("#tenant-rows"), more: $("#tenant-more"), error: $("#tenant-error"),
  row: (t) => {
    const suspended = t.status === "suspended";
    const next = suspended ? "active" : "suspended";
    return el("tr", {},
      el("td", {}, el("code", {}, t.id)),
      el("td", {}, t.name),
      el("td", { class: `status-${t.status}` }, suspended ? "Suspended" : "Active"),
      el("td", {}, formatDate(t.created_at)),
      el("td", { class: "actions" }, el("button", {
        type: "button", class: suspended ? "secondary small" : "danger small",
        "aria-label": `${suspended ? "Activate" : "Suspend"} ${t.name}`,
        onclick: async () => {
          try {
            await api(`/admin/tenants/${encodeURIComponent(t.id)}`, { method: "PATCH", json: { status: next }, type: "application/merge-patch+json" });
            announce(`${t.name} ${suspended ? "activated" : "suspended"}`);
            await loadTenants(true);
          } catch (err) {
            showError($("#tenant-error"), err);
          }
        },
      }, suspended ? "Activate" : "Suspend")));
  },
});
loaders.tenants = () => loadTenants(true);

submitForm($("#tenant-form"), async (fd) => {
  const t = await apiJSON("/admin/tenants", { method: "POST", json: { id: fd.get("id"), name: fd.get("name") } });
  announce(`Created tenant ${t.name}`);
  await loadTenants(true);
});

// ---------------------------------------------------------------- start

loadTokens();
if (auth.access || auth.refresh) {
  startSession(false).catch((err) => {
    if (!(err instanceof APIError && err.status === 401)) sessionEnded(err.message);
  });
} else {
  showView("login", false);
}
