//! The real `sextant` binary serving on a free port from a temporary data directory, as a user
//! starts it, and a way to run the client commands against it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The path of `path` under the repository's `examples/`, as text for a command line.
pub fn example(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(path)
        .display()
        .to_string()
}

/// The admin key every test server is bootstrapped with.
pub const TOKEN: &str = "sxt_cli_test_bootstrap_token";

/// `POST path` to `address` (`HOST:PORT`) with `body` of `content_type` and the test key, over
/// a connection of its own closed after the answer; the status and body of the answer.
pub fn post_as(address: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    post_with_key(address, path, content_type, TOKEN, body)
}

/// [`post_as`] with the key `key`.
pub fn post_with_key(
    address: &str,
    path: &str,
    content_type: &str,
    key: &str,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(300)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: sextant\r\nauthorization: Bearer {key}\r\n\
         content-type: {content_type}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    if !head.to_lowercase().contains("transfer-encoding: chunked") {
        return (status, body.to_owned());
    }
    // A streamed answer (a long KairosDB one): the chunks' data, joined.
    let (mut rest, mut joined) = (body, String::new());
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size, 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        joined.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    (status, joined)
}

/// [`post_as`] with a JSON body.
pub fn post(address: &str, path: &str, body: &str) -> (u16, String) {
    post_as(address, path, "application/json", body)
}

/// A running `sextant serve`; killed when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT`, as the server printed it.
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
    /// The extra `sextant serve` arguments it was started with, for [`Server::kill_and_restart`].
    extra: Vec<String>,
}

impl Server {
    /// Starts a server and waits until it listens.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server with more `sextant serve` arguments and waits until it listens.
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let command = serve_command(dir.path(), extra);
        let mut server = Server::spawn(dir, command);
        server.extra = extra.iter().map(|a| a.to_string()).collect();
        server
    }

    /// Kills the server with SIGKILL, as a crash would, and starts a new one on the same data
    /// directory (on a new port: `url` changes).
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        (self.child, self.url) = spawn_listening(serve_command(self.dir.path(), &extra));
    }

    /// Kills the server with SIGKILL and starts a new one on the same data directory and the
    /// same port, so that clients holding its URL can reconnect.
    pub fn kill_and_restart_on_same_port(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let listen = self.url.trim_start_matches("http://").to_owned();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        (self.child, self.url) =
            spawn_listening(serve_command_on(self.dir.path(), &listen, &extra));
    }

    /// Starts `sextant serve` with no flags and nothing of the caller's environment, as the
    /// README's first command does, in its scratch directory (data in `sextant-data` there,
    /// the default address), and waits until it listens.
    pub fn start_on_defaults() -> Server {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
        command.arg("serve").current_dir(dir.path()).env_clear();
        Server::spawn(dir, command)
    }

    fn spawn(dir: tempfile::TempDir, command: Command) -> Server {
        let (child, url) = spawn_listening(command);
        Server {
            url,
            child,
            dir,
            extra: Vec::new(),
        }
    }

    /// The server process.
    pub fn process(&mut self) -> &mut Child {
        &mut self.child
    }

    /// A scratch directory that lives as long as the server.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `sextant ARGS` against this server (`SEXTANT_URL` and `SEXTANT_TOKEN` set).
    pub fn sextant(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .env("SEXTANT_URL", &self.url)
            .env("SEXTANT_TOKEN", TOKEN)
            .env("SEXTANT_LOG", "warn")
            .current_dir(self.dir.path())
            .output()
            .expect("the sextant binary runs")
    }

    /// An authenticated channel for the SDK and the raw Sift clients.
    pub async fn channel(&self) -> sextant_client::SextantChannel {
        sextant_client::connect(&sextant_client::ClientConfig::new(&self.url, TOKEN))
            .await
            .expect("the server accepts connections")
    }
}

/// Starts `command` (a `sextant serve`) and waits until it listens; returns it and its URL.
fn spawn_listening(mut command: Command) -> (Child, String) {
    let mut child = command
        .env("SEXTANT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the sextant binary starts");
    let url = wait_until_listening(&mut child);
    (child, url)
}

/// `sextant serve` on a free port with its data in `dir/data` and the test key.
fn serve_command(dir: &Path, extra: &[&str]) -> Command {
    serve_command_on(dir, "127.0.0.1:0", extra)
}

/// `sextant serve` on `listen` with its data in `dir/data` and the test key.
fn serve_command_on(dir: &Path, listen: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
    command
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(dir.join("data"))
        .args(["--bootstrap-token", TOKEN])
        .args(extra);
    command
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until a `sextant serve` started with a piped standard output says where it listens,
/// and returns that address (`http://127.0.0.1:PORT`). Its output is read on from then on,
/// so that the server never blocks on a full pipe.
fn wait_until_listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("a piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            other => {
                let _ = child.kill();
                panic!("sextant serve ended before listening: {other:?}");
            }
        };
        if let Some(rest) = line.split(" listening on ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected address {url:?}"
    );
    std::thread::spawn(move || for _ in lines.by_ref() {});
    url
}

/// Standard output or error as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command's standard output, then its standard error.
pub fn said(output: &Output) -> String {
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

impl Server {
    /// Ingests the Nostromo example (`examples/data/readings.csv` through its telemetry config,
    /// rules skipped): five rows stored, the bad one refused on purpose.
    pub fn ingest_nostromo(&self) {
        let output = self.sextant(&[
            "ingest",
            "--config",
            &example("telemetry_configs/nostromo_lv_426.yml"),
            "--expressions",
            &example("expression_modules/kinematics.yml"),
            &example("expression_modules/string.yml"),
            "--flow",
            "readings",
            "--skip-rules",
            &example("data/readings.csv"),
        ]);
        assert!(said(&output).contains("5 rows"), "{}", said(&output));
    }
}
