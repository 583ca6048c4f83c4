// Drives tenantry's web console in headless Chromium (Debian's /usr/bin/chromium) with
// playwright-core, the way a person would: by labels, roles and the keyboard. It prints
// one JSON object of observations on stdout; console_browser_test.go asserts on them.
//
// Environment: TENANTRY_URL, TENANTRY_EMAIL and TENANTRY_PASSWORD (the first-run demo
// admin), TENANTRY_ROOT_EMAIL and TENANTRY_ROOT_PASSWORD (a platform admin),
// SCREENSHOT_DIR, USER_DATA_DIR, CHROMIUM (default /usr/bin/chromium).
"use strict";

const path = require("node:path");
const { env, launch } = require("./chromium.cjs");
const base = env("TENANTRY_URL");
const shots = env("SCREENSHOT_DIR");
const timeout = 20000;

const QUESTION = "How many days do I have to request a refund?";

// shot saves the page at 1280x800 from the top of its scrolling content.
async function shot(page, name) {
  await page.evaluate(() => document.querySelector("main").scrollTo(0, 0));
  await page.screenshot({ path: path.join(shots, name), fullPage: false });
}

async function main() {
  const out = { problems: [], steps: [] };
  const step = (name) => out.steps.push(name);
  const context = await launch();
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
    await shot(page, "console-login.png");
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

    // Ask a question (stream.cjs watches an answer render while it streams).
    const input = page.getByLabel("Your question");
    await input.fill(QUESTION);
    await input.press("Enter");
    const answer = page.locator('.msg.assistant[data-state="done"]').last();
    await answer.waitFor();
    out.answer = (await answer.locator(".text").textContent()).trim();
    out.quotes = await answer.locator(".text blockquote").count();
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
    out.conversations = await page.locator("#conv-list .conv-open").allTextContents();
    await shot(page, "console-chat.png");
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
    await page.getByRole("link", { name: "Documents", exact: true }).click();
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
    await shot(page, "console-documents.png");
    await page.getByRole("button", { name: "Delete Holiday schedule" }).click();
    await page.locator("#doc-rows tr", { hasText: "Holiday schedule" }).waitFor({ state: "detached" });
    out.documentsAfterDelete = await docRows.count();
    // Upload a Markdown file (its name becomes the title); a PDF is refused with the
    // problem's detail.
    await page.evaluate(() => {
      window.__progress = [];
      const bar = document.querySelector("#upload-progress");
      new MutationObserver(() => window.__progress.push(Number(bar.value))).observe(bar, { attributes: true, attributeFilter: ["value"] });
    });
    const file = docs.getByLabel("A file: text, Markdown, PDF, Word (.docx), HTML or CSV");
    await file.setInputFiles({ name: "team-lunch.md", mimeType: "text/markdown", buffer: Buffer.from("# Team lunch\n\nThe team has lunch together every Thursday at noon.\n") });
    await docs.getByRole("button", { name: "Upload" }).click();
    await page.locator("#doc-rows tr", { hasText: "team-lunch" }).waitFor();
    out.uploaded = await page.locator("#doc-rows tr td:first-child").allTextContents();
    out.uploadProgress = await page.evaluate(() => Math.max(0, ...window.__progress));
    // The search index: its status, and a re-index run to the end.
    out.reindexBefore = (await page.locator("#reindex-status").textContent()).trim();
    await docs.getByRole("button", { name: "Re-index now" }).click();
    await page.waitForFunction(() => document.querySelector("#reindex-status").textContent.startsWith("Up to date. Last re-indexed"));
    out.reindexAfter = (await page.locator("#reindex-status").textContent()).trim();
    await file.setInputFiles({ name: "budget.xlsx", mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buffer: Buffer.from("PK\x03\x04") });
    await docs.getByRole("button", { name: "Upload" }).click();
    const uploadError = page.locator("#upload-form .error");
    await uploadError.waitFor({ state: "visible" });
    out.uploadError = (await uploadError.textContent()).trim();
    step("documents");

    // Users: add a member, refuse a duplicate with the problem's detail, disable.
    await page.getByRole("link", { name: "Users", exact: true }).click();
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
    await shot(page, "console-users.png");
    step("users");

    // Markdown: a document holding formatting and hostile markup, quoted by the model.
    // Formatting renders; <img onerror>, <script> and javascript: links stay inert.
    await page.getByRole("link", { name: "Documents", exact: true }).click();
    await docs.getByLabel("Title", { exact: true }).fill("Pelican care");
    await docs.getByLabel("Text", { exact: true }).fill(
      "Pelican keepers need **sturdy gloves**, [the pelican guide](https://example.com/pelicans) and calm voices " +
      "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script> near the [pelican pond](javascript:window.pwned=3).\n");
    await page.getByRole("button", { name: "Add document" }).click();
    await page.locator("#doc-rows tr", { hasText: "Pelican care" }).waitFor();
    await page.getByRole("link", { name: "Chat", exact: true }).click();
    await page.getByRole("button", { name: "New conversation" }).click();
    await page.getByLabel("Your question").fill("What do pelican keepers need?");
    await page.getByLabel("Your question").press("Enter");
    const mdAnswer = page.locator(".msg.assistant").last();
    await page.locator(".msg.assistant").last().and(page.locator('[data-state="done"]')).waitFor();
    out.markdown = await mdAnswer.evaluate((msg) => {
      const text = msg.querySelector(".text");
      return {
        strong: [...text.querySelectorAll("strong")].map((e) => e.textContent),
        links: [...text.querySelectorAll("a")].map((a) => ({ text: a.textContent, href: a.getAttribute("href"), rel: a.rel })),
        dangerous: document.querySelectorAll("#messages img, #messages script, #messages [onerror], #messages a[href^='javascript']").length,
        pwned: window.pwned === undefined ? "" : String(window.pwned),
        text: text.textContent,
      };
    });
    // The renderer itself on what a model may write: lists, code blocks and links work,
    // HTML is dropped.
    out.rendered = await page.evaluate(async () => {
      const { renderMarkdown } = await import("/console/markdown.js");
      const d = document.createElement("div");
      renderMarkdown(d, "**bold** and *em*\n\n- one\n- two\n\n1. first\n\n```\ncode <b>x</b>\n```\n\n" +
        "[docs](https://example.com/docs) [bad](javascript:alert(1)) <img src=x onerror=alert(1)> <script>alert(1)</script> " +
        "<a href=\"javascript:alert(2)\">raw</a> <iframe src=\"https://example.com\"></iframe> <b onclick=\"alert(3)\">b</b>");
      return {
        strong: d.querySelectorAll("strong").length, em: d.querySelectorAll("em").length,
        bullets: d.querySelectorAll("ul li").length, numbered: d.querySelectorAll("ol li").length,
        code: d.querySelector("pre code") ? d.querySelector("pre code").textContent : "",
        links: [...d.querySelectorAll("a")].map((a) => a.getAttribute("href")),
        dangerous: d.querySelectorAll("img, script, iframe, b, [onerror], [onclick]").length,
      };
    });
    await shot(page, "console-markdown.png");
    step("markdown");

    // Conversations are renamed in place and deleted.
    await page.getByRole("button", { name: "Rename What do pelican keepers need?" }).click();
    await page.getByLabel("New title").fill("Pelican care questions");
    await page.getByLabel("New title").press("Enter");
    await page.locator("#conv-list .conv-open", { hasText: "Pelican care questions" }).waitFor();
    out.renamed = await page.locator("#conv-list .conv-open").allTextContents();
    await page.getByRole("button", { name: "Delete Pelican care questions" }).click();
    await page.locator("#conv-list .conv-open", { hasText: "Pelican care questions" }).waitFor({ state: "detached" });
    out.afterConversationDelete = await page.locator("#conv-list .conv-open").allTextContents();
    out.messagesAfterDelete = await page.locator("#messages .msg").count();
    step("conversation renamed and deleted");

    // API keys: created (the secret shown once), listed by prefix, revoked.
    await page.getByRole("link", { name: "API keys", exact: true }).click();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.locator("#view-apikeys").getByLabel("Name", { exact: true }).fill("Nightly import");
    await page.locator("#view-apikeys").getByLabel("Expires").fill("2031-01-31");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.locator("#apikey-created").waitFor({ state: "visible" });
    const secret = (await page.locator("#apikey-secret").textContent()).trim();
    const keyRow = page.locator("#apikey-rows tr", { hasText: "Nightly import" });
    await keyRow.waitFor();
    out.apiKey = {
      prefix: secret.slice(0, 4), length: secret.length, rowHasSecret: (await keyRow.textContent()).includes(secret),
      expires: (await keyRow.locator("td").nth(4).textContent()).trim(),
    };
    await shot(page, "console-apikeys.png");
    await page.getByRole("button", { name: "Revoke Nightly import" }).click();
    await keyRow.locator("td", { hasText: "Revoked" }).waitFor();
    out.apiKey.status = (await keyRow.locator("td").nth(5).textContent()).trim();
    step("api keys");

    // The assistant's system prompt, saved and read back.
    const prompt = "You are Demo Company's support assistant. Answer briefly and cite the documents.";
    await page.getByRole("link", { name: "Assistant", exact: true }).click();
    await page.getByRole("heading", { name: "Assistant", level: 1 }).waitFor();
    await page.locator("#settings-vendors dt").first().waitFor();
    await page.getByLabel("Instructions given to the model before every conversation").fill(prompt);
    await page.getByRole("button", { name: "Save prompt" }).click();
    await page.locator("#announce", { hasText: "Prompt saved" }).waitFor();
    await page.getByRole("link", { name: "Usage", exact: true }).click();
    await page.locator("#usage-stats .stat").first().waitFor();
    out.usage = await page.locator("#usage-stats .stat").evaluateAll((els) => els.map((e) => ({
      label: e.querySelector(".stat-label").textContent, value: e.querySelector(".stat-value").textContent })));
    await shot(page, "console-usage.png");
    await page.getByRole("link", { name: "Assistant", exact: true }).click();
    await page.waitForFunction((p) => document.querySelector("#prompt-text").value === p, prompt);
    out.prompt = await page.locator("#prompt-text").inputValue();
    out.vendorFacts = await page.locator("#settings-vendors dt").allTextContents();
    await shot(page, "console-assistant.png");
    step("assistant and usage");

    // The tenant's audit log lists the changes made above.
    await page.getByRole("link", { name: "Audit log", exact: true }).click();
    await page.locator("#audit-rows tr").first().waitFor();
    out.audit = await page.locator("#audit-rows tr td:nth-child(3)").allTextContents();
    await shot(page, "console-audit.png");
    step("audit");

    // Own password: a wrong current one is refused with the problem's detail, then changed.
    await page.getByRole("link", { name: "Account", exact: true }).click();
    const account = page.locator("#password-form");
    await account.getByLabel("Current password").fill("not-my-password");
    await account.getByLabel("New password", { exact: true }).fill("Demo-New-Password-2026");
    await account.getByLabel("Repeat the new password").fill("Demo-New-Password-2026");
    await account.getByRole("button", { name: "Change password" }).click();
    await account.locator(".error").waitFor({ state: "visible" });
    out.passwordError = (await account.locator(".error").textContent()).trim();
    await account.getByLabel("Current password").fill(env("TENANTRY_PASSWORD"));
    await account.getByRole("button", { name: "Change password" }).click();
    await page.locator("#password-done").waitFor({ state: "visible" });
    out.passwordChanged = true;
    await shot(page, "console-account.png");
    step("password changed");

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
    await page.locator("#conv-list .conv-open").first().click();
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
    await shot(page, "console-tenants.png");
    step("tenants");

    // Configure the tenant: a model with a write-only key, and limits; then delete it.
    await page.getByRole("link", { name: "Configure Acme Corporation" }).click();
    await page.getByRole("heading", { name: "Acme Corporation", level: 1 }).waitFor();
    out.llmKeyBefore = (await page.locator("#tc-llm-key-state").textContent()).trim();
    await page.locator("#tenant-config").getByLabel("Provider").first().selectOption("openai");
    await page.locator("#tc-llm-model").fill("gpt-4o-mini");
    await page.locator("#tc-llm-base").fill("https://api.openai.com/v1");
    await page.locator("#tc-llm-key").fill("sk-console-test-secret-9876");
    await page.getByLabel("Requests per minute").fill("120");
    await page.getByLabel("Monthly token quota").fill("2000000");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.waitForFunction(() => document.querySelector("#tc-llm-key-state").textContent === "(set)");
    out.llmKeyAfter = (await page.locator("#tc-llm-key-state").textContent()).trim();
    out.keyInputAfter = await page.locator("#tc-llm-key").inputValue();
    out.pageHasKey = (await page.content()).includes("sk-console-test-secret-9876");
    out.pageHasKeyEnd = (await page.locator("main").innerText()).includes("9876");
    out.limitAfter = await page.getByLabel("Requests per minute").inputValue();
    await shot(page, "console-tenant.png");
    await page.getByRole("button", { name: "Delete tenant…" }).click();
    await page.getByRole("heading", { name: "Tenants", level: 1 }).waitFor();
    await page.locator("#tenant-rows tr", { hasText: "Acme Corporation" }).waitFor({ state: "detached" });
    out.tenantsAfterDelete = await page.locator("#tenant-rows tr td:first-child").allTextContents();
    step("tenant configured and deleted");

    // Users of any tenant, narrowed to one.
    await page.getByRole("link", { name: "All users", exact: true }).click();
    await page.locator("#allusers-rows tr").first().waitFor();
    const allUsers = page.locator("#view-allusers");
    await allUsers.getByLabel("Email").fill("carol@demo.local");
    await allUsers.getByLabel("Initial password").fill("carol-Password-123");
    await allUsers.getByLabel("In tenant").selectOption("demo");
    await allUsers.getByLabel("Role", { exact: true }).selectOption("member");
    await allUsers.getByRole("button", { name: "Add user" }).click();
    await page.locator("#allusers-rows tr", { hasText: "carol@demo.local" }).waitFor();
    await page.getByLabel("Tenant", { exact: true }).selectOption("demo");
    await page.waitForFunction(() => [...document.querySelectorAll("#allusers-rows tr td:nth-child(2)")].every((td) => td.textContent === "demo"));
    out.allUsers = await page.locator("#allusers-rows tr td:first-child").allTextContents();
    await shot(page, "console-allusers.png");
    await page.getByRole("link", { name: "Platform usage", exact: true }).click();
    await page.locator("#platformusage-rows tr").first().waitFor();
    out.platformUsage = await page.locator("#platformusage-rows tr td:first-child").allTextContents();
    await shot(page, "console-platform-usage.png");
    await page.getByRole("link", { name: "Platform audit", exact: true }).click();
    await page.locator("#platformaudit-rows tr").first().waitFor();
    out.platformAudit = await page.locator("#platformaudit-rows tr td:nth-child(4)").allTextContents();
    await shot(page, "console-platform-audit.png");
    step("platform users, usage, audit");

  } finally {
    await context.close();
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
