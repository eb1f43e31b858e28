//! The inbox `cursor` query parameter: anything a client sends is refused cleanly unless it
//! is a cursor the server could have made, and such a cursor survives a round trip.
#![no_main]

use kairan::actions::inbox::{decode_cursor, encode_cursor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    if let Ok(cursor) = decode_cursor(raw) {
        let again = decode_cursor(&encode_cursor(&cursor)).expect("our own cursor decodes");
        assert_eq!(again.published_at, cursor.published_at);
        assert_eq!(again.post_id, cursor.post_id);
    }
});
