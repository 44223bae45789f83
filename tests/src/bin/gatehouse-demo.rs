//! `make demo`: the whole system on fixed loopback ports until Ctrl-C.

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use gatehouse_e2e::paths::repo_root;
use gatehouse_e2e::ports::ensure_port_free;
use gatehouse_e2e::secrets::random_cookie_secret;
use gatehouse_e2e::{Process, Stack, StackOptions, StackPorts, ADMIN, BOB};

const PORTS: StackPorts = StackPorts {
    envoy: 8080,
    admin: 9901,
    broker: 5556,
    upstream: 8081,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gatehouse-demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    for (port, what) in [
        (PORTS.envoy, "Envoy"),
        (PORTS.admin, "Envoy's admin page"),
        (PORTS.broker, "the broker"),
        (PORTS.upstream, "the upstream app"),
    ] {
        ensure_port_free(port, what)?;
    }
    let root = repo_root();
    let run_dir = root.join(".run").join("demo");
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let log_dir = run_dir.join("logs");

    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .context("installing the Ctrl-C handler")?;

    println!("Starting the broker, the upstream app and Envoy…");
    let mut stack = Stack::start(StackOptions {
        name: Some("demo".to_string()),
        log_dir: Some(log_dir.clone()),
        dir: Some(run_dir.clone()),
        ports: Some(PORTS),
        // Kept across runs so a signed-in browser stays signed in after a restart.
        cookie_secret: Some(persistent_cookie_secret(&run_dir.join("cookie_secret"))?),
        ..StackOptions::default()
    })?;

    let logs = log_dir.strip_prefix(&root).unwrap_or(&log_dir);
    println!();
    println!(
        "Gatehouse demo is running. Open http://127.0.0.1:{}",
        PORTS.envoy
    );
    println!();
    for user in [ADMIN, BOB] {
        println!(
            "  sign in as {} / {}   (groups: {})",
            user.email,
            user.password,
            user.groups.join(", ")
        );
    }
    println!();
    println!("  broker      {}", stack.issuer());
    println!("  upstream    {}", stack.echo.url());
    println!("  envoy admin {}", stack.envoy.admin_url());
    println!("  logs        {}/", logs.display());
    println!();
    println!("Press Ctrl-C to stop.");

    let outcome = loop {
        match stop_rx.recv_timeout(Duration::from_millis(500)) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Err(err) = check_alive(stack.envoy.process()) {
            break Err(err);
        }
        if let Err(err) = check_alive(stack.broker_mut()?.process()) {
            break Err(err);
        }
    };
    println!("\nStopping…");
    drop(stack);
    println!("Stopped.");
    outcome
}

fn check_alive(process: &mut Process) -> Result<()> {
    if let Some(status) = process.exited()? {
        bail!(
            "{} stopped on its own ({status}); log {}:\n{}",
            process.name(),
            process.log_path().display(),
            process.log_tail(30)
        );
    }
    Ok(())
}

fn persistent_cookie_secret(path: &Path) -> Result<String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        let secret = secret.trim();
        if !secret.is_empty() {
            return Ok(secret.to_string());
        }
    }
    let secret = random_cookie_secret()?;
    std::fs::write(path, &secret).with_context(|| format!("writing {}", path.display()))?;
    Ok(secret)
}
