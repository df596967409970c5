//! Where memscope keeps its files: the XDG base directories on every platform.

use std::path::PathBuf;

/// The XDG base directories, on Linux and macOS alike (`XDG_CONFIG_HOME`, else `~/.config`;
/// `XDG_DATA_HOME`, else `~/.local/share`; `XDG_STATE_HOME`, else `~/.local/state`), so the
/// paths the README gives are the paths memscope uses everywhere. None without a home
/// directory.
fn xdg() -> Option<etcetera::base_strategy::Xdg> {
    etcetera::base_strategy::Xdg::new().ok()
}

pub fn default_config_path() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    xdg().map(|x| x.config_dir().join("memscope").join("config.toml"))
}

pub fn default_store_path() -> PathBuf {
    use etcetera::BaseStrategy;
    xdg()
        .map(|x| x.data_dir())
        .unwrap_or_else(|| PathBuf::from("."))
        .join("memscope")
        .join("memscope.redb")
}

/// Where the TUI's `/export` writes when no file is named.
pub fn exports_dir() -> PathBuf {
    default_store_path()
        .parent()
        .map(|p| p.join("exports"))
        .unwrap_or_else(|| PathBuf::from("exports"))
}

/// Where logs and panic reports go.
pub fn state_dir() -> PathBuf {
    use etcetera::BaseStrategy;
    xdg()
        .and_then(|x| x.state_dir())
        .unwrap_or_else(std::env::temp_dir)
        .join("memscope")
}

/// The user's home directory (for `~/` in paths typed in the TUI).
pub fn home_dir() -> Option<PathBuf> {
    etcetera::home_dir().ok()
}
