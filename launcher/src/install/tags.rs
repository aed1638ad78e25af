//! Which of a lock entry's wheels the interpreter can use: the platform compatibility tags of
//! PEP 425 (with PEP 600 `manylinux_x_y` and its legacy aliases), ordered as
//! `packaging.tags.sys_tags()` orders them, most preferred first. Written by hand because no
//! maintained Rust crate publishes it (uv's `uv-platform-tags` is not released on its own),
//! and because only the ranking is needed: the signed lock already lists the candidates.
//!
//! Covered: CPython (binary wheels) and any implementation for pure-Python wheels; glibc
//! Linux (`manylinux`), other Linux (`linux_<arch>`), and elsewhere the interpreter's own
//! `sysconfig` platform. musllinux and macOS version ranges are not expanded: such wheels are
//! used only when their tag is the interpreter's exact platform.

use crate::interpreter::PythonFacts;

/// Supported `(python, abi, platform)` tags, most preferred first.
pub(super) fn supported(facts: &PythonFacts) -> Vec<String> {
    let (major, minor) = parse_version(&facts.version).unwrap_or((3, 0));
    let platforms = platforms(facts);
    let mut tags = Vec::new();
    let py_range: Vec<String> = std::iter::once(format!("py{major}{minor}"))
        .chain(std::iter::once(format!("py{major}")))
        .chain((0..minor).rev().map(|m| format!("py{major}{m}")))
        .collect();
    let cpython = facts.implementation_name == "cpython";
    let interpreter = format!("cp{major}{minor}");
    if cpython {
        let abi = format!(
            "{interpreter}{}",
            if facts.free_threaded { "t" } else { "" }
        );
        for platform in &platforms {
            tags.push(format!("{interpreter}-{abi}-{platform}"));
        }
        if !facts.free_threaded {
            for platform in &platforms {
                tags.push(format!("{interpreter}-abi3-{platform}"));
            }
        }
        for platform in &platforms {
            tags.push(format!("{interpreter}-none-{platform}"));
        }
        if !facts.free_threaded {
            for m in (2..minor).rev() {
                for platform in &platforms {
                    tags.push(format!("cp{major}{m}-abi3-{platform}"));
                }
            }
        }
    }
    for version in &py_range {
        for platform in &platforms {
            tags.push(format!("{version}-none-{platform}"));
        }
    }
    if cpython {
        tags.push(format!("{interpreter}-none-any"));
    }
    for version in &py_range {
        tags.push(format!("{version}-none-any"));
    }
    tags
}

fn parse_version(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn platforms(facts: &PythonFacts) -> Vec<String> {
    let mut arch = facts.platform_machine.clone();
    if facts.sys_platform != "linux" {
        return vec![facts.platform.replace(['-', '.', ' '], "_")];
    }
    // A 32-bit interpreter on a 64-bit kernel.
    if facts.pointer_bits == 32 {
        arch = match arch.as_str() {
            "x86_64" => "i686".into(),
            "aarch64" => "armv7l".into(),
            other => other.into(),
        };
    }
    let mut platforms = Vec::new();
    if let Some((2, glibc_minor)) = facts.glibc.as_deref().and_then(parse_version) {
        // manylinux only goes back to glibc 2.17 except on x86.
        let oldest = if matches!(arch.as_str(), "x86_64" | "i686") {
            5
        } else {
            17
        };
        for m in (oldest..=glibc_minor).rev() {
            platforms.push(format!("manylinux_2_{m}_{arch}"));
            let legacy = match m {
                17 => Some("manylinux2014"),
                12 => Some("manylinux2010"),
                5 => Some("manylinux1"),
                _ => None,
            };
            if let Some(legacy) = legacy {
                platforms.push(format!("{legacy}_{arch}"));
            }
        }
    }
    platforms.push(format!("linux_{arch}"));
    platforms
}

/// The best rank (index into `supported`) of any tag a wheel file name carries, or `None`
/// when the interpreter supports none of them.
pub(super) fn rank(file_name: &str, supported: &[String]) -> Option<usize> {
    let stem = file_name.strip_suffix(".whl")?;
    let mut parts = stem.rsplitn(4, '-');
    let platform = parts.next()?;
    let abi = parts.next()?;
    let python = parts.next()?;
    parts.next()?;
    let mut best = None;
    for p in python.split('.') {
        for a in abi.split('.') {
            for pl in platform.split('.') {
                let tag = format!("{p}-{a}-{pl}");
                if let Some(index) = supported.iter().position(|t| *t == tag) {
                    best = Some(best.map_or(index, |b: usize| b.min(index)));
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpython(version: &str, glibc: Option<&str>) -> PythonFacts {
        PythonFacts {
            version: version.into(),
            implementation_name: "cpython".into(),
            implementation_version: format!("{version}.2"),
            os_name: "posix".into(),
            platform_machine: "x86_64".into(),
            platform_python_implementation: "CPython".into(),
            platform_release: "6.1".into(),
            platform_system: "Linux".into(),
            platform_version: "#1".into(),
            python_full_version: format!("{version}.2"),
            python_version: version.into(),
            sys_platform: "linux".into(),
            cache_tag: Some(format!("cpython-{}", version.replace('.', ""))),
            glibc: glibc.map(str::to_owned),
            free_threaded: false,
            platform: "linux-x86_64".into(),
            pointer_bits: 64,
        }
    }

    #[test]
    fn the_locked_cryptography_wheels_rank_as_pip_would() {
        let tags = supported(&cpython("3.11", Some("2.36")));
        let wheels = [
            "cryptography-50.0.2-cp311-abi3-manylinux_2_28_x86_64.whl",
            "cryptography-50.0.2-cp311-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            "cryptography-50.0.2-cp39-abi3-manylinux_2_28_x86_64.whl",
        ];
        let ranks: Vec<Option<usize>> = wheels.iter().map(|w| rank(w, &tags)).collect();
        assert!(ranks.iter().all(Option::is_some), "{ranks:?}");
        assert!(ranks[0] < ranks[1] && ranks[1] < ranks[2], "{ranks:?}");
        // Binary wheels for the exact interpreter beat pure ones; others do not apply.
        let native = rank(
            "pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
            &tags,
        );
        let pure = rank("tzdata-2026.6-py2.py3-none-any.whl", &tags);
        assert!(native < pure, "{native:?} {pure:?}");
        assert_eq!(
            rank("x-1-cp312-cp312-manylinux_2_17_x86_64.whl", &tags),
            None
        );
        assert_eq!(
            rank("x-1-cp311-cp311-musllinux_1_2_x86_64.whl", &tags),
            None
        );
        assert_eq!(
            rank("x-1-cp311-cp311-manylinux_2_17_aarch64.whl", &tags),
            None
        );
        // glibc 2.17 cannot load a manylinux_2_28 wheel.
        let old = supported(&cpython("3.11", Some("2.17")));
        assert_eq!(rank(wheels[0], &old), None);
        assert!(rank(wheels[1], &old).is_some());
        assert_eq!(rank("not-a-wheel.tar.gz", &tags), None);
    }
}
