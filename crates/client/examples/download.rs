//! Downloads three channels of one run, puts them on one timeline and writes them to a CSV
//! file: the download example of Sift's Python client, with the Rust SDK.
//!
//! It needs a server with the example asset's data:
//!
//! ```text
//! SEXTANT_URL=http://127.0.0.1:7777 SEXTANT_TOKEN=<API key> \
//!     cargo run -p sextant-client --example download
//! ```

use sextant_client::export::write_csv_file;
use sextant_client::{ChannelQuery, ClientConfig, DataQuery, DataService, connect, parse_time};

const RUN: &str = "[NostromoLV426].1720141748.047512";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let channel = connect(&ClientConfig::from_env()?).await?;
    let data_service = DataService::new(channel);

    let query = DataQuery::new(
        "NostromoLV426",
        Some(parse_time("2024-07-04T18:09:08.555-07:00")?),
        Some(parse_time("2024-07-04T18:09:11.556-07:00")?),
    )
    .channel(ChannelQuery::new("voltage").run(RUN))
    .channel(
        ChannelQuery::new("velocity")
            .component("mainmotor")
            .run(RUN),
    )
    .channel(ChannelQuery::new("gpio").run(RUN));
    let result = data_service.execute(&query).await?;

    // Each row is a `voltage` point with the latest velocity and 12 V line at or before it.
    let merged = result.align(&["voltage", "mainmotor.velocity", "gpio.12v"])?;
    write_csv_file(&merged, "my_csv.csv")?;
    println!("wrote {} rows to my_csv.csv", merged.num_rows());
    Ok(())
}
