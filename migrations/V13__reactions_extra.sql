-- Readers' reactions and what a post is besides its text and media (a poll, a place, a
-- contact), kept as they came so that nothing a channel posted is lost (issue #22):
--   posts.reactions        TEXT     JSON array of {emoji | custom_emoji_id | paid, count};
--                                   NULL when none are known
--   posts.reactions_total  INTEGER  their sum, for `sort:top` and `best` replays (default 0)
--   posts.extra            TEXT     JSON object (model::Extra); NULL when there is nothing
-- and the index posts_by_reactions(reactions_total DESC) WHERE reactions_total > 0.
-- SQLite has no ADD COLUMN IF NOT EXISTS, and migrations must be safe to apply again: the
-- columns and the index are added by `store::add_post_columns`, which runs after this file.
SELECT 1;
