//! The systems under test as real processes on loopback, each with a fresh temporary data
//! directory: started, measured through `/proc`, settled (flushed and merged), stopped by PID.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use serde::Serialize;

use crate::http::Conn;

/// The bootstrap admin key of every Sextant the harness starts.
pub const SEXTANT_TOKEN: &str = "sxt_bench_harness_token";

/// The InfluxDB database the workloads go to.
pub const INFLUX_DB: &str = "bench";

/// Which system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub enum System {
    /// Sextant, with its default fsync before acknowledging.
    Sextant,
    /// VictoriaMetrics (single node).
    VictoriaMetrics,
    /// InfluxDB 1.x.
    InfluxDb,
}

impl System {
    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            System::Sextant => "Sextant",
            System::VictoriaMetrics => "VictoriaMetrics",
            System::InfluxDb => "InfluxDB",
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Which system.
    pub system: System,
    /// Where it listens for HTTP.
    pub addr: SocketAddr,
    child: Child,
    root: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
}

/// A free loopback port (bound, then released for the server to take).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The last lines of a log file, for error messages.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(8)..].join("\n    ");
    if tail.is_empty() {
        "(no output)".to_owned()
    } else {
        format!("\n    {tail}")
    }
}

/// Finds `name` on the PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

impl Server {
    /// Starts `system` from `binary` and waits until it serves.
    pub async fn start(system: System, binary: &Path) -> anyhow::Result<Server> {
        let root = tempfile::Builder::new()
            .prefix("sextant-bench-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        let data = root.path().join("data");
        fs::create_dir_all(&data)?;
        let log = root.path().join("server.log");
        let log_file = fs::File::create(&log)?;
        let what = format!("{} ({})", system.label(), binary.display());
        let (child, addr) = match system {
            System::Sextant => {
                let mut child = Command::new(binary)
                    .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                    .arg(&data)
                    .env("SEXTANT_BOOTSTRAP_TOKEN", SEXTANT_TOKEN)
                    .env("SEXTANT_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(log_file)
                    .spawn()
                    .with_context(|| format!("cannot start {what}"))?;
                let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let mut sent = false;
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        if !sent && let Some(rest) = line.split(" listening on ").nth(1) {
                            let url = rest.split_whitespace().next().unwrap_or_default();
                            let _ = tx.send(url.trim_start_matches("http://").to_owned());
                            sent = true;
                        }
                    }
                });
                let addr = match rx.recv_timeout(Duration::from_secs(60)) {
                    Ok(addr) => addr
                        .parse()
                        .with_context(|| format!("{what} printed {addr}"))?,
                    Err(_) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        bail!("{what} did not start listening:{}", log_tail(&log));
                    }
                };
                (child, addr)
            }
            System::VictoriaMetrics => {
                let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
                let child = Command::new(binary)
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg(format!("-httpListenAddr={addr}"))
                    .arg("-retentionPeriod=100y")
                    .arg("-loggerLevel=WARN")
                    .stdin(Stdio::null())
                    .stdout(log_file.try_clone()?)
                    .stderr(log_file)
                    .spawn()
                    .with_context(|| format!("cannot start {what}"))?;
                (child, addr)
            }
            System::InfluxDb => {
                let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
                let rpc = free_port()?;
                let config = root.path().join("influxdb.conf");
                fs::write(&config, influx_config(&data, addr, rpc))?;
                let child = Command::new(binary)
                    .arg("-config")
                    .arg(&config)
                    .stdin(Stdio::null())
                    .stdout(log_file.try_clone()?)
                    .stderr(log_file)
                    .spawn()
                    .with_context(|| format!("cannot start {what}"))?;
                (child, addr)
            }
        };
        let mut server = Server {
            system,
            addr,
            child,
            root,
            data,
            log,
        };
        if let Err(e) = server.wait_ready().await {
            let tail = log_tail(&server.log);
            server.kill();
            return Err(e.context(format!("{what} did not become ready:{tail}")));
        }
        Ok(server)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (path, want) = match self.system {
            System::Sextant => ("/health", 200),
            System::VictoriaMetrics => ("/health", 200),
            System::InfluxDb => ("/ping", 204),
        };
        let mut conn = Conn::new(self.addr);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("it exited ({status})");
            }
            if let Ok(reply) = conn.get(path, &[]).await
                && reply.status == want
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("no answer on http://{}{path} within 60 s", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if self.system == System::InfluxDb {
            let q = format!(
                "/query?q={}",
                crate::http::encode(&format!("CREATE DATABASE {INFLUX_DB}"))
            );
            let reply = conn.send("POST", &q, &[], Bytes::new()).await?;
            if !reply.ok() {
                bail!(
                    "CREATE DATABASE failed: HTTP {} {}",
                    reply.status,
                    reply.text(300)
                );
            }
        }
        Ok(())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The path and headers of a line-protocol write with millisecond timestamps.
    pub fn write_target(&self) -> (String, Vec<(String, String)>) {
        match self.system {
            System::Sextant => (
                "/write?precision=ms".to_owned(),
                vec![("authorization".into(), format!("Bearer {SEXTANT_TOKEN}"))],
            ),
            System::VictoriaMetrics => ("/write?precision=ms".to_owned(), Vec::new()),
            System::InfluxDb => (format!("/write?db={INFLUX_DB}&precision=ms"), Vec::new()),
        }
    }

    /// The server's user plus system CPU time so far, in seconds (`/proc/PID/stat`).
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .with_context(|| format!("cannot read /proc/{}/stat", self.pid()))?;
        // The command name may hold spaces; the fields after it are plain.
        let after = stat
            .rfind(')')
            .map(|i| &stat[i + 1..])
            .ok_or_else(|| anyhow!("unexpected /proc/PID/stat"))?;
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of the line, 12th and 13th after the name.
        let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
        Ok((utime + stime) as f64 / clock_ticks())
    }

    /// Bytes the server has caused to be written to storage so far (`write_bytes` of
    /// `/proc/PID/io`: what reached the block layer, page cache write-back included).
    pub fn written_bytes(&self) -> anyhow::Result<u64> {
        let io = fs::read_to_string(format!("/proc/{}/io", self.pid()))
            .with_context(|| format!("cannot read /proc/{}/io", self.pid()))?;
        io.lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| anyhow!("no write_bytes in /proc/{}/io", self.pid()))
    }

    /// The server's peak resident set size so far, in bytes (`VmHWM`).
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmHWM:")
    }

    /// The server's resident set size now, in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        self.status_bytes("VmRSS:")
    }

    /// A size in kB of `/proc/PID/status`, in bytes.
    fn status_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .ok_or_else(|| anyhow!("no {field} in /proc/{}/status", self.pid()))
    }

    /// Disk space the data directory takes: (allocated, apparent) bytes of its files. Allocated
    /// (as `du` counts it) leaves out the holes of sparse, preallocated files.
    pub fn data_bytes(&self) -> (u64, u64) {
        dir_bytes(&self.data)
    }

    /// [`breakdown`] of the data directory.
    pub fn data_breakdown(&self) -> std::collections::BTreeMap<String, u64> {
        breakdown(&self.data)
    }

    /// Makes the data directory settle: everything in memory written out and merged as far
    /// as the system allows, then waits until its size and the server's CPU time stop moving.
    /// Returns a note on how it was done.
    pub async fn settle(&self) -> anyhow::Result<String> {
        let mut conn = Conn::new(self.addr);
        let note = match self.system {
            System::Sextant => {
                let auth = format!("Bearer {SEXTANT_TOKEN}");
                let reply = conn
                    .send(
                        "POST",
                        "/api/native/v1/admin/flush",
                        &[("authorization", &auth)],
                        Bytes::new(),
                    )
                    .await?;
                if !reply.ok() {
                    bail!(
                        "POST /api/native/v1/admin/flush: HTTP {} {}",
                        reply.status,
                        reply.text(300)
                    );
                }
                "POST /api/native/v1/admin/flush (flush, then merge)".to_owned()
            }
            System::VictoriaMetrics => {
                for path in ["/internal/force_flush", "/internal/force_merge"] {
                    let reply = conn.get(path, &[]).await?;
                    if !reply.ok() {
                        bail!("GET {path}: HTTP {} {}", reply.status, reply.text(300));
                    }
                }
                "/internal/force_flush, /internal/force_merge".to_owned()
            }
            System::InfluxDb => {
                // The generated configuration snapshots the cache after 1 s without writes
                // and fully compacts a shard after 5 s without writes.
                tokio::time::sleep(Duration::from_secs(8)).await;
                "cache snapshot and full compaction by configuration (1 s / 5 s cold)".to_owned()
            }
        };
        self.wait_quiet(Duration::from_secs(300)).await?;
        Ok(note)
    }

    /// Waits until the data directory's size is unchanged and the server used under 2% of a
    /// core for three consecutive seconds.
    pub async fn wait_quiet(&self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        let mut quiet = 0;
        let mut last = (self.data_bytes(), self.cpu_seconds()?);
        while quiet < 3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = (self.data_bytes(), self.cpu_seconds()?);
            if now.0 == last.0 && now.1 - last.1 < 0.02 {
                quiet += 1;
            } else {
                quiet = 0;
            }
            last = now;
            if Instant::now() > deadline {
                bail!("the data directory was still changing after {limit:?}");
            }
        }
        Ok(())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server with SIGTERM (SIGKILL after 60 s) and removes its directory.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.pid().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > deadline {
                self.kill();
                bail!(
                    "{} (pid {pid}) did not stop within 60 s of SIGTERM; killed",
                    self.system.label()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let root = self.root.path().to_owned();
        drop(self);
        let _ = fs::remove_dir_all(root);
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Allocated bytes under each entry of the data directory, two levels deep (`parts`,
/// `parts/<partition>`, `wal`, …): where the bytes are.
pub fn breakdown(dir: &Path) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            out.insert(format!("{name}/"), dir_bytes(&path).0);
            for inner in fs::read_dir(&path).into_iter().flatten().flatten() {
                let inner_path = inner.path();
                let bytes = if inner_path.is_dir() {
                    dir_bytes(&inner_path).0
                } else {
                    use std::os::unix::fs::MetadataExt;
                    inner.metadata().map(|m| m.blocks() * 512).unwrap_or(0)
                };
                out.insert(
                    format!("{name}/{}", inner.file_name().to_string_lossy()),
                    bytes,
                );
            }
        } else {
            use std::os::unix::fs::MetadataExt;
            out.insert(
                name,
                entry.metadata().map(|m| m.blocks() * 512).unwrap_or(0),
            );
        }
    }
    out
}

/// (Allocated, apparent) bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, 0);
    };
    let mut total = (0, 0);
    for entry in entries.flatten() {
        let (allocated, apparent) = match entry.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&entry.path()),
            Ok(t) if t.is_file() => entry
                .metadata()
                .map(|m| (m.blocks() * 512, m.len()))
                .unwrap_or((0, 0)),
            _ => (0, 0),
        };
        total.0 += allocated;
        total.1 += apparent;
    }
    total
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// InfluxDB 1.x's configuration for one run: everything under `data`, loopback only, no
/// reporting, limits on series lifted, the WAL fsynced on every write (the default), and the
/// cache written out and compacted soon after writes stop.
fn influx_config(data: &Path, http: SocketAddr, rpc: u16) -> String {
    let d = data.display();
    format!(
        r#"reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = "{d}/meta"
  logging-enabled = false

[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1s"
  compact-full-write-cold-duration = "5s"
  max-series-per-database = 0
  max-values-per-tag = 0

[coordinator]
  query-timeout = "0s"
  log-queries-after = "0s"

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{http}"
  auth-enabled = false
  log-enabled = false
  write-tracing = false
  pprof-enabled = false
  max-row-limit = 0
  max-body-size = 0

[logging]
  level = "warn"

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
"#
    )
}

/// Where the peers' binaries are, or why one is not available.
#[derive(Debug)]
pub struct Peers {
    /// `victoria-metrics`, or what failed.
    pub victoria_metrics: Result<PathBuf, String>,
    /// `influxd`, or what failed.
    pub influxdb: Result<PathBuf, String>,
}

/// Finds the peers' binaries, installing the Debian packages `victoria-metrics` and
/// `influxdb` with apt when missing (unless `install` is false). Package scripts are kept from
/// starting the system services, so that only the harness's own instances run.
pub fn find_or_install_peers(install: bool) -> Peers {
    let wanted = [
        ("victoria-metrics", "victoria-metrics"),
        ("influxd", "influxdb"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(bin, _)| which(bin).is_none())
        .map(|(_, package)| *package)
        .collect();
    let mut install_error = None;
    if !missing.is_empty() {
        if install {
            eprintln!("installing {} with apt-get", missing.join(" and "));
            if let Err(e) = apt_install(&missing) {
                install_error = Some(e);
            }
        } else {
            install_error = Some("not installed and --no-install was given".to_owned());
        }
    }
    let find = |bin: &str, package: &str| {
        which(bin).ok_or_else(|| {
            format!(
                "`{bin}` (Debian package {package}) is not available: {}",
                install_error
                    .clone()
                    .unwrap_or_else(|| "the package did not provide it".to_owned())
            )
        })
    };
    Peers {
        victoria_metrics: find("victoria-metrics", "victoria-metrics"),
        influxdb: find("influxd", "influxdb"),
    }
}

fn apt_install(packages: &[&str]) -> Result<(), String> {
    // invoke-rc.d asks /usr/sbin/policy-rc.d whether to start services; 101 means no.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let placed = if policy.exists() {
        false
    } else {
        fs::write(policy, "#!/bin/sh\nexit 101\n")
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(policy, fs::Permissions::from_mode(0o755))
            })
            .is_ok()
    };
    let run = |args: &[&str]| -> Result<(), String> {
        let output = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| format!("cannot run apt-get: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = text.lines().rev().take(4).collect();
            Err(format!(
                "`apt-get {}` failed ({}): {}",
                args.join(" "),
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))
        }
    };
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    let mut result = run(&args);
    if result.is_err() {
        // The package lists may be missing or stale on a fresh machine.
        result = run(&["update"]).and_then(|()| run(&args));
    }
    if placed {
        let _ = fs::remove_file(policy);
    }
    result
}

/// Other instances of the peers (a system service, say) that would compete for the CPU.
pub fn foreign_instances(ours: &[u32]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if ours.contains(&pid) {
            continue;
        }
        let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if comm == "victoria-metric" || comm == "victoria-metrics" || comm == "influxd" {
            found.push(format!("{comm} (pid {pid})"));
        }
    }
    found
}
