//! `sextant org limits`: limits set for one organization in place of the server's, managed on
//! the server's data directory like keys (a running server reads them at each query).

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use sextant_catalog::{Catalog, OrgLimits};
use sextant_model::parse_duration;

use super::token::{DataDir, find_org, open};

/// Subcommands of `sextant org`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Show or set the limits of an organization's queries; unset limits are the server's.
    Limits(LimitsArgs),
}

/// Arguments of `sextant org limits`.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    #[command(flatten)]
    data: DataDir,
    /// The organization's name.
    #[arg(long, default_value = "default")]
    org: String,
    /// The longest its queries run (`30s`, `5m`), or `server` for the server's
    /// (`sextant serve --query-timeout`).
    #[arg(long, value_parser = parse_timeout)]
    query_timeout: Option<Setting<Duration>>,
    /// The most raw points one of its queries holds, or `server` for the server's
    /// (`sextant serve --query-max-points`).
    #[arg(long, value_parser = parse_points)]
    query_max_points: Option<Setting<u64>>,
}

/// A limit as given on the command line: a value, or the server's.
#[derive(Debug, Clone, Copy)]
pub enum Setting<T> {
    /// This value.
    Value(T),
    /// The server's.
    Server,
}

impl<T> Setting<T> {
    fn into_option(self) -> Option<T> {
        match self {
            Setting::Value(v) => Some(v),
            Setting::Server => None,
        }
    }
}

fn parse_timeout(text: &str) -> Result<Setting<Duration>, String> {
    if text == "server" {
        return Ok(Setting::Server);
    }
    parse_duration(text).map(Setting::Value)
}

fn parse_points(text: &str) -> Result<Setting<u64>, String> {
    if text == "server" {
        return Ok(Setting::Server);
    }
    match text.replace('_', "").parse::<u64>() {
        Ok(0) | Err(_) => Err(format!(
            "{text:?} is not a positive number of points (or `server`)"
        )),
        Ok(points) => Ok(Setting::Value(points)),
    }
}

/// Runs a `sextant org` subcommand.
pub fn run(command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Limits(args) => limits(args),
    }
}

fn limits(args: LimitsArgs) -> anyhow::Result<()> {
    let catalog = open(&args.data)?;
    let org = find_org(&catalog, &args.org)?
        .with_context(|| format!("no organization named {:?}", args.org))?;
    let mut limits = catalog.organization_limits(&org)?;
    if args.query_timeout.is_some() || args.query_max_points.is_some() {
        if let Some(timeout) = args.query_timeout {
            limits.query_timeout_ms = timeout
                .into_option()
                .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        }
        if let Some(points) = args.query_max_points {
            limits.query_max_points = points.into_option();
        }
        catalog.set_organization_limits(&org, &limits)?;
    }
    print!("{}", describe(&args.org, &limits));
    Ok(())
}

/// The limits of organization `name` as the command prints them.
fn describe(name: &str, limits: &OrgLimits) -> String {
    let timeout = match limits.query_timeout_ms {
        Some(ms) => format!("{} s", Duration::from_millis(ms).as_secs_f64()),
        None => "the server's (sextant serve --query-timeout)".to_owned(),
    };
    let points = match limits.query_max_points {
        Some(points) => points.to_string(),
        None => "the server's (sextant serve --query-max-points)".to_owned(),
    };
    format!(
        "limits of organization {name}:\n  query timeout: {timeout}\n  query max points: {points}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_values_or_the_server_s() {
        assert!(matches!(
            parse_timeout("5s"),
            Ok(Setting::Value(d)) if d == Duration::from_secs(5)
        ));
        assert!(matches!(parse_timeout("server"), Ok(Setting::Server)));
        assert!(parse_timeout("soon").is_err());
        assert!(matches!(parse_points("1_000"), Ok(Setting::Value(1_000))));
        assert!(matches!(parse_points("server"), Ok(Setting::Server)));
        let err = parse_points("0").unwrap_err();
        assert!(err.contains("not a positive number"), "{err}");
    }

    #[test]
    fn limits_print_with_their_source() {
        let text = describe(
            "acme",
            &OrgLimits {
                query_timeout_ms: Some(1_500),
                query_max_points: None,
            },
        );
        assert_eq!(
            text,
            "limits of organization acme:\n  query timeout: 1.5 s\n  query max points: the \
             server's (sextant serve --query-max-points)\n"
        );
    }
}
