// Child process: the four provider simulators on loopback (real HTTP servers, fault injection,
// request counters). The runner sets latency and faults and reads the counters over IPC. Also a
// discard OTLP/HTTP receiver, for runs with Junction's tracing on (BENCH_OTEL=1).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createSendGridSimulator } from '../../src/simulators/sendgrid/simulator.js';
import { generateEventWebhookKeyPair } from '../../src/simulators/sendgrid/webhooks.js';
import type { FaultRule } from '../../src/simulators/shared/faults.js';
import type { Simulator } from '../../src/simulators/shared/simulator.js';
import { createStripeSimulator } from '../../src/simulators/stripe/simulator.js';
import { createTwilioSimulator } from '../../src/simulators/twilio/simulator.js';
import { createUsersSimulator } from '../../src/simulators/users/simulator.js';
import { failStartup, serveParent } from './lib/child.js';

export type ProviderName = 'users' | 'stripe' | 'twilio' | 'sendgrid';

export interface SimsInfo {
  users: { url: string; tokenUrl: string; clientId: string; clientSecret: string };
  stripe: { url: string; secretKey: string };
  twilio: { url: string; accountSid: string; authToken: string; fromNumber: string };
  sendgrid: { url: string; apiKey: string; webhookPublicKey: string };
  /** Accepts OTLP/HTTP exports (any path) and discards them. */
  otlp: { url: string };
}

/** Upstream calls by provider and route since the last reset (OAuth token calls are listed apart). */
export type Counts = Record<ProviderName, { total: number; byRoute: Record<string, number> }>;

async function main(): Promise<void> {
  const users = createUsersSimulator({ seedCount: 1000 });
  const stripe = createStripeSimulator({ seedUsers: 1000 });
  const twilio = createTwilioSimulator({ seedUsers: 1000 });
  const sendgrid = createSendGridSimulator({});
  const sims: Record<ProviderName, Simulator> = { users, stripe, twilio, sendgrid };
  const [usersUrl, stripeUrl, twilioUrl, sendgridUrl] = await Promise.all([
    users.start(),
    stripe.start(),
    twilio.start(),
    sendgrid.start(),
  ]);
  let exports = { requests: 0, bytes: 0 };
  const otlp = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      exports.bytes += chunk.length;
    });
    req.on('end', () => {
      exports.requests += 1;
      res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/json') });
      res.end();
    });
  });
  await new Promise<void>((resolve) => otlp.listen(0, '127.0.0.1', resolve));
  const keys = generateEventWebhookKeyPair();
  const info: SimsInfo = {
    users: {
      url: usersUrl,
      tokenUrl: `${usersUrl}/oauth/token`,
      clientId: users.credentials.clientId,
      clientSecret: users.credentials.clientSecret,
    },
    stripe: { url: stripeUrl, secretKey: stripe.secretKey },
    twilio: {
      url: twilioUrl,
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      fromNumber: twilio.fromNumber,
    },
    sendgrid: { url: sendgridUrl, apiKey: sendgrid.apiKey, webhookPublicKey: keys.publicKey },
    otlp: { url: `http://127.0.0.1:${(otlp.address() as AddressInfo).port}` },
  };

  const counts = (): Counts => {
    const out = {} as Counts;
    for (const [name, sim] of Object.entries(sims) as [ProviderName, Simulator][]) {
      const byRoute: Record<string, number> = {};
      for (const r of sim.requests) {
        // The users batch and page share a route: tell them apart by the query.
        const route =
          r.route === 'GET /users' ? (r.query.has('ids') ? 'GET /users?ids' : 'GET /users?limit') : r.route;
        const key = route ?? `unmatched ${r.method} ${r.path}`;
        byRoute[key] = (byRoute[key] ?? 0) + 1;
      }
      out[name] = { total: sim.requests.length, byRoute };
    }
    return out;
  };
  const reset = () => {
    for (const sim of Object.values(sims)) sim.resetCounters();
  };
  // Request records are kept for counting; under sustained load, drop them every few seconds
  // unless a count is being taken (the runner resets before each counted phase).
  let keepRecords = false;
  const trim = setInterval(() => {
    if (!keepRecords) reset();
  }, 2_000);
  trim.unref();

  serveParent(
    { info },
    {
      counts: (m) => {
        const result = counts();
        if (m.reset === true) reset();
        return result;
      },
      reset: (m) => {
        reset();
        keepRecords = m.keep === true;
        return true;
      },
      /** What the discard OTLP receiver got since the last call. */
      otlpExports: () => {
        const got = exports;
        exports = { requests: 0, bytes: 0 };
        return got;
      },
      faults: (m) => {
        const rules = (m.rules ?? {}) as Partial<Record<ProviderName, FaultRule[]>>;
        for (const [name, sim] of Object.entries(sims) as [ProviderName, Simulator][]) {
          sim.faults.clear();
          for (const rule of rules[name] ?? []) sim.faults.add(rule);
        }
        return true;
      },
    },
    async () => {
      clearInterval(trim);
      otlp.closeAllConnections();
      otlp.close();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  );
}

main().catch(failStartup);
