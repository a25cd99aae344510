//! The `OrderState` search attribute's registration, on namespaces of the real dev server that lack it.

use std::collections::HashMap;
use std::time::Duration;

use order_host::temporal::search::{ORDER_STATE, ensure_order_state};
use order_host_tests::orders::order_id;
use order_host_tests::{temporal, wait};
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

async fn kind(client: &Client, namespace: &str) -> Option<i32> {
    let request = ListSearchAttributesRequest { namespace: namespace.to_owned() };
    let listed = client.connection().operator_service().list_search_attributes(request.into_request()).await.ok()?;
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
}
