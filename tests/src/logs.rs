//! One folder of log files per test (or per demo run), one file per process.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::paths::target_dir;

/// `target/e2e-logs/<name>/`, emptied when created so a run shows only its own logs.
#[derive(Debug, Clone)]
pub struct LogDir {
    dir: PathBuf,
}

impl LogDir {
    /// The log folder for a test; `name` is usually the test's name.
    pub fn for_test(name: &str) -> Result<Self> {
        Self::at(target_dir().join("e2e-logs").join(sanitize(name)))
    }

    /// A log folder at an explicit place (the demo keeps its logs under `.run/`).
    pub fn at(dir: PathBuf) -> Result<Self> {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("emptying log folder {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating log folder {}", dir.display()))?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file of the process called `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.log", sanitize(name)))
    }
}

/// The name of the current test, as the test harness names its thread
/// (`module::test_name`), or `main` outside a test.
pub fn current_test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string()
}

/// The last `lines` lines of a log file (for error messages), or a note that it is unreadable.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

/// The last few lines of `text` that report an error (Envoy's `[critical]`/`[error]`, the
/// broker's `ERROR`, a panic, a Python or Node error), so a failure's message leads with them
/// rather than leaving them at the end of a long tail that CI output may cut.
pub fn error_lines(text: &str) -> String {
    const MARKS: [&str; 6] = [
        "[critical]",
        "[error]",
        " ERROR ",
        "panicked",
        "Error:",
        "error:",
    ];
    let found: Vec<&str> = text
        .lines()
        .filter(|line| MARKS.iter().any(|mark| line.contains(mark)))
        .collect();
    if found.is_empty() {
        return "(none in the log)".to_string();
    }
    found[found.len().saturating_sub(10)..].join("\n")
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_keep_the_failures_and_drop_the_chatter() {
        let log = "[info][main] envoy.filters.http.ext_proc loaded\n\
                   [critical][main] error initializing config: cannot bind '127.0.0.1:4': \
                   Address already in use\n\
                   [info][main] exiting";
        let lines = error_lines(log);
        assert!(lines.contains("Address already in use"), "{lines}");
        assert!(!lines.contains("ext_proc"), "{lines}");
        assert_eq!(error_lines("[info] all fine"), "(none in the log)");
    }
}
