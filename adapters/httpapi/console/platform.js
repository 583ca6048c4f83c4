// A platform admin's pages: tenants (create, suspend, configure models, vendor keys and
// limits, delete), users of every tenant, usage and audit across tenants. Vendor API
// keys are write-only: the page shows whether one is set, never the key.
import {
  $, el, announce, api, apiJSON, showError, clearError, pagedTable, formatDate, submitForm, state, loaders, roleNames,
} from "./core.js";
import { auditRow, keyState, mergePatch, number } from "./tables.js";

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
  submitForm(form, async () => {
    const body = patch();
    if (!Object.keys(body).length) { announce("Nothing changed"); return; }
    fill(await apiJSON(`/admin/tenants/${encodeURIComponent(loaded.id)}`, { method: "PATCH", json: body, type: mergePatch }));
    announce(`Saved ${loaded.name}`);
  }, { reset: false });
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
  submitForm($("#alluser-form"), async (fd) => {
    const u = await apiJSON("/admin/users", {
      method: "POST", json: { email: fd.get("email"), password: fd.get("password"), role: fd.get("role"), tenant_id: fd.get("tenant_id") || null },
    });
    announce(`Added ${u.email}`);
    await loadUsers();
  });
  loaders.allusers = async () => {
    try {
      const list = await apiJSON("/admin/tenants?limit=100");
      const keep = filter.value;
      filter.replaceChildren(el("option", { value: "" }, "All tenants"),
        ...list.items.map((t) => el("option", { value: t.id, selected: t.id === keep }, `${t.name} (${t.id})`)));
      $("#alluser-tenant").replaceChildren(el("option", { value: "" }, "None (platform admin)"),
        ...list.items.map((t) => el("option", { value: t.id }, `${t.name} (${t.id})`)));
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

setupTenantConfig(loaders, state);
setupPlatform(loaders, state);
