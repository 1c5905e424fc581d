//! The SDK registers a telemetry config's rules, as `sift_py` does, against the real
//! `sextant serve`: a live rule built in code opens and closes annotations on the data the
//! same service sends; registering again updates the rule; a config the SDK would refuse
//! from YAML is refused in code too, before anything is sent.

use crate::common;

use std::time::{Duration, Instant};

use common::{Server, TOKEN};
use sextant_client::ingest::{Flow, IngestionService};
use sextant_client::native::NativeClient;
use sextant_client::native::api::{Annotation, AnnotationQuery, AnnotationState, AnnotationType};
use sextant_client::{Error, Result};
use sextant_model::{DataType, ErrorKind, Value};
use sextant_telemetry::{ChannelConfig, FlowConfig, RuleConfig, TelemetryConfig};
use sift_rs::assets::v1::ListAssetsRequest;
use sift_rs::assets::v1::asset_service_client::AssetServiceClient;

const RIPLEY: &str = "ellen.ripley@weylandcorp.com";
/// 2024-07-04T18:00:00.25Z.
const T0: i64 = 1_720_116_000_250_000_000;
const SECOND: i64 = 1_000_000_000;
/// One reading per second from T0; the rule holds where they exceed 400.
const TEMPERATURES: [f64; 10] = [
    300.0, 350.0, 401.0, 450.0, 420.0, 399.0, 380.0, 410.0, 300.0, 200.0,
];

fn temperature() -> ChannelConfig {
    ChannelConfig::new("temperature", DataType::Double)
        .component("thruster")
        .unit("Kelvin")
}

fn config(asset: &str, overheating: RuleConfig) -> TelemetryConfig {
    TelemetryConfig::new(asset, format!("{asset}-key"))
        .flow(FlowConfig::new("temperature_reading", [temperature()]))
        .rule(overheating)
}

fn overheating() -> RuleConfig {
    overheating_above("400")
}

fn overheating_above(limit: &str) -> RuleConfig {
    RuleConfig::review("overheating", "$1 > $limit")
        .client_key("overheating-nostromo")
        .description("Notify Ripley if the thrusters get too hot")
        .channel_reference("$1", &temperature())
        .sub_expression("$limit", limit)
        .assignee(RIPLEY)
        .tags(["warning", "thruster"])
        .live(true)
}

async fn wait_for_closed(client: &NativeClient, rule_id: &str, count: usize) -> Vec<Annotation> {
    let query = AnnotationQuery {
        rule_id: Some(rule_id.to_owned()),
        ..AnnotationQuery::default()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = client.all_annotations(&query).await.unwrap();
        if found.len() == count && found.iter().all(|a| a.end_time.is_some()) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} closed annotations; have {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_rule_of_the_config_is_registered_and_annotates_live_data() -> Result<()> {
    let server = Server::start();
    let native = NativeClient::new(&server.url, TOKEN)?;
    let ripley = native.create_user(RIPLEY).await?;
    let channel = server.channel().await;

    let service =
        IngestionService::new(channel.clone(), &config("Nostromo", overheating())).await?;
    let [rule] = service.rules() else {
        panic!("one rule expected, got {:?}", service.rules());
    };
    assert_eq!(
        (rule.name.as_str(), rule.client_key.as_str()),
        ("overheating", "overheating-nostromo")
    );
    let rule_id = rule.rule_id.clone();

    // The server holds the expression with its sub-expression in place, live, on the asset.
    let listed = native.list_rules(&Default::default()).await?;
    let [stored] = listed.as_slice() else {
        panic!("one rule expected on the server, got {listed:?}");
    };
    assert_eq!(stored.rule_id, rule_id);
    assert_eq!(stored.expression, "$1 > 400");
    assert!(stored.live, "{stored:?}");
    assert_eq!(stored.asset_ids, [service.asset_id()]);
    assert_eq!(
        stored.assignee_user_id.as_deref(),
        Some(ripley.user_id.as_str())
    );
    assert_eq!(
        stored.channel_references.get("$1").map(String::as_str),
        Some("thruster.temperature")
    );

    // Half the readings one by one, the rest in one stream.
    let reading = |i: usize| {
        Flow::new("temperature_reading", T0 + i as i64 * SECOND)
            .value("thruster.temperature", Value::Double(TEMPERATURES[i]))
    };
    for i in 0..5 {
        service.try_ingest_flows(&[reading(i)]).await?;
    }
    let rest: Vec<Flow> = (5..TEMPERATURES.len()).map(reading).collect();
    service.try_ingest_flows(&rest).await?;

    let found = wait_for_closed(&native, &rule_id, 2).await;
    let ranges: Vec<(i64, Option<i64>)> =
        found.iter().map(|a| (a.start_time, a.end_time)).collect();
    assert_eq!(
        ranges,
        [
            (T0 + 2 * SECOND, Some(T0 + 5 * SECOND)),
            (T0 + 7 * SECOND, Some(T0 + 8 * SECOND))
        ]
    );
    for annotation in &found {
        assert_eq!(annotation.name, "overheating");
        assert_eq!(annotation.annotation_type, AnnotationType::Review);
        assert_eq!(annotation.state, AnnotationState::Open);
        assert_eq!(
            annotation.assignee_user_id.as_deref(),
            Some(ripley.user_id.as_str())
        );
        assert_eq!(annotation.tags, ["warning", "thruster"]);
    }

    // Registering the config again updates the rule by its client key instead of adding one.
    let tighter = config("Nostromo", overheating_above("420"));
    let again = IngestionService::new(channel, &tighter).await?;
    assert_eq!(again.rules()[0].rule_id, rule_id);
    let listed = native.list_rules(&Default::default()).await?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].expression, "$1 > 420");
    Ok(())
}

#[tokio::test]
async fn configs_with_problems_are_refused_before_anything_is_sent() -> Result<()> {
    let server = Server::start();
    let channel = server.channel().await;
    let assets = |name: &str| {
        let mut client = AssetServiceClient::new(channel.clone());
        let filter = format!("name==\"{name}\"");
        async move {
            client
                .list_assets(ListAssetsRequest {
                    page_size: 10,
                    filter,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .assets
                .len()
        }
    };

    // A rule without a client key, as YAML refuses it, and an expression over an unbound
    // reference: both named, with where they are.
    let mut keyless = overheating();
    keyless.rule_client_key = None;
    let bad = config("Keyless", keyless).rule(
        RuleConfig::review("cold", "$2 < 10")
            .client_key("cold")
            .channel_reference("$1", &temperature()),
    );
    let err = IngestionService::new(channel.clone(), &bad)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let text = err.to_string();
    assert!(text.contains("rules[0].rule_client_key"), "{text}");
    assert!(text.contains("rules[1].expression"), "{text}");
    assert!(text.contains("$2 is not bound"), "{text}");
    assert_eq!(assets("Keyless").await, 0, "nothing may be registered");

    // An assignee who is not a user, and not an email address the server would create on
    // first reference: the error names the rule and the user, and nothing is registered
    // either.
    let err = IngestionService::new(
        channel.clone(),
        &config("Unassigned", overheating().assignee("Ripley")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("rule `overheating`"), "{text}");
    assert!(text.contains("`Ripley`"), "{text}");
    assert!(text.contains("sextant users create"), "{text}");
    assert_eq!(assets("Unassigned").await, 0, "nothing may be registered");

    // An email address is created when the rule names it.
    IngestionService::new(channel.clone(), &config("Assigned", overheating())).await?;
    let users = NativeClient::new(&server.url, TOKEN)?.list_users().await?;
    assert!(users.iter().any(|u| u.name == RIPLEY), "{users:?}");
    Ok(())
}
