//! `stem_bitmaps`: for each paired stem with a bit, the posts that have it, a bit a post,
//! in chunks of [`CHUNK_POSTS`] posts; written by the build and the upkeep, read by
//! searches that check a candidate's words by their bits instead of in `posts_fts`.

use rusqlite::{OptionalExtension, Transaction, params};
use rustc_hash::FxHashMap;

use super::CHUNK_POSTS;
use crate::store::Result;

const CHUNK_BYTES: usize = (CHUNK_POSTS / 8) as usize;

/// The bits of the stems a post's stemmed texts have.
pub(super) fn mask_of<'a>(texts: impl IntoIterator<Item = &'a str>, bit: impl Fn(&str) -> Option<u32>) -> u64 {
    let mut mask = 0u64;
    for stem in texts.into_iter().flat_map(|t| t.split(' ')) {
        if let Some(b) = bit(stem) {
            mask |= 1 << b;
        }
    }
    mask
}

/// The bits set in a mask.
pub(super) fn bits_of(mask: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |b| mask & 1 << b != 0)
}

/// Where a post's bit is in `stem_bitmaps`: its chunk, the byte in the chunk, the bit.
fn place(id: i64) -> (i64, usize, u8) {
    let within = id.rem_euclid(CHUNK_POSTS);
    (id.div_euclid(CHUNK_POSTS), (within / 8) as usize, 1 << (within % 8))
}

/// A chunk of a stem's bitmap as stored (`None`: no post of it has the stem).
fn read_chunk(conn: &rusqlite::Connection, bit: u32, chunk: i64) -> Result<Option<Vec<u8>>> {
    let stored: Option<Vec<u8>> = conn
        .prepare_cached("SELECT posts FROM stem_bitmaps WHERE bit = ?1 AND chunk = ?2")?
        .query_row(params![bit, chunk], |r| r.get(0))
        .optional()?;
    Ok(stored.map(|mut posts| {
        posts.resize(CHUNK_BYTES, 0);
        posts
    }))
}

/// Chunks of `stem_bitmaps` being changed, read once and written back by [`Self::flush`].
#[derive(Default)]
pub(super) struct BitmapWrites {
    pub(super) chunks: FxHashMap<(u32, i64), Vec<u8>>,
}

impl BitmapWrites {
    /// Sets or clears a post's bit of a stem.
    pub(super) fn set(&mut self, tx: &Transaction<'_>, bit: u32, id: i64, on: bool) -> Result<()> {
        let (chunk, byte, mask) = place(id);
        let posts = match self.chunks.entry((bit, chunk)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(read_chunk(tx, bit, chunk)?.unwrap_or_else(|| vec![0; CHUNK_BYTES]))
            }
        };
        if on {
            posts[byte] |= mask;
        } else {
            posts[byte] &= !mask;
        }
        Ok(())
    }

    /// Writes the changed chunks (a chunk left without a post goes).
    pub(super) fn flush(&mut self, tx: &Transaction<'_>) -> Result<()> {
        let mut put =
            tx.prepare_cached("INSERT OR REPLACE INTO stem_bitmaps(bit, chunk, posts) VALUES (?1, ?2, ?3)")?;
        let mut drop = tx.prepare_cached("DELETE FROM stem_bitmaps WHERE bit = ?1 AND chunk = ?2")?;
        for ((bit, chunk), posts) in self.chunks.drain() {
            if posts.iter().all(|&b| b == 0) {
                drop.execute(params![bit, chunk])?;
            } else {
                put.execute(params![bit, chunk, posts])?;
            }
        }
        Ok(())
    }
}

/// Checks posts for stems by their bits: every one of `required`, none of `forbidden`. Holds
/// one chunk of each bit's bitmap at a time: posts checked in the order of their ids read
/// each chunk once.
pub(crate) struct StemBits<'a> {
    conn: &'a rusqlite::Connection,
    bits: Vec<Checked>,
}

/// A bit [`StemBits`] checks: whether posts must have it, and the chunk of it held (its
/// number, and the chunk as stored).
struct Checked {
    bit: u32,
    wanted: bool,
    held: Option<(i64, Option<Vec<u8>>)>,
}

impl StemBits<'_> {
    /// Does the post have every required stem and no forbidden one?
    pub(crate) fn passes(&mut self, id: i64) -> Result<bool> {
        let (chunk, byte, mask) = place(id);
        for Checked { bit, wanted, held } in &mut self.bits {
            let posts = match held {
                Some((c, posts)) if *c == chunk => posts,
                _ => &mut held.insert((chunk, read_chunk(self.conn, *bit, chunk)?)).1,
            };
            let has = posts.as_ref().is_some_and(|p| p[byte] & mask != 0);
            if has != *wanted {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl<'a> StemBits<'a> {
    /// A check of posts for the stems of these bits: every bit of `required`, none of
    /// `forbidden`.
    pub(crate) fn new(conn: &'a rusqlite::Connection, required: u64, forbidden: u64) -> Self {
        let of = |mask: u64, wanted: bool| bits_of(mask).map(move |bit| Checked { bit, wanted, held: None });
        StemBits { conn, bits: of(required, true).chain(of(forbidden, false)).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Archive;

    #[test]
    fn a_mask_has_the_bits_of_the_stems_a_post_has() {
        let bit = |s: &str| match s {
            "a" => Some(0),
            "b" => Some(5),
            "z" => Some(63),
            _ => None,
        };
        assert_eq!(mask_of(["a x", "b a"], bit), 1 | 1 << 5);
        assert_eq!(mask_of(["", "x y"], bit), 0);
        assert_eq!(mask_of(["z"], bit), 1 << 63);
    }

    #[test]
    fn the_bits_written_in_chunks_are_read_back_post_by_post() -> Result<()> {
        let mut archive = Archive::open_in_memory()?;
        let tx = archive.conn.transaction()?;
        let mut writes = BitmapWrites::default();
        let with_2 = [1, 8, CHUNK_POSTS - 1, CHUNK_POSTS, 3 * CHUNK_POSTS + 5];
        for id in with_2 {
            writes.set(&tx, 2, id, true)?;
        }
        writes.set(&tx, 5, 8, true)?;
        writes.set(&tx, 5, 9, true)?;
        writes.flush(&tx)?;
        // Changed again after a flush: read back from the store.
        writes.set(&tx, 2, 1, false)?;
        writes.set(&tx, 5, 9, false)?;
        writes.flush(&tx)?;
        tx.commit()?;
        let rows = |bit: u32| -> Result<i64> {
            Ok(archive.conn.query_row("SELECT count(*) FROM stem_bitmaps WHERE bit = ?1", [bit], |r| r.get(0))?)
        };
        assert_eq!((rows(2)?, rows(5)?), (3, 1), "one row a chunk with posts");

        let passing = |required: u64, forbidden: u64| -> Result<Vec<i64>> {
            let mut check = StemBits::new(&archive.conn, required, forbidden);
            let mut ids = Vec::new();
            for id in (0..4 * CHUNK_POSTS).rev() {
                if check.passes(id)? {
                    ids.push(id);
                }
            }
            Ok(ids)
        };
        assert_eq!(passing(1 << 2, 0)?, [3 * CHUNK_POSTS + 5, CHUNK_POSTS, CHUNK_POSTS - 1, 8]);
        assert_eq!(passing(1 << 2, 1 << 5)?, [3 * CHUNK_POSTS + 5, CHUNK_POSTS, CHUNK_POSTS - 1]);
        assert_eq!(passing(1 << 2 | 1 << 5, 0)?, [8]);
        assert_eq!(passing(0, 1 << 2)?.len() as i64, 4 * CHUNK_POSTS - 4, "every post but bit 2's");
        Ok(())
    }
}
