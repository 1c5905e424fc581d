//! A CSV data import: the config's JSON and the file's bytes, both untrusted. The input is
//! split at its first NUL byte: config before, file after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_imports::CsvConfig;

fuzz_target!(|data: &[u8]| {
    let (config, file) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(config) = serde_json::from_slice::<CsvConfig>(config) else {
        return;
    };
    let channels = sextant_imports::csv::channels(&config)
        .map(|c| c.len())
        .ok();
    let result = sextant_imports::csv::read(file, &config, |chunk| {
        // Every chunk has one list per channel.
        assert_eq!(Some(chunk.len()), channels);
        Ok(())
    });
    if let Err(error) = result {
        assert!(!error.to_string().is_empty());
    }
});
