-- Events: the transactional outbox (state change and event commit together; a relay publishes)
-- and the consumers' record of what they processed (a redelivery never repeats a side effect).

CREATE TABLE event_outbox (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL UNIQUE,
    topic text NOT NULL,
    key text,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

-- The relay's queue: only rows still to publish, in id order.
CREATE INDEX event_outbox_unpublished ON event_outbox (id) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
