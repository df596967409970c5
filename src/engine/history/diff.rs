//! What changed between two model calls, as the model saw them.
//!
//! Contract: pure. [`diff`] compares two calls' request sections (see `view::sections`):
//! the queue messages that entered and left the context (by id, else by position and text),
//! each core block's value as a line diff, the summary, the other sections of the system
//! message, and the tokens by section. Nothing is read from the store here.

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use super::view::{Part, Section, StepDetail, Totals};

/// A message that entered or left the context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moved {
    pub id: Option<u64>,
    pub role: String,
    pub text: String,
    pub tokens: u32,
}

/// One line of a text diff: `+`, `-` or ` `.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub tag: char,
    pub text: String,
}

/// A section whose text changed (a core block, the summary, the instructions, the metadata).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changed {
    pub label: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub lines: Vec<Line>,
}

/// Tokens of one section in each call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub section: &'static str,
    pub before: u32,
    pub after: u32,
    pub change: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDiff {
    pub from_step: u64,
    pub to_step: u64,
    pub entered: Vec<Moved>,
    pub left: Vec<Moved>,
    /// Core blocks first, then the summary, then the rest of the system message.
    pub changed: Vec<Changed>,
    pub budget: Vec<Delta>,
}

/// What changed from call `a` to call `b`.
pub fn diff(a: &StepDetail, b: &StepDetail) -> StepDiff {
    let (entered, left) = moved(&a.sections, &b.sections);
    let mut changed = Vec::new();
    for part in [
        Part::Core,
        Part::Summary,
        Part::Instructions,
        Part::System,
        Part::Metadata,
    ] {
        let labels = labels_of(&a.sections, part).chain(labels_of(&b.sections, part));
        let mut seen: Vec<&str> = Vec::new();
        for label in labels {
            if seen.contains(&label) {
                continue;
            }
            seen.push(label);
            let before = text_of(&a.sections, part, label);
            let after = text_of(&b.sections, part, label);
            if before != after {
                changed.push(Changed {
                    label: label.to_string(),
                    lines: lines(before.unwrap_or(""), after.unwrap_or("")),
                    before: before.map(str::to_string),
                    after: after.map(str::to_string),
                });
            }
        }
    }
    StepDiff {
        from_step: a.row.step,
        to_step: b.row.step,
        entered,
        left,
        changed,
        budget: budget(&a.budget, &b.budget),
    }
}

fn labels_of(s: &[Section], part: Part) -> impl Iterator<Item = &str> {
    s.iter()
        .filter(move |x| x.part == part)
        .map(|x| x.label.as_str())
}

fn text_of<'a>(s: &'a [Section], part: Part, label: &str) -> Option<&'a str> {
    s.iter()
        .find(|x| x.part == part && x.label == label)
        .map(|x| x.text.as_str())
}

/// Queue messages in `b` and not `a` (entered), and in `a` and not `b` (left).
fn moved(a: &[Section], b: &[Section]) -> (Vec<Moved>, Vec<Moved>) {
    let msgs = |s: &[Section]| -> Vec<Section> {
        s.iter()
            .filter(|x| x.part == Part::Message)
            .cloned()
            .collect()
    };
    let (a, b) = (msgs(a), msgs(b));
    let key = |m: &Section| (m.id, m.id.is_none().then(|| m.text.clone()));
    let not_in = |xs: &[Section], ys: &[Section]| -> Vec<Moved> {
        xs.iter()
            .filter(|x| !ys.iter().any(|y| key(y) == key(x)))
            .map(|m| Moved {
                id: m.id,
                role: m.name.clone().unwrap_or_default(),
                text: m.text.clone(),
                tokens: m.tokens,
            })
            .collect()
    };
    (not_in(&b, &a), not_in(&a, &b))
}

/// A line diff of two texts.
pub fn lines(before: &str, after: &str) -> Vec<Line> {
    // A last line is the same line whether or not a newline ends it.
    let ended = |t: &str| {
        if t.is_empty() || t.ends_with('\n') {
            t.to_string()
        } else {
            format!("{t}\n")
        }
    };
    let (before, after) = (ended(before), ended(after));
    TextDiff::from_lines(&before, &after)
        .iter_all_changes()
        .map(|c| Line {
            tag: match c.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            },
            text: c.value().trim_end_matches('\n').to_string(),
        })
        .collect()
}

fn budget(a: &Totals, b: &Totals) -> Vec<Delta> {
    let pairs = [
        ("tools", a.tools, b.tools),
        ("instructions", a.instructions, b.instructions),
        ("core memory", a.core, b.core),
        ("memory metadata", a.metadata, b.metadata),
        ("summary", a.summary, b.summary),
        ("messages", a.messages, b.messages),
        ("total", a.total, b.total),
    ];
    pairs
        .into_iter()
        .map(|(section, before, after)| Delta {
            section,
            before,
            after,
            change: after as i64 - before as i64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::history::view::{Reply, StepRow};

    fn sec(part: Part, label: &str, id: Option<u64>, text: &str) -> Section {
        Section {
            part,
            label: label.into(),
            name: Some("user".into()),
            id,
            text: text.into(),
            tokens: text.len() as u32,
        }
    }

    fn detail(step: u64, sections: Vec<Section>) -> StepDetail {
        StepDetail {
            row: StepRow {
                key: step,
                step,
                kind: "step",
                started_at: chrono::Utc::now(),
                trigger: "user message".into(),
                function: None,
                status: None,
                prompt_tokens: None,
                server_prompt_tokens: None,
                completion_tokens: None,
                shared_tokens: None,
                server_cached: None,
                model_ms: 0.0,
                forkable: true,
            },
            request: b"{}".to_vec(),
            budget: Totals::of(&sections),
            sections,
            response: serde_json::Value::Null,
            reply: Reply::default(),
            results: vec![],
            cache: None,
            memory: None,
        }
    }

    #[test]
    fn a_diff_names_what_entered_left_and_changed() {
        let a = detail(
            3,
            vec![
                sec(Part::Core, "core <human>", None, "Name: unknown"),
                sec(Part::Message, "user #1", Some(1), "hello"),
                sec(Part::Message, "user #2", Some(2), "my name is Ada"),
            ],
        );
        let b = detail(
            4,
            vec![
                sec(Part::Core, "core <human>", None, "Name: Ada"),
                sec(Part::Summary, "summary", None, "they said hello"),
                sec(Part::Message, "user #2", Some(2), "my name is Ada"),
                sec(Part::Message, "user #3", Some(3), "thanks"),
            ],
        );
        let d = diff(&a, &b);
        assert_eq!(
            d.entered.iter().map(|m| m.id).collect::<Vec<_>>(),
            [Some(3)]
        );
        assert_eq!(d.left.iter().map(|m| m.id).collect::<Vec<_>>(), [Some(1)]);
        let labels: Vec<&str> = d.changed.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["core <human>", "summary"]);
        let core = &d.changed[0].lines;
        assert!(
            core.iter()
                .any(|l| l.tag == '-' && l.text == "Name: unknown")
        );
        assert!(core.iter().any(|l| l.tag == '+' && l.text == "Name: Ada"));
        assert_eq!(d.changed[1].before, None);
        let total = d.budget.iter().find(|x| x.section == "total").unwrap();
        assert_eq!(total.change, b.budget.total as i64 - a.budget.total as i64);
        // A call against itself changes nothing.
        let same = diff(&a, &a);
        assert!(same.entered.is_empty() && same.left.is_empty() && same.changed.is_empty());
    }
}
