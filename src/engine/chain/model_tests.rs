//! Messages typed while no model is configured: saved, said to wait, and answered once one is.

use super::tests::{cmd, connect, end, msg};
use super::*;

#[test]
fn a_message_with_no_model_waits_and_is_answered_once_a_model_is_configured() {
    let mut c = Chain::new(10, false, false);
    assert_eq!(c.handle(msg("hi")), vec![Action::StartChain("hi".into())]);
    assert_eq!(c.handle(Input::Started), vec![end(0, Ended::NoModel)]);
    assert_eq!(c.unanswered, 1);
    // Connecting is a side command; once it is done the saved message gets its call.
    assert_eq!(c.handle(cmd(connect())), vec![Action::Side(connect())]);
    assert_eq!(c.handle(Input::ModelReady), vec![Action::Check]);
    assert_eq!(c.unanswered, 0);
    assert!(matches!(
        c.state,
        State::Checking {
            trigger: Trigger::UserMessage
        }
    ));
}

#[test]
fn a_model_configured_with_nothing_waiting_starts_nothing() {
    let mut c = Chain::new(10, false, false);
    assert_eq!(c.handle(Input::ModelReady), vec![]);
    assert!(c.has_model);
    assert_eq!(c.state, State::Idle);
    // And the next message is answered at once.
    c.handle(msg("hi"));
    assert_eq!(c.handle(Input::Started), vec![Action::Check]);
}
