//! `docker run` options, volumes and image references.

use super::{DockerVolume, Refusal, RefusalCode, refuse};

pub(super) fn docker_flag_refusal(name: &str) -> Result<(), Refusal> {
    let (code, why) = match name {
        "--privileged" => (
            RefusalCode::DockerPrivileged,
            "gives the container full host access",
        ),
        "--cap-add" => (RefusalCode::DockerCapAdd, "adds kernel capabilities"),
        "--device" => (RefusalCode::DockerDevice, "exposes a host device"),
        "-d" | "--detach" => (
            RefusalCode::DockerDetach,
            "detaches the server from the agent's stdio",
        ),
        "-t" | "--tty" => (
            RefusalCode::DockerTty,
            "a TTY alters the protocol byte stream",
        ),
        "--entrypoint" => (
            RefusalCode::DockerEntrypoint,
            "replaces the image's signed entry point",
        ),
        "--env-file" => (
            RefusalCode::DockerEnvFile,
            "reads unreviewed environment from a file",
        ),
        "--security-opt" => (
            RefusalCode::DockerSecurityOpt,
            "weakens the container's confinement",
        ),
        "--mount" => (
            RefusalCode::DockerUnknownOption,
            "use `-v host:container:ro` instead",
        ),
        _ => (
            RefusalCode::DockerUnknownOption,
            "is not a recognized `docker run` option",
        ),
    };
    refuse(code, format!("`{name}` {why}"))
}

pub(super) fn docker_volume(value: &str) -> Result<DockerVolume, Refusal> {
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, options) = match parts.as_slice() {
        [host, container] => (*host, *container, ""),
        [host, container, options] => (*host, *container, *options),
        _ => {
            return refuse(
                RefusalCode::DockerWritableMount,
                format!("`-v {value}`: expected `host:container:ro`"),
            );
        }
    };
    // Which host paths may be mounted is the launch rules' call, over the resolved path
    // (`mcpin_verifier::launch`); here only the form: a named volume or a relative path would
    // depend on the daemon's volumes or the caller's directory.
    if !host.starts_with('/') {
        return refuse(
            RefusalCode::DockerMountSource,
            format!("`-v {value}`: the source must be an absolute host path"),
        );
    }
    if !options
        .split(',')
        .any(|option| option == "ro" || option == "readonly")
    {
        return refuse(
            RefusalCode::DockerWritableMount,
            format!("`-v {value}` is writable: add `:ro`"),
        );
    }
    Ok(DockerVolume {
        host: host.to_owned(),
        container: container.to_owned(),
    })
}

/// Splits `[registry/]name[:tag][@sha256:<hex>]`.
pub(super) fn docker_image(
    token: &str,
) -> Result<(String, Option<String>, Option<String>), Refusal> {
    let invalid = |why: &str| {
        refuse(
            RefusalCode::DockerInvalidImage,
            format!("`{token}` is not a valid image reference: {why}"),
        )
    };
    let (rest, digest) = match token.split_once('@') {
        Some((rest, digest)) => {
            let Some(hex) = digest.strip_prefix("sha256:") else {
                return invalid("the digest must be sha256");
            };
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return invalid("the digest must be 64 lowercase hex digits");
            }
            (rest, Some(digest.to_owned()))
        }
        None => (token, None),
    };
    // A colon after the last slash is a tag; before it, a registry port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].split_once(':') {
        Some((_, tag)) => (&rest[..rest.len() - tag.len() - 1], Some(tag.to_owned())),
        None => (rest, None),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_./:".contains(c))
    {
        return invalid("bad repository name");
    }
    if let Some(tag) = &tag
        && (tag.is_empty()
            || tag.len() > 128
            || !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return invalid("bad tag");
    }
    Ok((name.to_owned(), tag, digest))
}
