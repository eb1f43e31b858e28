//! Push subscriptions as browsers (or anyone) send them: the endpoint and the p256dh and
//! auth keys are checked without panicking, and accepted keys have the right sizes.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kairan::domain::push_endpoint::EndpointPolicy;
use kairan::routes::push::{SubscribeRequest, SubscriptionKeys, check_subscription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|parts: (&str, &str, &str, bool)| {
    let (endpoint, p256dh, auth, allow_insecure) = parts;
    let request = SubscribeRequest {
        endpoint: endpoint.to_string(),
        keys: SubscriptionKeys {
            p256dh: p256dh.to_string(),
            auth: auth.to_string(),
        },
    };
    let policy = EndpointPolicy {
        allowed_hosts: vec!["push.example".into()],
        allow_loopback: allow_insecure,
    };
    if check_subscription(&request, &policy).is_ok() {
        let decode = |key: &str| URL_SAFE_NO_PAD.decode(key.trim().trim_end_matches('='));
        assert_eq!(decode(p256dh).map(|k| k.len()).ok(), Some(65));
        assert_eq!(decode(auth).map(|k| k.len()).ok(), Some(16));
        assert!(endpoint.trim().starts_with("https://push.example") || allow_insecure);
    }
});
