//! Running a command to completion with its input written to stdin and its output collected:
//! the Python checkers and the broker's command line are driven this way.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result};

/// Starts `cmd` with piped stdin, stdout and stderr, writes `input`, closes stdin and waits.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    child
        .stdin
        .take()
        .context("the child's stdin")?
        .write_all(input)
        .with_context(|| format!("writing the input of {cmd:?}"))?;
    child
        .wait_with_output()
        .with_context(|| format!("waiting for {cmd:?}"))
}
