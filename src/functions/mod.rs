//! The memory functions the model may call: their schemas, and turning a raw tool call into a
//! validated [`Call`].
//!
//! Contract: [`spec`] is the one table of names, parameters and descriptions; the tool schemas
//! sent to the model are generated from it. [`parse_call`] never panics on model output: it
//! tries a tolerant JSON repair, checks the function exists, that required parameters are there,
//! that no unknown ones are, and that types match (coercing only the unambiguous cases), and
//! reports every repair it made. Anything else is a [`CallError`] whose message tells the model
//! what to fix.

pub mod json_mode;
mod parse;
pub mod repair;
pub mod spec;
pub mod text_call;

pub use parse::{Call, CallError, ParsedCall, parse_call};
pub use spec::{FUNCTIONS, tools_json};

/// Longest argument string accepted from the model.
pub const MAX_ARGUMENT_BYTES: usize = 64 * 1024;
