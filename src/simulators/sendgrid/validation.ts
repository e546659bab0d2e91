// Validation of a v3 Mail Send body the way SendGrid does it: every problem at once, each as
// `{message, field, help}` with SendGrid's own wording and the help link of its error table.

/** One entry of SendGrid's `errors` array. */
export interface SendGridFieldError {
  message: string;
  field: string | null;
  help: string | null;
}

export interface MailAddress {
  email: string;
  name?: string;
}

export interface MailPersonalization {
  to: MailAddress[];
  cc?: MailAddress[];
  bcc?: MailAddress[];
  subject?: string;
  custom_args?: Record<string, string>;
  [key: string]: unknown;
}

/** A Mail Send body that passed validation (the fields the simulator reads). */
export interface MailSendBody {
  personalizations: MailPersonalization[];
  from: MailAddress;
  subject?: string;
  content?: Array<{ type: string; value: string }>;
  template_id?: string;
  categories?: string[];
  custom_args?: Record<string, string>;
  mail_settings?: { sandbox_mode?: { enable?: boolean } };
  [key: string]: unknown;
}

const HELP = 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html';
const MAX_PERSONALIZATIONS = 1000;
const MAX_RECIPIENTS = 1000;

/** An address SendGrid would accept: one `@`, no spaces or angle brackets, a dotted domain. */
export function isValidEmail(value: unknown): value is string {
  return (
    typeof value === 'string' && /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]+$/.test(value)
  );
}

/** Every validation error of `body` (empty when it can be sent). */
export function validateMailSend(body: unknown): SendGridFieldError[] {
  if (!isObject(body)) return [{ message: 'Bad Request', field: null, help: null }];
  const errors: SendGridFieldError[] = [];
  const fail = (message: string, field: string | null, anchor: string | null) =>
    errors.push({ message, field, help: anchor === null ? null : `${HELP}#${anchor}` });

  const personalizations = body.personalizations;
  const hasTemplate = typeof body.template_id === 'string' && body.template_id !== '';
  let everyPersonalizationHasSubject = false;
  if (!Array.isArray(personalizations) || personalizations.length === 0) {
    fail(
      'The personalizations field is required and must have at least one personalization.',
      'personalizations',
      '-Personalizations-Errors',
    );
  } else if (personalizations.length > MAX_PERSONALIZATIONS) {
    fail(
      `The personalization block is limited to 1000 personalizations per API request. You have provided ${personalizations.length} personalizations. Please consider splitting this into multiple requests and resending your request.`,
      'personalizations',
      'message.personalizations',
    );
  } else {
    let recipients = 0;
    personalizations.forEach((p: unknown, i: number) => {
      const path = `personalizations.${i}`;
      if (!isObject(p) || !Array.isArray(p.to) || p.to.length === 0) {
        fail(
          'The to array is required for all personalization objects, and must have at least one email object with a valid email address.',
          `${path}.to`,
          'message.personalizations.to',
        );
        return;
      }
      const seen = new Map<string, string>();
      for (const kind of ['to', 'cc', 'bcc'] as const) {
        const list = p[kind];
        if (list === undefined) continue;
        if (!Array.isArray(list)) {
          fail(
            `Invalid type. Expected: array, given: ${jsonType(list)}.`,
            `${path}.${kind}`,
            `message.personalizations.${kind}`,
          );
          continue;
        }
        list.forEach((address: unknown, j: number) => {
          recipients += 1;
          const email = isObject(address) ? address.email : undefined;
          if (!isValidEmail(email)) {
            fail(
              'Does not contain a valid address.',
              `${path}.${kind}.${j}.email`,
              'message.personalizations',
            );
            return;
          }
          const key = email.toLowerCase();
          if (seen.has(key)) {
            fail(
              `Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [${email}] in the ${path}.${kind} field.`,
              path,
              'message.recipient-errors',
            );
          }
          seen.set(key, kind);
        });
      }
      if (p.custom_args !== undefined && !isStringMap(p.custom_args)) {
        fail('Custom args must be a map of strings.', `${path}.custom_args`, 'message.custom_args');
      }
    });
    if (recipients > MAX_RECIPIENTS) {
      fail(
        'There is a limit of 1000 total recipients (to + cc + bcc) per request.',
        'personalizations',
        'message.personalizations',
      );
    }
    everyPersonalizationHasSubject = personalizations.every(
      (p: unknown) => isObject(p) && typeof p.subject === 'string' && p.subject !== '',
    );
  }

  const from = body.from;
  if (!isObject(from) || from.email === undefined || from.email === '') {
    fail(
      'The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.  e.g. {"email" : "example@example.com"}  or {"email" : "example@example.com", "name" : "Example Recipient"}.',
      'from.email',
      'message.from',
    );
  } else if (!isValidEmail(from.email)) {
    fail('The from email does not contain a valid address.', 'from.email', 'message.from');
  }

  if (body.reply_to !== undefined && !(isObject(body.reply_to) && isValidEmail(body.reply_to.email))) {
    fail('The reply_to email does not contain a valid address.', 'reply_to.email', 'message.reply_to');
  }

  const subject = body.subject;
  if (subject !== undefined && (typeof subject !== 'string' || subject === '')) {
    fail('The subject must be a string at least one character in length.', 'subject', 'message.subject');
  } else if (subject === undefined && !hasTemplate && !everyPersonalizationHasSubject) {
    fail(
      'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.',
      'subject',
      'message.subject',
    );
  }

  validateContent(body.content, hasTemplate, fail);

  if (body.custom_args !== undefined && !isStringMap(body.custom_args)) {
    fail('Custom args must be a map of strings.', 'custom_args', 'message.custom_args');
  }
  if (body.categories !== undefined) {
    const categories = body.categories;
    if (!Array.isArray(categories) || !categories.every((c) => typeof c === 'string' && c !== '')) {
      fail('Categories must be an array of non-empty strings.', 'categories', 'message.categories');
    } else if (categories.length > 10) {
      fail(
        'Too many categories. You may only include up to 10 categories per email.',
        'categories',
        'message.categories',
      );
    }
  }
  return errors;
}

function validateContent(
  content: unknown,
  hasTemplate: boolean,
  fail: (message: string, field: string | null, anchor: string | null) => void,
): void {
  const missing =
    'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required.';
  if (content === undefined || (Array.isArray(content) && content.length === 0)) {
    if (!hasTemplate) fail(missing, 'content', 'message.content');
    return;
  }
  if (!Array.isArray(content)) {
    fail(`Invalid type. Expected: array, given: ${jsonType(content)}.`, 'content', 'message.content');
    return;
  }
  const types: Array<{ index: number; type: string }> = [];
  content.forEach((block: unknown, i: number) => {
    const type = isObject(block) ? block.type : undefined;
    const value = isObject(block) ? block.value : undefined;
    if (typeof type !== 'string' || type === '') {
      fail(
        'The content type must be a string at least one character in length.',
        `content.${i}.type`,
        'message.content.type',
      );
    } else {
      types.push({ index: i, type: type.toLowerCase() });
    }
    if (typeof value !== 'string' || value === '') {
      fail(
        'The content value must be a string at least one character in length.',
        `content.${i}.value`,
        'message.content.value',
      );
    }
  });
  if (!hasTemplate && !types.some(({ type }) => type === 'text/plain' || type === 'text/html')) {
    fail(missing, 'content', 'message.content');
  }
  // text/plain first, then text/html, then anything else.
  const rank = (t: string) => (t === 'text/plain' ? 0 : t === 'text/html' ? 1 : 2);
  const outOfOrder = types.find((t, k) => k > 0 && rank(t.type) < rank(types[k - 1]?.type ?? ''));
  if (outOfOrder !== undefined) {
    fail(
      'If present, text/plain content must be first, followed by text/html, followed by any other content.',
      `content.${outOfOrder.index}.type`,
      'message.content.type',
    );
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
}
