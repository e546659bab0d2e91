-- The callback URL a flow was begun with (Junction may be reached under several loopback names in
-- demo mode, and the browser-binding cookie lives on one of them): the code exchange must send the
-- same one. NULL for flows begun before this migration: the provider's default is used.
ALTER TABLE oauth_states ADD COLUMN redirect_uri text CHECK (redirect_uri IS NULL OR length(redirect_uri) <= 2048);

-- Webhooks name provider accounts, not Junction users: find the users connected to one.
CREATE INDEX connected_accounts_external ON connected_accounts (provider, external_id);
