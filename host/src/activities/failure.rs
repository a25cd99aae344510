//! Failure simulation, applied at the start of every business activity.
//!
//! - `off`: nothing is injected (the default).
//! - `trellis`: the Trellis rule — 33 % of attempts fail with a retryable error, 34 % hang far past the activity's
//!   start-to-close timeout (until Temporal cuts them off or cancels them), 33 % pass. With a seed the choice is a
//!   pure function of (seed, workflow id, activity, attempt), so a run can be replayed exactly.
//! - Injections (`FAILURE_INJECT`, e.g. `charge_payment:after:2`) make the first N attempts of one activity fail
//!   before or after doing their work, to prove retries are idempotent.

use std::hash::{DefaultHasher, Hash, Hasher};

use crate::domain::Activity;

/// The simulation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailureMode {
    /// No injected failures.
    #[default]
    Off,
    /// 33 % retryable error, 34 % hang, 33 % pass.
    Trellis,
}

/// When an injected failure strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectAt {
    /// Before the activity does anything.
    Before,
    /// After its work is done and recorded, before it reports success (a crash at the worst moment).
    After,
}

/// `activity:before|after:N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    pub activity: Activity,
    pub at: InjectAt,
    pub attempts: u32,
}

/// What the simulation decides for one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Hang,
}

/// The configured simulation.
#[derive(Debug, Clone, Default)]
pub struct FailureSimulation {
    pub mode: FailureMode,
    pub seed: Option<u64>,
    pub injections: Vec<Injection>,
}

impl FailureSimulation {
    /// The Trellis verdict for this attempt (always `Pass` when off).
    pub fn verdict(&self, workflow_id: &str, activity: Activity, attempt: u32) -> Verdict {
        if self.mode == FailureMode::Off {
            return Verdict::Pass;
        }
        let roll = match self.seed {
            Some(seed) => {
                let mut h = DefaultHasher::new();
                (seed, workflow_id, activity.name(), attempt).hash(&mut h);
                h.finish() % 100
            }
            None => rand::random::<u64>() % 100,
        };
        match roll {
            0..=32 => Verdict::Fail,
            33..=66 => Verdict::Hang,
            _ => Verdict::Pass,
        }
    }

    /// Whether an injection makes this attempt fail at `at`.
    pub fn injected(&self, activity: Activity, attempt: u32, at: InjectAt) -> bool {
        self.injections.iter().any(|i| i.activity == activity && i.at == at && attempt <= i.attempts)
    }
}

/// Parsed `FAILURE_INJECT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injections(pub Vec<Injection>);

/// Parses `FAILURE_INJECT`: comma-separated `activity:before|after:N`.
pub fn parse_injections(s: &str) -> Result<Injections, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let fields: Vec<&str> = part.split(':').collect();
            let [activity, at, n] = fields[..] else {
                return Err(format!("{part:?}: expected <activity>:<before|after>:<attempts>"));
            };
            let at = match at {
                "before" => InjectAt::Before,
                "after" => InjectAt::After,
                other => return Err(format!("{other:?}: expected before or after")),
            };
            let activity = activity.parse::<Activity>()?;
            let attempts = n.parse().map_err(|_| format!("{n:?} is not a number of attempts"))?;
            Ok(Injection { activity, at, attempts })
        })
        .collect::<Result<_, _>>()
        .map(Injections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trellis_split_is_33_34_33_and_seeded_runs_repeat() {
        let sim = FailureSimulation { mode: FailureMode::Trellis, seed: Some(7), injections: vec![] };
        let mut counts = [0u32; 3];
        for i in 0..30_000 {
            let v = sim.verdict(&format!("order-{i}"), Activity::ValidateOrder, 1);
            assert_eq!(v, sim.verdict(&format!("order-{i}"), Activity::ValidateOrder, 1), "seeded verdicts repeat");
            counts[match v {
                Verdict::Fail => 0,
                Verdict::Hang => 1,
                Verdict::Pass => 2,
            }] += 1;
        }
        for (count, expected) in counts.iter().zip([0.33, 0.34, 0.33]) {
            let share = f64::from(*count) / 30_000.0;
            assert!((share - expected).abs() < 0.015, "{counts:?}");
        }
    }

    #[test]
    fn off_always_passes() {
        let sim = FailureSimulation::default();
        assert!((1..100).all(|a| sim.verdict("o", Activity::ChargePayment, a) == Verdict::Pass));
    }

    #[test]
    fn injections() {
        let parsed = parse_injections("charge_payment:after:2, validate_order:before:1").unwrap().0;
        let sim = FailureSimulation { injections: parsed, ..FailureSimulation::default() };
        assert!(sim.injected(Activity::ChargePayment, 2, InjectAt::After));
        assert!(!sim.injected(Activity::ChargePayment, 3, InjectAt::After));
        assert!(!sim.injected(Activity::ChargePayment, 1, InjectAt::Before));
        assert!(sim.injected(Activity::ValidateOrder, 1, InjectAt::Before));
        assert!(parse_injections("x:during:1").is_err());
        assert!(parse_injections("x:before").is_err());
        assert!(parse_injections("charge:before:1").is_err(), "an unknown activity is refused, not ignored");
        assert_eq!(parse_injections("").unwrap(), Injections::default());
    }
}
