// The Twilio simulator over real sockets: Basic auth, error codes, message state, next_page_uri paging,
// signed status callbacks (checked with the official twilio package), faults, and the seed.
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TwilioMessage } from '../../../src/simulators/twilio/messages.js';
import { segmentCount } from '../../../src/simulators/twilio/messages.js';
import { seedTwilio } from '../../../src/simulators/twilio/seed.js';
import type { TwilioSimulator } from '../../../src/simulators/twilio/simulator.js';
import { createTwilioSimulator, TWILIO_ROUTES } from '../../../src/simulators/twilio/simulator.js';
import { seedUsers } from '../../../src/simulators/users/seed.js';

interface TwilioError {
  code: number;
  message: string;
  more_info: string;
  status: number;
}
interface MessagePage {
  messages: TwilioMessage[];
  end: number;
  first_page_uri: string;
  next_page_uri: string | null;
  page: number;
  page_size: number;
  previous_page_uri: string | null;
  start: number;
  uri: string;
}

let sim: TwilioSimulator;
let base: string;

beforeEach(async () => {
  sim = createTwilioSimulator({ statusDelaysMs: [10, 20] });
  base = await sim.start();
});

afterEach(async () => {
  await sim.close();
});

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function messagesPath(accountSid = sim.accountSid): string {
  return `/2010-04-01/Accounts/${accountSid}/Messages.json`;
}

function send(form: Record<string, string>, auth = basic(sim.accountSid, sim.authToken)): Promise<Response> {
  return fetch(`${base}${messagesPath()}`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

function get(pathAndQuery: string, auth = basic(sim.accountSid, sim.authToken)): Promise<Response> {
  return fetch(`${base}${pathAndQuery}`, { headers: { authorization: auth } });
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

const sms = (to: string, extra: Record<string, string> = {}) => ({
  To: to,
  From: '+15005550006',
  Body: 'Hello from Junction',
  ...extra,
});

describe('auth', () => {
  it('answers 401 with Twilio error 20003 for missing or wrong credentials', async () => {
    const responses = [
      await fetch(`${base}${messagesPath()}`),
      await get(messagesPath(), basic(sim.accountSid, 'wrong-token')),
      await send(sms('+15551234567'), basic('ACnope', sim.authToken)),
    ];
    for (const res of responses) {
      expect(res.status).toBe(401);
      expect(await json<TwilioError>(res)).toEqual({
        code: 20003,
        message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003',
        status: 401,
      });
    }
    expect(sim.createdCount()).toBe(0);
  });

  it('challenges a 401 with Basic, as Twilio does', async () => {
    const res = await get(messagesPath(), basic(sim.accountSid, 'wrong-token'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="Twilio API"');
  });

  it('rejects valid credentials used on another account’s path', async () => {
    const other = `AC${'0'.repeat(32)}`;
    const res = await get(messagesPath(other));
    expect(res.status).toBe(401);
    expect((await json<TwilioError>(res)).code).toBe(20003);
  });
});

describe('POST Messages.json', () => {
  it('creates a queued message (201) that can be fetched and listed first for its To', async () => {
    const res = await send(sms('+15557654321'));
    expect(res.status).toBe(201);
    const message = await json<TwilioMessage>(res);
    expect(message).toMatchObject({
      account_sid: sim.accountSid,
      to: '+15557654321',
      from: '+15005550006',
      body: 'Hello from Junction',
      status: 'queued',
      direction: 'outbound-api',
      num_segments: '1',
      num_media: '0',
      price: null,
      date_sent: null,
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${sim.accountSid}/Messages/${message.sid}.json`,
    });
    expect(message.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(message.date_created).toMatch(
      /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/,
    );

    const fetched = await json<TwilioMessage>(await get(message.uri));
    expect(fetched.sid).toBe(message.sid);
    const page = await json<MessagePage>(
      await get(`${messagesPath()}?To=${encodeURIComponent('+15557654321')}`),
    );
    expect(page.messages[0]?.sid).toBe(message.sid);
    expect(sim.messages.get(message.sid)).toBeDefined();
    expect(sim.createdCount()).toBe(1);
  });

  it('answers 400 with Twilio codes for invalid input, creating nothing', async () => {
    const cases: Array<[Record<string, string>, number, string?]> = [
      [sms('5551234'), 21211, "The 'To' number 5551234 is not a valid phone number."],
      [{ From: '+15005550006', Body: 'x' }, 21604],
      [{ To: '+15551234567', Body: 'x' }, 21603],
      [sms('+15551234567', { Body: '' }), 21602],
      [sms('+15551234567', { From: '+15551112222' }), 21606],
      [sms('+15551234567', { Body: 'x'.repeat(1601) }), 21617],
      [sms('+15005550001'), 21211],
      [sms('+15005550004'), 21610],
      [sms('+15551234567', { StatusCallback: 'not a url' }), 21609],
    ];
    for (const [form, code, message] of cases) {
      const res = await send(form);
      expect(res.status, JSON.stringify(form)).toBe(400);
      const body = await json<TwilioError>(res);
      expect(body, JSON.stringify(form)).toMatchObject({
        code,
        status: 400,
        more_info: `https://www.twilio.com/docs/errors/${code}`,
      });
      if (message !== undefined) expect(body.message).toBe(message);
    }
    expect(sim.createdCount()).toBe(0);
  });

  it('accepts a MessagingServiceSid instead of From (status accepted)', async () => {
    const service = `MG${'a'.repeat(32)}`;
    const res = await send({ To: '+15551230000', MessagingServiceSid: service, Body: 'via service' });
    expect(res.status).toBe(201);
    expect(await json<TwilioMessage>(res)).toMatchObject({
      status: 'accepted',
      messaging_service_sid: service,
    });
  });

  it('answers 404 20404 for an unknown message', async () => {
    const res = await get(`/2010-04-01/Accounts/${sim.accountSid}/Messages/SM${'f'.repeat(32)}.json`);
    expect(res.status).toBe(404);
    expect((await json<TwilioError>(res)).code).toBe(20404);
  });

  it('counts GSM-7 and UCS-2 segments like Twilio', () => {
    expect(segmentCount('a'.repeat(160))).toBe(1);
    expect(segmentCount('a'.repeat(161))).toBe(2);
    expect(segmentCount('€'.repeat(80))).toBe(1); // extension characters take two septets
    expect(segmentCount('😀'.repeat(35))).toBe(1);
    expect(segmentCount('😀'.repeat(36))).toBe(2);
  });
});

describe('paging', () => {
  it('walks every message exactly once through next_page_uri, newest first, keeping filters', async () => {
    const small = createTwilioSimulator({ seedUsers: 0, statusDelaysMs: null });
    try {
      const url = await small.start();
      const auth = basic(small.accountSid, small.authToken);
      const post = (to: string, i: number) =>
        fetch(`${url}/2010-04-01/Accounts/${small.accountSid}/Messages.json`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ To: to, From: small.fromNumber, Body: `n${i}` }).toString(),
        });
      const created: string[] = [];
      for (let i = 0; i < 125; i++)
        created.push((await json<TwilioMessage>(await post('+15550001111', i))).sid);
      for (let i = 0; i < 7; i++) await post('+15550002222', i); // filtered out below

      const seen: string[] = [];
      const pages: MessagePage[] = [];
      let next: string | null =
        `/2010-04-01/Accounts/${small.accountSid}/Messages.json?To=%2B15550001111&PageSize=50`;
      while (next !== null && pages.length < 10) {
        const page: MessagePage = await json<MessagePage>(
          await fetch(`${url}${next}`, { headers: { authorization: auth } }),
        );
        pages.push(page);
        seen.push(...page.messages.map((m) => m.sid));
        next = page.next_page_uri;
      }
      expect(pages.map((p) => p.messages.length)).toEqual([50, 50, 25]);
      expect(pages.map((p) => [p.page, p.start, p.end])).toEqual([
        [0, 0, 49],
        [1, 50, 99],
        [2, 100, 124],
      ]);
      expect(seen).toEqual([...created].reverse());
      expect(pages[0]?.previous_page_uri).toBeNull();
      expect(pages[1]?.previous_page_uri).toMatch(/Page=0&PageToken=PB/);
      const nextUri = pages[0]?.next_page_uri ?? '';
      expect(nextUri).toMatch(/^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Messages\.json\?/);
      const nextQuery = new URL(nextUri, url).searchParams;
      expect(Object.fromEntries(nextQuery)).toEqual({
        To: '+15550001111',
        PageSize: '50',
        Page: '1',
        PageToken: `PA${pages[0]?.messages.at(-1)?.sid}`,
      });
      expect(pages[0]?.first_page_uri).toContain('Page=0');
      expect(pages[0]?.page_size).toBe(50);

      // previous_page_uri leads back to the first page.
      const back = await json<MessagePage>(
        await fetch(`${url}${pages[1]?.previous_page_uri}`, { headers: { authorization: auth } }),
      );
      expect(back.messages.map((m) => m.sid)).toEqual(pages[0]?.messages.map((m) => m.sid));
    } finally {
      await small.close();
    }
  });

  it('defaults to 50 per page and filters by DateSent', async () => {
    const page = await json<MessagePage>(await get(messagesPath()));
    expect(page.page_size).toBe(50);
    expect(page.messages).toHaveLength(50);

    const sample = [...sim.messages.values()].find((m) => m.date_sent !== null);
    const day = new Date(sample?.date_sent ?? '').toISOString().slice(0, 10);
    const filtered = await json<MessagePage>(await get(`${messagesPath()}?DateSent=${day}&PageSize=1000`));
    expect(filtered.messages.map((m) => m.sid)).toContain(sample?.sid);
    for (const m of filtered.messages)
      expect(new Date(m.date_sent ?? '').toISOString().slice(0, 10)).toBe(day);

    const after = await json<MessagePage>(
      await get(`${messagesPath()}?${new URLSearchParams({ 'DateSent>': day })}`),
    );
    for (const m of after.messages)
      expect(new Date(m.date_sent ?? '').toISOString().slice(0, 10) >= day).toBe(true);
  });
});

describe('status callbacks', () => {
  interface Received {
    url: string;
    headers: IncomingHttpHeaders;
    params: Record<string, string>;
  }
  let receiver: Server;
  let receiverBase: string;
  let received: Received[];

  beforeEach(async () => {
    received = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        received.push({ url: `${receiverBase}${req.url}`, headers: req.headers, params });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('posts queued -> sent -> delivered, signed so twilio.validateRequest accepts them', async () => {
    const callbackUrl = `${receiverBase}/webhooks/twilio?tenant=demo&x=1`;
    const created = await json<TwilioMessage>(
      await send(sms('+15551234567', { StatusCallback: callbackUrl })),
    );
    await sim.flushCallbacks();

    expect(received.map((r) => r.params.MessageStatus).sort()).toEqual(['delivered', 'queued', 'sent']);
    for (const r of received) {
      const signature = String(r.headers['x-twilio-signature']);
      expect(r.url).toBe(callbackUrl);
      expect(twilio.validateRequest(sim.authToken, signature, r.url, r.params)).toBe(true);
      expect(signature).toBe(twilio.getExpectedTwilioSignature(sim.authToken, r.url, r.params));
      expect(twilio.validateRequest('0'.repeat(32), signature, r.url, r.params)).toBe(false);
      expect(r.params).toMatchObject({
        MessageSid: created.sid,
        SmsSid: created.sid,
        AccountSid: sim.accountSid,
        From: '+15005550006',
        To: '+15551234567',
        ApiVersion: '2010-04-01',
      });
      expect(r.params.SmsStatus).toBe(r.params.MessageStatus);
    }
    const stored = sim.messages.get(created.sid);
    expect(stored).toMatchObject({ status: 'delivered', price: '-0.00790' });
    expect(stored?.date_sent).not.toBeNull();
    expect(sim.callbackDeliveries.every((d) => d.ok)).toBe(true);

    const fetched = await json<TwilioMessage>(await get(created.uri));
    expect(fetched.status).toBe('delivered');
  });

  it('ends as undelivered with ErrorCode 30003 for a number ending in 0000', async () => {
    const created = await json<TwilioMessage>(
      await send(sms('+15551230000', { StatusCallback: `${receiverBase}/cb` })),
    );
    await sim.flushCallbacks();
    const final = received.find((r) => r.params.MessageStatus === 'undelivered');
    expect(final?.params.ErrorCode).toBe('30003');
    expect(sim.messages.get(created.sid)).toMatchObject({ status: 'undelivered', error_code: 30003 });
  });

  it('setMessageStatus posts a callback; messages without StatusCallback progress silently', async () => {
    const silent = await json<TwilioMessage>(await send(sms('+15551234567')));
    await sim.flushCallbacks();
    expect(sim.messages.get(silent.sid)?.status).toBe('delivered');
    expect(received).toHaveLength(0);

    const quiet = createTwilioSimulator({ seedUsers: 0, statusDelaysMs: null });
    try {
      const url = await quiet.start();
      const res = await fetch(`${url}/2010-04-01/Accounts/${quiet.accountSid}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: basic(quiet.accountSid, quiet.authToken),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(sms('+15551234567', { StatusCallback: `${receiverBase}/cb` })).toString(),
      });
      const m = await json<TwilioMessage>(res);
      await quiet.flushCallbacks();
      expect(quiet.messages.get(m.sid)?.status).toBe('queued');
      quiet.setMessageStatus(m.sid, 'failed');
      await quiet.flushCallbacks();
      expect(received.map((r) => r.params.MessageStatus)).toEqual(['queued', 'failed']);
    } finally {
      await quiet.close();
    }
  });
});

describe('faults and the official twilio client', () => {
  function officialClient() {
    const httpClient = new twilio.RequestClient();
    // Point the real client (its auth, form encoding and paging) at the simulator instead of api.twilio.com.
    httpClient.axios.interceptors.request.use((config) => {
      config.url = config.url?.replace('https://api.twilio.com', base);
      return config;
    });
    return twilio(sim.accountSid, sim.authToken, { httpClient });
  }

  it('a 503 fault answers with Twilio’s error shape', async () => {
    sim.faults.add({ match: { route: TWILIO_ROUTES.createMessage }, status: 503, times: 1 });
    const res = await send(sms('+15551234567'));
    expect(res.status).toBe(503);
    expect(res.headers.get('twilio-request-id')).toMatch(/^req_/);
    expect(await json<TwilioError>(res)).toEqual({
      code: 20503,
      message: 'Service Unavailable',
      more_info: 'https://www.twilio.com/docs/errors/20503',
      status: 503,
    });
    expect(sim.createdCount()).toBe(0);
    expect((await send(sms('+15551234567'))).status).toBe(201);
  });

  it('creates, fetches and pages through messages with the twilio package', async () => {
    const client = officialClient();
    const to = '+15559876543';
    const created = [];
    for (let i = 0; i < 12; i++)
      created.push(await client.messages.create({ to, from: sim.fromNumber, body: `sdk ${i}` }));
    expect(created[0]?.sid).toMatch(/^SM/);
    expect(created[0]?.dateCreated).toBeInstanceOf(Date);

    const listed = await client.messages.list({ to, pageSize: 5 });
    expect(listed.map((m) => m.sid)).toEqual(created.map((m) => m.sid).reverse());
    expect(sim.count({ route: TWILIO_ROUTES.listMessages })).toBe(3);

    const fetched = await client.messages(created[0]?.sid ?? '').fetch();
    expect(fetched.body).toBe('sdk 0');

    await expect(
      client.messages.create({ to: '12345', from: sim.fromNumber, body: 'x' }),
    ).rejects.toMatchObject({
      status: 400,
      code: 21211,
    });
  });
});

describe('seedTwilio', () => {
  const users = seedUsers(200);
  const accountSid = `AC${'1'.repeat(32)}`;
  const messages = seedTwilio(users, { accountSid });

  it('is deterministic, prefix-stable, and sends 0..4 messages to each user’s phone from the demo number', () => {
    expect(seedTwilio(users, { accountSid })).toEqual(messages);
    const prefix = seedTwilio(users.slice(0, 20), { accountSid });
    expect(messages.slice(0, prefix.length)).toEqual(prefix);
    const perPhone = new Map<string, number>();
    for (const m of messages) perPhone.set(m.to, (perPhone.get(m.to) ?? 0) + 1);
    expect(Math.max(...perPhone.values())).toBeLessThanOrEqual(4);
    const phones = new Set(users.map((u) => u.phone_number));
    for (const m of messages) {
      expect(phones.has(m.to)).toBe(true);
      expect(m.from).toBe('+15005550006');
      expect(m.sid).toMatch(/^SM[0-9a-f]{32}$/);
    }
    expect(new Set(messages.map((m) => m.status))).toEqual(
      new Set(['delivered', 'sent', 'undelivered', 'failed']),
    );
  });
});
