//! Token-endpoint load: N client threads, each timing every request it sends.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::oidc_client::OidcClient;
use crate::stats::Latency;

#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadResult {
    pub clients: usize,
    pub requests: usize,
    pub errors: usize,
    pub per_s: f64,
    #[serde(flatten)]
    pub latency: Latency,
    /// The first error seen, for the report (no secrets: OAuth error bodies only).
    pub first_error: Option<String>,
}

struct Worker {
    samples: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
}

/// Runs `work` on `clients` threads at once and folds their samples; the rate is over the
/// time from `measured_from` (the start, or the end of a warm-up whose samples were dropped).
fn run(
    clients: usize,
    measured_from: Instant,
    work: impl Fn(usize) -> Worker + Sync,
) -> LoadResult {
    let workers: Vec<Worker> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let work = &work;
                s.spawn(move || work(i))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Worker {
                    samples: Vec::new(),
                    errors: 1,
                    first_error: Some("a load thread panicked".into()),
                })
            })
            .collect()
    });
    let wall = measured_from.elapsed();
    let mut samples: Vec<Duration> = workers.iter().flat_map(|w| w.samples.clone()).collect();
    let errors = workers.iter().map(|w| w.errors).sum();
    let first_error = workers.iter().find_map(|w| w.first_error.clone());
    LoadResult {
        clients,
        requests: samples.len(),
        errors,
        per_s: samples.len() as f64 / wall.as_secs_f64(),
        latency: Latency::of(&mut samples),
        first_error,
    }
}

/// Exchanges every code in `codes` (one-time each) with `clients` concurrent clients.
pub fn code_exchange(client: &OidcClient, codes: Vec<String>, clients: usize) -> LoadResult {
    let queue = Mutex::new(codes);
    run(clients, Instant::now(), |_| {
        let mut w = Worker {
            samples: Vec::new(),
            errors: 0,
            first_error: None,
        };
        loop {
            let next = queue.lock().ok().and_then(|mut q| q.pop());
            let Some(code) = next else { break };
            let t = Instant::now();
            match client.exchange(&code) {
                Ok(_) => w.samples.push(t.elapsed()),
                Err(e) => {
                    w.errors += 1;
                    w.first_error.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
        w
    })
}

/// Each client refreshes its own token in a chain (refresh tokens rotate: every answer
/// carries the next one) for `warmup`, unrecorded, then for `duration`. The warm-up is for the
/// peer as much as the broker: oidc-provider runs on Node's JIT, still compiling in its first
/// seconds, so a load from a cold start measured it below its steady rate.
pub fn refresh_chains(
    client: &OidcClient,
    tokens: Vec<String>,
    warmup: Duration,
    duration: Duration,
) -> Result<LoadResult> {
    if tokens.is_empty() {
        bail!("no refresh tokens to start the chains");
    }
    let clients = tokens.len();
    let tokens: Vec<Mutex<String>> = tokens.into_iter().map(Mutex::new).collect();
    let measured_from = Instant::now() + warmup;
    let deadline = measured_from + duration;
    Ok(run(clients, measured_from, |i| {
        let mut w = Worker {
            samples: Vec::new(),
            errors: 0,
            first_error: None,
        };
        let Some(mut token) = tokens.get(i).and_then(|t| t.lock().ok()).map(|t| t.clone()) else {
            return w;
        };
        while Instant::now() < deadline {
            let t = Instant::now();
            match client.refresh(&token) {
                Ok(answer) => {
                    if t >= measured_from {
                        w.samples.push(t.elapsed());
                    }
                    match answer.refresh_token {
                        Some(next) => token = next,
                        None => {
                            w.errors += 1;
                            w.first_error
                                .get_or_insert_with(|| "no refresh token in the answer".into());
                            break;
                        }
                    }
                }
                Err(e) => {
                    // A broken chain cannot continue: its token is gone.
                    w.errors += 1;
                    w.first_error.get_or_insert_with(|| format!("{e:#}"));
                    break;
                }
            }
        }
        w
    }))
}
