-- Billing: usage metered from events (one counter per workspace, metric and month) and the
-- invoices computed from it. Plans and prices live in code (rivergen/billing/plans.py); an
-- organization's plan is organizations.plan (0003).

CREATE TABLE usage_counters (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    metric text NOT NULL CHECK (metric IN ('storage_bytes', 'compute_seconds', 'requests')),
    -- First day of the month (UTC) the usage occurred in.
    period date NOT NULL CHECK (extract(day FROM period) = 1),
    -- storage_bytes holds the month's net change (deltas may be negative): bytes stored at
    -- the end of a month are the sum over every month up to it.
    quantity numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, metric, period)
);
CREATE INDEX usage_counters_org_idx ON usage_counters (organization_id, metric, period);

CREATE TABLE invoices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    period date NOT NULL CHECK (extract(day FROM period) = 1),
    plan text NOT NULL CHECK (plan IN ('free', 'standard', 'premium')),
    lines jsonb NOT NULL,
    total numeric(14, 2) NOT NULL,
    currency text NOT NULL DEFAULT 'USD',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, period)
);

-- Grants to rivergen_app come from 0003's ALTER DEFAULT PRIVILEGES (same owner role runs
-- every migration). Invoices are organization-wide and carry no workspace: no tenant policy.
ALTER TABLE usage_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY usage_counters_tenant ON usage_counters TO rivergen_app
    USING (workspace_id = app_workspace_id());
-- Plans and quotas belong to the organization, so a tenant transaction may read (never
-- write) the counters of its organization's other workspaces to sum them.
CREATE POLICY usage_counters_organization_read ON usage_counters FOR SELECT TO rivergen_app
    USING (organization_id = (SELECT organization_id FROM workspaces
                              WHERE id = app_workspace_id()));
