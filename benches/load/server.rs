//! `kairan serve` in a child process, so its resident memory is its own: the figure covers
//! the server's heap, its SQLite page cache and connection pool, and nothing of the load
//! driver or the stand-in push service (PostgreSQL's own processes are not in it either).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub address: String,
}

impl Server {
    pub fn start(env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kairan"));
        command
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // The driver's own knobs are not settings; the server refuses unknown KAIRAN_ names.
        for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("KAIRAN_BENCH_")) {
            command.env_remove(key);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("kairan serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split_once("listening on ")
                    .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_string())
            })
            .expect("the server prints its address");
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, address }
    }

    fn status_kib(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()))
            })
            .unwrap_or(0.0)
    }

    /// Starts a new peak (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }

    /// The server's peak resident memory since the last reset, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        self.status_kib("VmHWM:") / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
