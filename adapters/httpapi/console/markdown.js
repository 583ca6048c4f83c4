// Answers are Markdown: marked turns the text into HTML and DOMPurify keeps only
// formatting (paragraphs, emphasis, lists, code, quotations, tables, links to http,
// https and mailto). HTML written into a document or an answer is shown as text, and
// DOMPurify drops whatever else is not formatting: scripts, event handler attributes,
// styles, images, forms and javascript: links. DOMPurify returns a DocumentFragment, so no markup
// string reaches the page; under the console's CSP its Trusted Types policy is the
// only one allowed.
import { Marked } from "./vendor/marked.esm.js";
import "./vendor/purify.min.js";

const DOMPurify = globalThis.DOMPurify;
const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => escapes[c]);

const marked = new Marked({
  gfm: true, breaks: false, async: false,
  renderer: { html: ({ text }) => escapeHTML(text) },
});

const ALLOWED_TAGS = ["p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
  "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "thead", "tbody", "tr", "th", "td"];
const ALLOWED_ATTR = ["href", "title", "start", "align"];
const SAFE_URL = /^(?:https?:|mailto:|#)/i;

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName !== "A") return;
  const href = node.getAttribute("href") || "";
  if (!SAFE_URL.test(href)) node.removeAttribute("href");
  else if (!href.startsWith("#")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

// renderMarkdown replaces target's children with text rendered as sanitised Markdown.
export function renderMarkdown(target, text) {
  const html = marked.parse(text);
  const fragment = DOMPurify.sanitize(html, {
    ALLOWED_TAGS, ALLOWED_ATTR: [...ALLOWED_ATTR, "target", "rel"], ALLOW_DATA_ATTR: false, RETURN_DOM_FRAGMENT: true,
  });
  target.replaceChildren(fragment);
}
