-- Prompt Studio: the governance each execution was computed under, so its rows are shown only to
-- readers whose policies make the same of the same datasets (others see the question, plan and
-- SQL, and run it again for themselves), and which execution a rerun ran again.
--
-- governance: {"datasets": {"<dataset id>": "<fingerprint>"}}, the fingerprint of what the
-- executing caller's policies made of each dataset whose data the execution's results hold
-- (rivergen/agents/psa/history.py). NULL: kept before this column existed (its rows are shown to
-- nobody).
ALTER TABLE prompt_executions ADD COLUMN governance jsonb;
ALTER TABLE prompt_executions
    ADD COLUMN rerun_of uuid REFERENCES prompt_executions (id) ON DELETE SET NULL;
