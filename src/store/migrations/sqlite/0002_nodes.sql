-- The search nodes serving from this database, as each last reported itself: the index
-- epoch its index was built for and the last change it applied.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    index_epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
) WITHOUT ROWID;
