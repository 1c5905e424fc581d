//! The `sextant` binary: one entry point for the server and the client commands.
//!
//! Each subcommand lives in its own module under `commands/`; this file only parses the
//! command line, sets up logging and dispatches. Only here are concrete engines chosen.

mod commands;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sextant: a self-hosted telemetry platform.
#[derive(Debug, Parser)]
#[command(name = "sextant", version, about, propagate_version = true)]
struct Cli {
    /// Log filter, e.g. `info` or `sextant_server=debug`.
    #[arg(long, global = true, env = "SEXTANT_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(commands::serve::ServeArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// Limits set for one organization in place of the server's.
    #[command(subcommand)]
    Org(commands::org::OrgCommand),
    /// Work with telemetry configs.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Download channels of an asset from a running server.
    Query(commands::query::QueryArgs),
    /// Send a CSV or Parquet table to a running server as the flows of a telemetry config.
    Ingest(commands::ingest::IngestArgs),
    /// Apply rule modules to a running server, or evaluate a rule over stored data.
    #[command(subcommand)]
    Rules(commands::rules::RulesCommand),
    /// List the custom events of a running server (SignalFx's `/v2/event`), one JSON object a
    /// line.
    Events(commands::events::EventsArgs),
    /// List the annotations of a running server.
    #[command(subcommand)]
    Annotations(commands::rules::AnnotationsCommand),
    /// Event collections: create them from schema files, send model events, read them
    /// joined with their labels, and their statistics per window.
    #[command(subcommand)]
    Collections(commands::collections::CollectionsCommand),
    /// Print committed points of the series a selector selects as they arrive (or
    /// server-side windows of them), resumable by cursor.
    Tail(commands::tail::TailArgs),
    /// Manage the users annotations are assigned to.
    #[command(subcommand)]
    Users(commands::rules::UsersCommand),
}

/// mimalloc rather than the system allocator: the request paths allocate per series and per
/// point, where glibc's malloc cost a third of the server's CPU on line-protocol ingest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args).map(|()| ExitCode::SUCCESS),
        Command::Token(command) => commands::token::run(command).map(|()| ExitCode::SUCCESS),
        Command::Org(command) => commands::org::run(command).map(|()| ExitCode::SUCCESS),
        Command::Config(command) => commands::config::run(command),
        Command::Query(args) => commands::query::run(args).map(|()| ExitCode::SUCCESS),
        Command::Ingest(args) => commands::ingest::run(args),
        Command::Collections(command) => commands::collections::run(command),
        Command::Events(args) => commands::events::run(args).map(|()| ExitCode::SUCCESS),
        Command::Tail(args) => commands::tail::run(args).map(|()| ExitCode::SUCCESS),
        Command::Rules(command) => commands::rules::run(command).map(|()| ExitCode::SUCCESS),
        Command::Annotations(command) => {
            commands::rules::run_annotations(command).map(|()| ExitCode::SUCCESS)
        }
        Command::Users(command) => commands::rules::run_users(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
