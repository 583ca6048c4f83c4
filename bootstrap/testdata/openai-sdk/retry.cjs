'use strict';
// Asks tenantry's OpenAI-compatible endpoint, with the official OpenAI Node SDK at its
// default retry policy, once within the tenant's quota and once beyond it, and prints
// one JSON object for the Go test (bootstrap/openai_sdk_retry_test.go), with the raw
// rate-limit headers of the first answer.
// Inputs: TENANTRY_BASE_URL (…/v1), TENANTRY_API_KEY (an access token), TENANTRY_QUESTION.
const { OpenAI } = require('openai');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

async function main() {
  const client = new OpenAI({ baseURL: env('TENANTRY_BASE_URL'), apiKey: env('TENANTRY_API_KEY'), maxRetries: 2, timeout: 30_000 });
  const messages = [{ role: 'user', content: env('TENANTRY_QUESTION') }];
  const model = 'tenantry-acme';
  const { data: first, response } = await client.chat.completions.create({ model, messages }).withResponse();
  const out = {
    first_finish: first.choices[0].finish_reason, over_quota: null,
    first_rate_limit: {
      limit: response.headers.get('x-ratelimit-limit-requests'),
      remaining: response.headers.get('x-ratelimit-remaining-requests'),
      reset: response.headers.get('x-ratelimit-reset-requests'),
    },
  };
  try {
    await client.chat.completions.create({ model, messages });
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    out.over_quota = {
      class: err.constructor.name, status: err.status, code: err.code, type: err.type,
      should_retry: err.headers && err.headers.get('x-should-retry'),
      retry_after: err.headers && err.headers.get('retry-after'),
    };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
