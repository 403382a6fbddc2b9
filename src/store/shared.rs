//! The store shared by the bot's handlers and the replay worker: threads of its own,
//! one per connection, taking calls from one queue.

use std::sync::Arc;

use super::Archive;

/// The archive shared by handlers. SQLite is blocking, so the store has threads of its
/// own, one per connection: a store on disk gets one connection per core (WAL: searches
/// run in parallel; writes take turns on SQLite's write lock, each write transaction
/// taking it as it begins); a store in memory has one. A call is a job on one queue the
/// threads share (the shape of `tokio-rusqlite`, with a pool): a burst of updates waits
/// there as boxed closures, and a busy thread takes the next job without being put to
/// sleep and woken again for each one, as a thread of tokio's blocking pool is.
#[derive(Clone)]
pub struct SharedArchive {
    inner: Arc<StoreThreads>,
}

type Job = Box<dyn FnOnce(&mut Archive) + Send>;

/// How much of the store the shared connections map into memory ([`Archive::map_memory`]):
/// SQLite's own ceiling (`SQLITE_MAX_MMAP_SIZE`), which covers a store of a million posts
/// in large part; benches/README.md has what it saves.
const MAPPED_BYTES: i64 = 0x7fff_0000;

/// Why a call of the store gave no answer: the store's threads are gone, the call panicked
/// (a bug; the thread and its connection go on), or the call's own error (`try_call`).
#[derive(Debug, thiserror::Error)]
pub enum CallError<E = std::convert::Infallible> {
    #[error("the store is closed")]
    Closed,
    #[error("a call of the store failed (it panicked)")]
    Panicked,
    #[error(transparent)]
    Failed(E),
}

struct StoreThreads {
    /// `None` once dropped: the threads then finish the jobs queued and end.
    jobs: Option<crossbeam_channel::Sender<Job>>,
    /// Each gives its connection back as it ends.
    threads: Vec<std::thread::JoinHandle<Archive>>,
    /// A connection that only asks whether the store changed ([`SharedArchive::data_version`]);
    /// `None` for a store in memory. Closed last, after the threads' connections.
    probe: Option<std::sync::Mutex<Archive>>,
    /// Transactions the threads' connections committed ([`SharedArchive::commits`]).
    commits: Arc<std::sync::atomic::AtomicU64>,
}

impl Drop for StoreThreads {
    /// Closes the queue, waits for the threads and closes the store's connections one
    /// after another (closed at once, none of them would see itself as the last one and
    /// remove the WAL), all before the last handle is gone.
    fn drop(&mut self) {
        self.jobs = None;
        let me = std::thread::current().id();
        // (A job holding the last handle would be waiting for its own thread.)
        for thread in self.threads.drain(..).filter(|t| t.thread().id() != me) {
            // Joined and closed one at a time: the connection comes back and is dropped here.
            drop(thread.join());
        }
    }
}

/// A store thread: runs the jobs with its connection until the queue is closed, then
/// gives the connection back. A job that panics is ended there (its caller gets an
/// error); the thread goes on, and the connection with it (a transaction or snapshot
/// open in the job was rolled back as it unwound).
fn serve(mut archive: Archive, jobs: crossbeam_channel::Receiver<Job>) -> Archive {
    for job in jobs {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut archive)));
    }
    archive
}

impl SharedArchive {
    /// Shares `archive`, with one more connection per further core when it is on disk.
    pub fn new(archive: Archive) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_connections(archive, cores)
    }

    /// Shares `archive` over at most `n` connections to its store.
    pub fn with_connections(archive: Archive, n: usize) -> Self {
        let mut pool = Vec::with_capacity(n.max(1));
        while pool.len() + 1 < n {
            match archive.reopen() {
                Ok(Some(more)) => pool.push(more),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("cannot open another connection to the store: {e}");
                    break;
                }
            }
        }
        let probe = match archive.reopen() {
            Ok(probe) => probe.map(std::sync::Mutex::new),
            Err(e) => {
                tracing::warn!("cannot open a connection to watch the store for changes: {e}");
                None
            }
        };
        pool.push(archive);
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for archive in &pool {
            archive.count_commits(commits.clone());
            if let Err(e) = archive.map_memory(MAPPED_BYTES) {
                tracing::warn!("cannot map the store into memory (reads copy each page instead): {e}");
            }
        }
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::with_capacity(pool.len());
        for (i, archive) in pool.into_iter().enumerate() {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("store-{i}")).spawn(move || serve(archive, rx));
            match spawned {
                Ok(thread) => threads.push(thread),
                // Its connection is closed with the closure; the others serve.
                Err(e) => tracing::error!("cannot start a store thread: {e}"),
            }
        }
        SharedArchive { inner: Arc::new(StoreThreads { jobs: Some(tx), threads, probe, commits }) }
    }

    /// A number that changes whenever anything (this process's connections or another
    /// process) commits a change to the store: [`Archive::data_version`] of a connection of
    /// its own, asked on the caller's thread (it reads SQLite's shared WAL index, no file).
    /// `None` for a store in memory, or when the store cannot say.
    pub fn data_version(&self) -> Option<i64> {
        let probe = self.inner.probe.as_ref()?.lock().ok()?;
        probe.data_version().ok()
    }

    /// How many transactions the store's threads have committed: it moves at once with a
    /// write of this process, where [`SharedArchive::data_version`] also sees other
    /// processes'.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Runs `f` on one of the store's threads with its connection.
    pub async fn call<R, F>(&self, f: F) -> Result<R, CallError>
    where
        F: FnOnce(&mut Archive) -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |archive| {
            let _ = tx.send(f(archive));
        });
        let queued = self.inner.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        if !queued {
            return Err(CallError::Closed);
        }
        rx.await.map_err(|_| CallError::Panicked)
    }

    /// [`SharedArchive::call`] for a fallible `f`: one error to handle instead of two, its
    /// own kept typed ([`CallError::Failed`]).
    pub async fn try_call<R, E, F>(&self, f: F) -> Result<R, CallError<E>>
    where
        F: FnOnce(&mut Archive) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: Send + 'static,
    {
        match self.call(f).await {
            Ok(result) => result.map_err(CallError::Failed),
            Err(CallError::Closed) => Err(CallError::Closed),
            Err(CallError::Panicked) => Err(CallError::Panicked),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::model::{NewChannel, NewPost};

    /// Imports one post about exoplanets (the store's tests know nothing of the seed).
    fn fill(archive: &mut Archive) -> crate::store::Result<()> {
        archive.import(|sink| -> crate::store::Result<()> {
            sink.channel(&NewChannel::telegram(-1001, "Test"))?;
            sink.post(NewPost {
                message_id: Some(1),
                seq: 1,
                date: None,
                edited: None,
                text: "Как DL открывает новые экзопланеты\nРобот-телескоп ищет экзопланеты.".into(),
                entities: vec![],
                ..Default::default()
            })?;
            Ok(())
        })?;
        Ok(())
    }

    /// Posts holding the stem of «экзопланеты», as the next call sees them.
    fn exoplanets(archive: &mut Archive) -> crate::store::Result<i64> {
        archive.doc_count(&crate::text::stem("экзопланеты"))
    }

    /// Two calls wait for each other inside the store: they finish only if they run at once.
    async fn both_run_at_once(shared: &SharedArchive) -> bool {
        let (a_tx, a_rx) = mpsc::channel::<()>();
        let (b_tx, b_rx) = mpsc::channel::<()>();
        let meet = |tell: mpsc::Sender<()>, wait: mpsc::Receiver<()>| {
            move |_: &mut Archive| {
                let _ = tell.send(());
                wait.recv_timeout(Duration::from_millis(500)).is_ok()
            }
        };
        let (a, b) = tokio::join!(shared.call(meet(a_tx, b_rx)), shared.call(meet(b_tx, a_rx)));
        matches!((a, b), (Ok(true), Ok(true)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_on_disk_serves_calls_in_parallel() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let archive = Archive::open(&dir.path().join("p.db"))?;
        let shared = SharedArchive::with_connections(archive, 2);
        assert!(both_run_at_once(&shared).await);
        // A write through one connection is seen by the next call, whichever connection it gets.
        shared.try_call(fill).await?;
        for _ in 0..4 {
            let found = shared.try_call(exoplanets).await?;
            assert_eq!(found, 1);
        }
        // Concurrent writers take turns instead of failing.
        let writes = (0..8).map(|i| {
            let shared = shared.clone();
            tokio::spawn(async move { shared.try_call(move |a| a.remember_query(&format!("запрос {i}"), 1)).await })
        });
        for w in writes {
            w.await??;
        }
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_that_panics_is_an_error_and_the_store_goes_on() -> anyhow::Result<()> {
        let shared = SharedArchive::with_connections(Archive::open_in_memory()?, 1);
        shared.try_call(fill).await?;
        let failed = shared
            .call(|a| {
                let _snapshot = a.snapshot();
                panic!("a bug in a handler");
            })
            .await;
        assert!(matches!(failed, Err(CallError::Panicked)));
        // The same thread and connection serve the next call, with no snapshot left open.
        let found = shared.try_call(exoplanets).await?;
        assert_eq!(found, 1);
        shared.try_call(|a| a.remember_query("после паники", 1)).await?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_last_handle_closes_the_store() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.db");
        let shared = SharedArchive::with_connections(Archive::open(&path)?, 2);
        shared.try_call(fill).await?;
        let wal = dir.path().join("c.db-wal");
        assert!(wal.exists());
        let calls: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                tokio::spawn(async move { shared.try_call(exoplanets).await })
            })
            .collect();
        drop(shared);
        for call in calls {
            assert!(call.await?? > 0);
        }
        // The last handle went with the last call: every connection is closed, and SQLite
        // removed the WAL as the last one closed.
        assert!(!wal.exists());
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_in_memory_has_one_connection() -> anyhow::Result<()> {
        let shared = SharedArchive::with_connections(Archive::open_in_memory()?, 2);
        assert!(!both_run_at_once(&shared).await);
        Ok(())
    }
}
