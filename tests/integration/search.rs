//! The `OrderState` search attribute's registration, on namespaces of the real dev server that lack it.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use order_host::temporal::search::{ORDER_STATE, ensure_order_state};
use order_host_tests::db::TestDb;
use order_host_tests::orders::order_id;
use order_host_tests::{paths, temporal, wait};
use temporalio_client::Client;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, ListSearchAttributesRequest,
};
use temporalio_common::protos::temporal::api::workflowservice::v1::RegisterNamespaceRequest;

const WITHIN: Duration = Duration::from_secs(30);

/// A client on a namespace of its own, registered just now (so without `OrderState`).
async fn fresh_namespace(prefix: &str) -> (Client, String) {
    let namespace = order_id(prefix);
    let args = ["order-host", "--temporal-address", &temporal::server().address, "--temporal-namespace", &namespace];
    let config =
        <order_host::cli::Cli as clap::Parser>::try_parse_from(args.iter().copied().chain(["worker"])).unwrap().config;
    let client = order_host::temporal::connect(&config).await.unwrap();
    let request = RegisterNamespaceRequest {
        namespace: namespace.clone(),
        workflow_execution_retention_period: Some(Duration::from_hours(24).try_into().unwrap()),
        ..Default::default()
    };
    client.connection().workflow_service().register_namespace(request.into_request()).await.unwrap();
    (client, namespace)
}

/// `OrderState`'s type in `namespace`, once the namespace answers (it takes a moment to reach every service).
async fn kind(client: &Client, namespace: &str) -> Option<i32> {
    let listed = wait::until(WITHIN, "the namespace's search attributes", || {
        let request = ListSearchAttributesRequest { namespace: namespace.to_owned() };
        let mut operator = client.connection().operator_service();
        async move { operator.list_search_attributes(request.into_request()).await.ok() }
    })
    .await;
    listed.into_inner().custom_attributes.get(ORDER_STATE).copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_registers_order_state_where_it_is_missing_and_refuses_a_wrong_type() {
    let (client, namespace) = fresh_namespace("ns-sa").await;
    assert_eq!(kind(&client, &namespace).await, None);
    // A namespace just registered takes a moment to reach every service: retry until the first call gets through.
    wait::until(WITHIN, "OrderState registered", || async { ensure_order_state(&client).await.ok() }).await;
    assert_eq!(kind(&client, &namespace).await, Some(IndexedValueType::Keyword as i32));
    ensure_order_state(&client).await.expect("a second worker finds it there");

    let (client, namespace) = fresh_namespace("ns-sa-text").await;
    let request = AddSearchAttributesRequest {
        search_attributes: HashMap::from([(ORDER_STATE.to_owned(), IndexedValueType::Text as i32)]),
        namespace: namespace.clone(),
    };
    wait::until(WITHIN, "a Text OrderState added", || {
        let request = request.clone();
        let mut operator = client.connection().operator_service();
        async move { operator.add_search_attributes(request.into_request()).await.ok() }
    })
    .await;
    let refused = ensure_order_state(&client).await.expect_err("a Text OrderState is refused");
    assert!(refused.to_string().contains("needs a Keyword"), "{refused}");

    // `serve` on that namespace: its workers cannot start, so the whole process stops with their reason instead of
    // serving an API whose orders would never run.
    let db = TestDb::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let child = tokio::process::Command::new(paths::order_host_binary())
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("TEMPORAL_ADDRESS", &temporal::server().address)
        .env("TEMPORAL_NAMESPACE", &namespace)
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("PLUGINS_DIR", paths::dist_dir())
        .env("DATA_DIR", dir.path())
        .env("ORDERS_TASK_QUEUE", order_id("q"))
        .env("SHIPPING_TASK_QUEUE", order_id("q"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting order-host");
    let out = tokio::time::timeout(Duration::from_mins(1), child.wait_with_output())
        .await
        .expect("serve exits when its workers cannot start")
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("needs a Keyword"), "{log}");
}
