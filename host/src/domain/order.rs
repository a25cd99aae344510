//! An order as clients send it: id, payment id, items, address.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An order id: 1–64 characters from `A–Z a–z 0–9 . _ -`. It is also the Temporal workflow id, so it must not look
/// like a shipping child's id (`<order id>-shipping-<n>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(String);

/// Why a string is not an order id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderIdError {
    /// Empty or longer than 64 characters.
    #[error("order id must be 1–64 characters long")]
    Length,
    /// A character outside `A–Z a–z 0–9 . _ -`.
    #[error("order id may only contain letters, digits, '.', '_' and '-'")]
    Characters,
    /// Ends like a shipping child workflow id.
    #[error("order id may not end in -shipping-<number>: that names a shipping workflow")]
    Reserved,
}

impl OrderId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses an order id.
    pub fn parse(s: &str) -> Result<OrderId, OrderIdError> {
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(OrderIdError::Length);
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(OrderIdError::Characters);
        }
        if let Some((_, n)) = s.rsplit_once("-shipping-")
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(OrderIdError::Reserved);
        }
        Ok(OrderId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The workflow id of this order's `n`-th shipping attempt.
    pub fn shipping_workflow_id(&self, n: u32) -> String {
        shipping_workflow_id(&self.0, n)
    }
}

/// The workflow id of shipping attempt `n` of the order whose workflow id is `order_id`: `<order id>-shipping-<n>`.
pub fn shipping_workflow_id(order_id: &str, n: u32) -> String {
    format!("{order_id}-shipping-{n}")
}

impl TryFrom<String> for OrderId {
    type Error = OrderIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        OrderId::parse(&s)
    }
}

impl From<OrderId> for String {
    fn from(id: OrderId) -> String {
        id.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A payment id: 1–64 characters from `A–Z a–z 0–9 . _ -`. The payment processor's idempotency key, so the same rule
/// holds whether the order came through the REST API or was started with the `temporal` CLI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PaymentId(String);

/// Why a string is not a payment id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payment_id must be 1–64 characters from letters, digits, '.', '_' and '-'")]
pub struct PaymentIdError;

impl PaymentId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses a payment id.
    pub fn parse(s: &str) -> Result<PaymentId, PaymentIdError> {
        let ok = (1..=Self::MAX_LEN).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok { Ok(PaymentId(s.to_owned())) } else { Err(PaymentIdError) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PaymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    /// Stock-keeping unit, e.g. `SKU-001`.
    pub sku: String,
    /// Units ordered.
    pub quantity: u32,
    /// Price of one unit in cents.
    pub unit_price_cents: u64,
}

/// A US postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    pub street: String,
    pub city: String,
    /// Two-letter state code.
    pub state: String,
    /// `12345` or `12345-6789`.
    pub zip_code: String,
}

/// Why an address was refused before it reached the workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address: {}", self.messages().join("; "))]
pub struct AddressError {
    /// Each problem with the field it is about (`street`, `city`, `state`, `zip_code`).
    pub problems: Vec<(&'static str, String)>,
}

impl AddressError {
    /// The problems' sentences, in order.
    pub fn messages(&self) -> Vec<&str> {
        self.problems.iter().map(|(_, m)| m.as_str()).collect()
    }
}

impl Address {
    /// Longest street or city accepted.
    pub const MAX_FIELD_LEN: usize = 200;

    /// Checks the address's shape (fields present, state two letters, ZIP 5 digits or ZIP+4) and trims it. Whether
    /// the state exists and the order as a whole is acceptable is the validation plugin's call.
    pub fn parse(raw: &Address) -> Result<Address, AddressError> {
        let mut problems = Vec::new();
        let street = raw.street.trim().to_owned();
        let city = raw.city.trim().to_owned();
        let state = raw.state.trim().to_ascii_uppercase();
        let zip_code = raw.zip_code.trim().to_owned();
        for (field, value) in [("street", &street), ("city", &city)] {
            if value.is_empty() {
                problems.push((field, format!("{field} is missing")));
            } else if value.chars().count() > Self::MAX_FIELD_LEN {
                problems.push((field, format!("{field} is longer than {} characters", Self::MAX_FIELD_LEN)));
            }
        }
        if !(state.len() == 2 && state.bytes().all(|b| b.is_ascii_uppercase())) {
            problems.push(("state", format!("state {:?} must be a two-letter code", raw.state)));
        }
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let zip_ok = match zip_code.split_once('-') {
            None => digits(&zip_code, 5),
            Some((five, four)) => digits(five, 5) && digits(four, 4),
        };
        if !zip_ok {
            problems.push(("zip_code", format!("zip_code {:?} must be 5 digits or ZIP+4 (12345-6789)", raw.zip_code)));
        }
        if problems.is_empty() { Ok(Address { street, city, state, zip_code }) } else { Err(AddressError { problems }) }
    }
}

/// What happens when nobody approves an order in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutAction {
    /// Cancel the order (the default: nothing is charged without approval).
    #[default]
    Cancel,
    /// Approve it (for unattended runs and demos).
    Approve,
}

/// Per-order overrides of the worker's defaults; absent fields take the worker's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderOptions {
    /// How long to wait for `approve_order` (milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_ms: Option<u64>,
    /// What to do when the wait ends without approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_action: Option<TimeoutAction>,
    /// How many shipping workflows to try before the order fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_shipping_attempts: Option<u32>,
}

impl OrderOptions {
    /// Shortest per-order approval timeout: anything shorter lets the timeout, not a person, decide.
    pub const MIN_APPROVAL_TIMEOUT_MS: u64 = 1_000;
    /// Longest per-order approval timeout (7 days).
    pub const MAX_APPROVAL_TIMEOUT_MS: u64 = 7 * 24 * 3_600 * 1_000;
    /// Most shipping workflows one order may try.
    pub const MAX_SHIPPING_ATTEMPTS: u32 = 10;

    pub fn approval_timeout(&self) -> Option<Duration> {
        self.approval_timeout_ms.map(Duration::from_millis)
    }

    /// Checks every option is within its allowed range; the error names each one that is not, with the range.
    pub fn check(&self) -> Result<(), OptionsError> {
        let mut problems = Vec::new();
        if let Some(ms) = self.approval_timeout_ms
            && !(Self::MIN_APPROVAL_TIMEOUT_MS..=Self::MAX_APPROVAL_TIMEOUT_MS).contains(&ms)
        {
            problems.push(format!(
                "options.approval_timeout_ms {ms} must be between {} (1 s) and {} (7 days)",
                Self::MIN_APPROVAL_TIMEOUT_MS,
                Self::MAX_APPROVAL_TIMEOUT_MS
            ));
        }
        if let Some(n) = self.max_shipping_attempts
            && !(1..=Self::MAX_SHIPPING_ATTEMPTS).contains(&n)
        {
            problems.push(format!(
                "options.max_shipping_attempts {n} must be between 1 and {}",
                Self::MAX_SHIPPING_ATTEMPTS
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(OptionsError { problems }) }
    }
}

/// Per-order options out of their allowed ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", problems.join("; "))]
pub struct OptionsError {
    pub problems: Vec<String>,
}

/// The input of `OrderWorkflow`, as JSON:
/// `{"order_id","payment_id","items":[{"sku","quantity","unit_price_cents"}],"address":{…}}` plus optional `options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInput {
    pub order_id: String,
    pub payment_id: String,
    pub items: Vec<Item>,
    pub address: Address,
    #[serde(default, skip_serializing_if = "is_default")]
    pub options: OrderOptions,
}

fn is_default(o: &OrderOptions) -> bool {
    *o == OrderOptions::default()
}

impl OrderInput {
    /// The largest order total the host accepts, whatever the validator says: $99,999,999.99, what the seed's
    /// `payments.amount NUMERIC(10,2)` holds.
    pub const MAX_TOTAL_CENTS: u64 = 9_999_999_999;

    /// Sum of quantity × unit price (saturating; the validator refuses totals that overflow).
    pub fn total_cents(&self) -> u64 {
        self.items.iter().fold(0u64, |t, i| t.saturating_add(u64::from(i.quantity).saturating_mul(i.unit_price_cents)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids() {
        assert!(OrderId::parse("order-123").is_ok());
        assert!(OrderId::parse("A.b_C-9").is_ok());
        assert_eq!(OrderId::parse(""), Err(OrderIdError::Length));
        assert_eq!(OrderId::parse(&"x".repeat(65)), Err(OrderIdError::Length));
        assert_eq!(OrderId::parse("order 1"), Err(OrderIdError::Characters));
        assert_eq!(OrderId::parse("order/1"), Err(OrderIdError::Characters));
        assert_eq!(OrderId::parse("order-1-shipping-2"), Err(OrderIdError::Reserved));
        assert!(OrderId::parse("order-1-shipping-x").is_ok());
        assert_eq!(OrderId::parse("o-1").unwrap().shipping_workflow_id(3), "o-1-shipping-3");
    }

    #[test]
    fn options_are_bounded() {
        let ok =
            OrderOptions { approval_timeout_ms: Some(1_000), max_shipping_attempts: Some(10), ..Default::default() };
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(OrderOptions::default().check(), Ok(()));
        for bad in [
            OrderOptions { approval_timeout_ms: Some(1), ..Default::default() },
            OrderOptions { approval_timeout_ms: Some(300_000_000_000_000), ..Default::default() },
            OrderOptions { max_shipping_attempts: Some(0), ..Default::default() },
            OrderOptions { max_shipping_attempts: Some(u32::MAX), ..Default::default() },
        ] {
            let err = bad.check().unwrap_err();
            assert!(err.to_string().contains("must be between"), "{err}");
        }
    }

    #[test]
    fn payment_ids() {
        assert_eq!(PaymentId::parse("payment-456").unwrap().as_str(), "payment-456");
        assert!(PaymentId::parse(&"p".repeat(64)).is_ok());
        assert_eq!(PaymentId::parse(&"p".repeat(65)), Err(PaymentIdError));
        assert_eq!(PaymentId::parse(""), Err(PaymentIdError));
        assert_eq!(PaymentId::parse("pay ment"), Err(PaymentIdError));
    }

    #[test]
    fn addresses_are_trimmed_and_checked() {
        let raw = Address {
            street: " 1 Main St ".into(),
            city: "Springfield".into(),
            state: "il".into(),
            zip_code: "62701-1234".into(),
        };
        let parsed = Address::parse(&raw).unwrap();
        assert_eq!((parsed.street.as_str(), parsed.state.as_str()), ("1 Main St", "IL"));

        let err = Address::parse(&Address {
            street: String::new(),
            city: "x".repeat(201),
            state: "Illinois".into(),
            zip_code: "6270".into(),
        })
        .unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, ["street", "city", "state", "zip_code"], "{err}");
    }

    #[test]
    fn input_json_matches_the_contract() {
        let json = r#"{"order_id":"order-123","payment_id":"payment-456",
            "items":[{"sku":"SKU-001","quantity":2,"unit_price_cents":1500}],
            "address":{"street":"1 Main St","city":"Springfield","state":"IL","zip_code":"62701"}}"#;
        let input: OrderInput = serde_json::from_str(json).unwrap();
        assert_eq!(input.total_cents(), 3000);
        assert_eq!(input.options, OrderOptions::default());
        let back = serde_json::to_value(&input).unwrap();
        assert!(back.get("options").is_none(), "default options are not serialized");
    }
}
