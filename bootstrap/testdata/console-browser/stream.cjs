// Watches an answer render as Markdown while it streams, in headless Chromium with
// playwright-core. The model (a fake the Go test controls) stalls half-way the first
// time, after a list, bold text and HTML meant to run script; the second answer
// completes. Every element ever added to the conversation is checked, so an
// intermediate render that inserted live HTML would be seen even if a later one
// replaced it. Prints one JSON object of observations on stdout.
//
// Environment: TENANTRY_URL, TENANTRY_EMAIL, TENANTRY_PASSWORD, USER_DATA_DIR,
// CHROMIUM (default /usr/bin/chromium).
"use strict";

const { env, launch } = require("./chromium.cjs");

// streamingState is what the message being answered shows, read in the page.
const streamingState = (msg) => ({
  state: msg.dataset.state,
  strong: [...msg.querySelectorAll(".text strong")].map((e) => e.textContent),
  bullets: msg.querySelectorAll(".text ul li").length,
  numbered: msg.querySelectorAll(".text ol li").length,
  text: msg.querySelector(".text").textContent,
});

async function main() {
  const out = { problems: [] };
  const context = await launch();
  context.setDefaultTimeout(20000);
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (m) => { if (m.type() === "error") out.problems.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => out.problems.push(`pageerror: ${e.message}`));
    await page.goto(`${env("TENANTRY_URL")}/`);
    const login = page.locator("#view-login");
    await login.getByLabel("Email").fill(env("TENANTRY_EMAIL"));
    await login.getByLabel("Password").fill(env("TENANTRY_PASSWORD"));
    await login.getByLabel("Password").press("Enter");
    await page.locator("#whoami").waitFor({ state: "visible" });

    // Every element added under #messages from now on, and every attribute set there,
    // is recorded as it happens.
    await page.evaluate(() => {
      window.__live = [];
      const hostile = (n) => n.nodeType === Node.ELEMENT_NODE &&
        (/^(IMG|SCRIPT|IFRAME|OBJECT|EMBED|SVG|STYLE|B)$/i.test(n.nodeName) ||
          [...n.attributes].some((a) => a.name.startsWith("on") || /javascript:/i.test(a.value)));
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.type === "attributes" && hostile(r.target)) window.__live.push(r.target.outerHTML);
          for (const n of r.addedNodes) {
            if (hostile(n)) window.__live.push(n.outerHTML);
            if (n.querySelectorAll) for (const d of n.querySelectorAll("*")) if (hostile(d)) window.__live.push(d.outerHTML);
          }
        }
      }).observe(document.getElementById("messages"), { subtree: true, childList: true, attributes: true });
    });

    const input = page.getByLabel("Your question");
    await input.fill("What should I pack?");
    await input.press("Enter");
    // The model has stalled after its first half: the answer is still streaming, yet
    // its list and bold text are already rendered, and the HTML shows as text.
    const first = page.locator('.msg.assistant[data-state="streaming"]').last();
    await first.locator(".text li strong").waitFor();
    await first.locator(".text", { hasText: "</b>" }).waitFor();
    out.partial = await first.evaluate(streamingState);
    out.busy = await first.getAttribute("aria-busy");
    await page.locator("#chat-stop").click();
    await page.locator('.msg.assistant[data-state="streaming"]').waitFor({ state: "detached" });

    await input.fill("And the rest?");
    await input.press("Enter");
    const second = page.locator(".msg.assistant").last().and(page.locator('[data-state="done"]'));
    await second.waitFor();
    out.final = await second.evaluate(streamingState);
    out.live = await page.evaluate(() => window.__live);
    out.pwned = await page.evaluate(() => (window.pwned === undefined ? "" : String(window.pwned)));
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
