//! `sextant rules apply` and `sextant rules eval`: register rule modules with a running server,
//! and find where a rule held over stored data. `sextant annotations list` lists what live
//! rules found. `sextant users create` creates the users rules assign annotations to. All of
//! them call the server's native API through the SDK's [`NativeClient`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sextant_client::native::NativeClient;
use sextant_client::native::api::{
    AnnotationQuery, AnnotationState, AnnotationType, EvalRequest, RuleBody,
};
use sextant_client::parse_time;
use sextant_telemetry::{
    ChannelScope, NamedExpressions, RuleConfig, RuleExpression, RuleType, load_named_expressions,
    load_rule_modules,
};

/// Subcommands of `sextant rules`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Create or update (by rule_client_key) the rules of rule modules on a running server.
    ///
    /// Every rule is checked first; nothing is sent when any has a problem. The assets a rule
    /// names must exist, and its assignee must be a user of the server (`sextant users create`).
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

impl ServerArgs {
    /// A native API client of the server, with a runtime to drive its calls.
    fn connect(&self) -> anyhow::Result<Native> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Native {
            runtime,
            client: NativeClient::new(&self.url, &self.token)?,
        })
    }
}

/// A native API client and the runtime its calls run on.
struct Native {
    runtime: tokio::runtime::Runtime,
    client: NativeClient,
}

impl Native {
    /// Runs one call to completion.
    fn run<T>(&self, call: impl Future<Output = sextant_client::Result<T>>) -> anyhow::Result<T> {
        Ok(self.runtime.block_on(call)?)
    }
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

/// The body of `POST /api/native/v1/rules` for a rule.
fn rule_body(rule: &RuleConfig, expression: &str, live: bool) -> RuleBody {
    let references: BTreeMap<String, String> = rule
        .channel_references
        .iter()
        .map(|r| (r.reference.clone(), r.full_name()))
        .collect();
    RuleBody {
        name: rule.name.clone(),
        client_key: rule.rule_client_key.clone(),
        description: rule.description.clone().unwrap_or_default(),
        expression: expression.to_owned(),
        channel_references: references,
        contextual_channels: rule.contextual_channels.clone(),
        asset_names: rule.asset_names.clone(),
        rule_type: Some(match rule.rule_type {
            RuleType::Review => AnnotationType::Review,
            RuleType::Phase => AnnotationType::Phase,
        }),
        assignee: rule.assignee.clone(),
        tags: rule.tags.clone(),
        live: live || rule.is_live,
        webhook_url: None,
    }
}

fn apply(args: ApplyArgs) -> anyhow::Result<()> {
    let rules = load(&args.paths, &args.expressions)?;
    let native = args.server.connect()?;
    for (rule, expression) in &rules {
        let body = rule_body(rule, expression, args.live);
        let applied = native
            .run(native.client.apply_rule(&body))
            .with_context(|| format!("rule `{}`", rule.name))?;
        println!(
            "{} rule `{}` ({}) version {}{}",
            if applied.created {
                "created"
            } else {
                "updated"
            },
            rule.name,
            applied.rule.rule_id,
            applied.rule.version,
            if applied.rule.live { ", live" } else { "" }
        );
    }
    println!("{} rules applied", rules.len());
    Ok(())
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let mut request = EvalRequest {
        asset: args.asset.clone(),
        run_id: args.run_id.clone(),
        start: args
            .start
            .as_deref()
            .map(parse_time)
            .transpose()
            .context("--start")?,
        end: args
            .end
            .as_deref()
            .map(parse_time)
            .transpose()
            .context("--end")?,
        annotate: args.annotate,
        ..EvalRequest::default()
    };
    match (&args.rule, &args.file, &args.name) {
        (Some(key), None, _) => request.rule_key = Some(key.clone()),
        (None, Some(file), Some(name)) => {
            let rules = load(std::slice::from_ref(file), &args.expressions)?;
            let (rule, text) = rules
                .iter()
                .find(|(rule, _)| rule.name == *name)
                .with_context(|| format!("{} has no rule named `{name}`", file.display()))?;
            request.rule = Some(rule_body(rule, text, false));
        }
        _ => bail!("name the rule with --rule KEY, or with --file PATH --name NAME"),
    }
    let native = args.server.connect()?;
    let answer = native.run(native.client.eval_rule(&request))?;
    println!(
        "rule `{}` over asset `{}`: held {} time(s)",
        answer.rule,
        answer.asset,
        answer.ranges.len()
    );
    for range in &answer.ranges {
        let end = match range.end {
            Some(end) => end.to_string(),
            None => "(still holding at the end)".to_owned(),
        };
        println!("  {} .. {end}", range.start);
    }
    if !answer.annotation_ids.is_empty() {
        println!("created {} annotations", answer.annotation_ids.len());
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
    let state = match args.state.as_deref() {
        None => None,
        Some("open") => Some(AnnotationState::Open),
        Some("flagged") => Some(AnnotationState::Flagged),
        Some("resolved") => Some(AnnotationState::Resolved),
        Some(other) => bail!("--state {other:?} is not open, flagged or resolved"),
    };
    let time = |value: &Option<String>, flag: &str| {
        value
            .as_deref()
            .map(parse_time)
            .transpose()
            .with_context(|| flag.to_owned())
    };
    let query = AnnotationQuery {
        rule_id: args.rule_id.clone(),
        asset_id: args.asset_id.clone(),
        run_id: args.run_id.clone(),
        state,
        from: time(&args.from, "--from")?,
        to: time(&args.to, "--to")?,
        ..AnnotationQuery::default()
    };
    let native = args.server.connect()?;
    let annotations = native.run(native.client.all_annotations(&query))?;
    for a in &annotations {
        if args.json {
            println!("{}", serde_json::to_string(a)?);
            continue;
        }
        let end = a.end_time.map_or("open".to_owned(), |e| e.to_string());
        println!(
            "{}  {}  {} .. {}  {}  {}  tags={}",
            a.annotation_id,
            a.name,
            a.start_time,
            end,
            match a.annotation_type {
                AnnotationType::Review => "review",
                AnnotationType::Phase => "phase",
            },
            a.state.as_str(),
            a.tags.join(","),
        );
    }
    if !args.json {
        println!("{} annotations", annotations.len());
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
    /// Give the user a login with this e-mail address: `POST /v2/session` (SignalFx's
    /// `login(email, password)`) exchanges it and the password for a session key. The password
    /// is read from the first line of standard input.
    #[arg(long)]
    email: Option<String>,
    /// The scope of the login's session keys: read, ingest or admin.
    #[arg(long, default_value = "read", requires = "email")]
    session_scope: String,
    #[command(flatten)]
    server: ServerArgs,
}

/// Runs a `sextant users` subcommand.
pub fn run_users(command: UsersCommand) -> anyhow::Result<()> {
    let UsersCommand::Create(args) = command;
    let password = match &args.email {
        Some(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(
                !password.is_empty(),
                "--email needs a password on the first line of standard input"
            );
            Some(password)
        }
        None => None,
    };
    let native = args.server.connect()?;
    let body = sextant_client::native::api::CreateUser {
        name: args.name.clone(),
        session_scope: args.email.as_ref().map(|_| args.session_scope.clone()),
        email: args.email.clone(),
        password,
    };
    let user = native.run(native.client.create_user_with(&body))?;
    match &args.email {
        Some(email) => println!(
            "created user `{}` ({}) with the login {email}",
            user.name, user.user_id
        ),
        None => println!("created user `{}` ({})", user.name, user.user_id),
    }
    Ok(())
}
