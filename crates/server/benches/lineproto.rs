//! Line-protocol parsing throughput, in points (fields) per second, on cpu-style lines: 10 tags
//! and 10 float fields per line, as Telegraf's cpu plugin writes them.
//!
//! `cargo bench -p sextant-server --bench lineproto`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sextant_server::influx::parser::parse_lines;

fn body(lines: usize) -> Vec<u8> {
    let mut out = String::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..lines {
        out.push_str(&format!(
            "cpu,hostname=host_{},region=eu-west-1,datacenter=eu-west-1a,rack={},os=Ubuntu16.10,arch=x64,team=SF,service={},service_version=1,service_environment=production ",
            i % 100,
            i % 37,
            i % 19
        ));
        for (f, name) in [
            "usage_user",
            "usage_system",
            "usage_idle",
            "usage_nice",
            "usage_iowait",
            "usage_irq",
            "usage_softirq",
            "usage_steal",
            "usage_guest",
            "usage_guest_nice",
        ]
        .iter()
        .enumerate()
        {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if f > 0 {
                out.push(',');
            }
            out.push_str(&format!("{name}={}.{:02}", x % 100, x % 97));
        }
        out.push_str(&format!(
            " {}\n",
            1_700_000_000_000_000_000u64 + i as u64 * 10_000_000_000
        ));
    }
    out.into_bytes()
}

fn parse(c: &mut Criterion) {
    let lines = 10_000;
    let body = body(lines);
    let mut group = c.benchmark_group("lineproto");
    group.throughput(Throughput::Elements((lines * 10) as u64));
    group.bench_function("parse_cpu_lines", |b| {
        b.iter(|| {
            let mut fields = 0usize;
            parse_lines(&body, |_, line| {
                if let Ok(line) = line {
                    fields += line.fields.len();
                }
            });
            assert_eq!(fields, lines * 10);
            fields
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
