//! The media folder: files copied from exports, named by their content's SHA-256, so
//! the same file twice is stored once and the archive needs the export no more.
//!
//! A file is written under a temporary name (`.incoming-…`) and only renamed to its final
//! name when the import is about to commit: a crash leaves no half file under a final
//! name, and an import that fails removes what it wrote.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashSet;
use sha2::{Digest, Sha256};

/// Can this item be sent: known to Telegram by a `file_id`, or its file in the folder `dir`?
pub fn sendable(dir: &Path, m: &crate::model::Media) -> bool {
    !m.missing && (m.file_id.is_some() || m.file.as_ref().is_some_and(|f| dir.join(f).is_file()))
}

/// Where a file added to the folder ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Written by this import (under its final name once published).
    Copied(String),
    /// The folder (or this import) already had this content.
    AlreadyPresent(String),
}

impl Stored {
    pub fn name(&self) -> &str {
        match self {
            Stored::Copied(n) | Stored::AlreadyPresent(n) => n,
        }
    }
}

/// One import's additions to the media folder.
pub struct MediaFiles {
    dir: PathBuf,
    /// Whether `dir` was made sure of (created lazily: a text-only import makes no folder).
    ready: bool,
    /// Written, not yet under their final names: (temporary path, final name).
    pending: Vec<(PathBuf, String)>,
    /// Final names of `pending`, to store a file met twice in one import once.
    pending_names: FxHashSet<String>,
    /// Renamed to their final names by [`MediaFiles::publish`], until the import commits.
    published: Vec<PathBuf>,
    counter: u64,
    buf: Vec<u8>,
}

/// Bytes copied per read: big enough for disk speed, small enough to stay flat.
const CHUNK: usize = 256 * 1024;

impl MediaFiles {
    pub fn new(dir: impl Into<PathBuf>) -> MediaFiles {
        MediaFiles {
            dir: dir.into(),
            ready: false,
            pending: Vec::new(),
            pending_names: FxHashSet::default(),
            published: Vec::new(),
            counter: 0,
            buf: vec![0; CHUNK],
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Copies `src` into the folder unless its content is there already. The file is read
    /// once to learn its hash; only a new one is read again and written (a re-import writes
    /// nothing). An error opening `src` is the caller's to judge (a missing file is not a
    /// failed import); an error writing the folder is a failed import.
    pub fn add(&mut self, mut src: File, extension: &str) -> io::Result<Stored> {
        let name = name_of(&self.hash(&mut src, None)?, extension);
        if self.present(&name) {
            return Ok(Stored::AlreadyPresent(name));
        }
        if !self.ready {
            fs::create_dir_all(&self.dir)?;
            self.ready = true;
        }
        self.counter += 1;
        let tmp = self.dir.join(format!(".incoming-{}-{}", std::process::id(), self.counter));
        let written = (|| -> io::Result<String> {
            let mut out = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            src.seek(SeekFrom::Start(0))?;
            // Hashed again as it is copied: the name is that of the bytes written.
            let digest = self.hash(&mut src, Some(&mut out))?;
            Ok(name_of(&digest, extension))
        })();
        let name = match written {
            Ok(name) => name,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if self.present(&name) {
            fs::remove_file(&tmp)?;
            return Ok(Stored::AlreadyPresent(name));
        }
        self.pending_names.insert(name.clone());
        self.pending.push((tmp, name.clone()));
        Ok(Stored::Copied(name))
    }

    /// Whether this import or the folder already holds a file of this name.
    fn present(&self, name: &str) -> bool {
        self.pending_names.contains(name) || self.dir.join(name).is_file()
    }

    /// SHA-256 of the rest of `src`, copied to `out` on the way when given.
    fn hash(&mut self, src: &mut File, mut out: Option<&mut File>) -> io::Result<[u8; 32]> {
        let mut hasher = Sha256::new();
        loop {
            let n = match src.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&self.buf[..n]);
            if let Some(out) = out.as_mut() {
                out.write_all(&self.buf[..n])?;
            }
        }
        Ok(hasher.finalize().into())
    }

    /// Gives the files written their final names: call it just before the import commits.
    /// A file is complete before it is renamed, so a crash of the process never leaves a
    /// short file under a final name. (Files are not synced one by one: against a power
    /// loss they are as safe as the store's own commits, which `synchronous = NORMAL`
    /// leaves to the next checkpoint; see benches/README.md for what a sync per file cost.)
    pub fn publish(&mut self) -> io::Result<()> {
        for (tmp, name) in std::mem::take(&mut self.pending) {
            let target = self.dir.join(&name);
            // Another import may have published the same content meanwhile: its file stays
            // (and is not this import's to remove).
            if target.is_file() {
                fs::remove_file(&tmp)?;
                continue;
            }
            fs::rename(&tmp, &target)?;
            self.published.push(target);
        }
        self.pending_names.clear();
        if self.ready && !self.published.is_empty() {
            // The renames themselves on disk (a directory is synced through a handle to it).
            if let Ok(dir) = File::open(&self.dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }

    /// The import committed: the files published stay.
    pub fn committed(&mut self) {
        self.published.clear();
    }
}

/// An import that did not commit leaves nothing: its temporary files and the files it
/// published are removed (a file published was not in the folder before this import).
impl Drop for MediaFiles {
    fn drop(&mut self) {
        for (tmp, _) in self.pending.drain(..) {
            let _ = fs::remove_file(tmp);
        }
        for path in self.published.drain(..) {
            let _ = fs::remove_file(path);
        }
    }
}

/// A stored file's name: the hash in hex, then the extension.
/// Keeps `bytes` (a file fetched from Telegram) in the folder `dir` under its content's
/// name, unless it is there already: written under a temporary name, then renamed, so no
/// half file ever has a final name. Returns the name.
pub fn keep_bytes(dir: &Path, bytes: &[u8], extension: &str) -> io::Result<String> {
    let name = name_of(&Sha256::digest(bytes).into(), extension);
    let target = dir.join(&name);
    if target.is_file() {
        return Ok(name);
    }
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".incoming-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(name)
}

fn name_of(digest: &[u8; 32], extension: &str) -> String {
    let mut name = String::with_capacity(64 + 1 + extension.len());
    for b in digest {
        name.push_str(&format!("{b:02x}"));
    }
    if !extension.is_empty() {
        name.push('.');
        name.push_str(extension);
    }
    name
}

/// The extension a stored file keeps: the source's, lowercased, when it is short and
/// plain (letters and digits); none otherwise.
pub fn extension_of(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .filter(|e| (1..=8).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, name: &str, content: &[u8]) -> io::Result<File> {
        let path = dir.join(name);
        fs::write(&path, content)?;
        File::open(path)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn same_content_is_stored_once_under_its_hash_after_publish() -> io::Result<()> {
        let src = tempfile::tempdir()?;
        let media = tempfile::tempdir()?;
        let dir = media.path().join("m");
        let mut files = MediaFiles::new(&dir);
        let a = files.add(source(src.path(), "a.JPG", b"abc")?, "jpg")?;
        // SHA-256 of "abc", computed elsewhere.
        let hash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(a, Stored::Copied(format!("{hash}.jpg")));
        assert_eq!(
            files.add(source(src.path(), "b.jpg", b"abc")?, "jpg")?,
            Stored::AlreadyPresent(format!("{hash}.jpg"))
        );
        assert!(
            names(&dir).iter().all(|n| n.starts_with(".incoming-")),
            "no final name before publish: {:?}",
            names(&dir)
        );
        files.publish()?;
        files.committed();
        drop(files);
        assert_eq!(names(&dir), [format!("{hash}.jpg")]);
        assert_eq!(fs::read(dir.join(format!("{hash}.jpg")))?, b"abc");
        let mut again = MediaFiles::new(&dir);
        assert_eq!(
            again.add(source(src.path(), "c.jpg", b"abc")?, "jpg")?,
            Stored::AlreadyPresent(format!("{hash}.jpg"))
        );
        Ok(())
    }

    #[test]
    fn an_import_that_does_not_commit_leaves_nothing() -> io::Result<()> {
        let src = tempfile::tempdir()?;
        let dir = tempfile::tempdir()?;
        let mut files = MediaFiles::new(dir.path());
        files.add(source(src.path(), "a.png", b"one")?, "png")?;
        files.add(source(src.path(), "b.png", b"two")?, "png")?;
        drop(files);
        assert_eq!(names(dir.path()), Vec::<String>::new(), "temporary files removed");
        let mut files = MediaFiles::new(dir.path());
        files.add(source(src.path(), "a.png", b"one")?, "png")?;
        files.publish()?;
        assert_eq!(names(dir.path()).len(), 1);
        drop(files); // the commit failed after publishing
        assert_eq!(names(dir.path()), Vec::<String>::new(), "published files removed");
        Ok(())
    }

    #[test]
    fn extensions_are_kept_only_when_plain() {
        assert_eq!(extension_of(Path::new("photos/p@1.JPG")), "jpg");
        assert_eq!(extension_of(Path::new("files/x.tar.gz")), "gz");
        assert_eq!(extension_of(Path::new("files/noext")), "");
        assert_eq!(extension_of(Path::new("files/x.j p g")), "");
        assert_eq!(extension_of(Path::new("files/x.verylongext")), "");
    }
}
