//! `sextant token create|list|revoke`: API keys, managed on the server's data directory (the
//! catalog is shared safely with a running server).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use sextant_catalog::{Catalog, Scope, Scopes, SqliteCatalog};

/// Subcommands of `sextant token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API key and print its secret (shown only once).
    Create(CreateArgs),
    /// List the API keys of an organization.
    List(OrgArgs),
    /// Revoke an API key: it stops working at once.
    Revoke(RevokeArgs),
}

/// Where the catalog is.
#[derive(Debug, Args)]
pub struct DataDir {
    /// The server's data directory.
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "sextant-data")]
    pub(crate) data_dir: PathBuf,
}

/// Which organization.
#[derive(Debug, Args)]
pub struct OrgArgs {
    #[command(flatten)]
    data: DataDir,
    /// The organization's name; created by `token create` if missing.
    #[arg(long, default_value = "default")]
    org: String,
}

/// Arguments of `sextant token create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    org: OrgArgs,
    /// A name for people, e.g. the program that uses the key.
    #[arg(long)]
    name: String,
    /// What the key may do: ingest, read or admin; several as `--scope ingest,read` or
    /// `--scope ingest --scope read`.
    #[arg(long, default_value = "ingest", value_delimiter = ',', num_args = 1)]
    scope: Vec<Scope>,
}

/// Arguments of `sextant token revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    org: OrgArgs,
    /// The key's id, as `token list` prints it.
    id: String,
}

/// Runs a `sextant token` subcommand.
pub fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => {
            let catalog = open(&args.org.data)?;
            let org = match find_org(&catalog, &args.org.org)? {
                Some(id) => id,
                None => catalog.create_organization(&args.org.org)?.id,
            };
            let scopes = Scopes::from_list(args.scope).context("a key needs a scope")?;
            let (key, secret) = catalog.create_api_key(&org, &args.name, scopes)?;
            println!("{secret}");
            eprintln!(
                "created {} key {} ({}) in organization {}; the secret above is shown only now",
                key.scopes, key.id, key.name, args.org.org
            );
        }
        TokenCommand::List(args) => {
            let catalog = open(&args.data)?;
            let org = find_org(&catalog, &args.org)?
                .with_context(|| format!("no organization named {:?}", args.org))?;
            println!("{:<36}  {:<17}  {:<8}  name", "id", "scope", "state");
            for key in catalog.list_api_keys(&org)? {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<17}  {:<8}  {}",
                    key.id,
                    key.scopes.to_string(),
                    state,
                    key.name
                );
            }
        }
        TokenCommand::Revoke(args) => {
            let catalog = open(&args.org.data)?;
            let org = find_org(&catalog, &args.org.org)?
                .with_context(|| format!("no organization named {:?}", args.org.org))?;
            let key = catalog.revoke_api_key(&org, &args.id)?;
            eprintln!("revoked {} key {} ({})", key.scopes, key.id, key.name);
        }
    }
    Ok(())
}

/// The catalog of the data directory `data`, which a server must have made.
pub(crate) fn open(data: &DataDir) -> anyhow::Result<SqliteCatalog> {
    let path = data.data_dir.join("catalog.db");
    if !path.exists() {
        anyhow::bail!(
            "no catalog at {}: start `sextant serve --data-dir {}` once first",
            path.display(),
            data.data_dir.display()
        );
    }
    SqliteCatalog::open(&path)
        .with_context(|| format!("cannot open the catalog {}", path.display()))
}

/// The id of the organization named `name`, if there is one.
pub(crate) fn find_org(catalog: &SqliteCatalog, name: &str) -> anyhow::Result<Option<String>> {
    Ok(catalog
        .list_organizations()?
        .into_iter()
        .find(|o| o.name == name)
        .map(|o| o.id))
}
