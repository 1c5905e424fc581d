//! Arrow values as text, one cell at a time: what CSV files, tables and the CLI print.
//!
//! Numbers print as Rust writes them (floats through `ryu`, shortest round-trip form: `1.0`,
//! `0.1`, `1e20`, `NaN`, `inf`); bytes as lowercase hex; times in UTC with a `chrono` format
//! string (Arrow timestamps count from the epoch in UTC whatever their time zone says, so no
//! time-zone database is needed); lists as `[a, b]`; dictionaries as their values. A type
//! without a text form here (intervals, maps, unions) is refused when the formatter is built,
//! naming the type.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType, OffsetSizeTrait, PrimitiveArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// How cells are written.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions<'f> {
    /// What a missing value prints as, at the top level and inside lists.
    pub null: &'f str,
    /// The `chrono` format of timestamps, in UTC.
    pub time_format: &'f str,
}

impl Default for TextOptions<'_> {
    /// Missing values print as nothing; times as RFC 3339 in UTC with nine fractional digits.
    fn default() -> Self {
        TextOptions {
            null: "",
            time_format: "%Y-%m-%dT%H:%M:%S%.9fZ",
        }
    }
}

/// Why a value could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TextError(String);

impl TextError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        TextError(message.into())
    }
}

type WriteCell<'a> = Box<dyn Fn(usize, &mut String) -> Result<(), TextError> + 'a>;

/// Writes the cells of one column.
pub struct CellFormatter<'a> {
    array: &'a dyn Array,
    null: &'a str,
    write: WriteCell<'a>,
}

impl std::fmt::Debug for CellFormatter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CellFormatter")
            .field("data_type", self.array.data_type())
            .field("null", &self.null)
            .finish_non_exhaustive()
    }
}

impl<'a> CellFormatter<'a> {
    /// A formatter of `array`'s cells; fails naming the type when it has no text form.
    pub fn new(array: &'a dyn Array, options: TextOptions<'a>) -> Result<Self, TextError> {
        Ok(CellFormatter {
            array,
            null: options.null,
            write: writer(array, options)?,
        })
    }

    /// Appends row `row`'s text (the null text when it is missing) to `out`.
    pub fn write(&self, row: usize, out: &mut String) -> Result<(), TextError> {
        if self.array.is_null(row) {
            out.push_str(self.null);
            Ok(())
        } else {
            (self.write)(row, out)
        }
    }

    /// Row `row` as text, `None` when it is missing.
    pub fn value(&self, row: usize) -> Result<Option<String>, TextError> {
        if self.array.is_null(row) {
            return Ok(None);
        }
        let mut out = String::new();
        (self.write)(row, &mut out)?;
        Ok(Some(out))
    }
}

/// Nanoseconds since the Unix epoch as text in UTC, in `chrono`'s `format`.
pub fn format_nanos(ns: i64, format: &str) -> String {
    DateTime::<Utc>::from_timestamp_nanos(ns)
        .format(format)
        .to_string()
}

/// Appends `bytes` as lowercase hex.
pub fn push_hex(bytes: &[u8], out: &mut String) {
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
}

fn writer<'a>(array: &'a dyn Array, options: TextOptions<'a>) -> Result<WriteCell<'a>, TextError> {
    Ok(match array.data_type() {
        DataType::Null => Box::new(move |_, out| {
            out.push_str(options.null);
            Ok(())
        }),
        DataType::Boolean => {
            let array = array.as_boolean();
            Box::new(move |row, out| {
                out.push_str(if array.value(row) { "true" } else { "false" });
                Ok(())
            })
        }
        DataType::Int8 => display::<Int8Type>(array),
        DataType::Int16 => display::<Int16Type>(array),
        DataType::Int32 => display::<Int32Type>(array),
        DataType::Int64 => display::<Int64Type>(array),
        DataType::UInt8 => display::<UInt8Type>(array),
        DataType::UInt16 => display::<UInt16Type>(array),
        DataType::UInt32 => display::<UInt32Type>(array),
        DataType::UInt64 => display::<UInt64Type>(array),
        DataType::Float16 => display::<Float16Type>(array),
        DataType::Float32 => float::<Float32Type>(array),
        DataType::Float64 => float::<Float64Type>(array),
        DataType::Decimal128(_, _) => {
            let array = array.as_primitive::<Decimal128Type>();
            Box::new(move |row, out| {
                out.push_str(&array.value_as_string(row));
                Ok(())
            })
        }
        DataType::Decimal256(_, _) => {
            let array = array.as_primitive::<Decimal256Type>();
            Box::new(move |row, out| {
                out.push_str(&array.value_as_string(row));
                Ok(())
            })
        }
        DataType::Utf8 => text(array.as_string::<i32>()),
        DataType::LargeUtf8 => text(array.as_string::<i64>()),
        DataType::Utf8View => {
            let array = array.as_string_view();
            Box::new(move |row, out| {
                out.push_str(array.value(row));
                Ok(())
            })
        }
        DataType::Binary => bytes(array.as_binary::<i32>()),
        DataType::LargeBinary => bytes(array.as_binary::<i64>()),
        DataType::BinaryView => {
            let array = array.as_binary_view();
            Box::new(move |row, out| {
                push_hex(array.value(row), out);
                Ok(())
            })
        }
        DataType::FixedSizeBinary(_) => {
            let array = array.as_fixed_size_binary();
            Box::new(move |row, out| {
                push_hex(array.value(row), out);
                Ok(())
            })
        }
        DataType::Timestamp(unit, _) => {
            let (array, per_second) = match unit {
                TimeUnit::Second => (raw::<TimestampSecondType>(array), 1),
                TimeUnit::Millisecond => (raw::<TimestampMillisecondType>(array), 1_000),
                TimeUnit::Microsecond => (raw::<TimestampMicrosecondType>(array), 1_000_000),
                TimeUnit::Nanosecond => (raw::<TimestampNanosecondType>(array), 1_000_000_000),
            };
            Box::new(move |row, out| {
                let value = array(row);
                let time = instant(value, per_second).ok_or_else(|| {
                    TextError(format!(
                        "timestamp {value} ({unit:?}) is outside the years a date can show"
                    ))
                })?;
                let _ = write!(out, "{}", time.format(options.time_format));
                Ok(())
            })
        }
        DataType::Date32 => {
            let array = array.as_primitive::<Date32Type>();
            Box::new(move |row, out| {
                let days = array.value(row);
                let date = NaiveDate::from_epoch_days(days)
                    .ok_or_else(|| TextError(format!("date {days} (days) is out of range")))?;
                let _ = write!(out, "{date}");
                Ok(())
            })
        }
        DataType::Date64 => {
            let array = array.as_primitive::<Date64Type>();
            Box::new(move |row, out| {
                let ms = array.value(row);
                let date = DateTime::from_timestamp_millis(ms)
                    .ok_or_else(|| TextError(format!("date {ms} (ms) is out of range")))?;
                let _ = write!(out, "{}", date.date_naive());
                Ok(())
            })
        }
        DataType::Time32(unit) | DataType::Time64(unit) => {
            let (array, per_second): (Box<dyn Fn(usize) -> i64 + 'a>, i64) = match unit {
                TimeUnit::Second => (raw32::<Time32SecondType>(array), 1),
                TimeUnit::Millisecond => (raw32::<Time32MillisecondType>(array), 1_000),
                TimeUnit::Microsecond => (raw::<Time64MicrosecondType>(array), 1_000_000),
                TimeUnit::Nanosecond => (raw::<Time64NanosecondType>(array), 1_000_000_000),
            };
            Box::new(move |row, out| {
                let value = array(row);
                let time = u32::try_from(value.div_euclid(per_second))
                    .ok()
                    .and_then(|seconds| {
                        let nanos = value.rem_euclid(per_second) * (1_000_000_000 / per_second);
                        NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos as u32)
                    })
                    .ok_or_else(|| {
                        TextError(format!("time of day {value} ({unit:?}) is out of range"))
                    })?;
                let _ = write!(out, "{time}");
                Ok(())
            })
        }
        DataType::Dictionary(_, _) => {
            let array = array.as_any_dictionary();
            let keys = array.normalized_keys();
            let values = array.values().as_ref();
            let inner = writer(values, options)?;
            Box::new(move |row, out| {
                let key = keys[row];
                if values.is_null(key) {
                    out.push_str(options.null);
                    Ok(())
                } else {
                    inner(key, out)
                }
            })
        }
        DataType::List(_) => list(array.as_list::<i32>(), options)?,
        DataType::LargeList(_) => list(array.as_list::<i64>(), options)?,
        DataType::FixedSizeList(_, size) => {
            let size = *size as usize;
            let array = array.as_fixed_size_list();
            let values = array.values().as_ref();
            let inner = writer(values, options)?;
            Box::new(move |row, out| {
                let start = array.value_offset_at(row);
                elements(values, start..start + size, &inner, options.null, out)
            })
        }
        DataType::Struct(fields) => {
            let array = array.as_struct();
            let columns = array
                .columns()
                .iter()
                .map(|column| writer(column.as_ref(), options))
                .collect::<Result<Vec<_>, _>>()?;
            Box::new(move |row, out| {
                out.push('{');
                for (i, (field, column)) in fields.iter().zip(&columns).enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(field.name());
                    out.push_str(": ");
                    if array.column(i).is_null(row) {
                        out.push_str(options.null);
                    } else {
                        column(row, out)?;
                    }
                }
                out.push('}');
                Ok(())
            })
        }
        other => {
            return Err(TextError(format!(
                "values of type {other} have no text form here"
            )));
        }
    })
}

/// The instant `value` units after the epoch, `per_second` units to a second.
fn instant(value: i64, per_second: i64) -> Option<DateTime<Utc>> {
    let seconds = value.div_euclid(per_second);
    let nanos = value.rem_euclid(per_second) * (1_000_000_000 / per_second);
    DateTime::from_timestamp(seconds, nanos as u32)
}

fn display<'a, T>(array: &'a dyn Array) -> WriteCell<'a>
where
    T: ArrowPrimitiveType,
    T::Native: std::fmt::Display,
{
    let array: &PrimitiveArray<T> = array.as_primitive::<T>();
    Box::new(move |row, out| {
        let _ = write!(out, "{}", array.value(row));
        Ok(())
    })
}

/// Floats in their shortest round-trip form, through `ryu`.
fn float<'a, T>(array: &'a dyn Array) -> WriteCell<'a>
where
    T: ArrowPrimitiveType,
    T::Native: ryu::Float,
{
    let array = array.as_primitive::<T>();
    Box::new(move |row, out| {
        out.push_str(ryu::Buffer::new().format(array.value(row)));
        Ok(())
    })
}

fn raw<'a, T: ArrowPrimitiveType<Native = i64>>(
    array: &'a dyn Array,
) -> Box<dyn Fn(usize) -> i64 + 'a> {
    let array = array.as_primitive::<T>();
    Box::new(move |row| array.value(row))
}

fn raw32<'a, T: ArrowPrimitiveType<Native = i32>>(
    array: &'a dyn Array,
) -> Box<dyn Fn(usize) -> i64 + 'a> {
    let array = array.as_primitive::<T>();
    Box::new(move |row| i64::from(array.value(row)))
}

fn text<O: OffsetSizeTrait>(array: &arrow_array::GenericStringArray<O>) -> WriteCell<'_> {
    Box::new(move |row, out| {
        out.push_str(array.value(row));
        Ok(())
    })
}

fn bytes<O: OffsetSizeTrait>(array: &arrow_array::GenericBinaryArray<O>) -> WriteCell<'_> {
    Box::new(move |row, out| {
        push_hex(array.value(row), out);
        Ok(())
    })
}

fn list<'a, O: OffsetSizeTrait>(
    array: &'a arrow_array::GenericListArray<O>,
    options: TextOptions<'a>,
) -> Result<WriteCell<'a>, TextError> {
    let values = array.values().as_ref();
    let inner = writer(values, options)?;
    Ok(Box::new(move |row, out| {
        let offsets = array.value_offsets();
        let range = offsets[row].as_usize()..offsets[row + 1].as_usize();
        elements(values, range, &inner, options.null, out)
    }))
}

/// `[a, b]`: the elements of `values` in `range`.
fn elements(
    values: &dyn Array,
    range: std::ops::Range<usize>,
    inner: &WriteCell<'_>,
    null: &str,
    out: &mut String,
) -> Result<(), TextError> {
    out.push('[');
    for (n, i) in range.enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        if values.is_null(i) {
            out.push_str(null);
        } else {
            inner(i, out)?;
        }
    }
    out.push(']');
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float64Array, Int64Array,
        TimestampMillisecondArray, TimestampNanosecondArray, UInt64Array,
    };

    use super::*;

    fn cells(array: &dyn Array, options: TextOptions<'_>) -> Vec<String> {
        let formatter = CellFormatter::new(array, options).unwrap();
        (0..array.len())
            .map(|row| {
                let mut out = String::new();
                formatter.write(row, &mut out).unwrap();
                out
            })
            .collect()
    }

    #[test]
    fn numbers_print_in_their_shortest_round_trip_form() {
        let floats = Float64Array::from(vec![
            Some(1.0),
            Some(0.1),
            Some(1e20),
            Some(-2.5e-7),
            Some(f64::NAN),
            Some(f64::NEG_INFINITY),
            None,
        ]);
        assert_eq!(
            cells(&floats, TextOptions::default()),
            ["1.0", "0.1", "1e20", "-2.5e-7", "NaN", "-inf", ""]
        );
        let ints = Int64Array::from(vec![i64::MIN, 0, 42]);
        assert_eq!(
            cells(&ints, TextOptions::default()),
            ["-9223372036854775808", "0", "42"]
        );
        let unsigned = UInt64Array::from(vec![u64::MAX]);
        assert_eq!(
            cells(&unsigned, TextOptions::default()),
            ["18446744073709551615"]
        );
        let booleans = BooleanArray::from(vec![Some(true), None, Some(false)]);
        let options = TextOptions {
            null: "null",
            ..TextOptions::default()
        };
        assert_eq!(cells(&booleans, options), ["true", "null", "false"]);
    }

    #[test]
    fn times_print_in_utc_whatever_their_zone_and_unit() {
        let nanos = TimestampNanosecondArray::from(vec![1_720_141_748_047_512_000, -1])
            .with_timezone("America/Los_Angeles");
        assert_eq!(
            cells(&nanos, TextOptions::default()),
            [
                "2024-07-05T01:09:08.047512000Z",
                "1969-12-31T23:59:59.999999999Z"
            ]
        );
        let millis = TimestampMillisecondArray::from(vec![1_720_141_748_047]);
        let options = TextOptions {
            time_format: "%Y-%m-%dT%H:%M:%S%.fZ",
            ..TextOptions::default()
        };
        assert_eq!(cells(&millis, options), ["2024-07-05T01:09:08.047Z"]);
        let far = TimestampMillisecondArray::from(vec![i64::MAX]);
        let formatter = CellFormatter::new(&far, TextOptions::default()).unwrap();
        let error = formatter.value(0).unwrap_err().to_string();
        assert!(error.contains(&i64::MAX.to_string()), "{error}");
    }

    #[test]
    fn bytes_lists_and_dictionaries() {
        let binary = BinaryArray::from(vec![&b"\x00\xffA"[..], b""]);
        assert_eq!(cells(&binary, TextOptions::default()), ["00ff41", ""]);

        let mut builder = ListBuilder::new(StringBuilder::new());
        builder.values().append_value("a");
        builder.values().append_null();
        builder.values().append_value("b c");
        builder.append(true);
        builder.append(true);
        builder.append(false);
        let lists = builder.finish();
        let options = TextOptions {
            null: "null",
            ..TextOptions::default()
        };
        assert_eq!(cells(&lists, options), ["[a, null, b c]", "[]", "null"]);

        let dictionary: DictionaryArray<Int32Type> =
            vec![Some("on"), Some("off"), None, Some("on")]
                .into_iter()
                .collect();
        assert_eq!(
            cells(&dictionary, TextOptions::default()),
            ["on", "off", "", "on"]
        );
    }

    #[test]
    fn a_type_without_a_text_form_is_named() {
        let intervals: ArrayRef = Arc::new(arrow_array::IntervalDayTimeArray::from(vec![
            IntervalDayTimeType::make_value(1, 2),
        ]));
        let error = CellFormatter::new(intervals.as_ref(), TextOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("Interval(DayTime)"), "{error}");
    }
}
