//! Signal, update and child-workflow payloads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use temporalio_common::data_converters::RawValue;

use crate::domain::{Address, OrderInput, OrderState};

/// `cancel_order`'s optional payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// What an accepted command (update) answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    pub order_id: String,
    /// `approve_order`, `cancel_order` or `update_address`.
    pub command: String,
    /// The order's state right after the command was applied.
    pub state: OrderState,
    pub message: String,
}

/// Child → parent: the parcel is packed; may it be dispatched?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageReady {
    pub shipment: u32,
    pub package_id: String,
}

/// Child → parent (`dispatch_failed`): this shipment cannot be dispatched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchFailed {
    #[serde(default)]
    pub shipment: u32,
    pub reason: String,
}

/// Parent → child: dispatch to this address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchApproval {
    pub address: Address,
}

/// `ShippingWorkflow`'s input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingInput {
    pub order: OrderInput,
    /// 1 for the first shipping attempt.
    pub shipment: u32,
    pub parent_workflow_id: String,
    /// Sequence number of the `shipped` state write, reserved by the parent.
    pub shipped_seq: u32,
    pub activity_timeout_ms: u64,
}

/// `ShippingWorkflow`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingResult {
    pub package_id: String,
    pub carrier: String,
    pub tracking: String,
    pub eta_days: u32,
    /// Retries per activity inside the child.
    pub retries: std::collections::BTreeMap<String, u32>,
    pub plugin: crate::domain::PluginRun,
}

/// A JSON payload (`json/plain`) for a command sent as a [`RawValue`]; `None` sends no payload at all.
pub fn to_raw<T: Serialize>(value: Option<&T>) -> RawValue {
    use temporalio_common::protos::temporal::api::common::v1::Payload;
    let payloads = value
        .map(|v| Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: serde_json::to_vec(v).unwrap_or_default(),
            ..Payload::default()
        })
        .into_iter()
        .collect();
    RawValue::new(payloads)
}

/// Decodes an optional JSON payload: no payload, a JSON `null` or an empty body all mean "absent".
pub fn decode_optional<T: DeserializeOwned>(raw: &RawValue) -> Result<Option<T>, String> {
    let Some(payload) = raw.payloads.first() else { return Ok(None) };
    let encoding = payload.metadata.get("encoding").map(Vec::as_slice);
    if payload.data.is_empty() || encoding == Some(b"binary/null".as_slice()) || payload.data == b"null" {
        return Ok(None);
    }
    serde_json::from_slice(&payload.data)
        .map(Some)
        .map_err(|e| format!("payload is not valid JSON for this command: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::Payload;

    #[test]
    fn to_raw_round_trips() {
        let request = CancelRequest { reason: Some("late".into()) };
        assert_eq!(decode_optional::<CancelRequest>(&to_raw(Some(&request))).unwrap(), Some(request));
        assert_eq!(decode_optional::<CancelRequest>(&to_raw::<CancelRequest>(None)).unwrap(), None);
    }

    fn json(data: &str) -> RawValue {
        RawValue::new(vec![Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Payload::default()
        }])
    }

    #[test]
    fn optional_payloads() {
        assert_eq!(decode_optional::<CancelRequest>(&RawValue::new(vec![])).unwrap(), None);
        assert_eq!(decode_optional::<CancelRequest>(&json("null")).unwrap(), None);
        assert_eq!(decode_optional::<CancelRequest>(&json("{}")).unwrap(), Some(CancelRequest::default()));
        assert_eq!(
            decode_optional::<CancelRequest>(&json(r#"{"reason":"changed my mind"}"#))
                .unwrap()
                .unwrap()
                .reason
                .as_deref(),
            Some("changed my mind")
        );
        assert!(decode_optional::<Address>(&json(r#"{"street":1}"#)).is_err());
    }
}
