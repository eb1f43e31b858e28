//! Load generation: many connections issuing requests, either as fast as the server answers
//! (closed loop) or at a fixed rate (open loop, latency counted from the planned send time so
//! a slow server cannot hide its queue).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Builds request number `n` of a run.
pub type MakeRequest =
    Arc<dyn Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync>;

pub struct Outcome {
    pub requests: usize,
    /// Transport failures and any answer that is not 2xx.
    pub errors: usize,
    pub server_errors: usize,
    pub latencies_us: Vec<u64>,
    /// Each request's planned second from the start, its latency and its number (what
    /// `MakeRequest` was given): where the slow ones fell, and which they were.
    pub timeline: Vec<(u32, u64, usize)>,
    pub elapsed: Duration,
    /// Every failure by kind ("503", "409", "transport: connect", …) with its count, and
    /// the first of each kind's body or error, to say what failed.
    pub failures: BTreeMap<String, (usize, String)>,
}

impl Outcome {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[index] as f64 / 1000.0
    }

    /// Requests, p99 and max in ms of each `width` seconds, in order.
    pub fn windows(&self, width: u32) -> Vec<(u32, usize, f64, f64)> {
        summarize(
            self.timeline
                .iter()
                .map(|(second, latency, _)| (second / width * width, *latency)),
        )
    }

    /// Requests, p99 and max in ms of those planned before `until` seconds, by the kind
    /// `kind_of` names for each request number, in the kinds' order.
    pub fn first_seconds_by(
        &self,
        until: u32,
        kind_of: impl Fn(usize) -> &'static str,
    ) -> Vec<(&'static str, usize, f64, f64)> {
        summarize(
            self.timeline
                .iter()
                .filter(|(second, _, _)| *second < until)
                .map(|(_, latency, n)| (kind_of(*n), *latency)),
        )
    }
}

/// Latencies (µs) grouped by key: each key, in order, with its count, p99 and max in ms.
fn summarize<K: Ord>(latencies: impl Iterator<Item = (K, u64)>) -> Vec<(K, usize, f64, f64)> {
    let mut by_key = BTreeMap::<K, Vec<u64>>::new();
    for (key, latency) in latencies {
        by_key.entry(key).or_default().push(latency);
    }
    by_key
        .into_iter()
        .map(|(key, mut latencies)| {
            latencies.sort_unstable();
            let p99 = latencies[(latencies.len() - 1) * 99 / 100] as f64 / 1000.0;
            let max = *latencies.last().unwrap_or(&0) as f64 / 1000.0;
            (key, latencies.len(), p99, max)
        })
        .collect()
}

pub struct Load {
    pub connections: usize,
    /// Requests per second over all connections; none: as fast as answered.
    pub rate: Option<f64>,
    pub duration: Duration,
    /// Ends the run early when set (the emergency stops when the fan-out is done).
    pub stop: Option<Arc<AtomicBool>>,
}

pub async fn run(client: &reqwest::Client, load: &Load, make: MakeRequest) -> Outcome {
    let started = Instant::now();
    let deadline = started + load.duration;
    let counter = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..load.connections)
        .map(|connection| {
            let (client, make, counter, stop) = (
                client.clone(),
                make.clone(),
                counter.clone(),
                load.stop.clone(),
            );
            let (rate, connections) = (load.rate, load.connections);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut timeline = Vec::new();
                let (mut errors, mut server_errors) = (0, 0);
                let mut failures = BTreeMap::<String, (usize, String)>::new();
                let mut k = 0u64;
                loop {
                    let planned = match rate {
                        Some(rate) => {
                            let slot = k as f64 * connections as f64 + connection as f64;
                            let at = started + Duration::from_secs_f64(slot / rate);
                            tokio::time::sleep_until(at.into()).await;
                            at
                        }
                        None => Instant::now(),
                    };
                    k += 1;
                    if planned >= deadline
                        || stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
                    {
                        break;
                    }
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let failure = match make(&client, n).send().await {
                        Ok(response) => {
                            let status = response.status();
                            let body = response.bytes().await;
                            match (status, body) {
                                (s, Ok(_)) if s.is_success() => None,
                                (s, Ok(body)) => Some((
                                    s.as_u16().to_string(),
                                    String::from_utf8_lossy(&body).into_owned(),
                                )),
                                (_, Err(e)) => Some(("transport: body".to_string(), e.to_string())),
                            }
                        }
                        Err(e) => Some((transport_kind(&e), e.to_string())),
                    };
                    let latency = u64::try_from(planned.elapsed().as_micros()).unwrap_or(u64::MAX);
                    latencies.push(latency);
                    let second = planned.duration_since(started).as_secs();
                    timeline.push((u32::try_from(second).unwrap_or(u32::MAX), latency, n));
                    if let Some((kind, detail)) = failure {
                        errors += 1;
                        if kind.starts_with('5') {
                            server_errors += 1;
                        }
                        failures.entry(kind).or_insert((0, detail)).0 += 1;
                    }
                }
                (latencies, timeline, errors, server_errors, failures)
            })
        })
        .collect();
    let mut outcome = Outcome {
        requests: 0,
        errors: 0,
        server_errors: 0,
        latencies_us: Vec::new(),
        timeline: Vec::new(),
        elapsed: Duration::ZERO,
        failures: BTreeMap::new(),
    };
    for task in tasks {
        let (latencies, timeline, errors, server_errors, failures) = task.await.unwrap();
        outcome.timeline.extend(timeline);
        for (kind, (count, detail)) in failures {
            outcome.failures.entry(kind).or_insert((0, detail)).0 += count;
        }
        outcome.requests += latencies.len();
        outcome.errors += errors;
        outcome.server_errors += server_errors;
        outcome.latencies_us.extend(latencies);
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies_us.sort_unstable();
    outcome
}

fn transport_kind(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_request() {
        "request"
    } else {
        "other"
    };
    format!("transport: {kind}")
}
