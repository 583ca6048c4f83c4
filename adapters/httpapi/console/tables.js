// Presentation shared by the workspace and platform pages.
import { el, formatDate } from "./core.js";

export const mergePatch = "application/merge-patch+json";
export const number = (n) => Number(n || 0).toLocaleString();

// shortID shows the start of a long id, with the whole id as its tooltip.
function shortID(id) {
  return id.length > 16 ? el("code", { title: id }, `${id.slice(0, 8)}…`) : el("code", {}, id);
}

// auditRow renders an audit entry; the caller's own id reads "you".
export function auditRow(withTenant, state) {
  return (e) => el("tr", {},
    el("td", { class: "nowrap" }, formatDate(e.at)),
    withTenant ? el("td", {}, e.tenant_id ? el("code", {}, e.tenant_id) : "platform") : null,
    el("td", {}, state.me && e.actor === state.me.id ? "you" : e.actor.includes(":") ? e.actor : shortID(e.actor)),
    el("td", {}, el("span", { class: "pill" }, e.action)),
    el("td", {}, shortID(e.target)),
    el("td", {}, (e.changed || []).join(", ") || "—"));
}

// keyState says whether a vendor key is set; keys are write-only, so no part of one
// is shown.
export function keyState(k) {
  return k && k.api_key_set ? "set" : "not set";
}
