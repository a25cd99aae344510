//! Status reads under load: `GET /orders/{id}/status` at a fixed rate, over orders that are running and orders that
//! have finished, while a batch of orders runs through the API. Reads of a finished order send the `ETag` of its last
//! answer in `If-None-Match`, as a poller would. Like a poller, the load reads running orders only once they were
//! started: the batch's orders join the running set as their start is answered and leave it when they end. Where the
//! host took each read's document from is counted from its `/metrics` around the load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use temporalio_client::Client;

use crate::drive::{batch, rest_order};
use crate::report::StatusLoad;

/// Orders in the batch that runs while status is read, and how many are in flight.
const ORDERS: usize = 300;
const IN_FLIGHT: usize = 20;
/// Finished orders read by the status load (started and finished before the reads begin).
const FINISHED: usize = 50;

/// Runs the status load at `rate` reads per second while [`ORDERS`] orders run.
pub async fn under_load(client: &Arc<Client>, http: &reqwest::Client, api: &str, run: &str, rate: u32) -> StatusLoad {
    let id = |prefix: &str, i: usize| format!("{prefix}-{run}-{i:05}");
    let order = |prefix: &'static str| {
        let (client, http, api) = (Arc::clone(client), http.clone(), api.to_owned());
        move |i: usize| {
            let (client, http, api, id) = (Arc::clone(&client), http.clone(), api.clone(), id(prefix, i));
            async move { rest_order(&http, &api, &client, &id).await }
        }
    };
    batch(FINISHED, IN_FLIGHT, order("status-done")).await;
    let finished: Vec<String> = (0..FINISHED).map(|i| id("status-done", i)).collect();
    let started: Arc<Mutex<Vec<String>>> = Arc::default();
    let before = sources(http, api).await;

    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let reader = {
        let (http, api, started) = (http.clone(), api.to_owned(), Arc::clone(&started));
        tokio::spawn(async move {
            let etags: Arc<Mutex<HashMap<String, String>>> = Arc::default();
            let mut reads = tokio::task::JoinSet::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut n = 0usize;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                // Every other read is of a finished order; the others go to the batch's running orders.
                let live = started.lock().ok().and_then(|s| (!s.is_empty()).then(|| s[(n / 2) % s.len()].clone()));
                let conditional = n.is_multiple_of(2) || live.is_none();
                let id = match live {
                    Some(id) if !conditional => id,
                    _ => finished[n % finished.len()].clone(),
                };
                n += 1;
                let (http, api, etags) = (http.clone(), api.clone(), Arc::clone(&etags));
                reads.spawn(async move { read(&http, &api, &id, conditional.then_some(&etags)).await });
            }
            let mut load = (Vec::new(), 0usize, 0usize);
            while let Some(result) = reads.join_next().await {
                match result {
                    Ok(Ok((elapsed, status))) => {
                        load.0.push(elapsed);
                        if status == 304 {
                            load.1 += 1;
                        }
                    }
                    _ => load.2 += 1,
                }
            }
            load
        })
    };
    let live = {
        let (http, api, started) = (http.clone(), api.to_owned(), Arc::clone(&started));
        move |i: usize| {
            let (http, api, client, started, id) =
                (http.clone(), api.clone(), Arc::clone(client), Arc::clone(&started), id("status-live", i));
            async move { rest_order_noting_start(&http, &api, &client, &id, &started).await }
        }
    };
    let orders = batch(ORDERS, IN_FLIGHT, live).await;
    let _ = stop.send(true);
    let (latencies, not_modified, errors) = reader.await.unwrap_or_default();
    let after = sources(http, api).await;
    let sources =
        after.into_iter().map(|(source, n)| (source, n - before.get(source).copied().unwrap_or(0.0))).collect();
    StatusLoad { rate, latencies, not_modified, errors, orders, sources }
}

/// An order through the API, as [`rest_order`], that is in `running` from the answer to its start to its end.
async fn rest_order_noting_start(
    http: &reqwest::Client,
    api: &str,
    client: &Client,
    id: &str,
    running: &Mutex<Vec<String>>,
) -> crate::report::Outcome {
    let outcome = crate::drive::rest_order_then(http, api, client, id, || {
        if let Ok(mut running) = running.lock() {
            running.push(id.to_owned());
        }
    })
    .await;
    if let Ok(mut running) = running.lock() {
        running.retain(|r| r != id);
    }
    outcome
}

/// Where the host took status documents from, so far: `order_host_status_reads_total` by source.
async fn sources(http: &reqwest::Client, api: &str) -> std::collections::BTreeMap<&'static str, f64> {
    let text = match http.get(format!("{api}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    ["published", "closed", "query", "result", "finished", "database"]
        .into_iter()
        .map(|source| {
            let prefix = format!(r#"order_host_status_reads_total{{source="{source}"}} "#);
            let n = text.lines().find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok()).unwrap_or(0.0);
            (source, n)
        })
        .collect()
}

/// One status read; a 404 (an order of the batch not started yet) counts as an answer, a 5xx or no answer as an error.
async fn read(
    http: &reqwest::Client,
    api: &str,
    id: &str,
    etags: Option<&Mutex<HashMap<String, String>>>,
) -> Result<(Duration, u16), String> {
    let started = Instant::now();
    let mut request = http.get(format!("{api}/orders/{id}/status"));
    let known = etags.and_then(|e| e.lock().ok()?.get(id).cloned());
    if let Some(etag) = known {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let _ = response.bytes().await.map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    if status >= 500 {
        return Err(format!("{status}"));
    }
    if let (Some(etags), Some(etag)) = (etags, etag)
        && let Ok(mut etags) = etags.lock()
    {
        etags.insert(id.to_owned(), etag);
    }
    Ok((elapsed, status))
}
