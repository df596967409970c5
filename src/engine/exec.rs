//! Running one validated memory function against the agent's memory.
//!
//! Contract: [`Agent::execute`] is synchronous and does no network I/O: embeddings a call needs
//! are fetched beforehand and passed in as [`Embeds`]. It returns the OK/Failed result the model
//! will read; new passages are returned for the step's commit rather than written here.

use chrono::{Duration as ChronoDuration, NaiveDate, Utc};
use serde_json::json;

use super::agent::{Agent, ArchivalCache};
use crate::functions::Call;
use crate::memory::chunk::{DEFAULT_CHUNK_CHARS, chunk_text};
use crate::memory::search::{Page, cosine, paginate};
use crate::memory::{Message, Passage};
use crate::store::StoreError;
use crate::text;

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
        let messages: Vec<Message> = self
            .store
            .recall(self.name())?
            .into_iter()
            .filter(|m| m.searchable)
            .collect();
        let mut index = crate::memory::search::Bm25Index::new();
        for m in &messages {
            index.insert(m.id, &m.text);
        }
        let by_id: std::collections::HashMap<u64, &Message> =
            messages.iter().map(|m| (m.id, m)).collect();
        let ranked: Vec<&Message> = index
            .search(query)
            .into_iter()
            .map(|(id, _)| by_id[&id])
            .collect();
        Ok(FnResult::ok(describe_messages(paginate(ranked, page))))
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
        let hits: Vec<Message> = self
            .store
            .recall(self.name())?
            .into_iter()
            .filter(|m| m.searchable && (from..=to).contains(&m.created_at.date_naive()))
            .collect();
        Ok(FnResult::ok(describe_messages(paginate(
            hits.iter().collect(),
            page,
        ))))
    }

    /// Loads archival passages and builds their index on first use.
    pub fn archival_cache(&mut self) -> Result<&mut ArchivalCache, StoreError> {
        if self.archival.is_none() {
            let mut cache = ArchivalCache::default();
            for p in self.store.archival(&self.state.name)? {
                cache.index.insert(p.id, &p.text);
                cache.passages.insert(p.id, p);
            }
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
        let (ranked, note) = self.archival_rank(query, embeds)?;
        let page = paginate(ranked, page);
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

    /// Passages best first, and a note on how they were ranked when it matters.
    pub fn archival_rank(
        &mut self,
        query: &str,
        embeds: Option<&Embeds>,
    ) -> Result<(Vec<Passage>, String), StoreError> {
        let cache = self.archival_cache()?;
        if let Some(Embeds {
            model,
            result: Ok(q),
        }) = embeds
            && let Some(qv) = q.first()
        {
            let mut scored: Vec<(f32, &Passage)> = cache
                .passages
                .values()
                .filter(|p| p.embedding_model.as_deref() == Some(model.as_str()))
                .filter_map(|p| p.embedding.as_ref().map(|e| (cosine(qv, e), p)))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.id.cmp(&a.1.id)));
            let mut ranked: Vec<Passage> = scored.into_iter().map(|(_, p)| p.clone()).collect();
            let unembedded: Vec<u64> = cache
                .passages
                .values()
                .filter(|p| p.embedding_model.as_deref() != Some(model.as_str()))
                .map(|p| p.id)
                .collect();
            let mut note = String::new();
            if !unembedded.is_empty() {
                note = format!(
                    " ({} passages without a {model} embedding ranked by words after the rest)",
                    unembedded.len()
                );
                let set: std::collections::HashSet<u64> = unembedded.into_iter().collect();
                ranked.extend(
                    cache
                        .index
                        .search(query)
                        .into_iter()
                        .filter(|(id, _)| set.contains(id))
                        .map(|(id, _)| cache.passages[&id].clone()),
                );
            }
            return Ok((ranked, note));
        }
        let note = match embeds {
            Some(Embeds { result: Err(e), .. }) => {
                format!(" (ranked by words: embedding failed: {e})")
            }
            _ => String::new(),
        };
        let ranked = cache
            .index
            .search(query)
            .into_iter()
            .map(|(id, _)| cache.passages[&id].clone())
            .collect();
        Ok((ranked, note))
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

fn describe_messages(page: Page<&Message>) -> String {
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
        "{}:\n{}",
        page_head(&page),
        serde_json::to_string(&hits).unwrap_or_default()
    )
}
