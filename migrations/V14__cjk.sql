-- Chinese, Japanese and Korean runs are indexed as their overlapping bigrams (src/text/mod.rs
-- `grams`) instead of one token a run. Nothing for SQL to do: the store re-indexes the posts
-- that have CJK letters right after this script, in the same transaction
-- (`store::import::reindex_cjk`).
SELECT 1;
