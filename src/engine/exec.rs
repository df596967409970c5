//! Running one validated memory function against the agent's memory.
//!
//! Contract: [`Agent::execute`] is synchronous and does no network I/O: embeddings a call needs
//! are fetched beforehand and passed in as [`Embeds`]. It returns the OK/Failed result the model
//! will read; new passages are returned for the step's commit rather than written here.

use chrono::{Duration as ChronoDuration, NaiveDate, Utc};
use serde_json::json;

use std::collections::HashMap;

use super::agent::Agent;
use crate::functions::Call;
use crate::memory::ann::Vectors;
use crate::memory::chunk::{DEFAULT_CHUNK_CHARS, chunk_text};
use crate::memory::search::{PAGE_SIZE, Page};
use crate::memory::{Message, Passage};
use crate::store::{SearchKind, StoreError, Table};
use crate::text;

/// The embeddings of archival passages, by model, loaded on the first search that ranks by
/// them (word searches go through the store's index and load nothing).
#[derive(Default)]
pub struct ArchivalCache {
    pub models: HashMap<String, Vectors>,
}

impl ArchivalCache {
    /// `p` as it now is: its vector under its model, and under no other.
    pub fn put(&mut self, p: &Passage) {
        self.remove(p.id);
        if let (Some(m), Some(v)) = (&p.embedding_model, &p.embedding) {
            self.models
                .entry(m.clone())
                .or_default()
                .insert(p.id, v.clone());
        }
    }

    pub fn remove(&mut self, id: u64) {
        self.models.values_mut().for_each(|v| v.remove(id));
    }

    /// How many passages have a vector of `model`.
    pub fn count(&self, model: &str) -> usize {
        self.models.get(model).map_or(0, Vectors::len)
    }
}

/// Longest text of one search hit shown to the model.
const HIT_CHARS: usize = 1000;

/// Embeddings fetched for a call: one per chunk (insert) or the query's (search).
#[derive(Debug, Clone)]
pub struct Embeds {
    pub model: String,
    pub result: Result<Vec<Vec<f32>>, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FnResult {
    pub ok: bool,
    pub message: String,
}

impl FnResult {
    pub fn ok(message: impl Into<String>) -> Self {
        FnResult {
            ok: true,
            message: message.into(),
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        FnResult {
            ok: false,
            message: message.into(),
        }
    }
}

/// Side effects of a function beyond its result.
#[derive(Debug, Default)]
pub struct Effects {
    pub passages: Vec<Passage>,
    /// (label, new value, chars, limit) of an edited core block.
    pub core_edit: Option<(String, String, usize, usize)>,
    /// Text delivered to the user.
    pub sent: Option<String>,
}

impl Agent {
    pub fn execute(
        &mut self,
        call: &Call,
        embeds: Option<&Embeds>,
        fx: &mut Effects,
    ) -> Result<FnResult, StoreError> {
        crate::crash::point("function:running");
        let result = match call {
            Call::SendMessage { message } => {
                if message.trim().is_empty() {
                    FnResult::failed("message is empty; nothing was sent")
                } else {
                    fx.sent = Some(message.clone());
                    FnResult::ok("sent to the user")
                }
            }
            Call::PauseHeartbeats { minutes } => {
                if !(1..=360).contains(minutes) {
                    FnResult::failed(format!("minutes must be between 1 and 360, not {minutes}"))
                } else {
                    let until = Utc::now() + ChronoDuration::minutes(*minutes);
                    self.state.heartbeats_paused_until = Some(until);
                    FnResult::ok(format!(
                        "heartbeats paused until {}",
                        until.format("%Y-%m-%d %H:%M:%S UTC")
                    ))
                }
            }
            Call::CoreMemoryAppend { name, content, .. } => {
                let r = self.state.core.append(name, content);
                self.core_result(name, r, fx)
            }
            Call::CoreMemoryReplace {
                name,
                old_content,
                new_content,
                ..
            } => {
                let r = self.state.core.replace(name, old_content, new_content);
                self.core_result(name, r, fx)
            }
            Call::ConversationSearch { query, page, .. } => {
                self.conversation_search(query, *page)?
            }
            Call::ConversationSearchDate {
                start_date,
                end_date,
                page,
                ..
            } => self.conversation_search_date(start_date, end_date, *page)?,
            Call::ArchivalMemoryInsert { content, .. } => {
                self.archival_insert(content, "agent", embeds, fx)
            }
            Call::ArchivalMemorySearch { query, page, .. } => {
                self.archival_search(query, *page, embeds)?
            }
        };
        let core_edit = matches!(
            call,
            Call::CoreMemoryAppend { .. } | Call::CoreMemoryReplace { .. }
        );
        Ok(if result.ok && !call.is_search() && !core_edit {
            FnResult::ok(text::truncate(&result.message, self.settings.output_limit))
        } else {
            result
        })
    }

    fn core_result(
        &mut self,
        label: &str,
        r: Result<usize, crate::memory::EditError>,
        fx: &mut Effects,
    ) -> FnResult {
        match r {
            Ok(len) => {
                let (value, limit) = self
                    .state
                    .core
                    .get(label)
                    .map(|b| (b.value.clone(), b.limit))
                    .unwrap_or_default();
                let update = self.core_edited(label, "the agent");
                fx.core_edit = Some((label.to_string(), value, len, limit));
                let done = format!("block '{label}' now holds {len}/{limit} characters");
                // In append mode the result carries the new value: the system message still
                // shows the old one.
                FnResult::ok(match update {
                    Some(u) => format!("{done}. {u}"),
                    None => done,
                })
            }
            Err(e) => FnResult::failed(text::visible(&e.to_string())),
        }
    }

    fn conversation_search(&mut self, query: &str, page: usize) -> Result<FnResult, StoreError> {
        if query.trim().is_empty() {
            return Ok(FnResult::failed("query is empty"));
        }
        let hits = self.store.search(
            self.name(),
            SearchKind::Recall,
            query,
            page.saturating_mul(PAGE_SIZE),
            PAGE_SIZE,
        )?;
        let messages = self.store.recall_get(self.name(), &hits.ids)?;
        let note = hits.note.map(|n| format!(" ({n})")).unwrap_or_default();
        Ok(FnResult::ok(describe_messages(
            Page::of(messages.iter().collect(), hits.total, page),
            &note,
        )))
    }

    fn conversation_search_date(
        &mut self,
        start: &str,
        end: &str,
        page: usize,
    ) -> Result<FnResult, StoreError> {
        let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d");
        let (Ok(from), Ok(to)) = (parse(start), parse(end)) else {
            return Ok(FnResult::failed(format!(
                "dates must be written YYYY-MM-DD (got start_date '{}', end_date '{}')",
                text::visible(start),
                text::visible(end)
            )));
        };
        if from > to {
            return Ok(FnResult::failed(format!(
                "start_date {from} is after end_date {to}"
            )));
        }
        // One message read at a time; only the page asked for is kept.
        let skip = page.saturating_mul(PAGE_SIZE);
        let (mut total, mut items) = (0usize, Vec::new());
        self.store
            .scan(Table::Recall, self.name(), |_, m: Message| {
                if m.searchable && (from..=to).contains(&m.created_at.date_naive()) {
                    if total >= skip && items.len() < PAGE_SIZE {
                        items.push(m);
                    }
                    total += 1;
                }
                Ok::<(), StoreError>(())
            })?;
        Ok(FnResult::ok(describe_messages(
            Page::of(items.iter().collect(), total, page),
            "",
        )))
    }

    /// Loads the archival passages' embeddings on first use (one passage read at a time).
    pub fn archival_cache(&mut self) -> Result<&mut ArchivalCache, StoreError> {
        if self.archival.is_none() {
            let mut cache = ArchivalCache::default();
            self.store
                .scan(Table::Archival, &self.state.name, |_, p: Passage| {
                    cache.put(&p);
                    Ok::<(), StoreError>(())
                })?;
            self.archival = Some(cache);
        }
        Ok(self.archival.as_mut().expect("just loaded"))
    }

    /// Splits `content` into passages, embedding them when `embeds` holds vectors.
    pub fn archival_insert(
        &mut self,
        content: &str,
        source: &str,
        embeds: Option<&Embeds>,
        fx: &mut Effects,
    ) -> FnResult {
        let chunks = chunk_text(content, DEFAULT_CHUNK_CHARS);
        if chunks.is_empty() {
            return FnResult::failed("content is empty; nothing was saved");
        }
        let mut note = String::new();
        let vectors = match embeds.map(|e| (&e.model, &e.result)) {
            Some((model, Ok(v))) if v.len() == chunks.len() => Some((model.clone(), v.clone())),
            Some((_, Err(e))) => {
                note = format!(" (saved without embeddings: {e})");
                None
            }
            _ => None,
        };
        let now = Utc::now();
        let first = self.state.next_passage_id;
        for (i, chunk) in chunks.iter().enumerate() {
            let (embedding, embedding_model) = match &vectors {
                Some((m, v)) => (Some(v[i].clone()), Some(m.clone())),
                None => (None, None),
            };
            fx.passages.push(Passage {
                id: self.state.next_passage_id,
                text: chunk.clone(),
                created_at: now,
                source: source.to_string(),
                embedding,
                embedding_model,
                origin: None,
            });
            self.state.next_passage_id += 1;
        }
        let n = chunks.len();
        FnResult::ok(if n == 1 {
            format!("saved to archival memory as passage {first}{note}")
        } else {
            format!(
                "saved to archival memory as {n} passages ({first}-{}){note}",
                first + n as u64 - 1
            )
        })
    }

    /// Ranked search: cosine over embeddings when a query embedding is given, BM25 otherwise.
    pub fn archival_search(
        &mut self,
        query: &str,
        page: usize,
        embeds: Option<&Embeds>,
    ) -> Result<FnResult, StoreError> {
        if query.trim().is_empty() {
            return Ok(FnResult::failed("query is empty"));
        }
        let (page, note) = self.archival_page(query, page, embeds)?;
        let hits: Vec<_> = page
            .items
            .iter()
            .map(|p| {
                let mut hit = json!({"id": p.id, "timestamp": p.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(), "content": text::truncate(&p.text, HIT_CHARS)});
                // A loaded passage says which document it came from, so the agent can cite it.
                if let Some(o) = &p.origin {
                    hit["document"] = json!(o.describe());
                }
                hit
            })
            .collect();
        let head = page_head(&page);
        Ok(FnResult::ok(format!(
            "{head}{note}:\n{}",
            serde_json::to_string(&hits).unwrap_or_default()
        )))
    }

    /// One page of passages, best first, and a note on how they were ranked when it matters.
    /// Only the page's passages are read whole.
    pub fn archival_page(
        &mut self,
        query: &str,
        page: usize,
        embeds: Option<&Embeds>,
    ) -> Result<(Page<Passage>, String), StoreError> {
        let skip = page.saturating_mul(PAGE_SIZE);
        let name = self.state.name.clone();
        if let Some(Embeds {
            model,
            result: Ok(q),
        }) = embeds
            && let Some(qv) = q.first()
        {
            let all = self.state.archival_count as usize;
            // A vector the graph cannot forget changed: the vectors are read again.
            if self
                .archival
                .as_ref()
                .and_then(|c| c.models.get(model.as_str()))
                .is_some_and(Vectors::stale)
            {
                self.archival = None;
            }
            let vectors = self
                .archival_cache()?
                .models
                .entry(model.clone())
                .or_default();
            let embedded = vectors.len();
            // Only as many as the page needs are ranked (approximately, for many vectors).
            let mut ids: Vec<u64> = vectors
                .rank(qv, (skip + PAGE_SIZE).min(embedded))
                .into_iter()
                .map(|r| r.0)
                .collect();
            let mut total = embedded;
            let mut note = String::new();
            if all > embedded {
                // The rest, ranked by words after the embedded ones.
                let words = self
                    .store
                    .search(&name, SearchKind::Archival, query, 0, all)?;
                let vectors = &self.archival_cache()?.models[model.as_str()];
                let rest: Vec<u64> = words
                    .ids
                    .into_iter()
                    .filter(|id| !vectors.contains(*id))
                    .collect();
                note = format!(
                    " ({} passages without a {model} embedding ranked by words after the rest)",
                    all - embedded
                );
                total += rest.len();
                if skip + PAGE_SIZE > embedded {
                    ids.extend(rest.into_iter().take(skip + PAGE_SIZE - embedded));
                }
            }
            let page_ids: Vec<u64> = ids.into_iter().skip(skip).take(PAGE_SIZE).collect();
            let items = self.store.archival_get(&name, &page_ids)?;
            return Ok((Page::of(items, total, page), note));
        }
        let mut note = match embeds {
            Some(Embeds { result: Err(e), .. }) => {
                format!(" (ranked by words: embedding failed: {e})")
            }
            _ => String::new(),
        };
        let hits = self
            .store
            .search(&name, SearchKind::Archival, query, skip, PAGE_SIZE)?;
        if let Some(n) = hits.note {
            note.push_str(&format!(" ({n})"));
        }
        let items = self.store.archival_get(&name, &hits.ids)?;
        Ok((Page::of(items, hits.total, page), note))
    }
}

fn page_head<T>(page: &Page<T>) -> String {
    let d = page.describe();
    let mut c = d.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => d,
    }
}

fn describe_messages(page: Page<&Message>, note: &str) -> String {
    let hits: Vec<_> = page
        .items
        .iter()
        .map(|m| {
            json!({
                "timestamp": m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                "role": m.role.as_str(),
                "text": text::truncate(&m.text, HIT_CHARS),
            })
        })
        .collect();
    format!(
        "{}{note}:\n{}",
        page_head(&page),
        serde_json::to_string(&hits).unwrap_or_default()
    )
}
