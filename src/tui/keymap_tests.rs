//! The keymap's tests: defaults, overrides, conflicts and the keys that cannot be bound.

use super::*;

fn key(c: KeyCode, m: KeyModifiers) -> KeyEvent {
    KeyEvent::new(c, m)
}

#[test]
fn a_key_bound_to_two_actions_is_refused_naming_both() {
    assert!(Keymap::default().check_conflicts().is_ok());
    let mut o = HashMap::new();
    o.insert("quit".to_string(), vec!["n".to_string()]);
    let e = Keymap::with_overrides(&o).unwrap_err();
    assert!(e.contains("n is bound to both step and quit"), "{e}");
    let mut c = HashMap::new();
    c.insert("step".to_string(), vec!["ctrl-c".to_string()]);
    let e = Keymap::with_overrides(&c).unwrap_err();
    assert!(e.contains("always quits"), "{e}");
    // Moving the other action away too makes it fine.
    o.insert("step".to_string(), vec!["f10".to_string()]);
    let k = Keymap::with_overrides(&o).unwrap();
    assert_eq!(
        k.action(&key(KeyCode::Char('n'), KeyModifiers::NONE)),
        Some(Action::Quit)
    );
}

#[test]
fn defaults_and_rebinding() {
    let k = Keymap::default();
    assert_eq!(
        k.action(&key(KeyCode::Char('q'), KeyModifiers::NONE)),
        Some(Action::Quit)
    );
    assert_eq!(
        k.action(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
        Some(Action::Bottom)
    );
    assert_eq!(
        k.action(&key(KeyCode::Char(' '), KeyModifiers::NONE)),
        Some(Action::Step)
    );
    let mut o = HashMap::new();
    o.insert("quit".to_string(), vec!["ctrl-q".to_string()]);
    let k = Keymap::with_overrides(&o).unwrap();
    assert_eq!(k.action(&key(KeyCode::Char('q'), KeyModifiers::NONE)), None);
    assert_eq!(
        k.action(&key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        Some(Action::Quit)
    );
    assert!(
        k.help()
            .iter()
            .any(|(keys, d)| keys == "Ctrl-q" && *d == "quit")
    );
    o.insert("fly".to_string(), vec!["x".to_string()]);
    assert!(
        Keymap::with_overrides(&o)
            .unwrap_err()
            .contains("no such action")
    );
}
