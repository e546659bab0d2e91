// Per-request loaders: one account read per connected user per operation.
import type DataLoader from 'dataloader';
import type { CodeHostAccount } from '../../models/codeHosting.js';
import type { CallContext } from '../../upstream/callContext.js';
import { perKeyLoader } from '../perKeyLoader.js';
import type { GitHubClient } from './client.js';

export interface CodeHostingLoaders {
  /** The account a Junction user connected, by user id (rejects with AccountError when there is none). */
  codeHostAccount: DataLoader<string, CodeHostAccount>;
}

export function createCodeHostingLoaders(client: GitHubClient, ctx: CallContext): CodeHostingLoaders {
  return { codeHostAccount: perKeyLoader((userId: string) => client.getViewerAccount(userId, ctx)) };
}
