//! The host's resident memory idle and with many orders waiting for approval.

use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::drive::run_id;
use crate::report::rss_mib;

#[derive(Debug, clap::Args)]
pub struct MemoryArgs {
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub api: String,
    #[arg(long, default_value_t = 1000)]
    pub orders: usize,
    #[arg(long, default_value_t = 50)]
    pub concurrency: usize,
    /// The host's process id.
    #[arg(long)]
    pub pid: u32,
}

fn waiting(metrics: &str) -> usize {
    metrics
        .lines()
        .find(|l| l.starts_with(r#"order_host_orders{state="awaiting_approval"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

pub async fn run(args: MemoryArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let run = run_id();
    let idle = rss_mib(args.pid).unwrap_or(0.0);
    println!("memory: host RSS idle {idle:.1} MiB; starting {} orders that wait for approval (run {run})", args.orders);
    futures::stream::iter(0..args.orders)
        .for_each_concurrent(args.concurrency, |i| {
            let (http, api, id) = (http.clone(), args.api.clone(), format!("waiting-{run}-{i:05}"));
            async move {
                let body = format!(r#"{{"payment_id":"pay-{id}","options":{{"approval_timeout_ms":3600000}}}}"#);
                let _ = http
                    .post(format!("{api}/orders/{id}/start"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
            }
        })
        .await;
    let deadline = Instant::now() + Duration::from_mins(10);
    loop {
        let metrics = http.get(format!("{}/metrics", args.api)).send().await?.text().await?;
        let n = waiting(&metrics);
        if n >= args.orders {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {n} of {} orders reached awaiting_approval", args.orders);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let loaded = rss_mib(args.pid).unwrap_or(0.0);
    println!("memory_idle_mib={idle:.1} memory_waiting_mib={loaded:.1} orders_waiting={}", args.orders);
    // Leave nothing running: cancel them all.
    futures::stream::iter(0..args.orders)
        .for_each_concurrent(args.concurrency, |i| {
            let (http, api, id) = (http.clone(), args.api.clone(), format!("waiting-{run}-{i:05}"));
            async move {
                let _ = http.post(format!("{api}/orders/{id}/signals/cancel")).send().await;
            }
        })
        .await;
    Ok(())
}
