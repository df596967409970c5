//! What memscope asks a server at start (its window, its tokenizer) is asked all at once: a
//! server that never answers those questions keeps several of them open at the same moment,
//! where asking one after another would never have more than one open.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use memscope::engine::{self, Agent, EventKind};
use memscope::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread")]
async fn questions_to_a_silent_server_are_asked_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (o, m) = (open.clone(), most.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (o, m) = (o.clone(), m.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                if path.ends_with("/v1/models") {
                    let body = r#"{"object":"list","data":[{"id":"scripted-model"}]}"#;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                    return;
                }
                // Any other question: never answered; held until the client gives up.
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                while sock.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });

    let (_dir, path) = temp_store();
    let store = Arc::new(Store::open(&path).unwrap());
    let settings = settings(8192);
    let agent = Agent::open(store, "default", settings).unwrap();
    let client = memscope::model::ModelClient::new(client_config(&base_url)).unwrap();
    let mut h = engine::spawn(agent, Some(client));
    // The engine is ready once its questions are answered or given up on.
    until(&mut h.events, |k| matches!(k, EventKind::Ready { .. })).await;
    until(&mut h.events, |k| matches!(k, EventKind::Budget(_))).await;
    let most = most.load(Ordering::SeqCst);
    assert!(
        most >= 3,
        "at most {most} question(s) were open at once: they were asked one after another"
    );
    shutdown(h).await;
}
