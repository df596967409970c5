//! The chain state machine: what the engine does next, decided without I/O.
//!
//! Contract: [`Chain::handle`] takes one [`Input`] (a command from a face, or the outcome of an
//! action the driver ran) and returns the [`Action`]s to run, in order. It never blocks, reads
//! a clock or touches the store; the async driver (`run.rs`) runs the actions and feeds their
//! outcomes back. One user message runs one chain: commit it, then, until the policy yields or
//! the chain cap is reached, check memory (flush when full), pass the step gate (in step mode),
//! and call the model. While a call or flush is in flight, `Interrupt` cancels it, manual edits
//! apply at once, and whatever would start new work waits in a queue until the chain ends.

use std::collections::VecDeque;

use super::policy::Next;
use crate::protocol::{Command, Trigger};

/// Where the engine is.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Waiting for the user.
    Idle,
    /// Counting the next prompt to see whether memory must be flushed first.
    Checking { trigger: Trigger },
    /// Step mode: waiting for `Step` or `Continue` before calling the model.
    Gated { trigger: Trigger },
    /// A model call is in flight.
    Calling { trigger: Trigger },
    /// A flush (the summary call) is in flight; `retry` when it answers a context overflow, so
    /// the same step is sent again after it.
    Flushing { trigger: Trigger, retry: bool },
}

/// What happened, for the machine to decide on.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Command(Command),
    /// Every face has gone: no command will come again.
    Closed,
    /// The user's message was committed (see [`Action::StartChain`]).
    Started,
    /// The prompt was counted: whether it leaves too little room for the reply (the driver has
    /// already told the user when the fixed part alone passes the warning line).
    Checked {
        needs_flush: bool,
    },
    /// The flush finished: false when nothing could be evicted or it was interrupted.
    Flushed(bool),
    /// The model call finished: what the policy says follows, `None` when it failed or was
    /// interrupted (the driver has reported why).
    Stepped(Option<Next>),
    /// The server refused the prompt as too long.
    Overflowed,
    /// A write to the store failed (the driver has reported it): the chain in progress ends,
    /// and what is queued goes on.
    StoreFailed,
    /// A model endpoint is configured now (after `Connect`): messages saved while there was
    /// none are answered.
    ModelReady,
}

/// Why a chain ended early, for the driver to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The policy yielded, or the driver already reported the failure.
    Normally,
    /// `chain_cap` model calls were made for one input.
    Cap,
    /// No model endpoint is configured.
    NoModel,
    /// Stopped at the step gate (interrupt, shutdown).
    AtGate,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Commit the user's message (with a login event first in a session), then answer
    /// [`Input::Started`].
    StartChain(String),
    /// Count the next prompt, then answer [`Input::Checked`].
    Check,
    /// Flush memory, then answer [`Input::Flushed`].
    Flush,
    /// Tell the faces the engine waits at the gate before a call for `trigger`.
    Pause(Trigger),
    /// Call the model for one step, then answer [`Input::Stepped`] or [`Input::Overflowed`].
    /// `retry`: the same step again after an overflow was flushed (not a new step).
    Call { trigger: Trigger, retry: bool },
    /// The step that overflowed will not be sent again: its number is free.
    DropStep,
    /// Drop the call or flush in flight (its answer is then `Stepped(None)` / `Flushed(false)`).
    Cancel,
    /// Run a command that changes memory or the connection but starts no chain.
    Side(Command),
    /// Report how the chain ended and that it is over (`steps` model calls).
    EndChain { steps: u32, ended: Ended },
    /// The engine stops.
    Stop,
}

/// The machine's memory between inputs.
#[derive(Debug)]
pub struct Chain {
    pub state: State,
    pub step_mode: bool,
    /// `Continue` was given: no more pauses until the chain ends.
    run_to_end: bool,
    /// Model calls made in this chain.
    steps: u32,
    /// Most model calls per chain.
    cap: u32,
    /// Commands that wait for the chain to end.
    queue: VecDeque<Command>,
    /// A model endpoint is configured.
    pub has_model: bool,
    /// Messages saved while no model was configured, not answered yet (they wait in the
    /// queue and are answered, together, once one is).
    pub unanswered: u32,
    /// Passages added by hand are embedded first (which waits for the chain to end).
    pub embeds_passages: bool,
    /// `ShutdownNow` was heard, or the faces are gone.
    stopping: bool,
    closed: bool,
    /// The step in flight already answered one overflow with a flush.
    overflowed: bool,
    /// A flush ran in this chain: an input flushes at most once (a flush before a call or one
    /// answering an overflow).
    flushed_chain: bool,
}

impl Chain {
    pub fn new(cap: u32, has_model: bool, embeds_passages: bool) -> Chain {
        Chain {
            state: State::Idle,
            step_mode: false,
            run_to_end: false,
            steps: 0,
            cap,
            queue: VecDeque::new(),
            has_model,
            unanswered: 0,
            embeds_passages,
            stopping: false,
            closed: false,
            overflowed: false,
            flushed_chain: false,
        }
    }

    /// Commands waiting for the chain to end.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn handle(&mut self, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Command(c) => self.command(c, &mut out),
            Input::Closed => {
                self.closed = true;
                match &self.state {
                    State::Idle => self.drain(&mut out),
                    State::Gated { .. } => self.end(Ended::AtGate, &mut out),
                    _ => {}
                }
            }
            Input::Started => {
                if self.has_model {
                    self.unanswered = 0;
                    self.next_call(Trigger::UserMessage, &mut out);
                } else {
                    self.unanswered += 1;
                    self.end(Ended::NoModel, &mut out);
                }
            }
            Input::ModelReady => {
                self.has_model = true;
                if self.unanswered > 0 && self.state == State::Idle && !self.stopping {
                    self.unanswered = 0;
                    self.steps = 0;
                    self.run_to_end = false;
                    self.overflowed = false;
                    self.flushed_chain = false;
                    self.next_call(Trigger::UserMessage, &mut out);
                }
            }
            Input::Checked { needs_flush } => {
                let State::Checking { trigger } = self.state.clone() else {
                    return out;
                };
                // One flush per input, whatever the model writes: the flush evicts to a low-water
                // mark, so a second one would only mean the model keeps writing past the window.
                // A prompt that still cannot fit is refused by the call itself (`memory_full`).
                if needs_flush && !self.flushed_chain {
                    self.flushed_chain = true;
                    self.state = State::Flushing {
                        trigger,
                        retry: false,
                    };
                    out.push(Action::Flush);
                } else {
                    self.gate(trigger, &mut out);
                }
            }
            Input::Flushed(ok) => {
                let State::Flushing { trigger, retry } = self.state.clone() else {
                    return out;
                };
                match (ok, retry) {
                    (false, true) => {
                        out.push(Action::DropStep);
                        self.end(Ended::Normally, &mut out)
                    }
                    (false, false) => self.end(Ended::Normally, &mut out),
                    // The step that overflowed is sent again at once: it passed the gate.
                    (true, true) => self.call(trigger, false, &mut out),
                    (true, false) => self.gate(trigger, &mut out),
                }
            }
            Input::Overflowed => {
                let State::Calling { trigger } = self.state.clone() else {
                    return out;
                };
                if self.overflowed || self.flushed_chain || self.stopping {
                    out.push(Action::DropStep);
                    self.end(Ended::Normally, &mut out);
                } else {
                    self.overflowed = true;
                    self.flushed_chain = true;
                    self.state = State::Flushing {
                        trigger,
                        retry: true,
                    };
                    out.push(Action::Flush);
                }
            }
            Input::StoreFailed => {
                if self.state != State::Idle {
                    self.end(Ended::Normally, &mut out);
                }
            }
            Input::Stepped(next) => {
                if !matches!(self.state, State::Calling { .. }) {
                    return out;
                }
                match next {
                    _ if self.stopping => self.end(Ended::Normally, &mut out),
                    Some(Next::Warn) => self.next_call(Trigger::MemoryWarning, &mut out),
                    Some(Next::Heartbeat(t)) => self.next_call(t, &mut out),
                    Some(Next::Yield) | None => self.end(Ended::Normally, &mut out),
                }
            }
        }
        out
    }

    fn command(&mut self, c: Command, out: &mut Vec<Action>) {
        match (&self.state, c) {
            (_, Command::SetStepMode(on)) => {
                self.step_mode = on;
                if !on {
                    self.run_to_end = false;
                    if let State::Gated { trigger } = self.state.clone() {
                        self.call(trigger, true, out);
                    }
                }
            }
            (State::Idle, c) => self.idle_command(c, out),
            // At the gate.
            (State::Gated { trigger }, Command::Step) => {
                let trigger = trigger.clone();
                self.call(trigger, true, out)
            }
            (State::Gated { trigger }, Command::Continue) => {
                let trigger = trigger.clone();
                self.run_to_end = true;
                self.call(trigger, true, out)
            }
            (State::Gated { .. }, Command::Interrupt) => self.end(Ended::AtGate, out),
            (State::Gated { .. }, Command::Shutdown) => {
                self.queue.push_front(Command::Shutdown);
                self.end(Ended::AtGate, out)
            }
            (State::Gated { .. }, Command::ShutdownNow) => {
                self.stopping = true;
                self.end(Ended::AtGate, out)
            }
            (
                State::Gated { trigger },
                c @ (Command::EditCore { .. }
                | Command::SetInstructions(_)
                | Command::UndoInstructions),
            ) => {
                let trigger = trigger.clone();
                out.push(Action::Side(c));
                out.push(Action::Pause(trigger));
            }
            // Counting before a call: nothing to cancel yet, the call is not made.
            (State::Checking { .. }, Command::Interrupt) => self.end(Ended::AtGate, out),
            (State::Checking { .. }, Command::ShutdownNow) => {
                self.stopping = true;
                self.end(Ended::AtGate, out)
            }
            // A call or flush in flight (or the count before one).
            (_, Command::Interrupt) => {
                if self.in_flight() {
                    out.push(Action::Cancel);
                }
            }
            (_, Command::ShutdownNow) => {
                self.stopping = true;
                if self.in_flight() {
                    out.push(Action::Cancel);
                }
            }
            (_, Command::Step | Command::Continue) => {}
            (_, c @ (Command::EditCore { .. } | Command::DeletePassage(_))) => {
                out.push(Action::Side(c))
            }
            (_, Command::InsertPassage(text)) if !self.embeds_passages => {
                out.push(Action::Side(Command::InsertPassage(text)))
            }
            (_, c) => self.queue.push_back(c),
        }
    }

    fn idle_command(&mut self, c: Command, out: &mut Vec<Action>) {
        match c {
            Command::UserMessage(text) => {
                self.steps = 0;
                self.run_to_end = false;
                self.overflowed = false;
                self.flushed_chain = false;
                self.state = State::Checking {
                    trigger: Trigger::UserMessage,
                };
                out.push(Action::StartChain(text));
            }
            Command::Shutdown | Command::ShutdownNow => {
                self.stopping = true;
                out.push(Action::Stop);
            }
            Command::Interrupt | Command::Step | Command::Continue | Command::SetStepMode(_) => {}
            side => out.push(Action::Side(side)),
        }
    }

    fn in_flight(&self) -> bool {
        matches!(self.state, State::Calling { .. } | State::Flushing { .. })
    }

    /// Before the next model call: the chain cap, then the memory check.
    fn next_call(&mut self, trigger: Trigger, out: &mut Vec<Action>) {
        if self.steps >= self.cap {
            return self.end(Ended::Cap, out);
        }
        self.state = State::Checking { trigger };
        out.push(Action::Check);
    }

    fn gate(&mut self, trigger: Trigger, out: &mut Vec<Action>) {
        if self.stopping {
            return self.end(Ended::AtGate, out);
        }
        if self.step_mode && !self.run_to_end {
            self.state = State::Gated {
                trigger: trigger.clone(),
            };
            out.push(Action::Pause(trigger));
        } else {
            self.call(trigger, true, out);
        }
    }

    /// Calls the model; `new_step` unless it sends an overflowed step again.
    fn call(&mut self, trigger: Trigger, new_step: bool, out: &mut Vec<Action>) {
        if new_step {
            self.steps += 1;
            self.overflowed = false;
        }
        self.state = State::Calling {
            trigger: trigger.clone(),
        };
        out.push(Action::Call {
            trigger,
            retry: !new_step,
        });
    }

    fn end(&mut self, ended: Ended, out: &mut Vec<Action>) {
        self.state = State::Idle;
        self.run_to_end = false;
        out.push(Action::EndChain {
            steps: self.steps,
            ended,
        });
        self.drain(out);
    }

    /// Idle again: the next queued command runs, or the engine stops when the faces are gone.
    fn drain(&mut self, out: &mut Vec<Action>) {
        while self.state == State::Idle {
            if self.stopping {
                out.push(Action::Stop);
                return;
            }
            match self.queue.pop_front() {
                Some(c) => self.idle_command(c, out),
                None => {
                    if self.closed {
                        self.stopping = true;
                        out.push(Action::Stop);
                    }
                    return;
                }
            }
            if out.last() == Some(&Action::Stop) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod pressure_tests;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;
