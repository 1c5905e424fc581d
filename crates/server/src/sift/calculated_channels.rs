//! Calculated channels: an expression over channels of one asset (`$1 * 2 + $2`), evaluated
//! where it is read. `sift.calculated_channels.v1.CalculatedChannelsService` validates
//! expressions and lists the functions they may call; `GetData` evaluates calculated-channel
//! queries through [`evaluate`], with the semantics of live rules: at every timestamp where an
//! input has a point, with each input's latest value at or before it.

use std::collections::BTreeMap;
use std::ops::Range;

use sextant_catalog::Channel;
use sextant_expr::{ChannelSchema, ValueProgram, compile, compile_value, parse};
use sextant_model::{Point, SeriesKey, Timestamp};
use sextant_query::{Reader, Selector};
use sextant_storage::head::SeriesMatcher;
use sift_rs::calculated_channels::v1::calculated_channels_service_server::CalculatedChannelsService;
use sift_rs::calculated_channels::v1::*;
use tonic::{Request, Response, Status};

use super::convert::data_type_to_pb;
use crate::auth::{Action, authorize_call};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct CalculatedChannels {
    pub(crate) state: AppState,
}

/// An expression resolved against the catalog: its channels (one per program input, in the
/// program's order) and their asset.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The references the request binds, with their channels, in the request's order.
    pub bound: Vec<(String, Channel)>,
    /// The asset of every channel.
    pub asset_id: String,
    /// Its name.
    pub asset_name: String,
}

impl Resolved {
    /// The type-checking schema of each bound reference.
    pub fn schemas(&self) -> Vec<(String, ChannelSchema)> {
        self.bound
            .iter()
            .map(|(reference, channel)| (reference.clone(), sextant_rules::schema_of(channel)))
            .collect()
    }

    /// The channel of each input of `program`, in its order.
    pub fn inputs(&self, program: &ValueProgram) -> Vec<Channel> {
        program
            .inputs()
            .iter()
            .filter_map(|input| {
                self.bound
                    .iter()
                    .find(|(reference, _)| reference == input)
                    .map(|(_, channel)| channel.clone())
            })
            .collect()
    }
}

/// The references of a request: `expression_channel_references` or, from older clients, the
/// `channel_references` map (reference → channel id).
fn references(request: &ExpressionRequest) -> Vec<(String, String)> {
    if !request.expression_channel_references.is_empty() {
        return request
            .expression_channel_references
            .iter()
            .map(|r| (r.channel_reference.clone(), r.channel_id.clone()))
            .collect();
    }
    let mut map: Vec<(String, String)> = request
        .channel_references
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    map.sort();
    map
}

/// Looks up the channels an expression refers to; they must exist and share one asset.
pub async fn resolve(
    state: &AppState,
    org_id: &str,
    request: &ExpressionRequest,
) -> Result<Resolved, Status> {
    if !request.function_dependencies.is_empty() {
        return Err(Status::unimplemented(
            "Sextant does not evaluate user-defined functions in expressions",
        ));
    }
    if request
        .expression_channel_references
        .iter()
        .any(|r| r.calculated_channel_reference.is_some())
    {
        return Err(Status::unimplemented(
            "Sextant does not evaluate references to other calculated channels; refer to \
             their input channels instead",
        ));
    }
    let refs = references(request);
    if refs.is_empty() {
        return Err(Status::invalid_argument(
            "the expression binds no channels: give expression_channel_references ($1 → a \
             channel id)",
        ));
    }
    let org_id = org_id.to_owned();
    state
        .catalog(move |c| {
            let mut bound = Vec::with_capacity(refs.len());
            for (reference, id) in refs {
                bound.push((reference, c.get_channel(&org_id, &id)?));
            }
            let asset_id = bound[0].1.asset_id.clone();
            if let Some((reference, channel)) = bound.iter().find(|(_, ch)| ch.asset_id != asset_id)
            {
                return Err(sextant_catalog::Error::InvalidInput(format!(
                    "{reference} refers to channel {:?} of another asset than {}'s: a \
                     calculated channel reads channels of one asset",
                    channel.def.name, bound[0].0
                )));
            }
            let asset = c.get_asset(&org_id, &asset_id)?;
            Ok(Resolved {
                bound,
                asset_id,
                asset_name: asset.name,
            })
        })
        .await
}

/// The checker's diagnostics in one line, each with its byte offset.
pub(super) fn problems(diagnostics: &[sextant_expr::Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{} (at byte {})", d.message, d.span.start))
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe(expression: &str, diagnostics: &[sextant_expr::Diagnostic]) -> String {
    format!("expression `{expression}`: {}", problems(diagnostics))
}

/// Parses and type-checks a calculated channel's expression.
pub fn compile_calculated(expression: &str, resolved: &Resolved) -> Result<ValueProgram, String> {
    let expr = parse(expression).map_err(|d| describe(expression, &d))?;
    compile_value(&expr, &resolved.schemas()).map_err(|d| describe(expression, &d))
}

/// One run's values of a calculated channel.
#[derive(Debug)]
pub struct RunValues {
    /// The run, `None` for data sent without one.
    pub run: Option<String>,
    /// The values, in time order.
    pub points: Vec<Point>,
    /// Whether another run follows.
    pub more: bool,
}

/// The values of a calculated channel over `range`, one list per run: its inputs are the
/// series of `inputs` (the channels, in the program's order) of `asset_name`, grouped by run
/// (`run_filter` as in channel queries: `None` every run and none, `Some("")` none, else that
/// run). Groups come in run order, data without a run first; `skip` groups are passed over.
/// Returns `None` past the last group.
pub fn evaluate(
    reader: &Reader<'_>,
    program: &ValueProgram,
    inputs: &[Channel],
    asset_name: &str,
    run_filter: Option<&str>,
    range: Range<Timestamp>,
    skip: usize,
) -> sextant_query::Result<Option<RunValues>> {
    let mut groups: BTreeMap<Option<String>, Vec<Option<SeriesKey>>> = BTreeMap::new();
    for (j, channel) in inputs.iter().enumerate() {
        let matcher = SeriesMatcher {
            name: Some(channel.def.name.clone()),
            labels: vec![("asset".to_owned(), asset_name.to_owned())],
        };
        for series in reader.select(&Selector::from(&matcher)) {
            let run = series.key.label("run").map(str::to_owned);
            let wanted = match (run_filter, &run) {
                (None, _) => true,
                (Some(filter), None) => filter.is_empty(),
                (Some(filter), Some(run)) => filter == run,
            };
            if series.data_type != channel.def.data_type || series.key.labels().len() > 2 || !wanted
            {
                continue;
            }
            groups
                .entry(run)
                .or_insert_with(|| vec![None; inputs.len()])[j] = Some(series.key.clone());
        }
    }
    let count = groups.len();
    let Some((run, keys)) = groups.into_iter().nth(skip) else {
        return Ok(None);
    };
    let mut points = Vec::with_capacity(keys.len());
    for key in &keys {
        points.push(match key {
            Some(key) => reader.points(key, range.clone())?,
            None => Vec::new(),
        });
    }
    let slices: Vec<&[Point]> = points.iter().map(Vec::as_slice).collect();
    Ok(Some(RunValues {
        run,
        points: program.eval_merged(&slices),
        more: skip + 1 < count,
    }))
}

#[tonic::async_trait]
impl CalculatedChannelsService for CalculatedChannels {
    async fn list_expression_identifiers(
        &self,
        request: Request<ListExpressionIdentifiersRequest>,
    ) -> Result<Response<ListExpressionIdentifiersResponse>, Status> {
        authorize_call(&request, Action::ReadMetadata)?;
        let identifiers = sextant_expr::function_names()
            .map(|name| ExpressionIdentifier {
                name: name.to_owned(),
                description: format!("{name}(…); see Sextant's docs/expressions.md"),
                r#type: ExpressionIdentifierType::Function as i32,
                display_name: name.to_owned(),
                ..Default::default()
            })
            .collect();
        Ok(Response::new(ListExpressionIdentifiersResponse {
            identifiers,
            next_page_token: None,
        }))
    }

    async fn validate_expression(
        &self,
        request: Request<ValidateExpressionRequest>,
    ) -> Result<Response<ValidateExpressionResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let expression = req
            .expression
            .ok_or_else(|| Status::invalid_argument("ValidateExpression needs an expression"))?;
        let resolved = resolve(&self.state, &principal.organization_id, &expression).await?;
        let checked = if req.mode == ExpressionMode::Rules as i32 {
            parse(&expression.expression)
                .and_then(|expr| compile(&expr, &resolved.schemas()))
                .map(|_| sextant_model::DataType::Bool)
                .map_err(|d| describe(&expression.expression, &d))
        } else {
            compile_calculated(&expression.expression, &resolved).map(|p| p.data_type())
        };
        use validate_expression_response::Result as Outcome;
        let result = match checked {
            Ok(data_type) => Outcome::Success(SuccessValidatingExpressionResult {
                data_type: data_type_to_pb(data_type),
            }),
            Err(error_message) => Outcome::Error(ErrorValidatingExpressionResult { error_message }),
        };
        Ok(Response::new(ValidateExpressionResponse {
            result: Some(result),
        }))
    }
}
