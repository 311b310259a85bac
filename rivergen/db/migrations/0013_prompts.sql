-- Prompt Studio: each execution of a prompt (its turns, answer, explanation, and the writes
-- waiting for a confirmation), and the prompts a workspace keeps to run again.
CREATE TABLE prompt_executions (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    question text NOT NULL,
    status text NOT NULL DEFAULT 'running' CHECK (status IN (
        'running', 'completed', 'not_understood', 'awaiting_confirmation', 'confirming', 'failed'
    )),
    turns jsonb NOT NULL DEFAULT '[]',
    answer text,
    explanation jsonb,
    pending jsonb NOT NULL DEFAULT '[]',
    steps jsonb NOT NULL DEFAULT '[]',
    provider text,
    error jsonb,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    confirmed_by text,
    confirmed_at timestamptz
);
CREATE INDEX prompt_executions_workspace_idx
    ON prompt_executions (workspace_id, created_at DESC, id DESC);

CREATE TABLE saved_prompts (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name text NOT NULL,
    question text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX saved_prompts_workspace_idx ON saved_prompts (workspace_id, created_at DESC, id DESC);

ALTER TABLE prompt_executions ENABLE ROW LEVEL SECURITY;
CREATE POLICY prompt_executions_tenant ON prompt_executions TO rivergen_app
    USING (workspace_id = app_workspace_id());
ALTER TABLE saved_prompts ENABLE ROW LEVEL SECURITY;
CREATE POLICY saved_prompts_tenant ON saved_prompts TO rivergen_app
    USING (workspace_id = app_workspace_id());
