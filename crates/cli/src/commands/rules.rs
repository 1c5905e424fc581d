//! `sextant rules apply` and `sextant rules eval`: register rule modules with a running server,
//! and find where a rule held over stored data. `sextant annotations list` lists what live
//! rules found.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use sextant_client::parse_time;
use sextant_telemetry::{
    ChannelScope, NamedExpressions, RuleConfig, RuleExpression, RuleType, load_named_expressions,
    load_rule_modules,
};

use super::http::Api;

/// Subcommands of `sextant rules`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Create or update (by rule_client_key) the rules of rule modules on a running server.
    ///
    /// Every rule is checked first; nothing is sent when any has a problem. The assets a rule
    /// names must exist, and its assignee must be a user of the server (POST /api/v1/users).
    Apply(ApplyArgs),
    /// Evaluate one rule over an asset's stored data and print the ranges where it held.
    Eval(EvalArgs),
}

/// Where the server is.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server's address.
    #[arg(long, env = "SEXTANT_URL", default_value = "http://127.0.0.1:7777")]
    url: String,
    /// An API key.
    #[arg(long, env = "SEXTANT_TOKEN", hide_env_values = true)]
    token: String,
}

/// Arguments of `sextant rules apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Rule modules: files, or directories of `.yml`/`.yaml` files.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Named-expression modules the rules refer to.
    #[arg(long = "expressions", value_name = "FILE", num_args = 1..)]
    expressions: Vec<PathBuf>,
    /// Evaluate every applied rule live, whatever its module says.
    #[arg(long)]
    live: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Arguments of `sextant rules eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A rule stored on the server, by client key or id.
    #[arg(long, conflicts_with_all = ["file", "name"])]
    rule: Option<String>,
    /// A rule module holding the rule to evaluate (not stored).
    #[arg(long, requires = "name")]
    file: Option<PathBuf>,
    /// The name of the rule in --file.
    #[arg(long)]
    name: Option<String>,
    /// Named-expression modules the rule refers to.
    #[arg(long = "expressions", value_name = "FILE", num_args = 1..)]
    expressions: Vec<PathBuf>,
    /// The asset whose data to evaluate, by name.
    #[arg(long)]
    asset: String,
    /// Only the data of this run (by id); without it, the data sent without a run.
    #[arg(long)]
    run_id: Option<String>,
    /// The first instant: RFC 3339 or integer nanoseconds.
    #[arg(long)]
    start: Option<String>,
    /// The first instant excluded, like --start.
    #[arg(long)]
    end: Option<String>,
    /// Store the ranges as annotations of the (stored) rule.
    #[arg(long, requires = "rule")]
    annotate: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs a `sextant rules` subcommand.
pub fn run(command: RulesCommand) -> anyhow::Result<()> {
    match command {
        RulesCommand::Apply(args) => apply(args),
        RulesCommand::Eval(args) => eval(args),
    }
}

fn named(paths: &[PathBuf]) -> anyhow::Result<NamedExpressions> {
    load_named_expressions(paths).map_err(|p| anyhow::anyhow!("named expressions:\n{p}"))
}

/// Loads and checks the rules of `paths`, each with its expression text as the server takes
/// it (named expressions resolved, sub-expressions put in place).
fn load(paths: &[PathBuf], expressions: &[PathBuf]) -> anyhow::Result<Vec<(RuleConfig, String)>> {
    let named = named(expressions)?;
    let modules = load_rule_modules(paths).map_err(|p| anyhow::anyhow!("{p}"))?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for module in &modules {
        // Rules whose references carry only channel names cannot be type-checked here (the
        // server checks them against the asset's channels); everything else is checked.
        if let Err(p) = module.validate(ChannelScope::Standalone, &named) {
            problems.push(p.to_string());
            continue;
        }
        for rule in &module.rules {
            let text = match &rule.expression {
                RuleExpression::Text(text) => text.clone(),
                RuleExpression::Named(name) => {
                    named.get(name).map(|n| n.text.clone()).with_context(|| {
                        format!(
                            "{}: rule `{}`: no named expression `{name}`",
                            module.file, rule.name
                        )
                    })?
                }
            };
            let text = expression_text(rule, &text)
                .with_context(|| format!("{}: rule `{}`", module.file, rule.name))?;
            out.push((rule.clone(), text));
        }
    }
    if !problems.is_empty() {
        bail!("the rule modules have problems:\n{}", problems.join("\n"));
    }
    Ok(out)
}

/// The expression with its sub-expressions put in place, as text.
fn expression_text(rule: &RuleConfig, text: &str) -> anyhow::Result<String> {
    if rule.sub_expressions.is_empty() {
        return Ok(text.to_owned());
    }
    let parse = |src: &str| {
        sextant_expr::parse(src).map_err(|d| {
            anyhow::anyhow!(
                "cannot parse `{src}`: {}",
                d.iter()
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
    };
    let mut subs = HashMap::new();
    for sub in &rule.sub_expressions {
        subs.insert(sub.placeholder.clone(), parse(&sub.expression)?);
    }
    Ok(parse(text)?.substitute(&subs).to_string())
}

/// The JSON body of `POST /api/v1/rules` for a rule.
fn rule_body(rule: &RuleConfig, expression: &str, live: bool) -> Value {
    let references: BTreeMap<String, String> = rule
        .channel_references
        .iter()
        .map(|r| (r.reference.clone(), r.full_name()))
        .collect();
    json!({
        "name": rule.name,
        "client_key": rule.rule_client_key,
        "description": rule.description.clone().unwrap_or_default(),
        "expression": expression,
        "channel_references": references,
        "contextual_channels": rule.contextual_channels,
        "asset_names": rule.asset_names,
        "type": match rule.rule_type {
            RuleType::Review => "review",
            RuleType::Phase => "phase",
        },
        "assignee": rule.assignee,
        "tags": rule.tags,
        "live": live || rule.is_live,
    })
}

fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    let rules = load(&args.paths, &args.expressions)?;
    let api = Api::new(&args.server.url, &args.server.token)?;
    for (rule, expression) in &rules {
        let answer = api
            .call(
                "POST",
                "/api/v1/rules",
                Some(&rule_body(rule, expression, args.live)),
            )
            .with_context(|| format!("rule `{}`", rule.name))?;
        let verb = if answer["created"].as_bool() == Some(true) {
            "created"
        } else {
            "updated"
        };
        println!(
            "{verb} rule `{}` ({}) version {}{}",
            rule.name,
            answer["rule_id"].as_str().unwrap_or("?"),
            answer["version"],
            if answer["live"].as_bool() == Some(true) {
                ", live"
            } else {
                ""
            }
        );
    }
    println!("{} rules applied", rules.len());
    Ok(())
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let mut body = json!({
        "asset": args.asset,
        "run_id": args.run_id,
        "start": args.start.as_deref().map(parse_time).transpose().context("--start")?,
        "end": args.end.as_deref().map(parse_time).transpose().context("--end")?,
        "annotate": args.annotate,
    });
    match (&args.rule, &args.file, &args.name) {
        (Some(key), None, _) => body["rule_key"] = json!(key),
        (None, Some(file), Some(name)) => {
            let rules = load(std::slice::from_ref(file), &args.expressions)?;
            let (rule, text) = rules
                .iter()
                .find(|(rule, _)| rule.name == *name)
                .with_context(|| format!("{} has no rule named `{name}`", file.display()))?;
            body["rule"] = rule_body(rule, text, false);
        }
        _ => bail!("name the rule with --rule KEY, or with --file PATH --name NAME"),
    }
    let api = Api::new(&args.server.url, &args.server.token)?;
    let answer = api.call("POST", "/api/v1/rules/eval", Some(&body))?;
    let ranges = answer["ranges"].as_array().cloned().unwrap_or_default();
    println!(
        "rule `{}` over asset `{}`: held {} time(s)",
        answer["rule"].as_str().unwrap_or("?"),
        answer["asset"].as_str().unwrap_or("?"),
        ranges.len()
    );
    for range in ranges {
        let end = match range["end"].as_i64() {
            Some(end) => end.to_string(),
            None => "(still holding at the end)".to_owned(),
        };
        println!("  {} .. {end}", range["start"]);
    }
    if let Some(ids) = answer["annotation_ids"].as_array()
        && !ids.is_empty()
    {
        println!("created {} annotations", ids.len());
    }
    Ok(())
}

/// Subcommands of `sextant annotations`.
#[derive(Debug, Subcommand)]
pub enum AnnotationsCommand {
    /// List annotations, oldest first, one per line.
    List(ListArgs),
}

/// Arguments of `sextant annotations list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only those of this rule (id).
    #[arg(long)]
    rule_id: Option<String>,
    /// Only those of this asset (id).
    #[arg(long)]
    asset_id: Option<String>,
    /// Only those of this run (id).
    #[arg(long)]
    run_id: Option<String>,
    /// Only those in this state: open, flagged or resolved.
    #[arg(long)]
    state: Option<String>,
    /// Only those overlapping from here: RFC 3339 or integer nanoseconds.
    #[arg(long)]
    from: Option<String>,
    /// Only those overlapping up to here.
    #[arg(long)]
    to: Option<String>,
    /// Print the JSON of each annotation instead of a line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs a `sextant annotations` subcommand.
pub fn run_annotations(command: AnnotationsCommand) -> anyhow::Result<()> {
    let AnnotationsCommand::List(args) = command;
    let mut query = Vec::new();
    for (key, value) in [
        ("rule_id", args.rule_id.clone()),
        ("asset_id", args.asset_id.clone()),
        ("run_id", args.run_id.clone()),
        ("state", args.state.clone()),
        (
            "from",
            args.from
                .as_deref()
                .map(parse_time)
                .transpose()
                .context("--from")?
                .map(|t| t.to_string()),
        ),
        (
            "to",
            args.to
                .as_deref()
                .map(parse_time)
                .transpose()
                .context("--to")?
                .map(|t| t.to_string()),
        ),
    ] {
        if let Some(value) = value {
            if value.contains(['&', '=', ' ', '#', '?', '%']) {
                bail!(
                    "--{} {value:?} contains characters a query cannot carry",
                    key.replace('_', "-")
                );
            }
            query.push(format!("{key}={value}"));
        }
    }
    let api = Api::new(&args.server.url, &args.server.token)?;
    let mut token = String::new();
    let mut count = 0;
    loop {
        let mut path = format!("/api/v1/annotations?{}", query.join("&"));
        if !token.is_empty() {
            path.push_str(&format!("&page_token={token}"));
        }
        let answer = api.call("GET", &path, None)?;
        for a in answer["annotations"].as_array().into_iter().flatten() {
            count += 1;
            if args.json {
                println!("{a}");
                continue;
            }
            let end = a["end_time"]
                .as_i64()
                .map_or("open".to_owned(), |e| e.to_string());
            println!(
                "{}  {}  {} .. {}  {}  {}  tags={}",
                a["annotation_id"].as_str().unwrap_or("?"),
                a["name"].as_str().unwrap_or("?"),
                a["start_time"],
                end,
                a["type"].as_str().unwrap_or("?"),
                a["state"].as_str().unwrap_or("?"),
                a["tags"]
                    .as_array()
                    .map(|t| t
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default(),
            );
        }
        token = answer["next_page_token"].as_str().unwrap_or("").to_owned();
        if token.is_empty() {
            break;
        }
    }
    if !args.json {
        println!("{count} annotations");
    }
    Ok(())
}

/// Subcommands of `sextant users`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user that annotations can be assigned to (an admin key is needed).
    Create(CreateUserArgs),
}

/// Arguments of `sextant users create`.
#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// The user's name, usually an e-mail address; rules name assignees by it.
    name: String,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs a `sextant users` subcommand.
pub fn run_users(command: UsersCommand) -> anyhow::Result<()> {
    let UsersCommand::Create(args) = command;
    let api = Api::new(&args.server.url, &args.server.token)?;
    let answer = api.call("POST", "/api/v1/users", Some(&json!({ "name": args.name })))?;
    println!(
        "created user `{}` ({})",
        args.name,
        answer["user_id"].as_str().unwrap_or("?")
    );
    Ok(())
}
