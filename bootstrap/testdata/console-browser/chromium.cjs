// What console.cjs and stream.cjs share: reading the environment, and Debian's
// headless Chromium launched with playwright-core in a throwaway profile.
"use strict";

const { chromium } = require("playwright-core");

// env returns a required environment variable.
const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

// launch starts Chromium (CHROMIUM, default /usr/bin/chromium) with a 1280x800
// viewport and its profile in USER_DATA_DIR.
async function launch() {
  return chromium.launchPersistentContext(env("USER_DATA_DIR"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
    timeout: 60000,
  });
}

module.exports = { env, launch };
