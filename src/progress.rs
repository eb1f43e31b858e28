//! Long commands (backup, stats snapshot, import, demo) show what they do on a terminal and
//! end with one summary line, so a five-minute run is never silent and a log gets one line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner or bar on stderr while a terminal watches; nothing otherwise.
pub struct Activity {
    bar: ProgressBar,
    started: Instant,
}

impl Activity {
    pub fn start(message: &str, shown: bool) -> Self {
        let bar = if shown {
            let bar = ProgressBar::new_spinner().with_message(message.to_string());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self {
            bar,
            started: Instant::now(),
        }
    }

    /// Shows the size a file has reached against the size it will about have (a copy).
    pub fn watch_file(&self, file: PathBuf, expected_bytes: u64, message: &str) {
        let bar = self.bar.clone();
        let message = message.to_string();
        std::thread::spawn(move || {
            while !bar.is_finished() {
                let written = std::fs::metadata(&file).map_or(0, |m| m.len());
                bar.set_message(format!(
                    "{message}: {} of about {}",
                    bytes(written),
                    bytes(expected_bytes)
                ));
                std::thread::sleep(Duration::from_millis(250));
            }
        });
    }

    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Clears the terminal line and returns how long it took.
    pub fn finish(self) -> Duration {
        self.bar.finish_and_clear();
        self.started.elapsed()
    }
}

pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// 1536 → "1.5 KiB".
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = value as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// 151.2 s → "2 min 31 s".
pub fn duration(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = elapsed.as_secs();
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_people_say_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(6_335_076_761), "5.9 GiB");
        assert_eq!(duration(Duration::from_millis(1300)), "1.3 s");
        assert_eq!(duration(Duration::from_secs(151)), "2 min 31 s");
    }
}
