//! Load generation: many connections issuing requests, either as fast as the server answers
//! (closed loop) or at a fixed rate (open loop, latency counted from the planned send time so
//! a slow server cannot hide its queue).

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
    /// Each request's planned second from the start, with its latency: where the slow ones
    /// fell.
    pub timeline: Vec<(u32, u64)>,
    pub elapsed: Duration,
    /// The body of the first 5xx answer, to say what failed.
    pub first_server_error: Option<String>,
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
        let mut by_window = std::collections::BTreeMap::<u32, Vec<u64>>::new();
        for (second, latency) in &self.timeline {
            by_window
                .entry(second / width * width)
                .or_default()
                .push(*latency);
        }
        by_window
            .into_iter()
            .map(|(start, mut latencies)| {
                latencies.sort_unstable();
                let p99 = latencies[(latencies.len() - 1) * 99 / 100] as f64 / 1000.0;
                let max = *latencies.last().unwrap_or(&0) as f64 / 1000.0;
                (start, latencies.len(), p99, max)
            })
            .collect()
    }
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
                let mut first_server_error = None;
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
                    let status = match make(&client, n).send().await {
                        Ok(response) => {
                            let status = response.status();
                            let body = response.bytes().await;
                            if status.is_server_error() && first_server_error.is_none() {
                                first_server_error = body
                                    .ok()
                                    .map(|b| format!("{status} {}", String::from_utf8_lossy(&b)));
                            }
                            Some(status)
                        }
                        Err(_) => None,
                    };
                    let latency = u64::try_from(planned.elapsed().as_micros()).unwrap_or(u64::MAX);
                    latencies.push(latency);
                    let second = planned.duration_since(started).as_secs();
                    timeline.push((u32::try_from(second).unwrap_or(u32::MAX), latency));
                    match status {
                        Some(s) if s.is_success() => {}
                        Some(s) if s.is_server_error() => {
                            errors += 1;
                            server_errors += 1;
                        }
                        _ => errors += 1,
                    }
                }
                (
                    latencies,
                    timeline,
                    errors,
                    server_errors,
                    first_server_error,
                )
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
        first_server_error: None,
    };
    for task in tasks {
        let (latencies, timeline, errors, server_errors, first_server_error) = task.await.unwrap();
        outcome.timeline.extend(timeline);
        outcome.first_server_error = outcome.first_server_error.or(first_server_error);
        outcome.requests += latencies.len();
        outcome.errors += errors;
        outcome.server_errors += server_errors;
        outcome.latencies_us.extend(latencies);
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies_us.sort_unstable();
    outcome
}
