// What an injected fault does on the wire once faults.ts has chosen it: an error status, a reset, a
// hang or a malformed body in place of the handler's answer, or the handler's answer cut short.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FaultOutcome } from './faults.js';
import type { WireResponse } from './wire.js';
import { toWire, writePartial, writeWire } from './wire.js';

const MALFORMED_JSON_BODY = '{"data": [{"id": "malformed", "note": "this body is cut short';

/**
 * Answers in place of the handler when `outcome` replaces it (status, malformed, reset before the
 * response, hang). Returns true when the request needs nothing more; false lets the handler answer.
 */
export function answerInstead(
  outcome: FaultOutcome | undefined,
  socket: Socket,
  res: ServerResponse,
  baseHeaders: Record<string, string>,
): boolean {
  switch (outcome?.kind) {
    case 'hang':
      return true; // the server's close() destroys the socket
    case 'reset':
      if (outcome.when !== 'before-response') return false;
      socket.resetAndDestroy();
      return true;
    case 'status': {
      const body = outcome.body ?? (outcome.status >= 400 ? defaultFaultBody(outcome.status) : undefined);
      writeWire(res, toWire({ status: outcome.status, headers: outcome.headers, body }, baseHeaders));
      return true;
    }
    case 'malformed':
      res.writeHead(200, {
        ...baseHeaders,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(MALFORMED_JSON_BODY)),
      });
      res.end(MALFORMED_JSON_BODY);
      return true;
    default:
      return false;
  }
}

/** Writes the handler's answer whole, or spoiled as `outcome` asks (truncated, reset after the headers). */
export function writeAnswer(
  outcome: FaultOutcome | undefined,
  socket: Socket,
  res: ServerResponse,
  wire: WireResponse,
): void {
  if (outcome?.kind === 'truncate') {
    writePartial(res, wire, () => socket.end());
  } else if (outcome?.kind === 'reset') {
    // A short pause lets the client parse the headers before the reset arrives.
    writePartial(res, wire, () => setTimeout(() => socket.resetAndDestroy(), 20).unref());
  } else {
    writeWire(res, wire);
  }
}

function defaultFaultBody(status: number): unknown {
  return { error: { message: `simulated fault: status ${status}` } };
}
