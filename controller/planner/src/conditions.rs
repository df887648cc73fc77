//! Builds status conditions in the standard shape, keeping `lastTransitionTime` from the
//! previous status when a condition's status has not flipped.

use tenantry_api::conditions::{READY, STALLED};
use tenantry_api::{Condition, ConditionStatus};

/// The conditions of one object, computed against its previous ones.
pub struct Conditions<'a> {
    previous: &'a [Condition],
    now: &'a str,
    generation: Option<i64>,
    conditions: Vec<Condition>,
}

impl<'a> Conditions<'a> {
    /// Starts from the object's previous conditions, the current time and its generation.
    pub fn new(previous: &'a [Condition], now: &'a str, generation: Option<i64>) -> Self {
        Conditions { previous, now, generation, conditions: Vec::new() }
    }

    /// Sets one condition.
    pub fn set(&mut self, type_: &str, status: ConditionStatus, reason: &str, message: impl Into<String>) {
        let last_transition_time = self
            .previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| self.now.to_string());
        self.conditions.retain(|c| c.type_ != type_);
        self.conditions.push(Condition {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message: message.into(),
            last_transition_time,
            observed_generation: self.generation,
        });
    }

    /// Sets `Ready` (and `Stalled` when the object needs a human to fix it).
    pub fn readiness(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Ready { reason, message } => {
                self.set(READY, ConditionStatus::True, reason, message.clone());
            }
            Verdict::NotReady { reason, message, stalled } => {
                self.set(READY, ConditionStatus::False, reason, message.clone());
                if *stalled {
                    self.set(STALLED, ConditionStatus::True, reason, message.clone());
                }
            }
        }
    }

    /// The finished list, sorted by type so the output is stable.
    pub fn finish(mut self) -> Vec<Condition> {
        self.conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
        self.conditions
    }
}

/// Whether an object is ready, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Everything declared is in place.
    Ready {
        /// CamelCase reason.
        reason: String,
        /// One line for humans.
        message: String,
    },
    /// Something is missing or refused.
    NotReady {
        /// CamelCase reason, such as UnknownTier.
        reason: String,
        /// One line for humans, naming the field or object at fault.
        message: String,
        /// Whether only a change by a human can fix it (kstatus `Stalled`).
        stalled: bool,
    },
}

impl Verdict {
    /// A ready verdict.
    pub fn ready(reason: &str, message: impl Into<String>) -> Self {
        Verdict::Ready { reason: reason.to_string(), message: message.into() }
    }

    /// A verdict that needs a human to change something.
    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Verdict::NotReady { reason: reason.to_string(), message: message.into(), stalled: true }
    }

    /// Not ready, on purpose (paused, suspended): nothing to fix.
    pub fn idle(reason: &str, message: impl Into<String>) -> Self {
        Verdict::NotReady { reason: reason.to_string(), message: message.into(), stalled: false }
    }

    /// The reason, whatever the verdict.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Ready { reason, .. } | Verdict::NotReady { reason, .. } => reason,
        }
    }

    /// The message, whatever the verdict.
    pub fn message(&self) -> &str {
        match self {
            Verdict::Ready { message, .. } | Verdict::NotReady { message, .. } => message,
        }
    }
}
