-- The phrase index (src/store/phrases/): for each post, the adjacent pairs of the
-- archive's commonest stems as single tokens (`обучен·с`), so that a phrase made only
-- of common words is a lookup of its pairs instead of a walk of the position lists of
-- nearly every post. Built in the background, oldest posts first, up to the post id
-- in meta 'pairs_upto'; newer posts are matched in posts_fts.
CREATE VIRTUAL TABLE IF NOT EXISTS pairs_fts USING fts5(
    title, body,
    content = '', contentless_delete = 1,
    tokenize = "ascii"
);
-- The stems whose pairs are indexed, chosen once for the index (meta 'pairs_chosen_at'
-- is the highest post id then): a phrase of stems all in this set can use the index.
CREATE TABLE IF NOT EXISTS pair_stems (
    stem  TEXT PRIMARY KEY
) WITHOUT ROWID;
