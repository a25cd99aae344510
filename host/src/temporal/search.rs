//! The `OrderState` search attribute: `OrderWorkflow` writes every state of an order to it, so orders can be listed
//! by state in the Web UI and with `temporal workflow list --query "OrderState='awaiting_approval'"`. The namespace
//! must define it as a keyword; a worker of the orders queue makes sure before it polls.

use std::collections::HashMap;

use temporalio_client::tonic::{self, IntoRequest};
use temporalio_client::{Client, NamespacedClient};
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, ListSearchAttributesRequest,
};

/// The search attribute's name.
pub const ORDER_STATE: &str = "OrderState";

/// Makes sure the client's namespace defines [`ORDER_STATE`] as a keyword: adds it when missing (another worker
/// adding it at the same moment is fine), refuses when it exists with another type. Without it every order's workflow
/// task would fail, so a worker that cannot add it does not start, and says how to register it.
pub async fn ensure_order_state(client: &Client) -> anyhow::Result<()> {
    let namespace = client.namespace();
    tokio::time::timeout(ENSURE_TIMEOUT, ensure(client, &namespace)).await.map_err(|_| {
        anyhow::anyhow!(
            "the Temporal frontend did not answer within {ENSURE_TIMEOUT:?} about search attribute {ORDER_STATE}"
        )
    })?
}

/// How long a worker waits for the frontend to say whether the attribute is there.
const ENSURE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn ensure(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let namespace = namespace.to_owned();
    let mut operator = client.connection().operator_service();
    let request = ListSearchAttributesRequest { namespace: namespace.clone() };
    let listed = operator
        .list_search_attributes(request.into_request())
        .await
        .map_err(|e| anyhow::anyhow!("cannot list the search attributes of namespace {namespace}: {}", e.message()))?
        .into_inner();
    let keyword = IndexedValueType::Keyword as i32;
    match listed.custom_attributes.get(ORDER_STATE) {
        Some(kind) if *kind == keyword => return Ok(()),
        Some(kind) => anyhow::bail!(
            "namespace {namespace} defines the search attribute {ORDER_STATE} as {:?}; order-host needs a Keyword",
            IndexedValueType::try_from(*kind).unwrap_or(IndexedValueType::Unspecified)
        ),
        None => {}
    }
    let request = AddSearchAttributesRequest {
        search_attributes: HashMap::from([(ORDER_STATE.to_owned(), keyword)]),
        namespace: namespace.clone(),
    };
    match operator.add_search_attributes(request.into_request()).await {
        Ok(_) => {
            tracing::info!(%namespace, "registered the search attribute {ORDER_STATE} (Keyword)");
            Ok(())
        }
        Err(e) if e.code() == tonic::Code::AlreadyExists => Ok(()),
        Err(e) => anyhow::bail!(
            "namespace {namespace} has no search attribute {ORDER_STATE} and this worker cannot add it ({}); register \
             it: temporal operator search-attribute create --namespace {namespace} --name {ORDER_STATE} --type Keyword",
            e.message()
        ),
    }
}
