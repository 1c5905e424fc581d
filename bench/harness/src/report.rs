//! Results: what each run measured, the ratios Sextant/peer and the goals, written as JSON, a
//! Markdown table and an SVG chart of the ratios.

use std::fmt::Write as _;

use serde::Serialize;

use crate::query::QueryReport;
use crate::workload::Kind;

/// Closed-loop or paced writes.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Ingest {
    /// Points acknowledged.
    pub points: u64,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// Points per wall-clock second.
    pub points_per_s: f64,
    /// Server CPU-seconds (user + system) over the phase.
    pub cpu_s: f64,
    /// Points per server CPU-second.
    pub points_per_cpu_s: f64,
    /// Median request latency, ms.
    pub p50_ms: f64,
    /// 99th percentile request latency, ms.
    pub p99_ms: f64,
    /// Requests sent.
    pub requests: usize,
}

/// One system on one workload through one driver.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Run {
    /// Sextant, VictoriaMetrics or InfluxDB.
    pub system: String,
    /// W1 cpu, W2 hw, W3 highcard, W4 onepass.
    pub workload: String,
    /// `line protocol` or `Sift gRPC (SDK)`.
    pub driver: String,
    /// Points of the workload.
    pub points: u64,
    /// Series of the workload.
    pub series: u64,
    /// The closed-loop ingest.
    pub ingest: Option<Ingest>,
    /// Server CPU-seconds spent settling (flush, merge, compaction) after the ingest.
    pub settle_cpu_s: Option<f64>,
    /// Points per server CPU-second counting the ingest and the settling.
    pub points_per_cpu_s_with_settle: Option<f64>,
    /// How the data directory was settled.
    pub settle: Option<String>,
    /// Disk space of the whole data directory once settled (allocated blocks, as `du`).
    pub bytes: Option<u64>,
    /// The same as the sum of file sizes (counting preallocated holes).
    pub apparent_bytes: Option<u64>,
    /// Allocated bytes by entry of the data directory, two levels deep.
    pub bytes_by_entry: std::collections::BTreeMap<String, u64>,
    /// `bytes / points`.
    pub bytes_per_point: Option<f64>,
    /// Disk in use 60 s after the closed-loop ingest, before any flush is asked for, per
    /// point sent.
    pub idle_disk_bytes_per_point: Option<f64>,
    /// Bytes the server wrote to disk (`write_bytes` of `/proc/PID/io`) over the closed-loop
    /// ingest and the 60 s after it, per point sent.
    pub written_bytes_per_point: Option<f64>,
    /// The aggregation query.
    pub query: Option<QueryReport>,
    /// The grouped per-minute averages (W1, Sextant and VictoriaMetrics).
    pub grouped: Vec<crate::grouped::GroupedReport>,
    /// The paced ingest (a later copy of the workload).
    pub paced: Option<Ingest>,
    /// The rate the paced ingest aimed at, points/s.
    pub paced_target: Option<f64>,
    /// Peak resident set size of the server over the run, bytes.
    pub peak_rss_bytes: Option<u64>,
    /// The growth of the server's resident set over the closed-loop ingest, per series
    /// written (their points included), bytes.
    pub memory_per_series: Option<f64>,
    /// What went wrong, if anything.
    pub errors: Vec<String>,
}

/// One figure compared between Sextant and a peer.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// The workload.
    pub workload: String,
    /// The figure.
    pub metric: String,
    /// The peer.
    pub peer: String,
    /// Sextant's value.
    pub sextant: f64,
    /// The peer's value.
    pub peer_value: f64,
    /// Sextant / peer.
    pub ratio: f64,
    /// Whether a larger value is better.
    pub higher_is_better: bool,
    /// The goal, as a bound on the ratio (against VictoriaMetrics only).
    pub goal: Option<f64>,
    /// Whether the goal is met.
    pub met: Option<bool>,
}

/// The figures compared, with their goals against VictoriaMetrics: (name, higher is better,
/// goal per workload W1, W2, W3, W4).
pub const METRICS: [(&str, bool, [Option<f64>; 4]); 12] = [
    (
        "points per server CPU-second",
        true,
        [Some(2.0), Some(2.0), Some(1.5), Some(1.5)],
    ),
    ("wall points/s", true, [None; 4]),
    ("bytes per point", false, [Some(0.9); 4]),
    ("disk 60 s after the load per point", false, [Some(1.5); 4]),
    ("bytes written per point", false, [Some(1.0); 4]),
    ("query seconds", false, [None, Some(0.5), None, None]),
    (
        "grouped by host seconds",
        false,
        [Some(0.5), None, None, None],
    ),
    ("grouped by region seconds", false, [None; 4]),
    (
        "p99 latency at the paced rate",
        false,
        [Some(0.25), Some(0.25), Some(0.25), Some(0.25)],
    ),
    ("p99 latency closed-loop", false, [None; 4]),
    ("peak RSS", false, [Some(1.0); 4]),
    ("memory per active series", false, [None; 4]),
];

/// The value of figure `metric` of `run`, if measured.
pub fn figure(run: &Run, metric: &str) -> Option<f64> {
    match metric {
        "points per server CPU-second" => run.ingest.as_ref().map(|i| i.points_per_cpu_s),
        "wall points/s" => run.ingest.as_ref().map(|i| i.points_per_s),
        "bytes per point" => run.bytes_per_point,
        "disk 60 s after the load per point" => run.idle_disk_bytes_per_point,
        "bytes written per point" => run.written_bytes_per_point,
        "query seconds" => run.query.as_ref().and_then(|q| q.seconds),
        "grouped by host seconds" | "grouped by region seconds" => {
            let query = metric
                .trim_start_matches("grouped ")
                .trim_end_matches(" seconds");
            run.grouped
                .iter()
                .find(|g| g.query == query)
                .and_then(|g| g.seconds)
        }
        "p99 latency at the paced rate" => run.paced.as_ref().map(|p| p.p99_ms),
        "p99 latency closed-loop" => run.ingest.as_ref().map(|i| i.p99_ms),
        "peak RSS" => run.peak_rss_bytes.map(|b| b as f64),
        "memory per active series" => run.memory_per_series,
        _ => None,
    }
}

/// The ratios Sextant/peer of every figure both measured (line protocol on both sides).
pub fn ratios(runs: &[Run]) -> Vec<Ratio> {
    let mut out = Vec::new();
    let lp = |system: &str, workload: &str| {
        runs.iter()
            .find(|r| r.system == system && r.workload == workload && r.driver == "line protocol")
    };
    for (w, workload) in Kind::ALL.map(Kind::label).iter().enumerate() {
        let Some(sextant) = lp("Sextant", workload) else {
            continue;
        };
        for peer in ["VictoriaMetrics", "InfluxDB"] {
            let Some(other) = lp(peer, workload) else {
                continue;
            };
            for (metric, higher, goals) in METRICS {
                let (Some(s), Some(p)) = (figure(sextant, metric), figure(other, metric)) else {
                    continue;
                };
                if p <= 0.0 {
                    continue;
                }
                let ratio = s / p;
                let goal = if peer == "VictoriaMetrics" {
                    goals[w]
                } else {
                    None
                };
                out.push(Ratio {
                    workload: (*workload).to_owned(),
                    metric: metric.to_owned(),
                    peer: peer.to_owned(),
                    sextant: s,
                    peer_value: p,
                    ratio,
                    higher_is_better: higher,
                    goal,
                    met: goal.map(|g| if higher { ratio >= g } else { ratio <= g }),
                });
            }
        }
    }
    out
}

fn si(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_else(|| "–".to_owned())
}

/// The Markdown report: a table per workload, the ratios with goals, and the errors.
pub fn markdown(header: &str, runs: &[Run], ratios: &[Ratio]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "{header}\n");
    for workload in Kind::ALL.map(Kind::label) {
        let rows: Vec<&Run> = runs.iter().filter(|r| r.workload == workload).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            md,
            "### {workload} ({} points)\n",
            si(rows[0].points as f64)
        );
        let _ = writeln!(
            md,
            "| system | driver | wall points/s | points/server CPU-s | … incl. flush/merge | p50 / p99 ms closed-loop | p50 / p99 ms paced (achieved rate) | bytes/point | query s (requests) | answers | peak RSS | memory per series |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            let ingest = r.ingest.as_ref();
            let paced = r.paced.as_ref().map(|p| {
                format!(
                    "{:.1} / {:.1} ({}/s)",
                    p.p50_ms,
                    p.p99_ms,
                    si(p.points_per_s)
                )
            });
            let query = r.query.as_ref().map(|q| match q.seconds {
                Some(s) => format!("{s:.2} ({})", q.requests),
                None => q.status.clone(),
            });
            let answers = r.query.as_ref().and_then(|q| {
                q.seconds.map(|_| {
                    if q.mismatches == 0 {
                        format!("agree ({} buckets)", q.buckets)
                    } else {
                        format!("{} of {} buckets differ", q.mismatches, q.expected_buckets)
                    }
                })
            });
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.system,
                r.driver,
                opt(ingest.map(|i| si(i.points_per_s))),
                opt(ingest.map(|i| si(i.points_per_cpu_s))),
                opt(r.points_per_cpu_s_with_settle.map(si)),
                opt(ingest.map(|i| format!("{:.1} / {:.1}", i.p50_ms, i.p99_ms))),
                opt(paced),
                opt(r.bytes_per_point.map(|b| format!("{b:.3}"))),
                opt(query),
                opt(answers),
                opt(r.peak_rss_bytes.map(mib)),
                opt(r.memory_per_series.map(|b| format!("{b:.0} B"))),
            );
        }
        md.push('\n');
    }
    let grouped: Vec<&Run> = runs.iter().filter(|r| !r.grouped.is_empty()).collect();
    if !grouped.is_empty() {
        let _ = writeln!(
            md,
            "### Grouped per-minute averages over W1 (SignalFlow `data('cpu.usage_user').mean(by=[key])` / MetricsQL `avg by (key) (avg_over_time(cpu_usage_user[1m]))`)\n"
        );
        let _ = writeln!(
            md,
            "| system | query | seconds | groups | values | answers |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for r in grouped {
            for g in &r.grouped {
                let answers = if g.seconds.is_none() {
                    g.status.clone()
                } else if g.mismatches == 0 {
                    "agree".to_owned()
                } else {
                    format!("{} differ, e.g. {}", g.mismatches, g.examples.join("; "))
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {answers} |",
                    r.system,
                    g.query,
                    opt(g.seconds.map(|s| format!("{s:.3}"))),
                    g.groups,
                    g.values,
                );
            }
        }
        md.push('\n');
    }
    if !ratios.is_empty() {
        let _ = writeln!(md, "### Ratios Sextant / peer\n");
        let _ = writeln!(
            md,
            "| workload | figure | peer | Sextant | peer | ratio | goal | |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for r in ratios {
            let goal = r
                .goal
                .map(|g| format!("{} {g}x", if r.higher_is_better { "≥" } else { "≤" }));
            let met = match r.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "",
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {:.2}x | {} | {met} |",
                r.workload,
                r.metric,
                r.peer,
                si(r.sextant),
                si(r.peer_value),
                r.ratio,
                opt(goal),
            );
        }
        md.push('\n');
    }
    let errors: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.errors
                .iter()
                .map(move |e| format!("- {} {} ({}): {e}", r.system, r.workload, r.driver))
        })
        .collect();
    let mismatches: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let q = r.query.as_ref()?;
            (q.mismatches > 0).then(|| {
                format!(
                    "- {} {}: {} of {} buckets differ, e.g. {}",
                    r.system,
                    r.workload,
                    q.mismatches,
                    q.expected_buckets,
                    q.examples.join("; ")
                )
            })
        })
        .collect();
    if !errors.is_empty() || !mismatches.is_empty() {
        let _ = writeln!(md, "### Problems\n");
        for line in errors.iter().chain(&mismatches) {
            let _ = writeln!(md, "{line}");
        }
        md.push('\n');
    }
    md
}

/// An SVG chart of the ratios: one row per workload and figure, a bar per peer on a log scale
/// around 1 (right is better for Sextant), the goal marked.
pub fn svg(title: &str, ratios: &[Ratio]) -> String {
    let row_h = 16.0;
    let label_w = 330.0;
    let plot_w = 520.0;
    let top = 50.0;
    let mut rows: Vec<(String, String)> = Vec::new();
    for r in ratios {
        let key = (r.workload.clone(), r.metric.clone());
        if !rows.contains(&key) {
            rows.push(key);
        }
    }
    let height = top + rows.len() as f64 * row_h * 2.2 + 60.0;
    let width = label_w + plot_w + 40.0;
    // Log scale from 1/32 to 32, "better" to the right: lower-is-better ratios are inverted.
    let span = 5.0f64;
    let x = |advantage: f64| {
        let l = advantage.max(1e-9).log2().clamp(-span, span);
        label_w + plot_w / 2.0 + l / span * plot_w / 2.0
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="18" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="34">Sextant's advantage over each peer (log scale; right of 1x is better for Sextant; black tick: goal vs VictoriaMetrics)</text>"##
    );
    for tick in [-5i32, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5] {
        let v = 2f64.powi(tick);
        let px = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="{}" stroke-width="1"/>"##,
            height - 40.0,
            if tick == 0 { "#444" } else { "#e4e4e4" }
        );
        let label = if tick >= 0 {
            format!("{}x", 1 << tick)
        } else {
            format!("1/{}x", 1 << -tick)
        };
        let _ = writeln!(
            s,
            r#"<text x="{px:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            height - 26.0
        );
    }
    for (i, (workload, metric)) in rows.iter().enumerate() {
        let y0 = top + i as f64 * row_h * 2.2 + 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{} — {}</text>"#,
            label_w - 8.0,
            y0 + row_h,
            escape(workload),
            escape(metric)
        );
        for (j, (peer, color)) in [("VictoriaMetrics", "#3b75af"), ("InfluxDB", "#ef8636")]
            .iter()
            .enumerate()
        {
            let Some(r) = ratios
                .iter()
                .find(|r| &r.workload == workload && &r.metric == metric && r.peer == *peer)
            else {
                continue;
            };
            let adv = if r.higher_is_better {
                r.ratio
            } else {
                1.0 / r.ratio
            };
            let y = y0 + j as f64 * row_h;
            let (a, b) = (x(1.0), x(adv));
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} vs {peer}: {:.2}x</title></rect>"#,
                a.min(b),
                (a - b).abs().max(1.0),
                row_h - 3.0,
                escape(metric),
                r.ratio
            );
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10">{:.2}x</text>"#,
                a.max(b) + 3.0,
                y + row_h - 5.0,
                r.ratio
            );
            if let Some(goal) = r.goal {
                let g = if r.higher_is_better { goal } else { 1.0 / goal };
                let gx = x(g);
                let _ = writeln!(
                    s,
                    r#"<line x1="{gx:.1}" y1="{:.1}" x2="{gx:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"#,
                    y - 1.0,
                    y + row_h - 2.0
                );
            }
        }
    }
    let ly = height - 12.0;
    let _ = writeln!(
        s,
        r##"<rect x="{label_w}" y="{:.1}" width="10" height="10" fill="#3b75af"/><text x="{:.1}" y="{ly:.1}">VictoriaMetrics</text><rect x="{:.1}" y="{:.1}" width="10" height="10" fill="#ef8636"/><text x="{:.1}" y="{ly:.1}">InfluxDB</text>"##,
        ly - 9.0,
        label_w + 14.0,
        label_w + 120.0,
        ly - 9.0,
        label_w + 134.0
    );
    s.push_str("</svg>\n");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(system: &str, cpu_rate: f64, bytes: f64) -> Run {
        Run {
            system: system.into(),
            workload: "W1 cpu".into(),
            driver: "line protocol".into(),
            points: 100,
            ingest: Some(Ingest {
                points_per_cpu_s: cpu_rate,
                ..Ingest::default()
            }),
            bytes_per_point: Some(bytes),
            ..Run::default()
        }
    }

    #[test]
    fn ratios_and_goals_follow_the_direction_of_each_figure() {
        let runs = [
            run("Sextant", 3e6, 0.5),
            run("VictoriaMetrics", 1e6, 1.0),
            run("InfluxDB", 0.5e6, 2.0),
        ];
        let r = ratios(&runs);
        let find = |metric: &str, peer: &str| {
            r.iter()
                .find(|x| x.metric == metric && x.peer == peer)
                .unwrap()
                .clone()
        };
        let cpu = find("points per server CPU-second", "VictoriaMetrics");
        assert_eq!(cpu.ratio, 3.0);
        assert_eq!(cpu.met, Some(true));
        let bytes = find("bytes per point", "VictoriaMetrics");
        assert_eq!(bytes.ratio, 0.5);
        assert_eq!(bytes.met, Some(true));
        assert_eq!(find("bytes per point", "InfluxDB").met, None);
        let md = markdown("# t", &runs, &r);
        assert!(md.contains(
            "| W1 cpu | bytes per point | VictoriaMetrics | 0.500 | 1.00 | 0.50x | ≤ 0.9x | met |"
        ));
        let chart = svg("t", &r);
        assert!(chart.starts_with("<svg") && chart.trim_end().ends_with("</svg>"));
    }
}
