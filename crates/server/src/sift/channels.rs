//! `sift.channels.v3.ChannelService`: channels are created by ingestion configs; here they are
//! listed and read.

use sextant_catalog::{Channel, ChannelFilter, Page};
use sift_rs::channels::v3::channel_service_server::ChannelService;
use sift_rs::channels::v3::*;
use tonic::{Request, Response, Status};

use super::convert::{bit_field_to_pb, data_type_to_pb, enum_types_to_pb, timestamp_to_pb};
use super::filter;
use super::unsupported;
use crate::auth::{Action, authorize_call};
use crate::state::AppState;

/// The service.
#[derive(Debug, Clone)]
pub struct Channels {
    pub(crate) state: AppState,
}

fn to_pb(c: Channel) -> sift_rs::channels::v3::Channel {
    sift_rs::channels::v3::Channel {
        channel_id: c.id,
        name: c.def.name,
        asset_id: c.asset_id,
        description: c.def.description,
        unit_id: c.def.unit,
        created_date: Some(timestamp_to_pb(c.created_at)),
        modified_date: Some(timestamp_to_pb(c.created_at)),
        data_type: data_type_to_pb(c.def.data_type),
        enum_types: enum_types_to_pb(&c.def.enum_types),
        bit_field_elements: bit_field_to_pb(&c.def.bit_field_elements),
        active: true,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl ChannelService for Channels {
    async fn get_channel(
        &self,
        request: Request<GetChannelRequest>,
    ) -> Result<Response<GetChannelResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let id = request.into_inner().channel_id;
        let channel = self
            .state
            .catalog(move |c| c.get_channel(&principal.organization_id, &id))
            .await?;
        Ok(Response::new(GetChannelResponse {
            channel: Some(to_pb(channel)),
        }))
    }

    async fn list_channels(
        &self,
        request: Request<ListChannelsRequest>,
    ) -> Result<Response<ListChannelsResponse>, Status> {
        let principal = authorize_call(&request, Action::ReadMetadata)?;
        let req = request.into_inner();
        let filter = filter::parse_for(&req.filter, &["asset_id", "name", "channel_id"])?;
        let filter = ChannelFilter {
            asset_ids: filter.allowed("asset_id"),
            names: filter.allowed("name"),
            ids: filter.allowed("channel_id"),
        };
        let page = Page {
            size: req.page_size,
            token: req.page_token,
        };
        let (channels, next) = self
            .state
            .catalog(move |c| c.list_channels(&principal.organization_id, &filter, page))
            .await?;
        Ok(Response::new(ListChannelsResponse {
            channels: channels.into_iter().map(to_pb).collect(),
            next_page_token: next,
        }))
    }

    async fn update_channel(
        &self,
        _request: Request<UpdateChannelRequest>,
    ) -> Result<Response<UpdateChannelResponse>, Status> {
        Err(unsupported("ChannelService/UpdateChannel"))
    }

    async fn batch_archive_channels(
        &self,
        _request: Request<BatchArchiveChannelsRequest>,
    ) -> Result<Response<BatchArchiveChannelsResponse>, Status> {
        Err(unsupported("ChannelService/BatchArchiveChannels"))
    }

    async fn batch_unarchive_channels(
        &self,
        _request: Request<BatchUnarchiveChannelsRequest>,
    ) -> Result<Response<BatchUnarchiveChannelsResponse>, Status> {
        Err(unsupported("ChannelService/BatchUnarchiveChannels"))
    }
}
