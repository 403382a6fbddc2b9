//! What an archive has for the query language's operators to match: dated posts, media of
//! each kind, hashtags. The help's examples are taken from it (a year the archive covers,
//! a hashtag it uses), and a search that finds nothing because an operator cannot match
//! anything here says so, instead of a bare "nothing found".

use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use rustc_hash::FxHashMap;

use super::exec::{HASHTAGGED, hashtags_of, media_kinds};
use super::{MediaKind, Parsed};
use crate::i18n::Lang;
use crate::model::from_unix;
use crate::store::{Archive, Result};

/// How many of the newest posts with hashtags the example hashtag is drawn from.
const HASHTAG_POSTS: i64 = 200;

/// What an archive has (see the module's doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The first and the last date of its posts; `None` when no post has a date.
    pub dates: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The media kinds its posts carry, in the order photo, video, file.
    pub media: Vec<MediaKind>,
    /// The commonest hashtag of its newest posts that have one (folded, without `#`).
    pub hashtag: Option<String>,
}

/// The first and the last date of the archive's posts (the date index's ends).
fn dates(archive: &Archive) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    let (first, last): (Option<i64>, Option<i64>) =
        archive.conn().query_row("SELECT min(date), max(date) FROM posts", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(from_unix(first).zip(from_unix(last)))
}

/// Whether any post carries media of `kind`.
fn has_media(archive: &Archive, kind: MediaKind) -> Result<bool> {
    let sql = format!("SELECT 1 FROM post_media WHERE kind IN ({}) LIMIT 1", media_kinds(kind));
    Ok(archive.conn().query_row(&sql, [], |_| Ok(())).optional()?.is_some())
}

impl Facts {
    pub fn read(archive: &Archive) -> Result<Facts> {
        let conn = archive.conn();
        let dates = dates(archive)?;
        let mut media = Vec::new();
        for kind in [MediaKind::Photo, MediaKind::Video, MediaKind::File] {
            if has_media(archive, kind)? {
                media.push(kind);
            }
        }
        let mut counts: FxHashMap<String, usize> = FxHashMap::default();
        let sql = format!(
            "SELECT body, entities FROM posts WHERE id IN ({HASHTAGGED}) ORDER BY id DESC LIMIT {HASHTAG_POSTS}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (body, entities): (String, String) = (row.get(0)?, row.get(1)?);
            let mut tags = hashtags_of(&body, &entities);
            tags.sort_unstable();
            tags.dedup();
            for tag in tags {
                *counts.entry(tag).or_default() += 1;
            }
        }
        // The commonest; among equals the first alphabetically, so the help is stable.
        let hashtag = counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))).map(|(t, _)| t);
        Ok(Facts { dates, media, hashtag })
    }
}

/// Why a query's operators cannot match anything in this archive (in `lang`), one line
/// each; empty when they can (and the query found nothing for other reasons).
pub(super) fn impossible(archive: &Archive, parsed: &Parsed, lang: Lang) -> Result<Vec<String>> {
    let t = lang.texts();
    let mut why = Vec::new();
    if parsed.from.is_none() && parsed.to.is_none() && parsed.has.is_none() {
        return Ok(why);
    }
    // Only what the query's operators need: reading the hashtags (for the help) would
    // read every post that has one.
    if (parsed.from.is_some() || parsed.to.is_some()) && dates(archive)?.is_none() {
        why.push(t.no_dated_posts.to_string());
    }
    if let Some(kind) = parsed.has
        && !has_media(archive, kind)?
    {
        why.push(
            match kind {
                MediaKind::Photo => t.no_photo_posts,
                MediaKind::Video => t.no_video_posts,
                MediaKind::File => t.no_file_posts,
            }
            .to_string(),
        );
    }
    Ok(why)
}
