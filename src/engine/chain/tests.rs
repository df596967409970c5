//! The chain state machine without I/O: each state, each command in it.

use super::*;

pub(super) fn msg(t: &str) -> Input {
    Input::Command(Command::UserMessage(t.into()))
}

pub(super) fn cmd(c: Command) -> Input {
    Input::Command(c)
}

pub(super) fn hb(f: &str) -> Input {
    Input::Stepped(Some(Next::Heartbeat(Trigger::Heartbeat {
        function: f.into(),
    })))
}

pub(super) fn call(t: Trigger) -> Action {
    Action::Call {
        trigger: t,
        retry: false,
    }
}

pub(super) fn end(steps: u32, ended: Ended) -> Action {
    Action::EndChain { steps, ended }
}

pub(super) fn edit() -> Command {
    Command::EditCore {
        label: "human".into(),
        value: "Ada".into(),
    }
}

/// A chain that has started and is calling the model for the user's message.
pub(super) fn calling() -> Chain {
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![call(Trigger::UserMessage)]
    );
    c
}

/// A chain in step mode waiting at the gate before its first call.
pub(super) fn gated() -> Chain {
    let mut c = Chain::new(10, true, false);
    c.handle(cmd(Command::SetStepMode(true)));
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![Action::Pause(Trigger::UserMessage)]
    );
    c
}

#[test]
fn a_message_runs_commit_check_call_until_the_policy_yields() {
    let mut c = Chain::new(10, true, false);
    assert_eq!(c.handle(msg("hi")), vec![Action::StartChain("hi".into())]);
    assert_eq!(c.handle(Input::Started), vec![Action::Check]);
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![call(Trigger::UserMessage)]
    );
    assert_eq!(c.handle(hb("archival_memory_insert")), vec![Action::Check]);
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![call(Trigger::Heartbeat {
            function: "archival_memory_insert".into()
        })]
    );
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Warn))),
        vec![Action::Check]
    );
    c.handle(Input::Checked { needs_flush: false });
    assert_eq!(
        c.state,
        State::Calling {
            trigger: Trigger::MemoryWarning
        }
    );
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Yield))),
        vec![end(3, Ended::Normally)]
    );
    assert_eq!(c.state, State::Idle);
}

#[test]
fn without_a_model_the_message_is_kept_and_the_chain_ends() {
    let mut c = Chain::new(10, false, false);
    c.handle(msg("hi"));
    assert_eq!(c.handle(Input::Started), vec![end(0, Ended::NoModel)]);
}

#[test]
fn the_chain_cap_stops_a_chain_of_heartbeats() {
    let mut c = Chain::new(2, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    c.handle(Input::Checked { needs_flush: false });
    c.handle(hb("a"));
    c.handle(Input::Checked { needs_flush: false });
    assert_eq!(c.handle(hb("a")), vec![end(2, Ended::Cap)]);
}

#[test]
fn a_failed_call_ends_the_chain() {
    let mut c = calling();
    assert_eq!(
        c.handle(Input::Stepped(None)),
        vec![end(1, Ended::Normally)]
    );
}

#[test]
fn step_mode_pauses_before_every_call_and_step_runs_exactly_one() {
    let mut c = gated();
    assert_eq!(
        c.handle(cmd(Command::Step)),
        vec![call(Trigger::UserMessage)]
    );
    c.handle(hb("a"));
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![Action::Pause(Trigger::Heartbeat {
            function: "a".into()
        })]
    );
}

#[test]
fn continue_runs_the_rest_of_the_chain_without_pausing_then_pauses_again() {
    let mut c = gated();
    assert_eq!(
        c.handle(cmd(Command::Continue)),
        vec![call(Trigger::UserMessage)]
    );
    c.handle(hb("a"));
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![call(Trigger::Heartbeat {
            function: "a".into()
        })]
    );
    c.handle(Input::Stepped(Some(Next::Yield)));
    c.handle(msg("again"));
    c.handle(Input::Started);
    assert_eq!(
        c.handle(Input::Checked { needs_flush: false }),
        vec![Action::Pause(Trigger::UserMessage)],
        "the next chain pauses again"
    );
}

#[test]
fn step_mode_off_at_the_gate_calls_at_once() {
    let mut c = gated();
    assert_eq!(
        c.handle(cmd(Command::SetStepMode(false))),
        vec![call(Trigger::UserMessage)]
    );
    assert!(!c.step_mode);
}

#[test]
fn at_the_gate_an_edit_applies_and_the_pause_is_shown_again() {
    let mut c = gated();
    assert_eq!(
        c.handle(cmd(edit())),
        vec![Action::Side(edit()), Action::Pause(Trigger::UserMessage)]
    );
    assert!(matches!(c.state, State::Gated { .. }));
}

#[test]
fn interrupt_in_each_state() {
    // Idle: nothing happens.
    let mut c = Chain::new(10, true, false);
    assert_eq!(c.handle(cmd(Command::Interrupt)), vec![]);
    // At the gate: the chain ends before the call.
    let mut c = gated();
    assert_eq!(
        c.handle(cmd(Command::Interrupt)),
        vec![end(0, Ended::AtGate)]
    );
    // While counting: the call is never made.
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(
        c.handle(cmd(Command::Interrupt)),
        vec![end(0, Ended::AtGate)]
    );
    assert_eq!(c.handle(Input::Checked { needs_flush: false }), vec![]);
    // Calling: the call is cancelled; its failure ends the chain.
    let mut c = calling();
    assert_eq!(c.handle(cmd(Command::Interrupt)), vec![Action::Cancel]);
    assert_eq!(
        c.handle(Input::Stepped(None)),
        vec![end(1, Ended::Normally)]
    );
    // Flushing: the summary call is cancelled.
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    c.handle(Input::Checked { needs_flush: true });
    assert_eq!(c.handle(cmd(Command::Interrupt)), vec![Action::Cancel]);
    assert_eq!(
        c.handle(Input::Flushed(false)),
        vec![end(0, Ended::Normally)]
    );
}

#[test]
fn messages_during_a_chain_wait_and_run_in_order_after_it() {
    let mut c = calling();
    assert_eq!(c.handle(msg("second")), vec![]);
    assert_eq!(c.handle(msg("third")), vec![]);
    assert_eq!(c.queued(), 2);
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Yield))),
        vec![end(1, Ended::Normally), Action::StartChain("second".into())]
    );
    c.handle(Input::Started);
    c.handle(Input::Checked { needs_flush: false });
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Yield))),
        vec![end(1, Ended::Normally), Action::StartChain("third".into())]
    );
}

#[test]
fn edits_apply_during_a_call_while_new_work_waits() {
    let mut c = calling();
    assert_eq!(c.handle(cmd(edit())), vec![Action::Side(edit())]);
    assert_eq!(
        c.handle(cmd(Command::DeletePassage(3))),
        vec![Action::Side(Command::DeletePassage(3))]
    );
    assert_eq!(
        c.handle(cmd(Command::InsertPassage("x".into()))),
        vec![Action::Side(Command::InsertPassage("x".into()))],
        "saved at once without an embedding model"
    );
    assert_eq!(c.handle(cmd(Command::Step)), vec![]);
    assert_eq!(c.handle(cmd(Command::SetStepMode(true))), vec![]);
    assert!(c.step_mode, "the next call pauses");
    // With an embedding model a passage waits for the chain (embedding it takes a call).
    let mut c = Chain::new(10, true, true);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    c.handle(Input::Checked { needs_flush: false });
    assert_eq!(c.handle(cmd(Command::InsertPassage("x".into()))), vec![]);
    assert_eq!(
        c.handle(Input::Stepped(None)),
        vec![
            end(1, Ended::Normally),
            Action::Side(Command::InsertPassage("x".into()))
        ]
    );
}

#[test]
fn idle_commands_run_at_once() {
    let mut c = Chain::new(10, true, true);
    for side in [
        edit(),
        Command::DeletePassage(1),
        Command::InsertPassage("p".into()),
    ] {
        assert_eq!(c.handle(cmd(side.clone())), vec![Action::Side(side)]);
    }
    assert_eq!(c.handle(cmd(Command::Step)), vec![], "nothing is paused");
    assert_eq!(c.handle(cmd(Command::Continue)), vec![]);
}

#[test]
fn shutdown_finishes_what_is_queued_first() {
    let mut c = calling();
    c.handle(msg("second"));
    c.handle(cmd(Command::Shutdown));
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Yield))),
        vec![end(1, Ended::Normally), Action::StartChain("second".into())]
    );
    c.handle(Input::Started);
    c.handle(Input::Checked { needs_flush: false });
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Yield))),
        vec![end(1, Ended::Normally), Action::Stop]
    );
    // Idle, it stops at once.
    let mut c = Chain::new(10, true, false);
    assert_eq!(c.handle(cmd(Command::Shutdown)), vec![Action::Stop]);
}

#[test]
fn shutdown_at_the_gate_ends_the_chain_then_stops() {
    let mut c = gated();
    c.handle(msg("queued before"));
    assert_eq!(
        c.handle(cmd(Command::Shutdown)),
        vec![end(0, Ended::AtGate), Action::Stop],
        "the chain at the gate ends; stopping comes before what was queued"
    );
}

#[test]
fn shutdown_now_cancels_the_call_and_drops_the_queue() {
    let mut c = calling();
    c.handle(msg("never run"));
    assert_eq!(c.handle(cmd(Command::ShutdownNow)), vec![Action::Cancel]);
    assert_eq!(
        c.handle(Input::Stepped(None)),
        vec![end(1, Ended::Normally), Action::Stop]
    );
    // Even a reply that asked for a heartbeat ends it.
    let mut c = calling();
    c.handle(cmd(Command::ShutdownNow));
    assert_eq!(
        c.handle(hb("a")),
        vec![end(1, Ended::Normally), Action::Stop]
    );
    let mut c = gated();
    assert_eq!(
        c.handle(cmd(Command::ShutdownNow)),
        vec![end(0, Ended::AtGate), Action::Stop]
    );
}

#[test]
fn when_the_faces_are_gone_the_chain_finishes_then_the_engine_stops() {
    let mut c = calling();
    assert_eq!(c.handle(Input::Closed), vec![]);
    assert_eq!(
        c.handle(Input::Stepped(Some(Next::Yield))),
        vec![end(1, Ended::Normally), Action::Stop]
    );
    let mut c = gated();
    assert_eq!(
        c.handle(Input::Closed),
        vec![end(0, Ended::AtGate), Action::Stop]
    );
    let mut c = Chain::new(10, true, false);
    assert_eq!(c.handle(Input::Closed), vec![Action::Stop]);
}

/// A `Connect` to an endpoint nothing listens on (the machine never calls it).
pub(super) fn connect() -> Command {
    Command::Connect {
        client: crate::model::ClientConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
            model: "m".into(),
            timeout: std::time::Duration::from_secs(1),
            retry: Default::default(),
            embedding_model: None,
            embedding_base_url: None,
            stream: false,
        },
        provider: None,
        keep_model: false,
    }
}

#[test]
fn connecting_waits_for_the_chain_and_runs_when_idle() {
    let connect = connect();
    let mut c = calling();
    assert_eq!(c.handle(cmd(connect.clone())), vec![]);
    assert_eq!(
        c.handle(Input::Stepped(None)),
        vec![end(1, Ended::Normally), Action::Side(connect)]
    );
}

#[test]
fn outcomes_that_do_not_fit_the_state_are_ignored() {
    let mut c = Chain::new(10, true, false);
    assert_eq!(c.handle(Input::Stepped(Some(Next::Yield))), vec![]);
    assert_eq!(c.handle(Input::Flushed(true)), vec![]);
    assert_eq!(c.handle(Input::Overflowed), vec![]);
    assert_eq!(c.handle(Input::Checked { needs_flush: true }), vec![]);
    assert_eq!(c.state, State::Idle);
}
