-- Prompt Studio conversations: executions asked one after another, each follow-up read
-- against the one before. Each execution keeps how it was read (`reading`: the phrases
-- understood, the SQL, the semantic layer entries used, a clarifying question and its
-- options), and an execution may end asking which reading was meant.
CREATE TABLE prompt_conversations (
    id uuid PRIMARY KEY,
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    title text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prompt_conversations_workspace_idx
    ON prompt_conversations (workspace_id, created_at DESC, id DESC);

ALTER TABLE prompt_executions
    ADD COLUMN conversation_id uuid REFERENCES prompt_conversations (id) ON DELETE CASCADE,
    ADD COLUMN reading jsonb;
CREATE INDEX prompt_executions_conversation_idx
    ON prompt_executions (conversation_id, created_at, id) WHERE conversation_id IS NOT NULL;

ALTER TABLE prompt_executions DROP CONSTRAINT prompt_executions_status_check;
ALTER TABLE prompt_executions ADD CONSTRAINT prompt_executions_status_check CHECK (status IN (
    'running', 'completed', 'not_understood', 'needs_clarification', 'awaiting_confirmation',
    'confirming', 'failed'
));

ALTER TABLE prompt_conversations ENABLE ROW LEVEL SECURITY;
CREATE POLICY prompt_conversations_tenant ON prompt_conversations TO rivergen_app
    USING (workspace_id = app_workspace_id());
