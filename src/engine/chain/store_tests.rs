//! The chain after a failed write to the store: the chain in progress ends, what was queued
//! goes on, and the machine's settings survive.

use super::tests::{calling, cmd, end, gated, msg};
use super::*;

#[test]
fn a_failed_write_mid_chain_ends_it_and_the_queued_message_starts() {
    let mut c = calling();
    assert_eq!(c.handle(msg("typed while waiting")), vec![]);
    assert_eq!(
        c.handle(Input::StoreFailed),
        vec![
            end(1, Ended::Normally),
            Action::StartChain("typed while waiting".into())
        ]
    );
    assert!(matches!(c.state, State::Checking { .. }));
}

#[test]
fn a_failed_write_while_idle_changes_nothing() {
    let mut c = Chain::new(10, true, false);
    c.handle(cmd(Command::SetStepMode(true)));
    assert_eq!(c.handle(Input::StoreFailed), vec![]);
    assert_eq!(c.state, State::Idle);
    assert!(c.step_mode, "step mode is kept");
    // The next message runs as usual.
    assert_eq!(
        c.handle(msg("again")),
        vec![Action::StartChain("again".into())]
    );
}

#[test]
fn a_failed_write_at_the_gate_ends_the_chain_and_keeps_step_mode() {
    let mut c = gated();
    assert_eq!(c.handle(Input::StoreFailed), vec![end(0, Ended::Normally)]);
    assert!(c.step_mode);
    // A late outcome of what was dropped is ignored.
    assert_eq!(c.handle(Input::Stepped(Some(Next::Yield))), vec![]);
}

#[test]
fn shutdown_queued_before_a_failed_write_still_stops_the_engine() {
    let mut c = calling();
    c.handle(cmd(Command::Shutdown));
    assert_eq!(
        c.handle(Input::StoreFailed),
        vec![end(1, Ended::Normally), Action::Stop]
    );
}
