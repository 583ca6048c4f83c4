// Administration pages: a tenant admin's API keys, assistant prompt, usage, audit log
// and re-index status; a platform admin's tenant configuration, users of every tenant,
// usage and audit across tenants. Vendor API keys are write-only: the page shows
// whether one is set, never the key.
import {
  $, el, announce, api, apiJSON, showError, clearError, pagedTable, formatDate, submitForm,
} from "./core.js";

const roleNames = { member: "Member", tenant_admin: "Tenant admin", platform_admin: "Platform admin" };
const mergePatch = "application/merge-patch+json";
const number = (n) => Number(n || 0).toLocaleString();

// shortID shows the start of a long id, with the whole id as its tooltip.
function shortID(id) {
  return id.length > 16 ? el("code", { title: id }, `${id.slice(0, 8)}…`) : el("code", {}, id);
}

function auditRow(withTenant, state) {
  return (e) => el("tr", {},
    el("td", { class: "nowrap" }, formatDate(e.at)),
    withTenant ? el("td", {}, e.tenant_id ? el("code", {}, e.tenant_id) : "platform") : null,
    el("td", {}, state.me && e.actor === state.me.id ? "you" : e.actor.includes(":") ? e.actor : shortID(e.actor)),
    el("td", {}, el("span", { class: "pill" }, e.action)),
    el("td", {}, shortID(e.target)),
    el("td", {}, (e.changed || []).join(", ") || "—"));
}

function keyState(k) {
  return k && k.api_key_set ? `set, ends in ${k.api_key_last4}` : "not set";
}

// ---------------------------------------------------------------- API keys

function setupAPIKeys(loaders) {
  const loadKeys = pagedTable({
    path: "/tenant/api-keys", rows: $("#apikey-rows"), more: $("#apikey-more"), error: $("#apikey-error"), empty: $("#apikey-empty"),
    row: (k) => el("tr", {},
      el("td", {}, k.name),
      el("td", {}, el("code", {}, `${k.prefix}…`)),
      el("td", { class: "nowrap" }, formatDate(k.created_at)),
      el("td", { class: "nowrap" }, k.last_used_at ? formatDate(k.last_used_at) : "Never"),
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
    const k = await apiJSON("/tenant/api-keys", { method: "POST", json: { name: fd.get("name") } });
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
  const form = $("#prompt-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = $(".error", form);
    const button = $("button[type=submit]", form);
    clearError(box);
    button.disabled = true;
    try {
      const prompt = $("#prompt-text").value;
      await apiJSON("/tenant", { method: "PATCH", json: { system_prompt: prompt.trim() ? prompt : null }, type: mergePatch });
      announce("Prompt saved");
    } catch (err) {
      showError(box, err);
    } finally {
      button.disabled = false;
    }
  });
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

// ---------------------------------------------------------------- platform: tenant configuration

const configFields = {
  "tc-name": ["name"], "tc-status": ["status"], "tc-prompt": ["system_prompt"],
  "tc-llm-provider": ["llm", "provider"], "tc-llm-model": ["llm", "model"], "tc-llm-base": ["llm", "base_url"],
  "tc-emb-provider": ["embedder", "provider"], "tc-emb-model": ["embedder", "model"], "tc-emb-dims": ["embedder", "dimensions"],
  "tc-vs-provider": ["vector_store", "provider"], "tc-vs-host": ["vector_store", "index_host"], "tc-vs-ns": ["vector_store", "namespace"],
  "tc-rpm": ["limits", "requests_per_minute"], "tc-streams": ["limits", "max_concurrent_streams"], "tc-quota": ["limits", "monthly_token_quota"],
};
const keyFields = { "tc-llm-key": "llm", "tc-emb-key": "embedder", "tc-vs-key": "vector_store" };

function get(obj, path) { return path.reduce((o, k) => (o == null ? o : o[k]), obj); }

function setupTenantConfig(loaders, state) {
  const form = $("#tenant-config");
  let loaded = null;
  function fill(t) {
    loaded = t;
    $("#tenant-title").textContent = t.name;
    $("#tenant-crumb").textContent = t.id;
    document.title = `${t.name} · tenantry console`;
    for (const [id, path] of Object.entries(configFields)) {
      const v = get(t, path);
      $(`#${id}`).value = v == null ? "" : String(v);
    }
    for (const [id, part] of Object.entries(keyFields)) {
      $(`#${id}`).value = "";
      $(`#${id}-state`).textContent = `(${keyState(t[part])})`;
    }
  }
  loaders.tenant = async () => {
    const box = $("#tenant-load-error");
    form.hidden = true;
    try {
      fill(await apiJSON(`/admin/tenants/${encodeURIComponent(state.arg)}`));
      clearError(box);
      form.hidden = false;
    } catch (err) {
      showError(box, err);
    }
  };
  // The patch holds only what changed, and a key only when one was typed.
  function patch() {
    const out = {};
    for (const [id, path] of Object.entries(configFields)) {
      const input = $(`#${id}`);
      const before = get(loaded, path);
      let v = input.value;
      if (input.type === "number") v = v === "" ? 0 : Number(v);
      if (String(before == null ? "" : before) === String(v)) continue;
      if (path[0] === "system_prompt" && v === "") v = null;
      let o = out;
      for (const k of path.slice(0, -1)) o = o[k] = o[k] || {};
      o[path[path.length - 1]] = v;
    }
    for (const [id, part] of Object.entries(keyFields)) {
      const v = $(`#${id}`).value;
      if (v) (out[part] = out[part] || {}).api_key = v;
    }
    return out;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = $(".error", form);
    const button = $("button[type=submit]", form);
    clearError(box);
    const body = patch();
    if (!Object.keys(body).length) { announce("Nothing changed"); return; }
    button.disabled = true;
    try {
      fill(await apiJSON(`/admin/tenants/${encodeURIComponent(loaded.id)}`, { method: "PATCH", json: body, type: mergePatch }));
      announce(`Saved ${loaded.name}`);
    } catch (err) {
      showError(box, err);
    } finally {
      button.disabled = false;
    }
  });
  $("#tenant-delete").addEventListener("click", async () => {
    const box = $(".error", form);
    clearError(box);
    if (loaded.status !== "suspended") {
      showError(box, new Error("Suspend the tenant and save before deleting it: deleting removes its users, documents and conversations."));
      return;
    }
    if (!confirm(`Delete ${loaded.name} with all its users, documents and conversations? This cannot be undone.`)) return;
    try {
      await api(`/admin/tenants/${encodeURIComponent(loaded.id)}`, { method: "DELETE" });
      announce(`Deleted ${loaded.name}`);
      location.hash = "#tenants";
    } catch (err) {
      showError(box, err);
    }
  });
}

// ---------------------------------------------------------------- platform: users, usage, audit

function setupPlatform(loaders, state) {
  const filter = $("#allusers-tenant");
  const loadPage = pagedTable({
      path: () => `/admin/users${filter.value ? `?tenant_id=${encodeURIComponent(filter.value)}` : ""}`,
      rows: $("#allusers-rows"), more: $("#allusers-more"), error: $("#allusers-error"), empty: $("#allusers-empty"),
      row: (u) => el("tr", {},
        el("td", {}, u.email),
        el("td", {}, u.tenant_id ? el("code", {}, u.tenant_id) : el("span", { class: "muted" }, "none")),
        el("td", { class: "role" }, roleNames[u.role] || u.role),
        el("td", { class: u.disabled ? "status-disabled" : "status-active" }, u.disabled ? "Disabled" : "Active"),
        el("td", { class: "actions" }, u.role === "platform_admin" ? "" : el("button", {
          type: "button", class: u.disabled ? "secondary small" : "danger small", "aria-label": `${u.disabled ? "Enable" : "Disable"} ${u.email}`,
          onclick: async () => {
            try {
              await api(`/admin/users/${encodeURIComponent(u.id)}`, { method: "PATCH", json: { disabled: !u.disabled }, type: mergePatch });
              announce(`${u.email} ${u.disabled ? "enabled" : "disabled"}`);
              await loadUsers();
            } catch (err) {
              showError($("#allusers-error"), err);
            }
          },
        }, u.disabled ? "Enable" : "Disable"))),
  });
  const loadUsers = () => loadPage(true);
  filter.addEventListener("change", loadUsers);
  loaders.allusers = async () => {
    try {
      const list = await apiJSON("/admin/tenants?limit=100");
      const keep = filter.value;
      filter.replaceChildren(el("option", { value: "" }, "All tenants"),
        ...list.items.map((t) => el("option", { value: t.id, selected: t.id === keep }, `${t.name} (${t.id})`)));
    } catch (err) {
      showError($("#allusers-error"), err);
    }
    return loadUsers();
  };

  loaders.platformusage = async () => {
    try {
      const all = await apiJSON("/admin/usage");
      clearError($("#platformusage-error"));
      $("#platformusage-rows").replaceChildren(...all.items.map((u) => el("tr", {},
        el("td", {}, el("code", {}, u.tenant_id)),
        el("td", { class: "num" }, number(u.requests)),
        el("td", { class: "num" }, number(u.prompt_tokens)),
        el("td", { class: "num" }, number(u.completion_tokens)),
        el("td", { class: "num" }, number(u.total_tokens)))));
      $("#platformusage-empty").hidden = all.items.length > 0;
    } catch (err) {
      showError($("#platformusage-error"), err);
    }
  };

  const loadAudit = pagedTable({
    path: "/admin/audit", rows: $("#platformaudit-rows"), more: $("#platformaudit-more"), error: $("#platformaudit-error"),
    empty: $("#platformaudit-empty"), row: auditRow(true, state),
  });
  loaders.platformaudit = () => loadAudit(true);
}

// setupAdmin registers the administration views' loaders.
export function setupAdmin(loaders, state) {
  setupAPIKeys(loaders);
  setupSettings(loaders);
  setupUsage(loaders);
  setupReindex(loaders);
  setupTenantConfig(loaders, state);
  setupPlatform(loaders, state);
  const loadAudit = pagedTable({
    path: "/tenant/audit", rows: $("#audit-rows"), more: $("#audit-more"), error: $("#audit-error"), empty: $("#audit-empty"),
    row: auditRow(false, state),
  });
  loaders.audit = () => loadAudit(true);
}
