//! A TCP port that accepts connections and reads, but never answers: a broker that hangs.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

pub struct SilentListener {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentListener {
    /// Listens on `127.0.0.1:port` (0: the OS picks) until dropped.
    pub fn bind(port: u16) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        let port = listener
            .local_addr()
            .context("reading local address")?
            .port();
        listener
            .set_nonblocking(true)
            .context("making the listener non-blocking")?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("silent-{port}"))
            .spawn(move || hold_connections(listener, &flag))
            .context("spawning the silent listener")?;
        Ok(Self {
            port,
            stop,
            thread: Some(thread),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Accepts, drains whatever arrives, and keeps every connection open without a byte back.
fn hold_connections(listener: TcpListener, stop: &AtomicBool) {
    let mut held: Vec<TcpStream> = Vec::new();
    let mut sink = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                held.push(stream);
            }
        }
        for stream in &mut held {
            let _ = stream.read(&mut sink);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
