-- The media of a replay part: the photos, videos or files it sends (one file, or one
-- album), as JSON; a part without a row here is a text message. Fixed when the run
-- starts, like the part's text (its caption here).

-- IF NOT EXISTS, and a table rather than a column of replay_parts: a store whose
-- user_version was wound back (tests of older upgrades do that) applies this again.
CREATE TABLE IF NOT EXISTS replay_part_media (
    run_id  INTEGER NOT NULL,
    idx     INTEGER NOT NULL,
    media   TEXT NOT NULL,
    PRIMARY KEY (run_id, idx),
    FOREIGN KEY (run_id, idx) REFERENCES replay_parts(run_id, idx) ON DELETE CASCADE
) WITHOUT ROWID;
