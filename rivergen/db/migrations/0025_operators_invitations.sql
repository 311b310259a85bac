-- Accounts and tenancy: platform operators apart from workspace roles, invitations that wait
-- for the invitee's answer, and the default workspace a person chose.

-- Platform operators read and act on the cluster as a whole (nodes, every tenant's
-- deployments); no workspace role grants that. Granted with `rivergen operators add EMAIL`
-- (or the setting RIVERGEN_AUTH__OPERATORS).
CREATE TABLE platform_operators (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now()
);

-- An invitation is pending until its invitee accepts or declines it; registering with an
-- invited email no longer joins the workspace by itself.
ALTER TABLE invitations ADD COLUMN declined_at timestamptz;
DROP INDEX invitations_open_key;
CREATE UNIQUE INDEX invitations_open_key ON invitations (workspace_id, lower(email))
    WHERE accepted_at IS NULL AND declined_at IS NULL;
CREATE INDEX invitations_email_idx ON invitations (lower(email))
    WHERE accepted_at IS NULL AND declined_at IS NULL;

-- The workspace a person's sign-ins default to: their personal one until they pick another
-- (never the oldest membership, which a stranger's invitation could be).
ALTER TABLE users
    ADD COLUMN default_workspace_id uuid REFERENCES workspaces (id) ON DELETE SET NULL;
UPDATE users u SET default_workspace_id = (
    SELECT w.id FROM workspaces w
    WHERE w.organization_id = u.personal_organization_id AND w.created_by = u.id
    ORDER BY w.created_at, w.id LIMIT 1
);
