//! Clients that stall, against the real binary: a connection that never finishes its headers
//! is closed, and a request that never finishes does not keep the server from stopping; the
//! data directory stays locked until the process is gone.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;

/// How long a test waits for what must happen at all, far beyond the limits it sets.
const PATIENCE: Duration = Duration::from_secs(60);

fn connect(server: &Server) -> TcpStream {
    let addr = server.url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until the server closes the connection; what it sent. Fails if it never does.
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&got).into_owned();
            }
            Err(e) => panic!(
                "the server kept the connection open ({e}); it sent {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

#[test]
fn a_connection_that_never_finishes_its_headers_is_closed() {
    let server = Server::start_with(&["--header-read-timeout", "1s"]);
    let mut stalled = connect(&server);
    stalled
        .write_all(b"POST /write HTTP/1.1\r\nHost: sextant\r\nContent-Le")
        .unwrap();
    let reply = read_until_closed(&mut stalled);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 408"),
        "{reply:?}"
    );

    // Others are served meanwhile and after.
    let mut ok = connect(&server);
    ok.write_all(b"GET /health HTTP/1.1\r\nHost: sextant\r\nConnection: close\r\n\r\n")
        .unwrap();
    let reply = read_until_closed(&mut ok);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply:?}");
}

#[test]
fn a_stalled_request_does_not_keep_the_server_from_stopping() {
    let mut server = Server::start_with(&["--shutdown-grace", "1s"]);
    // A write that announces a body it never sends: in flight until the grace runs out.
    let mut stalled = connect(&server);
    let head = format!(
        "POST /write?precision=s HTTP/1.1\r\nHost: sextant\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 1000\r\n\r\nstalled,host=a value=1 1\n",
        common::TOKEN
    );
    stalled.write_all(head.as_bytes()).unwrap();
    // Let the request reach its handler before the signal.
    std::thread::sleep(Duration::from_millis(300));

    let pid = server.process().id().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(signalled.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.process().try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "the server still runs {PATIENCE:?} after SIGTERM with a request stalled"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    read_until_closed(&mut stalled);

    // Gone, and the lock with it: a new server opens the same data directory.
    let data = server.scratch().join("data");
    let mut next = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("SEXTANT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut out = next.stdout.take().unwrap();
    let mut byte = [0; 1];
    while !first.contains(" listening on ") && out.read(&mut byte).unwrap_or(0) == 1 {
        first.push(byte[0] as char);
    }
    let _ = next.kill();
    let output = next.wait_with_output().unwrap();
    assert!(
        first.contains(" listening on "),
        "{first}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_second_server_on_a_locked_data_directory_is_refused() {
    let server = Server::start();
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(server.scratch().join("data"))
        .env("SEXTANT_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another Sextant server is using the data directory"),
        "{stderr}"
    );
}

#[test]
fn a_sigterm_right_after_the_listening_line_shuts_down_cleanly() {
    // The server says where it listens before it has finished starting (collections,
    // detectors); a signal then is handled, not fatal.
    for _ in 0..3 {
        let mut server = common::Server::start();
        let pid = server.process().id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = server.process().wait().unwrap();
        assert!(status.success(), "exited with {status}, not by its handler");
    }
}
