//! The chain state machine under memory pressure, without I/O: flushes before a call, overflow
//! retries, and the limit that keeps pressure from looping: one flush per input, whatever the
//! model writes.

use super::tests::{call, calling, end, hb, msg};
use super::*;

fn checked(needs_flush: bool) -> Input {
    Input::Checked { needs_flush }
}

fn hb_trigger(f: &str) -> Trigger {
    Trigger::Heartbeat { function: f.into() }
}

#[test]
fn full_memory_flushes_before_the_call_and_a_failed_flush_ends_the_chain() {
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(c.handle(checked(true)), vec![Action::Flush]);
    assert!(matches!(c.state, State::Flushing { retry: false, .. }));
    assert_eq!(
        c.handle(Input::Flushed(true)),
        vec![call(Trigger::UserMessage)]
    );
    // A flush that evicts nothing ends the chain.
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    c.handle(checked(true));
    assert_eq!(
        c.handle(Input::Flushed(false)),
        vec![end(0, Ended::Normally)]
    );
}

#[test]
fn an_input_flushes_at_most_once_however_many_steps_its_chain_takes() {
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(c.handle(checked(true)), vec![Action::Flush]);
    c.handle(Input::Flushed(true));
    for _ in 0..5 {
        c.handle(hb("a"));
        // Still over the line: the step goes out (the call refuses a prompt that cannot fit).
        assert_eq!(c.handle(checked(true)), vec![call(hb_trigger("a"))]);
    }
    c.handle(Input::Stepped(Some(Next::Yield)));
    assert_eq!(c.state, State::Idle);
    // A new message starts a new chain, which may flush again.
    c.handle(msg("again"));
    c.handle(Input::Started);
    assert_eq!(c.handle(checked(true)), vec![Action::Flush]);
}

#[test]
fn an_overflow_flushes_and_sends_the_same_step_once_more() {
    let mut c = calling();
    assert_eq!(c.handle(Input::Overflowed), vec![Action::Flush]);
    assert_eq!(
        c.handle(Input::Flushed(true)),
        vec![Action::Call {
            trigger: Trigger::UserMessage,
            retry: true
        }]
    );
    // A second overflow of the same step gives up, and the step number is freed.
    assert_eq!(
        c.handle(Input::Overflowed),
        vec![Action::DropStep, end(1, Ended::Normally)]
    );
    // An overflow whose flush evicts nothing gives up too.
    let mut c = calling();
    c.handle(Input::Overflowed);
    assert_eq!(
        c.handle(Input::Flushed(false)),
        vec![Action::DropStep, end(1, Ended::Normally)]
    );
}

#[test]
fn an_overflow_after_the_inputs_flush_drops_the_step_instead_of_flushing_again() {
    // Flushed before the first call.
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    c.handle(checked(true));
    c.handle(Input::Flushed(true));
    assert_eq!(
        c.handle(Input::Overflowed),
        vec![Action::DropStep, end(1, Ended::Normally)]
    );
    // Flushed for an overflow earlier in the chain, then a later step overflows.
    let mut c = calling();
    c.handle(Input::Overflowed);
    c.handle(Input::Flushed(true));
    c.handle(hb("a"));
    assert_eq!(c.handle(checked(false)), vec![call(hb_trigger("a"))]);
    assert_eq!(
        c.handle(Input::Overflowed),
        vec![Action::DropStep, end(2, Ended::Normally)]
    );
}
