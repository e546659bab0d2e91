// Per-request users loader: memoizes within one operation and batches its loads.
import DataLoader from 'dataloader';
import type { User } from '../../models/user.js';
import type { CallContext } from '../../upstream/callContext.js';
import type { UsersClient } from './client.js';

export type UserLoader = DataLoader<string, User | null>;

export function createUserLoader(client: UsersClient, ctx: CallContext): UserLoader {
  return new DataLoader<string, User | null>((ids) => client.getUsers(ids, ctx), {
    maxBatchSize: client.maxBatch,
  });
}
