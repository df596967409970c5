//! A tantivy folder whose files only their owner can read, as the store's own file: the index
//! holds the agent's words.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};

#[derive(Clone, Debug)]
pub struct Private {
    root: PathBuf,
    inner: MmapDirectory,
}

impl Private {
    /// The folder `root`, made when absent, closed to everyone but its owner.
    pub fn open(root: &Path) -> io::Result<Private> {
        std::fs::create_dir_all(root)?;
        restrict(root, 0o700);
        let inner = MmapDirectory::open(root).map_err(io::Error::other)?;
        Ok(Private {
            root: root.to_path_buf(),
            inner,
        })
    }

    fn owner_only(&self, path: &Path) {
        restrict(&self.root.join(path), 0o600);
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) {}

impl Directory for Private {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let w = self.inner.open_write(path)?;
        self.owner_only(path);
        Ok(w)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.inner.atomic_write(path, data)?;
        self.owner_only(path);
        Ok(())
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        let l = self.inner.acquire_lock(lock)?;
        self.owner_only(&lock.filepath);
        Ok(l)
    }

    fn watch(&self, callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(callback)
    }
}
