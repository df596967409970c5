//! Archival passages: long-term text the agent writes and searches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Passage {
    pub id: u64,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// Where the passage came from: "agent" (archival_memory_insert), "user" (CLI or UI).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
}
