//! A subscription request checked: its selector parsed, its start decided, its window's
//! durations and aggregates read. Every refusal names the field and the value.

use sextant_api::live::{SubscribeRequest, WindowRequest};
use sextant_model::{Timestamp, parse_duration};
use sextant_query::selector::{self, Selector};

use crate::Error;
use crate::window::{WindowAgg, WindowSpec};

/// The most windows one point may fall into (`size / slide`): each costs a sum per point.
pub const MAX_WINDOWS_PER_POINT: i64 = 1_000;

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// With the writes committed from now on.
    Now,
    /// With the stored points from this instant on, then the live ones.
    Since(Timestamp),
    /// With the writes committed after this cursor.
    After(u64),
}

/// A checked subscription request.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Which series.
    pub selector: Selector,
    /// Where it starts.
    pub start: Start,
    /// Points older than this are left out (the request's `since`).
    pub since: Option<Timestamp>,
    /// Windows instead of points.
    pub window: Option<WindowSpec>,
    /// The event collection whose whole events are sent, instead of series.
    pub collection: Option<String>,
}

impl Spec {
    /// Checks `request`. A cursor, when given, wins over `since` as the starting point;
    /// `since` then still leaves out older points.
    pub fn from_request(request: &SubscribeRequest) -> Result<Spec, Error> {
        let selector = match &request.collection {
            None => selector::parse(&request.selector).map_err(|e| Error::Invalid {
                field: "selector",
                message: e.to_string(),
            })?,
            Some(name) if !request.selector.trim().is_empty() => {
                return Err(Error::Invalid {
                    field: "collection",
                    message: format!(
                        "give a selector or a collection, not both (selector {:?}, collection {name:?}); a collection's numeric columns are also series, selected by {{model=\"{name}\"}}",
                        request.selector
                    ),
                });
            }
            Some(name) if request.window.is_some() => {
                return Err(Error::Invalid {
                    field: "window",
                    message: format!(
                        "collection {name:?}: its events are sent whole, not in windows; subscribe to its series ({{model=\"{name}\"}}) for windows"
                    ),
                });
            }
            Some(_) => Selector::all(),
        };
        let start = match (request.cursor, request.since) {
            (Some(cursor), _) => Start::After(cursor),
            (None, Some(since)) => Start::Since(since),
            (None, None) => Start::Now,
        };
        let window = request.window.as_ref().map(window).transpose()?;
        Ok(Spec {
            selector,
            start,
            since: request.since,
            window,
            collection: request.collection.clone(),
        })
    }
}

fn nanos(field: &'static str, text: &str) -> Result<i64, Error> {
    let d = parse_duration(text).map_err(|message| Error::Invalid { field, message })?;
    i64::try_from(d.as_nanos()).map_err(|_| Error::Invalid {
        field,
        message: format!("duration {text:?} is too long"),
    })
}

fn window(request: &WindowRequest) -> Result<WindowSpec, Error> {
    let size = nanos("window", &request.size)?;
    if size <= 0 {
        return Err(Error::Invalid {
            field: "window",
            message: format!(
                "a window of {:?} holds nothing; give it a length",
                request.size
            ),
        });
    }
    let slide = match &request.slide {
        Some(text) => nanos("slide", text)?,
        None => size,
    };
    if slide <= 0 || slide > size {
        return Err(Error::Invalid {
            field: "slide",
            message: format!(
                "slide {:?} must be more than 0 and at most the window's {:?}",
                request.slide.as_deref().unwrap_or(""),
                request.size
            ),
        });
    }
    if size / slide > MAX_WINDOWS_PER_POINT {
        return Err(Error::Invalid {
            field: "slide",
            message: format!(
                "windows of {:?} every {:?} put each point in {} windows; at most {MAX_WINDOWS_PER_POINT} are allowed",
                request.size,
                request.slide.as_deref().unwrap_or(""),
                size / slide
            ),
        });
    }
    let mut aggs = Vec::new();
    for name in &request.aggs {
        for name in name.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let agg = WindowAgg::parse(name).ok_or_else(|| Error::Invalid {
                field: "agg",
                message: format!(
                    "unknown aggregate {name:?}; use {}",
                    WindowAgg::ALL.map(|(n, _)| n).join(", ")
                ),
            })?;
            if !aggs.contains(&agg) {
                aggs.push(agg);
            }
        }
    }
    if aggs.is_empty() {
        aggs = vec![WindowAgg::Count, WindowAgg::Mean];
    }
    let watermark = match &request.watermark {
        Some(text) => nanos("watermark", text)?,
        None => 0,
    };
    let lateness = match &request.lateness {
        Some(text) => nanos("lateness", text)?,
        None => 0,
    };
    Ok(WindowSpec {
        size,
        slide,
        aggs,
        watermark,
        lateness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(selector: &str) -> SubscribeRequest {
        SubscribeRequest {
            selector: selector.into(),
            ..SubscribeRequest::default()
        }
    }

    #[test]
    fn requests_become_specs() {
        let spec = Spec::from_request(&request(r#"cpu{host="a"}"#)).unwrap();
        assert_eq!(spec.start, Start::Now);
        assert!(spec.window.is_none());

        let mut r = request("cpu");
        r.since = Some(5);
        r.cursor = Some(9);
        r.window = Some(WindowRequest {
            size: "10s".into(),
            slide: Some("5s".into()),
            aggs: vec!["max, min".into(), "max".into()],
            watermark: Some("1s".into()),
            lateness: None,
        });
        let spec = Spec::from_request(&r).unwrap();
        assert_eq!(spec.start, Start::After(9));
        assert_eq!(spec.since, Some(5));
        let w = spec.window.unwrap();
        assert_eq!((w.size, w.slide), (10_000_000_000, 5_000_000_000));
        assert_eq!(w.aggs, vec![WindowAgg::Max, WindowAgg::Min]);
        assert_eq!((w.watermark, w.lateness), (1_000_000_000, 0));
    }

    #[test]
    fn a_collection_is_asked_for_instead_of_a_selector() {
        let mut r = request("");
        r.collection = Some("churn".into());
        r.since = Some(5);
        let spec = Spec::from_request(&r).unwrap();
        assert_eq!(spec.collection.as_deref(), Some("churn"));
        assert_eq!(spec.start, Start::Since(5));
        let mut both = request("cpu");
        both.collection = Some("churn".into());
        let err = Spec::from_request(&both).unwrap_err().to_string();
        assert!(
            err.starts_with("collection: give a selector or a collection"),
            "{err}"
        );
        assert!(err.contains(r#"{model="churn"}"#), "{err}");
        r.window = Some(WindowRequest {
            size: "1s".into(),
            ..WindowRequest::default()
        });
        let err = Spec::from_request(&r).unwrap_err().to_string();
        assert!(err.starts_with("window: collection \"churn\""), "{err}");
    }

    #[test]
    fn mistakes_name_the_field_and_value() {
        let err = Spec::from_request(&request("cpu{"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("selector:"), "{err}");
        for (size, slide, agg, field, says) in [
            ("10", None, "mean", "window", "needs a unit"),
            ("0s", None, "mean", "window", "holds nothing"),
            ("10s", Some("20s"), "mean", "slide", "at most the window's"),
            ("1h", Some("1ms"), "mean", "slide", "at most 1000"),
            ("10s", None, "median", "agg", "unknown aggregate \"median\""),
        ] {
            let mut r = request("cpu");
            r.window = Some(WindowRequest {
                size: size.into(),
                slide: slide.map(Into::into),
                aggs: vec![agg.into()],
                ..WindowRequest::default()
            });
            let err = Spec::from_request(&r).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("{field}:")) && err.contains(says),
                "{size} {slide:?} {agg}: {err}"
            );
        }
    }
}
