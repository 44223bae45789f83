//! `gatehouse-host-model`: serves HTTP/1.1 and h2c with the filter loaded, as Kong would.

use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use gatehouse_host_model::abi;
use gatehouse_host_model::options::Options;
use gatehouse_host_model::server::accept_loop;
use gatehouse_host_model::shared_kv::SharedKv;
use gatehouse_host_model::worker::Worker;
use wasmtime::{Config, Engine, Linker, Module};

fn main() {
    if let Err(e) = run() {
        eprintln!("gatehouse-host-model: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let options = Arc::new(Options::parse(std::env::args().skip(1))?);
    let engine = Engine::new(&Config::new()).context("starting Wasmtime")?;
    let bytes = std::fs::read(&options.wasm)
        .with_context(|| format!("reading --wasm {}", options.wasm.display()))?;
    let module = Module::new(&engine, &bytes)
        .with_context(|| format!("compiling {}", options.wasm.display()))?;
    let listener = std::net::TcpListener::bind(&options.listen)
        .with_context(|| format!("binding --listen {}", options.listen))?;
    listener.set_nonblocking(true)?;
    let shared = Arc::new(SharedKv::new(options.shm_kv.clone()));
    let started = Arc::new(AtomicUsize::new(0));
    if let Some(addr) = &options.status_listen {
        let status = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding --status-listen {addr}"))?;
        let (started, workers) = (started.clone(), options.workers);
        std::thread::spawn(move || serve_status(status, started, workers));
    }
    let mut threads = Vec::new();
    for index in 0..options.workers {
        let listener = listener.try_clone()?;
        let started = started.clone();
        let (engine, module, options, shared) = (
            engine.clone(),
            module.clone(),
            options.clone(),
            shared.clone(),
        );
        threads.push(
            std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || -> Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&runtime, async move {
                        let mut linker = Linker::new(&engine);
                        abi::link(&mut linker)?;
                        let worker =
                            Worker::new(index, engine, module, Rc::new(linker), options, shared);
                        worker.boot();
                        started.fetch_add(1, Ordering::SeqCst);
                        let listener = tokio::net::TcpListener::from_std(listener)?;
                        accept_loop(worker, listener).await;
                        Ok(())
                    })
                })?,
        );
    }
    eprintln!(
        "gatehouse-host-model: {} workers on {}, upstream {}",
        options.workers, options.listen, options.upstream
    );
    for t in threads {
        match t.join() {
            Ok(r) => r?,
            Err(_) => anyhow::bail!("a worker thread panicked"),
        }
    }
    Ok(())
}

/// `/ready`: 200 once every worker started its filter instance (or gave up trying), else 503.
fn serve_status(listener: std::net::TcpListener, started: Arc<AtomicUsize>, workers: usize) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf);
        let ready = started.load(Ordering::SeqCst) >= workers;
        let answer: &[u8] = if ready {
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nready\n"
        } else {
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\nConnection: close\r\n\r\nstarting\n"
        };
        let _ = stream.write_all(answer);
    }
}
