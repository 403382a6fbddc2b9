//! Sources of posts, one module per format; the format is told from the
//! content, never from the file name.

pub mod bot_api;
pub mod pipe;
pub mod tdesktop;
pub mod tme_dump;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::store::{Archive, ImportSink, ImportSummary, MediaFiles, StoreError};

/// The seed archive, embedded so a fresh store can be filled from anywhere.
pub const SEED: &str = include_str!("../../seeds/000_88851c1974256884.txt");

/// Fills an empty store from the seed archive embedded in the binary, marked as the demo
/// (removed when the store's first channel of its own arrives); `None` when the store
/// already holds posts.
pub fn seed_if_empty(archive: &mut Archive) -> Result<Option<ImportSummary>, StoreError> {
    if !archive.is_empty()? {
        return Ok(None);
    }
    let (summary, key) = import_seed_keyed(archive)?;
    archive.mark_demo(&key)?;
    Ok(Some(summary))
}

/// Imports the bundled archive as a channel like any other (not the demo: it stays when
/// other channels arrive). The tests' corpus, and the seed's posts for [`seed_if_empty`].
pub fn import_seed(archive: &mut Archive) -> Result<ImportSummary, StoreError> {
    import_seed_keyed(archive).map(|(summary, _)| summary)
}

/// [`import_seed`], with the seed channel's key (read from the one parse of the seed).
fn import_seed_keyed(archive: &mut Archive) -> Result<(ImportSummary, String), StoreError> {
    let (channel, posts) = tme_dump::parse(SEED).map_err(|e| StoreError::Corrupt(format!("embedded seed: {e}")))?;
    let summary = archive.import(|sink| -> Result<(), StoreError> {
        sink.channel(&channel)?;
        for p in posts {
            sink.post(p)?;
        }
        Ok(())
    })?;
    Ok((summary, channel.source_key))
}

/// The bundled archive's channel key (`tme:<title>`).
fn demo_source_key() -> Result<String, StoreError> {
    let (channel, _) = tme_dump::parse(SEED).map_err(|e| StoreError::Corrupt(format!("embedded seed: {e}")))?;
    Ok(channel.source_key)
}

/// Opens the store; a store that does not exist yet is filled from the seed
/// unless `seed` is false (the first command is an import).
pub fn open_archive(db: &std::path::Path, seed: bool) -> anyhow::Result<Archive> {
    let mut archive = Archive::open(db)?;
    if seed {
        if let Some(summary) = seed_if_empty(&mut archive)? {
            tracing::info!("new store {} filled from the demo archive: {summary}", db.display());
        }
    } else {
        // A store seeded before the demo was marked: marked now, so that the first channel
        // of its own (this import, perhaps) takes its place.
        // (The seed is parsed for its key only when the store has no mark yet.)
        archive.mark_demo_if_there(demo_source_key)?;
    }
    Ok(archive)
}

/// Opens the store, filling it from the seed when this call creates it.
pub fn open_or_seed(db: &std::path::Path) -> anyhow::Result<Archive> {
    open_archive(db, !db.exists())
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{path}: no Telegram Desktop export (result.json) or t.me preview dump found among {looked} files")]
    NothingFound { path: String, looked: usize },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a file holds, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DesktopExport,
    TmeDump,
}

/// Reads enough of a file to tell its format; `None` when it is neither.
pub fn detect(path: &Path) -> Result<Option<Format>, IngestError> {
    let io = |source| IngestError::Io { path: path.display().to_string(), source };
    let mut head = vec![0u8; 16 * 1024];
    let mut file = File::open(path).map_err(io)?;
    let mut n = 0;
    while n < head.len() {
        let read = file.read(&mut head[n..]).map_err(io)?;
        if read == 0 {
            break;
        }
        n += read;
    }
    head.truncate(n);
    let text = String::from_utf8_lossy(&head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') {
        return Ok(Some(Format::DesktopExport));
    }
    if tme_dump::looks_like(text) {
        return Ok(Some(Format::TmeDump));
    }
    Ok(None)
}

/// Files to import under `paths`: named files as they are; in folders, every
/// file whose content is an export or a dump (photos and the like are passed over).
fn collect(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Format)>, IngestError> {
    let mut out = Vec::new();
    for path in paths {
        let display = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => IngestError::NotFound { path: display.clone() },
            _ => IngestError::Io { path: display.clone(), source },
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            files.sort();
            let looked = files.len();
            let before = out.len();
            for file in files {
                if let Some(format) = detect(&file)? {
                    out.push((file, format));
                }
            }
            if out.len() == before {
                return Err(IngestError::NothingFound { path: display, looked });
            }
        } else {
            match detect(path)? {
                Some(format) => out.push((path.clone(), format)),
                None => {
                    return Err(IngestError::Format {
                        path: display,
                        message: "not a Telegram Desktop export (result.json) or a t.me preview dump".into(),
                    });
                }
            }
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let io = |source| IngestError::Io { path: dir.display().to_string(), source };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Imports files and folders in one transaction: all of them land, or none. Media files
/// go to the folder beside the store (`media/`; a store in memory has none, and its
/// media are recorded as missing).
pub fn import_paths(
    archive: &mut Archive,
    paths: &[PathBuf],
    show_progress: bool,
) -> Result<ImportSummary, IngestError> {
    let media_dir = default_media_dir(archive);
    import_paths_to(archive, paths, show_progress, media_dir.as_deref())
}

/// The media folder of a store on disk when none is configured: `media/` beside it.
pub fn default_media_dir(archive: &Archive) -> Option<PathBuf> {
    let path = archive.conn().path().filter(|p| !p.is_empty())?;
    Some(Path::new(path).parent().unwrap_or(Path::new("")).join("media"))
}

/// Exports at least this big (their JSON and dumps, not their media) are imported with the
/// store to themselves when nobody else has it open ([`Archive::import_alone`]): about a
/// tenth of a 100k-post export (300 MiB); the seed and small files keep the WAL.
const BIG_IMPORT_BYTES: u64 = 32 << 20;

/// [`import_paths`] with the media folder given. The files are copied under temporary
/// names and take their final ones just before the transaction commits; an import that
/// fails removes every file it wrote.
pub fn import_paths_to(
    archive: &mut Archive,
    paths: &[PathBuf],
    show_progress: bool,
    media_dir: Option<&Path>,
) -> Result<ImportSummary, IngestError> {
    import_paths_in(archive, paths, show_progress, media_dir, chrono_tz::Tz::UTC)
}

/// [`import_paths_to`] with the zone an old export's local dates (those without
/// `date_unixtime`) are read in: the exporting computer's, as far as the admin knows it.
pub fn import_paths_in(
    archive: &mut Archive,
    paths: &[PathBuf],
    show_progress: bool,
    media_dir: Option<&Path>,
    zone: chrono_tz::Tz,
) -> Result<ImportSummary, IngestError> {
    let _span = tracing::info_span!("import", files = paths.len()).entered();
    let files = collect(paths)?;
    let mut media = media_dir.map(MediaFiles::new);
    let run = |sink: &mut ImportSink<'_>| {
        for (path, format) in &files {
            import_file(sink, path, *format, show_progress, &mut media, zone)?;
        }
        if let Some(m) = media.as_mut() {
            let dir = m.dir().display().to_string();
            m.publish().map_err(|source| IngestError::Io { path: dir, source })?;
        }
        Ok::<(), IngestError>(())
    };
    let bytes: u64 = files.iter().filter_map(|(path, _)| std::fs::metadata(path).ok()).map(|m| m.len()).sum();
    let summary = if bytes >= BIG_IMPORT_BYTES {
        let (summary, alone) = archive.import_alone(run)?;
        tracing::debug!(alone, bytes, "big import");
        summary
    } else {
        archive.import(run)?
    };
    if let Some(m) = media.as_mut() {
        m.committed();
    }
    Ok(summary)
}

fn import_file(
    sink: &mut ImportSink<'_>,
    path: &Path,
    format: Format,
    show_progress: bool,
    media: &mut Option<MediaFiles>,
    zone: chrono_tz::Tz,
) -> Result<(), IngestError> {
    let display = path.display().to_string();
    let io = |source| IngestError::Io { path: display.clone(), source };
    match format {
        Format::TmeDump => {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let (channel, posts) = tme_dump::parse(&text)
                .map_err(|e| IngestError::Format { path: display.clone(), message: e.to_string() })?;
            sink.channel(&channel)?;
            for post in posts {
                sink.post(post)?;
            }
            Ok(())
        }
        Format::DesktopExport => {
            let file = File::open(path).map_err(io)?;
            let len = file.metadata().map_err(io)?.len();
            let bar = if show_progress { ProgressBar::new(len) } else { ProgressBar::hidden() };
            bar.set_style(
                ProgressStyle::with_template("{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_message(display.clone());
            let reader = BufReader::with_capacity(256 * 1024, bar.wrap_read(file));
            let mut source = tdesktop::MediaSource {
                export_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                files: media.take(),
            };
            // Parsed on a thread of its own, ahead of this one's writes (`pipe`).
            let result = pipe::parse_beside(sink, |forward| tdesktop::import(reader, forward, &mut source, zone));
            *media = source.files;
            bar.finish_and_clear();
            match result {
                Ok(_) => Ok(()),
                Err(tdesktop::ExportError::Store(e)) => Err(IngestError::Store(e)),
                Err(e) => Err(IngestError::Format { path: display, message: e.to_string() }),
            }
        }
    }
}
