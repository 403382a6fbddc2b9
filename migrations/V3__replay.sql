-- Scheduled replays: jobs, their delivery runs, each run's parts.

CREATE TABLE replay_jobs (
    id          INTEGER PRIMARY KEY,
    -- 'random', 'next', or a post id
    target      TEXT NOT NULL,
    -- 'once', 'every <seconds>', 'daily HH:MM', 'cron <5 fields>'
    schedule    TEXT NOT NULL,
    -- unix seconds of the next occurrence; NULL when nothing more is due
    next_run    INTEGER,
    -- active | done | failed | missed | cancelled
    state       TEXT NOT NULL DEFAULT 'active',
    created_by  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX replay_jobs_due ON replay_jobs(next_run, id) WHERE state = 'active' AND next_run IS NOT NULL;

-- One delivery of one occurrence of a job.
CREATE TABLE replay_runs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES replay_jobs(id) ON DELETE CASCADE,
    due         INTEGER NOT NULL,
    post_id     INTEGER,
    title       TEXT,
    chat        TEXT NOT NULL,
    -- sending | sent | failed | missed | uncertain
    state       TEXT NOT NULL,
    reason      TEXT,
    finished_at INTEGER
);
CREATE INDEX replay_runs_state ON replay_runs(state);

-- The messages of a run, fixed when the run starts. A part is marked
-- 'sending' before its request and 'sent' (with its message id) after; a part
-- found 'sending' after a crash has an unknown fate and is never resent.
CREATE TABLE replay_parts (
    run_id      INTEGER NOT NULL REFERENCES replay_runs(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    html        TEXT NOT NULL,
    -- pending | sending | sent | unknown
    state       TEXT NOT NULL DEFAULT 'pending',
    message_id  INTEGER,
    PRIMARY KEY (run_id, idx)
);

-- When each post was last replayed (for `random` and `next`).
CREATE TABLE replay_history (
    post_id     INTEGER PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    last_at     INTEGER NOT NULL,
    times       INTEGER NOT NULL
);
