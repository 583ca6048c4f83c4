'use strict';
// Drives tenantry's /v1 with the official OpenAI Node SDK configured once with an API
// key, as a tool such as Open WebUI would be, at a moment when the access token that
// created the key has expired. Prints one JSON object for bootstrap/openai_sdk_test.go.
// Inputs: TENANTRY_BASE_URL (…/v1), TENANTRY_API_KEY (a tnt_ key), TENANTRY_EXPIRED_TOKEN
// (an access token past its lifetime), TENANTRY_QUESTION.
const { OpenAI } = require('openai');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const baseURL = env('TENANTRY_BASE_URL');

async function main() {
  const client = new OpenAI({ baseURL, apiKey: env('TENANTRY_API_KEY'), maxRetries: 0, timeout: 30_000 });
  const out = {};
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  out.models = models;

  const stream = await client.chat.completions.create({
    model: models[0], stream: true,
    messages: [{ role: 'user', content: env('TENANTRY_QUESTION') }],
  });
  out.text = '';
  for await (const chunk of stream) {
    for (const c of chunk.choices) if (c.delta.content) out.text += c.delta.content;
  }

  try {
    await new OpenAI({ baseURL, apiKey: env('TENANTRY_EXPIRED_TOKEN'), maxRetries: 0 }).models.list();
    out.expired_token = null;
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    out.expired_token = { class: err.constructor.name, status: err.status, code: err.code };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
