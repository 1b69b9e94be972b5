-- The source of truth. Everything the index holds is derived from these tables.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    nickname TEXT NOT NULL,
    gender TEXT NOT NULL,
    birth_year INTEGER,
    tier TEXT NOT NULL DEFAULT 'normal',
    show_joined_groups INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE follows (
    src INTEGER NOT NULL,
    dst INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (src, dst)
) WITHOUT ROWID;
CREATE INDEX follows_dst ON follows (dst, src);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    announcement TEXT NOT NULL DEFAULT '',
    lat REAL,
    lon REAL,
    place_name TEXT,
    city TEXT,
    district TEXT,
    adcode INTEGER NOT NULL DEFAULT 0,
    join_approval INTEGER NOT NULL,
    members_can_invite INTEGER NOT NULL,
    discoverable INTEGER NOT NULL DEFAULT 1,
    capacity INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    dissolved_at INTEGER,
    -- Membership statistics, kept in the same transaction as every membership change.
    member_count INTEGER NOT NULL DEFAULT 0,
    female_count INTEGER NOT NULL DEFAULT 0,
    birth_sum INTEGER NOT NULL DEFAULT 0,
    birth_n INTEGER NOT NULL DEFAULT 0,
    -- Activity statistics for the day `stats_day` (days since 0001-01-01, the "yesterday").
    yesterday_messages INTEGER NOT NULL DEFAULT 0,
    active_members INTEGER NOT NULL DEFAULT 0,
    stats_day INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX groups_owner ON groups (owner_id) WHERE dissolved_at IS NULL;

CREATE TABLE members (
    group_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    role TEXT NOT NULL,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id, group_id);

CREATE TABLE join_requests (
    group_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX join_requests_user ON join_requests (user_id, group_id);

-- Daily buckets of messages per (group, day, user); day = days since 0001-01-01 in the
-- service timezone.
CREATE TABLE activity (
    group_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (group_id, day, user_id)
) WITHOUT ROWID;
CREATE INDEX activity_day ON activity (day, group_id);

-- Event ids already applied, so that a retried batch counts once.
CREATE TABLE activity_events (event_id TEXT PRIMARY KEY) WITHOUT ROWID;

-- The daily roll-up history: one row per group with activity on that day.
CREATE TABLE daily_stats (
    group_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    active_members INTEGER NOT NULL,
    PRIMARY KEY (day, group_id)
) WITHOUT ROWID;

-- The outbox the indexer tails: one row per write that affects a group.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL,
    at INTEGER NOT NULL
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
