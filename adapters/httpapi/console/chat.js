// The chat: streamed answers with their sources, rendered as sanitised Markdown as they
// grow (at most once per animation frame) and once more when complete, and the caller's
// conversations, which can be opened, renamed and deleted.
import { $, el, announce, APIError, api, apiJSON, showError, clearError, state, loaders } from "./core.js";
import { renderMarkdown } from "./markdown.js";

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

export function resetChat() {
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

// renderAnswerText shows an answer, finished or still growing, as sanitised Markdown,
// its [n] markers as links to their sources.
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
  let answer = "";
  let sources = [];
  let finished = false;
  // The growing answer is rendered whole, as Markdown, once per frame at most: half a
  // list or an unclosed ** shows as text until the rest arrives.
  let frame = 0;
  const paint = () => {
    frame = 0;
    renderAnswerText(msg, answer);
    scrollMessages();
  };
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
        if (!frame) frame = requestAnimationFrame(paint);
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
    cancelAnimationFrame(frame);
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

