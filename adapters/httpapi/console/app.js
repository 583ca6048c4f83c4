// tenantry console: plain JavaScript over the public HTTP API, no dependencies.
// Tokens live in this tab only (memory, mirrored to sessionStorage so a reload keeps
// the session); every DOM update uses text nodes, never markup strings.

import {
  $, el, announce, auth, loadTokens, setTokens, clearTokens, APIError, problemError, api, apiJSON,
  showError, clearError, pagedTable, formatBytes, formatDate, submitForm, session, upload,
} from "./core.js";
import { renderMarkdown } from "./markdown.js";
import { setupAdmin } from "./admin.js";

// ---------------------------------------------------------------- session and views

const state = { me: null, view: "", arg: "" };

const roleNames = { member: "Member", tenant_admin: "Tenant admin", platform_admin: "Platform admin" };

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

const loaders = {};

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

// linkCitations turns the [n] markers in root's text (outside code and links) into
// buttons that open source n of msg.
function linkCitations(root, msg) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement.closest("code, pre, a") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const node of texts) {
    const parts = node.data.split(/(\[\d+\])/);
    if (parts.length === 1) continue;
    node.replaceWith(...parts.filter(Boolean).map((part) => {
      const m = /^\[(\d+)\]$/.exec(part);
      const button = m && $(`.source-btn[data-source="${m[1]}"]`, msg);
      if (!button) return part;
      return el("button", {
        type: "button", class: "cite", "aria-label": `Show source ${m[1]}`,
        onclick: () => {
          if (button.getAttribute("aria-expanded") !== "true") button.click();
          button.focus();
        },
      }, part);
    }));
  }
}

// renderAnswerText shows a finished answer as sanitised Markdown, its [n] markers as
// links to their sources.
function renderAnswerText(msg, text) {
  const target = $(".text", msg);
  renderMarkdown(target, text);
  target.classList.add("md");
  linkCitations(target, msg);
}

function addMessage(role, text) {
  $("#chat-empty").hidden = true;
  const msg = el("li", { class: `msg ${role}` },
    el("p", { class: "who" }, role === "user" ? "You" : "Assistant"),
    el("div", { class: "text" }, text));
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
  for (const b of document.querySelectorAll("#conv-list button[data-id]")) {
    if (b.dataset.id === chat.conversation) b.setAttribute("aria-current", "true");
    else b.removeAttribute("aria-current");
  }
}

async function loadConversations() {
  const box = $("#conv-panel .error");
  try {
    const list = await apiJSON("/conversations?limit=50");
    clearError(box);
    $("#conv-list").replaceChildren(...list.items.map(conversationItem));
    if (!list.items.length) $("#conv-list").append(el("li", { class: "empty" }, "None yet."));
    markCurrentConversation();
  } catch (err) {
    showError(box, err);
  }
}

// conversationItem is one entry of the list: open it, rename it in place, delete it.
function conversationItem(c) {
  const title = c.title || "Untitled";
  const li = el("li", { class: "conv-item" });
  const show = () => li.replaceChildren(
    el("button", { type: "button", class: "conv-open", "data-id": c.id, title, onclick: () => openConversation(c.id) }, title),
    el("span", { class: "conv-tools" },
      el("button", { type: "button", class: "icon", "aria-label": `Rename ${title}`, title: "Rename", onclick: rename }, "✎"),
      el("button", { type: "button", class: "icon danger-icon", "aria-label": `Delete ${title}`, title: "Delete", onclick: remove }, "×")));
  function rename() {
    const input = el("input", { type: "text", value: title, maxlength: 200, required: true, "aria-label": "New title" });
    const form = el("form", { class: "conv-rename", method: "post" }, input,
      el("button", { type: "submit", class: "small" }, "Save"),
      el("button", { type: "button", class: "secondary small", onclick: () => { show(); markCurrentConversation(); } }, "Cancel"));
    input.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { show(); markCurrentConversation(); } });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const renamed = await apiJSON(`/conversations/${encodeURIComponent(c.id)}`, {
          method: "PATCH", json: { title: input.value }, type: "application/merge-patch+json",
        });
        announce(`Renamed to ${renamed.title}`);
        await loadConversations();
      } catch (err) {
        showError($("#conv-panel .error"), err);
      }
    });
    li.replaceChildren(form);
    input.select();
  }
  async function remove() {
    if (!confirm(`Delete the conversation “${title}”? Its messages are removed for good.`)) return;
    try {
      await api(`/conversations/${encodeURIComponent(c.id)}`, { method: "DELETE" });
      if (chat.conversation === c.id) resetChat();
      announce(`Deleted ${title}`);
      await loadConversations();
      $("#conv-new").focus();
    } catch (err) {
      showError($("#conv-panel .error"), err);
    }
  }
  show();
  return li;
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
loaders.documents = () => { loaders.reindex(); return loadDocuments(true); };

submitForm($("#upload-form"), async (fd) => {
  if (!fd.get("title")) fd.delete("title");
  const bar = $("#upload-progress");
  bar.value = 0;
  bar.hidden = false;
  try {
    const doc = await upload("/documents", fd, (f) => { bar.value = Math.round(f * 100); });
    announce(`Added ${doc.title}, ${doc.chunks} passages`);
  } finally {
    bar.hidden = true;
  }
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
      el("td", { class: "actions" }, el("a", { class: "button-link small", href: `#tenant/${encodeURIComponent(t.id)}`, "aria-label": `Configure ${t.name}` }, "Configure"), el("button", {
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

// ---------------------------------------------------------------- account

const passwordForm = $("#password-form");
passwordForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const box = $(".error", passwordForm);
  const done = $("#password-done");
  const button = $("button[type=submit]", passwordForm);
  clearError(box);
  done.hidden = true;
  const fd = new FormData(passwordForm);
  if (fd.get("new_password") !== fd.get("repeat")) {
    showError(box, new Error("The new password and its repetition differ."));
    $("#pw-repeat").focus();
    return;
  }
  button.disabled = true;
  try {
    // Every refresh token of the user is revoked; this tab continues with the new
    // tokens the answer carries.
    const tokens = await apiJSON("/users/me/password", {
      method: "POST", json: { current_password: fd.get("current_password"), new_password: fd.get("new_password") },
    });
    if (tokens && tokens.access_token) setTokens(tokens);
    passwordForm.reset();
    done.hidden = false;
    announce("Password changed. Your other sessions were signed out.");
  } catch (err) {
    showError(box, err);
  } finally {
    button.disabled = false;
  }
});
loaders.account = () => { $("#password-form input[name=username]").value = state.me ? state.me.email : ""; };

setupAdmin(loaders, state);

// ---------------------------------------------------------------- start

loadTokens();
if (auth.access || auth.refresh) {
  startSession(false).catch((err) => {
    if (!(err instanceof APIError && err.status === 401)) sessionEnded(err.message);
  });
} else {
  showView("login", false);
}
