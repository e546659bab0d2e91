// The simulators' credential rotation hooks, over real HTTP: a new credential is accepted beside the
// old one until the old one is retired, as each real provider allows.
import { afterEach, describe, expect, it } from 'vitest';
import { createSendGridSimulator } from '../../../src/simulators/sendgrid/simulator.js';
import type { Simulator } from '../../../src/simulators/shared/simulator.js';
import { createStripeSimulator } from '../../../src/simulators/stripe/simulator.js';
import { createTwilioSimulator } from '../../../src/simulators/twilio/simulator.js';
import { twilioSignature } from '../../../src/simulators/twilio/webhooks.js';
import { createUsersSimulator } from '../../../src/simulators/users/simulator.js';

const started: Simulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function start<S extends Simulator>(sim: S): Promise<[S, string]> {
  started.push(sim);
  return [sim, await sim.start()];
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('simulator credential rotation', () => {
  it('users: a second client secret gets tokens until it is removed; issued tokens stay valid', async () => {
    const [users, url] = await start(createUsersSimulator({ seedCount: 1, clientSecret: 'old-secret' }));
    const token = (secret: string) =>
      fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: basic('junction-demo', secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
    expect((await token('new-secret')).status).toBe(401);
    users.addClientSecret('new-secret');
    expect((await token('new-secret')).status).toBe(200);
    const issuedWithOld = (await (await token('old-secret')).json()) as { access_token: string };
    users.removeClientSecret('old-secret');
    expect((await token('old-secret')).status).toBe(401);
    const read = await fetch(`${url}/users/usr_0001`, {
      headers: { authorization: `Bearer ${issuedWithOld.access_token}` },
    });
    expect(read.status).toBe(200);
  });

  it('stripe: a rolled key works beside the old one until the old one is removed', async () => {
    const [stripe, url] = await start(createStripeSimulator({ seedUsers: 1, secretKey: 'sk_test_old' }));
    const get = (key: string) =>
      fetch(`${url}/v1/payment_intents?limit=1`, { headers: { authorization: `Bearer ${key}` } });
    expect((await get('sk_test_new')).status).toBe(401);
    stripe.addApiKey('sk_test_new');
    expect((await get('sk_test_new')).status).toBe(200);
    expect((await get('sk_test_old')).status).toBe(200);
    stripe.removeApiKey('sk_test_old');
    expect((await get('sk_test_old')).status).toBe(401);
  });

  it('sendgrid: a second API key works until the first is deleted', async () => {
    const [sendgrid, url] = await start(createSendGridSimulator({ apiKey: 'SG.old' }));
    const send = (key: string) =>
      fetch(`${url}/v3/mail/send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          personalizations: [{ to: [{ email: 'a@example.com' }] }],
          from: { email: 'b@example.com' },
          subject: 's',
          content: [{ type: 'text/plain', value: 'x' }],
        }),
      });
    sendgrid.addApiKey('SG.new');
    expect((await send('SG.new')).status).toBe(202);
    sendgrid.removeApiKey('SG.old');
    expect((await send('SG.old')).status).toBe(401);
  });

  it('twilio: the secondary token works beside the primary; once promoted it signs callbacks and the old one stops', async () => {
    const old = 'a'.repeat(32);
    const [twilio, url] = await start(
      createTwilioSimulator({ seedUsers: 1, authToken: old, statusDelaysMs: null }),
    );
    const list = (token: string) =>
      fetch(`${url}/2010-04-01/Accounts/${twilio.accountSid}/Messages.json?PageSize=1`, {
        headers: { authorization: basic(twilio.accountSid, token) },
      });
    const secondary = twilio.createSecondaryAuthToken();
    expect((await list(secondary)).status).toBe(200);
    expect((await list(old)).status).toBe(200);
    expect(twilio.authToken).toBe(old);
    twilio.promoteSecondaryAuthToken();
    expect(twilio.authToken).toBe(secondary);
    expect((await list(old)).status).toBe(401);
    expect((await list(secondary)).status).toBe(200);
    expect(() => twilio.promoteSecondaryAuthToken()).toThrow(/no secondary/);
    // Callbacks are signed with the promoted token.
    const received: Array<{ signature: string | null; body: string }> = [];
    const { createServer } = await import('node:http');
    const sink = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ signature: req.headers['x-twilio-signature'] as string, body });
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const callback = `http://127.0.0.1:${(sink.address() as { port: number }).port}/cb`;
    try {
      const created = await fetch(`${url}/2010-04-01/Accounts/${twilio.accountSid}/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: basic(twilio.accountSid, secondary),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          To: '+15551230000',
          From: twilio.fromNumber,
          Body: 'x',
          StatusCallback: callback,
        }),
      });
      const sid = ((await created.json()) as { sid: string }).sid;
      twilio.setMessageStatus(sid, 'sent');
      await twilio.flushCallbacks();
      const delivery = received.at(-1);
      expect(delivery).toBeDefined();
      const params = Object.fromEntries(new URLSearchParams(delivery!.body).entries());
      expect(delivery!.signature).toBe(twilioSignature(secondary, callback, params));
    } finally {
      await new Promise((r) => sink.close(r));
    }
  });
});
