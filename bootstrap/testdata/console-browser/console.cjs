// Drives tenantry's web console in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, the way a person would: by labels, roles and the keyboard. It prints
// one JSON object of observations on stdout; console_browser_test.go asserts on them.
//
// Environment: TENANTRY_URL, TENANTRY_EMAIL and TENANTRY_PASSWORD (the first-run demo
// admin), TENANTRY_ROOT_EMAIL and TENANTRY_ROOT_PASSWORD (a platform admin),
// SCREENSHOT_DIR, USER_DATA_DIR, CHROMIUM (default /usr/bin/chromium).
"use strict";

const path = require("node:path");
const { chromium } = require("playwright-core");

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env("TENANTRY_URL");
const shots = env("SCREENSHOT_DIR");
const timeout = 20000;

const QUESTION = "How many days do I have to request a refund?";

async function main() {
  const out = { problems: [], steps: [] };
  const step = (name) => out.steps.push(name);
  const context = await chromium.launchPersistentContext(env("USER_DATA_DIR"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
    timeout: 60000,
  });
  context.setDefaultTimeout(timeout);
  try {
    const page = context.pages()[0] || (await context.newPage());
    // Everything the page reports as broken (script errors, CSP violations, failed
    // loads) is collected; the test expects none.
    // Chrome logs every HTTP error status; those the steps below provoke on purpose are
    // collected apart, anything else is a problem.
    out.httpErrors = [];
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(m.text());
      if (status) out.httpErrors.push(Number(status[1]));
      else out.problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => out.problems.push(`pageerror: ${e.message}`));
    page.on("requestfailed", (r) => out.problems.push(`requestfailed: ${r.url()} ${r.failure() && r.failure().errorText}`));
    page.on("dialog", (d) => d.accept());

    out.browser = context.browser() ? context.browser().version() : "";
    const res = await page.goto(`${base}/`);
    out.csp = res.headers()["content-security-policy"] || "";
    const login = page.locator("#view-login");
    await login.getByRole("heading", { name: "Log in" }).waitFor();
    step("login form shown");

    // The skip link is the first stop of the keyboard.
    await page.keyboard.press("Tab");
    out.firstTab = await page.evaluate(() => document.activeElement && document.activeElement.textContent.trim());

    // A wrong password shows the server's own words.
    await login.getByLabel("Email").fill(env("TENANTRY_EMAIL"));
    await login.getByLabel("Password").fill("not-the-password");
    await login.getByRole("button", { name: "Log in" }).click();
    const loginError = page.locator("#login-form .error");
    await loginError.waitFor({ state: "visible" });
    out.loginError = (await loginError.textContent()).trim();
    step("wrong password refused");

    // Log in with the keyboard (Enter in the password field).
    await login.getByLabel("Password").fill(env("TENANTRY_PASSWORD"));
    await login.getByLabel("Password").press("Enter");
    await page.locator("#whoami").waitFor({ state: "visible" });
    out.who = {
      email: (await page.locator("#who-email").textContent()).trim(),
      role: (await page.locator("#who-role").textContent()).trim(),
      tenant: (await page.locator("#who-tenant").textContent()).trim(),
    };
    out.tabs = await page.getByRole("navigation", { name: "Sections" }).getByRole("link").evaluateAll(
      (links) => links.filter((a) => a.offsetParent !== null).map((a) => a.textContent.trim()));
    out.chatHeadingFocused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    step("logged in");

    // Ask a question, recording every text the answer showed on its way: each mutation
    // record keeps the text node it added, even when the browser batches the records.
    await page.evaluate(() => {
      window.__texts = [];
      new MutationObserver((records) => {
        for (const r of records) {
          if (!(r.target instanceof Element) || !r.target.matches(".msg.assistant .text")) continue;
          for (const n of r.addedNodes) if (n.nodeType === Node.TEXT_NODE) window.__texts.push(n.data);
        }
      }).observe(document.getElementById("messages"), { subtree: true, childList: true });
    });
    const input = page.getByLabel("Your question");
    await input.fill(QUESTION);
    await input.press("Enter");
    const answer = page.locator('.msg.assistant[data-state="done"]').last();
    await answer.waitFor();
    out.answer = (await answer.locator(".text").textContent()).trim();
    // The longest text shown while streaming is the whole streamed answer; the texts
    // before it that are its prefixes show how it grew.
    const shown = (await page.evaluate(() => window.__texts)).filter((t) => t.length > 0);
    out.streamed = shown.reduce((a, b) => (b.length > a.length ? b : a), "");
    const prefixes = shown.filter((t) => out.streamed.startsWith(t));
    out.growth = new Set(prefixes.map((t) => t.length)).size;
    out.partial = prefixes.length ? prefixes[0] : "";
    out.quotes = await answer.locator(".text .quote").count();
    out.cites = await answer.getByRole("button", { name: /^Show source \d+$/ }).count();
    out.answerBusy = await answer.getAttribute("aria-busy");
    out.log = await page.locator("#messages").evaluate((n) => ({ role: n.getAttribute("role"), live: n.getAttribute("aria-live") }));
    const sources = answer.getByRole("button", { name: /^\[\d+\]/ });
    out.sources = await sources.allTextContents();
    step("answer streamed");

    // The citation marker of the first quoted sentence opens its source's passage.
    const cite = answer.getByRole("button", { name: /^Show source \d+$/ }).first();
    const cited = answer.locator(`.source-btn[data-source="${(await cite.textContent()).replace(/\D/g, "")}"]`);
    await cite.click();
    const passage = page.locator(`#${await cited.getAttribute("aria-controls")}`);
    await passage.waitFor({ state: "visible" });
    out.citedSource = (await cited.textContent()).trim();
    out.sourceExpanded = await cited.getAttribute("aria-expanded");
    out.passage = (await passage.textContent()).trim();
    out.focusAfterCite = await page.evaluate(() => document.activeElement.textContent.trim());
    // A source button opens and closes its passage.
    const last = sources.last();
    const lastPassage = page.locator(`#${await last.getAttribute("aria-controls")}`);
    await last.click();
    out.lastSourceOpened = (await last.getAttribute("aria-expanded")) === "true" && (await lastPassage.isVisible());
    await last.click();
    out.lastSourceClosed = (await last.getAttribute("aria-expanded")) === "false" && !(await lastPassage.isVisible());
    out.conversations = await page.locator("#conv-list button").allTextContents();
    await page.screenshot({ path: path.join(shots, "console-chat.png"), fullPage: true });
    step("source opened");

    // A lost access token is renewed from the refresh token on the 401.
    await page.evaluate(() => {
      const k = "tenantry.console.tokens";
      const t = JSON.parse(sessionStorage.getItem(k));
      t.access = "expired.or.forged";
      sessionStorage.setItem(k, JSON.stringify(t));
    });
    const refreshed = page.waitForResponse((r) => r.url().endsWith("/auth/token") && r.request().method() === "POST");
    await page.reload();
    out.refreshStatus = (await refreshed).status();
    await page.locator("#whoami").waitFor({ state: "visible" });
    out.afterRefresh = (await page.locator("#who-email").textContent()).trim();
    step("refreshed after 401");

    // Documents: the demo's three, add one by pasting, delete it again.
    await page.getByRole("link", { name: "Documents" }).click();
    await page.getByRole("heading", { name: "Documents", level: 1 }).waitFor();
    const docRows = page.locator("#doc-rows tr");
    await docRows.first().waitFor();
    out.documents = await page.locator("#doc-rows tr td:first-child").allTextContents();
    const docs = page.locator("#view-documents");
    await docs.getByLabel("Title", { exact: true }).fill("Holiday schedule");
    await docs.getByLabel("Text", { exact: true }).fill("The office is closed on the first Monday of August for the summer party.");
    await page.getByRole("button", { name: "Add document" }).click();
    await page.locator("#doc-rows tr", { hasText: "Holiday schedule" }).waitFor();
    out.documentsAfterAdd = await docRows.count();
    await page.screenshot({ path: path.join(shots, "console-documents.png"), fullPage: true });
    await page.getByRole("button", { name: "Delete Holiday schedule" }).click();
    await page.locator("#doc-rows tr", { hasText: "Holiday schedule" }).waitFor({ state: "detached" });
    out.documentsAfterDelete = await docRows.count();
    // Upload a Markdown file (its name becomes the title); a PDF is refused with the
    // problem's detail.
    const file = docs.getByLabel("Text or Markdown file (.txt, .md)");
    await file.setInputFiles({ name: "team-lunch.md", mimeType: "text/markdown", buffer: Buffer.from("# Team lunch\n\nThe team has lunch together every Thursday at noon.\n") });
    await docs.getByRole("button", { name: "Upload" }).click();
    await page.locator("#doc-rows tr", { hasText: "team-lunch" }).waitFor();
    out.uploaded = await page.locator("#doc-rows tr td:first-child").allTextContents();
    await file.setInputFiles({ name: "scan.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4\n") });
    await docs.getByRole("button", { name: "Upload" }).click();
    const uploadError = page.locator("#upload-form .error");
    await uploadError.waitFor({ state: "visible" });
    out.uploadError = (await uploadError.textContent()).trim();
    step("documents");

    // Users: add a member, refuse a duplicate with the problem's detail, disable.
    await page.getByRole("link", { name: "Users" }).click();
    await page.locator("#user-rows tr").first().waitFor();
    const users = page.locator("#view-users");
    await users.getByLabel("Email").fill("bob@demo.local");
    await users.getByLabel("Initial password").fill("bob-Password-123");
    await users.getByLabel("Role", { exact: true }).selectOption("member");
    await users.getByRole("button", { name: "Add user" }).click();
    const bob = page.locator("#user-rows tr", { hasText: "bob@demo.local" });
    await bob.waitFor();
    await users.getByLabel("Email").fill("bob@demo.local");
    await users.getByLabel("Initial password").fill("bob-Password-123");
    await users.getByRole("button", { name: "Add user" }).click();
    const userError = page.locator("#user-form .error");
    await userError.waitFor({ state: "visible" });
    out.duplicateUserError = (await userError.textContent()).trim();
    await page.getByLabel("Role of bob@demo.local").selectOption("tenant_admin");
    await bob.getByRole("button", { name: "Save role" }).click();
    await page.waitForFunction(() => {
      const s = document.querySelector('select[aria-label="Role of bob@demo.local"]');
      return s && s.value === "tenant_admin" && s.nextElementSibling.disabled;
    });
    await page.getByRole("button", { name: "Disable bob@demo.local" }).click();
    await page.getByRole("button", { name: "Enable bob@demo.local" }).waitFor();
    out.users = await page.locator("#user-rows tr").evaluateAll((rows) => rows.map((r) => ({
      email: r.cells[0].textContent.trim(),
      role: r.querySelector("select") ? r.querySelector("select").value : r.cells[1].textContent.trim(),
      status: r.cells[2].textContent.trim(),
    })));
    await page.screenshot({ path: path.join(shots, "console-users.png"), fullPage: true });
    step("users");

    // A phone-sized viewport: nothing scrolls sideways, the conversation list folds away.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Chat" }).click();
    await page.getByRole("heading", { name: "Chat", level: 1 }).waitFor();
    const toggle = page.getByRole("button", { name: "Conversations" });
    out.phone = {
      overflow: await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
      toggleVisible: await toggle.isVisible(),
      panelVisibleBefore: await page.locator("#conv-panel").isVisible(),
    };
    await toggle.click();
    out.phone.panelVisibleAfter = await page.locator("#conv-panel").isVisible();
    await page.locator("#conv-list button").first().click();
    await page.locator('.msg.assistant[data-state="done"]').first().waitFor();
    out.phone.reopened = (await page.locator(".msg.user .text").first().textContent()).trim();
    await page.locator(".source-btn").first().click();
    await page.screenshot({ path: path.join(shots, "console-phone.png"), fullPage: false });
    step("phone");

    // Log out; then a platform admin manages tenants.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole("button", { name: "Log out" }).click();
    await login.getByRole("heading", { name: "Log in" }).waitFor();
    out.tokensAfterLogout = await page.evaluate(() => sessionStorage.getItem("tenantry.console.tokens"));
    await login.getByLabel("Email").fill(env("TENANTRY_ROOT_EMAIL"));
    await login.getByLabel("Password").fill(env("TENANTRY_ROOT_PASSWORD"));
    await login.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor();
    out.rootTabs = await page.getByRole("navigation", { name: "Sections" }).getByRole("link").evaluateAll(
      (links) => links.filter((a) => a.offsetParent !== null).map((a) => a.textContent.trim()));
    await page.locator("#tenant-rows tr").first().waitFor();
    const tenants = page.locator("#view-tenants");
    await tenants.getByLabel("Id", { exact: true }).fill("acme");
    await tenants.getByLabel("Name", { exact: true }).fill("Acme Corporation");
    await page.getByRole("button", { name: "Create tenant" }).click();
    await page.locator("#tenant-rows tr", { hasText: "Acme Corporation" }).waitFor();
    await page.getByRole("button", { name: "Suspend Acme Corporation" }).click();
    await page.getByRole("button", { name: "Activate Acme Corporation" }).waitFor();
    out.tenants = await page.locator("#tenant-rows tr").evaluateAll((rows) => rows.map((r) => ({
      id: r.cells[0].textContent.trim(), name: r.cells[1].textContent.trim(), status: r.cells[2].textContent.trim(),
    })));
    await page.screenshot({ path: path.join(shots, "console-tenants.png"), fullPage: true });
    step("tenants");
  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
