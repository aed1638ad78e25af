//! What the launch rules judge, gathered from this machine: the environment mcpin was started
//! with, the account's home directory (password database of the real uid, never `$HOME`), and
//! docker bind-mount sources resolved with realpath. [`judge`] hands them to
//! [`mcpin_verifier::launch::evaluate_launch`], which decides without I/O.

use std::ffi::OsString;
use std::path::Path;

use mcpin_verifier::launch::{self, DockerRequest, LaunchDecision, LaunchRules, MountSource};

use crate::grammar::LaunchRequest;
use crate::locate::Account;

/// The launch rules over `request` and `env` (the process environment, for `mcpin run`; an
/// agent config entry's `env`, for `mcpin wrap`).
pub fn judge(
    rules: &LaunchRules,
    request: &LaunchRequest,
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> LaunchDecision {
    let account = Account::current();
    let home = account.home.as_deref();
    let mounts: Vec<MountSource> = request
        .docker
        .iter()
        .flat_map(|docker| &docker.volumes)
        .map(|volume| mount_source(&volume.host))
        .collect();
    launch::evaluate_launch(
        rules,
        launch::LaunchRequest {
            launcher: request.launcher.name(),
            docker: request.docker.as_ref().map(|docker| DockerRequest {
                options: &docker.options,
                mounts: &mounts,
            }),
            env: env.into_iter().collect(),
            home,
        },
    )
}

/// A bind-mount source with every symlink resolved (as docker resolves it when it mounts).
pub fn mount_source(written: &str) -> MountSource {
    let resolved = fs_err::canonicalize(Path::new(written)).ok();
    let socket = resolved.as_deref().is_some_and(is_socket);
    MountSource {
        written: written.to_owned(),
        resolved,
        socket,
    }
}

#[cfg(unix)]
fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs_err::metadata(path).is_ok_and(|meta| meta.file_type().is_socket())
}

#[cfg(not(unix))]
fn is_socket(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_sources_are_resolved_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs_err::create_dir(&data).unwrap();
        let link = dir.path().join("innocent");
        std::os::unix::fs::symlink("/proc", &link).unwrap();
        let source = mount_source(link.to_str().unwrap());
        assert_eq!(source.resolved.as_deref(), Some(Path::new("/proc")));
        let real = mount_source(data.to_str().unwrap());
        assert_eq!(real.resolved, Some(fs_err::canonicalize(&data).unwrap()));
        assert!(!real.socket);
        assert_eq!(mount_source("/nonexistent/mcpin/x").resolved, None);
        let socket_path = dir.path().join("s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
        assert!(mount_source(socket_path.to_str().unwrap()).socket);
    }
}
