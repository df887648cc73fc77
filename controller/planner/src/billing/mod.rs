//! Billing: what a tenant owes for a month, computed from the history the operator keeps.
//!
//! [`money`] holds the arithmetic (integer minor units, exact fractions, one rounding),
//! [`period`] the calendar (UTC months measured by the second) and [`ledger`] the lines of a
//! bill. Nothing here reads a clock: the instant a bill is computed at is an argument.

pub mod history;
pub mod ledger;
pub mod money;
pub mod period;
pub mod records;
pub mod revenue;
pub mod sla;
pub mod tenant;

pub use ledger::{bill, estimate, Bill, TierPrices, TierStint, Usage};
pub use money::{Currency, Exact};
pub use period::{BadPeriod, Period, Span};
pub use records::ClosingRules;
