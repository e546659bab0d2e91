// Twilio's REST errors: `{code, message, more_info, status}` with Twilio's docs link for the code,
// thrown from handlers as TwilioApiError; injected fault statuses get the same shape.
import { SimHttpError } from '../shared/wire.js';

/** Twilio's REST error body. */
export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

/** A Twilio REST error; the simulator answers it with its status, body and headers. */
export class TwilioApiError extends SimHttpError {
  readonly code: number;
  constructor(status: number, code: number, message: string, headers: Record<string, string> = {}) {
    super(status, message, twilioErrorBody(status, code, message), headers);
    this.name = 'TwilioApiError';
    this.code = code;
  }
}

export function twilioError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): TwilioApiError {
  return new TwilioApiError(status, code, message, headers);
}

/** Twilio's body for an injected fault status (code 20000 + status, as Twilio's 20xxx family). */
export function twilioFaultError(status: number): { body: TwilioErrorBody } {
  return { body: twilioErrorBody(status, 20000 + status, faultMessage(status)) };
}

function twilioErrorBody(status: number, code: number, message: string): TwilioErrorBody {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

function faultMessage(status: number): string {
  if (status === 429) return 'Too Many Requests';
  if (status === 503) return 'Service Unavailable';
  if (status >= 500) return 'Internal Server Error';
  return `Simulated fault: status ${status}`;
}
