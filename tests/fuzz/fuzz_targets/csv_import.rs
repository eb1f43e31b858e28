//! District and roster CSV files as officers and city staff upload them: any bytes either
//! parse or give an ImportError, never a panic; what parses keeps its promises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = kairan::import::decode_text(bytes) {
        assert!(!text.starts_with('\u{feff}'), "the BOM is removed");
    }
    if let Ok(records) = kairan::import::parse_districts(bytes) {
        for record in records {
            assert!(!record.code.trim().is_empty() && !record.name.trim().is_empty());
        }
    }
    if let Ok(records) = kairan::import::parse_roster(bytes) {
        for record in records {
            assert!(!record.label.trim().is_empty());
        }
    }
});
