-- Notification Service: every event shown to people, kept so a client that reconnects can catch
-- up (`GET /api/v1/notifications?since=<id>`); Redis pub/sub alone is at-most-once.
-- `id` is the catch-up cursor; `event_id` makes a redelivered event one row; `emitted_at` is
-- set once the event went out to the Socket.io rooms, so a redelivery never emits it twice.
-- No foreign key to workspaces: an event for a workspace deleted meanwhile must not stop the
-- bridge.
CREATE TABLE notifications (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    workspace_id uuid NOT NULL,
    event text NOT NULL,
    type text NOT NULL,
    data jsonb NOT NULL,
    occurred_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    emitted_at timestamptz
);
CREATE INDEX notifications_workspace_idx ON notifications (workspace_id, id);

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY notifications_tenant ON notifications TO rivergen_app
    USING (workspace_id = app_workspace_id());
