//! Core memory: ordered, labelled text blocks that are always in the main context.
//!
//! Contract: every edit checks the block's character limit and read-only flag *before* writing,
//! so a failed edit leaves the value unchanged. Limits count Unicode characters, not bytes.

use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: usize = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub label: String,
    pub value: String,
    pub limit: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

impl Block {
    pub fn new(label: &str, value: &str) -> Self {
        Block {
            label: label.to_string(),
            value: value.to_string(),
            limit: DEFAULT_LIMIT,
            description: None,
            read_only: false,
        }
    }

    pub fn chars(&self) -> usize {
        self.value.chars().count()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("there is no core memory block named '{name}'; the blocks are: {valid}")]
    UnknownBlock { name: String, valid: String },
    #[error("core memory block '{0}' is read-only")]
    ReadOnly(String),
    #[error(
        "the edit would make block '{label}' {new_len} characters long, over its limit of {limit}; \
         nothing was changed. Shorten the text, or move details to archival memory"
    )]
    OverLimit {
        label: String,
        new_len: usize,
        limit: usize,
    },
    #[error("old_content must not be empty")]
    EmptyOld,
    #[error("old_content was not found in block '{0}'; nothing was changed")]
    NotFound(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreMemory {
    pub blocks: Vec<Block>,
}

impl CoreMemory {
    pub fn with_defaults(persona: &str, human: &str) -> Self {
        CoreMemory {
            blocks: vec![
                Block {
                    description: Some("Who the agent is and how it speaks.".into()),
                    ..Block::new("persona", &unwrap_lines(persona))
                },
                Block {
                    description: Some("What the agent knows about the user.".into()),
                    ..Block::new("human", &unwrap_lines(human))
                },
            ],
        }
    }

    pub fn get(&self, label: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.label == label)
    }

    fn writable(&mut self, label: &str) -> Result<&mut Block, EditError> {
        let valid = self.labels();
        let block = self
            .blocks
            .iter_mut()
            .find(|b| b.label == label)
            .ok_or_else(|| EditError::UnknownBlock {
                name: label.to_string(),
                valid,
            })?;
        if block.read_only {
            return Err(EditError::ReadOnly(label.to_string()));
        }
        Ok(block)
    }

    pub fn labels(&self) -> String {
        self.blocks
            .iter()
            .map(|b| b.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Appends `content` on a new line. Returns the new length.
    pub fn append(&mut self, label: &str, content: &str) -> Result<usize, EditError> {
        let block = self.writable(label)?;
        let new_value = if block.value.is_empty() {
            content.to_string()
        } else {
            format!("{}\n{}", block.value, content)
        };
        set_checked(block, new_value)
    }

    /// Replaces every occurrence of `old` by `new`. Returns the new length.
    pub fn replace(&mut self, label: &str, old: &str, new: &str) -> Result<usize, EditError> {
        let block = self.writable(label)?;
        if old.is_empty() {
            return Err(EditError::EmptyOld);
        }
        if !block.value.contains(old) {
            return Err(EditError::NotFound(label.to_string()));
        }
        let new_value = block.value.replace(old, new);
        set_checked(block, new_value)
    }

    /// Sets a block's whole value (a manual edit). Returns the new length.
    pub fn set(&mut self, label: &str, value: &str) -> Result<usize, EditError> {
        let block = self.writable(label)?;
        set_checked(block, value.to_string())
    }

    /// The blocks as they appear in the system message.
    pub fn render(&self) -> String {
        self.blocks.iter().map(Self::render_block).collect()
    }

    /// One block as the system message shows it.
    pub fn render_block(b: &Block) -> String {
        let ro = if b.read_only {
            " read_only=\"true\""
        } else {
            ""
        };
        format!(
            "<{label} characters=\"{used}/{limit}\"{ro}>\n{value}\n</{label}>\n",
            label = b.label,
            used = b.chars(),
            limit = b.limit,
            value = b.value
        )
    }
}

/// Joins a text file's wrapped lines into one paragraph.
fn unwrap_lines(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn set_checked(block: &mut Block, new_value: String) -> Result<usize, EditError> {
    let new_len = new_value.chars().count();
    if new_len > block.limit {
        return Err(EditError::OverLimit {
            label: block.label.clone(),
            new_len,
            limit: block.limit,
        });
    }
    block.value = new_value;
    Ok(new_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> CoreMemory {
        let mut m = CoreMemory::with_defaults("I am Sam.", "Unknown.");
        m.blocks[1].limit = 20;
        m
    }

    #[test]
    fn append_over_limit_leaves_value_unchanged() {
        let mut m = mem();
        let err = m.append("human", "Name: Alexandra the Great").unwrap_err();
        assert!(matches!(err, EditError::OverLimit { .. }));
        assert_eq!(m.get("human").unwrap().value, "Unknown.");
    }

    #[test]
    fn replace_needs_present_nonempty_old() {
        let mut m = mem();
        assert_eq!(
            m.replace("human", "", "x").unwrap_err(),
            EditError::EmptyOld
        );
        assert!(m.replace("human", "Unknown", "x").is_ok());
        assert!(matches!(
            m.replace("human", "zzz", "x"),
            Err(EditError::NotFound(_))
        ));
    }

    #[test]
    fn unknown_block_lists_valid_ones() {
        let mut m = mem();
        let msg = m.append("Priya", "x").unwrap_err().to_string();
        assert!(msg.contains("persona, human"), "{msg}");
    }

    #[test]
    fn read_only_refuses() {
        let mut m = mem();
        m.blocks[0].read_only = true;
        assert_eq!(
            m.set("persona", "x").unwrap_err(),
            EditError::ReadOnly("persona".into())
        );
    }

    #[test]
    fn limit_counts_characters_not_bytes() {
        let mut m = mem();
        assert!(m.set("human", "ééééééééééééééééééé").is_ok()); // 19 chars, 38 bytes
    }
}
