//! Orders, payments, events and the shared plugin store ([`plugins`]) in SQL: one [`Store`] trait, two sqlx adapters ([`postgres`],
//! [`sqlite`]) chosen by the `DATABASE_URL` scheme, migrations embedded in the binary.
//!
//! Idempotency lives here: orders are keyed by order id (inserting twice keeps the first), payments by payment id
//! (`INSERT … ON CONFLICT DO NOTHING`; a payment leaves `pending` once), order states carry a sequence number so a
//! stale activity attempt can never move an order backwards, and events are only ever appended.

mod migrations;
pub mod plugins;
pub mod postgres;
mod reads;
mod rows;
mod sql;
pub mod sqlite;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use self::plugins::{NewComponent, PluginStore, ProcessRefusal, ProcessRow, ReleaseAction, ReleaseRow};
use crate::domain::{Address, Item, OrderState, PaymentState};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed or the database holds migrations this binary does not know.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `DATABASE_URL` is not a PostgreSQL or SQLite URL.
    #[error("unsupported DATABASE_URL {0:?}: expected postgres://… or sqlite://…")]
    UnsupportedUrl(String),
    /// A row violates what the caller expected (e.g. a payment id already used by another order).
    #[error("{0}")]
    Conflict(String),
    /// A stored value could not be read back.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether trying again later may succeed (connection trouble, lock timeouts) rather than never (conflicts).
    pub fn is_transient(&self) -> bool {
        !matches!(self, StoreError::Conflict(_) | StoreError::UnsupportedUrl(_) | StoreError::Corrupt(_))
    }
}

/// A new order as `receive_order` records it.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub order_id: String,
    pub payment_id: String,
    /// The workflow run receiving it: from now on the only run whose writes reach the row.
    pub run_id: String,
    pub items: Vec<Item>,
    pub address: Address,
}

/// An order row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderRow {
    pub order_id: String,
    pub payment_id: String,
    /// The workflow run that owns the order (absent on orders recorded before runs were).
    pub run_id: Option<String>,
    pub state: OrderState,
    pub step: Option<String>,
    pub items: Vec<Item>,
    pub address: Address,
    pub total_cents: Option<u64>,
    pub package_id: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A state change, applied only if `seq` is newer than the order's last one.
#[derive(Debug, Clone, Default)]
pub struct Transition {
    pub seq: u32,
    pub state: Option<OrderState>,
    pub step: Option<String>,
    pub total_cents: Option<u64>,
    pub items: Option<Vec<Item>>,
    pub address: Option<Address>,
    pub package_id: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
}

/// A payment row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PaymentRow {
    pub payment_id: String,
    pub order_id: String,
    pub amount_cents: u64,
    pub status: PaymentState,
    pub transaction_id: Option<String>,
    pub refund_id: Option<String>,
    /// The payment plugin version that took the charge: its refund runs on that same version.
    pub plugin_digest: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An event to append.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub order_id: String,
    /// `activity`, `state`, `command`.
    pub kind: String,
    pub activity: Option<String>,
    pub attempt: Option<u32>,
    /// For activities: `completed`, `retryable_error`, `permanent_error`, `simulated_failure`, `simulated_hang`.
    pub outcome: Option<String>,
    pub message: Option<String>,
    pub plugin_digest: Option<String>,
    pub state: Option<OrderState>,
    pub details: Option<serde_json::Value>,
}

impl NewEvent {
    /// An event of `kind` for `order_id`, to be filled in with struct update syntax.
    pub fn new(order_id: &str, kind: &str) -> Self {
        NewEvent { order_id: order_id.to_owned(), kind: kind.to_owned(), ..NewEvent::default() }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EventRow {
    pub id: i64,
    pub order_id: String,
    pub kind: String,
    pub activity: Option<String>,
    pub attempt: Option<u32>,
    pub outcome: Option<String>,
    pub message: Option<String>,
    pub plugin_digest: Option<String>,
    pub state: Option<OrderState>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// What a status document needs from an order's events, read with bounded queries ([`Store::event_summary`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventSummary {
    /// Failed attempts per activity (attempts refused as another run's are not the order's failures).
    pub failures: std::collections::BTreeMap<String, u32>,
    /// The newest failed attempts, oldest first.
    pub recent_failures: Vec<EventRow>,
    /// The newest `attention` event's message.
    pub attention: Option<String>,
}

/// A plugin version an activity ran, from its events ([`Store::plugin_runs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestRun {
    pub activity: String,
    pub digest: String,
    pub name: String,
    pub version: String,
}

/// A plugin version the host activated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginVersionRow {
    pub slot: String,
    pub digest: String,
    pub name: String,
    pub version: String,
    pub source: String,
    pub size_bytes: u64,
    /// `loaded` or `rollback`.
    pub activation: String,
    /// The host (hostname:pid) that activated it.
    pub host: String,
    pub loaded_at: DateTime<Utc>,
}

/// Who holds a shipment of an order ([`Store::claim_shipment`]): its dispatch, to `address` with `package`, or its
/// stop. The first claim holds for good.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentClaim {
    pub order_id: String,
    pub shipment: u32,
    /// The shipment never goes (otherwise it is being, or was, dispatched).
    pub stop: bool,
    pub address: Address,
    /// The parcel a dispatch claim took (as `prepare_package` packed it).
    pub package: Option<serde_json::Value>,
}

/// Which orders to list.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub state: Option<OrderState>,
    pub limit: u32,
    pub offset: u32,
}

/// The persistence port. Implemented by [`postgres::PgStore`] and [`sqlite::SqliteStore`].
#[async_trait::async_trait]
pub trait Store: PluginStore + Send + Sync + std::fmt::Debug {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records a new order in state `received`, owned by `order.run_id`; returns `false` (and changes nothing) if
    /// this run recorded it already. An order id owned by another run, or a payment id another order uses, is a
    /// [`StoreError::Conflict`] and leaves every row untouched.
    async fn insert_order(&self, order: &NewOrder) -> Result<bool, StoreError>;
    async fn get_order(&self, order_id: &str) -> Result<Option<OrderRow>, StoreError>;
    /// Newest first.
    async fn list_orders(&self, filter: &OrderFilter) -> Result<Vec<OrderRow>, StoreError>;
    /// Applies `t` if its sequence number is newer than the order's; returns whether it was applied.
    async fn transition(&self, order_id: &str, t: &Transition) -> Result<bool, StoreError>;
    /// How many orders are in each state.
    async fn count_by_state(&self) -> Result<Vec<(OrderState, u64)>, StoreError>;

    /// Records a pending payment bound to the payment plugin version `plugin_digest` unless one with that id exists
    /// (a pending one recorded without a version is bound now); returns the row as it now stands. Its version is the
    /// one every charge attempt and its refund run on. A payment id already used by another order is a conflict.
    async fn begin_payment(
        &self,
        payment_id: &str,
        order_id: &str,
        amount_cents: u64,
        plugin_digest: Option<&str>,
    ) -> Result<PaymentRow, StoreError>;
    /// Marks a pending payment charged and applies the order's transition, in one trip to the database (PostgreSQL:
    /// one statement; SQLite: the payment, then the order — a charge run again after a crash between the two finds
    /// the payment charged and writes the order's state then). A payment already charged keeps its first
    /// transaction id; the row as it now stands is returned.
    async fn complete_charge(
        &self,
        payment_id: &str,
        transaction_id: &str,
        order: Option<(&str, &Transition)>,
    ) -> Result<PaymentRow, StoreError>;
    /// Marks a pending payment declined.
    async fn decline_payment(&self, payment_id: &str) -> Result<PaymentRow, StoreError>;
    /// Marks a charged payment refunded; refunding twice keeps the first refund id.
    async fn refund_payment(&self, payment_id: &str, refund_id: &str) -> Result<PaymentRow, StoreError>;
    async fn get_payment(&self, payment_id: &str) -> Result<Option<PaymentRow>, StoreError>;
    async fn payments_for_order(&self, order_id: &str) -> Result<Vec<PaymentRow>, StoreError>;

    /// Claims a shipment for its dispatch or its stop, unless it was claimed before: the claim that holds.
    async fn claim_shipment(&self, claim: &ShipmentClaim) -> Result<ShipmentClaim, StoreError>;
    /// Appends an event; returns its id.
    async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError>;
    /// Applies `t` like [`Store::transition`] and, when it was applied, appends `event` (an event of the same order)
    /// — in one trip to the database. Whether it was applied.
    async fn transition_with_event(&self, order_id: &str, t: &Transition, event: &NewEvent)
    -> Result<bool, StoreError>;
    /// An order's events, oldest first.
    async fn events(&self, order_id: &str, limit: u32) -> Result<Vec<EventRow>, StoreError>;
    /// The details of an order's completed attempts of `activity`, newest first, at most `limit`.
    async fn completed_details(
        &self,
        order_id: &str,
        activity: &str,
        limit: u32,
    ) -> Result<Vec<serde_json::Value>, StoreError>;
    /// Failure counts, the newest `recent` failures and the attention message of an order's events, without reading
    /// them all.
    async fn event_summary(&self, order_id: &str, recent: u32) -> Result<EventSummary, StoreError>;
    /// Per activity, the plugin version the order's newest attempt of it ran.
    async fn plugin_runs(&self, order_id: &str) -> Result<Vec<DigestRun>, StoreError>;

    /// The newest failed attempt's message of each of `order_ids` that has one.
    async fn last_errors(&self, order_ids: &[String]) -> Result<Vec<(String, String)>, StoreError>;
    /// The newest failed activity attempts of all orders, newest first.
    async fn recent_failures(&self, limit: u32) -> Result<Vec<EventRow>, StoreError>;
    /// How many orders were received at or after `since`.
    async fn count_created_since(&self, since: DateTime<Utc>) -> Result<u64, StoreError>;

    /// How many orders have an `attention` event.
    async fn count_needing_attention(&self) -> Result<u64, StoreError>;
    /// Orders with an `attention` event (something a person must look at), with the latest message; most recent
    /// first.
    async fn needing_attention(&self, limit: u32) -> Result<Vec<(String, String)>, StoreError>;
    /// Every order row with its payments, for the audit: `(order, payments)`, oldest first, a page at a time.
    async fn audit_page(&self, after: Option<&str>, limit: u32)
    -> Result<Vec<(OrderRow, Vec<PaymentRow>)>, StoreError>;

    async fn record_plugin_version(&self, version: &PluginVersionRow) -> Result<(), StoreError>;
    /// Newest first.
    async fn plugin_versions(&self, slot: Option<&str>, limit: u32) -> Result<Vec<PluginVersionRow>, StoreError>;
}

/// Connects to `url` (`postgres://…` or `sqlite://…`), creating a SQLite file and its directory if missing.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// Connects and applies migrations: what `serve`, `worker` and `migrate` do at start-up.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let store = connect(url).await?;
    store.migrate().await?;
    Ok(store)
}
