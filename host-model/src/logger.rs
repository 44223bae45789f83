//! The model's log: one line per event on stderr (the e2e harness keeps it as a file), with the
//! worker number, like nginx's error.log.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Crit,
}

pub struct Logger {
    pub worker: usize,
    pub min: Level,
}

impl Logger {
    pub fn log(&self, level: Level, message: &str) {
        if level < self.min {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let tag = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Crit => "crit",
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{now:.3} [{tag}] worker {}: {message}", self.worker);
    }
}
