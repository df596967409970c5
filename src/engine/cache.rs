//! The prompt as a server's prefix cache sees it: the main context cut into sections in the
//! order they are sent, compared with the previous request to find the prefix they share and
//! where (and why) it broke.
//!
//! Contract: [`Agent::prompt_segments`] describes the next step's request; [`compare`] is pure
//! and finds the shared prefix in tokens (whole sections by their cached counts, plus the
//! common start of the first section that differs, counted with the active counter) and the
//! [`CacheBreak`]. The previous request's sections are kept in memory and, without their
//! texts, with the agent, so a new session finds what broke since the last one.

use std::hash::{Hash, Hasher};

use super::agent::Agent;
use super::prompt;
use crate::memory::SavedPrompt;
use crate::memory::ToolMode;
use crate::tokens::{
    Budget, CacheBreak, CacheStat, MESSAGE_OVERHEAD, REPLY_PRIMING, Section, Segment, TokenCounter,
};

fn fingerprint(text: &str) -> u64 {
    // FNV-1a: stable across runs and builds (std's hasher is not), so saved segments compare.
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    text.hash(&mut h);
    h.0
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn segment(section: Section, text: &str, tokens: u32, keep_text: bool) -> Segment {
    Segment {
        section,
        hash: fingerprint(text),
        tokens,
        text: keep_text.then(|| text.to_string()),
    }
}

/// Why the sections of the system message changed, for the locator: the reason the system
/// message was last compiled.
pub struct Context<'a> {
    pub compiled_because: &'a str,
    /// Ids of the messages in the current queue (an earlier message missing from it was
    /// evicted).
    pub queue: &'a [u64],
}

/// The prefix `cur` shares with `prev`, in tokens, and where it broke (none when `cur` only
/// appends to `prev`, or there is no `prev`).
pub fn compare(
    prev: &[Segment],
    cur: &[Segment],
    counter: &TokenCounter,
    ctx: &Context<'_>,
) -> (u32, Option<CacheBreak>) {
    if prev.is_empty() {
        return (0, None);
    }
    let mut shared = 0;
    for (i, c) in cur.iter().enumerate() {
        let Some(p) = prev.get(i) else {
            return (shared, None);
        };
        if p.section == c.section && p.hash == c.hash {
            shared += c.tokens;
            continue;
        }
        if p.section == c.section
            && let (Some(a), Some(b)) = (&p.text, &c.text)
        {
            shared += counter.count(common_prefix(a, b)).min(c.tokens);
        }
        return (shared, Some(locate(p, c, ctx)));
    }
    // The previous request held more than this one, which it starts with.
    let dropped = prev
        .get(cur.len())
        .map(|s| s.section.name())
        .unwrap_or_default();
    (
        shared,
        (prev.len() > cur.len()).then(|| CacheBreak {
            section: "end".into(),
            cause: format!("the previous request went on with {dropped}, which is gone"),
        }),
    )
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let n = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map(|((i, _), _)| i)
        .unwrap_or_else(|| a.len().min(b.len()));
    &a[..n]
}

/// Names the first section that differs and what changed it.
fn locate(p: &Segment, c: &Segment, ctx: &Context<'_>) -> CacheBreak {
    let cause = match (&p.section, &c.section) {
        (Section::Model(a), Section::Model(b)) => format!("the model changed from {a} to {b}"),
        (Section::Tools, _) | (_, Section::Tools) => {
            "the function schemas changed (tool mode or functions)".into()
        }
        (Section::Instructions, Section::Instructions) => {
            "the instructions changed (tool mode or memscope's version)".into()
        }
        (Section::Core(_) | Section::Metadata, Section::Core(_) | Section::Metadata) => {
            format!(
                "the system message was compiled again: {}",
                ctx.compiled_because
            )
        }
        (Section::Summary, Section::Summary) => "a flush wrote a new summary".into(),
        (_, Section::Summary) => "a flush wrote the first summary".into(),
        (Section::Message(id), _) if !ctx.queue.contains(id) => {
            format!("message {id} was evicted by a flush")
        }
        (_, Section::Message(id)) => format!("message {id} was put in an earlier place"),
        _ => "the system message was compiled again".into(),
    };
    // Schemas that left the request are where it broke, whatever now takes their place.
    let at = if p.section == Section::Tools {
        &p.section
    } else {
        &c.section
    };
    CacheBreak {
        section: at.name(),
        cause,
    }
}

impl Agent {
    /// A section's tokens: the server tokenizer's count where it gave one, else the local one.
    fn section_tokens(&self, text: &str) -> u32 {
        self.exact
            .active()
            .then(|| self.exact.text(text))
            .flatten()
            .unwrap_or_else(|| self.counter.count(text))
    }

    /// The cache figures of sending `segments` now, against the previous request.
    pub fn cache_stat(&self, segments: &[Segment]) -> CacheStat {
        let compiled = self.compiled();
        let ctx = Context {
            compiled_because: &compiled.reason,
            queue: &self.state.fifo,
        };
        let (mut shared, mut broke) = compare(&self.last_prompt, segments, &self.counter, &ctx);
        if self.summary_between && !self.last_prompt.is_empty() {
            // A server that caches one prompt holds the summary call now: nothing past the
            // model's name is reused. What the flush changed is still named.
            shared = 0;
            let why = "a flush's summary call came between (a server that caches one prompt holds that one)";
            broke = Some(match broke {
                Some(b) => CacheBreak {
                    section: b.section,
                    cause: format!("{why}; against the step before it, {}", b.cause),
                },
                None => CacheBreak {
                    section: segments
                        .get(1)
                        .map(|s| s.section.name())
                        .unwrap_or_else(|| "end".into()),
                    cause: why.into(),
                },
            });
        }
        CacheStat {
            prompt_tokens: segments.iter().map(|s| s.tokens).sum::<u32>() + REPLY_PRIMING,
            shared_tokens: shared,
            server_prompt: None,
            server_cached: None,
            broke,
        }
    }

    /// Remembers that a flush's summary call was just sent: it is the last prompt the server
    /// saw, so the next step shares no more with it than the model's name (see `cache_stat`).
    pub fn summary_sent(&mut self) {
        self.summary_between = true;
    }

    /// Remembers the request just sent as the one the next is compared with (its sections
    /// are saved, without texts, with the next commit).
    pub fn prompt_sent(&mut self, segments: Vec<Segment>) {
        let head = segments
            .iter()
            .filter(|s| !matches!(s.section, Section::Message(_)))
            .map(|s| Segment {
                text: None,
                ..s.clone()
            })
            .collect();
        let messages = segments
            .iter()
            .filter_map(|s| match s.section {
                Section::Message(id) => Some(id),
                _ => None,
            })
            .collect();
        self.state.last_prompt = Some(SavedPrompt { head, messages });
        self.last_prompt = segments;
        self.summary_between = false;
    }

    /// The next step's request, section by section in the order it is sent, with each
    /// section's tokens by the active counter (the figures of `budget`, this agent's budget).
    /// Messages are known by id: a message never changes once made.
    pub fn prompt_segments(&self, budget: &Budget) -> Vec<Segment> {
        let head = self.prompt_head.get_or_init(|| self.head_segments(budget));
        let mut out = Vec::with_capacity(head.len() + self.fifo().len());
        out.extend(head.iter().cloned());
        out.extend(self.fifo().iter().map(|m| Segment {
            section: Section::Message(m.id),
            hash: 0,
            tokens: self.message_tokens(m) + MESSAGE_OVERHEAD,
            text: None,
        }));
        out
    }

    /// The sections before the queue; they change only when the system message is compiled,
    /// at a flush, or with the model or the tool mode (each of which drops them).
    fn head_segments(&self, budget: &Budget) -> Vec<Segment> {
        let mode = self.state.policy.tool_mode;
        let compiled = self.compiled();
        let mut out = vec![segment(
            Section::Model(self.settings.model.clone()),
            &self.settings.model,
            0,
            false,
        )];
        if mode == ToolMode::Native {
            out.push(segment(
                Section::Tools,
                self.functions_text(),
                budget.functions,
                false,
            ));
        }
        let instructions = format!(
            "{}{}",
            prompt::instructions(mode, self.state.instructions.as_deref()),
            prompt::CORE_HEADING
        );
        let metadata_tokens = self.section_tokens(&compiled.metadata);
        let instruction_tokens = budget.system.saturating_sub(metadata_tokens)
            + if mode == ToolMode::Json {
                budget.functions
            } else {
                0
            };
        out.push(segment(
            Section::Instructions,
            &instructions,
            instruction_tokens,
            true,
        ));
        for b in &compiled.core.blocks {
            let text = crate::memory::CoreMemory::render_block(b);
            let tokens = self.section_tokens(&text);
            out.push(segment(Section::Core(b.label.clone()), &text, tokens, true));
        }
        out.push(segment(
            Section::Metadata,
            &compiled.metadata,
            metadata_tokens,
            true,
        ));
        if let Some(s) = self.summary_event() {
            out.push(segment(Section::Summary, &s, budget.summary, true));
        }
        out
    }
}

/// The last request's sections as saved with the agent: those before the queue (without
/// texts), and the queue's message ids.
pub fn restore(saved: &SavedPrompt) -> Vec<Segment> {
    saved
        .head
        .iter()
        .cloned()
        .chain(saved.messages.iter().map(|id| Segment {
            section: Section::Message(*id),
            hash: 0,
            tokens: 0,
            text: None,
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(section: Section, text: &str) -> Segment {
        segment(section, text, text.len() as u32, true)
    }

    fn ctx<'a>(queue: &'a [u64]) -> Context<'a> {
        Context {
            compiled_because: "core block 'human' edited by the agent",
            queue,
        }
    }

    #[test]
    fn an_appended_request_shares_all_of_the_previous_one() {
        let c = TokenCounter::for_model("gpt-4o");
        let prev = vec![
            seg(Section::Instructions, "abc"),
            seg(Section::Message(1), "hi"),
        ];
        let mut cur = prev.clone();
        cur.push(seg(Section::Message(2), "more"));
        assert_eq!(compare(&prev, &cur, &c, &ctx(&[1, 2])), (5, None));
        assert_eq!(compare(&[], &cur, &c, &ctx(&[1, 2])), (0, None));
    }

    #[test]
    fn the_locator_names_the_first_section_that_differs() {
        let c = TokenCounter::for_model("gpt-4o");
        let prev = vec![
            seg(Section::Instructions, "abc"),
            seg(Section::Core("human".into()), "<human>Ann</human>"),
            seg(Section::Message(1), "hi"),
        ];
        let mut cur = prev.clone();
        cur[1] = seg(Section::Core("human".into()), "<human>Ann Lee</human>");
        let (shared, broke) = compare(&prev, &cur, &c, &ctx(&[1]));
        let broke = broke.unwrap();
        assert_eq!(broke.section, "core memory <human>");
        assert!(
            broke.cause.contains("'human' edited by the agent"),
            "{}",
            broke.cause
        );
        // The instructions, and the start of the block that still matches.
        assert!(shared > 3 && shared < 3 + 22, "{shared}");

        let evicted = vec![
            prev[0].clone(),
            prev[1].clone(),
            seg(Section::Message(2), "x"),
        ];
        let (_, broke) = compare(&prev, &evicted, &c, &ctx(&[2]));
        assert_eq!(broke.unwrap().cause, "message 1 was evicted by a flush");
    }
}
