//! Rules, users, tags and annotations over a real socket: registration as `sift_py` does it
//! (GetRule NOT_FOUND, CreateRule, UpdateRule by client key), refusals that name the problem,
//! and live evaluation of ingested streams over enum, bit-field and double channels, including
//! out-of-order points and a phase rule.

use crate::common;

use std::time::Duration;

use common::{Authed, TOKEN, TestServer, authed, http};
use sift_rs::annotations::v1::annotation_service_client::AnnotationServiceClient;
use sift_rs::annotations::v1::{
    Annotation, BatchArchiveAnnotationsRequest, BatchDeleteAnnotationsRequest,
    DeleteAnnotationRequest, GetAnnotationRequest, ListAnnotationsRequest,
    UnarchiveAnnotationRequest, UpdateAnnotationRequest,
};
use sift_rs::common::r#type::v1::{ChannelBitFieldElement, ChannelDataType, ChannelEnumType};
use sift_rs::ingest::v1::ingest_service_client::IngestServiceClient;
use sift_rs::ingest::v1::ingest_with_config_data_channel_value::Type as V;
use sift_rs::ingest::v1::{IngestWithConfigDataChannelValue, IngestWithConfigDataStreamRequest};
use sift_rs::ingestion_configs::v2::ingestion_config_service_client::IngestionConfigServiceClient;
use sift_rs::ingestion_configs::v2::{ChannelConfig, CreateIngestionConfigRequest, FlowConfig};
use sift_rs::rules::v1::rule_action_configuration::Configuration;
use sift_rs::rules::v1::rule_condition_expression::Expression;
use sift_rs::rules::v1::rule_service_client::RuleServiceClient;
use sift_rs::rules::v1::*;
use sift_rs::tags::v2::tag_service_client::TagServiceClient;
use sift_rs::tags::v2::{CreateTagRequest, ListTagsRequest};
use sift_rs::users::v2::ListActiveUsersRequest;
use sift_rs::users::v2::user_service_client::UserServiceClient;
use tonic::Code;

/// An annotation as the live test checks it: name, type, start and end second, tags.
type Seen = (String, i32, Option<i64>, Option<i64>, Vec<String>);

const T0: i64 = 1_720_000_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

fn channel(name: &str, t: ChannelDataType) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        data_type: t as i32,
        ..Default::default()
    }
}

/// NostromoLV426 with one flow of a double, an enum and a bit field; returns (config, asset).
async fn register(server: &TestServer) -> (String, String) {
    let mut state = channel("vehicle_state", ChannelDataType::Enum);
    state.enum_types = ["Accelerating", "Decelerating", "Stopped"]
        .iter()
        .enumerate()
        .map(|(key, name)| ChannelEnumType {
            name: (*name).into(),
            key: key as u32,
            is_signed: false,
        })
        .collect();
    let mut gpio = channel("gpio", ChannelDataType::BitField);
    gpio.bit_field_elements = vec![
        ChannelBitFieldElement {
            name: "led".into(),
            index: 3,
            bit_count: 4,
        },
        ChannelBitFieldElement {
            name: "heater".into(),
            index: 7,
            bit_count: 1,
        },
    ];
    let created = IngestionConfigServiceClient::new(authed(server.channel().await, TOKEN))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: "NostromoLV426".into(),
            flows: vec![FlowConfig {
                name: "readings".into(),
                channels: vec![
                    channel("thruster.temperature", ChannelDataType::Double),
                    state,
                    gpio,
                ],
            }],
            client_key: "nostromo".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap();
    (created.ingestion_config_id, created.asset_id)
}

/// A rule as `sift_py` sends it.
fn rule(
    key: &str,
    expression: &str,
    refs: &[(&str, &str)],
    asset_id: &str,
    action: Option<AnnotationActionConfiguration>,
) -> UpdateRuleRequest {
    UpdateRuleRequest {
        rule_id: Some(String::new()),
        name: key.replace('-', "_"),
        description: format!("rule {key}"),
        client_key: Some(key.into()),
        conditions: vec![UpdateConditionRequest {
            expression: Some(RuleConditionExpression {
                expression: Some(Expression::CalculatedChannel(CalculatedChannelConfig {
                    channel_references: refs
                        .iter()
                        .map(|(r, name)| {
                            (
                                (*r).to_owned(),
                                ChannelReference {
                                    name: (*name).into(),
                                    ..Default::default()
                                },
                            )
                        })
                        .collect(),
                    expression: expression.into(),
                    ..Default::default()
                })),
            }),
            actions: action
                .into_iter()
                .map(|a| UpdateActionRequest {
                    action_type: 2,
                    configuration: Some(RuleActionConfiguration {
                        configuration: Some(Configuration::Annotation(a)),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        asset_configuration: Some(RuleAssetConfiguration {
            asset_ids: vec![asset_id.into()],
            tag_ids: vec![],
        }),
        contextual_channels: Some(ContextualChannels { channels: vec![] }),
        is_live_evaluation_enabled: Some(true),
        ..Default::default()
    }
}

fn message(
    config: &str,
    t: i64,
    temperature: f64,
    state: u32,
    gpio: u8,
) -> IngestWithConfigDataStreamRequest {
    IngestWithConfigDataStreamRequest {
        ingestion_config_id: config.into(),
        flow: "readings".into(),
        timestamp: Some(pbjson_types::Timestamp {
            seconds: t.div_euclid(SECOND),
            nanos: t.rem_euclid(SECOND) as i32,
        }),
        channel_values: [
            V::Double(temperature),
            V::Enum(state),
            V::BitField(vec![gpio]),
        ]
        .into_iter()
        .map(|v| IngestWithConfigDataChannelValue { r#type: Some(v) })
        .collect(),
        ..Default::default()
    }
}

async fn annotations(
    client: &mut AnnotationServiceClient<Authed>,
    filter: &str,
) -> Vec<Annotation> {
    client
        .list_annotations(ListAnnotationsRequest {
            page_size: 1000,
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .annotations
}

fn ns(t: &Option<pbjson_types::Timestamp>) -> Option<i64> {
    t.as_ref().map(|t| t.seconds * SECOND + i64::from(t.nanos))
}

async fn flush(server: &TestServer) {
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/native/v1/rules/flush",
        &[("authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn registration_refusals_and_archiving() {
    let server = TestServer::start().await;
    let (_, asset) = register(&server).await;
    let mut rules = RuleServiceClient::new(authed(server.channel().await, TOKEN));

    // An unknown key is NOT_FOUND, which sift_py reads as "create it".
    let missing = rules
        .get_rule(GetRuleRequest {
            client_key: "overheating".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert!(missing.message().contains("overheating"), "{missing:?}");

    // (request, code, fragment of the message)
    let temperature = [("$1", "thruster.temperature")];
    let mut two_conditions = rule("two", "$1 > 1", &temperature, &asset, None);
    two_conditions
        .conditions
        .push(two_conditions.conditions[0].clone());
    let cases = vec![
        (
            rule("syntax", "$1 >", &temperature, &asset, None),
            "expected an expression",
        ),
        (
            rule("types", "$1 == \"hot\"", &temperature, &asset, None),
            "cannot compare",
        ),
        (
            rule(
                "enum",
                "$1 == \"Stoped\"",
                &[("$1", "vehicle_state")],
                &asset,
                None,
            ),
            "did you mean `Stopped`",
        ),
        (
            rule(
                "missing",
                "$1 > 1",
                &[("$1", "thruster.pressure")],
                &asset,
                None,
            ),
            "does not have",
        ),
        (two_conditions, "exactly one condition"),
    ];
    for (request, fragment) in cases {
        let key = request.client_key.clone().unwrap();
        let err = rules
            .create_rule(CreateRuleRequest {
                update: Some(request),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{key}: {err:?}");
        assert!(err.message().contains(fragment), "{key}: {err:?}");
    }

    let created = rules
        .create_rule(CreateRuleRequest {
            update: Some(rule("overheating", "$1 > 400", &temperature, &asset, None)),
        })
        .await
        .unwrap()
        .into_inner();
    let again = rules
        .create_rule(CreateRuleRequest {
            update: Some(rule("overheating", "$1 > 400", &temperature, &asset, None)),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");

    // UpdateRule with an empty id finds the rule by its key.
    let updated = rules
        .update_rule(rule("overheating", "$1 > 450", &temperature, &asset, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.rule_id, created.rule_id);
    let got = rules
        .get_rule(GetRuleRequest {
            client_key: "overheating".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .rule
        .unwrap();
    assert_eq!(got.rule_id, created.rule_id);
    assert_eq!(got.rule_version.unwrap().version, "2");
    let Some(Expression::CalculatedChannel(expression)) =
        got.conditions[0].expression.clone().unwrap().expression
    else {
        panic!("no calculated channel");
    };
    assert_eq!(expression.expression, "$1 > 450");
    assert_eq!(
        expression.channel_references["$1"].name,
        "thruster.temperature"
    );
    assert!(got.is_live_evaluation_enabled);

    rules
        .archive_rule(ArchiveRuleRequest {
            client_key: "overheating".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let listed = rules
        .list_rules(ListRulesRequest {
            filter: format!("asset_id == '{asset}'"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.rules.is_empty());
}

#[tokio::test]
async fn users_and_tags_resolve_as_sift_py_looks_them_up() {
    let server = TestServer::start().await;
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = http(
        server.addr,
        "POST",
        "/api/native/v1/users",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        br#"{"name": "ellen.ripley@weylandcorp.com"}"#,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut users = UserServiceClient::new(authed(server.channel().await, TOKEN));
    let found = users
        .list_active_users(ListActiveUsersRequest {
            page_size: 1000,
            filter: "name=='ellen.ripley@weylandcorp.com'".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.users.len(), 1);
    assert_eq!(found.next_page_token, "");
    let none = users
        .list_active_users(ListActiveUsersRequest {
            filter: "name=='dallas'".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.users.is_empty());

    let mut tags = TagServiceClient::new(authed(server.channel().await, TOKEN));
    for name in ["warning", "thruster", "warning"] {
        tags.create_tag(CreateTagRequest { name: name.into() })
            .await
            .unwrap();
    }
    let listed = tags
        .list_tags(ListTagsRequest {
            page_size: 1000,
            filter: r#"name in ["warning","thruster","unknown"]"#.into(),
            tag_type: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["warning", "thruster"]);
}

#[tokio::test]
async fn live_rules_annotate_ingested_streams() {
    let server = TestServer::start().await;
    let (config, asset) = register(&server).await;
    let mut rules = RuleServiceClient::new(authed(server.channel().await, TOKEN));
    let mut tags = TagServiceClient::new(authed(server.channel().await, TOKEN));
    let warning = tags
        .create_tag(CreateTagRequest {
            name: "warning".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tag
        .unwrap();
    // The seed's heater rule over an enum and a bit field, as a review rule with a tag.
    rules
        .create_rule(CreateRuleRequest {
            update: Some(rule(
                "heater-stopped",
                "$1 == \"Stopped\" && $2.heater == 1",
                &[("$1", "vehicle_state"), ("$2", "gpio")],
                &asset,
                Some(AnnotationActionConfiguration {
                    tag_ids: vec![warning.tag_id],
                    annotation_type: 1,
                    ..Default::default()
                }),
            )),
        })
        .await
        .unwrap();
    // A phase rule with no action, as sift_py sends phase rules.
    let phase = rules
        .create_rule(CreateRuleRequest {
            update: Some(rule(
                "hot-phase",
                "$1 > 400",
                &[("$1", "thruster.temperature")],
                &asset,
                None,
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .rule_id;

    const STOPPED: u32 = 2;
    const HEATER: u8 = 0b1000_0000;
    // (second, temperature, state, gpio); the stream lists them out of order.
    let points = [
        (3, 450.0, STOPPED, HEATER),
        (0, 300.0, 0, 0),
        (1, 410.0, STOPPED, 0),
        (2, 420.0, STOPPED, HEATER),
        (5, 100.0, STOPPED, HEATER),
        (4, 390.0, 1, HEATER),
        (6, 100.0, STOPPED, 0),
    ];
    let stream: Vec<_> = points
        .iter()
        .map(|&(s, t, st, g)| message(&config, T0 + s * SECOND, t, st, g))
        .collect();
    IngestServiceClient::new(authed(server.channel().await, TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(stream))
        .await
        .unwrap();
    flush(&server).await;

    let mut client = AnnotationServiceClient::new(authed(server.channel().await, TOKEN));
    let mut found = annotations(&mut client, "").await;
    found.sort_by_key(|a| (a.name.clone(), ns(&a.start_time)));
    let got: Vec<Seen> = found
        .iter()
        .map(|a| {
            (
                a.name.clone(),
                a.annotation_type,
                ns(&a.start_time).map(|t| (t - T0) / SECOND),
                ns(&a.end_time).map(|t| (t - T0) / SECOND),
                a.tags.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            // Stopped with the heater on at 2 and 3; at 4 the state changes, at 5 both hold
            // again until 6 when the heater goes off.
            (
                "heater_stopped".into(),
                1,
                Some(2),
                Some(4),
                vec!["warning".into()]
            ),
            (
                "heater_stopped".into(),
                1,
                Some(5),
                Some(6),
                vec!["warning".into()]
            ),
            ("hot_phase".into(), 2, Some(1), Some(4), vec![]),
        ]
    );

    // Late data (before what was evaluated) is stored but does not reopen anything; new data
    // after it is evaluated.
    let late = vec![
        message(&config, T0 + SECOND / 2, 999.0, STOPPED, HEATER),
        message(&config, T0 + 7 * SECOND, 999.0, 0, 0),
    ];
    IngestServiceClient::new(authed(server.channel().await, TOKEN))
        .ingest_with_config_data_stream(tokio_stream::iter(late))
        .await
        .unwrap();
    flush(&server).await;
    let phases = annotations(&mut client, &format!("rule_id == '{phase}'")).await;
    let got: Vec<(Option<i64>, Option<i64>)> = phases
        .iter()
        .map(|a| (ns(&a.start_time), ns(&a.end_time)))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(T0 + SECOND), Some(T0 + 4 * SECOND)),
            (Some(T0 + 7 * SECOND), None)
        ]
    );

    let (_, metrics) = http(server.addr, "GET", "/metrics", &[], b"").await;
    for expected in [
        "sextant_rule_annotations_opened_total 4\n",
        "sextant_rule_annotations_closed_total 3\n",
        "sextant_rule_failures_total 0\n",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected:?} in\n{metrics}"
        );
    }

    // Review: resolve one, and refuse a field the mask cannot change.
    let mut first = found[0].clone();
    first.state = Some(3);
    let resolved = client
        .update_annotation(UpdateAnnotationRequest {
            annotation: Some(first.clone()),
            update_mask: Some(pbjson_types::FieldMask {
                paths: vec!["state".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .annotation
        .unwrap();
    assert_eq!(resolved.state, Some(3));
    let open = annotations(&mut client, "state == 'open' && tag_name == 'warning'").await;
    assert_eq!(open.len(), 1);
    let refused = client
        .update_annotation(UpdateAnnotationRequest {
            annotation: Some(first),
            update_mask: Some(pbjson_types::FieldMask {
                paths: vec!["start_time".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("start_time"), "{refused:?}");

    // Archive both warnings: lists leave them out unless asked for archived ones.
    let warnings: Vec<String> = found
        .iter()
        .filter(|a| a.tags == ["warning"])
        .map(|a| a.annotation_id.clone())
        .collect();
    let archived = client
        .batch_archive_annotations(BatchArchiveAnnotationsRequest {
            annotation_ids: warnings.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .annotations;
    assert!(
        archived
            .iter()
            .all(|a| a.is_archived && a.archived_date.is_some())
    );
    assert!(
        annotations(&mut client, "tag_name == 'warning'")
            .await
            .is_empty()
    );
    assert_eq!(
        annotations(&mut client, "tag_name == 'warning' && is_archived == true")
            .await
            .len(),
        2
    );
    let back = client
        .unarchive_annotation(UnarchiveAnnotationRequest {
            annotation_id: warnings[0].clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .annotation
        .unwrap();
    assert!(!back.is_archived && back.archived_date.is_none());
    assert_eq!(
        annotations(&mut client, "tag_name == 'warning'")
            .await
            .len(),
        1
    );

    // Deleting: the phase annotation the live rule still holds open is refused, naming the
    // rule; a closed one goes; a batch naming an unknown id deletes nothing.
    let held = client
        .delete_annotation(DeleteAnnotationRequest {
            annotation_id: phases[1].annotation_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(held.code(), Code::InvalidArgument);
    assert!(
        held.message().contains("held open by live rule"),
        "{held:?}"
    );
    let refused = client
        .batch_delete_annotations(BatchDeleteAnnotationsRequest {
            annotation_ids: vec![warnings[1].clone(), "no-such-annotation".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert_eq!(
        annotations(&mut client, "is_archived == true").await.len(),
        1,
        "nothing of the refused batch is deleted"
    );
    client
        .delete_annotation(DeleteAnnotationRequest {
            annotation_id: phases[0].annotation_id.clone(),
        })
        .await
        .unwrap();
    let gone = client
        .get_annotation(GetAnnotationRequest {
            annotation_id: phases[0].annotation_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    tokio::time::sleep(Duration::from_millis(1)).await;
    server.stop().await;
}

/// Registers a config for `asset` with one double channel, `thruster.temperature`, and a live
/// phase rule `hot_<asset>` over it; returns the rule's id.
async fn hot_rule(server: &TestServer, asset: &str) -> String {
    let created = IngestionConfigServiceClient::new(authed(server.channel().await, TOKEN))
        .create_ingestion_config(CreateIngestionConfigRequest {
            asset_name: asset.into(),
            flows: vec![FlowConfig {
                name: "thermal".into(),
                channels: vec![channel("thruster.temperature", ChannelDataType::Double)],
            }],
            client_key: format!("{asset}-thermal"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .ingestion_config
        .unwrap();
    RuleServiceClient::new(authed(server.channel().await, TOKEN))
        .create_rule(CreateRuleRequest {
            update: Some(rule(
                &format!("hot-{asset}"),
                "$1 > 400",
                &[("$1", "thruster.temperature")],
                &created.asset_id,
                None,
            )),
        })
        .await
        .unwrap()
        .into_inner()
        .rule_id
}

/// The (start, end) seconds after T0 of the annotations of rule `rule_id`.
async fn ranges_of(server: &TestServer, rule_id: &str) -> Vec<(Option<i64>, Option<i64>)> {
    let mut client = AnnotationServiceClient::new(authed(server.channel().await, TOKEN));
    let mut found = annotations(&mut client, &format!("rule_id == '{rule_id}'")).await;
    found.sort_by_key(|a| ns(&a.start_time));
    found
        .iter()
        .map(|a| {
            (
                ns(&a.start_time).map(|t| (t - T0) / SECOND),
                ns(&a.end_time).map(|t| (t - T0) / SECOND),
            )
        })
        .collect()
}

/// Temperatures at seconds 0 to 6: above 400 from 1 to 3.
const TEMPERATURES: [f64; 7] = [300.5, 410.5, 420.5, 450.5, 390.5, 100.5, 100.5];

#[tokio::test]
async fn live_rules_annotate_line_protocol_and_kairosdb_writes() {
    let server = TestServer::start().await;
    let by_lines = hot_rule(&server, "NostromoLV426").await;
    let by_kairos = hot_rule(&server, "Sulaco").await;

    // Line protocol: the tag `asset` names the asset, as Sift's ingestion does; the
    // measurement and field make the channel name.
    let lines: String = TEMPERATURES
        .iter()
        .enumerate()
        .map(|(s, t)| {
            format!(
                "thruster,asset=NostromoLV426 temperature={t} {}\n",
                T0 + s as i64 * SECOND
            )
        })
        .collect();
    let token = format!("Token {TOKEN}");
    let (status, body) = http(
        server.addr,
        "POST",
        "/write?precision=ns",
        &[("authorization", &token)],
        lines.as_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{body}");

    // KairosDB: the tag `asset` again, the metric is the channel, timestamps in milliseconds.
    let datapoints: Vec<serde_json::Value> = TEMPERATURES
        .iter()
        .enumerate()
        .map(|(s, t)| serde_json::json!([(T0 + s as i64 * SECOND) / 1_000_000, t]))
        .collect();
    let body = serde_json::json!([{
        "name": "thruster.temperature",
        "tags": {"asset": "Sulaco"},
        "datapoints": datapoints,
    }]);
    let bearer = format!("Bearer {TOKEN}");
    let (status, reply) = http(
        server.addr,
        "POST",
        "/api/v1/datapoints",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 204, "{reply}");

    flush(&server).await;
    assert_eq!(
        ranges_of(&server, &by_lines).await,
        vec![(Some(1), Some(4))]
    );
    assert_eq!(
        ranges_of(&server, &by_kairos).await,
        vec![(Some(1), Some(4))]
    );
}
