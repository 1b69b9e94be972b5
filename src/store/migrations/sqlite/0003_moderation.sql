-- Moderation (SPEC §5): the status on the group row, for discovery to filter on, and the
-- finding behind it; every decision is kept.
ALTER TABLE groups ADD COLUMN moderation TEXT NOT NULL DEFAULT 'clear';
CREATE TABLE moderation (
    group_id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX moderation_status ON moderation (status, at, group_id);
CREATE TABLE moderation_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX moderation_log_group ON moderation_log (group_id, at);
