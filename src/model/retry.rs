//! When to try a failed model call again: bounded exponential backoff, honouring a server's
//! `Retry-After`.

use std::time::Duration;

use super::error::ModelError;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `attempt` (0-based) after `err`.
    pub fn delay(&self, attempt: u32, err: &ModelError) -> Duration {
        if let ModelError::RateLimited {
            retry_after: Some(d),
            ..
        } = err
        {
            return (*d).min(Duration::from_secs(60));
        }
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.base.saturating_mul(factor).min(self.max_delay)
    }
}

/// Parses a `Retry-After` header given in seconds.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn backoff_doubles_and_honours_retry_after() {
        let p = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        let e = ModelError::Server {
            status: 500,
            body: String::new(),
        };
        assert_eq!(p.delay(0, &e), Duration::from_millis(100));
        assert_eq!(p.delay(2, &e), Duration::from_millis(400));
        assert_eq!(p.delay(9, &e), Duration::from_secs(1));
        let rl = ModelError::RateLimited {
            retry_after: parse_retry_after(Some("7")),
            body: String::new(),
        };
        assert_eq!(p.delay(0, &rl), Duration::from_secs(7));
        assert_eq!(parse_retry_after(Some("soon")), None);
    }
}
