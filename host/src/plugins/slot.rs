//! The three slots a plugin can fill, and the WIT world each one requires.

use std::fmt;
use std::str::FromStr;

/// A place in the order lifecycle that runs a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    /// Checks an order and computes its total (world `validator`).
    Validation,
    /// Charges and refunds (world `payment-processor`).
    Payment,
    /// Packs and dispatches (world `shipper`).
    Shipping,
}

impl Slot {
    /// Every slot, in lifecycle order.
    pub const ALL: [Slot; 3] = [Slot::Validation, Slot::Payment, Slot::Shipping];

    /// The slot's name as used in URLs, file names and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Validation => "validation",
            Slot::Payment => "payment",
            Slot::Shipping => "shipping",
        }
    }

    /// The WIT world (in `order:plugins@0.1.0`) a component must implement to fill this slot.
    pub fn world(self) -> &'static str {
        match self {
            Slot::Validation => "validator",
            Slot::Payment => "payment-processor",
            Slot::Shipping => "shipper",
        }
    }

    /// The file the host loads from the plugins directory: `<slot>.wasm`.
    pub fn file_name(self) -> String {
        format!("{}.wasm", self.as_str())
    }

    /// The slot whose file this is, if any.
    pub fn from_file_name(name: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|slot| name == slot.file_name())
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A slot name that is none of `validation`, `payment`, `shipping`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown plugin slot {0:?}: expected one of validation, payment, shipping")]
pub struct UnknownSlot(pub String);

impl FromStr for Slot {
    type Err = UnknownSlot;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slot::ALL.into_iter().find(|slot| slot.as_str() == s).ok_or_else(|| UnknownSlot(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for slot in Slot::ALL {
            assert_eq!(slot.as_str().parse::<Slot>().unwrap(), slot);
            assert_eq!(Slot::from_file_name(&slot.file_name()), Some(slot));
        }
        assert!("Payment".parse::<Slot>().is_err());
        assert_eq!(Slot::from_file_name("payment.wasm.tmp"), None);
    }
}
