//! The built `postkeeper` binary as a child process, configured the way the README tells an
//! operator to: a working directory with a `.env`, nothing else from the test's environment.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use super::wait::eventually;

/// A working directory: its `.env` and the store the processes started in it share.
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(dotenv: &str) -> Workdir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".env"), dotenv).expect("writes .env");
        Workdir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary in this directory with an empty environment.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_postkeeper"));
        c.current_dir(self.path()).env_clear();
        c
    }

    /// A CLI command to its end.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("the binary runs")
    }

    /// `postkeeper run` (a bare `postkeeper`), its output going to a log file.
    pub fn start_bot(&self) -> BotProcess {
        self.spawn(&[])
    }

    /// The binary with `args`, left running, its output going to a log file.
    pub fn spawn(&self, args: &[&str]) -> BotProcess {
        self.spawn_with(&[], args)
    }

    /// The same with `env` set for this process only (e.g. each bot its own Bot API server).
    pub fn spawn_with(&self, env: &[(&str, &str)], args: &[&str]) -> BotProcess {
        let n = std::fs::read_dir(self.path()).map(|d| d.count()).unwrap_or(0);
        let log = self.path().join(format!("bot-{n}.log"));
        let out = File::create(&log).expect("creates the log");
        let err = out.try_clone().expect("clones the log handle");
        let mut command = self.command();
        command.envs(env.iter().copied()).args(args).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        BotProcess { child: Some(command.spawn().expect("starts")), log }
    }
}

/// A running bot process. Killed if dropped while still running.
pub struct BotProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl BotProcess {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// What the process wrote so far (stdout and stderr).
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as the OOM killer or a power cut does, and the exit reaped.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Sends SIGTERM, as a service manager does.
    pub fn sigterm(&self) {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits (without blocking the test's runtime, which serves the fake server) for the
    /// process to exit by itself.
    pub async fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let log = self.log.clone();
        let child = self.child.as_mut().expect("the process was started");
        let mut status = None;
        let why = || format!("no exit; log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        eventually(limit, why, || {
            status = child.try_wait().expect("waits");
            status.is_some()
        })
        .await;
        status.expect("exited")
    }

    /// SIGTERM, then the exit status, which must come within 5 s.
    pub async fn stop(mut self) -> (ExitStatus, String) {
        self.sigterm();
        let status = self.exit_within(Duration::from_secs(5)).await;
        (status, self.logs())
    }

    /// Waits until the log holds `needle`.
    pub async fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        eventually(limit, || format!("no {needle:?} in the log:\n{}", self.logs()), || self.logs().contains(needle))
            .await;
        self.logs()
    }
}
