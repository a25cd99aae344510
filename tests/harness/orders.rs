//! Driving orders through the Temporal client, as other SDKs and the `temporal` CLI would.

use std::time::Duration;

use order_host::domain::{Address, OrderInput, OrderOptions, OrderState, StatusDocument};
use order_host::workflows::OrderWorkflow;
use order_host::workflows::messages::{CancelRequest, CommandOutcome, to_raw};
use rand::Rng;
use temporalio_client::{
    Client, WorkflowExecuteUpdateOptions, WorkflowFetchHistoryOptions, WorkflowHandle, WorkflowQueryOptions,
    WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_sdk::workflows::WorkflowImplementation;

use crate::host::TestHost;
use crate::wait;

/// The typed handle of an order.
pub type OrderHandle = WorkflowHandle<Client, <OrderWorkflow as WorkflowImplementation>::Run>;

/// The run marker of `ShippingWorkflow`, for typed handles of shipping children.
pub type ShippingRun = <order_host::workflows::ShippingWorkflow as WorkflowImplementation>::Run;

/// A fresh order id: `<prefix>-<random>`.
pub fn order_id(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::rng().random::<u32>())
}

/// The seed's sample cart (the REST API's documented default): 2 × SKU-001 at $15.00 and 1 × SKU-002 at $12.00
/// ($42.00), to Springfield, IL.
pub fn sample_input(order_id: &str) -> OrderInput {
    OrderInput {
        order_id: order_id.to_owned(),
        payment_id: format!("pay-{order_id}"),
        items: order_host::domain::sample::items(),
        address: home(),
        options: OrderOptions::default(),
    }
}

pub fn home() -> Address {
    order_host::domain::sample::address()
}

/// Starts `input` as an `OrderWorkflow` on the host's queue.
pub async fn start(host: &TestHost, input: OrderInput) -> OrderHandle {
    let id = input.order_id.clone();
    host.client
        .start_workflow(
            OrderWorkflow::run,
            order_host::workflows::messages::start_input(&input),
            WorkflowStartOptions::new(host.orders_queue(), id).build(),
        )
        .await
        .expect("starting the order")
}

/// Approves through the `approve_order` update.
pub async fn approve(handle: &OrderHandle) -> Result<CommandOutcome, String> {
    handle
        .execute_update(
            OrderWorkflow::approve_order_update,
            to_raw::<()>(None),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Cancels through the `cancel_order` update.
pub async fn cancel(handle: &OrderHandle, reason: &str) -> Result<CommandOutcome, String> {
    let request = CancelRequest { reason: Some(reason.to_owned()) };
    handle
        .execute_update(
            OrderWorkflow::cancel_order_update,
            to_raw(Some(&request)),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Changes the address through the `update_address` update.
pub async fn update_address(handle: &OrderHandle, address: &Address) -> Result<CommandOutcome, String> {
    handle
        .execute_update(
            OrderWorkflow::update_address_update,
            to_raw(Some(address)),
            WorkflowExecuteUpdateOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Sends `cancel_order` as a signal (fire and forget).
pub async fn cancel_signal(handle: &OrderHandle, reason: &str) {
    let request = CancelRequest { reason: Some(reason.to_owned()) };
    handle
        .signal(OrderWorkflow::cancel_order, to_raw(Some(&request)), WorkflowSignalOptions::default())
        .await
        .expect("signal");
}

/// Sends `approve_order` as a signal with no payload, as the seed's curl does.
pub async fn approve_signal(handle: &OrderHandle) {
    handle
        .signal(OrderWorkflow::approve_order, to_raw::<()>(None), WorkflowSignalOptions::default())
        .await
        .expect("signal");
}

/// The `status` query.
pub async fn status(handle: &OrderHandle) -> StatusDocument {
    handle.query(OrderWorkflow::status, (), WorkflowQueryOptions::default()).await.expect("status query")
}

/// Polls the `status` query until the order is in `state`.
pub async fn wait_for(handle: &OrderHandle, state: OrderState, timeout: Duration) -> StatusDocument {
    wait::until(timeout, &format!("state {state}"), || async {
        let doc = status(handle).await;
        (doc.state == state).then_some(doc)
    })
    .await
}

/// With `RECORD_HISTORIES=<dir>` set, saves the order's history (and its first shipping child's, if any) as
/// `<dir>/<name>.json` for the replay tests. Without it, does nothing. Never overwrites: a recorded history is the
/// only replay of the code that made it, so new ones are recorded into an empty directory and added under new names.
pub async fn record_history(host: &TestHost, handle: &OrderHandle, name: &str) {
    let Ok(dir) = std::env::var("RECORD_HISTORIES") else { return };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("history dir");
    let write = |file: String, history: Vec<u8>| {
        let path = dir.join(file);
        let mut out =
            std::fs::OpenOptions::new().write(true).create_new(true).open(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (record into an empty directory; keep old histories)", path.display())
            });
        std::io::Write::write_all(&mut out, &history).expect("writing history");
    };
    let history = handle.fetch_history(WorkflowFetchHistoryOptions::default()).to_json().await.expect("order history");
    write(format!("{name}.json"), history);
    let child_id = format!("{}-shipping-1", handle.info().workflow_id);
    let child = host.client.get_workflow_handle::<ShippingRun>(child_id);
    if let Ok(history) = child.fetch_history(WorkflowFetchHistoryOptions::default()).to_json().await {
        write(format!("{name}-shipping.json"), history);
    }
}

/// What patching cost workflow `workflow_id` in its history: its patch markers, and its upserts of the
/// `TemporalChangeVersion` search attribute that come with them.
pub async fn patch_marks(client: &Client, workflow_id: &str) -> (usize, usize) {
    use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
    let handle = client.get_workflow_handle::<ShippingRun>(workflow_id.to_owned());
    let events =
        handle.fetch_history(WorkflowFetchHistoryOptions::default()).into_events().await.expect("workflow history");
    let markers = events
        .iter()
        .filter(|e| matches!(&e.attributes, Some(Attributes::MarkerRecordedEventAttributes(m)) if m.marker_name == "core_patch"))
        .count();
    let upserts = events
        .iter()
        .filter(|e| match &e.attributes {
            Some(Attributes::UpsertWorkflowSearchAttributesEventAttributes(a)) => {
                a.search_attributes.as_ref().is_some_and(|s| s.indexed_fields.contains_key("TemporalChangeVersion"))
            }
            _ => false,
        })
        .count();
    (markers, upserts)
}

/// Sends any signal by name with any JSON payload, as a client with the `temporal` CLI could.
pub async fn raw_signal(handle: &OrderHandle, name: &str, payload: &serde_json::Value) {
    let signal = temporalio_client::UntypedSignal::<<OrderWorkflow as WorkflowImplementation>::Run>::new(name);
    handle.signal(signal, to_raw(Some(payload)), WorkflowSignalOptions::default()).await.expect("signal");
}
