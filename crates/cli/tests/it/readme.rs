//! The README's quickstart, run as written: every command of its `console` blocks is run by
//! `bash`, in order, in one directory, against a fresh `sextant serve` started there on its
//! embedded defaults, and what it prints is compared with what the README shows (`snapbox`
//! patterns: `[..]` stands for the rest of a line or part of it, `...` for lines). A line
//! `? N` after a command's output is its expected exit status (0 otherwise).
//!
//! The commands see the `sextant` binary of this build on the PATH, the repository's
//! `examples/` beside them, and nothing of the caller's environment but PATH and HOME.
//! Variables a command exports reach the commands after it, as in one terminal.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Server;

/// Where the README's commands expect the server: its default address.
const DEFAULT_ADDRESS: &str = "127.0.0.1:7777";

/// One command of a transcript and what it should print.
#[derive(Debug)]
struct Step {
    /// The README's line number of the command, for messages.
    line: usize,
    command: String,
    expected: String,
    status: i32,
}

/// The commands of every `console` block of `markdown`, in order.
fn transcript(markdown: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    let mut continued = false;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_end();
        if trimmed.starts_with("```") {
            in_console = !in_console && trimmed == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if continued {
            let step = steps.last_mut().expect("a continued command");
            step.command.push('\n');
            step.command.push_str(trimmed);
            continued = trimmed.ends_with('\\');
        } else if let Some(command) = trimmed.strip_prefix("$ ") {
            steps.push(Step {
                line: index + 1,
                command: command.to_owned(),
                expected: String::new(),
                status: 0,
            });
            continued = trimmed.ends_with('\\');
        } else if let Some(status) = trimmed.strip_prefix("? ") {
            let step = steps.last_mut().expect("a status after a command");
            step.status = status.parse().expect("an exit status");
        } else {
            let step = steps.last_mut().expect("output after a command");
            step.expected.push_str(trimmed);
            step.expected.push('\n');
        }
    }
    steps
}

/// Runs `step` in `dir` with bash, the variables of `state` (what earlier steps exported)
/// set, and saves what it exports back to `state`. Returns its output (standard output and
/// error as a terminal interleaves them) and exit status.
fn run(step: &Step, dir: &Path, state: &Path, path: &str) -> (String, i32) {
    let script = format!(
        "source {state}\n{{\n{command}\n}} 2>&1\nstatus=$?\nexport -p > {state}\nexit $status\n",
        state = state.display(),
        command = step.command,
    );
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .output()
        .expect("bash runs");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    // A last line without its newline (curl's JSON answers) reads the same in a terminal.
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    (text, output.status.code().unwrap_or(-1))
}

#[test]
fn the_readme_quickstart_works_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let steps = transcript(&readme);
    assert!(
        steps.len() >= 10,
        "the README's console blocks hold {} commands",
        steps.len()
    );

    // The README names the default address; a server already there would answer instead.
    if let Err(e) = std::net::TcpListener::bind(DEFAULT_ADDRESS) {
        panic!(
            "the README test needs {DEFAULT_ADDRESS}, where the README's commands find the \
             server, and it is taken ({e}): stop whatever listens there"
        );
    }
    let server = Server::start_on_defaults();
    assert_eq!(server.url, format!("http://{DEFAULT_ADDRESS}"));
    let dir = server.scratch();
    std::os::unix::fs::symlink(
        root.join("examples").canonicalize().unwrap(),
        dir.join("examples"),
    )
    .expect("examples/ beside the commands");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sextant"));
    let state = dir.join(".exports");
    std::fs::write(&state, "").unwrap();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    for step in &steps {
        let (output, status) = run(step, dir, &state, &path);
        assert_eq!(
            status, step.status,
            "README.md line {}: `{}` exited with {status}:\n{output}",
            step.line, step.command
        );
        // Shown with the difference when the output is not what the README says.
        eprintln!(
            "README.md line {}: `{}` printed:\n{output}",
            step.line, step.command
        );
        snapbox::Assert::new().eq(output, snapbox::Data::text(step.expected.clone()));
    }
}

#[test]
fn transcripts_are_read_as_commands_outputs_and_statuses() {
    let markdown = "\
text
```sh
$ not run
```
```console
$ echo one \\
    two
one two
$ false
? 1
```
";
    let steps = transcript(markdown);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].command, "echo one \\\n    two");
    assert_eq!(steps[0].expected, "one two\n");
    assert_eq!((steps[0].line, steps[0].status), (6, 0));
    assert_eq!((steps[1].command.as_str(), steps[1].status), ("false", 1));
}
