// Holds the Twilio simulator against Twilio's own OpenAPI description (twilio_api_v2010.json): every
// message it returns validates against `api.v2010.account.message`, and list pages against ListMessageResponse.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TwilioSimulator } from '../../src/simulators/twilio/simulator.js';
import { createTwilioSimulator } from '../../src/simulators/twilio/simulator.js';

interface OpenApiSchema {
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}
interface TwilioSpec {
  components: { schemas: Record<string, OpenApiSchema>; [key: string]: unknown };
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content: Record<string, { schema: OpenApiSchema }> }> }>
  >;
}

const spec = JSON.parse(
  readFileSync(new URL('../../../shared/providers/twilio/twilio_api_v2010.json', import.meta.url), 'utf8'),
) as TwilioSpec;

const MESSAGES_PATH = '/2010-04-01/Accounts/{AccountSid}/Messages.json';
const listSchema = spec.paths[MESSAGES_PATH]?.get?.responses['200']?.content['application/json']?.schema;
const messageSchema = spec.components.schemas['api.v2010.account.message'];

// The spec's own formats, checked the way Twilio documents them.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat(
  'date-time-rfc-2822',
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/,
);
ajv.addFormat('phone-number', /^\+[1-9]\d{1,14}$/);
ajv.addFormat('currency', /^[A-Za-z]{3}$/);
ajv.addFormat('uri', /^(?:https?:\/\/|\/)\S*$/); // Twilio's URIs are relative to https://api.twilio.com
for (const format of [
  'uri-map',
  'date',
  'iso-country-code',
  'phone-number-capabilities',
  'ice-server',
  'http-method',
]) {
  ajv.addFormat(format, true);
}
ajv.addSchema(
  {
    $id: 'twilio_api_v2010.json',
    components: {
      ...spec.components,
      schemas: { ...spec.components.schemas, ListMessageResponse: listSchema },
    },
  },
  'twilio_api_v2010.json',
);
const validateMessage = ajv.compile({
  $ref: 'twilio_api_v2010.json#/components/schemas/api.v2010.account.message',
});
const validateList = ajv.compile({ $ref: 'twilio_api_v2010.json#/components/schemas/ListMessageResponse' });

function check(validate: typeof validateMessage, value: unknown): string {
  return validate(value) ? '' : ajv.errorsText(validate.errors);
}

let sim: TwilioSimulator;
let base: string;
const auth = () => `Basic ${Buffer.from(`${sim.accountSid}:${sim.authToken}`).toString('base64')}`;

beforeAll(async () => {
  sim = createTwilioSimulator({ seedUsers: 100, statusDelaysMs: [5, 5] });
  base = await sim.start();
});

afterAll(async () => {
  await sim.close();
});

describe('Twilio twilio_api_v2010.json contract', () => {
  it('found the published schemas', () => {
    expect(messageSchema?.properties).toHaveProperty('num_segments');
    expect(listSchema?.properties).toHaveProperty('next_page_uri');
  });

  it('the validator itself rejects a message with a wrong type or an ISO date', () => {
    const [sample] = sim.messages.values();
    expect(check(validateMessage, sample)).toBe('');
    expect(check(validateMessage, { ...sample, num_segments: 1 })).toMatch(/num_segments/);
    expect(check(validateMessage, { ...sample, date_created: new Date().toISOString() })).toMatch(
      /date_created/,
    );
    expect(check(validateMessage, { ...sample, status: 'done' })).toMatch(/status/);
  });

  it('created, fetched (after delivery) and listed messages validate and carry every published field', async () => {
    const res = await fetch(`${base}/2010-04-01/Accounts/${sim.accountSid}/Messages.json`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ To: '+15551234567', From: sim.fromNumber, Body: 'contract' }).toString(),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { sid: string; uri: string };
    await sim.flushCallbacks();
    const fetched = (await (
      await fetch(`${base}${created.uri}`, { headers: { authorization: auth() } })
    ).json()) as {
      status: string;
    };
    expect(fetched.status).toBe('delivered');

    const listRes = await fetch(`${base}/2010-04-01/Accounts/${sim.accountSid}/Messages.json?PageSize=100`, {
      headers: { authorization: auth() },
    });
    const list = (await listRes.json()) as { messages: unknown[] } & Record<string, unknown>;
    expect(list.messages.length).toBeGreaterThan(10);

    const published = Object.keys(messageSchema?.properties ?? {}).sort();
    for (const message of [created, fetched, ...list.messages]) {
      expect(check(validateMessage, message)).toBe('');
      expect(Object.keys(message as object).sort()).toEqual(published);
    }
    expect(check(validateList, list)).toBe('');
    expect(Object.keys(list).sort()).toEqual(Object.keys(listSchema?.properties ?? {}).sort());
    expect(list.next_page_uri).toEqual(expect.any(String));
  });

  it('the last page validates too, with next_page_uri null', async () => {
    const res = await fetch(
      `${base}/2010-04-01/Accounts/${sim.accountSid}/Messages.json?To=${encodeURIComponent('+15551234567')}`,
      { headers: { authorization: auth() } },
    );
    const page = (await res.json()) as Record<string, unknown>;
    expect(check(validateList, page)).toBe('');
    expect(page.next_page_uri).toBeNull();
    expect(page.previous_page_uri).toBeNull();
  });
});
