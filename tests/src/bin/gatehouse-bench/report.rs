//! The results as a Markdown table (printed and written to bench/results/latest.md) and
//! as JSON (bench/results/latest.json).

use std::fmt::Write as _;

use crate::broker_bench::BrokerResult;
use crate::gateway::{CaseResult, Memory};
use crate::micro::Micro;
use crate::token_load::LoadResult;

#[derive(Debug, serde::Serialize)]
pub struct Machine {
    pub date_utc: String,
    pub nproc: usize,
    pub cpu_model: String,
    pub envoy: String,
    pub rounds: usize,
    pub seconds_per_run: u64,
    pub wrk: String,
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub machine: Machine,
    pub gateway: Vec<CaseResult>,
    /// None when only the broker part ran.
    pub memory: Option<Memory>,
    pub broker: Option<BrokerResult>,
    pub micro: Vec<Micro>,
    pub credentials: Vec<(String, usize)>,
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn load_row(out: &mut String, what: &str, r: &LoadResult) {
    let errors = if r.errors == 0 {
        String::new()
    } else {
        format!(
            " ({} errors: {})",
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        )
    };
    let _ = writeln!(
        out,
        "| {what} | {} | {:.0}{errors} | {:.2} | {:.2} |",
        r.clients, r.per_s, r.latency.p50_ms, r.latency.p99_ms
    );
}

pub fn markdown(r: &Report) -> String {
    let m = &r.machine;
    let mut out = String::new();
    let _ = writeln!(out, "# Gatehouse benchmark results\n");
    let _ = writeln!(
        out,
        "{} · {} cores · {} · {} · {} rounds × {} s per listener · wrk `{}`\n",
        m.date_utc, m.nproc, m.cpu_model, m.envoy, m.rounds, m.seconds_per_run, m.wrk
    );
    if !r.gateway.is_empty() {
        gateway_markdown(&mut out, r);
    }
    if let Some(mem) = &r.memory {
        memory_markdown(&mut out, mem);
    }
    if let Some(b) = &r.broker {
        broker_markdown(&mut out, b);
    }
    if !r.micro.is_empty() {
        micro_markdown(&mut out, &r.micro);
    }
    out
}

fn gateway_markdown(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "## Envoy, one worker, direct responses (medians over rounds)\n"
    );
    let _ = writeln!(
        out,
        "| listener | req/s | p50 ms | p99 ms | × no filter | × empty filter | µs/request over empty filter |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for c in &r.gateway {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.3} | {:.3} | {:.2} | {:.2} | {:.1} |",
            c.label,
            c.requests_per_s,
            c.p50_ms,
            c.p99_ms,
            c.vs_no_filter,
            c.vs_empty_filter,
            c.extra_us_vs_empty
        );
    }
    for (a, b, what) in [
        (
            "gatehouse_cookie_small",
            "envoy_oauth2",
            "Gatehouse session ÷ Envoy oauth2 session",
        ),
        (
            "gatehouse_bearer",
            "jwt_authn_cached",
            "Gatehouse cached bearer ÷ jwt_authn + jwt_cache",
        ),
        (
            "empty_gatehouse_calls",
            "empty_filter",
            "empty filter + Gatehouse's host calls ÷ empty filter",
        ),
        (
            "empty_gatehouse_calls_large",
            "empty_filter",
            "empty filter + Gatehouse's host calls, 150 groups ÷ empty filter",
        ),
        (
            "gatehouse_cookie_large",
            "empty_gatehouse_calls_large",
            "Gatehouse chunked session ÷ its host calls alone (150 groups)",
        ),
    ] {
        if let Some(ratio) = round_ratio(&r.gateway, a, b) {
            let _ = writeln!(
                out,
                "\n{what} (median of same-round ratios): **{ratio:.2}**"
            );
        }
    }
    if !r.credentials.is_empty() {
        let sizes: Vec<String> = r
            .credentials
            .iter()
            .map(|(k, n)| format!("{k} {n} B"))
            .collect();
        let _ = writeln!(out, "\nCredential header sizes: {}.", sizes.join(", "));
    }
}

/// The median over rounds of case `a`'s rate over case `b`'s in the same round.
fn round_ratio(cases: &[CaseResult], a: &str, b: &str) -> Option<f64> {
    let find = |k: &str| cases.iter().find(|c| c.key == k);
    let (a, b) = (find(a)?, find(b)?);
    let ratios: Vec<f64> = a
        .rounds
        .iter()
        .zip(&b.rounds)
        .map(|(x, y)| x.requests_per_s / y.requests_per_s)
        .collect();
    (!ratios.is_empty()).then(|| crate::stats::median(&ratios))
}

fn memory_markdown(out: &mut String, mem: &Memory) {
    let _ = writeln!(
        out,
        "\n## Envoy memory (VmRSS, one listener, after 1 s of traffic)\n"
    );
    let _ = writeln!(out, "| Envoy with | VmRSS |\n| --- | ---: |");
    let _ = writeln!(out, "| no filter | {} |", mib(mem.no_filter_kib));
    let _ = writeln!(
        out,
        "| empty proxy-wasm filter | {} |",
        mib(mem.empty_filter_kib)
    );
    let _ = writeln!(out, "| Gatehouse filter | {} |", mib(mem.gatehouse_kib));
    let _ = writeln!(
        out,
        "\nGatehouse − empty filter: {:+.1} MiB.",
        (mem.gatehouse_kib as f64 - mem.empty_filter_kib as f64) / 1024.0
    );
    let _ = writeln!(
        out,
        "\n`.wasm` sizes: gatehouse_filter.wasm {} bytes ({:.0} KiB), empty filter {} bytes.",
        mem.gatehouse_wasm_bytes,
        mem.gatehouse_wasm_bytes as f64 / 1024.0,
        mem.empty_wasm_bytes
    );
}

fn broker_markdown(out: &mut String, b: &BrokerResult) {
    let _ = writeln!(
        out,
        "\n## Broker token endpoint (loopback, server on one core)\n\nEach refresh load: {} s of warm-up, unrecorded, then {} s measured (broker and oidc-provider alike).\n",
        b.refresh_warmup_seconds, b.refresh_seconds
    );
    let _ = writeln!(out, "| grant | clients | per s | p50 ms | p99 ms |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    for l in &b.code_exchange {
        load_row(out, "Gatehouse broker RS256: code exchange", l);
    }
    for l in &b.refresh {
        load_row(out, "Gatehouse broker RS256: refresh (rotating)", l);
    }
    match &b.peer {
        Ok(p) => {
            for l in &p.refresh {
                load_row(out, &format!("{}: refresh (rotating)", p.name), l);
            }
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "| oidc-provider: refresh | – | not measured: {e} | | |"
            );
        }
    }
    for v in &b.variants {
        for l in &v.code_exchange {
            load_row(
                out,
                &format!("Gatehouse broker {}: code exchange", v.label),
                l,
            );
        }
        for l in &v.refresh {
            load_row(
                out,
                &format!("Gatehouse broker {}: refresh (rotating)", v.label),
                l,
            );
        }
        match &v.peer {
            Ok(p) => {
                for l in &p.refresh {
                    load_row(out, &format!("{}: refresh (rotating)", p.name), l);
                }
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "| oidc-provider {}: refresh | – | not measured: {e} | | |",
                    v.alg
                );
            }
        }
    }
    ratios_markdown(out, b);
    let _ = writeln!(out, "\n| full login (authorize → form → callback → token) | logins | p50 ms | p99 ms | form POST p50 ms |");
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: |");
    for l in [&b.login_cost10, &b.login_cost4] {
        let _ = writeln!(
            out,
            "| bcrypt cost {} | {} | {:.1} | {:.1} | {:.1} |",
            l.bcrypt_cost, l.logins, l.total.p50_ms, l.total.p99_ms, l.form_post.p50_ms
        );
    }
    let _ = writeln!(
        out,
        "\nbcrypt share of a cost-10 login: ≈ {:.1} ms (median form POST at cost 10 minus cost 4); \
         **full login p50 minus the bcrypt share: {:.1} ms** (issue 15's figure).",
        b.bcrypt_share_ms,
        b.login_cost10.total.p50_ms - b.bcrypt_share_ms
    );
    let peer_rss = match &b.peer {
        Ok(p) => format!("; oidc-provider after its load {}", mib(p.rss_after_kib)),
        Err(_) => String::new(),
    };
    let _ = writeln!(
        out,
        "Broker VmRSS: idle {}, after the load {}{peer_rss}.",
        mib(b.rss_idle_kib),
        mib(b.rss_after_kib)
    );
}

/// `a ÷ b`, or a dash when `b` is missing or zero.
fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 && a.is_finite() && b.is_finite() => format!("{:.2}", a / b),
        _ => "–".into(),
    }
}

fn at(loads: &[LoadResult], clients: usize) -> Option<&LoadResult> {
    loads.iter().find(|l| l.clients == clients)
}

/// The figures: refresh grants/s and p99 over oidc-provider's, per signing algorithm
/// and load level; against oidc-provider with RS256 and with the same algorithm.
fn ratios_markdown(out: &mut String, b: &BrokerResult) {
    let peer_rs = b.peer.as_ref().ok().map(|p| &p.refresh[..]).unwrap_or(&[]);
    let mut rows: Vec<(&str, &[LoadResult], &[LoadResult])> = vec![("RS256", &b.refresh, peer_rs)];
    for v in &b.variants {
        let same = match &v.peer {
            Ok(p) => &p.refresh[..],
            // Baselines and memory-storage runs: the peer run of their algorithm.
            Err(_) if v.alg == "RS256" => peer_rs,
            Err(_) => b
                .variants
                .iter()
                .find(|o| o.alg == v.alg && o.peer.is_ok())
                .and_then(|o| o.peer.as_ref().ok())
                .map_or(&[][..], |p| &p.refresh[..]),
        };
        rows.push((&v.label, &v.refresh, same));
    }
    let _ = writeln!(
        out,
        "\n| refresh grant, signing | clients | broker per s ÷ oidc-provider RS256 | ÷ oidc-provider same alg | broker p99 ÷ oidc-provider RS256 p99 | ÷ same alg p99 |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for (alg, ours, same) in rows {
        for l in ours {
            let rs = at(peer_rs, l.clients);
            let sa = at(same, l.clients);
            let _ = writeln!(
                out,
                "| {alg} | {} | {} | {} | {} | {} |",
                l.clients,
                ratio(l.per_s, rs.map(|p| p.per_s)),
                ratio(l.per_s, sa.map(|p| p.per_s)),
                ratio(l.latency.p99_ms, rs.map(|p| p.latency.p99_ms)),
                ratio(l.latency.p99_ms, sa.map(|p| p.latency.p99_ms)),
            );
        }
    }
}

fn micro_markdown(out: &mut String, micro: &[Micro]) {
    let _ = writeln!(
        out,
        "\n## Filter hot path without Envoy (criterion medians)\n"
    );
    let _ = writeln!(
        out,
        "| benchmark | native | wasm32-wasip1 in Node's V8 |\n| --- | ---: | ---: |"
    );
    for m in micro {
        let wasm = m
            .wasm_median_ns
            .map_or("–".to_string(), |ns| format!("{:.2} µs", ns / 1000.0));
        let _ = writeln!(
            out,
            "| {} | {:.2} µs | {wasm} |",
            m.name,
            m.median_ns / 1000.0
        );
    }
}
