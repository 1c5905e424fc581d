//! Sift's data imports over REST, as `sift_py`'s `CsvUploadService` and `ParquetUploadService`
//! call them: `POST /api/v1/data-imports:upload` takes the config and answers where to send the
//! file and the import's id; `POST` of the file to that URL streams it to disk and imports it
//! (`sextant-imports` reads it, chunk by chunk, each chunk one acknowledged write); `GET
//! /api/v1/data-imports/{id}` tells how it went (`wait_until_complete`). The import runs while
//! the file's request waits, so the first status read after it finds it done.
//!
//! CSV and flat Parquet files are read; HDF5, TDMS, ROS bags, Chapter 10 and imports from a URL
//! are refused naming the format. `POST /api/v0/data-imports:detect-config` detects a flat
//! Parquet config from a file's footer, for `ParquetUploadService.flat_dataset_upload`.

use std::io::Read;

use base64::Engine as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use sextant_catalog::{ChannelDef, DataImport, ImportStatus, NewRun, Principal};
use sextant_imports::{Channel, CsvConfig, ImportError, ParquetConfig};
use sextant_model::{ErrorKind, SeriesKey, WriteBatch};
use sextant_storage::{Store, WritePolicy};

use crate::auth::{Action, authorize};
use crate::error::HttpError;
use crate::files::rest::{files, receive};
use crate::state::{AppState, org_number};

/// Where configs are posted.
pub const UPLOAD_PATH: &str = "/api/v1/data-imports:upload";
/// Imports from a URL (refused).
const URL_PATH: &str = "/api/v1/data-imports:url";
/// Config detection from a Parquet footer.
const DETECT_PATH: &str = "/api/v0/data-imports:detect-config";
/// An import's status.
const IMPORT_ROUTE: &str = "/api/v1/data-imports/{id}";
/// Where an import's file is posted.
const FILE_ROUTE: &str = "/api/v1/data-imports/{id}/file";

/// The largest config body.
const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The largest detection request, as sent and decompressed: a footer describes the columns and
/// row groups, not the data.
const MAX_DETECT_BYTES: usize = 16 << 20;

/// The largest import file: 16 GiB.
pub const MAX_FILE_BYTES: u64 = 16 << 30;

/// Files read (and Parquet footers decoded for config detection) at once; more wait their
/// turn. Reading is CPU-bound, and a small Parquet file can cost seconds of it inside the
/// `parquet` crate (a 2.4 KB file found by fuzzing takes 10 s), so imports never take more than
/// this many cores from ingest and queries.
pub const CONCURRENT_IMPORTS: usize = 2;

static IMPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_IMPORTS);

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            UPLOAD_PATH,
            post(create).layer(DefaultBodyLimit::max(MAX_CONFIG_BYTES)),
        )
        .route(URL_PATH, post(from_url))
        .route(
            DETECT_PATH,
            post(detect).layer(DefaultBodyLimit::max(MAX_DETECT_BYTES)),
        )
        .route(IMPORT_ROUTE, get(status))
        .route(
            FILE_ROUTE,
            post(upload_file).layer(DefaultBodyLimit::disable()),
        )
}

/// The formats Sift's clients can send a config for, by the config's key.
const FORMATS: [(&str, &str); 6] = [
    ("csv_config", "CSV"),
    ("parquet_config", "Parquet"),
    ("hdf5_config", "HDF5"),
    ("tdms_config", "TDMS"),
    ("ros2_config", "ROS 2 bag"),
    ("ch10_config", "IRIG 106 Chapter 10"),
];

/// The config of an import, decoded.
enum Config {
    Csv(CsvConfig),
    Parquet(ParquetConfig),
}

impl Config {
    fn decode(format: &str, config: &str) -> Result<Config, String> {
        let invalid = |e: serde_json::Error| format!("invalid {format} import config: {e}");
        match format {
            "csv" => Ok(Config::Csv(serde_json::from_str(config).map_err(invalid)?)),
            "parquet" => Ok(Config::Parquet(
                serde_json::from_str(config).map_err(invalid)?,
            )),
            other => Err(format!("Sextant does not import {other} files")),
        }
    }

    fn target(&self) -> (&str, &str, &str) {
        match self {
            Config::Csv(c) => (&c.asset_name, &c.run_name, &c.run_id),
            Config::Parquet(c) => (&c.asset_name, &c.run_name, &c.run_id),
        }
    }

    fn channels(&self) -> Result<Vec<Channel>, ImportError> {
        Ok(match self {
            Config::Csv(c) => sextant_imports::csv::channels(c)?
                .into_iter()
                .map(|(_, ch)| ch)
                .collect(),
            Config::Parquet(c) => sextant_imports::parquet::channels(c)?
                .into_iter()
                .map(|(_, ch)| ch)
                .collect(),
        })
    }
}

/// `POST /api/v1/data-imports:upload`: records an import of a CSV or Parquet file with its
/// config, checked now, and answers the URL to post the file to.
async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, HttpError> {
    authorize(&principal, Action::WritePoints)?;
    authorize(&principal, Action::WriteMetadata)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| HttpError::invalid(format!("the import request is not JSON: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| HttpError::invalid("the import request must be a JSON object"))?;
    let Some((key, name)) = FORMATS.iter().find(|(key, _)| object.contains_key(*key)) else {
        return Err(HttpError::invalid(format!(
            "the import request names no config: give csv_config or parquet_config (found {})",
            object.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    };
    let format = match *key {
        "csv_config" => "csv",
        "parquet_config" => "parquet",
        _ => {
            return Err(HttpError::invalid(format!(
                "Sextant does not import {name} files; it imports CSV and Parquet files"
            )));
        }
    };
    let config = object[*key].to_string();
    let decoded = Config::decode(format, &config).map_err(HttpError::invalid)?;
    decoded
        .channels()
        .map_err(|e| HttpError::invalid(e.to_string()))?;
    let org = principal.organization_id.clone();
    let import = state
        .catalog_http(move |c| c.create_data_import(&org, format, &config))
        .await?;
    // HTTP/1.1 names the host in `Host`, HTTP/2 in the URI's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .ok_or_else(|| HttpError::invalid("the request names no host to make the upload URL"))?;
    let scheme = if state.tls { "https" } else { "http" };
    Ok(Json(serde_json::json!({
        "uploadUrl": format!("{scheme}://{host}/api/v1/data-imports/{}/file", import.id),
        "dataImportId": import.id,
    })))
}

async fn from_url() -> HttpError {
    HttpError::invalid(
        "Sextant does not fetch files from URLs: upload the file (POST /api/v1/data-imports:upload)",
    )
}

/// A detection request: the footer, base64, and what it is the footer of.
#[derive(serde::Deserialize)]
struct DetectRequest {
    data: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// The detection type of flat Parquet files, the one detected.
const PARQUET_FLAT: &str = "DATA_TYPE_KEY_PARQUET_FLATDATASET";

/// `POST /api/v0/data-imports:detect-config`: a flat Parquet config from a file's footer
/// (`{"data": base64, "type": "DATA_TYPE_KEY_PARQUET_FLATDATASET"}`, gzip or not). Every
/// top-level column a channel can hold becomes a data column named after it; the client then
/// names the time column, which is not imported as a channel.
async fn detect(
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, HttpError> {
    authorize(&principal, Action::WritePoints)?;
    let body = if crate::body::is_gzip(&headers) {
        Bytes::from(
            crate::body::gunzip(&body, MAX_DETECT_BYTES)
                .map_err(|e| HttpError::invalid(e.to_string()))?,
        )
    } else {
        body
    };
    let request: DetectRequest = serde_json::from_slice(&body)
        .map_err(|e| HttpError::invalid(format!("the detection request is not valid: {e}")))?;
    if !request.kind.is_empty() && request.kind != PARQUET_FLAT {
        return Err(HttpError::invalid(format!(
            "Sextant detects the configs of flat Parquet files only (type {PARQUET_FLAT}), \
             not {}",
            request.kind
        )));
    }
    let footer = base64::engine::general_purpose::STANDARD
        .decode(request.data.as_bytes())
        .map_err(|e| HttpError::invalid(format!("field data is not base64: {e}")))?;
    let length = footer.len();
    // Decoding a footer is bounded by its size, but the `parquet` crate can spend seconds on a
    // small malformed one (fuzzing found a 1.3 KB footer that takes five in the fuzzing build):
    // detection takes its turn with the imports.
    let _turn = IMPORTS.acquire().await.map_err(HttpError::internal)?;
    let detected = tokio::task::spawn_blocking(move || sextant_imports::parquet::detect(&footer))
        .await
        .map_err(|e| HttpError::internal(format!("config detection failed: {e}")))?
        .map_err(|e| HttpError::invalid(e.to_string()))?;
    let columns: Vec<serde_json::Value> = detected
        .columns
        .iter()
        .map(|(name, data_type)| {
            serde_json::json!({
                "path": name,
                "channelConfig": {
                    "name": name,
                    "dataType": sextant_imports::sift_type_name(*data_type),
                    "units": "",
                    "description": "",
                },
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "parquetConfig": {
            "assetName": "",
            "footerOffset": 0,
            "footerLength": length,
            "complexTypesImportMode": "PARQUET_COMPLEX_TYPES_IMPORT_MODE_IGNORE",
            "flatDataset": {
                "timeColumn": {
                    "path": detected.time_column.unwrap_or_default(),
                    "format": "TIME_FORMAT_ABSOLUTE_UNIX_NANOSECONDS",
                },
                "dataColumns": columns,
            },
        },
    })))
}

/// `POST /api/v1/data-imports/{id}/file`: the file, stored to disk as it arrives, then read
/// and written chunk by chunk; answers once the import ended, 400 naming the problem when it
/// failed.
async fn upload_file(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Json<serde_json::Value>, HttpError> {
    authorize(&principal, Action::WritePoints)?;
    let files = files(&state)?;
    let org = principal.organization_id.clone();
    let import = {
        let (org, id) = (org.clone(), id.clone());
        state
            .catalog_http(move |c| {
                c.set_data_import_status(
                    &org,
                    &id,
                    ImportStatus::Pending,
                    ImportStatus::InProgress,
                    "",
                    0,
                )
            })
            .await?
    };
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let blob_id = format!("import-{}", import.id);
    let received = receive(&files, &org, &blob_id, MAX_FILE_BYTES, &mut body).await;
    let outcome = match received {
        Ok(_) => {
            let _turn = IMPORTS.acquire().await.map_err(HttpError::internal)?;
            let (state2, files2, org2, blob2) =
                (state.clone(), files.clone(), org.clone(), blob_id.clone());
            let import2 = import.clone();
            tokio::task::spawn_blocking(move || {
                let path = files2.blobs.root().join(&org2).join(&blob2);
                let result = run(&state2, &org2, &import2, &path, gzip);
                if let Err(error) = files2.blobs.remove(&org2, &blob2) {
                    tracing::warn!(%error, "cannot remove an imported file");
                }
                result
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r)
        }
        Err(error) => Err(format!("the file did not arrive whole: {error}")),
    };
    let (to, message, rows) = match &outcome {
        Ok(rows) => (ImportStatus::Succeeded, String::new(), *rows),
        Err(message) => (ImportStatus::Failed, message.clone(), 0),
    };
    let done = {
        let (org, id, message) = (org.clone(), import.id.clone(), message.clone());
        state
            .catalog_http(move |c| {
                c.set_data_import_status(&org, &id, ImportStatus::InProgress, to, &message, rows)
            })
            .await?
    };
    match outcome {
        Ok(_) => Ok(Json(serde_json::json!({ "dataImport": to_json(&done) }))),
        Err(message) => Err(HttpError::new(ErrorKind::InvalidInput, message)),
    }
}

/// Imports the file at `path` for `import`: its asset, run and channels, then its points.
fn run(
    state: &AppState,
    org: &str,
    import: &DataImport,
    path: &std::path::Path,
    gzip: bool,
) -> Result<u64, String> {
    let config = Config::decode(&import.format, &import.config)?;
    let channels = config.channels().map_err(|e| e.to_string())?;
    let catalog = state.catalog.as_ref();
    let (asset_name, run_name, run_id) = config.target();
    let asset = catalog
        .get_or_create_asset(org, asset_name)
        .map_err(|e| e.to_string())?;
    let run_id = if !run_id.is_empty() {
        catalog.get_run(org, run_id).map_err(|e| e.to_string())?.id
    } else if !run_name.is_empty() {
        catalog
            .create_run(
                org,
                NewRun {
                    name: run_name.to_owned(),
                    ..NewRun::default()
                },
            )
            .map_err(|e| e.to_string())?
            .id
    } else {
        String::new()
    };
    for channel in &channels {
        catalog
            .get_or_create_channel(
                org,
                &asset.id,
                &ChannelDef {
                    name: channel.name.clone(),
                    data_type: channel.data_type,
                    unit: channel.units.clone(),
                    description: channel.description.clone(),
                    enum_types: channel.enum_types.clone(),
                    bit_field_elements: channel.bit_field_elements.clone(),
                },
            )
            .map_err(|e| e.to_string())?;
    }
    if !run_id.is_empty() {
        catalog
            .associate_asset(org, &run_id, &asset.id)
            .map_err(|e| e.to_string())?;
    }
    let mut labels = vec![("asset", asset.name.as_str())];
    if !run_id.is_empty() {
        labels.push(("run", run_id.as_str()));
    }
    let keys: Vec<SeriesKey> = channels
        .iter()
        .map(|c| {
            SeriesKey::new(c.name.clone(), labels.iter().copied())
                .map_err(|e| format!("channel {:?}: {e}", c.name))
        })
        .collect::<Result<_, _>>()?;
    let store: Arc<dyn Store> = state.store.clone();
    let org_id = org_number(org);
    let sink = |chunk: sextant_imports::Chunk| -> Result<(), ImportError> {
        let mut batch = WriteBatch::new(org_id);
        for ((key, channel), points) in keys.iter().zip(&channels).zip(chunk) {
            if !points.is_empty() {
                batch.push(key.clone(), channel.data_type, points);
            }
        }
        let Ok(batch) = batch.validate() else {
            return Ok(()); // Nothing in this chunk.
        };
        let outcome = store
            .write_with(batch, WritePolicy::AllOrNothing)
            .map_err(|e| ImportError::Sink(e.to_string()))?;
        match outcome.refused.first() {
            Some(refusal) => Err(ImportError::Sink(refusal.error.to_string())),
            None => Ok(()),
        }
    };
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read the uploaded file: {e}"))?;
    let rows = match &config {
        Config::Csv(c) => {
            let input: Box<dyn Read> = if gzip {
                Box::new(flate2::read::MultiGzDecoder::new(file))
            } else {
                Box::new(file)
            };
            sextant_imports::csv::read(input, c, sink)
        }
        Config::Parquet(c) => {
            if gzip {
                return Err(
                    "a Parquet file is compressed inside; send it without Content-Encoding"
                        .to_owned(),
                );
            }
            sextant_imports::parquet::read(file, c, sink)
        }
    };
    rows.map_err(|e| e.to_string())
}

/// An import in Sift's JSON.
fn to_json(import: &DataImport) -> serde_json::Value {
    let time = |ns: i64| {
        chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    };
    let status = match import.status {
        ImportStatus::Pending => "DATA_IMPORT_STATUS_PENDING",
        ImportStatus::InProgress => "DATA_IMPORT_STATUS_IN_PROGRESS",
        ImportStatus::Succeeded => "DATA_IMPORT_STATUS_SUCCEEDED",
        ImportStatus::Failed => "DATA_IMPORT_STATUS_FAILED",
    };
    let config: serde_json::Value =
        serde_json::from_str(&import.config).unwrap_or(serde_json::Value::Null);
    let mut out = serde_json::json!({
        "dataImportId": import.id,
        "createdDate": time(import.created_at),
        "modifiedDate": time(import.modified_at),
        "sourceUrl": "",
        "status": status,
        "errorMessage": import.error_message,
    });
    let key = if import.format == "csv" {
        "csvConfig"
    } else {
        "parquetConfig"
    };
    out[key] = config;
    out
}

/// `GET /api/v1/data-imports/{id}`.
async fn status(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, HttpError> {
    authorize(&principal, Action::ReadMetadata)?;
    let org = principal.organization_id;
    let import = state
        .catalog_http(move |c| c.get_data_import(&org, &id))
        .await?;
    Ok(Json(serde_json::json!({ "dataImport": to_json(&import) })))
}
