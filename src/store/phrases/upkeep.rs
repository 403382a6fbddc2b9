//! What an import does to the phrase index: a post it rewrites that the index has is
//! written there again (new posts are beyond the index: the build takes them).

use rusqlite::Transaction;

use super::bitmaps::BitmapWrites;
use super::build::{PairStems, insert, loaded};
use crate::store::{Result, meta_int};

/// Chunks an import holds changed in memory before it writes them (256 KiB).
const HELD_CHUNKS: usize = 128;

/// What an import does to the phrase index: a post it rewrites that the index has is
/// written there again (new posts are beyond the index: nothing to do).
#[derive(Default)]
pub(in crate::store) struct Upkeep {
    /// `pairs_upto`, read at the first post.
    upto: Option<i64>,
    stems: Option<PairStems>,
    /// The rewritten posts' bits, written at most [`HELD_CHUNKS`] chunks at a time and
    /// at the end ([`Upkeep::finish`]).
    bitmaps: BitmapWrites,
}

impl Upkeep {
    fn covers(&mut self, tx: &Transaction<'_>, id: i64) -> Result<bool> {
        let upto = match self.upto {
            Some(upto) => upto,
            None => *self.upto.insert(meta_int(tx, "pairs_upto")?),
        };
        Ok(id <= upto)
    }

    /// Takes a post out of the index before it is rewritten.
    pub(in crate::store) fn forget(&mut self, tx: &Transaction<'_>, id: i64) -> Result<()> {
        if self.covers(tx, id)? {
            tx.prepare_cached("DELETE FROM pairs_fts WHERE rowid = ?1")?.execute([id])?;
            for &bit in loaded(&mut self.stems, tx)?.values().flatten() {
                self.bitmaps.set(tx, bit, id, false)?;
            }
            self.hold(tx)?;
        }
        Ok(())
    }

    /// Writes the changed chunks when it holds many.
    fn hold(&mut self, tx: &Transaction<'_>) -> Result<()> {
        if self.bitmaps.chunks.len() >= HELD_CHUNKS {
            self.bitmaps.flush(tx)?;
        }
        Ok(())
    }

    /// Writes what the import changed: before its commit.
    pub(in crate::store) fn finish(&mut self, tx: &Transaction<'_>) -> Result<()> {
        self.bitmaps.flush(tx)
    }

    /// Indexes a post's new stemmed text, if the index covers it.
    pub(in crate::store) fn write(&mut self, tx: &Transaction<'_>, id: i64, title: &str, body: &str) -> Result<()> {
        if !self.covers(tx, id)? {
            return Ok(());
        }
        insert(tx, loaded(&mut self.stems, tx)?, &mut self.bitmaps, id, title, body)?;
        self.hold(tx)
    }
}
