//! A private `XDG_RUNTIME_DIR` for the adapter probe on a headless Linux machine.
//!
//! Mesa's Vulkan drivers try to reach a Wayland compositor while the loader enumerates them,
//! and libwayland prints `error: XDG_RUNTIME_DIR is invalid or not set in the environment.`
//! (once per driver) when the variable is unset or not an absolute path. rgrad only computes,
//! so no compositor is needed; the line is noise that every headless run would print. While
//! the instance, adapter and device are created, a variable that is missing or invalid is
//! pointed at a 0700 directory of this user under the temp dir, and restored afterwards, so the
//! process environment (and any child process) is left as it was.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Restores the previous value of `XDG_RUNTIME_DIR` when dropped.
pub struct RuntimeDirGuard {
    previous: Option<Option<OsString>>,
}

const VAR: &str = "XDG_RUNTIME_DIR";

/// libwayland's own test: set and absolute. A path that is not a directory fails later too.
fn is_valid(value: Option<&OsString>) -> bool {
    value.is_some_and(|v| {
        let path = Path::new(v);
        path.is_absolute() && path.is_dir()
    })
}

#[cfg(target_os = "linux")]
fn private_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // /proc/self belongs to the process's effective user: no libc call needed for the uid.
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = std::env::temp_dir().join(format!("rgrad-runtime-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(_) => return None,
    }
    // Another user may have made that name first (a shared /tmp): use it only if it is our
    // own private directory, never a symlink or someone else's.
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    let private = meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0;
    private.then_some(dir)
}

#[cfg(not(target_os = "linux"))]
fn private_dir() -> Option<PathBuf> {
    None
}

/// Points `XDG_RUNTIME_DIR` at a private directory when it is unset or invalid; the returned
/// guard puts the old value back. Called only on the thread that creates the wgpu context,
/// before the Vulkan loader starts.
pub fn ensure() -> RuntimeDirGuard {
    let current = std::env::var_os(VAR);
    if is_valid(current.as_ref()) {
        return RuntimeDirGuard { previous: None };
    }
    match private_dir() {
        Some(dir) => {
            std::env::set_var(VAR, dir);
            RuntimeDirGuard { previous: Some(current) }
        }
        None => RuntimeDirGuard { previous: None },
    }
}

impl Drop for RuntimeDirGuard {
    fn drop(&mut self) {
        match self.previous.take() {
            Some(Some(value)) => std::env::set_var(VAR, value),
            Some(None) => std::env::remove_var(VAR),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_existing_directories_are_valid() {
        assert!(!is_valid(None));
        assert!(!is_valid(Some(&OsString::from(""))));
        assert!(!is_valid(Some(&OsString::from("relative/dir"))));
        assert!(!is_valid(Some(&OsString::from("/nonexistent/rgrad-runtime-test"))));
        assert!(is_valid(Some(&std::env::temp_dir().into_os_string())));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_private_directory_is_ours_and_closed_to_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = private_dir().expect("a private runtime dir under the temp dir");
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{dir:?} is open to other users: {mode:o}");
    }
}
