-- Media: the photos, videos and files of posts, and the uploads the bot made of them.

-- Every statement is IF NOT EXISTS: a store whose user_version was wound back (tests of
-- older upgrades do that) applies this again without failing.

-- A live album arrives as one channel_post per item, sharing Telegram's media_group_id:
-- the parts find their post through it. (A table, not a column of posts: ALTER TABLE
-- ADD COLUMN cannot be applied twice.)
CREATE TABLE IF NOT EXISTS post_groups (
    channel_id  INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    media_group TEXT NOT NULL,
    post_id     INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, media_group)
) WITHOUT ROWID;

-- A post's media, in album order (position 0 first).
CREATE TABLE IF NOT EXISTS post_media (
    post_id        INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    -- photo, video, animation, document, audio, voice, video_note, sticker
    kind           TEXT NOT NULL,
    -- The file's name in the media folder (content hash + extension); NULL for a live
    -- item known by its file_id only, or a missing one.
    file           TEXT,
    -- 1 when the export named a file it did not include.
    missing        INTEGER NOT NULL DEFAULT 0,
    file_id        TEXT,
    file_unique_id TEXT,
    file_name      TEXT,
    mime_type      TEXT,
    size           INTEGER,
    width          INTEGER,
    height         INTEGER,
    duration       INTEGER,
    -- The message that carried this item (an album's items are messages of their own).
    message_id     INTEGER,
    PRIMARY KEY (post_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS post_media_message ON post_media(message_id) WHERE message_id IS NOT NULL;

-- The file_id Telegram gave a bot for a file it uploaded: later sends use it, no re-upload.
CREATE TABLE IF NOT EXISTS media_uploads (
    file    TEXT NOT NULL,     -- post_media.file
    bot_id  INTEGER NOT NULL,  -- the bot's user id (the token's first part)
    file_id TEXT NOT NULL,
    PRIMARY KEY (file, bot_id)
) WITHOUT ROWID;
