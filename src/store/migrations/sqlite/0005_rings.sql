-- Rings (SPEC §7): the handles (WeChat, QQ, phone, links, app ids) found in groups an admin
-- confirmed; any other group carrying one is held.
CREATE TABLE ring_handles (
    handle TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    group_id INTEGER NOT NULL,
    at INTEGER NOT NULL
);
