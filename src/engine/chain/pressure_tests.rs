//! The chain state machine under memory pressure, without I/O: flushes before a call, overflow
//! retries, and the limits that keep pressure from looping (one flush a step; a chain stuck over
//! the threshold flushes once).

use super::tests::{call, calling, end, hb, msg};
use super::*;

#[test]
fn full_memory_flushes_before_the_call_and_a_failed_flush_ends_the_chain() {
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(
        c.handle(Input::Checked {
            needs_flush: true,
            stuck: false,
            overfull: false,
        }),
        vec![Action::Flush]
    );
    assert!(matches!(c.state, State::Flushing { retry: false, .. }));
    assert_eq!(
        c.handle(Input::Flushed(true)),
        vec![call(Trigger::UserMessage)]
    );
    c.handle(hb("a"));
    c.handle(Input::Checked {
        needs_flush: true,
        stuck: false,
        overfull: false,
    });
    assert_eq!(
        c.handle(Input::Flushed(false)),
        vec![end(1, Ended::Normally)]
    );
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

fn checked(needs_flush: bool, stuck: bool, overfull: bool) -> Input {
    Input::Checked {
        needs_flush,
        stuck,
        overfull,
    }
}

#[test]
fn stuck_over_the_threshold_a_chain_flushes_once_unless_the_prompt_cannot_be_sent() {
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    assert_eq!(c.handle(checked(true, true, false)), vec![Action::Flush]);
    c.handle(Input::Flushed(true));
    c.handle(hb("a"));
    // The same chain: the context is still over the line, but a flush cannot cure that.
    assert_eq!(
        c.handle(checked(true, true, false)),
        vec![call(Trigger::Heartbeat {
            function: "a".into()
        })]
    );
    c.handle(hb("a"));
    // A prompt that would not fit at all is flushed again.
    assert_eq!(c.handle(checked(true, true, true)), vec![Action::Flush]);
    c.handle(Input::Flushed(true));
    c.handle(Input::Stepped(Some(Next::Yield)));
    // A new message starts a new chain, which may flush again.
    c.handle(msg("again"));
    c.handle(Input::Started);
    assert_eq!(c.handle(checked(true, true, false)), vec![Action::Flush]);
}

#[test]
fn a_step_that_was_flushed_before_its_call_is_not_flushed_again_on_overflow() {
    let mut c = Chain::new(10, true, false);
    c.handle(msg("hi"));
    c.handle(Input::Started);
    c.handle(checked(true, false, false));
    c.handle(Input::Flushed(true));
    assert_eq!(
        c.handle(Input::Overflowed),
        vec![Action::DropStep, end(1, Ended::Normally)]
    );
}
