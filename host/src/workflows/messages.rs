//! Commands as they cross Temporal: signal and update payloads decoded once into the lifecycle's typed [`Command`]s.
//!
//! Signal and update handlers take [`RawValue`]: it is the only input type the SDK accepts with no payload at all
//! (`approve_order` is sent bare by the seed and the CLI), and a payload that fails to decode inside the SDK fails
//! the whole workflow task, over and over. Decoding here instead turns bad input into a refusal (update) or a note
//! (signal), and the workflow keeps running.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use temporalio_common::data_converters::RawValue;
use temporalio_common::{SignalDefinition, UntypedWorkflow};

use crate::domain::{Address, Command, OrderInput, Refusal};

pub use crate::domain::payloads::{
    CancelRequest, CommandOutcome, DispatchApproval, DispatchFailed, PackageReady, ShipmentChange,
    ShipmentChangeAnswer, ShippingInput, ShippingResult,
};

/// A signal to the parent `OrderWorkflow`, by its contract name: the shipping child needs no compile-time link to
/// its parent's code (and the parent decodes the payload itself, see the module docs).
#[derive(Debug)]
pub struct ToParent<T> {
    name: &'static str,
    input: PhantomData<fn(T)>,
}

impl<T: Serialize + DeserializeOwned + 'static> SignalDefinition for ToParent<T> {
    type Workflow = UntypedWorkflow;
    type Input = T;

    fn name(&self) -> &str {
        self.name
    }
}

/// Child → parent: the parcel is packed; may it be dispatched?
pub const PACKAGE_READY: ToParent<PackageReady> = ToParent { name: "package_ready", input: PhantomData };
/// Child → parent: this shipment cannot be dispatched.
pub const DISPATCH_FAILED: ToParent<DispatchFailed> = ToParent { name: "dispatch_failed", input: PhantomData };
/// Child → parent (delegated dispatch): whether a change the parent asked was taken.
pub const SHIPMENT_CHANGE_ANSWERED: ToParent<ShipmentChangeAnswer> =
    ToParent { name: "shipment_change_answered", input: PhantomData };

/// The workflow's input: an order, or why it is not one (missing, not JSON, the wrong shape). Decoded here, not by
/// the SDK, so a malformed start from the `temporal` CLI ends its run with the reason instead of failing every
/// workflow task of it.
pub fn order_input(raw: &RawValue) -> Result<OrderInput, String> {
    decode_optional::<OrderInput>(raw)
        .map_err(|e| format!("the workflow input is not an order: {e}"))?
        .ok_or_else(|| "the workflow input is missing: start it with an order".to_owned())
}

/// The workflow input that starts `order` on this code's revision of the lifecycle ([`super::patches::REVISION`]):
/// the order's fields and `"revision"` beside them.
pub fn start_input(order: &OrderInput) -> RawValue {
    #[derive(Serialize)]
    struct Start<'a> {
        #[serde(flatten)]
        order: &'a OrderInput,
        revision: u32,
    }
    to_raw(Some(&Start { order, revision: super::patches::REVISION }))
}

/// The revision of the lifecycle the workflow input asks for: 0 when it names none, or is not an order at all.
pub fn revision(raw: &RawValue) -> u32 {
    let input = decode_optional::<serde_json::Map<String, serde_json::Value>>(raw).ok().flatten();
    input.and_then(|fields| u32::try_from(fields.get("revision")?.as_u64()?).ok()).unwrap_or(0)
}

/// `approve_order`: any payload (none, `{}`) approves.
pub fn approve(_raw: &RawValue) -> Command {
    Command::Approve
}

/// `cancel_order` (`{"reason"?}`), strictly: a payload that is there must fit (updates answer why not).
pub fn cancel(raw: &RawValue) -> Result<Command, Refusal> {
    let request = decode_optional::<CancelRequest>(raw).map_err(Refusal::Invalid)?.unwrap_or_default();
    Ok(Command::Cancel { reason: request.reason })
}

/// `cancel_order` sent as a signal: nobody hears a refusal, so a payload that does not fit still cancels, without
/// its reason — a cancel is never lost to a typo.
pub fn cancel_leniently(raw: &RawValue) -> Command {
    cancel(raw).unwrap_or(Command::Cancel { reason: None })
}

/// `update_address` (`{"street","city","state","zip_code"}`), parsed into a checked [`Address`].
pub fn update_address(raw: &RawValue) -> Result<Command, Refusal> {
    let address = decode_optional::<Address>(raw)
        .map_err(Refusal::Invalid)?
        .ok_or_else(|| Refusal::Invalid("an address is required: street, city, state, zip_code".into()))?;
    Address::parse(&address).map(Command::UpdateAddress).map_err(|e| Refusal::Invalid(e.to_string()))
}

/// `package_ready` from the shipping child.
pub fn package_ready(raw: &RawValue) -> Result<Command, Refusal> {
    match decode_optional::<PackageReady>(raw).map_err(Refusal::Invalid)? {
        Some(PackageReady { shipment, package_id }) => Ok(Command::PackageReady { shipment, package_id }),
        None => Err(Refusal::Invalid("package_ready needs {\"shipment\",\"package_id\"}".into())),
    }
}

/// `dispatch_failed` from the shipping child.
pub fn dispatch_failed(raw: &RawValue) -> Result<Command, Refusal> {
    match decode_optional::<DispatchFailed>(raw).map_err(Refusal::Invalid)? {
        Some(DispatchFailed { shipment, reason }) => Ok(Command::DispatchFailed { shipment, reason }),
        None => Err(Refusal::Invalid("dispatch_failed needs {\"reason\"}".into())),
    }
}

/// `shipment_change_answered` from a delegated shipment's child.
pub fn shipment_change_answered(raw: &RawValue) -> Result<Command, Refusal> {
    match decode_optional::<ShipmentChangeAnswer>(raw).map_err(Refusal::Invalid)? {
        Some(ShipmentChangeAnswer { shipment, change, taken }) => {
            Ok(Command::ShipmentAnswered { shipment, change, taken })
        }
        None => Err(Refusal::Invalid("shipment_change_answered needs {\"shipment\",\"change\",\"taken\"}".into())),
    }
}

/// `change_shipment` from the parent, for the shipping child (`None`: not a change).
pub fn shipment_change(raw: &RawValue) -> Option<ShipmentChange> {
    decode_optional::<ShipmentChange>(raw).ok().flatten()
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
    fn commands_decode_once_into_typed_values() {
        assert_eq!(approve(&RawValue::new(vec![])), Command::Approve);
        assert_eq!(cancel(&json("{}")).unwrap(), Command::Cancel { reason: None });
        assert!(matches!(cancel(&json(r#"{"reason":7}"#)), Err(Refusal::Invalid(_))));
        assert_eq!(cancel_leniently(&json(r#"{"reason":7}"#)), Command::Cancel { reason: None });
        let address = r#"{"street":" 1 Main St ","city":"Springfield","state":"il","zip_code":"62701"}"#;
        let Command::UpdateAddress(parsed) = update_address(&json(address)).unwrap() else { panic!("not an address") };
        assert_eq!((parsed.street.as_str(), parsed.state.as_str()), ("1 Main St", "IL"));
        assert!(matches!(update_address(&RawValue::new(vec![])), Err(Refusal::Invalid(_))));
        let bad = r#"{"street":"1 Main St","city":"Springfield","state":"ZZZ","zip_code":"0"}"#;
        assert!(matches!(update_address(&json(bad)), Err(Refusal::Invalid(m)) if m.contains("two-letter")));
        assert!(matches!(dispatch_failed(&json("[1,2]")), Err(Refusal::Invalid(_))));
        assert_eq!(
            package_ready(&json(r#"{"shipment":2,"package_id":"p"}"#)).unwrap(),
            Command::PackageReady { shipment: 2, package_id: "p".into() }
        );
    }

    #[test]
    fn to_raw_round_trips() {
        let request = CancelRequest { reason: Some("late".into()) };
        assert_eq!(decode_optional::<CancelRequest>(&to_raw(Some(&request))).unwrap(), Some(request));
        assert_eq!(decode_optional::<CancelRequest>(&to_raw::<CancelRequest>(None)).unwrap(), None);
    }

    #[test]
    fn a_start_asks_for_this_revision_and_is_still_an_order() {
        let order = OrderInput {
            order_id: "order-1".into(),
            payment_id: "pay-1".into(),
            items: crate::domain::sample::items(),
            address: crate::domain::sample::address(),
            options: crate::domain::OrderOptions::default(),
        };
        let raw = start_input(&order);
        assert_eq!(order_input(&raw).unwrap(), order);
        assert_eq!(revision(&raw), super::super::patches::REVISION);
        // Starts that name no revision, or name it wrongly, ask for none: their runs record markers.
        assert_eq!(revision(&to_raw(Some(&order))), 0);
        assert_eq!(revision(&json(r#"{"order_id":"o","revision":"1"}"#)), 0);
        assert_eq!(revision(&json("[1]")), 0);
        assert_eq!(revision(&json(r#"{"revision":4294967297}"#)), 0);
        assert_eq!(revision(&RawValue::new(vec![])), 0);
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
