//! Abuse limits (SPEC §6): a token bucket per caller, `GROUPSCOUT_RATE_LIMIT` requests a
//! second per user token, and per client address for anonymous calls.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Buckets idle this long are dropped.
const IDLE: Duration = Duration::from_secs(60);

/// Each caller's tokens and when they were counted.
type Buckets = HashMap<String, (f64, Instant)>;

pub struct RateLimiter {
    /// Requests a second, and the burst a bucket holds (at least one).
    rate: f64,
    /// The buckets, and when idle ones were last dropped.
    buckets: Mutex<(Buckets, Instant)>,
}

impl RateLimiter {
    pub fn new(rate: f64) -> RateLimiter {
        RateLimiter { rate, buckets: Mutex::new((HashMap::new(), Instant::now())) }
    }

    /// Takes one request from `key`'s bucket; when it is empty, how long until it holds one.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let burst = self.rate.max(1.0);
        let mut guard = self.buckets.lock();
        let (buckets, swept) = &mut *guard;
        if now.duration_since(*swept) > IDLE {
            buckets.retain(|_, (_, at)| now.duration_since(*at) < IDLE);
            *swept = now;
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// A well-formed incoming request id is echoed: 1 to 128 characters of letters, digits,
/// `-`, `_`, `.`.
pub fn well_formed_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A new request id: 16 random hex digits.
pub fn new_request_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(2.0);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        let wait = l.check("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(l.check("b").is_ok(), "buckets are per key");
        std::thread::sleep(Duration::from_millis(520));
        assert!(l.check("a").is_ok());
    }

    #[test]
    fn request_ids_are_checked() {
        assert!(well_formed_request_id("abc-123_x.y"));
        assert!(!well_formed_request_id(""));
        assert!(!well_formed_request_id("a b"));
        assert!(!well_formed_request_id(&"a".repeat(129)));
        assert_eq!(new_request_id().len(), 16);
    }
}
