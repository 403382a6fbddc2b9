-- The index holds only our own analysis (src/search/text.rs): folded stems of
-- letters and digits joined by single spaces. FTS5's `ascii` tokenizer splits
-- that text exactly where `unicode61` does (every non-ASCII character is part of
-- a token, the space is the only separator present) at a fraction of the cost:
-- unicode61's category and case tables were a fifth of an import.
-- The table is contentless, so its rows are rebuilt from `posts` by the store
-- right after this script, in the same transaction (see `store::migrate`).
DROP TABLE posts_vocab;
DROP TABLE posts_fts;
CREATE VIRTUAL TABLE posts_fts USING fts5(
    title, body,
    content = '', contentless_delete = 1,
    tokenize = "ascii"
);
CREATE VIRTUAL TABLE posts_vocab USING fts5vocab(posts_fts, row);
