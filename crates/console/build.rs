//! Builds the console's pages from `ui/` (TypeScript, Vite) into `OUT_DIR/console`, which
//! `src/lib.rs` embeds. npm runs only when the sources changed: `npm ci` when the lock file is
//! newer than the installed packages, then `npm run build` (type check and bundle).
//!
//! `SEXTANT_CONSOLE=off` builds without npm: the binary then serves a page saying the console
//! was left out of the build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The files and folders of `ui/` that the pages are built from.
const SOURCES: &[&str] = &[
    "src",
    "index.html",
    "public",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let ui = manifest.join("../../ui");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("console");
    for source in SOURCES {
        println!("cargo::rerun-if-changed={}", ui.join(source).display());
    }
    println!("cargo::rerun-if-env-changed=SEXTANT_CONSOLE");
    println!("cargo::rerun-if-env-changed=NPM");

    if std::env::var("SEXTANT_CONSOLE").as_deref() == Ok("off") {
        std::fs::create_dir_all(&out).expect("create the console's output folder");
        std::fs::write(
            out.join("index.html"),
            "<!doctype html><title>Sextant</title><p>This <code>sextant</code> was built \
             without its web console (<code>SEXTANT_CONSOLE=off</code>).</p>\n",
        )
        .expect("write the console's placeholder page");
        return;
    }

    // Builds of other target directories (another profile's, the fuzz targets') may run this
    // at the same time, and `npm ci` replaces `ui/node_modules`: one at a time.
    let lock = std::fs::File::create(ui.join(".build.lock")).expect("create ui/.build.lock");
    lock.lock().expect("lock ui/.build.lock");

    let npm = std::env::var("NPM").unwrap_or_else(|_| "npm".to_owned());
    let installed = ui.join("node_modules/.package-lock.json");
    if modified(&installed) < modified(&ui.join("package-lock.json")) {
        run(
            Command::new(&npm)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&ui),
            &npm,
        );
    }
    run(
        Command::new(&npm)
            .args(["run", "--silent", "build"])
            .env("SEXTANT_CONSOLE_OUT", &out)
            .current_dir(&ui),
        &npm,
    );
}

/// When `path` was last changed; the epoch when it does not exist.
fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn run(command: &mut Command, npm: &str) {
    let shown = format!("{command:?}");
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => fail(&format!(
            "`{shown}` in ui/ failed ({status}); its output is above"
        )),
        Err(e) => fail(&format!(
            "cannot run `{npm}` ({e}): the web console is built with npm and Node.js 20 or \
             later (set NPM to its path), or set SEXTANT_CONSOLE=off to build without the console"
        )),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
