// A connected account as GraphQL shows it: never a token. Admins reading another user see the
// provider and the status only (the other fields are null).

export interface ConnectedAccountView {
  /** Provider id, lower case (`connectedAccounts` turns it into the enum value). */
  provider: string;
  status: 'ACTIVE' | 'RECONNECT_REQUIRED';
  login: string | null;
  scopes: string[] | null;
  connectedAt: Date | null;
}
