// Junction's SendGrid mail/send body validates against SendGrid's own published description.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { toMailSendBody } from '../../src/providers/sendgrid/client.js';

const spec = JSON.parse(
  readFileSync(new URL('../../../shared/providers/sendgrid/oai.json', import.meta.url), 'utf8'),
);
const bodyParam = spec.paths['/mail/send'].post.parameters.find((p: { in: string }) => p.in === 'body');

function validator() {
  // Swagger 2: the schema refers to #/definitions/...; give Ajv the same root.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ definitions: spec.definitions }, 'sendgrid');
  const schema = JSON.parse(
    JSON.stringify(bodyParam.schema).replaceAll('"#/definitions/', '"sendgrid#/definitions/'),
  );
  return ajv.compile(schema);
}

describe('SendGrid /mail/send contract', () => {
  const validate = validator();

  it.each([
    ['text only', { to: 'a@example.com', from: 'noreply@junction.dev', subject: 'Hi', text: 'Hello' }],
    [
      'html only, with a name and custom args',
      {
        to: 'a@example.com',
        toName: 'Ada L',
        from: 'noreply@junction.dev',
        subject: 'Hi',
        html: '<b>Hello</b>',
        customArgs: { user_id: 'usr_0001' },
      },
    ],
    [
      'text and html',
      {
        to: 'a@example.com',
        from: 'noreply@junction.dev',
        subject: 'Hi',
        text: 'Hello',
        html: '<p>Hello</p>',
      },
    ],
  ])('accepts the body Junction builds: %s', (_name, request) => {
    const body = toMailSendBody(request);
    const ok = validate(body);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('is a real check: a body without personalizations fails it', () => {
    const { personalizations: _p, ...broken } = toMailSendBody({
      to: 'a@example.com',
      from: 'x@y.z',
      subject: 's',
      text: 't',
    });
    expect(validate(broken)).toBe(false);
  });
});
