// Per-request Twilio loader: one list call per distinct (number, page) per operation.
import DataLoader from 'dataloader';
import type { Message } from '../../models/messaging.js';
import type { CallContext } from '../../upstream/callContext.js';
import type { UpstreamPage } from '../../upstream/pagination.js';
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
  return new DataLoader<MessagesPageKey, UpstreamPage<Message>, string>(
    (keys) =>
      Promise.all(
        keys.map((k) =>
          client
            .listMessagesTo(k.to, { limit: k.limit, pageToken: k.pageToken }, ctx)
            .catch((e: unknown) => e as Error),
        ),
      ),
    { cacheKeyFn: (k) => `${k.to}|${k.limit}|${k.pageToken ?? ''}` },
  );
}
