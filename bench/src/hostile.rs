//! Hostile plugins under load: every hostile fixture is uploaded while orders run, then a valid v2; the hostile ones
//! must be refused, v2 must take over, and every order must still ship.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::drive::{batch, connect, rest_order, run_id};
use crate::report::rss_mib;

#[derive(Debug, clap::Args)]
pub struct HostileArgs {
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub api: String,
    #[arg(long, env = "ADMIN_TOKEN")]
    pub admin_token: String,
    /// Where the built components are (`plugins/dist`).
    #[arg(long, default_value = "plugins/dist")]
    pub dist: PathBuf,
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    #[arg(long, default_value_t = 20)]
    pub concurrency: usize,
    /// The host's process id, for its resident memory.
    #[arg(long)]
    pub pid: Option<u32>,
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "http://127.0.0.1:7233")]
    pub temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub namespace: String,
}

/// (slot, fixture, expected error code)
const HOSTILE: [(&str, &str, &str); 7] = [
    ("validation", "fixtures/infinite-loop", "trial_failed"),
    ("validation", "fixtures/memory-bomb", "trial_failed"),
    ("validation", "fixtures/panic", "trial_failed"),
    ("validation", "fixtures/aliased-strings", "trial_failed"),
    ("validation", "fixtures/unknown-import", "unsupported_imports"),
    ("payment", "fixtures/wrong-world", "wrong_world"),
    ("shipping", "fixtures/payment-v2", "wrong_world"),
];

pub async fn run(args: HostileArgs) -> anyhow::Result<()> {
    let client = Arc::new(connect(&args.temporal_address, &args.namespace).await?);
    let http = reqwest::Client::new();
    let run = run_id();
    let rss = |when: &str| {
        if let Some(mib) = args.pid.and_then(rss_mib) {
            println!("  host RSS {when}: {mib:.1} MiB");
        }
    };
    println!("hostile: {} orders, {} in flight, uploads to {} (run {run})", args.orders, args.concurrency, args.api);
    rss("before");
    let orders = {
        let (client, http, api, run) = (Arc::clone(&client), http.clone(), args.api.clone(), run.clone());
        batch(args.orders, args.concurrency, move |i| {
            let (client, http, api, id) =
                (Arc::clone(&client), http.clone(), api.clone(), format!("hostile-{run}-{i:04}"));
            async move { rest_order(&http, &api, &client, &id).await }
        })
    };
    let uploads = async {
        let mut refused = 0;
        for (slot, fixture, code) in HOSTILE {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let answer = upload(&http, &args, slot, fixture).await?;
            let ok = answer.0 == 400 && answer.1["error"] == code;
            refused += usize::from(ok);
            println!(
                "  PUT /plugins/{slot} {fixture}: {} {} {}",
                answer.0,
                answer.1["error"],
                if ok { "(refused, as it must be)" } else { "UNEXPECTED" }
            );
        }
        let v2 = upload(&http, &args, "payment", "fixtures/payment-v2").await?;
        println!("  PUT /plugins/payment fixtures/payment-v2: {} version {}", v2.0, v2.1["version"]);
        anyhow::Ok((refused, v2.0 == 200))
    };
    let (run_result, uploads) = tokio::join!(orders, uploads);
    let (refused, v2_active) = uploads?;
    rss("after");
    let states = run_result.states();
    let shipped = states.get("shipped").copied().unwrap_or(0);
    println!("end states: {states:?}");
    println!(
        "hostile_refused={refused}/{} v2_active={v2_active} orders_shipped={shipped}/{} rss_mib={:.1}",
        HOSTILE.len(),
        args.orders,
        args.pid.and_then(rss_mib).unwrap_or(0.0)
    );
    if refused == HOSTILE.len() && v2_active && shipped == args.orders {
        Ok(())
    } else {
        Err(anyhow::anyhow!("hostile uploads disturbed the host"))
    }
}

async fn upload(
    http: &reqwest::Client,
    args: &HostileArgs,
    slot: &str,
    component: &str,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let bytes = std::fs::read(args.dist.join(format!("{component}.wasm")))?;
    let response = http
        .put(format!("{}/plugins/{slot}", args.api))
        .header("authorization", format!("Bearer {}", args.admin_token))
        .body(bytes)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or_default()))
}
