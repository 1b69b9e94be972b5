-- People's reports of a group (SPEC §7): one open report per person per group; an admin's
-- decision on the group closes its open reports. Who reported is never shown.
CREATE TABLE reports (
    group_id INTEGER NOT NULL,
    reporter_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    note TEXT NOT NULL,
    at INTEGER NOT NULL,
    closed_at INTEGER,
    PRIMARY KEY (group_id, reporter_id)
);
CREATE INDEX reports_by_reporter ON reports (reporter_id, at);
