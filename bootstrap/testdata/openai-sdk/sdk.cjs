'use strict';
// Drives tenantry's OpenAI-compatible endpoint with the official OpenAI Node SDK and
// prints one JSON object for the Go test (bootstrap/openai_sdk_test.go) to assert on.
// Inputs: TENANTRY_BASE_URL (…/v1), TENANTRY_API_KEY (an access token), TENANTRY_QUESTION,
// TENANTRY_OTHER_MODEL (another tenant's assistant id, which must be refused).
const { OpenAI } = require('openai');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const baseURL = env('TENANTRY_BASE_URL');
const question = env('TENANTRY_QUESTION');
const client = new OpenAI({ baseURL, apiKey: env('TENANTRY_API_KEY'), maxRetries: 0, timeout: 30_000 });

function describe(err) {
  if (!(err instanceof OpenAI.APIError)) throw err;
  return { class: err.constructor.name, status: err.status, type: err.type, code: err.code, param: err.param, message: err.message };
}

async function main() {
  const out = { sdk_version: require('openai/version').VERSION };

  const models = [];
  for await (const m of client.models.list()) models.push({ id: m.id, object: m.object, owned_by: m.owned_by });
  out.models = models;
  const model = models[0].id;
  out.retrieved = (await client.models.retrieve(model)).id;

  const messages = [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: question },
  ];

  const stream = await client.chat.completions.create({ model, messages, stream: true, stream_options: { include_usage: true } });
  const s = { text: '', usage: null, finish_reason: null, role: null, ids: [], models: [], chunks: 0, sources: [] };
  for await (const chunk of stream) {
    s.chunks++;
    if (!s.ids.includes(chunk.id)) s.ids.push(chunk.id);
    if (!s.models.includes(chunk.model)) s.models.push(chunk.model);
    if (chunk.tenantry && chunk.tenantry.sources) s.sources.push(...chunk.tenantry.sources.map((x) => x.title));
    for (const c of chunk.choices) {
      if (c.delta.role) s.role = c.delta.role;
      if (c.delta.content) s.text += c.delta.content;
      if (c.finish_reason) s.finish_reason = c.finish_reason;
    }
    if (chunk.usage) s.usage = chunk.usage;
  }
  out.stream = s;

  // The SDK's stream helper accumulates chunks into a completion and checks their shape.
  const runner = client.chat.completions.stream({ model, messages });
  const streamed = await runner.finalChatCompletion();
  out.helper = { text: streamed.choices[0].message.content, finish_reason: streamed.choices[0].finish_reason };

  const c = await client.chat.completions.create({ model, messages });
  out.completion = {
    id: c.id, object: c.object, model: c.model, usage: c.usage,
    text: c.choices[0].message.content, role: c.choices[0].message.role, finish_reason: c.choices[0].finish_reason,
    sources: (c.tenantry && c.tenantry.sources || []).map((x) => x.title),
  };

  out.errors = {};
  try {
    await client.chat.completions.create({ model: env('TENANTRY_OTHER_MODEL'), messages });
    out.errors.other_model = null;
  } catch (err) {
    out.errors.other_model = describe(err);
  }
  try {
    await new OpenAI({ baseURL, apiKey: 'sk-not-a-tenantry-token', maxRetries: 0 }).models.list();
    out.errors.bad_key = null;
  } catch (err) {
    out.errors.bad_key = describe(err);
  }

  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
