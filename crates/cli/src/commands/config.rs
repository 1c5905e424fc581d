//! `sextant config check`: load and validate telemetry configs, named-expression modules and
//! rule modules, and print a summary of each or every problem found.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sextant_model::count;
use sextant_telemetry::{
    NamedExpressions, Problem, Problems, RuleType, ValidConfig, load_config_file,
    load_named_expressions, load_rule_modules,
};

/// Subcommands of `sextant config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check telemetry configs and print a summary of each, or every problem found.
    ///
    /// Problems go to standard error, one per line, as `file:line: path: message`; the exit
    /// status is 0 when everything is valid and 1 otherwise.
    Check(CheckArgs),
}

/// Arguments of `sextant config check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Telemetry config files (YAML).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Named-expression modules that rules refer to by name.
    #[arg(long = "expressions", value_name = "FILE", num_args = 1..)]
    expressions: Vec<PathBuf>,
    /// Rule modules: files, or directories of `.yml`/`.yaml` files. A rule whose asset_names
    /// name a config's asset is checked against that config's channels.
    #[arg(long = "rules", value_name = "PATH", num_args = 1..)]
    rules: Vec<PathBuf>,
}

/// Runs a `sextant config` subcommand.
pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    if args.files.is_empty() && args.rules.is_empty() && args.expressions.is_empty() {
        anyhow::bail!("nothing to check: give telemetry config files, --expressions or --rules");
    }
    let mut problems: Vec<Problem> = Vec::new();
    let mut out = String::new();

    let named = match load_named_expressions(&args.expressions) {
        Ok(named) => named,
        Err(p) => {
            problems.extend(p);
            NamedExpressions::new()
        }
    };
    if !args.expressions.is_empty() {
        out.push_str(&format!(
            "named expressions: {} from {}\n",
            named.len(),
            count(args.expressions.len(), "module", "modules")
        ));
    }

    let mut configs: Vec<ValidConfig> = Vec::new();
    for file in &args.files {
        match load_config_file(file, &named) {
            Ok(valid) => {
                out.push_str(&summarize(&file.display().to_string(), &valid));
                configs.push(valid);
            }
            Err(p) => problems.extend(p),
        }
    }

    match load_rule_modules(&args.rules) {
        Ok(modules) => {
            let configs: Vec<_> = configs.iter().map(ValidConfig::config).cloned().collect();
            for module in modules {
                match module.validate_for_assets(&configs, &named) {
                    Ok(rules) => out.push_str(&format!(
                        "{}: rule module, {}\n",
                        module.file,
                        count(rules.len(), "rule", "rules")
                    )),
                    Err(p) => problems.extend(p),
                }
            }
        }
        Err(p) => problems.extend(p),
    }

    std::io::stdout().write_all(out.as_bytes())?;
    if problems.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let count = problems.len();
    eprintln!("{}", Problems(problems));
    eprintln!("{count} problem{} found", if count == 1 { "" } else { "s" });
    Ok(ExitCode::from(1))
}

/// A few lines on one valid config: asset, channels by type, flows, rules.
fn summarize(file: &str, valid: &ValidConfig) -> String {
    let config = valid.config();
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for channel in &config.channels {
        *by_type.entry(channel.data_type.as_str()).or_default() += 1;
    }
    let types: Vec<String> = by_type.iter().map(|(t, n)| format!("{n} {t}")).collect();
    let flows: Vec<String> = config
        .flows
        .iter()
        .map(|f| format!("{} ({})", f.name, f.channels.len()))
        .collect();
    let review = config
        .rules
        .iter()
        .filter(|r| r.rule_type == RuleType::Review)
        .count();
    let live = config.rules.iter().filter(|r| r.is_live).count();
    let mut s = format!(
        "{file}: ok\n  asset {} (ingestion_client_key {})\n",
        config.asset_name, config.ingestion_client_key
    );
    s.push_str(&format!(
        "  channels: {}{}\n",
        config.channels.len(),
        if types.is_empty() {
            String::new()
        } else {
            format!(": {}", types.join(", "))
        }
    ));
    s.push_str(&format!(
        "  flows: {}{}\n",
        config.flows.len(),
        if flows.is_empty() {
            String::new()
        } else {
            format!(": {}", flows.join(", "))
        }
    ));
    s.push_str(&format!(
        "  rules: {}{}\n",
        config.rules.len(),
        if config.rules.is_empty() {
            String::new()
        } else {
            format!(
                ": {} review, {} phase; {} of them live",
                review,
                config.rules.len() - review,
                live
            )
        }
    ));
    s
}
