-- The language each admin last wrote to the bot in, so that the replay worker's
-- alerts (sent when no message is being answered) speak it.
CREATE TABLE user_langs (
    user_id  INTEGER PRIMARY KEY,
    lang     TEXT NOT NULL,
    seen_at  INTEGER NOT NULL
);
