-- The search nodes serving from this database, as each last reported itself: the index
-- epoch its index was built for and the last change it applied.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY,
    index_epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
