//! What a step costs in the store: traces name the system message and summary they share
//! instead of holding them, and still replay the exact request the server received.

mod common;

use common::*;
use memscope::memory::RequestRecord;

#[tokio::test]
async fn traces_store_shared_texts_once_and_still_replay_every_request_exactly() {
    let server = Server::start(vec![]).await;
    let (_d, path) = temp_store();
    let mut h = start(open_agent(&path, 4000), &server).await;
    let mut flushed = false;
    for i in 0..30 {
        server.push(say(&format!("Reply {i}.")));
        let ev = chat(&mut h, &format!("News {i}: {}", "words ".repeat(60))).await;
        flushed |= ev
            .iter()
            .any(|e| matches!(e, memscope::engine::EventKind::Summary { .. }));
        if flushed && i > 20 {
            break;
        }
    }
    assert!(flushed, "a flush, so that a summary is shared too");
    shutdown(h).await;

    let agent = open_agent(&path, 4000);
    let traces: Vec<_> = agent
        .store
        .traces("default")
        .unwrap()
        .into_iter()
        .filter(|t| matches!(t.request, RequestRecord::Step { .. }))
        .collect();
    let sent = server.step_requests();
    assert_eq!(traces.len(), sent.len());
    let mut systems = std::collections::HashSet::new();
    for (trace, body) in traces.iter().zip(&sent) {
        let RequestRecord::Step {
            system, system_id, ..
        } = &trace.request
        else {
            unreachable!()
        };
        assert!(system.is_empty(), "the system message is not in the trace");
        systems.insert(system_id.unwrap());
        let stored = serde_json::to_vec(trace).unwrap().len();
        assert!(stored < 2048, "step {}: {stored} bytes", trace.step);
        assert_eq!(
            &agent.replay_request(&trace.request).unwrap(),
            body,
            "step {}",
            trace.step
        );
    }
    // The system message changed only at the flush(es): a few texts for many steps.
    assert!(
        systems.len() < traces.len() / 4,
        "{} of {}",
        systems.len(),
        traces.len()
    );
}
