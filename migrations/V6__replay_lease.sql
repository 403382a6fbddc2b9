-- The delivery lease: at most one replay worker delivers, even when several
-- processes (two bots by mistake) share the store. A worker takes the row when it
-- is missing or expired, renews it while it runs and deletes it when it stops;
-- every delivery write is conditional on holding it (see src/replay/jobs.rs).
-- Times are unix milliseconds of the system clock.
CREATE TABLE replay_lease (
    -- one lease for all replays: 'delivery'
    name          TEXT PRIMARY KEY,
    -- the worker holding it: pid and a random suffix, unique per worker
    owner         TEXT NOT NULL,
    acquired_at   INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
