//! Import of an export with 10,000 photos of a few KB each (generated once into a
//! temporary folder, or into `POSTKEEPER_BENCH_EXPORT` when set, and kept there so that
//! `/usr/bin/time -v postkeeper import` can be run on it): the rate of a first import
//! (every file copied into a fresh media folder) and of a re-import (nothing copied).
//!
//!     cargo bench --bench import_media
//!     POSTKEEPER_BENCH_EXPORT=/tmp/pk-media cargo bench --bench import_media
//!
//! `POSTKEEPER_BENCH_PHOTOS` changes the count.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use postkeeper::ingest::import_paths_to;
use postkeeper::store::Archive;
use rand::{Rng, SeedableRng};

/// Bytes of a generated photo: 2 to 6 KB, a JPEG's first bytes then noise (unique files).
fn photo_bytes(rng: &mut rand::rngs::StdRng) -> Vec<u8> {
    let len = rng.random_range(2_048..6_144);
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
    bytes.extend((bytes.len()..len).map(|_| rng.random::<u8>()));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// Writes the export: one photo message per file, a caption on every third, albums of
/// three every tenth message. Returns the export folder and the bytes of its photos.
fn generate(dir: &Path, photos: usize) -> std::io::Result<u64> {
    let result = dir.join("result.json");
    let bytes_file = dir.join(".bytes");
    if result.is_file()
        && let Ok(n) = std::fs::read_to_string(&bytes_file)
        && let Ok(n) = n.trim().parse::<u64>()
    {
        return Ok(n);
    }
    std::fs::create_dir_all(dir.join("photos"))?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let mut out = BufWriter::new(File::create(&result)?);
    write!(out, r#"{{"name": "Bench media", "type": "public_channel", "id": 1777000111, "messages": ["#)?;
    let mut total = 0u64;
    for i in 0..photos {
        let bytes = photo_bytes(&mut rng);
        total += bytes.len() as u64;
        let path = format!("photos/photo_{i}@01-01-2024_00-00-00.jpg");
        std::fs::write(dir.join(&path), &bytes)?;
        // Messages 10k, 10k+1, 10k+2 share a second: an album.
        let date = 1_700_000_000 + (i as i64 / 3) * 60 + if i % 10 < 3 { 0 } else { i as i64 % 3 };
        let text = if i % 3 == 0 {
            format!("Снимок номер {i}\nПодпись к фотографии {i}.")
        } else {
            String::new()
        };
        let sep = if i == 0 { "" } else { "," };
        write!(
            out,
            r#"{sep}{{"id": {id}, "type": "message", "date": "2024-01-01T00:00:00", "date_unixtime": "{date}",
               "from": "Bench media", "from_id": "channel1777000111", "photo": "{path}",
               "photo_file_size": {size}, "width": 1280, "height": 720, "text": {text:?}}}"#,
            id = i + 1,
            size = bytes.len(),
        )?;
    }
    write!(out, "]}}")?;
    out.flush()?;
    std::fs::write(bytes_file, total.to_string())?;
    Ok(total)
}

fn bench(c: &mut Criterion) {
    let photos: usize = std::env::var("POSTKEEPER_BENCH_PHOTOS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let temp = tempfile::tempdir().expect("tempdir");
    let export: PathBuf =
        std::env::var_os("POSTKEEPER_BENCH_EXPORT").map_or_else(|| temp.path().join("export"), PathBuf::from);
    let bytes = generate(&export, photos).expect("generates the export");
    eprintln!("export: {} ({photos} photos, {:.1} MB)", export.display(), bytes as f64 / 1e6);
    let paths = [export.join("result.json")];

    let mut group = c.benchmark_group("import_media");
    group.sample_size(10).measurement_time(Duration::from_secs(40)).warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(bytes));
    let fresh = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = Archive::open(&dir.path().join("b.db")).expect("store");
        (dir, archive)
    };
    group.bench_function(format!("first_import_{photos}_photos"), |b| {
        b.iter_batched(
            fresh,
            |(dir, mut archive)| {
                let s = import_paths_to(&mut archive, &paths, false, Some(&dir.path().join("media"))).expect("imports");
                assert_eq!(s.media_copied, photos);
                (dir, archive)
            },
            BatchSize::PerIteration,
        )
    });
    let (dir, mut archive) = fresh();
    let media = dir.path().join("media");
    import_paths_to(&mut archive, &paths, false, Some(&media)).expect("first import");
    group.bench_function(format!("reimport_{photos}_photos"), |b| {
        b.iter(|| {
            let s = import_paths_to(&mut archive, &paths, false, Some(&media)).expect("imports");
            assert_eq!((s.media_copied, s.media_present), (0, photos));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
