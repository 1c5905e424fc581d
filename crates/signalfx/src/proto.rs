//! The protobuf messages of SignalFx ingest (proto2, package `com.signalfx.metrics.protobuf`),
//! written out with `prost`'s derive rather than generated, so the crate needs no `protoc`.
//! Optional fields are `Option`s: proto2 keeps presence, and an absent timestamp (server
//! time) differs from zero.

#![allow(missing_docs)]

/// One value: exactly one of the three is expected.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Datum {
    #[prost(string, optional, tag = "1")]
    pub str_value: Option<String>,
    #[prost(double, optional, tag = "2")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "3")]
    pub int_value: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DataPoint {
    #[prost(string, optional, tag = "1")]
    pub source: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub metric: Option<String>,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, optional, tag = "3")]
    pub timestamp: Option<i64>,
    #[prost(message, optional, tag = "4")]
    pub value: Option<Datum>,
    #[prost(enumeration = "MetricType", optional, tag = "5")]
    pub metric_type: Option<i32>,
    #[prost(message, repeated, tag = "6")]
    pub dimensions: Vec<Dimension>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DataPointUploadMessage {
    #[prost(message, repeated, tag = "1")]
    pub datapoints: Vec<DataPoint>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Gauge = 0,
    Counter = 1,
    Enum = 2,
    CumulativeCounter = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum EventCategory {
    UserDefined = 1000000,
    Alert = 100000,
    Audit = 200000,
    Job = 300000,
    Collectd = 400000,
    ServiceDiscovery = 500000,
    Exception = 700000,
    Agent = 2000000,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PropertyValue {
    #[prost(string, optional, tag = "1")]
    pub str_value: Option<String>,
    #[prost(double, optional, tag = "2")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "3")]
    pub int_value: Option<i64>,
    #[prost(bool, optional, tag = "4")]
    pub bool_value: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Property {
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    #[prost(message, optional, tag = "2")]
    pub value: Option<PropertyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Required in the schema; an empty or absent one is refused by the decoder.
    #[prost(string, optional, tag = "1")]
    pub event_type: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub dimensions: Vec<Dimension>,
    #[prost(message, repeated, tag = "3")]
    pub properties: Vec<Property>,
    #[prost(enumeration = "EventCategory", optional, tag = "4")]
    pub category: Option<i32>,
    #[prost(int64, optional, tag = "5")]
    pub timestamp: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EventUploadMessage {
    #[prost(message, repeated, tag = "1")]
    pub events: Vec<Event>,
}
