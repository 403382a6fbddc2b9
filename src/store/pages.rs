//! What the web archive's pages ask of the store: the newest posts a page at a time (a
//! cursor that stays put while posts arrive), a post by its channel and message id, and a
//! post's neighbours in time. The order is the newest first by date, then by id; posts
//! without a date (a t.me dump's) come after the dated ones, the newest id first. Every
//! query walks the `posts_date (date, id)` index.

use rusqlite::{OptionalExtension, params};

use super::{Archive, Result};
use crate::model::{Channel, Post};

/// The month queries' channel condition in a store of one channel: none.
const ONE_CHANNEL: &str = "?1 IS NOT NULL";

/// Where a post stands in the order: its date (if any) and id.
fn place(archive: &Archive, id: i64) -> Result<Option<(Option<i64>, i64)>> {
    Ok(archive
        .conn
        .prepare_cached("SELECT date, id FROM posts WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

impl Archive {
    /// Up to `limit` posts, the newest first, after the post `after` (the last of the page
    /// before) or from the newest. Ids of posts that are gone start from the newest.
    pub fn newest_after(&self, after: Option<i64>, limit: usize) -> Result<Vec<Post>> {
        self.newest_in(None, after, limit)
    }

    /// [`Archive::newest_after`] within topic `slug`; `None` when there is no such topic.
    pub fn topic_newest_after(&self, slug: &str, after: Option<i64>, limit: usize) -> Result<Option<Vec<Post>>> {
        let topic: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM topics WHERE slug = ?1")?
            .query_row([slug], |r| r.get(0))
            .optional()?;
        match topic {
            Some(t) => Ok(Some(self.newest_in(Some(t), after, limit)?)),
            None => Ok(None),
        }
    }

    fn newest_in(&self, topic: Option<i64>, after: Option<i64>, limit: usize) -> Result<Vec<Post>> {
        let start = match after {
            Some(id) => place(self, id)?,
            None => None,
        };
        // -1 matches no topic: the filter is then off.
        let (filter, t) = match topic {
            Some(t) => ("AND id IN (SELECT post_id FROM post_topics WHERE topic_id = ?4)", t),
            None => ("AND ?4 = -1", -1),
        };
        let n = limit as i64;
        let mut ids: Vec<i64> = match start {
            Some((Some(date), id)) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM posts WHERE date IS NOT NULL AND (date, id) < (?1, ?2) {filter}
                     ORDER BY date DESC, id DESC LIMIT ?3"
                ))?
                .query_map(params![date, id, n, t], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
            Some((None, _)) => Vec::new(),
            None => self
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM posts WHERE date IS NOT NULL AND ?1 IS NULL AND ?2 IS NULL {filter}
                     ORDER BY date DESC, id DESC LIMIT ?3"
                ))?
                .query_map(params![None::<i64>, None::<i64>, n, t], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?,
        };
        if ids.len() < limit {
            let below = match start {
                Some((None, id)) => id,
                _ => i64::MAX,
            };
            let rest: Vec<i64> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM posts WHERE date IS NULL AND id < ?1 AND ?2 IS NULL {filter} ORDER BY id DESC LIMIT ?3"
                ))?
                .query_map(params![below, None::<i64>, (limit - ids.len()) as i64, t], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.extend(rest);
        }
        self.posts_by_id(&ids)
    }

    /// The posts just older and just newer than `id` in the order of [`Archive::newest_after`]:
    /// (older, newer).
    pub fn neighbours(&self, id: i64) -> Result<(Option<i64>, Option<i64>)> {
        let Some((date, id)) = place(self, id)? else {
            return Ok((None, None));
        };
        let one = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Option<i64>> {
            Ok(self.conn.prepare_cached(sql)?.query_row(p, |r| r.get(0)).optional()?)
        };
        let older_undated = || {
            one(
                "SELECT id FROM posts WHERE date IS NULL AND id < ?1 ORDER BY id DESC LIMIT 1",
                &[&if date.is_some() { i64::MAX } else { id }],
            )
        };
        Ok(match date {
            Some(date) => {
                let older = one(
                    "SELECT id FROM posts WHERE date IS NOT NULL AND (date, id) < (?1, ?2) ORDER BY date DESC, id DESC LIMIT 1",
                    &[&date, &id],
                )?;
                let older = match older {
                    Some(o) => Some(o),
                    None => older_undated()?,
                };
                let newer = one(
                    "SELECT id FROM posts WHERE date IS NOT NULL AND (date, id) > (?1, ?2) ORDER BY date, id LIMIT 1",
                    &[&date, &id],
                )?;
                (older, newer)
            }
            None => {
                let newer =
                    match one("SELECT id FROM posts WHERE date IS NULL AND id > ?1 ORDER BY id LIMIT 1", &[&id])? {
                        Some(n) => Some(n),
                        None => one("SELECT id FROM posts WHERE date IS NOT NULL ORDER BY date, id LIMIT 1", &[])?,
                    };
                (older_undated()?, newer)
            }
        })
    }

    /// The store id of the post of `channel` (the store's channel id) with Telegram message
    /// id `message_id`.
    pub fn post_by_message(&self, channel: i64, message_id: i64) -> Result<Option<i64>> {
        Ok(self
            .conn
            // A post with a message id has it as its `seq` too (every source that has ids
            // orders by them), so the `(channel_id, seq)` index finds it: asking by
            // `message_id` alone read every post of the channel.
            .prepare_cached("SELECT id FROM posts WHERE channel_id = ?1 AND seq = ?2 AND message_id = ?2")?
            .query_row(params![channel, message_id], |r| r.get(0))
            .optional()?)
    }

    /// [`web_path`] of `post`, its channel read from the store.
    pub fn web_path(&self, post: &Post) -> Result<String> {
        let channel: Option<(Option<String>, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT username, tg_id FROM channels WHERE id = ?1")?
            .query_row([post.channel_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (username, tg_id) = channel.unwrap_or((None, None));
        Ok(web_path(post, username.as_deref(), tg_id))
    }

    /// The months of channel `channel` that have posts, in `tz`, newest first: (year, month,
    /// posts). One count per month over the `posts_date` index, from the channel's first
    /// post to its last.
    pub fn months(&self, channel: i64, tz: chrono_tz::Tz) -> Result<Vec<(i32, u32, i64)>> {
        let filter = self.channel_filter()?;
        let span: (Option<i64>, Option<i64>) = self
            .conn
            .prepare_cached(if filter == ONE_CHANNEL {
                // One channel: both ends of the `posts_date` index, at once.
                "SELECT (SELECT min(date) FROM posts), (SELECT max(date) FROM posts) WHERE ?1 IS NOT NULL"
            } else {
                "SELECT min(date), max(date) FROM posts WHERE channel_id = ?1"
            })?
            .query_row([channel], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (Some(first), Some(last)) = span else { return Ok(Vec::new()) };
        let at = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.with_timezone(&tz));
        let (Some(first), Some(last)) = (at(first), at(last)) else { return Ok(Vec::new()) };
        use chrono::Datelike;
        let (mut y, mut m) = (last.year(), last.month());
        let mut out = Vec::new();
        let mut count = self.conn.prepare_cached(&format!(
            "SELECT count(*) FROM posts INDEXED BY posts_date WHERE date >= ?2 AND date < ?3 AND {}",
            filter
        ))?;
        while (y, m) >= (first.year(), first.month()) {
            if let Some((start, end)) = month_bounds(y, m, tz) {
                let n: i64 = count.query_row(params![channel, start, end], |r| r.get(0))?;
                if n > 0 {
                    out.push((y, m, n));
                }
            }
            (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
        }
        Ok(out)
    }

    /// Up to `limit` posts of channel `channel` in month `month` of `year` (in `tz`), the
    /// oldest first, after post `after`.
    pub fn month_posts(
        &self,
        channel: i64,
        (year, month): (i32, u32),
        tz: chrono_tz::Tz,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Post>> {
        let Some((start, end)) = month_bounds(year, month, tz) else { return Ok(Vec::new()) };
        let (from_date, from_id) = match after.map(|id| place(self, id)).transpose()?.flatten() {
            Some((Some(date), id)) => (date, id),
            _ => (start, i64::MIN),
        };
        let ids: Vec<i64> = self
            .conn
            .prepare_cached(&format!(
                "SELECT id FROM posts INDEXED BY posts_date WHERE date >= ?2 AND date < ?3 AND (date, id) > (?4, ?5)
                 AND {} ORDER BY date, id LIMIT ?6",
                self.channel_filter()?
            ))?
            .query_map(params![channel, start, end, from_date, from_id, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.posts_by_id(&ids)
    }

    /// The condition on `channel_id = ?1` of the month queries: none in a store of one
    /// channel (the common case), where a month's count is then read from the `posts_date`
    /// index alone; with several, each row of the month is looked at.
    fn channel_filter(&self) -> Result<&'static str> {
        let channels: i64 = self.conn.query_row("SELECT count(*) FROM channels", [], |r| r.get(0))?;
        Ok(if channels <= 1 { ONE_CHANNEL } else { "channel_id = ?1" })
    }

    /// The channel a permalink names: by its public @username (any case), or by the id
    /// `t.me/c/…` links use (the chat id without its `-100`).
    pub fn channel_named(&self, name: &ChannelName<'_>) -> Result<Option<Channel>> {
        Ok(self.channels()?.into_iter().find(|c| match name {
            ChannelName::Username(u) => c.username.as_deref().is_some_and(|mine| mine.eq_ignore_ascii_case(u)),
            ChannelName::Private(id) => c.tg_id.is_some_and(|tg| private_id(tg) == Some(*id)),
            ChannelName::Stored(id) => c.id == *id,
        }))
    }
}

/// A post's address on the web archive, shaped like its `t.me` link when it has one:
/// `/{username}/{id}`, `/c/{id}/{id}`, or `/p/{store id}` for a post without a message id.
pub fn web_path(post: &Post, username: Option<&str>, tg_id: Option<i64>) -> String {
    match (post.message_id, username, tg_id.and_then(private_id)) {
        (Some(m), Some(u), _) => format!("/{u}/{m}"),
        (Some(m), None, Some(c)) => format!("/c/{c}/{m}"),
        _ => format!("/p/{}", post.id),
    }
}

/// The unix seconds month `month` of `year` begins and ends at in `tz`; `None` for a month
/// that does not exist.
pub fn month_bounds(year: i32, month: u32, tz: chrono_tz::Tz) -> Option<(i64, i64)> {
    use chrono::TimeZone;
    let begin = |y: i32, m: u32| tz.with_ymd_and_hms(y, m, 1, 0, 0, 0).earliest().map(|d| d.timestamp());
    let (ny, nm) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    if !(1..=12).contains(&month) {
        return None;
    }
    Some((begin(year, month)?, begin(ny, nm)?))
}

/// How a permalink names a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelName<'a> {
    Username(&'a str),
    /// The id in `t.me/c/{id}/…`.
    Private(i64),
    /// The store's own id of a channel with no `t.me` address (the demo archive, a chat
    /// exported without its id).
    Stored(i64),
}

/// The id `t.me/c/{id}/…` links use for a channel's chat id (`-1001234567890` → 1234567890).
pub fn private_id(tg_id: i64) -> Option<i64> {
    let s = tg_id.to_string();
    s.strip_prefix("-100").and_then(|rest| rest.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewChannel, NewPost};

    /// Posts 1..=5 dated (3 and 4 on the same second), 6 and 7 undated.
    fn archive() -> Result<Archive> {
        let mut archive = Archive::open_in_memory()?;
        archive.import(|sink| -> Result<()> {
            sink.channel(&NewChannel::telegram(-1_001_234_567_890, "Test"))?;
            let dates = [Some(100), Some(200), Some(300), Some(300), Some(400), None, None];
            for (i, date) in dates.into_iter().enumerate() {
                let n = i as i64 + 1;
                sink.post(NewPost {
                    message_id: Some(n),
                    seq: n,
                    date,
                    text: format!("Пост номер {n}"),
                    ..Default::default()
                })?;
            }
            Ok(())
        })?;
        Ok(archive)
    }

    fn messages(posts: &[Post]) -> Vec<i64> {
        posts.iter().filter_map(|p| p.message_id).collect()
    }

    #[test]
    fn pages_walk_the_newest_first_then_the_undated_and_stay_put() -> Result<()> {
        let a = archive()?;
        let first = a.newest_after(None, 3)?;
        assert_eq!(messages(&first), [5, 4, 3]);
        let second = a.newest_after(first.last().map(|p| p.id), 3)?;
        assert_eq!(messages(&second), [2, 1, 7]);
        let third = a.newest_after(second.last().map(|p| p.id), 3)?;
        assert_eq!(messages(&third), [6]);
        assert!(a.newest_after(third.last().map(|p| p.id), 3)?.is_empty());
        Ok(())
    }

    #[test]
    fn a_topics_pages_hold_its_posts_only() -> Result<()> {
        let mut a = archive()?;
        a.import(|sink| -> Result<()> {
            sink.channel(&NewChannel::telegram(-1_009, "Роботы"))?;
            for n in 1..=3 {
                sink.post(NewPost {
                    message_id: Some(n),
                    seq: n,
                    date: Some(1000 + n),
                    text: format!("Робот-манипулятор и обучение с подкреплением {n}"),
                    ..Default::default()
                })?;
            }
            Ok(())
        })?;
        let first = a.topic_newest_after("robotics", None, 2)?.expect("the topic exists");
        assert_eq!(messages(&first), [3, 2]);
        let rest = a.topic_newest_after("robotics", first.last().map(|p| p.id), 2)?.expect("exists");
        assert_eq!(messages(&rest), [1]);
        assert!(a.topic_newest_after("no-such-topic", None, 2)?.is_none());
        Ok(())
    }

    #[test]
    fn months_count_their_posts_in_the_zone_and_list_them_oldest_first() -> Result<()> {
        let a = archive()?;
        let channel = a.channel_named(&ChannelName::Private(1_234_567_890))?.expect("the channel").id;
        // Posts at 100..400 s after the epoch: January 1970 in UTC, December 1969 in New York.
        assert_eq!(a.months(channel, chrono_tz::UTC)?, [(1970, 1, 5)]);
        assert_eq!(a.months(channel, chrono_tz::America::New_York)?, [(1969, 12, 5)]);
        let page = a.month_posts(channel, (1970, 1), chrono_tz::UTC, None, 3)?;
        assert_eq!(messages(&page), [1, 2, 3]);
        let rest = a.month_posts(channel, (1970, 1), chrono_tz::UTC, page.last().map(|p| p.id), 3)?;
        assert_eq!(messages(&rest), [4, 5]);
        assert!(a.month_posts(channel, (1970, 2), chrono_tz::UTC, None, 3)?.is_empty());
        assert!(a.month_posts(channel, (1970, 13), chrono_tz::UTC, None, 3)?.is_empty());
        Ok(())
    }

    #[test]
    fn neighbours_are_the_posts_beside_in_that_order() -> Result<()> {
        let a = archive()?;
        let all = a.newest_after(None, 10)?;
        assert_eq!(messages(&all), [5, 4, 3, 2, 1, 7, 6]);
        for (i, post) in all.iter().enumerate() {
            let (older, newer) = a.neighbours(post.id)?;
            assert_eq!(older, all.get(i + 1).map(|p| p.id), "older than {:?}", post.message_id);
            assert_eq!(newer, i.checked_sub(1).map(|j| all[j].id), "newer than {:?}", post.message_id);
        }
        Ok(())
    }

    #[test]
    fn a_permalink_finds_its_channel_and_post() -> Result<()> {
        let a = archive()?;
        let channel = a.channel_named(&ChannelName::Private(1_234_567_890))?.expect("found by its t.me/c id");
        let id = a.post_by_message(channel.id, 4)?.expect("message 4");
        assert_eq!(a.post(id)?.expect("the post").title, "Пост номер 4");
        assert!(a.post_by_message(channel.id, 99)?.is_none());
        assert!(a.channel_named(&ChannelName::Private(42))?.is_none());
        assert_eq!(private_id(-1_001_234_567_890), Some(1_234_567_890));
        assert_eq!(private_id(12345), None);
        Ok(())
    }
}
