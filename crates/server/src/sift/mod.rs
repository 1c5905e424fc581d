//! Sift's gRPC API, as the published `sift-stack-py` client uses it
//! (see `docs/protocols/sift.md` for what is covered).

mod annotation_logs;
pub mod annotations;
mod assets;
mod calculated_channels;
mod channels;
pub mod convert;
pub mod data;
pub mod data_imports;
pub mod filter;
pub mod ingest;
mod ingestion_configs;
mod people;
mod ping;
pub mod remote_files;
mod reports;
mod rule_evaluation;
pub mod rules;
mod runs;
mod stored_calculated_channels;

use sift_rs::annotation_logs::v1::annotation_log_service_server::AnnotationLogServiceServer;
use sift_rs::annotations::v1::annotation_service_server::AnnotationServiceServer;
use sift_rs::assets::v1::asset_service_server::AssetServiceServer;
use sift_rs::calculated_channels::v1::calculated_channels_service_server::CalculatedChannelsServiceServer;
use sift_rs::calculated_channels::v2::calculated_channel_service_server::CalculatedChannelServiceServer;
use sift_rs::channels::v3::channel_service_server::ChannelServiceServer;
use sift_rs::data::v2::data_service_server::DataServiceServer;
use sift_rs::ingest::v1::ingest_service_server::IngestServiceServer;
use sift_rs::ingestion_configs::v2::ingestion_config_service_server::IngestionConfigServiceServer;
use sift_rs::ping::v1::ping_service_server::PingServiceServer;
use sift_rs::remote_files::v1::remote_file_service_server::RemoteFileServiceServer;
use sift_rs::report_templates::v1::report_template_service_server::ReportTemplateServiceServer;
use sift_rs::reports::v1::report_service_server::ReportServiceServer;
use sift_rs::rule_evaluation::v1::rule_evaluation_service_server::RuleEvaluationServiceServer;
use sift_rs::rules::v1::rule_service_server::RuleServiceServer;
use sift_rs::runs::v2::run_service_server::RunServiceServer;
use sift_rs::tags::v2::tag_service_server::TagServiceServer;
use sift_rs::users::v2::user_service_server::UserServiceServer;
use tonic::Status;

use crate::state::AppState;

/// The Sift gRPC services, ready to be merged into the server's router.
pub fn routes(state: &AppState) -> tonic::service::Routes {
    tonic::service::Routes::new(PingServiceServer::new(ping::Ping))
        .add_service(IngestionConfigServiceServer::new(
            ingestion_configs::IngestionConfigs {
                state: state.clone(),
            },
        ))
        .add_service(AssetServiceServer::new(assets::Assets {
            state: state.clone(),
        }))
        .add_service(ChannelServiceServer::new(channels::Channels {
            state: state.clone(),
        }))
        .add_service(RunServiceServer::new(runs::Runs {
            state: state.clone(),
        }))
        .add_service(RuleServiceServer::new(rules::Rules {
            state: state.clone(),
        }))
        .add_service(AnnotationServiceServer::new(annotations::Annotations {
            state: state.clone(),
        }))
        .add_service(AnnotationLogServiceServer::new(
            annotation_logs::AnnotationLogs {
                state: state.clone(),
            },
        ))
        .add_service(CalculatedChannelsServiceServer::new(
            calculated_channels::CalculatedChannels {
                state: state.clone(),
            },
        ))
        .add_service(CalculatedChannelServiceServer::new(
            stored_calculated_channels::StoredCalculatedChannels {
                state: state.clone(),
            },
        ))
        .add_service(RuleEvaluationServiceServer::new(
            rule_evaluation::RuleEvaluation {
                state: state.clone(),
            },
        ))
        .add_service(ReportServiceServer::new(reports::Reports {
            state: state.clone(),
        }))
        .add_service(ReportTemplateServiceServer::new(reports::ReportTemplates {
            state: state.clone(),
        }))
        .add_service(RemoteFileServiceServer::new(remote_files::RemoteFiles {
            state: state.clone(),
        }))
        .add_service(UserServiceServer::new(people::Users {
            state: state.clone(),
        }))
        .add_service(TagServiceServer::new(people::Tags {
            state: state.clone(),
        }))
        .add_service(
            IngestServiceServer::new(ingest::Ingest::new(state.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            DataServiceServer::new(data::Data {
                state: state.clone(),
            })
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
}

/// The largest message a client may send, as gRPC's usual default.
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// The status of a method Sextant does not implement.
pub(crate) fn unsupported(method: &str) -> Status {
    Status::unimplemented(format!("Sextant does not implement {method}"))
}
