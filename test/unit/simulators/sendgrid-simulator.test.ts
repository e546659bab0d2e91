// The SendGrid simulator over real sockets: bearer auth, SendGrid's validation errors, 202 + X-Message-Id,
// sandbox mode, faults, and the signed Event Webhook (checked with the official @sendgrid/eventwebhook).
import type { IncomingHttpHeaders, Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventWebhook, EventWebhookHeader } from '@sendgrid/eventwebhook';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SendGridSimulator } from '../../../src/simulators/sendgrid/simulator.js';
import { createSendGridSimulator, SENDGRID_ROUTES } from '../../../src/simulators/sendgrid/simulator.js';
import type { SendGridFieldError } from '../../../src/simulators/sendgrid/validation.js';
import type { SendGridEvent } from '../../../src/simulators/sendgrid/webhooks.js';
import { generateEventWebhookKeyPair } from '../../../src/simulators/sendgrid/webhooks.js';

const HELP = 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html';

let sim: SendGridSimulator;
let base: string;

beforeEach(async () => {
  sim = createSendGridSimulator({ webhookRetryDelaysMs: [10] });
  base = await sim.start();
});

afterEach(async () => {
  await sim.close();
});

function mailSend(body: unknown, authorization: string | null = `Bearer ${sim.apiKey}`): Promise<Response> {
  return fetch(`${base}/v3/mail/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function errorsOf(res: Response): Promise<SendGridFieldError[]> {
  return ((await res.json()) as { errors: SendGridFieldError[] }).errors;
}

const validMail = () => ({
  personalizations: [{ to: [{ email: 'ada@example.com', name: 'Ada' }] }],
  from: { email: 'noreply@junction.example', name: 'Junction' },
  subject: 'Hello',
  content: [
    { type: 'text/plain', value: 'Hi Ada' },
    { type: 'text/html', value: '<p>Hi Ada</p>' },
  ],
});

describe('auth', () => {
  it('answers 401 with SendGrid’s errors array for a wrong or missing key', async () => {
    const wrong = await mailSend(validMail(), 'Bearer SG.wrong.key');
    expect(wrong.status).toBe(401);
    expect(await errorsOf(wrong)).toEqual([
      {
        message: 'The provided authorization grant is invalid, expired, or revoked',
        field: null,
        help: null,
      },
    ]);
    const missing = await mailSend(validMail(), null);
    expect(missing.status).toBe(401);
    expect((await errorsOf(missing))[0]?.message).toBe('authorization required');
    expect(sim.sent).toHaveLength(0);
  });
});

describe('POST /v3/mail/send', () => {
  it('accepts a valid mail with 202, an empty body and a 22-character X-Message-Id', async () => {
    const res = await mailSend(validMail());
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    const messageId = res.headers.get('x-message-id');
    expect(messageId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(sim.sent).toEqual([{ messageId, body: validMail(), at: expect.any(Number) }]);

    const second = await mailSend(validMail());
    expect(second.headers.get('x-message-id')).not.toBe(messageId);
    expect(sim.count({ route: SENDGRID_ROUTES.mailSend })).toBe(2);
  });

  it('reports an invalid recipient at its exact field with SendGrid’s help link', async () => {
    const mail = validMail();
    mail.personalizations[0]?.to.push({ email: 'not-an-email', name: 'X' });
    const res = await mailSend(mail);
    expect(res.status).toBe(400);
    expect(await errorsOf(res)).toEqual([
      {
        message: 'Does not contain a valid address.',
        field: 'personalizations.0.to.1.email',
        help: `${HELP}#message.personalizations`,
      },
    ]);
    expect(sim.sent).toHaveLength(0);
  });

  it('reports every problem at once: personalizations, from, content', async () => {
    const res = await mailSend({ subject: 'x' });
    expect(res.status).toBe(400);
    const errors = await errorsOf(res);
    expect(errors.map((e) => e.field)).toEqual(['personalizations', 'from.email', 'content']);
    expect(errors[0]?.message).toBe(
      'The personalizations field is required and must have at least one personalization.',
    );
    expect(errors[1]?.help).toBe(`${HELP}#message.from`);
    expect(errors[2]?.message).toMatch(
      /^Unless a valid template_id is provided, the content parameter is required/,
    );
  });

  it('requires a subject unless a template or every personalization supplies one', async () => {
    const { subject: _subject, ...noSubject } = validMail();
    const res = await mailSend(noSubject);
    expect(res.status).toBe(400);
    expect((await errorsOf(res))[0]).toMatchObject({ field: 'subject', help: `${HELP}#message.subject` });

    expect((await mailSend({ ...noSubject, template_id: 'd-123' })).status).toBe(202);
    const perPersonalization = {
      ...noSubject,
      personalizations: [{ to: [{ email: 'ada@example.com' }], subject: 'Per person' }],
    };
    expect((await mailSend(perPersonalization)).status).toBe(202);
  });

  it('validates content blocks, the from address, duplicates and the JSON itself', async () => {
    const cases: Array<[unknown, string | null]> = [
      [{ ...validMail(), content: [{ type: 'text/plain', value: '' }] }, 'content.0.value'],
      [{ ...validMail(), content: [{ type: 'application/pdf', value: 'x' }] }, 'content'],
      [
        {
          ...validMail(),
          content: [
            { type: 'text/html', value: '<p>x</p>' },
            { type: 'text/plain', value: 'x' },
          ],
        },
        'content.1.type',
      ],
      [{ ...validMail(), from: { email: 'nope' } }, 'from.email'],
      [{ ...validMail(), personalizations: [{ to: [] }] }, 'personalizations.0.to'],
      [
        {
          ...validMail(),
          personalizations: [{ to: [{ email: 'a@example.com' }], cc: [{ email: 'A@example.com' }] }],
        },
        'personalizations.0',
      ],
      ['{"personalizations": [', null],
    ];
    for (const [body, field] of cases) {
      const res = await mailSend(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(
        (await errorsOf(res)).map((e) => e.field),
        JSON.stringify(body),
      ).toEqual([field]);
    }
  });

  it('sandbox mode validates and answers 200 without sending', async () => {
    const res = await mailSend({ ...validMail(), mail_settings: { sandbox_mode: { enable: true } } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-message-id')).toBeNull();
    expect(sim.sent).toHaveLength(0);
    expect(sim.events).toHaveLength(0);
  });

  it('a 503 fault answers with SendGrid’s error shape and sends nothing', async () => {
    sim.faults.add({ match: { route: SENDGRID_ROUTES.mailSend }, status: 503, times: 1 });
    const res = await mailSend(validMail());
    expect(res.status).toBe(503);
    expect(await errorsOf(res)).toEqual([{ message: expect.any(String), field: null, help: null }]);
    expect(sim.sent).toHaveLength(0);
    expect((await mailSend(validMail())).status).toBe(202);
  });
});

describe('Event Webhook', () => {
  interface Received {
    headers: IncomingHttpHeaders;
    body: string;
  }
  let receiver: Server;
  let receiverUrl: string;
  let received: Received[];
  let statuses: number[];
  const keys = generateEventWebhookKeyPair();

  beforeEach(async () => {
    received = [];
    statuses = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(statuses.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/sendgrid`;
  });

  afterEach(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  function verify(r: Received, publicKey = keys.publicKey): boolean {
    const ew = new EventWebhook();
    return ew.verifySignature(
      ew.convertPublicKeyToECDSA(publicKey),
      r.body,
      String(r.headers[EventWebhookHeader.SIGNATURE().toLowerCase()]),
      String(r.headers[EventWebhookHeader.TIMESTAMP().toLowerCase()]),
    );
  }

  it('posts processed then delivered per recipient, signed so @sendgrid/eventwebhook verifies it', async () => {
    sim.setEventWebhook({ url: receiverUrl, privateKey: keys.privateKeyPem });
    const mail = {
      ...validMail(),
      personalizations: [
        {
          to: [{ email: 'ada@example.com' }],
          cc: [{ email: 'grace@example.com' }],
          custom_args: { user_id: 'usr_0001' },
        },
      ],
      custom_args: { campaign: 'welcome', user_id: 'overridden' },
      categories: ['onboarding'],
    };
    const res = await mailSend(mail);
    const messageId = res.headers.get('x-message-id') ?? '';
    await sim.flushWebhooks();

    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(delivery && verify(delivery)).toBe(true);
    expect(delivery?.headers['x-twilio-email-event-webhook-timestamp']).toMatch(/^\d{10}$/);
    const events = JSON.parse(delivery?.body ?? '[]') as SendGridEvent[];
    expect(events.map((e) => [e.event, e.email])).toEqual([
      ['processed', 'ada@example.com'],
      ['processed', 'grace@example.com'],
      ['delivered', 'ada@example.com'],
      ['delivered', 'grace@example.com'],
    ]);
    for (const event of events) {
      expect(event.sg_message_id.startsWith(`${messageId}.filter`)).toBe(true);
      expect(event['smtp-id']).toContain(messageId);
      expect(event).toMatchObject({ user_id: 'usr_0001', campaign: 'welcome', category: ['onboarding'] });
      expect(event.timestamp).toEqual(expect.any(Number));
    }
    expect(new Set(events.map((e) => e.sg_event_id)).size).toBe(4);
    expect(sim.events).toEqual(events);

    // A different key, or a tampered body, does not verify.
    expect(verify(delivery!, generateEventWebhookKeyPair().publicKey)).toBe(false);
    expect(verify({ ...delivery!, body: delivery!.body.replace('ada@', 'eve@') })).toBe(false);
  });

  it('retries a failed POST, re-signing it, and sends nothing once the webhook is cleared', async () => {
    sim.setEventWebhook({ url: receiverUrl, privateKey: keys.privateKeyPem });
    statuses.push(500);
    await mailSend(validMail());
    await sim.flushWebhooks();
    expect(sim.webhookDeliveries.map((d) => [d.attempt, d.status])).toEqual([
      [1, 500],
      [2, 200],
    ]);
    expect(received).toHaveLength(2);
    expect(received.every((r) => verify(r))).toBe(true);

    sim.setEventWebhook(undefined);
    await mailSend(validMail());
    await sim.flushWebhooks();
    expect(received).toHaveLength(2);
    expect(sim.events).toHaveLength(4);
  });
});
