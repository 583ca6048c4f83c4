// Shared by the console's modules: DOM helpers, the API client with its tokens,
// problem+json errors, paged tables and forms. Every DOM update uses text nodes or
// elements, never markup strings.


export const $ = (sel, root = document) => root.querySelector(sel);

// el builds an element: attributes (on* keys become listeners) and children
// (strings become text nodes; null and false are skipped).
export function el(tag, attrs = {}, ...children) {
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

export function announce(text) {
  const a = $("#announce");
  a.textContent = "";
  setTimeout(() => { a.textContent = text; }, 50);
}

// ---------------------------------------------------------------- API client

// state is the signed-in user (me) and the open view with its argument (arg, as in
// #tenant/{id}).
export const state = { me: null, view: "", arg: "" };

// loaders fill a view each time it opens; each page module registers its own.
export const loaders = {};

export const roleNames = { member: "Member", tenant_admin: "Tenant admin", platform_admin: "Platform admin" };

// session.ended is called when the tokens cannot be refreshed; app.js sets it.
export const session = { ended: () => {} };

const STORE_KEY = "tenantry.console.tokens";
export const auth = { access: "", refresh: "" };

export function loadTokens() {
  try {
    const t = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
    auth.access = t.access || "";
    auth.refresh = t.refresh || "";
  } catch { /* a damaged entry is a logged-out tab */ }
}

export function setTokens(body) {
  auth.access = body.access_token || "";
  if (body.refresh_token) auth.refresh = body.refresh_token;
  try { sessionStorage.setItem(STORE_KEY, JSON.stringify(auth)); } catch { /* storage off: memory only */ }
}

export function clearTokens() {
  auth.access = auth.refresh = "";
  try { sessionStorage.removeItem(STORE_KEY); } catch { /* nothing stored */ }
}

export class APIError extends Error {
  constructor(message, status, fields = [], requestID = "") {
    super(message);
    this.status = status;
    this.fields = fields;
    this.requestID = requestID;
  }
}

// problemError reads an RFC 9457 problem (or an OAuth error) into an APIError whose
// message is the server's detail.
export async function problemError(res) {
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
export function refreshTokens() {
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
export async function api(path, opts = {}, retried = false) {
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
    session.ended("Your session has ended. Please log in again.");
    throw err;
  }
  if (!res.ok) throw await problemError(res);
  return res;
}

export async function apiJSON(path, opts) {
  const res = await api(path, opts);
  return res.status === 204 ? null : res.json();
}

// showError fills a form's or view's error box with the detail and any field errors.
export function showError(box, err) {
  if (!box) return;
  box.replaceChildren(err.message || String(err));
  if (err.fields && err.fields.length) box.append(el("ul", {}, err.fields.map((f) => el("li", {}, f))));
  box.hidden = false;
}

export function clearError(box) {
  if (box) { box.hidden = true; box.replaceChildren(); }
}

// ---------------------------------------------------------------- paged tables

// pagedTable loads a list endpoint (path, or a function returning it) 50 items at a
// time into a tbody, with a "Show more" button while more may exist.
export function pagedTable({ path, rows, more, error, empty, row }) {
  const limit = 50;
  let offset = 0;
  async function load(reset) {
    if (reset) offset = 0;
    try {
      const p = typeof path === "function" ? path() : path;
      const sep = p.includes("?") ? "&" : "?";
      const list = await apiJSON(`${p}${sep}limit=${limit}&offset=${offset}`);
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

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDate(s) {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// submitForm runs action on submit with the button disabled and errors shown in the
// form's error box; the form is emptied after a success unless reset is false (forms
// that edit what they show).
export function submitForm(form, action, { reset = true } = {}) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = $(".error", form);
    const button = $("button[type=submit]", form);
    clearError(box);
    button.disabled = true;
    try {
      await action(new FormData(form));
      if (reset) form.reset();
    } catch (err) {
      showError(box, err);
    } finally {
      button.disabled = false;
    }
  });
}

// upload posts a form with XMLHttpRequest, which reports upload progress (fetch does
// not) to onProgress as a fraction; errors and the 401 refresh work as in api.
export function upload(path, form, onProgress, retried = false) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    if (auth.access) xhr.setRequestHeader("Authorization", `Bearer ${auth.access}`);
    xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); });
    xhr.addEventListener("error", () => reject(new APIError("The upload failed: the server could not be reached.", 0)));
    xhr.addEventListener("load", async () => {
      const res = new Response(xhr.status === 204 ? null : xhr.responseText, {
        status: xhr.status, headers: { "Content-Type": xhr.getResponseHeader("Content-Type") || "", "X-Request-ID": xhr.getResponseHeader("X-Request-ID") || "" },
      });
      if (res.status === 401) {
        if (!retried && (await refreshTokens())) { upload(path, form, onProgress, true).then(resolve, reject); return; }
        const err = await problemError(res);
        session.ended("Your session has ended. Please log in again.");
        reject(err);
        return;
      }
      if (!res.ok) { reject(await problemError(res)); return; }
      resolve(await res.json());
    });
    xhr.send(form);
  });
}
