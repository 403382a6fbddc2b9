//! A post's media rows (`post_media`), and the file ids the bot got for its uploads
//! (`media_uploads`).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use rustc_hash::FxHashMap;

use super::{Archive, Result};
use crate::model::{Media, MediaKind};

impl ToSql for MediaKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

/// An unknown kind is an error, not a default: it means a newer build wrote the row,
/// or the row is damaged, and sending it as a photo would fail anyway.
impl FromSql for MediaKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        MediaKind::parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown media kind {text:?}").into()))
    }
}

const MEDIA_COLUMNS: &str = "kind, file, missing, file_id, file_unique_id, file_name, mime_type, size, width, height,
                             duration, message_id";

fn media_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Media> {
    Ok(Media {
        kind: r.get(at)?,
        file: r.get(at + 1)?,
        missing: r.get(at + 2)?,
        file_id: r.get(at + 3)?,
        file_unique_id: r.get(at + 4)?,
        file_name: r.get(at + 5)?,
        mime_type: r.get(at + 6)?,
        size: r.get(at + 7)?,
        width: r.get(at + 8)?,
        height: r.get(at + 9)?,
        duration: r.get(at + 10)?,
        message_id: r.get(at + 11)?,
    })
}

/// The media of one post, in album order.
pub(super) fn media_of(conn: &Connection, post_id: i64) -> Result<Vec<Media>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {MEDIA_COLUMNS} FROM post_media WHERE post_id = ?1 ORDER BY position"))?;
    let rows = stmt.query_map([post_id], |r| media_from_row(r, 0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The media of several posts (ids bound as `?1..?n`), by post.
pub(super) fn media_of_posts(conn: &Connection, ids: &[i64], marks: &str) -> Result<FxHashMap<i64, Vec<Media>>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT post_id, {MEDIA_COLUMNS} FROM post_media WHERE post_id IN ({marks}) ORDER BY post_id, position"
    ))?;
    let mut rows = stmt.query(params_from_iter(ids))?;
    let mut out: FxHashMap<i64, Vec<Media>> = FxHashMap::default();
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?).or_default().push(media_from_row(r, 1)?);
    }
    Ok(out)
}

/// Replaces a post's media with `media`, in the order given.
pub(super) fn write_media(conn: &Connection, post_id: i64, media: &[Media]) -> Result<()> {
    conn.prepare_cached("DELETE FROM post_media WHERE post_id = ?1")?.execute([post_id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO post_media(post_id, position, kind, file, missing, file_id, file_unique_id, file_name,
                                mime_type, size, width, height, duration, message_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for (position, m) in media.iter().enumerate() {
        insert.execute(params![
            post_id,
            position as i64,
            m.kind,
            m.file,
            m.missing,
            m.file_id,
            m.file_unique_id,
            m.file_name,
            m.mime_type,
            m.size,
            m.width,
            m.height,
            m.duration,
            m.message_id
        ])?;
    }
    Ok(())
}

impl Archive {
    /// Records that item `position` of post `post_id` (a live one, known by its file_id) now
    /// has its file in the media folder as `file`. False when there is no such item.
    pub fn set_media_file(&self, post_id: i64, position: usize, file: &str) -> Result<bool> {
        let changed = self
            .conn
            .prepare_cached("UPDATE post_media SET file = ?3, missing = 0 WHERE post_id = ?1 AND position = ?2")?
            .execute(params![post_id, position as i64, file])?;
        Ok(changed > 0)
    }

    /// The `file_id` this bot got when it uploaded `file` (a name in the media folder), if any.
    pub fn uploaded_file_id(&self, file: &str, bot_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT file_id FROM media_uploads WHERE file = ?1 AND bot_id = ?2")?
            .query_row(params![file, bot_id], |r| r.get(0))
            .optional()?)
    }

    /// Remembers the `file_id` Telegram returned for this bot's upload of `file` (the
    /// latest one wins: an id Telegram stopped accepting is replaced by the next upload's).
    pub fn remember_upload(&self, file: &str, bot_id: i64, file_id: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO media_uploads(file, bot_id, file_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT(file, bot_id) DO UPDATE SET file_id = excluded.file_id",
            )?
            .execute(params![file, bot_id, file_id])?;
        Ok(())
    }

    /// The media of one post, in album order (empty for a post without media).
    pub fn post_media(&self, post_id: i64) -> Result<Vec<Media>> {
        media_of(&self.conn, post_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewChannel, NewPost};

    fn photo(file: &str, message_id: i64) -> Media {
        Media {
            kind: MediaKind::Photo,
            file: Some(file.into()),
            width: Some(1280),
            height: Some(720),
            size: Some(4096),
            message_id: Some(message_id),
            ..Media::default()
        }
    }

    /// A store made by the previous schema (7) gains the media tables on open, its posts kept.
    #[test]
    fn a_v7_store_upgrades_in_place() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| super::super::StoreError::Corrupt(e.to_string()))?;
        let path = dir.path().join("v7.db");
        {
            let mut conn = Connection::open(&path)?;
            super::super::apply_migrations(&mut conn, 0, 7)?;
            conn.execute_batch(
                "INSERT INTO channels(id, source_key, tg_id, title) VALUES (1, 'tg:-1001', -1001, 'Old');
                 INSERT INTO posts(id, channel_id, message_id, seq, title, body) VALUES (5, 1, 10, 10, 'Старый', 'Старый пост');",
            )?;
            let tables: i64 = conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name IN ('post_media', 'media_uploads', 'post_groups')",
                [],
                |r| r.get(0),
            )?;
            assert_eq!(tables, 0, "schema 7 has no media tables");
        }
        let mut archive = Archive::open(&path)?;
        let version: i64 = archive.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?;
        assert_eq!(version, super::super::MIGRATIONS.len() as i64);
        let old = archive.post(5)?.expect("kept");
        assert_eq!((old.body.as_str(), old.media.len()), ("Старый пост", 0));
        // The old post gains media when the same message comes again with its photo.
        archive.import(|sink| -> Result<()> {
            sink.channel(&NewChannel::telegram(-1001, "Old"))?;
            sink.post(NewPost {
                message_id: Some(10),
                seq: 10,
                text: "Старый пост".into(),
                media: vec![photo("p.jpg", 10)],
                ..NewPost::default()
            })?;
            Ok(())
        })?;
        assert_eq!(archive.post(5)?.map(|p| p.media), Some(vec![photo("p.jpg", 10)]));
        archive.remember_upload("p.jpg", 7, "F")?;
        assert_eq!(archive.uploaded_file_id("p.jpg", 7)?.as_deref(), Some("F"));
        Ok(())
    }

    #[test]
    fn uploads_are_remembered_per_file_and_bot() -> Result<()> {
        let archive = Archive::open_in_memory()?;
        assert_eq!(archive.uploaded_file_id("ab.jpg", 1)?, None);
        archive.remember_upload("ab.jpg", 1, "F1")?;
        archive.remember_upload("cd.png", 1, "F2")?;
        assert_eq!(archive.uploaded_file_id("ab.jpg", 1)?.as_deref(), Some("F1"));
        assert_eq!(archive.uploaded_file_id("ab.jpg", 2)?, None, "another bot cannot use this bot's file_id");
        assert_eq!(archive.uploaded_file_id("cd.png", 1)?.as_deref(), Some("F2"));
        archive.remember_upload("ab.jpg", 1, "F3")?;
        assert_eq!(archive.uploaded_file_id("ab.jpg", 1)?.as_deref(), Some("F3"));
        Ok(())
    }

    #[test]
    fn media_round_trips_in_album_order_and_unknown_kinds_are_errors() -> Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let media = vec![
            photo("b.jpg", 11),
            photo("a.jpg", 12),
            Media {
                kind: MediaKind::VideoNote,
                missing: true,
                duration: Some(3),
                message_id: Some(13),
                ..Media::default()
            },
        ];
        let mut id = 0;
        archive.import(|sink| -> Result<()> {
            sink.channel(&NewChannel::telegram(-1001, "T"))?;
            id = sink.post(NewPost { message_id: Some(11), seq: 11, media: media.clone(), ..NewPost::default() })?.0;
            Ok(())
        })?;
        let post = archive.post(id)?.expect("stored");
        assert_eq!(post.media, media);
        assert_eq!(post.body, "", "a post of media alone is a post");
        archive.conn().execute("UPDATE post_media SET kind = 'hologram' WHERE position = 1", [])?;
        let err = archive.post(id).expect_err("an unknown kind is refused");
        assert!(err.to_string().contains("hologram"), "{err}");
        Ok(())
    }
}
