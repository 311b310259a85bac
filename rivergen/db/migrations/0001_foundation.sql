-- Foundation: workspaces (the tenant key of every row) and the tenant context function.
-- gen_random_uuid() is built in since Postgres 13 (no pgcrypto: the embedded build lacks it).

CREATE TABLE workspaces (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The application role's tenant context: set per transaction with
-- set_config('app.workspace_id', $1, true); NULL outside a tenant transaction.
CREATE OR REPLACE FUNCTION app_workspace_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('app.workspace_id', true), '')::uuid
$$;
