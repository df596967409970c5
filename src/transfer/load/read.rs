//! Finding and reading the documents a load was given.
//!
//! Contract: [`plan`] turns the paths given into the files to read, in a stable order (the
//! paths as given; a directory's files sorted by path, recursively, hidden entries skipped,
//! symlinked directories not followed), and the paths that cannot be loaded with the reason.
//! [`read`] reads one file as text of a [`Kind`] or says why it cannot: a PDF, a binary file,
//! text that is not UTF-8, a file too large. Nothing here panics on what a file holds.

use std::path::{Path, PathBuf};

/// Files larger than this are refused rather than read whole into memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// How a document's text is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Prose: split at blank lines.
    Text,
    /// Split at headings, then blank lines; fenced code kept together where it fits.
    Markdown,
    /// Source code: split at blank lines between definitions, then lines.
    Code,
    /// Converted to text first; its positions are parts, not lines.
    Html,
}

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File { path: PathBuf, bytes: u64 },
    Stdin,
}

impl Source {
    /// The name its passages record.
    pub fn name(&self) -> String {
        match self {
            Source::File { path, .. } => path.display().to_string(),
            Source::Stdin => "-".into(),
        }
    }

    pub fn bytes(&self) -> u64 {
        match self {
            Source::File { bytes, .. } => *bytes,
            Source::Stdin => 0,
        }
    }
}

/// What a load will read, and what it already knows it cannot.
#[derive(Debug, Default)]
pub struct Plan {
    pub sources: Vec<Source>,
    /// A path and why it is skipped.
    pub skipped: Vec<(String, String)>,
}

/// Walks the paths given (`-` is standard input).
pub fn plan(paths: &[PathBuf]) -> Plan {
    let mut plan = Plan::default();
    for p in paths {
        if p.as_os_str() == "-" {
            plan.sources.push(Source::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut plan),
            Ok(m) => plan.sources.push(Source::File {
                path: p.clone(),
                bytes: m.len(),
            }),
            Err(e) => plan.skipped.push((p.display().to_string(), io_reason(&e))),
        }
    }
    plan
}

fn walk(dir: &Path, plan: &mut Plan) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            plan.skipped
                .push((dir.display().to_string(), io_reason(&e)));
            return;
        }
    };
    let mut found: Vec<(PathBuf, std::fs::FileType)> = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                if e.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                match e.file_type() {
                    Ok(t) => found.push((e.path(), t)),
                    Err(err) => plan
                        .skipped
                        .push((e.path().display().to_string(), io_reason(&err))),
                }
            }
            Err(e) => plan
                .skipped
                .push((dir.display().to_string(), io_reason(&e))),
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in found {
        if kind.is_dir() {
            walk(&path, plan);
        } else if kind.is_symlink() {
            // A link to a file is read; a link to a directory could loop, so it is not walked.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => plan.sources.push(Source::File {
                    path,
                    bytes: m.len(),
                }),
                Ok(_) => plan.skipped.push((
                    path.display().to_string(),
                    "a link to a directory (give the directory itself to load it)".into(),
                )),
                Err(e) => plan
                    .skipped
                    .push((path.display().to_string(), io_reason(&e))),
            }
        } else if kind.is_file() {
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            plan.sources.push(Source::File { path, bytes });
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

const MARKDOWN: &[&str] = &["md", "markdown", "mdx", "mdown", "mkd"];
const HTML: &[&str] = &["html", "htm", "xhtml"];
const CODE: &[&str] = &[
    "rs", "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "c", "h", "cc", "cpp", "cxx", "hpp",
    "java", "kt", "kts", "scala", "swift", "rb", "php", "pl", "lua", "sh", "bash", "zsh", "fish",
    "ps1", "sql", "r", "jl", "hs", "ml", "ex", "exs", "erl", "clj", "cs", "fs", "dart", "zig",
    "nim", "vue", "svelte", "css", "scss", "toml", "yaml", "yml", "json", "xml", "ini", "cfg",
];
/// Formats that are text only in name: reading them as text would store noise.
const NOT_TEXT: &[(&str, &str)] = &[
    (
        "pdf",
        "PDF is not supported: convert it to text first (for example `pdftotext FILE`)",
    ),
    (
        "docx",
        "Word documents are not supported: save it as text or Markdown first",
    ),
    (
        "odt",
        "OpenDocument text is not supported: save it as text or Markdown first",
    ),
    ("epub", "EPUB is not supported: convert it to text first"),
];

/// How a file's text is split, from its name.
pub fn kind_of(path: &Path) -> Kind {
    let ext = extension(path);
    if MARKDOWN.contains(&ext.as_str()) {
        Kind::Markdown
    } else if HTML.contains(&ext.as_str()) {
        Kind::Html
    } else if CODE.contains(&ext.as_str()) {
        Kind::Code
    } else {
        Kind::Text
    }
}

fn extension(path: &Path) -> String {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A document read as text.
#[derive(Debug, Clone)]
pub struct Document {
    pub kind: Kind,
    pub text: String,
}

/// Reads one source as text, or says why it cannot be loaded.
pub fn read(source: &Source) -> Result<Document, String> {
    match source {
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            decode(&bytes, Kind::Markdown)
        }
        Source::File { path, bytes } => {
            let ext = extension(path);
            if let Some((_, why)) = NOT_TEXT.iter().find(|(e, _)| *e == ext) {
                return Err((*why).to_string());
            }
            if *bytes > MAX_FILE_BYTES {
                return Err(format!(
                    "too large ({} MiB; the limit is {} MiB)",
                    bytes / (1024 * 1024),
                    MAX_FILE_BYTES / (1024 * 1024)
                ));
            }
            let data = std::fs::read(path).map_err(|e| io_reason(&e))?;
            if data.starts_with(b"%PDF-") {
                return Err(NOT_TEXT[0].1.to_string());
            }
            decode(&data, kind_of(path))
        }
    }
}

/// Text from bytes: binary data and text that is not UTF-8 are refused, HTML is converted.
pub fn decode(data: &[u8], kind: Kind) -> Result<Document, String> {
    let head = &data[..data.len().min(8192)];
    if head.contains(&0) {
        return Err("a binary file, not text".into());
    }
    let text = match std::str::from_utf8(data) {
        Ok(t) => t.strip_prefix('\u{feff}').unwrap_or(t),
        Err(e) => {
            return Err(format!(
                "not UTF-8 text (invalid byte at offset {}); convert it to UTF-8 first",
                e.valid_up_to()
            ));
        }
    };
    let text = match kind {
        Kind::Html => nanohtml2text::html2text(text),
        _ => text.replace("\r\n", "\n"),
    };
    Ok(Document { kind, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_non_utf8_data_are_refused_with_a_reason() {
        assert!(
            decode(b"PK\x03\x04\0\0", Kind::Text)
                .unwrap_err()
                .contains("binary")
        );
        let e = decode(b"caf\xe9 au lait", Kind::Text).unwrap_err();
        assert!(e.contains("not UTF-8") && e.contains("offset 3"), "{e}");
    }

    #[test]
    fn html_becomes_its_text() {
        let d = decode(
            b"<html><head><style>p{}</style></head><body><h1>Title</h1><p>Some <b>bold</b> words.</p></body></html>",
            Kind::Html,
        )
        .unwrap();
        assert!(
            d.text.contains("Title") && d.text.contains("bold words"),
            "{}",
            d.text
        );
        assert!(!d.text.contains('<'), "{}", d.text);
    }

    #[test]
    fn kinds_come_from_the_extension() {
        assert_eq!(kind_of(Path::new("a/README.MD")), Kind::Markdown);
        assert_eq!(kind_of(Path::new("x.rs")), Kind::Code);
        assert_eq!(kind_of(Path::new("page.htm")), Kind::Html);
        assert_eq!(kind_of(Path::new("notes")), Kind::Text);
    }
}
