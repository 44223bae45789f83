//! Part 4's figures: what criterion reported for `filter/benches/hot_path.rs`, natively
//! (its estimates files) and compiled to wasm32-wasip1 under Node (its printed report,
//! saved by `make bench`: the WASI run cannot write criterion's files). Both run just
//! before this program.

use std::path::Path;

/// One criterion benchmark's median time per iteration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Micro {
    pub name: String,
    pub median_ns: f64,
    pub wasm_median_ns: Option<f64>,
}

/// Medians from `<target>/criterion/hot_path/*/new/estimates.json`, sorted by name, with
/// the wasm medians from `<target>/criterion-wasm.txt`; empty when criterion has not run.
pub fn read(target: &Path) -> Vec<Micro> {
    let group = target.join("criterion").join("hot_path");
    let Ok(entries) = std::fs::read_dir(&group) else {
        return Vec::new();
    };
    let wasm_text = std::fs::read_to_string(target.join("criterion-wasm.txt")).unwrap_or_default();
    let wasm = parse_report(&wasm_text);
    let mut out: Vec<Micro> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("new").join("estimates.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let wasm_median_ns = wasm.iter().find(|(n, _)| *n == name).map(|(_, ns)| *ns);
            Some(Micro {
                name,
                median_ns: v["median"]["point_estimate"].as_f64()?,
                wasm_median_ns,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `(name, middle estimate in ns)` from criterion's printed lines
/// `hot_path/NAME  time:   [1.0 µs 2.0 µs 3.0 µs]` (the `time:` part may wrap to the next line).
pub fn parse_report(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("hot_path/") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            if !name.is_empty() && !rest.contains(':') || rest.contains("time:") {
                current = Some(name.to_string());
            }
        }
        if let (Some(name), Some(at)) = (&current, trimmed.find("time:")) {
            let inside = trimmed[at + 5..].trim().trim_start_matches('[');
            let words: Vec<&str> = inside.split_whitespace().collect();
            if let (Some(value), Some(unit)) = (words.get(2), words.get(3)) {
                if let (Ok(v), Some(f)) = (value.parse::<f64>(), unit_ns(unit)) {
                    out.push((name.clone(), v * f));
                }
            }
            current = None;
        }
    }
    out
}

fn unit_ns(unit: &str) -> Option<f64> {
    match unit {
        "ps" => Some(0.001),
        "ns" => Some(1.0),
        "µs" | "us" => Some(1e3),
        "ms" => Some(1e6),
        "s" => Some(1e9),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrapped_and_single_line_reports() {
        let text = "Benchmarking hot_path/a: Analyzing\nhot_path/a time:   [1.0 µs 2.5 µs 3.0 µs]\n\
                    Benchmarking hot_path/b_long\nhot_path/b_long\n                        time:   [10.0 µs 12.0 µs 14.0 µs]\n";
        let r = parse_report(text);
        assert_eq!(
            r,
            vec![("a".to_string(), 2500.0), ("b_long".to_string(), 12000.0)]
        );
    }
}
