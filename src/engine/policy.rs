//! Pure decisions of the agent loop: what follows a step, and which messages a flush evicts.
//!
//! Contract: no I/O and no clock. [`next`] encodes MemGPT's control flow with memscope's order
//! of precedence; [`plan_eviction`] never splits a tool call from its results and always keeps
//! the newest messages; [`tools_left_out`] reads the server's prompt count for a sign that its
//! chat template dropped the function schemas.

use crate::protocol::Trigger;

/// What one step did, as far as control flow cares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutcome {
    /// The function the model called (first tool call), if any.
    pub function: Option<String>,
    pub failed: bool,
    pub request_heartbeat: bool,
    /// send_message and pause_heartbeats end the chain.
    pub ends_chain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Send the pending memory-pressure warning and step again.
    Warn,
    /// Add a heartbeat event and step again.
    Heartbeat(Trigger),
    /// Wait for the user.
    Yield,
}

/// After a step: a pending warning first; else a failed function forces a heartbeat; else a
/// requested heartbeat (unless heartbeats are paused) continues; else wait for the user.
pub fn next(outcome: &StepOutcome, warning_pending: bool, heartbeats_paused: bool) -> Next {
    if warning_pending {
        return Next::Warn;
    }
    let Some(function) = outcome.function.clone() else {
        return Next::Yield; // a reply without a tool call is inner thought
    };
    if outcome.failed {
        return Next::Heartbeat(Trigger::FunctionFailed { function });
    }
    if outcome.ends_chain {
        return Next::Yield;
    }
    if outcome.request_heartbeat && !heartbeats_paused {
        return Next::Heartbeat(Trigger::Heartbeat { function });
    }
    Next::Yield
}

/// How many messages to evict from the front of the queue.
///
/// `tokens[i]` is message i's cost; `cut_ok[i]` says whether the queue may start at message i
/// (false for tool results, which must stay with the call before them). Evicts the fewest
/// messages that bring the rest under `target`, keeping at least `keep_last`; when no cut
/// reaches the target, evicts as much as allowed.
pub fn plan_eviction(tokens: &[u32], cut_ok: &[bool], target: u32, keep_last: usize) -> usize {
    let n = tokens.len();
    if n <= keep_last {
        return 0;
    }
    let max_cut = n - keep_last;
    let mut remaining: u64 = tokens.iter().map(|&t| t as u64).sum();
    let mut best = 0;
    for k in 1..=max_cut {
        remaining -= tokens[k - 1] as u64;
        let valid = k == n || cut_ok[k];
        if valid {
            best = k;
            if remaining <= target as u64 {
                return k;
            }
        }
    }
    best
}

/// How many messages a flush evicts: the fewest that bring the queue under `low_water` (the
/// low-water mark, so the steps after a flush do not flush again) keeping the newest
/// `keep_last`; and when even that leaves more than `must_fit` (the queue's room under the
/// warning line), down to the low-water mark keeping only the newest message (with its call,
/// when it is a result). Never splits a call from its results.
pub fn plan_flush(
    tokens: &[u32],
    cut_ok: &[bool],
    low_water: u32,
    must_fit: u32,
    keep_last: usize,
) -> usize {
    let k = plan_eviction(tokens, cut_ok, low_water, keep_last);
    let left: u64 = tokens[k.min(tokens.len())..]
        .iter()
        .map(|&t| t as u64)
        .sum();
    if left <= must_fit as u64 || keep_last <= 1 {
        return k;
    }
    plan_eviction(tokens, cut_ok, low_water, 1).max(k)
}

/// Whether a summary is an echo of its prompt rather than a summary: most of its runs of five
/// words appear word for word in `prompt` (the summariser's instructions and the messages it
/// was given). A short summary is never judged.
pub fn echoes_prompt(summary: &str, prompt: &str) -> bool {
    const RUN: usize = 5;
    let words = |t: &str| -> Vec<String> {
        t.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let said = words(summary);
    if said.len() < RUN * 4 {
        return false;
    }
    echo_share(&said, &words(prompt), RUN) >= 0.5
}

fn echo_share(said: &[String], source: &[String], run: usize) -> f64 {
    let known: std::collections::HashSet<&[String]> = source.windows(run).collect();
    let runs: Vec<&[String]> = said.windows(run).collect();
    let found = runs.iter().filter(|r| known.contains(*r)).count();
    found as f64 / runs.len().max(1) as f64
}

/// Whether the server's count of a prompt (`server`) falls so far short of memscope's exact
/// count of it (`sent`) that the function schemas cannot have been in it: some chat templates
/// leave `tools` out, and then the model never sees a function. Only judged on exact counts
/// (an approximate count can be off by more than the schemas weigh).
pub fn tools_left_out(sent: &crate::tokens::Budget, server: Option<u32>, native: bool) -> bool {
    let Some(server) = server else {
        return false;
    };
    native && !sent.approximate && sent.functions >= 100 && server + sent.functions / 2 < sent.total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_count_short_of_the_schemas_means_the_tools_were_left_out() {
        let sent = crate::tokens::Budget {
            functions: 1073,
            total: 1977,
            ..Default::default()
        };
        // Seen on llama-cpp-python with SmolLM2: the server counted 850.
        assert!(tools_left_out(&sent, Some(850), true));
        assert!(
            !tools_left_out(&sent, Some(1960), true),
            "template tokens only"
        );
        assert!(
            !tools_left_out(&sent, Some(850), false),
            "JSON mode sends no tools"
        );
        assert!(!tools_left_out(&sent, None, true));
        let rough = crate::tokens::Budget {
            approximate: true,
            ..sent
        };
        assert!(!tools_left_out(&rough, Some(850), true));
    }

    fn out(f: &str, failed: bool, hb: bool, ends: bool) -> StepOutcome {
        StepOutcome {
            function: Some(f.into()),
            failed,
            request_heartbeat: hb,
            ends_chain: ends,
        }
    }

    #[test]
    fn precedence_of_next() {
        let hb = out("archival_memory_search", false, true, false);
        assert_eq!(next(&hb, true, false), Next::Warn);
        assert!(matches!(
            next(&hb, false, false),
            Next::Heartbeat(Trigger::Heartbeat { .. })
        ));
        assert_eq!(next(&hb, false, true), Next::Yield);
        let failed = out("core_memory_append", true, false, false);
        assert!(matches!(
            next(&failed, false, true),
            Next::Heartbeat(Trigger::FunctionFailed { .. })
        ));
        assert_eq!(
            next(&out("send_message", false, false, true), false, false),
            Next::Yield
        );
        assert_eq!(next(&StepOutcome::default(), false, false), Next::Yield);
    }

    #[test]
    fn eviction_keeps_calls_with_results_and_the_last_three() {
        // user, assistant(call), tool, assistant(call), tool, user
        let tokens = [10, 10, 10, 10, 10, 10];
        let cut_ok = [true, true, false, true, false, true];
        assert_eq!(plan_eviction(&tokens, &cut_ok, 50, 3), 1);
        // 45 would need cutting at 2, which would orphan the tool result: cut at 3.
        assert_eq!(plan_eviction(&tokens, &cut_ok, 45, 3), 3);
        // Unreachable target: evict as much as allowed (3 kept).
        assert_eq!(plan_eviction(&tokens, &cut_ok, 0, 3), 3);
        assert_eq!(plan_eviction(&tokens[..3], &cut_ok[..3], 0, 3), 0);
    }

    #[test]
    fn a_flush_evicts_to_the_low_water_mark_and_past_the_newest_three_when_they_overflow() {
        let cut_ok = [true; 6];
        // Small messages: the low-water mark is reached keeping three.
        assert_eq!(plan_flush(&[10; 6], &cut_ok, 30, 40, 3), 3);
        // Three long replies at the end would stay over the warning line: keep only the newest.
        let tokens = [10, 10, 10, 900, 900, 20];
        assert_eq!(plan_flush(&tokens, &cut_ok, 100, 500, 3), 5);
        // When keeping three already fits, the three stay.
        assert_eq!(plan_flush(&tokens, &cut_ok, 100, 2000, 3), 3);
        // The newest is a result: its call stays with it.
        let cut_ok = [true, true, true, true, true, false];
        assert_eq!(plan_flush(&tokens, &cut_ok, 100, 500, 3), 4);
    }

    #[test]
    fn an_echoed_prompt_is_not_a_summary() {
        let prompt = "Summarise the messages below in a few sentences, keeping names, dates and \
                      facts the agent will need later. Previous summary: (none yet). Messages \
                      leaving the context (3 of them): [user] I moved to Lisbon in March and \
                      adopted a cat called Pixel. [assistant] That sounds lovely, tell me more.";
        // The model wrote its prompt back, with a little of its own.
        let echo = format!("{prompt} And so on.");
        assert!(echoes_prompt(&echo, prompt));
        let real = "The user moved to Lisbon in March and has a cat named Pixel; the agent \
                    asked to hear more about the move and the new home.";
        assert!(!echoes_prompt(real, prompt));
        assert!(
            !echoes_prompt("Lisbon, Pixel.", prompt),
            "too short to judge"
        );
    }
}
