// Per-request Twilio loader: one list call per distinct (number, page) per operation.
import type DataLoader from 'dataloader';
import type { Message } from '../../models/messaging.js';
import type { CallContext } from '../../upstream/callContext.js';
import type { UpstreamPage } from '../../upstream/pagination.js';
import { perKeyLoader } from '../perKeyLoader.js';
import type { TwilioClient } from './client.js';

export interface MessagesPageKey {
  to: string;
  limit: number;
  pageToken: string | null;
}

export function createMessagesLoader(
  client: TwilioClient,
  ctx: CallContext,
): DataLoader<MessagesPageKey, UpstreamPage<Message>, string> {
  return perKeyLoader(
    (k: MessagesPageKey) => client.listMessagesTo(k.to, { limit: k.limit, pageToken: k.pageToken }, ctx),
    (k) => `${k.to}|${k.limit}|${k.pageToken ?? ''}`,
  );
}
