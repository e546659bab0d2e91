-- Connected accounts and the OAuth states of flows in progress. Tokens and verifiers are stored
-- only as ciphertexts (crypto.ts: `v1.<key id>.<nonce>.<ciphertext+tag>`); `key_id` names the key
-- every ciphertext of the row was made with, so re-encryption finds the rows still on an old key.

CREATE TABLE connected_accounts (
  user_id            text        NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
  provider           text        NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_-]{0,31}$'),
  external_id        text        NOT NULL CHECK (length(external_id) BETWEEN 1 AND 256),
  login              text        NOT NULL CHECK (length(login) <= 256),
  scopes             text[]      NOT NULL DEFAULT '{}',
  status             text        NOT NULL CHECK (status IN ('ACTIVE', 'RECONNECT_REQUIRED')),
  key_id             text        NOT NULL,
  access_token_ct    text        NOT NULL,
  refresh_token_ct   text,
  access_expires_at  timestamptz,
  refresh_expires_at timestamptz,
  connected_at       timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  PRIMARY KEY (user_id, provider)
);

CREATE INDEX connected_accounts_key_id ON connected_accounts (key_id);

-- One row per authorization begun and not yet completed. The state itself is never stored: only
-- its SHA-256, so a database reader cannot complete someone's flow.
CREATE TABLE oauth_states (
  state_hash       text        PRIMARY KEY,
  user_id          text        NOT NULL CHECK (length(user_id) BETWEEN 1 AND 256),
  provider         text        NOT NULL,
  key_id           text        NOT NULL,
  code_verifier_ct text        NOT NULL,
  return_to        text        NOT NULL,
  expires_at       timestamptz NOT NULL,
  created_at       timestamptz NOT NULL
);

CREATE INDEX oauth_states_user ON oauth_states (user_id, created_at);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);
