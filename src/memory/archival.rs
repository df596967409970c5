//! Archival passages: long-term text the agent writes and searches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Passage {
    pub id: u64,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Where the passage came from: "agent" (archival_memory_insert), "user" (CLI or UI),
    /// "document" (`memscope load`, `/load`).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
    /// The document a loaded passage was cut from, and where in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where in a loaded document a passage was cut from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The path as it was given (or found under a directory that was given); `-` for stdin.
    pub path: String,
    /// Which passage of the document this is, from 1, of `parts`.
    pub part: u32,
    pub parts: u32,
    /// The first and last line (from 1) of the document it spans; none for documents that
    /// were converted to text first (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<(u32, u32)>,
}

impl Origin {
    /// `notes/plan.md:12-40 (2/5)`.
    pub fn describe(&self) -> String {
        let lines = match self.lines {
            Some((a, b)) if a == b => format!(":{a}"),
            Some((a, b)) => format!(":{a}-{b}"),
            None => String::new(),
        };
        format!("{}{lines} ({}/{})", self.path, self.part, self.parts)
    }
}
