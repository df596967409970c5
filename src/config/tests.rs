//! Resolving flags, environment and the config file.

use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| m.get(k).cloned()
}

fn no_file() -> CommonArgs {
    CommonArgs {
        config: Some(PathBuf::from("/dev/null")),
        ..Default::default()
    }
}

#[test]
fn flags_beat_environment_and_key_implies_openai() {
    let env = env_of(&[("OPENAI_API_KEY", "sk-test"), ("MEMSCOPE_MODEL", "gpt-4o")]);
    let r = resolve(&no_file(), &ModelArgs::default(), &env).unwrap();
    let c = r.client.unwrap();
    assert_eq!(c.base_url, OPENAI_BASE_URL);
    assert_eq!(c.model, "gpt-4o");
    assert_eq!(r.engine.context_window, 128_000);
    let flags = ModelArgs {
        base_url: Some("http://127.0.0.1:9/v1/".into()),
        model: Some("m".into()),
        ..Default::default()
    };
    let r = resolve(&no_file(), &flags, &env).unwrap();
    assert_eq!(r.client.unwrap().base_url, "http://127.0.0.1:9/v1");
    assert_eq!(r.engine.context_window, 8192);
}

#[test]
fn nothing_configured_means_no_client() {
    let r = resolve(&no_file(), &ModelArgs::default(), &env_of(&[])).unwrap();
    assert!(r.client.is_none());
    assert_eq!(r.agent, "default");
}

#[test]
fn config_file_is_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        "base_url = \"http://x/v1\"\nmodel = \"llama\"\ncontext_window = 4096\nchain_cap = 4\n",
    )
    .unwrap();
    let common = CommonArgs {
        config: Some(p.clone()),
        ..Default::default()
    };
    let r = resolve(&common, &ModelArgs::default(), &env_of(&[])).unwrap();
    assert_eq!((r.engine.context_window, r.engine.chain_cap), (4096, 4));
    std::fs::write(&p, "bogus_key = 1\n").unwrap();
    assert!(matches!(
        resolve(&common, &ModelArgs::default(), &env_of(&[])),
        Err(ConfigError::Parse(..))
    ));
}

#[test]
fn the_token_counter_setting_is_read_and_checked() {
    let r = resolve(&no_file(), &ModelArgs::default(), &env_of(&[])).unwrap();
    assert!(
        r.engine.server_tokenizer,
        "the server's tokenizer is used by default"
    );
    let flags = ModelArgs {
        token_counter: Some("local".into()),
        ..Default::default()
    };
    let r = resolve(&no_file(), &flags, &env_of(&[])).unwrap();
    assert!(!r.engine.server_tokenizer);
    let flags = ModelArgs {
        token_counter: Some("exactish".into()),
        ..Default::default()
    };
    let err = resolve(&no_file(), &flags, &env_of(&[])).unwrap_err();
    assert!(err.to_string().contains("not one of auto, local"), "{err}");
}
