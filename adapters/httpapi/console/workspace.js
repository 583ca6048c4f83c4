// A tenant admin's pages: documents (upload progress, re-index status), users, API
// keys, the assistant's system prompt, usage and the audit log; and everyone's account.
import {
  $, el, announce, api, apiJSON, showError, clearError, pagedTable, formatBytes, formatDate, submitForm, upload,
  setTokens, state, loaders, roleNames,
} from "./core.js";
import { auditRow, keyState, mergePatch, number } from "./tables.js";

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

// ---------------------------------------------------------------- API keys

function setupAPIKeys(loaders) {
  const loadKeys = pagedTable({
    path: "/tenant/api-keys", rows: $("#apikey-rows"), more: $("#apikey-more"), error: $("#apikey-error"), empty: $("#apikey-empty"),
    row: (k) => el("tr", {},
      el("td", {}, k.name),
      el("td", {}, el("code", {}, `${k.prefix}…`)),
      el("td", { class: "nowrap" }, formatDate(k.created_at)),
      el("td", { class: "nowrap" }, k.last_used_at ? formatDate(k.last_used_at) : "Never"),
      el("td", { class: "nowrap" }, k.expires_at ? formatDate(k.expires_at) : "Never"),
      el("td", { class: k.revoked_at ? "status-disabled" : "status-active" }, k.revoked_at ? "Revoked" : "Active"),
      el("td", { class: "actions" }, k.revoked_at ? "" : el("button", {
        type: "button", class: "danger small", "aria-label": `Revoke ${k.name}`,
        onclick: async () => {
          if (!confirm(`Revoke “${k.name}”? Tools using it stop working at once.`)) return;
          try {
            await api(`/tenant/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE" });
            announce(`Revoked ${k.name}`);
            await loadKeys(true);
          } catch (err) {
            showError($("#apikey-error"), err);
          }
        },
      }, "Revoke"))),
  });
  loaders.apikeys = () => { $("#apikey-created").hidden = true; return loadKeys(true); };
  submitForm($("#apikey-form"), async (fd) => {
    const body = { name: fd.get("name") };
    if (fd.get("expires")) body.expires_at = `${fd.get("expires")}T23:59:59Z`;
    const k = await apiJSON("/tenant/api-keys", { method: "POST", json: body });
    $("#apikey-secret").textContent = k.key;
    $("#apikey-created").hidden = false;
    announce(`Created key ${k.name}. Copy it now: it is shown once.`);
    await loadKeys(true);
  });
  $("#apikey-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("#apikey-secret").textContent);
      announce("Key copied");
    } catch {
      announce("Copying is blocked here; select the key and copy it yourself.");
    }
  });
}

// ---------------------------------------------------------------- assistant settings

function describeLimits(l) {
  return [
    l.requests_per_minute ? `${number(l.requests_per_minute)} requests a minute` : "no request limit",
    l.max_concurrent_streams ? `${number(l.max_concurrent_streams)} concurrent answers` : "no stream limit",
    l.monthly_token_quota ? `${number(l.monthly_token_quota)} tokens a month` : "no token quota",
  ].join(" · ");
}

function vendorFacts(t) {
  const rows = [
    ["Language model", `${t.llm.provider}${t.llm.model && t.llm.model !== t.llm.provider ? ` · ${t.llm.model}` : ""}`, t.llm.provider === "openai" ? `key ${keyState(t.llm)}` : ""],
    ["Embedder", `${t.embedder.provider}${t.embedder.model ? ` · ${t.embedder.model}` : ""} · ${t.embedder.dimensions} dimensions`,
      t.embedder.provider !== "hashing" ? `key ${keyState(t.embedder)}` : ""],
    ["Vector store", t.vector_store.provider, t.vector_store.provider === "pinecone" ? `key ${keyState(t.vector_store)}` : ""],
    ["Retrieval", `${t.retrieval.mode}, top ${t.retrieval.top_k}`, ""],
    ["Limits", describeLimits(t.limits), ""],
  ];
  return rows.flatMap(([k, v, extra]) => [el("dt", {}, k), el("dd", {}, v, extra ? el("span", { class: "muted" }, ` (${extra})`) : null)]);
}

function setupSettings(loaders) {
  loaders.settings = async () => {
    const box = $("#prompt-form .error");
    try {
      const t = await apiJSON("/tenant");
      clearError(box);
      $("#settings-tenant").textContent = t.name;
      $("#prompt-text").value = t.system_prompt || "";
      $("#settings-vendors").replaceChildren(...vendorFacts(t));
    } catch (err) {
      showError(box, err);
    }
  };
  submitForm($("#prompt-form"), async () => {
    const prompt = $("#prompt-text").value;
    await apiJSON("/tenant", { method: "PATCH", json: { system_prompt: prompt.trim() ? prompt : null }, type: mergePatch });
    announce("Prompt saved");
  }, { reset: false });
}

// ---------------------------------------------------------------- usage

function stat(label, value, note) {
  return el("div", { class: "stat card" }, el("p", { class: "stat-label" }, label), el("p", { class: "stat-value" }, value),
    note ? el("p", { class: "hint" }, note) : null);
}

function setupUsage(loaders) {
  loaders.usage = async () => {
    try {
      const u = await apiJSON("/usage");
      clearError($("#usage-error"));
      $("#usage-since").textContent = formatDate(u.period_start);
      const quota = u.monthly_token_quota;
      $("#usage-stats").replaceChildren(
        stat("Requests", number(u.requests)),
        stat("Tokens", number(u.total_tokens), `${number(u.prompt_tokens)} prompt · ${number(u.completion_tokens)} completion`),
        stat("Quota left", quota ? number(u.tokens_left) : "Unlimited", quota ? `of ${number(quota)} tokens` : "no monthly quota set"),
        stat("Vector reads", number(u.read_units), u.estimated_tokens ? `${number(u.estimated_tokens)} tokens estimated` : null));
    } catch (err) {
      showError($("#usage-error"), err);
    }
  };
}

// ---------------------------------------------------------------- re-index status

function setupReindex(loaders) {
  const card = $("#reindex-card");
  const box = $(".error", card);
  let timer = 0;
  function show(job) {
    const status = $("#reindex-status");
    const bar = $("#reindex-progress");
    const running = job.state === "running";
    bar.hidden = !running;
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    if (running) status.textContent = `Re-indexing: ${number(job.done)} of ${number(job.total)} passages.`;
    else if (job.state === "failed") status.textContent = `The last re-index failed: ${job.error || "unknown error"}.`;
    else if (job.state === "done") status.textContent = `Up to date. Last re-indexed ${formatDate(job.finished_at)}.`;
    else status.textContent = job.vectors_ready === false ? "Some documents have no vectors yet." : "Up to date.";
    $("#reindex-start").disabled = running;
    clearTimeout(timer);
    if (running) timer = setTimeout(load, 1000);
  }
  async function load() {
    if (card.closest("section").hidden) return;
    try {
      show(await apiJSON("/tenant/reindex"));
      clearError(box);
    } catch (err) {
      showError(box, err);
    }
  }
  loaders.reindex = load;
  $("#reindex-start").addEventListener("click", async () => {
    clearError(box);
    try {
      show(await apiJSON("/tenant/reindex", { method: "POST" }));
      announce("Re-index started");
    } catch (err) {
      showError(box, err);
    }
  });
}

// ---------------------------------------------------------------- account

submitForm($("#password-form"), async (fd) => {
  const done = $("#password-done");
  done.hidden = true;
  if (fd.get("new_password") !== fd.get("repeat")) {
    $("#pw-repeat").focus();
    throw new Error("The new password and its repetition differ.");
  }
  // Every refresh token of the user is revoked; this tab continues with the new
  // tokens the answer carries.
  const tokens = await apiJSON("/users/me/password", {
    method: "POST", json: { current_password: fd.get("current_password"), new_password: fd.get("new_password") },
  });
  if (tokens && tokens.access_token) setTokens(tokens);
  done.hidden = false;
  announce("Password changed. Your other sessions were signed out.");
});
loaders.account = () => { $("#password-form input[name=username]").value = state.me ? state.me.email : ""; };

setupAPIKeys(loaders);
setupSettings(loaders);
setupUsage(loaders);
setupReindex(loaders);
{
  const loadAudit = pagedTable({
    path: "/tenant/audit", rows: $("#audit-rows"), more: $("#audit-more"), error: $("#audit-error"), empty: $("#audit-empty"),
    row: auditRow(false, state),
  });
  loaders.audit = () => loadAudit(true);
}
