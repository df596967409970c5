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
}
