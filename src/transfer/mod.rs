//! Memory in and out: documents loaded into archival memory, and agents exported and imported
//! (memscope's own JSON, Letta's Agent File, a Markdown transcript).
//!
//! Contract: this is engine-side code; it reads and writes the store and files it is given and
//! never the terminal. Exports read an agent from the store alone (a reader can export while a
//! writer runs) and never hold a secret: the store holds none, and [`Redact`] takes the
//! configured API key out of anything written should a message have quoted it. An import
//! parses and checks the whole file first and writes one new agent in one transaction, or
//! nothing, with an error that says what is wrong and where. [`load`] splits documents into
//! passages and hands them to the engine a batch at a time.

pub mod agent_file;
pub mod export;
pub mod imported;
pub mod load;
pub mod markdown;
pub mod native;

pub use imported::{ImportReport, Imported};

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Json,
    AgentFile,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "md" | "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "af" | "agentfile" | "agent-file" => Ok(Format::AgentFile),
            other => Err(format!("'{other}' is not an export format: md, json or af")),
        }
    }
}

impl Format {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Json => "json",
            Format::AgentFile => "af",
        }
    }
}

/// A writer that replaces every occurrence of a secret with `[redacted]` before it reaches
/// the file (the secret may be split across writes: text is held back until it cannot be the
/// start of one).
pub struct Redact<W: std::io::Write> {
    inner: W,
    secret: Option<Vec<u8>>,
    held: Vec<u8>,
}

impl<W: std::io::Write> Redact<W> {
    pub fn new(inner: W, secret: Option<&str>) -> Self {
        let secret = secret
            .filter(|s| s.len() >= 4)
            .map(|s| s.as_bytes().to_vec());
        Redact {
            inner,
            secret,
            held: Vec::new(),
        }
    }

    /// Writes what is held and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.drain(true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn drain(&mut self, all: bool) -> std::io::Result<()> {
        let Some(secret) = &self.secret else {
            self.inner.write_all(&self.held)?;
            self.held.clear();
            return Ok(());
        };
        let mut out = Vec::with_capacity(self.held.len());
        let mut i = 0;
        while i < self.held.len() {
            let rest = &self.held[i..];
            if rest.starts_with(secret) {
                out.extend_from_slice(b"[redacted]");
                i += secret.len();
            } else if !all && secret.starts_with(rest) {
                break;
            } else {
                out.push(self.held[i]);
                i += 1;
            }
        }
        self.inner.write_all(&out)?;
        self.held.drain(..i);
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for Redact<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.held.extend_from_slice(buf);
        self.drain(false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_secret_split_across_writes_is_redacted() {
        let mut w = Redact::new(Vec::new(), Some("sk-secret-key"));
        w.write_all(b"key is sk-sec").unwrap();
        w.write_all(b"ret-key, and sk- alone stays").unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(out, "key is [redacted], and sk- alone stays");
    }
}
